//! Entities to rows and back, and the rules' [`StateView`] over a SQLite connection.
//!
//! Each kind of entity has its table (see `migrations/`). A row holds the whole entity as JSON in `data`
//! plus copies of the fields that lists filter and sort on; the full-text entry of a favour, an item or
//! a product is keyed by its creation time and its row ([`search_key`]). [`write_effects`] is the one
//! place that writes them.
//!
//! To add a kind: give it a table in a new migration and an arm in [`row_of`] and [`table_of`].

use super::error::{Result, StoreError};
use crate::domain::*;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// The table of each kind of entity.
pub fn table_of(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Neighbourhood => "neighbourhoods",
        EntityKind::Member => "members",
        EntityKind::Invitation => "invitations",
        EntityKind::Favour => "favours",
        EntityKind::Item => "items",
        EntityKind::Loan => "loans",
        EntityKind::Stall => "stalls",
        EntityKind::Product => "products",
        EntityKind::Order => "orders",
        EntityKind::Message => "messages",
    }
}

/// The full-text table of a kind, if it is searchable.
pub fn fts_of(kind: EntityKind) -> Option<&'static str> {
    match kind {
        EntityKind::Favour => Some("favours_fts"),
        EntityKind::Item => Some("items_fts"),
        EntityKind::Product => Some("products_fts"),
        _ => None,
    }
}

/// How many bits of a search key hold the entity's row; the bits above hold its creation time.
pub const ROW_BITS: u32 = 31;

/// The entity's row in a search key: `search_table.rowid & ROW_MASK` (SQL: `& 2147483647`).
pub const ROW_MASK: i64 = (1 << ROW_BITS) - 1;

/// The row of the full-text entry of the entity in row `rowid` created at `created_at_ms`: its creation
/// time in seconds (from 1970 to 2106), then its row. Entries are walked in this order, so a search
/// newest first reads a page of matches backwards and stops (migration 008).
pub fn search_key(created_at_ms: i64, rowid: i64) -> Result<i64> {
    if !(1..=ROW_MASK).contains(&rowid) {
        return Err(StoreError::Invalid(format!(
            "Row {rowid} cannot be indexed for search (more than {ROW_MASK} rows of one kind were written on \
             this device): export the neighbourhood and start from a fresh database."
        )));
    }
    let seconds = (created_at_ms.max(0) / 1000).min(i64::from(u32::MAX));
    Ok(seconds << ROW_BITS | rowid)
}

/// When an entity with a full-text entry was created, which its search key starts with.
fn created_at(entity: &Entity) -> i64 {
    match entity {
        Entity::Favour(f) => f.created_at,
        Entity::Item(i) => i.created_at,
        Entity::Product(p) => p.created_at,
        _ => 0,
    }
}

/// The text form of a unit enum (`"handed_over"`), as serde writes it.
pub fn tag<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        _ => String::new(),
    }
}

