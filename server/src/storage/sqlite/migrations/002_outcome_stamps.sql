-- The clock stamp of the mutation each outcome answers: a mutation pushed again has the same one, so a
-- different mutation under a number already answered (a device restored from an older backup) is told
-- apart instead of being answered with another mutation's outcome. NULL for outcomes recorded before.
ALTER TABLE outcomes ADD COLUMN hlc TEXT;
