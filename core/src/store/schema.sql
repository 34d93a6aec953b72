-- The schema of a new database, in one step: what migrations 001 to 012 make together, written out
-- (`schema.rs` runs this instead of every migration on an empty database, which opens it several
-- times faster). Each statement is the text SQLite keeps for its object, so that
-- `tests/store_migrations.rs` can check that a database brought up to date by the migrations has the
-- same schema, to the letter, as one made from this file.
--
-- A new migration changes this file too: apply the same change here (the test says which object
-- differs). Never the other way round: the migrations are what existing databases go through.

-- The device: who it is and its clock (`meta`), its mutations waiting to be pushed (`outbox`).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY,
    neighbourhood_id TEXT NOT NULL,
    name            TEXT NOT NULL,
    hlc             TEXT NOT NULL,
    mutation        TEXT NOT NULL,
    created_at      INTEGER NOT NULL
, touched TEXT NOT NULL DEFAULT '[]', answered INTEGER NOT NULL DEFAULT 0);

-- The neighbourhoods' numbers on this device, by which the replica's rows name them (migration 011).
CREATE TABLE neighbourhood_numbers (
    number INTEGER PRIMARY KEY,
    id     TEXT NOT NULL UNIQUE
);

-- The replica: one table per kind of entity, the entity as JSON in `data` beside the columns lists
-- filter and sort on.
CREATE TABLE "neighbourhoods" (
    neighbourhood INTEGER NOT NULL,
    id   TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (neighbourhood, id)
);
CREATE TABLE "members" (
    neighbourhood INTEGER NOT NULL,
    id           TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role         TEXT NOT NULL,
    status       TEXT NOT NULL,
    data         TEXT NOT NULL,
    UNIQUE (neighbourhood, id)
);
CREATE TABLE "invitations" (
    neighbourhood INTEGER NOT NULL,
    id         TEXT NOT NULL,
    created_by TEXT NOT NULL,
    data       TEXT NOT NULL,
    UNIQUE (neighbourhood, id)
);
CREATE TABLE "loans" (
    neighbourhood INTEGER NOT NULL,
    id        TEXT NOT NULL,
    item_id   TEXT NOT NULL,
    owner     TEXT NOT NULL,
    borrower  TEXT NOT NULL,
    status    TEXT NOT NULL,
    first_day INTEGER NOT NULL,
    last_day  INTEGER NOT NULL,
    data      TEXT NOT NULL,
    UNIQUE (neighbourhood, id)
);
CREATE TABLE "stalls" (
    neighbourhood INTEGER NOT NULL,
    id       TEXT NOT NULL,
    owner    TEXT NOT NULL,
    market   TEXT NOT NULL,
    cell_row INTEGER,
    cell_col INTEGER,
    data     TEXT NOT NULL,
    UNIQUE (neighbourhood, id)
);
CREATE TABLE "orders" (
    neighbourhood INTEGER NOT NULL,
    id         TEXT NOT NULL,
    stall_id   TEXT NOT NULL,
    trader     TEXT NOT NULL,
    customer   TEXT NOT NULL,
    status     TEXT NOT NULL,
    pickup_day INTEGER,
    created_at INTEGER NOT NULL,
    data       TEXT NOT NULL,
    UNIQUE (neighbourhood, id)
);
CREATE TABLE "messages" (
    neighbourhood INTEGER NOT NULL,
    id          TEXT NOT NULL,
    thread_kind TEXT NOT NULL,
    thread_id   TEXT NOT NULL,
    author      TEXT NOT NULL,
    sent_at     INTEGER NOT NULL,
    data        TEXT NOT NULL,
    UNIQUE (neighbourhood, id)
);
CREATE TABLE inbox_seen (
    entry_key  TEXT PRIMARY KEY,
    shown_at   INTEGER NOT NULL
) WITHOUT ROWID;
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

-- Sync: the confirmed state of what this device changed, the cursors, what is settling.
CREATE TABLE confirmed (
    neighbourhood_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    id   TEXT NOT NULL,
    data TEXT,
    PRIMARY KEY (neighbourhood_id, kind, id)
) WITHOUT ROWID;
CREATE TABLE sync_cursors (
    neighbourhood_id TEXT PRIMARY KEY,
    cursor     INTEGER NOT NULL,
    checkpoint INTEGER NOT NULL,
    synced_at  INTEGER
) WITHOUT ROWID;
CREATE TABLE settling (
    neighbourhood_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    id   TEXT NOT NULL,
    PRIMARY KEY (neighbourhood_id, kind, id)
) WITHOUT ROWID;
CREATE TABLE settled (
    seq INTEGER PRIMARY KEY,
    neighbourhood_id TEXT NOT NULL,
    mutation TEXT NOT NULL
);

