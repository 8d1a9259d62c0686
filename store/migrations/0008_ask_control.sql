-- Control hand-off (issue 14): full-access participants of a profile's links ask for control.
ALTER TABLE sharing_profiles ADD COLUMN ask_control INTEGER NOT NULL DEFAULT 0;
