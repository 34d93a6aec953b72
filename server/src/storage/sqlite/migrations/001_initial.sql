-- The server's first schema. Every table that holds a neighbourhood's data is keyed by neighbourhood
-- first, so that a distributed database can shard it by neighbourhood.

-- Registered devices. The token is stored only as its SHA-256 (hex); last_seq is the last of the
-- device's mutations that has been answered.
CREATE TABLE devices (
    device_id  TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX devices_by_person ON devices (person_id);

-- The answer to each mutation a device pushed, given again when the mutation comes again.
CREATE TABLE outcomes (
    device_id        TEXT NOT NULL REFERENCES devices (device_id),
    seq              INTEGER NOT NULL,
    neighbourhood_id TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
) STRICT, WITHOUT ROWID;

-- Each neighbourhood's change counter: the version of its latest change.
CREATE TABLE neighbourhoods (
    neighbourhood_id TEXT PRIMARY KEY,
    version          INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The confirmed state of every neighbourhood, one row per entity, with the version of its last change.
-- A deleted entity stays as a tombstone (deleted = 1, data NULL) so that pulls propagate the deletion;
-- it keeps only its readers. The other columns are filled by storage/index.rs.
CREATE TABLE entities (
    neighbourhood_id TEXT NOT NULL REFERENCES neighbourhoods (neighbourhood_id),
    kind             TEXT NOT NULL,
    id               TEXT NOT NULL,
    version          INTEGER NOT NULL,
    deleted          INTEGER NOT NULL DEFAULT 0,
    data             TEXT,
    status           TEXT,
    parent_kind      TEXT,
    parent_id        TEXT,
    owner            TEXT,
    co_owner         TEXT,
    counterpart      TEXT,
    reader_a         TEXT,
    reader_b         TEXT,
    PRIMARY KEY (neighbourhood_id, kind, id),
    CHECK ((deleted = 0) = (data IS NOT NULL))
) STRICT;
CREATE INDEX entities_by_version ON entities (neighbourhood_id, version, kind, id);
CREATE INDEX entities_by_parent ON entities (neighbourhood_id, kind, parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX entities_by_owner ON entities (neighbourhood_id, owner) WHERE owner IS NOT NULL;
CREATE INDEX entities_by_co_owner ON entities (neighbourhood_id, co_owner) WHERE co_owner IS NOT NULL;
CREATE INDEX entities_by_counterpart ON entities (neighbourhood_id, counterpart) WHERE counterpart IS NOT NULL;

-- Invitations by the hash of their code, for /v1/join.
CREATE TABLE invitation_codes (
    code_hash        TEXT PRIMARY KEY,
    neighbourhood_id TEXT NOT NULL,
    invitation_id    TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX invitation_codes_by_invitation ON invitation_codes (neighbourhood_id, invitation_id);
