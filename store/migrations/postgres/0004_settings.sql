-- Server settings the process keeps between runs, such as the generated TURN shared secret.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
