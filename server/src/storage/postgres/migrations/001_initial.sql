-- The server's first schema on PostgreSQL: the tables of SQLite's 001_initial.sql, column for column.
-- Every table that holds a neighbourhood's data is keyed by neighbourhood first, so that a distributed
-- PostgreSQL (Citus) can shard it by neighbourhood_id. Text keys are COLLATE "C" (byte order, which is
-- the order of Rust's strings and of SQLite), so that lists come in the same order as on SQLite and on
-- the devices whatever the database's locale.

-- Registered devices. The token is stored only as its SHA-256 (hex); last_seq is the last of the
-- device's mutations that has been answered.
CREATE TABLE devices (
    device_id  TEXT COLLATE "C" PRIMARY KEY,
    person_id  TEXT COLLATE "C" NOT NULL,
    token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_seq   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX devices_by_person ON devices (person_id);

-- The answer to each mutation a device pushed, given again when the mutation comes again.
CREATE TABLE outcomes (
    device_id        TEXT COLLATE "C" NOT NULL REFERENCES devices (device_id),
    seq              BIGINT NOT NULL,
    neighbourhood_id TEXT COLLATE "C" NOT NULL,
    outcome          TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
);

-- Each neighbourhood's change counter: the version of its latest change. Writers lock its row.
CREATE TABLE neighbourhoods (
    neighbourhood_id TEXT COLLATE "C" PRIMARY KEY,
    version          BIGINT NOT NULL
);

-- The confirmed state of every neighbourhood, one row per entity, with the version of its last change.
-- A deleted entity stays as a tombstone (deleted, data NULL) so that pulls propagate the deletion; it
-- keeps only its readers. The other columns are filled by storage/index.rs.
CREATE TABLE entities (
    neighbourhood_id TEXT COLLATE "C" NOT NULL REFERENCES neighbourhoods (neighbourhood_id),
    kind             TEXT COLLATE "C" NOT NULL,
    id               TEXT COLLATE "C" NOT NULL,
    version          BIGINT NOT NULL,
    deleted          BOOLEAN NOT NULL DEFAULT FALSE,
    data             TEXT,
    status           TEXT COLLATE "C",
    parent_kind      TEXT COLLATE "C",
    parent_id        TEXT COLLATE "C",
    owner            TEXT COLLATE "C",
    co_owner         TEXT COLLATE "C",
    counterpart      TEXT COLLATE "C",
    reader_a         TEXT COLLATE "C",
    reader_b         TEXT COLLATE "C",
    PRIMARY KEY (neighbourhood_id, kind, id),
    CHECK ((NOT deleted) = (data IS NOT NULL))
);
CREATE INDEX entities_by_version ON entities (neighbourhood_id, version, kind, id);
CREATE INDEX entities_by_parent ON entities (neighbourhood_id, kind, parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX entities_by_owner ON entities (neighbourhood_id, owner) WHERE owner IS NOT NULL;
CREATE INDEX entities_by_co_owner ON entities (neighbourhood_id, co_owner) WHERE co_owner IS NOT NULL;
CREATE INDEX entities_by_counterpart ON entities (neighbourhood_id, counterpart) WHERE counterpart IS NOT NULL;

-- Invitations by the hash of their code, for /v1/join.
CREATE TABLE invitation_codes (
    code_hash        TEXT COLLATE "C" PRIMARY KEY,
    neighbourhood_id TEXT COLLATE "C" NOT NULL,
    invitation_id    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX invitation_codes_by_invitation ON invitation_codes (neighbourhood_id, invitation_id);
