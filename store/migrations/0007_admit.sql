-- The waiting room (issue 14): a profile may have its guests wait until the host lets them in.
ALTER TABLE sharing_profiles ADD COLUMN admit INTEGER NOT NULL DEFAULT 0;
