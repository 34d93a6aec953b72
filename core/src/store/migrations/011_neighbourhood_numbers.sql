-- Version 11: the replica's rows name their neighbourhood by a small number of this device's
-- (`neighbourhood_numbers`) instead of its 32-character id. Never edit: add a new file instead.
--
-- Every list index of the replica began with the neighbourhood's id: seven copies of it in a favour's
-- entries alone, compared in full at every step of every look-up, to tell apart the one or two
-- neighbourhoods a device holds. As a number it takes a byte or two. On 100,000 favours (SQLite
-- alone, bench/NOTES.md) storing them took 40 % less time and the database a third less room.
-- Queries find the number by the id (`rows::IN_NEIGHBOURHOOD`); `rows::Writer` gives a neighbourhood
-- its number when its first row is stored. The sync tables (outbox, confirmed, settling, …) keep the
-- id: they are small, and what they hold is sent to the server.
CREATE TABLE neighbourhood_numbers (
    number INTEGER PRIMARY KEY,
    id     TEXT NOT NULL UNIQUE
);
INSERT INTO neighbourhood_numbers (id)
    SELECT neighbourhood_id FROM (SELECT neighbourhood_id FROM neighbourhoods UNION SELECT neighbourhood_id FROM members UNION SELECT neighbourhood_id FROM invitations UNION SELECT neighbourhood_id FROM loans UNION SELECT neighbourhood_id FROM stalls UNION SELECT neighbourhood_id FROM orders UNION SELECT neighbourhood_id FROM messages UNION SELECT neighbourhood_id FROM favours UNION SELECT neighbourhood_id FROM items UNION SELECT neighbourhood_id FROM products)
    ORDER BY 1;

-- The search views and triggers name the tables rebuilt below: made again after them, as they were.
DROP VIEW favours_text;
DROP VIEW items_text;
DROP VIEW products_on_sale;

CREATE TABLE neighbourhoods_numbered (
    neighbourhood INTEGER NOT NULL,
    id   TEXT NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (neighbourhood, id)
);
INSERT INTO neighbourhoods_numbered (neighbourhood, id, name, data)
    SELECT n.number, o.id, o.name, o.data
    FROM neighbourhoods AS o JOIN neighbourhood_numbers AS n ON n.id = o.neighbourhood_id;
DROP TABLE neighbourhoods;
ALTER TABLE neighbourhoods_numbered RENAME TO neighbourhoods;

CREATE TABLE members_numbered (
    neighbourhood INTEGER NOT NULL,
    id           TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role         TEXT NOT NULL,
    status       TEXT NOT NULL,
    data         TEXT NOT NULL,
    UNIQUE (neighbourhood, id)
);
INSERT INTO members_numbered (neighbourhood, id, display_name, role, status, data)
    SELECT n.number, o.id, o.display_name, o.role, o.status, o.data
    FROM members AS o JOIN neighbourhood_numbers AS n ON n.id = o.neighbourhood_id;
DROP TABLE members;
ALTER TABLE members_numbered RENAME TO members;

CREATE TABLE invitations_numbered (
    neighbourhood INTEGER NOT NULL,
    id         TEXT NOT NULL,
    created_by TEXT NOT NULL,
    data       TEXT NOT NULL,
    UNIQUE (neighbourhood, id)
);
INSERT INTO invitations_numbered (neighbourhood, id, created_by, data)
    SELECT n.number, o.id, o.created_by, o.data
    FROM invitations AS o JOIN neighbourhood_numbers AS n ON n.id = o.neighbourhood_id;
DROP TABLE invitations;
ALTER TABLE invitations_numbered RENAME TO invitations;

