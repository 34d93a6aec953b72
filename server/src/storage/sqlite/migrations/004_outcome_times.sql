-- When each outcome was recorded (Unix milliseconds), so that the answers a device says it has stored
-- are forgotten once a day old (see `sync::push`). NULL for outcomes recorded before: those may go
-- as soon as their device says so.
ALTER TABLE outcomes ADD COLUMN answered_at INTEGER;
