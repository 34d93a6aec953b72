-- Version 6: pending mutations that the server has answered, though this device has not heard the
-- answer yet (it was lost on the way). Never edit: add a new file instead.

-- Set at the end of a completed pull of the mutation's neighbourhood when the server says it had
-- answered this device's mutations up to the mutation's number (`answered_seq`): the confirmed state
-- pulled holds its effects already (or the server refused it), so no rebase replays it any more. It
-- stays in the outbox until pushed again, for its answer: the server gives the recorded one again.
ALTER TABLE outbox ADD COLUMN answered INTEGER NOT NULL DEFAULT 0;
