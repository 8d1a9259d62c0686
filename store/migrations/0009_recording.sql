-- Session recording (issue 15): per connection, whether its sessions are recorded and whether
-- key events are kept; one row per recording file, written when it starts and completed when
-- it ends. Times are unix milliseconds (UTC).
ALTER TABLE connections ADD COLUMN record INTEGER NOT NULL DEFAULT 0 CHECK (record IN (0, 1));
ALTER TABLE connections ADD COLUMN record_keys INTEGER NOT NULL DEFAULT 0 CHECK (record_keys IN (0, 1));

CREATE TABLE recordings (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id    TEXT    NOT NULL UNIQUE, -- no foreign key: the history may be pruned first
    connection_id INTEGER,                 -- nor here: recordings outlive deleted connections
    file          TEXT    NOT NULL UNIQUE, -- its name in the recordings directory
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER,
    size          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX recordings_started ON recordings(started_at);
