-- Version 7: full-text indexes merge their segments less eagerly. Never edit: add a new file instead.
--
-- FTS5 writes each transaction's entries as a new segment and, by default, merges segments as soon as
-- 4 of a size are there, so an entry is written again at every level: most of the cost of storing a
-- pulled page. Merging 16 at a time writes entries about half as often for a slightly slower search
-- (a query reads more segments); see BENCHMARKS.md.
INSERT INTO favours_fts (favours_fts, rank) VALUES ('automerge', 16);
INSERT INTO items_fts (items_fts, rank) VALUES ('automerge', 16);
INSERT INTO products_fts (products_fts, rank) VALUES ('automerge', 16);