CREATE TABLE loans_numbered (
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
INSERT INTO loans_numbered (neighbourhood, id, item_id, owner, borrower, status, first_day, last_day, data)
    SELECT n.number, o.id, o.item_id, o.owner, o.borrower, o.status, o.first_day, o.last_day, o.data
    FROM loans AS o JOIN neighbourhood_numbers AS n ON n.id = o.neighbourhood_id;
DROP TABLE loans;
ALTER TABLE loans_numbered RENAME TO loans;
CREATE INDEX loans_by_item ON loans (neighbourhood, item_id, status);
CREATE INDEX loans_by_owner ON loans (neighbourhood, owner, status);
CREATE INDEX loans_by_borrower ON loans (neighbourhood, borrower, status);

CREATE TABLE stalls_numbered (
    neighbourhood INTEGER NOT NULL,
    id       TEXT NOT NULL,
    owner    TEXT NOT NULL,
    market   TEXT NOT NULL,
    cell_row INTEGER,
    cell_col INTEGER,
    data     TEXT NOT NULL,
    UNIQUE (neighbourhood, id)
);
INSERT INTO stalls_numbered (neighbourhood, id, owner, market, cell_row, cell_col, data)
    SELECT n.number, o.id, o.owner, o.market, o.cell_row, o.cell_col, o.data
    FROM stalls AS o JOIN neighbourhood_numbers AS n ON n.id = o.neighbourhood_id;
DROP TABLE stalls;
ALTER TABLE stalls_numbered RENAME TO stalls;
CREATE INDEX stalls_by_owner ON stalls (neighbourhood, owner);

CREATE TABLE orders_numbered (
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
INSERT INTO orders_numbered (neighbourhood, id, stall_id, trader, customer, status, pickup_day, created_at, data)
    SELECT n.number, o.id, o.stall_id, o.trader, o.customer, o.status, o.pickup_day, o.created_at, o.data
    FROM orders AS o JOIN neighbourhood_numbers AS n ON n.id = o.neighbourhood_id;
DROP TABLE orders;
ALTER TABLE orders_numbered RENAME TO orders;
CREATE INDEX orders_by_stall ON orders (neighbourhood, stall_id, status);
CREATE INDEX orders_by_customer ON orders (neighbourhood, customer, status);
CREATE INDEX orders_by_time ON orders (neighbourhood, created_at);
CREATE INDEX orders_by_customer_time ON orders (neighbourhood, customer, created_at);
CREATE INDEX orders_by_trader ON orders (neighbourhood, trader, status);

CREATE TABLE messages_numbered (
    neighbourhood INTEGER NOT NULL,
    id          TEXT NOT NULL,
    thread_kind TEXT NOT NULL,
    thread_id   TEXT NOT NULL,
    author      TEXT NOT NULL,
    sent_at     INTEGER NOT NULL,
    data        TEXT NOT NULL,
    UNIQUE (neighbourhood, id)
);
INSERT INTO messages_numbered (neighbourhood, id, thread_kind, thread_id, author, sent_at, data)
    SELECT n.number, o.id, o.thread_kind, o.thread_id, o.author, o.sent_at, o.data
    FROM messages AS o JOIN neighbourhood_numbers AS n ON n.id = o.neighbourhood_id;
DROP TABLE messages;
ALTER TABLE messages_numbered RENAME TO messages;
CREATE INDEX messages_by_thread ON messages (neighbourhood, thread_id, sent_at);
CREATE INDEX messages_by_author ON messages (neighbourhood, author);
CREATE INDEX messages_by_time ON messages (neighbourhood, sent_at);

CREATE TABLE favours_numbered (
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
INSERT INTO favours_numbered (rowid, neighbourhood, id, author, kind, status, category, counterpart, cell_row, cell_col, created_at, data)
    SELECT o.rowid, n.number, o.id, o.author, o.kind, o.status, o.category, o.counterpart, o.cell_row, o.cell_col, o.created_at, o.data
    FROM favours AS o JOIN neighbourhood_numbers AS n ON n.id = o.neighbourhood_id;
DROP TABLE favours;
ALTER TABLE favours_numbered RENAME TO favours;
CREATE INDEX favours_by_status ON favours (neighbourhood, status, created_at);
CREATE INDEX favours_by_place ON favours (neighbourhood, status, cell_row, cell_col);
CREATE INDEX favours_by_time ON favours (neighbourhood, created_at);
CREATE INDEX favours_by_author_time ON favours (neighbourhood, author, created_at);
CREATE INDEX favours_by_counterpart_time ON favours (neighbourhood, counterpart, created_at);
CREATE INDEX favours_by_category_place ON favours (neighbourhood, category, status, cell_row, cell_col);

CREATE TABLE items_numbered (
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
INSERT INTO items_numbered (rowid, neighbourhood, id, owner, category, withdrawn, cell_row, cell_col, created_at, data)
    SELECT o.rowid, n.number, o.id, o.owner, o.category, o.withdrawn, o.cell_row, o.cell_col, o.created_at, o.data
    FROM items AS o JOIN neighbourhood_numbers AS n ON n.id = o.neighbourhood_id;
DROP TABLE items;
ALTER TABLE items_numbered RENAME TO items;
CREATE INDEX items_by_place ON items (neighbourhood, withdrawn, cell_row, cell_col);
CREATE INDEX items_by_time ON items (neighbourhood, withdrawn, created_at);
CREATE INDEX items_by_owner_time ON items (neighbourhood, owner, withdrawn, created_at);
CREATE INDEX items_by_category_place ON items (neighbourhood, category, withdrawn, cell_row, cell_col);

CREATE TABLE products_numbered (
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
INSERT INTO products_numbered (rowid, neighbourhood, id, stall_id, owner, removed, available_today, price_cents, created_at, data)
    SELECT o.rowid, n.number, o.id, o.stall_id, o.owner, o.removed, o.available_today, o.price_cents, o.created_at, o.data
    FROM products AS o JOIN neighbourhood_numbers AS n ON n.id = o.neighbourhood_id;
DROP TABLE products;
ALTER TABLE products_numbered RENAME TO products;
CREATE INDEX products_by_stall ON products (neighbourhood, stall_id, removed);

CREATE VIEW favours_text AS
    SELECT rowid, data ->> '$.data.title' AS title, data ->> '$.data.details' AS details, category FROM favours;
CREATE VIEW items_text AS
    SELECT rowid, data ->> '$.data.title' AS title, data ->> '$.data.description' AS description, category FROM items;
CREATE VIEW products_on_sale AS
    SELECT rowid, data ->> '$.data.name' AS name, data ->> '$.data.unit' AS unit FROM products WHERE removed = 0;
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
