-- PostgreSQL version of ../0008_ask_control.sql.
ALTER TABLE sharing_profiles ADD COLUMN ask_control BOOLEAN NOT NULL DEFAULT false;
