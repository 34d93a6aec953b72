-- Version 9: favours, items and products numbered from one sequence, and search tables that index
-- their rows' texts without copying them, kept in step by triggers. Never edit: add a new file instead.
--
-- Version 8 keyed a search entry by its entity's creation time then its row, so that newest first
-- could walk the matches backwards and stop after a page. FTS5 stores each match's row as a
-- difference from the one before, and time-first keys made those differences huge: the index doubled
-- in size on realistic data (things created minutes apart). Now the row is the key again, and rows
-- come from one sequence across the three kinds (`rows::put` gives a new favour, item or product one
-- more than the largest row of the three), so a walk backwards is still "most recently stored on
-- this device first". Existing rows are numbered in the order of their creation.
--
-- The row is declared (`rowid INTEGER PRIMARY KEY`): VACUUM may renumber an undeclared rowid, which
-- would leave the search entries pointing at other rows.
--
-- The search tables are external content tables over views of the rows (`favours_text`, `items_text`,
-- `products_on_sale`: a removed product is not searchable): the texts are stored once, in the rows'
-- JSON. Triggers keep them in step as rows are inserted, deleted and updated (below), and an update
-- that leaves the texts as they were (a favour promised, an item lent) does not touch the index.
-- FTS5's own `integrity-check` with rank 1 compares each index with its view (once folded).

CREATE TEMP TABLE renumbered (kind INTEGER NOT NULL, old INTEGER NOT NULL, new INTEGER NOT NULL, PRIMARY KEY (kind, old)) WITHOUT ROWID;
INSERT INTO renumbered (kind, old, new)
    SELECT kind, old, row_number() OVER (ORDER BY created_at, kind, old) FROM (
        SELECT 0 AS kind, rowid AS old, created_at FROM favours
        UNION ALL SELECT 1, rowid, created_at FROM items
        UNION ALL SELECT 2, rowid, created_at FROM products);

DROP TABLE favours_fts;
DROP TABLE items_fts;
DROP TABLE products_fts;

