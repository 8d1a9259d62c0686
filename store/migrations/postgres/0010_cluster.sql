-- PostgreSQL version of ../0010_cluster.sql.
ALTER TABLE live_sessions ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE INDEX live_sessions_node ON live_sessions(node) WHERE ended_at IS NULL;
ALTER TABLE recordings ADD COLUMN node TEXT NOT NULL DEFAULT '';

CREATE TABLE connection_homes (
    connection_id BIGINT PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    node          TEXT   NOT NULL,
    since         BIGINT NOT NULL
);
CREATE INDEX connection_homes_node ON connection_homes(node);
