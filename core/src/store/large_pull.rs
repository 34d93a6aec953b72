//! Large pulls: the list indexes whose keys do not follow the order things arrive in are built once,
//! at the end of the pull, instead of row by row.
//!
//! A page of 5,000 new favours puts nearly every one of its rows in a different leaf of
//! `favours_by_place` (status and cell) once the table is large, so each commit writes thousands of
//! index pages to the WAL, and the checkpoint copies them again. Measured on this schema (500,000
//! favours stored in transactions of 5,000): a row cost 34 µs at the start and 82 µs at the end, 30 s
//! in all; without the four of those indexes in [`DEFERRED`], then building them once (sorted) at the
//! end, 15.7 s.
//!
//! So a pull with at least `StoreOptions::large_pull` changes still to come, and at least as many as
//! the replica has rows, drops the [`DEFERRED`] indexes in the transaction of the page that finds it
//! large, keeping their SQL in `meta` (`deferred index <name>`), and [`build_deferred`] builds them
//! again in the transaction of its last page, before the mutations pending are replayed (the rules'
//! reads use them). A pull cut short (its deadline, the network, the process killed) leaves them in
//! `meta`: the sync round builds them as it ends (`Store::build_deferred_indexes`), and opening the
//! store does, before any migration (which may change an index; one that cannot be built then, on a
//! full disk say, is left for the next round and the store opens all the same). Meanwhile queries
//! give the same answers, more slowly where they would use a deferred index, and observers are told
//! once, when the indexes are back, instead of after every page. A first sync spread over several
//! rounds (short background windows) builds them at the end of each, and puts them off again at the
//! start of the next while the pull is still larger than the replica.
//!
//! The indexes in time order stay (`*_by_time`, `favours_by_status`: a pull adds to them in a few
//! places, and they serve the lists shown first), and so do the keys.
//!
//! To defer another index: add its name to [`DEFERRED`] (a test checks that each name is an index of
//! the schema).

use super::error::{Result, StoreError};
use super::{backlog, rows};
use crate::domain::EntityKind;
use crate::sync::protocol::PullResponse;
use rusqlite::{Connection, OptionalExtension, params};

/// The list indexes a large pull builds at its end.
pub const DEFERRED: &[&str] = &[
    "favours_by_place",
    "favours_by_author_time",
    "favours_by_counterpart_time",
    "favours_by_category_place",
    "items_by_place",
    "items_by_owner_time",
    "items_by_category_place",
    "products_by_stall",
    "loans_by_item",
    "loans_by_owner",
    "loans_by_borrower",
    "stalls_by_owner",
    "orders_by_stall",
    "orders_by_customer",
    "orders_by_customer_time",
    "orders_by_trader",
    "messages_by_thread",
    "messages_by_author",
];

/// Where a deferred index's SQL waits in `meta`: this, then its name.
const KEY: &str = "deferred index ";

/// The pull's rows are stored without the [`DEFERRED`] indexes from this page on, if it is large (see
/// the module's doc) or an earlier page found it so: whether they are.
pub(super) fn defer_if_large(conn: &Connection, page: &PullResponse, large_pull: u64) -> Result<bool> {
    if deferred(conn)? {
        return Ok(true);
    }
    // A pull's last page is stored as it comes: the indexes would be built in the same transaction.
    if !page.more {
        return Ok(false);
    }
    let to_come = u64::try_from(page.changes.len())
        .unwrap_or(u64::MAX)
        .saturating_add(page.checkpoint.saturating_sub(page.cursor));
    if to_come < large_pull || to_come < replica_rows(conn)? {
        return Ok(false);
    }
    let failed = StoreError::sqlite("putting off list indexes for a large pull");
    for name in DEFERRED {
        if let Some(sql) = index_sql(conn, name).map_err(&failed)? {
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", params![format!("{KEY}{name}"), sql])
                .map_err(&failed)?;
            conn.execute_batch(&format!("DROP INDEX \"{name}\"")).map_err(&failed)?;
        }
    }
    tracing::info!(to_come, "a large pull: list indexes built at its end");
    Ok(true)
}

/// The `CREATE INDEX` statement of an index of the schema, if it is there.
fn index_sql(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?", [name], |row| {
        row.get(0)
    })
    .optional()
}

/// Whether indexes wait to be built.
pub(super) fn deferred(conn: &Connection) -> Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM meta WHERE substr(key, 1, length(?1)) = ?1)")
        .and_then(|mut stmt| stmt.query_row([KEY], |row| row.get(0)))
        .map_err(StoreError::sqlite("reading which indexes wait"))
}

/// Builds the indexes a large pull put off, if any; whether some waited. When they did, the pull's
/// pages were not shown (see `Store::apply_pulled`): every kind's observers are to be told.
pub(super) fn build_deferred(conn: &Connection) -> Result<bool> {
    let failed = StoreError::sqlite("building the list indexes a large pull put off");
    let waiting: Vec<(String, String)> = conn
        .prepare("SELECT key, value FROM meta WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key")
        .and_then(|mut stmt| {
            stmt.query_map([KEY], |row| Ok((row.get(0)?, row.get(1)?)))?.collect::<rusqlite::Result<_>>()
        })
        .map_err(&failed)?;
    if waiting.is_empty() {
        return Ok(false);
    }
    let started = std::time::Instant::now();
    for (key, sql) in &waiting {
        conn.execute_batch(sql).map_err(&failed)?;
        conn.execute("DELETE FROM meta WHERE key = ?", [key]).map_err(&failed)?;
    }
    tracing::info!(
        indexes = waiting.len(),
        ms = started.elapsed().as_millis(),
        "list indexes built after a large pull"
    );
    Ok(true)
}

/// About how many rows the replica has: the largest number of the sequence favours, items and
/// products share (`backlog::LAST_ROW`), and the largest row of each other table (rows deleted count
/// too).
fn replica_rows(conn: &Connection) -> Result<u64> {
    let others = EntityKind::ALL
        .iter()
        .filter(|kind| !rows::searchable(**kind))
        .map(|kind| format!(" + (SELECT coalesce(max(rowid), 0) FROM \"{}\")", rows::table_of(*kind)))
        .collect::<String>();
    conn.prepare_cached(&format!("SELECT ({}){others}", backlog::LAST_ROW))
        .and_then(|mut stmt| stmt.query_row([], |row| row.get::<_, i64>(0)))
        .map(|n| u64::try_from(n).unwrap_or(0))
        .map_err(StoreError::sqlite("counting the replica's rows"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema;

    #[test]
    fn each_deferred_index_is_a_list_index_of_the_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        schema::upgrade_to(&mut conn, schema::CURRENT_VERSION).unwrap();
        for name in DEFERRED {
            let sql = index_sql(&conn, name).unwrap();
            // Not a key: an upsert needs its key's index in every row's transaction.
            assert!(sql.is_some_and(|sql| sql.starts_with("CREATE INDEX")), "{name} is not a list index");
        }
    }
}
