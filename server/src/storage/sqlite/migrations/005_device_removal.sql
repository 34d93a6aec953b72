-- When another device of the same person took this one off the account (Unix milliseconds): its token
-- is then refused, with a sentence that says so. NULL for a device in use.
ALTER TABLE devices ADD COLUMN removed_at INTEGER;
