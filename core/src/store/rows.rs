//! Entities to rows and back, and the rules' [`StateView`] over a SQLite connection.
//!
//! Each kind of entity has its table (see `migrations/`). A row holds the whole entity as JSON in `data`
//! plus copies of the fields that lists filter and sort on, and names its neighbourhood by a small
//! number of this device (`neighbourhood_numbers`, migration 011: the indexes all begin with it, and
//! the 32-character id was most of each of their entries); SQL that picks a neighbourhood's rows says
//! [`IN_NEIGHBOURHOOD`], and [`Writer::number_of`] gives a new neighbourhood its number. Favours, items
//! and products are numbered from one sequence ([`Writer`]) and their search entries, keyed by that
//! row, kept in step with them: a new row waits to be indexed by its number (`backlog.rs`), triggers
//! see to edits and deletes (migration 009). [`put_json`] is the one place that inserts rows: a new
//! favour, item or product must take its number from the [`Writer`], or the search would take it for
//! indexed.
//!
//! To add a kind: give it a table in a new migration and an arm in `row_of` and [`table_of`].

use super::error::{Result, StoreError};
use crate::domain::*;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// A replica row's neighbourhood, by the id bound to the statement's next parameter: rows name it by
/// its number on this device (migration 011).
pub const IN_NEIGHBOURHOOD: &str = "neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?)";

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

/// Whether a kind is searchable: its rows are numbered from the sequence shared by favours, items and
/// products, and triggers keep its search table in step with them (migration 009).
pub(super) fn searchable(kind: EntityKind) -> bool {
    super::backlog::KINDS.iter().any(|k| k.kind == kind)
}

/// A write transaction's connection, and where it is in the sequence that numbers favours, items and
/// products: a new one gets one more than the largest row of the three (and than the last row the
/// search index took in, `backlog::LAST_ROW`), so that the search tables' rows, which are these, run
/// in the order things were stored on this device. The largest is read once a transaction (read for
/// each insert, it was ≈ 5 µs of the ≈ 24 µs a favour's row costs) and counted on from there: the
/// transaction holds the write lock, so no other connection can take a number meanwhile.
///
/// It also remembers, per kind, whether the last row it wrote was new: the next one is tried as an
/// insert first (a pull of a neighbourhood new to the device is all new rows), otherwise as an update
/// first (edits, and later pulls, mostly change rows that are there). The wrong guess costs a look-up
/// of the key (≈ 6 % of storing a pulled page of new favours when every row was tried as an update).
#[derive(Debug)]
pub struct Writer<'c> {
    conn: &'c Connection,
    next_row: std::cell::Cell<Option<i64>>,
    /// The last neighbourhood written to, and its number (see [`Writer::number_of`]).
    last_neighbourhood: std::cell::RefCell<Option<(String, i64)>>,
    /// Bit `kind as u32`: the last row of that kind written was new.
    last_was_new: std::cell::Cell<u32>,
}

// One bit of `Writer::last_was_new` for each kind.
const _: () = assert!(EntityKind::ALL.len() <= 32);

