-- Users, their login sessions, connections and the permissions linking them.
-- Times are unix seconds (UTC). Secrets (passwords, tokens) are stored only as hashes.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    password_hash TEXT    NOT NULL,
    admin         INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    created_at    INTEGER NOT NULL
);

CREATE TABLE login_sessions (
    token_hash BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX login_sessions_user ON login_sessions(user_id);
CREATE INDEX login_sessions_expires ON login_sessions(expires_at);

CREATE TABLE connections (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    agent_token_hash BLOB    NOT NULL UNIQUE,
    created_at       INTEGER NOT NULL
);

CREATE TABLE permissions (
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    connection_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, connection_id)
) WITHOUT ROWID;
CREATE INDEX permissions_connection ON permissions(connection_id);
