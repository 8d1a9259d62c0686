-- Several signaling nodes on one database (issue 13): the node that runs each live session and
-- writes each recording, and the node that is home to each connection with a live session or
-- a connected agent.
-- Times are unix seconds (UTC).
ALTER TABLE live_sessions ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE INDEX live_sessions_node ON live_sessions(node) WHERE ended_at IS NULL;
ALTER TABLE recordings ADD COLUMN node TEXT NOT NULL DEFAULT '';

CREATE TABLE connection_homes (
    connection_id INTEGER PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    node          TEXT    NOT NULL,
    since         INTEGER NOT NULL
);
CREATE INDEX connection_homes_node ON connection_homes(node);
