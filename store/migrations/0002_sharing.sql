-- Sharing profiles, live-session history and the share links made from them.
-- Times are unix seconds (UTC); durations are seconds. Share keys are stored only as SHA-256.

CREATE TABLE sharing_profiles (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    name          TEXT    NOT NULL COLLATE NOCASE,
    read_only     INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
    link_lifetime INTEGER NOT NULL DEFAULT 0 CHECK (link_lifetime >= 0),
    max_guests    INTEGER NOT NULL DEFAULT 0 CHECK (max_guests >= 0),
    created_at    INTEGER NOT NULL,
    UNIQUE (connection_id, name)
);

CREATE TABLE live_sessions (
    id            TEXT    PRIMARY KEY,
    connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    owner_id      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER,
    end_reason    TEXT
);
CREATE INDEX live_sessions_connection ON live_sessions(connection_id);
CREATE INDEX live_sessions_owner ON live_sessions(owner_id);
CREATE INDEX live_sessions_open ON live_sessions(id) WHERE ended_at IS NULL;

CREATE TABLE share_links (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash   BLOB    NOT NULL UNIQUE,
    profile_id INTEGER NOT NULL REFERENCES sharing_profiles(id) ON DELETE CASCADE,
    session_id TEXT    NOT NULL REFERENCES live_sessions(id) ON DELETE CASCADE,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX share_links_profile ON share_links(profile_id);
CREATE INDEX share_links_session ON share_links(session_id);
CREATE INDEX share_links_created_by ON share_links(created_by);