fn cell_columns(cell: Option<Cell>) -> [(&'static str, Value); 2] {
    [
        ("cell_row", cell.map_or(Value::Null, |c| Value::Integer(i64::from(c.row)))),
        ("cell_col", cell.map_or(Value::Null, |c| Value::Integer(i64::from(c.col)))),
    ]
}

fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

fn day(value: Day) -> Value {
    Value::Integer(i64::from(value.days_since_epoch()))
}

/// The filter columns of an entity's row, and the texts of its full-text entry.
fn row_of(entity: &Entity) -> (Vec<(&'static str, Value)>, Vec<&str>) {
    match entity {
        Entity::Neighbourhood(n) => (vec![("name", text(&n.name))], vec![]),
        Entity::Member(m) => (
            vec![
                ("display_name", text(&m.display_name)),
                ("role", Value::Text(tag(&m.role))),
                ("status", Value::Text(tag(&m.status))),
            ],
            vec![],
        ),
        Entity::Invitation(i) => (vec![("created_by", text(&i.created_by))], vec![]),
        Entity::Favour(f) => {
            let mut cols = vec![
                ("author", text(&f.author)),
                ("kind", Value::Text(tag(&f.kind))),
                ("status", Value::Text(tag(&f.status))),
                ("category", text(&f.category)),
                ("counterpart", f.counterpart.as_deref().map_or(Value::Null, text)),
                ("created_at", Value::Integer(f.created_at)),
            ];
            cols.extend(cell_columns(f.cell));
            (cols, vec![&f.title, &f.details, &f.category])
        }
        Entity::Item(i) => {
            let mut cols = vec![
                ("owner", text(&i.owner)),
                ("category", text(&i.category)),
                ("withdrawn", Value::Integer(i64::from(i.withdrawn))),
                ("created_at", Value::Integer(i.created_at)),
            ];
            cols.extend(cell_columns(i.cell));
            (cols, vec![&i.title, &i.description, &i.category])
        }
        Entity::Loan(l) => (
            vec![
                ("item_id", text(&l.item_id)),
                ("owner", text(&l.owner)),
                ("borrower", text(&l.borrower)),
                ("status", Value::Text(tag(&l.status))),
                ("first_day", day(l.first_day)),
                ("last_day", day(l.last_day)),
            ],
            vec![],
        ),
        Entity::Stall(s) => {
            let mut cols = vec![("owner", text(&s.owner)), ("market", text(&s.market))];
            cols.extend(cell_columns(s.cell));
            (cols, vec![])
        }
        Entity::Product(p) => (
            vec![
                ("stall_id", text(&p.stall_id)),
                ("owner", text(&p.owner)),
                ("removed", Value::Integer(i64::from(p.removed))),
                ("available_today", Value::Integer(i64::from(p.available_today))),
                ("price_cents", Value::Integer(p.price_cents)),
                ("created_at", Value::Integer(p.created_at)),
            ],
            // A removed product no longer turns up in searches.
            if p.removed { vec![] } else { vec![&p.name, &p.unit] },
        ),
        Entity::Order(o) => (
            vec![
                ("stall_id", text(&o.stall_id)),
                ("trader", text(&o.trader)),
                ("customer", text(&o.customer)),
                ("status", Value::Text(tag(&o.status))),
                ("pickup_day", o.pickup_day.map_or(Value::Null, day)),
                ("created_at", Value::Integer(o.created_at)),
            ],
            vec![],
        ),
        Entity::Message(m) => (
            vec![
                ("thread_kind", Value::Text(tag(&m.thread.kind))),
                ("thread_id", text(&m.thread.id)),
                ("author", text(&m.author)),
                ("sent_at", Value::Integer(m.sent_at)),
            ],
            vec![],
        ),
    }
}

fn upsert_sql(table: &str, columns: &[(&'static str, Value)]) -> String {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let placeholders = vec!["?"; names.len()].join(", ");
    let updates: Vec<String> = names.iter().map(|n| format!("{n} = excluded.{n}")).collect();
    format!(
        "INSERT INTO {table} (neighbourhood_id, id, data, {}) VALUES (?, ?, ?, {placeholders}) \
         ON CONFLICT (neighbourhood_id, id) DO UPDATE SET data = excluded.data, {} RETURNING rowid",
        names.join(", "),
        updates.join(", ")
    )
}

/// Writes one entity (insert or replace), keeping its full-text entry in step.
pub fn put(conn: &Connection, entity: &Entity) -> Result<()> {
    let data = serde_json::to_string(entity).map_err(StoreError::data("entity"))?;
    put_json(conn, entity, data)
}

/// [`put`] with the entity's JSON already made (`data` must be `entity` as serde writes it): a pulled
/// entity is written to the confirmed state and the replica from one serialisation.
pub fn put_json(conn: &Connection, entity: &Entity, data: String) -> Result<()> {
    let key = entity.key();
    let table = table_of(key.kind);
    let (columns, texts) = row_of(entity);
    let fts = fts_of(key.kind);
    // Whether the row is there already, and when it was created: only then has it a full-text entry to
    // take out, under that time. Asking costs one look-up in the key's index; a full-text delete of a
    // row that is not there costs several (an entity pulled for the first time, most of an initial
    // sync, would pay it for nothing).
    let existed = match fts {
        Some(_) => conn
            .prepare_cached(&format!(
                "SELECT rowid, created_at FROM {table} WHERE neighbourhood_id = ? AND id = ?"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![key.neighbourhood_id, key.id], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
                })
                .optional()
            })
            .map_err(StoreError::sqlite("saving a change"))?,
        None => None,
    };
    let mut values: Vec<Value> = vec![text(&key.neighbourhood_id), text(&key.id), Value::Text(data)];
    values.extend(columns.iter().map(|(_, v)| v.clone()));
    let rowid: i64 = conn
        .prepare_cached(&upsert_sql(table, &columns))
        .and_then(|mut stmt| stmt.query_row(rusqlite::params_from_iter(values), |row| row.get(0)))
        .map_err(StoreError::sqlite("saving a change"))?;
    if let Some(fts) = fts {
        if let Some((old, old_created_at)) = existed {
            delete_search_entry(conn, fts, search_key(old_created_at, old)?)?;
        }
        if !texts.is_empty() {
            let placeholders = vec!["?"; texts.len()].join(", ");
            let mut values: Vec<Value> = vec![Value::Integer(search_key(created_at(entity), rowid)?)];
            values.extend(texts.iter().map(|t| text(t)));
            let sql = format!("INSERT INTO {fts} (rowid, {}) VALUES (?, {placeholders})", fts_columns(fts));
            conn.prepare_cached(&sql)
                .and_then(|mut stmt| stmt.execute(rusqlite::params_from_iter(values)))
                .map_err(StoreError::sqlite("updating the search index"))?;
        }
    }
    Ok(())
}

fn delete_search_entry(conn: &Connection, fts: &str, key: i64) -> Result<()> {
    conn.prepare_cached(&format!("DELETE FROM {fts} WHERE rowid = ?"))
        .and_then(|mut stmt| stmt.execute([key]))
        .map(drop)
        .map_err(StoreError::sqlite("updating the search index"))
}

fn fts_columns(fts: &str) -> &'static str {
    match fts {
        "favours_fts" => "title, details, category",
        "items_fts" => "title, description, category",
        _ => "name, unit",
    }
}

/// Removes one entity and its full-text entry.
pub fn delete(conn: &Connection, key: &EntityKey) -> Result<()> {
    let table = table_of(key.kind);
    let Some(fts) = fts_of(key.kind) else {
        return conn
            .prepare_cached(&format!("DELETE FROM {table} WHERE neighbourhood_id = ? AND id = ?"))
            .and_then(|mut stmt| stmt.execute(params![key.neighbourhood_id, key.id]))
            .map(drop)
            .map_err(StoreError::sqlite("removing an entry"));
    };
    let removed: Option<(i64, i64)> = conn
        .prepare_cached(&format!(
            "DELETE FROM {table} WHERE neighbourhood_id = ? AND id = ? RETURNING rowid, created_at"
        ))
        .and_then(|mut stmt| {
            stmt.query_row(params![key.neighbourhood_id, key.id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(StoreError::sqlite("removing an entry"))?;
    match removed {
        Some((rowid, created_at)) => delete_search_entry(conn, fts, search_key(created_at, rowid)?),
        None => Ok(()),
    }
}

/// Writes the effects of a mutation, in order.
pub fn write_effects(conn: &Connection, effects: &[Effect]) -> Result<()> {
    for effect in effects {
        match effect {
            Effect::Put { entity } => put(conn, entity)?,
            Effect::Delete { key } => delete(conn, key)?,
        }
    }
    Ok(())
}

/// Reads an entity's JSON.
pub fn parse(data: &str) -> Result<Entity> {
    serde_json::from_str(data).map_err(StoreError::data("entity"))
}

/// Reads rows of `SELECT data …` into entities.
pub fn entities(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Entity>> {
    let mut stmt = conn.prepare_cached(sql).map_err(StoreError::sqlite("reading the local state"))?;
    let rows = stmt
        .query_map(params, |row| row.get::<_, String>(0))
        .map_err(StoreError::sqlite("reading the local state"))?;
    rows.map(|row| parse(&row.map_err(StoreError::sqlite("reading the local state"))?)).collect()
}

pub fn get(conn: &Connection, key: &EntityKey) -> Result<Option<Entity>> {
    let sql = format!("SELECT data FROM {} WHERE neighbourhood_id = ? AND id = ?", table_of(key.kind));
    Ok(entities(conn, &sql, params![key.neighbourhood_id, key.id])?.pop())
}

/// The rules' view of a connection (or of a transaction, which derefs to one).
#[derive(Debug)]
pub struct SqlView<'c>(pub &'c Connection);

impl StateView for SqlView<'_> {
    fn get(&self, key: &EntityKey) -> Result<Option<Entity>, ViewError> {
        Ok(get(self.0, key)?)
    }

    fn open_loans_of_item(&self, nid: &str, item_id: &str) -> Result<Vec<Loan>, ViewError> {
        let sql = "SELECT data FROM loans WHERE neighbourhood_id = ? AND item_id = ? \
                   AND status IN ('requested', 'approved', 'handed_over')";
        Ok(entities(self.0, sql, params![nid, item_id])?
            .into_iter()
            .filter_map(|e| if let Entity::Loan(l) = e { Some(l) } else { None })
            .collect())
    }

    fn open_orders_of_stall(&self, nid: &str, stall_id: &str) -> Result<Vec<Order>, ViewError> {
        let sql = "SELECT data FROM orders WHERE neighbourhood_id = ? AND stall_id = ? \
                   AND status IN ('placed', 'confirmed', 'ready')";
        Ok(entities(self.0, sql, params![nid, stall_id])?
            .into_iter()
            .filter_map(|e| if let Entity::Order(o) = e { Some(o) } else { None })
            .collect())
    }

    fn favours_taken_up_by(&self, nid: &str, member_id: &str) -> Result<Vec<Favour>, ViewError> {
        let sql =
            "SELECT data FROM favours WHERE neighbourhood_id = ? AND counterpart = ? AND status = 'promised'";
        Ok(entities(self.0, sql, params![nid, member_id])?
            .into_iter()
            .filter_map(|e| if let Entity::Favour(f) = e { Some(f) } else { None })
            .collect())
    }

    fn keys_of_member(&self, nid: &str, member_id: &str) -> Result<Vec<EntityKey>, ViewError> {
        const OWNED: &str = "
            SELECT 'favour', id FROM favours WHERE neighbourhood_id = ?1 AND author = ?2
            UNION SELECT 'item', id FROM items WHERE neighbourhood_id = ?1 AND owner = ?2
            UNION SELECT 'loan', id FROM loans WHERE neighbourhood_id = ?1 AND (owner = ?2 OR borrower = ?2)
            UNION SELECT 'stall', id FROM stalls WHERE neighbourhood_id = ?1 AND owner = ?2
            UNION SELECT 'product', id FROM products WHERE neighbourhood_id = ?1 AND owner = ?2
            UNION SELECT 'order', id FROM orders WHERE neighbourhood_id = ?1 AND (customer = ?2 OR trader = ?2)
            UNION SELECT 'invitation', id FROM invitations WHERE neighbourhood_id = ?1 AND created_by = ?2
            UNION SELECT 'message', id FROM messages WHERE neighbourhood_id = ?1 AND author = ?2";
        let sql = format!(
            "WITH owned(kind, id) AS ({OWNED})
             SELECT kind, id FROM owned
             UNION SELECT 'message', m.id FROM messages m JOIN owned o
                ON o.kind = m.thread_kind AND o.id = m.thread_id WHERE m.neighbourhood_id = ?1"
        );
        let mut stmt =
            self.0.prepare_cached(&sql).map_err(StoreError::sqlite("listing a member's content"))?;
        let rows = stmt
            .query_map(params![nid, member_id], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(StoreError::sqlite("listing a member's content"))?;
        let mut keys = Vec::new();
        for row in rows {
            let (kind, id) = row.map_err(StoreError::sqlite("listing a member's content"))?;
            if let Some(kind) = EntityKind::parse(&kind) {
                keys.push(EntityKey::new(nid, kind, &id));
            }
        }
        keys.sort();
        Ok(keys)
    }
}
