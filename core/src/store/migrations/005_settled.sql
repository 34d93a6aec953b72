-- Version 5: the mutations the server has applied whose confirmed state has not been pulled yet. Never
-- edit: add a new file instead.

-- They leave the outbox when the server answers, but their effects stay on the device until the next
-- completed pull brings the confirmed state (`settling` holds the keys they wrote). When a refused
-- mutation is rolled back before that pull, the rebase resets every entity they wrote too and replays
-- them before the pending mutations, so each keeps all its effects together: an order confirmed and
-- its product's reservation never part.
CREATE TABLE settled (
    seq INTEGER PRIMARY KEY,
    neighbourhood_id TEXT NOT NULL,
    mutation TEXT NOT NULL
);
