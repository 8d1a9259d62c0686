-- Link protection (issue 14): a profile may give its links a passcode that guests must enter,
-- and make them single use. A link keeps the passcode's salted SHA-256 and when it was used.
ALTER TABLE sharing_profiles ADD COLUMN passcode INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sharing_profiles ADD COLUMN single_use INTEGER NOT NULL DEFAULT 0;
ALTER TABLE share_links ADD COLUMN passcode_hash BLOB;
ALTER TABLE share_links ADD COLUMN used_at INTEGER;