-- The searchable kinds, numbered from one sequence (quoted: migration 009 made them under another
-- name and renamed them).
CREATE TABLE "favours" (
    rowid       INTEGER PRIMARY KEY,
    neighbourhood INTEGER NOT NULL,
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
    UNIQUE (neighbourhood, id)
);
CREATE TABLE "items" (
    rowid      INTEGER PRIMARY KEY,
    neighbourhood INTEGER NOT NULL,
    id         TEXT NOT NULL,
    owner      TEXT NOT NULL,
    category   TEXT NOT NULL,
    withdrawn  INTEGER NOT NULL,
    cell_row   INTEGER,
    cell_col   INTEGER,
    created_at INTEGER NOT NULL,
    data       TEXT NOT NULL,
    UNIQUE (neighbourhood, id)
);
CREATE TABLE "products" (
    rowid           INTEGER PRIMARY KEY,
    neighbourhood INTEGER NOT NULL,
    id              TEXT NOT NULL,
    stall_id        TEXT NOT NULL,
    owner           TEXT NOT NULL,
    removed         INTEGER NOT NULL,
    available_today INTEGER NOT NULL,
    price_cents     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    data            TEXT NOT NULL,
    UNIQUE (neighbourhood, id)
);

-- Search: rows waiting to be indexed, the texts indexed, the triggers that keep them in step
-- (`store/backlog.rs`, migration 009).
CREATE TABLE search_backlog (
    row  INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL -- 0 favour, 1 item, 2 product
);
CREATE TABLE search_folded (
    up_to INTEGER NOT NULL -- the rows numbered above it are new, and wait to be indexed
);
CREATE VIEW favours_text AS
    SELECT rowid, data ->> '$.data.title' AS title, data ->> '$.data.details' AS details, category FROM favours;
CREATE VIEW items_text AS
    SELECT rowid, data ->> '$.data.title' AS title, data ->> '$.data.description' AS description, category FROM items;
CREATE VIEW products_on_sale AS
    SELECT rowid, data ->> '$.data.name' AS name, data ->> '$.data.unit' AS unit FROM products WHERE removed = 0;

CREATE INDEX loans_by_item ON loans (neighbourhood, item_id, status);
CREATE INDEX loans_by_owner ON loans (neighbourhood, owner, status);
CREATE INDEX loans_by_borrower ON loans (neighbourhood, borrower, status);
CREATE INDEX stalls_by_owner ON stalls (neighbourhood, owner);
CREATE INDEX orders_by_stall ON orders (neighbourhood, stall_id, status);
CREATE INDEX orders_by_customer ON orders (neighbourhood, customer, status);
CREATE INDEX messages_by_thread ON messages (neighbourhood, thread_id, sent_at);
CREATE INDEX messages_by_author ON messages (neighbourhood, author);
CREATE INDEX inbox_seen_by_time ON inbox_seen (shown_at);
CREATE INDEX orders_by_time ON orders (neighbourhood, created_at);
CREATE INDEX orders_by_customer_time ON orders (neighbourhood, customer, created_at);
CREATE INDEX orders_by_trader ON orders (neighbourhood, trader, status);
CREATE INDEX messages_by_time ON messages (neighbourhood, sent_at);
CREATE INDEX favours_by_status ON favours (neighbourhood, status, created_at);
CREATE INDEX favours_by_place ON favours (neighbourhood, status, cell_row, cell_col);
CREATE INDEX favours_by_time ON favours (neighbourhood, created_at);
CREATE INDEX favours_by_author_time ON favours (neighbourhood, author, created_at);
CREATE INDEX favours_by_counterpart_time ON favours (neighbourhood, counterpart, created_at) WHERE counterpart IS NOT NULL;
CREATE INDEX favours_by_category_place ON favours (neighbourhood, category, status, cell_row, cell_col);
CREATE INDEX items_by_place ON items (neighbourhood, withdrawn, cell_row, cell_col);
CREATE INDEX items_by_time ON items (neighbourhood, withdrawn, created_at);
CREATE INDEX items_by_owner_time ON items (neighbourhood, owner, withdrawn, created_at);
CREATE INDEX items_by_category_place ON items (neighbourhood, category, withdrawn, cell_row, cell_col);
CREATE INDEX products_by_stall ON products (neighbourhood, stall_id, removed);
CREATE TRIGGER favours_search_delete AFTER DELETE ON favours BEGIN
    INSERT INTO favours_fts (favours_fts, rowid, title, details, category)
        SELECT 'delete', old.rowid, old.data ->> '$.data.title', old.data ->> '$.data.details', old.category
        WHERE old.rowid <= (SELECT up_to FROM search_folded)
          AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE row = old.rowid);
    DELETE FROM search_backlog WHERE row = old.rowid;