impl<'c> Writer<'c> {
    /// For a transaction that holds the write lock (`BEGIN IMMEDIATE`).
    pub fn new(conn: &'c Connection) -> Writer<'c> {
        Writer {
            conn,
            next_row: std::cell::Cell::new(None),
            last_neighbourhood: std::cell::RefCell::new(None),
            last_was_new: std::cell::Cell::new(0),
        }
    }

    /// The number by which the replica's rows name a neighbourhood on this device (migration 011),
    /// given on its first row. Read once a transaction for the neighbourhood it writes to.
    pub fn number_of(&self, neighbourhood_id: &str) -> Result<i64> {
        if let Some((id, number)) = &*self.last_neighbourhood.borrow() {
            if id == neighbourhood_id {
                return Ok(*number);
            }
        }
        let context = StoreError::sqlite("numbering a neighbourhood");
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO neighbourhood_numbers (id) VALUES (?)")
            .and_then(|mut stmt| stmt.execute([neighbourhood_id]))
            .map_err(&context)?;
        let number: i64 = self
            .conn
            .prepare_cached("SELECT number FROM neighbourhood_numbers WHERE id = ?")
            .and_then(|mut stmt| stmt.query_row([neighbourhood_id], |row| row.get(0)))
            .map_err(context)?;
        *self.last_neighbourhood.borrow_mut() = Some((neighbourhood_id.to_owned(), number));
        Ok(number)
    }

    fn last_was_new(&self, kind: EntityKind) -> bool {
        self.last_was_new.get() & (1 << (kind as u32)) != 0
    }

    fn remember(&self, kind: EntityKind, new: bool) {
        let bit = 1 << (kind as u32);
        let bits = self.last_was_new.get();
        self.last_was_new.set(if new { bits | bit } else { bits & !bit });
    }

    /// The row the next new favour, item or product takes.
    fn next_row(&self) -> Result<i64> {
        match self.next_row.get() {
            Some(row) => Ok(row),
            None => {
                let last: i64 = self
                    .conn
                    .prepare_cached(super::backlog::LAST_ROW)
                    .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
                    .map_err(StoreError::sqlite("saving a change"))?;
                self.next_row.set(Some(last + 1));
                Ok(last + 1)
            }
        }
    }
}

impl std::ops::Deref for Writer<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
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

/// The filter columns of an entity's row (its texts are searched from its JSON: migration 009).
fn row_of(entity: &Entity) -> Vec<(&'static str, Value)> {
    match entity {
        Entity::Neighbourhood(n) => vec![("name", text(&n.name))],
        Entity::Member(m) => vec![
            ("display_name", text(&m.display_name)),
            ("role", Value::Text(tag(&m.role))),
            ("status", Value::Text(tag(&m.status))),
        ],
        Entity::Invitation(i) => vec![("created_by", text(&i.created_by))],
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
            cols
        }
        Entity::Item(i) => {
            let mut cols = vec![
                ("owner", text(&i.owner)),
                ("category", text(&i.category)),
                ("withdrawn", Value::Integer(i64::from(i.withdrawn))),
                ("created_at", Value::Integer(i.created_at)),
            ];
            cols.extend(cell_columns(i.cell));
            cols
        }
        Entity::Loan(l) => vec![
            ("item_id", text(&l.item_id)),
            ("owner", text(&l.owner)),
            ("borrower", text(&l.borrower)),
            ("status", Value::Text(tag(&l.status))),
            ("first_day", day(l.first_day)),
            ("last_day", day(l.last_day)),
        ],
        Entity::Stall(s) => {
            let mut cols = vec![("owner", text(&s.owner)), ("market", text(&s.market))];
            cols.extend(cell_columns(s.cell));
            cols
        }
        Entity::Product(p) => vec![
            ("stall_id", text(&p.stall_id)),
            ("owner", text(&p.owner)),
            ("removed", Value::Integer(i64::from(p.removed))),
            ("available_today", Value::Integer(i64::from(p.available_today))),
            ("price_cents", Value::Integer(p.price_cents)),
            ("created_at", Value::Integer(p.created_at)),
        ],
        Entity::Order(o) => vec![
            ("stall_id", text(&o.stall_id)),
            ("trader", text(&o.trader)),
            ("customer", text(&o.customer)),
            ("status", Value::Text(tag(&o.status))),
            ("pickup_day", o.pickup_day.map_or(Value::Null, day)),
            ("created_at", Value::Integer(o.created_at)),
        ],
        Entity::Message(m) => vec![
            ("thread_kind", Value::Text(tag(&m.thread.kind))),
            ("thread_id", text(&m.thread.id)),
            ("author", text(&m.author)),
            ("sent_at", Value::Integer(m.sent_at)),
        ],
    }
}

/// The statements that write a kind's row, made once.
#[derive(Clone, Debug)]
struct RowSql {
    /// Parameters: `data`, the columns of [`row_of`], then the key (the neighbourhood by its number).
    update: String,
    /// The same parameters, then the row (a searchable kind's, see [`Writer`]).
    insert: String,
}

