-- Version 8: search entries keyed by the creation time of what they find. Never edit: add a new file
-- instead.
--
-- The row of an entry in a search table was the row of its entity; it is now the entity's creation
-- time in seconds times 2^31 plus the entity's row (`rows::search_key`). FTS5 walks the matches of a
-- query in the order of its rows, so "newest first" is that walk backwards and stops after a page,
-- where any other order reads and sorts every match (most of a search's time when a word is common).
-- The entity's row is the low 31 bits of the entry's (`row & 2147483647`).
--
-- The tables are made again and filled from the entities' rows, with the texts `rows::row_of` gives
-- them (a removed product has none). Renaming the old tables to copy them instead made this
-- migration take 30 ms on a fresh database (FTS5 renames each of its shadow tables), most of a cold
-- open.
DROP TABLE favours_fts;
DROP TABLE items_fts;
DROP TABLE products_fts;
CREATE VIRTUAL TABLE favours_fts USING fts5 (title, details, category, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
CREATE VIRTUAL TABLE items_fts USING fts5 (title, description, category, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
CREATE VIRTUAL TABLE products_fts USING fts5 (name, unit, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
INSERT INTO favours_fts (favours_fts, rank) VALUES ('automerge', 16);
INSERT INTO items_fts (items_fts, rank) VALUES ('automerge', 16);
INSERT INTO products_fts (products_fts, rank) VALUES ('automerge', 16);
INSERT INTO favours_fts (rowid, title, details, category)
    SELECT (min(max(created_at, 0) / 1000, 4294967295) << 31) | rowid, data ->> '$.data.title', data ->> '$.data.details', category FROM favours;
INSERT INTO items_fts (rowid, title, description, category)
    SELECT (min(max(created_at, 0) / 1000, 4294967295) << 31) | rowid, data ->> '$.data.title', data ->> '$.data.description', category FROM items;
INSERT INTO products_fts (rowid, name, unit)
    SELECT (min(max(created_at, 0) / 1000, 4294967295) << 31) | rowid, data ->> '$.data.name', data ->> '$.data.unit' FROM products WHERE removed = 0;
