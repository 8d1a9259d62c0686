-- peerdesk: foreign_keys=off
-- Live sessions, with their participants, outlive their connection: deleting a connection
-- keeps its history, under the name the connection had. Times are unix seconds (UTC).

CREATE TABLE live_sessions_new (
    id              TEXT    PRIMARY KEY,
    connection_id   INTEGER REFERENCES connections(id) ON DELETE SET NULL,
    connection_name TEXT    NOT NULL,
    owner_id        INTEGER REFERENCES users(id) ON DELETE SET NULL,
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    end_reason      TEXT
);
INSERT INTO live_sessions_new (id, connection_id, connection_name, owner_id, started_at, ended_at, end_reason)
    SELECT ls.id, ls.connection_id, c.name, ls.owner_id, ls.started_at, ls.ended_at, ls.end_reason
    FROM live_sessions AS ls JOIN connections AS c ON c.id = ls.connection_id;
DROP TABLE live_sessions;
ALTER TABLE live_sessions_new RENAME TO live_sessions;
CREATE INDEX live_sessions_connection ON live_sessions(connection_id);
CREATE INDEX live_sessions_owner ON live_sessions(owner_id);
CREATE INDEX live_sessions_open ON live_sessions(id) WHERE ended_at IS NULL;