impl RowSql {
    fn new(kind: EntityKind, columns: &[(&'static str, Value)]) -> RowSql {
        let table = table_of(kind);
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let sets: Vec<String> = names.iter().map(|n| format!("{n} = ?")).collect();
        let placeholders = vec!["?"; names.len()].join(", ");
        let (row, next) = if searchable(kind) { (", rowid", ", ?") } else { ("", "") };
        // `OR FAIL`: a failed write fails its whole transaction, which is rolled back, so SQLite need
        // not journal each statement's pages to undo it alone (an upsert with triggers did, ≈ a tenth of
        // storing a pulled page).
        RowSql {
            update: format!(
                "UPDATE OR FAIL {table} SET data = ?, {} WHERE neighbourhood = ? AND id = ?",
                sets.join(", ")
            ),
            insert: format!(
                "INSERT OR FAIL INTO {table} (data, {}, neighbourhood, id{row}) VALUES (?, {placeholders}, ?, ?{next})",
                names.join(", ")
            ),
        }
    }

    fn of(kind: EntityKind, columns: &[(&'static str, Value)]) -> std::borrow::Cow<'static, RowSql> {
        static MADE: [std::sync::OnceLock<RowSql>; EntityKind::ALL.len()] =
            [const { std::sync::OnceLock::new() }; EntityKind::ALL.len()];
        match MADE.get(kind as usize) {
            Some(made) => std::borrow::Cow::Borrowed(made.get_or_init(|| RowSql::new(kind, columns))),
            None => std::borrow::Cow::Owned(RowSql::new(kind, columns)),
        }
    }
}

/// Writes one entity (insert or replace); its search entry follows (`backlog.rs`).
pub fn put(w: &Writer<'_>, entity: &Entity) -> Result<()> {
    let data = serde_json::to_string(entity).map_err(StoreError::data("entity"))?;
    put_json(w, entity, data)
}

/// [`put`] with the entity's JSON already made (`data` must be `entity` as serde writes it): a pulled
/// entity is written to the replica and, if one is kept, its confirmed copy from one serialisation.
pub fn put_json(w: &Writer<'_>, entity: &Entity, data: String) -> Result<()> {
    let key = entity.key();
    let columns = row_of(entity);
    let sql = RowSql::of(key.kind, &columns);
    let context = StoreError::sqlite("saving a change");
    let mut values: Vec<Value> = vec![Value::Text(data)];
    values.extend(columns.into_iter().map(|(_, v)| v));
    values.extend([Value::Integer(w.number_of(&key.neighbourhood_id)?), text(&key.id)]);
    let update = |values: &[Value]| {
        w.prepare_cached(&sql.update).and_then(|mut stmt| stmt.execute(rusqlite::params_from_iter(values)))
    };
    if !w.last_was_new(key.kind) && update(&values).map_err(&context)? > 0 {
        return Ok(());
    }
    let row = if searchable(key.kind) { Some(w.next_row()?) } else { None };
    values.extend(row.map(Value::Integer));
    let inserted =
        w.prepare_cached(&sql.insert).and_then(|mut stmt| stmt.execute(rusqlite::params_from_iter(&values)));
    match inserted {
        Ok(_) => {
            if let Some(row) = row {
                w.next_row.set(Some(row + 1));
            }
            w.remember(key.kind, true);
            Ok(())
        }
        // Tried as new, and there: the statement failed before writing anything (`OR FAIL`).
        Err(e) if w.last_was_new(key.kind) && is_key_taken(&e) => {
            w.remember(key.kind, false);
            values.truncate(values.len() - usize::from(row.is_some()));
            update(&values).map(drop).map_err(context)
        }
        Err(e) => Err(context(e)),
    }
}

/// Whether an insert failed because a row with its key is there.
fn is_key_taken(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error(), Some(f) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Removes one entity (and, by trigger, its search entry).
pub fn delete(conn: &Connection, key: &EntityKey) -> Result<()> {
    conn.prepare_cached(&format!("DELETE FROM {} WHERE {IN_NEIGHBOURHOOD} AND id = ?", table_of(key.kind)))
        .and_then(|mut stmt| stmt.execute(params![key.neighbourhood_id, key.id]))
        .map(drop)
        .map_err(StoreError::sqlite("removing an entry"))
}

/// Writes the effects of a mutation, in order.
pub fn write_effects(w: &Writer<'_>, effects: &[Effect]) -> Result<()> {
    for effect in effects {
        match effect {
            Effect::Put { entity } => put(w, entity)?,
            Effect::Delete { key } => delete(w, key)?,
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
    get_json(conn, key)?.map(|data| parse(&data)).transpose()
}

/// An entity's row as its JSON, unread, if the replica has it.
pub fn get_json(conn: &Connection, key: &EntityKey) -> Result<Option<String>> {
    let sql = format!("SELECT data FROM {} WHERE {IN_NEIGHBOURHOOD} AND id = ?", table_of(key.kind));
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_row(params![key.neighbourhood_id, key.id], |row| row.get(0)).optional()
        })
        .map_err(StoreError::sqlite("reading the local state"))
}

/// The rules' view of a connection (or of a transaction, which derefs to one).
#[derive(Debug)]
pub struct SqlView<'c>(pub &'c Connection);

impl StateView for SqlView<'_> {
    fn get(&self, key: &EntityKey) -> Result<Option<Entity>, ViewError> {
        Ok(get(self.0, key)?)
    }

    fn open_loans_of_item(&self, nid: &str, item_id: &str) -> Result<Vec<Loan>, ViewError> {
        let sql = "SELECT data FROM loans WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND item_id = ? \
                   AND status IN ('requested', 'approved', 'handed_over')";
        Ok(entities(self.0, sql, params![nid, item_id])?
            .into_iter()
            .filter_map(|e| if let Entity::Loan(l) = e { Some(l) } else { None })
            .collect())
    }

    fn open_orders_of_stall(&self, nid: &str, stall_id: &str) -> Result<Vec<Order>, ViewError> {
        let sql = "SELECT data FROM orders WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND stall_id = ? \
                   AND status IN ('placed', 'confirmed', 'ready')";
        Ok(entities(self.0, sql, params![nid, stall_id])?
            .into_iter()
            .filter_map(|e| if let Entity::Order(o) = e { Some(o) } else { None })
            .collect())
    }

    fn favours_taken_up_by(&self, nid: &str, member_id: &str) -> Result<Vec<Favour>, ViewError> {
        let sql = "SELECT data FROM favours WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND counterpart = ? AND status = 'promised'";
        Ok(entities(self.0, sql, params![nid, member_id])?
            .into_iter()
            .filter_map(|e| if let Entity::Favour(f) = e { Some(f) } else { None })
            .collect())
    }

    fn keys_of_member(&self, nid: &str, member_id: &str) -> Result<Vec<EntityKey>, ViewError> {
        const OWNED: &str = "
            SELECT 'favour', id FROM favours WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) AND author = ?2
            UNION SELECT 'item', id FROM items WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) AND owner = ?2
            UNION SELECT 'loan', id FROM loans WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) AND (owner = ?2 OR borrower = ?2)
            UNION SELECT 'stall', id FROM stalls WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) AND owner = ?2
            UNION SELECT 'product', id FROM products WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) AND owner = ?2
            UNION SELECT 'order', id FROM orders WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) AND (customer = ?2 OR trader = ?2)
            UNION SELECT 'invitation', id FROM invitations WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) AND created_by = ?2
            UNION SELECT 'message', id FROM messages WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) AND author = ?2";
        let sql = format!(
            "WITH owned(kind, id) AS ({OWNED})
             SELECT kind, id FROM owned
             UNION SELECT 'message', m.id FROM messages m JOIN owned o
                ON o.kind = m.thread_kind AND o.id = m.thread_id WHERE m.neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1)"
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
