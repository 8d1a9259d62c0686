-- Session history: one row per participant connection of a live session, written as it joins
-- and completed as it leaves, so an abrupt stop loses nothing already seen. Times are unix
-- seconds (UTC).

CREATE TABLE participants (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   TEXT    NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    peer         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    user_id      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    role         TEXT    NOT NULL CHECK (role IN ('owner', 'member', 'guest')),
    read_only    INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
    link_id      INTEGER, -- no foreign key: the history outlives deleted links
    profile_name TEXT,
    address      TEXT    NOT NULL,
    joined_at    INTEGER NOT NULL,
    left_at      INTEGER
);
CREATE INDEX participants_session ON participants(session_id, joined_at);
CREATE INDEX participants_user ON participants(user_id);
CREATE INDEX participants_open ON participants(id) WHERE left_at IS NULL;
