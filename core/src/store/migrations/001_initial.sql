-- Quartier device schema, version 1 (the first released schema). Never edit: add a new file instead.
--
-- Every entity table is keyed by neighbourhood first. `data` holds the whole entity as JSON (the form the
-- rules read); the other columns are copies of the fields that lists filter and sort on.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Every local mutation, in order, until the server has answered for it.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY,
    neighbourhood_id TEXT NOT NULL,
    name            TEXT NOT NULL,
    hlc             TEXT NOT NULL,
    mutation        TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE neighbourhoods (
    neighbourhood_id TEXT NOT NULL,
    id   TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (neighbourhood_id, id)
);

CREATE TABLE members (
    neighbourhood_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role         TEXT NOT NULL,
    status       TEXT NOT NULL,
    data         TEXT NOT NULL,
    UNIQUE (neighbourhood_id, id)
);

CREATE TABLE invitations (
    neighbourhood_id TEXT NOT NULL,
    id         TEXT NOT NULL,
    created_by TEXT NOT NULL,
    data       TEXT NOT NULL,
    UNIQUE (neighbourhood_id, id)
);

CREATE TABLE favours (
    neighbourhood_id TEXT NOT NULL,
    id          TEXT NOT NULL,
    author      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    category    TEXT NOT NULL,
    counterpart TEXT,
    cell_row    INTEGER,
    cell_col    INTEGER,
    created_at  INTEGER NOT NULL,
    data        TEXT NOT NULL,
    UNIQUE (neighbourhood_id, id)
);
CREATE INDEX favours_by_status ON favours (neighbourhood_id, status, created_at);
CREATE INDEX favours_by_place ON favours (neighbourhood_id, status, cell_row, cell_col);
CREATE INDEX favours_by_author ON favours (neighbourhood_id, author);
CREATE INDEX favours_by_counterpart ON favours (neighbourhood_id, counterpart);

CREATE TABLE items (
    neighbourhood_id TEXT NOT NULL,
    id         TEXT NOT NULL,
    owner      TEXT NOT NULL,
    category   TEXT NOT NULL,
    withdrawn  INTEGER NOT NULL,
    cell_row   INTEGER,
    cell_col   INTEGER,
    created_at INTEGER NOT NULL,
    data       TEXT NOT NULL,
    UNIQUE (neighbourhood_id, id)
);
CREATE INDEX items_by_owner ON items (neighbourhood_id, owner);
CREATE INDEX items_by_place ON items (neighbourhood_id, withdrawn, cell_row, cell_col);

CREATE TABLE loans (
    neighbourhood_id TEXT NOT NULL,
    id        TEXT NOT NULL,
    item_id   TEXT NOT NULL,
    owner     TEXT NOT NULL,
    borrower  TEXT NOT NULL,
    status    TEXT NOT NULL,
    first_day INTEGER NOT NULL,
    last_day  INTEGER NOT NULL,
    data      TEXT NOT NULL,
    UNIQUE (neighbourhood_id, id)
);
CREATE INDEX loans_by_item ON loans (neighbourhood_id, item_id, status);
CREATE INDEX loans_by_owner ON loans (neighbourhood_id, owner, status);
CREATE INDEX loans_by_borrower ON loans (neighbourhood_id, borrower, status);

CREATE TABLE stalls (
    neighbourhood_id TEXT NOT NULL,
    id       TEXT NOT NULL,
    owner    TEXT NOT NULL,
    market   TEXT NOT NULL,
    cell_row INTEGER,
    cell_col INTEGER,
    data     TEXT NOT NULL,
    UNIQUE (neighbourhood_id, id)
);
CREATE INDEX stalls_by_owner ON stalls (neighbourhood_id, owner);

CREATE TABLE products (
    neighbourhood_id TEXT NOT NULL,
    id              TEXT NOT NULL,
    stall_id        TEXT NOT NULL,
    owner           TEXT NOT NULL,
    removed         INTEGER NOT NULL,
    available_today INTEGER NOT NULL,
    price_cents     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    data            TEXT NOT NULL,
    UNIQUE (neighbourhood_id, id)
);
CREATE INDEX products_by_stall ON products (neighbourhood_id, stall_id, removed);

CREATE TABLE orders (
    neighbourhood_id TEXT NOT NULL,
    id         TEXT NOT NULL,
    stall_id   TEXT NOT NULL,
    trader     TEXT NOT NULL,
    customer   TEXT NOT NULL,
    status     TEXT NOT NULL,
    pickup_day INTEGER,
    created_at INTEGER NOT NULL,
    data       TEXT NOT NULL,
    UNIQUE (neighbourhood_id, id)
);
CREATE INDEX orders_by_stall ON orders (neighbourhood_id, stall_id, status);
CREATE INDEX orders_by_customer ON orders (neighbourhood_id, customer, status);

CREATE TABLE messages (
    neighbourhood_id TEXT NOT NULL,
    id          TEXT NOT NULL,
    thread_kind TEXT NOT NULL,
    thread_id   TEXT NOT NULL,
    author      TEXT NOT NULL,
    sent_at     INTEGER NOT NULL,
    data        TEXT NOT NULL,
    UNIQUE (neighbourhood_id, id)
);
CREATE INDEX messages_by_thread ON messages (neighbourhood_id, thread_id, sent_at);
CREATE INDEX messages_by_author ON messages (neighbourhood_id, author);

-- Full-text search. The rowid of each entry is the rowid of its entity's row. `remove_diacritics 2`
-- folds accents, so "pates" finds "pâtes" and "perceuse" finds "Perceuse".
CREATE VIRTUAL TABLE favours_fts USING fts5 (title, details, category, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
CREATE VIRTUAL TABLE items_fts USING fts5 (title, description, category, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
CREATE VIRTUAL TABLE products_fts USING fts5 (name, unit, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
