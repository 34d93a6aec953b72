-- A device added from another one (with a link code) must make its first call by this time (Unix
-- milliseconds), or its token is refused: a link code left lying around does not open the person's
-- account for ever. NULL once it has called, for a device that registered itself, and for devices
-- linked before this migration.
ALTER TABLE devices ADD COLUMN claim_by BIGINT;