CREATE TABLE favours_renumbered (
    rowid       INTEGER PRIMARY KEY,
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
INSERT INTO favours_renumbered (rowid, neighbourhood_id, id, author, kind, status, category, counterpart, cell_row, cell_col, created_at, data)
    SELECT r.new, f.neighbourhood_id, f.id, f.author, f.kind, f.status, f.category, f.counterpart, f.cell_row, f.cell_col, f.created_at, f.data
    FROM favours f JOIN renumbered r ON r.kind = 0 AND r.old = f.rowid ORDER BY r.new;
DROP TABLE favours;
ALTER TABLE favours_renumbered RENAME TO favours;
CREATE INDEX favours_by_status ON favours (neighbourhood_id, status, created_at);
CREATE INDEX favours_by_place ON favours (neighbourhood_id, status, cell_row, cell_col);
CREATE INDEX favours_by_time ON favours (neighbourhood_id, created_at);
CREATE INDEX favours_by_author_time ON favours (neighbourhood_id, author, created_at);
CREATE INDEX favours_by_counterpart_time ON favours (neighbourhood_id, counterpart, created_at);
CREATE INDEX favours_by_category_place ON favours (neighbourhood_id, category, status, cell_row, cell_col);

CREATE TABLE items_renumbered (
    rowid      INTEGER PRIMARY KEY,
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
INSERT INTO items_renumbered (rowid, neighbourhood_id, id, owner, category, withdrawn, cell_row, cell_col, created_at, data)
    SELECT r.new, i.neighbourhood_id, i.id, i.owner, i.category, i.withdrawn, i.cell_row, i.cell_col, i.created_at, i.data
    FROM items i JOIN renumbered r ON r.kind = 1 AND r.old = i.rowid ORDER BY r.new;
DROP TABLE items;
ALTER TABLE items_renumbered RENAME TO items;
CREATE INDEX items_by_place ON items (neighbourhood_id, withdrawn, cell_row, cell_col);
CREATE INDEX items_by_time ON items (neighbourhood_id, withdrawn, created_at);
CREATE INDEX items_by_owner_time ON items (neighbourhood_id, owner, withdrawn, created_at);
CREATE INDEX items_by_category_place ON items (neighbourhood_id, category, withdrawn, cell_row, cell_col);

CREATE TABLE products_renumbered (
    rowid           INTEGER PRIMARY KEY,
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
INSERT INTO products_renumbered (rowid, neighbourhood_id, id, stall_id, owner, removed, available_today, price_cents, created_at, data)
    SELECT r.new, p.neighbourhood_id, p.id, p.stall_id, p.owner, p.removed, p.available_today, p.price_cents, p.created_at, p.data
    FROM products p JOIN renumbered r ON r.kind = 2 AND r.old = p.rowid ORDER BY r.new;
DROP TABLE products;
ALTER TABLE products_renumbered RENAME TO products;
CREATE INDEX products_by_stall ON products (neighbourhood_id, stall_id, removed);

DROP TABLE temp.renumbered;

-- What is searched: the texts `rows::row_of` used to copy into the search tables.
CREATE VIEW favours_text AS
    SELECT rowid, data ->> '$.data.title' AS title, data ->> '$.data.details' AS details, category FROM favours;
CREATE VIEW items_text AS
    SELECT rowid, data ->> '$.data.title' AS title, data ->> '$.data.description' AS description, category FROM items;
CREATE VIEW products_on_sale AS
    SELECT rowid, data ->> '$.data.name' AS name, data ->> '$.data.unit' AS unit FROM products WHERE removed = 0;

CREATE VIRTUAL TABLE favours_fts USING fts5 (title, details, category, content = 'favours_text', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
CREATE VIRTUAL TABLE items_fts USING fts5 (title, description, category, content = 'items_text', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
CREATE VIRTUAL TABLE products_fts USING fts5 (name, unit, content = 'products_on_sale', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
INSERT INTO favours_fts (favours_fts, rank) VALUES ('automerge', 16);
INSERT INTO items_fts (items_fts, rank) VALUES ('automerge', 16);
INSERT INTO products_fts (products_fts, rank) VALUES ('automerge', 16);
INSERT INTO favours_fts (favours_fts) VALUES ('rebuild');
INSERT INTO items_fts (items_fts) VALUES ('rebuild');
INSERT INTO products_fts (products_fts) VALUES ('rebuild');

-- New and edited texts wait and are indexed in batches (`backlog::fold`): an entry FTS5 indexes in a
-- transaction of its own costs a new segment (some seven pages to commit, of some eighteen for a
-- whole local write), a batch of them costs one. A search folds what waits in first. A new row waits
-- by its number alone: rows numbered above `search_folded.up_to` have never been indexed (the
-- sequence never goes below it, `rows::Writer`), so storing one writes nothing more. An edited row
-- that was indexed waits in `search_backlog`, its old entry taken out. A row is waiting or in its
-- index, never both: an entry is taken out only for a row that is not waiting, and an external
-- content table must be told the old texts of an entry it takes out (`old`, which is what was
-- indexed). A product not on sale waits like any other row and is left out when folded (the view
-- leaves it out). No trigger on insert: SQLite journals every page a statement with a trigger writes,
-- so that it can undo that statement alone, which was a tenth of the time of storing a pulled page.
CREATE TABLE search_backlog (
    row  INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL -- 0 favour, 1 item, 2 product
);
CREATE TABLE search_folded (
    up_to INTEGER NOT NULL -- the rows numbered above it are new, and wait to be indexed
);
INSERT INTO search_folded (up_to) SELECT max(ifnull((SELECT max(rowid) FROM favours), 0),
    ifnull((SELECT max(rowid) FROM items), 0), ifnull((SELECT max(rowid) FROM products), 0));

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
