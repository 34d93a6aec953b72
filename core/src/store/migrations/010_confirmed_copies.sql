-- Version 10: the confirmed state is kept apart only for the entities this device has changed. Never
-- edit: add a new file instead.
--
-- `base` held a second copy of every pulled entity (the replica's JSON again, and a version nothing
-- read): a pull wrote each entity twice, and the database held it twice. The replica is the confirmed
-- state of every entity that no pending or settling mutation has written; `confirmed` holds the
-- confirmed state of the others only, copied from the replica just before a local mutation first
-- writes one (`data` NULL: the server has no such entity, as a favour posted here and not pushed yet).
-- A rebase resets the entities that have a row here to it; the rows of entities no mutation holds any
-- more are dropped after it (`sync_state.rs`).
CREATE TABLE confirmed (
    neighbourhood_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    id   TEXT NOT NULL,
    data TEXT,
    PRIMARY KEY (neighbourhood_id, kind, id)
) WITHOUT ROWID;

-- The entities pending and settling mutations wrote, with their confirmed state if the server has it.
INSERT INTO confirmed (neighbourhood_id, kind, id, data)
    SELECT d.neighbourhood_id, d.kind, d.id, base.data FROM (
        SELECT json_extract(t.value, '$.neighbourhood_id') AS neighbourhood_id,
               json_extract(t.value, '$.kind') AS kind, json_extract(t.value, '$.id') AS id
            FROM outbox, json_each(outbox.touched) AS t
        UNION SELECT neighbourhood_id, kind, id FROM settling
    ) AS d LEFT JOIN base USING (neighbourhood_id, kind, id);

DROP TABLE base;