END;
CREATE TRIGGER favours_search_update AFTER UPDATE ON favours
    WHEN (old.data ->> '$.data.title') IS NOT (new.data ->> '$.data.title')
      OR (old.data ->> '$.data.details') IS NOT (new.data ->> '$.data.details')
      OR old.category IS NOT new.category
BEGIN
    INSERT INTO favours_fts (favours_fts, rowid, title, details, category)
        SELECT 'delete', old.rowid, old.data ->> '$.data.title', old.data ->> '$.data.details', old.category
        WHERE old.rowid <= (SELECT up_to FROM search_folded)
          AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE row = old.rowid);
    INSERT INTO search_backlog (row, kind)
        SELECT new.rowid, 0 WHERE new.rowid <= (SELECT up_to FROM search_folded)
          AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE row = new.rowid);
END;
CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, title, description, category)
        SELECT 'delete', old.rowid, old.data ->> '$.data.title', old.data ->> '$.data.description', old.category
        WHERE old.rowid <= (SELECT up_to FROM search_folded)
          AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE row = old.rowid);
    DELETE FROM search_backlog WHERE row = old.rowid;
END;
CREATE TRIGGER items_search_update AFTER UPDATE ON items
    WHEN (old.data ->> '$.data.title') IS NOT (new.data ->> '$.data.title')
      OR (old.data ->> '$.data.description') IS NOT (new.data ->> '$.data.description')
      OR old.category IS NOT new.category
BEGIN
    INSERT INTO items_fts (items_fts, rowid, title, description, category)
        SELECT 'delete', old.rowid, old.data ->> '$.data.title', old.data ->> '$.data.description', old.category
        WHERE old.rowid <= (SELECT up_to FROM search_folded)
          AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE row = old.rowid);
    INSERT INTO search_backlog (row, kind)
        SELECT new.rowid, 1 WHERE new.rowid <= (SELECT up_to FROM search_folded)
          AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE row = new.rowid);
END;
CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, unit)
        SELECT 'delete', old.rowid, old.data ->> '$.data.name', old.data ->> '$.data.unit'
        WHERE old.removed = 0 AND old.rowid <= (SELECT up_to FROM search_folded)
          AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE row = old.rowid);
    DELETE FROM search_backlog WHERE row = old.rowid;
END;
CREATE TRIGGER products_search_update AFTER UPDATE ON products
    WHEN old.removed IS NOT new.removed
      OR (old.data ->> '$.data.name') IS NOT (new.data ->> '$.data.name')
      OR (old.data ->> '$.data.unit') IS NOT (new.data ->> '$.data.unit')
BEGIN
    INSERT INTO products_fts (products_fts, rowid, name, unit)
        SELECT 'delete', old.rowid, old.data ->> '$.data.name', old.data ->> '$.data.unit'
        WHERE old.removed = 0 AND old.rowid <= (SELECT up_to FROM search_folded)
          AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE row = old.rowid);
    INSERT INTO search_backlog (row, kind)
        SELECT new.rowid, 2 WHERE new.rowid <= (SELECT up_to FROM search_folded)
          AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE row = new.rowid);
END;
CREATE VIRTUAL TABLE favours_fts USING fts5 (title, details, category, content = 'favours_text', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
CREATE VIRTUAL TABLE items_fts USING fts5 (title, description, category, content = 'items_text', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
CREATE VIRTUAL TABLE products_fts USING fts5 (name, unit, content = 'products_on_sale', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
INSERT INTO favours_fts (favours_fts, rank) VALUES ('automerge', 16);
INSERT INTO items_fts (items_fts, rank) VALUES ('automerge', 16);
INSERT INTO products_fts (products_fts, rank) VALUES ('automerge', 16);
INSERT INTO search_folded (up_to) VALUES (0);
