-- Version 4: what the sync client keeps. Never edit: add a new file instead.

-- The neighbourhood's confirmed state, as last pulled from the server: a rebase starts from it.
CREATE TABLE base (
    neighbourhood_id TEXT NOT NULL,
    kind    TEXT NOT NULL,
    id      TEXT NOT NULL,
    version INTEGER NOT NULL,
    data    TEXT NOT NULL,
    PRIMARY KEY (neighbourhood_id, kind, id)
) WITHOUT ROWID;

-- How far each neighbourhood has been pulled.
CREATE TABLE sync_cursors (
    neighbourhood_id TEXT PRIMARY KEY,
    cursor     INTEGER NOT NULL,
    checkpoint INTEGER NOT NULL,
    synced_at  INTEGER
) WITHOUT ROWID;

-- The keys of the entities each pending mutation wrote locally (JSON list), so a rebase knows what to
-- reset to the confirmed state before replaying.
ALTER TABLE outbox ADD COLUMN touched TEXT NOT NULL DEFAULT '[]';

-- Entities written locally by mutations the server has applied, whose confirmed state has not been
-- pulled yet. The next completed pull resets them to it (the server may have settled them otherwise:
-- a price edit older than one already there changes nothing).
CREATE TABLE settling (
    neighbourhood_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    id   TEXT NOT NULL,
    PRIMARY KEY (neighbourhood_id, kind, id)
) WITHOUT ROWID;
