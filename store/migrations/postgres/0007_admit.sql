-- PostgreSQL version of ../0007_admit.sql.
ALTER TABLE sharing_profiles ADD COLUMN admit BOOLEAN NOT NULL DEFAULT false;
