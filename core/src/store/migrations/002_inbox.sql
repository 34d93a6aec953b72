-- Version 2: the inbox's own state.

-- What the inbox has told the person already (so nothing is said twice) and when (for the daily budget).
CREATE TABLE inbox_seen (
    entry_key  TEXT PRIMARY KEY,
    shown_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX inbox_seen_by_time ON inbox_seen (shown_at);

-- Mutations the server refused, kept until the person has read why (nothing is dropped silently).
CREATE TABLE rejected (
    seq              INTEGER PRIMARY KEY,
    neighbourhood_id TEXT NOT NULL,
    name             TEXT NOT NULL,
    mutation         TEXT NOT NULL,
    code             TEXT NOT NULL,
    message          TEXT NOT NULL,
    rejected_at      INTEGER NOT NULL,
    dismissed        INTEGER NOT NULL DEFAULT 0
);
