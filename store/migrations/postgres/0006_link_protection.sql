-- PostgreSQL version of ../0006_link_protection.sql.
ALTER TABLE sharing_profiles ADD COLUMN passcode BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE sharing_profiles ADD COLUMN single_use BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE share_links ADD COLUMN passcode_hash BYTEA;
ALTER TABLE share_links ADD COLUMN used_at BIGINT;
