-- PostgreSQL version of ../0005_history_keeps_connections.sql: live sessions outlive their
-- connection, under the name it had. PostgreSQL changes the constraint in place where SQLite
-- rebuilds the table.
ALTER TABLE live_sessions ADD COLUMN connection_name TEXT;
UPDATE live_sessions AS ls SET connection_name = c.name FROM connections AS c WHERE c.id = ls.connection_id;
ALTER TABLE live_sessions ALTER COLUMN connection_name SET NOT NULL;
ALTER TABLE live_sessions ALTER COLUMN connection_id DROP NOT NULL;
ALTER TABLE live_sessions DROP CONSTRAINT live_sessions_connection_id_fkey;
ALTER TABLE live_sessions ADD CONSTRAINT live_sessions_connection_id_fkey
    FOREIGN KEY (connection_id) REFERENCES connections(id) ON DELETE SET NULL;
