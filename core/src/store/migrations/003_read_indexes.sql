-- Version 3: indexes for the read side (store/queries.rs, store/inbox.rs). Never edit: add a new file instead.
--
-- Every index starts with the neighbourhood, so without statistics SQLite takes `neighbourhood_id = ?`
-- as selective and prefers an index that also gives the order. Lists newest first therefore have an
-- index ending in `created_at` for each selective filter.

-- Lists newest first, with or without a status filter.
CREATE INDEX favours_by_time ON favours (neighbourhood_id, created_at);
CREATE INDEX items_by_time ON items (neighbourhood_id, withdrawn, created_at);
CREATE INDEX orders_by_time ON orders (neighbourhood_id, created_at);

-- One person's favours, items and pre-orders, newest first. They replace the indexes of version 1 that
-- they extend (the same look-ups, ordered).
CREATE INDEX favours_by_author_time ON favours (neighbourhood_id, author, created_at);
CREATE INDEX favours_by_counterpart_time ON favours (neighbourhood_id, counterpart, created_at);
CREATE INDEX items_by_owner_time ON items (neighbourhood_id, owner, withdrawn, created_at);
DROP INDEX favours_by_author;
DROP INDEX favours_by_counterpart;
DROP INDEX items_by_owner;
CREATE INDEX orders_by_customer_time ON orders (neighbourhood_id, customer, created_at);

-- Nearest first within a category (the apps' usual filter), without reading every row of the band.
CREATE INDEX favours_by_category_place ON favours (neighbourhood_id, category, status, cell_row, cell_col);
CREATE INDEX items_by_category_place ON items (neighbourhood_id, category, withdrawn, cell_row, cell_col);

-- The inbox: pre-orders waiting at my stalls, and the messages of the last days.
CREATE INDEX orders_by_trader ON orders (neighbourhood_id, trader, status);
CREATE INDEX messages_by_time ON messages (neighbourhood_id, sent_at);
