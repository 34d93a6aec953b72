//! The search backlog: favours, items and products whose texts wait to be indexed for search.
//!
//! FTS5 writes the entries of each transaction as a new segment of its index: indexed one write at a
//! time, a favour posted commits some seven pages of index of the eighteen its write commits. So a new
//! row waits by its number alone (numbered above `search_folded.up_to`, the last fold's: storing it
//! writes nothing more), an edited one is noted in `search_backlog` (by the triggers of migration
//! 009), and their entries are indexed later together, as one segment per kind ([`fold`]):
//! - by a write that leaves [`FOLD_AT`] rows or more waiting ([`fold_if_due`], before its commit);
//! - by a search, first ([`before_search`]), in a transaction of its own. That transaction does not
//!   wait for the disk: it holds nothing that is not already saved (the rows are), and the next commit
//!   that does wait makes it durable too (WAL frames reach the disk in order).
//!
//! A store that cannot write (opened read-only, its disk read-only or full) cannot fold: its search
//! reads the waiting rows from tables of its own connection (`temp.*_waiting`, in memory), which a
//! search queries beside the real ones (a connection that cannot write even those, under `PRAGMA
//! query_only`, answers from the index alone, and says so in the log). Best match first then ranks
//! those few among themselves (bm25 weighs a word by how rare it is in its own table), and merges them
//! with the rest by that rank.
//!
//! To make a kind searchable: a row in [`KINDS`], its table in [`LAST_ROW`] and `WAITING`, and its
//! table, view and triggers in a migration.

use super::error::{Result, StoreError};
use crate::domain::EntityKind;
use rusqlite::{Connection, Transaction, TransactionBehavior};

/// A write that leaves this many rows waiting indexes them.
pub const FOLD_AT: usize = 32;

/// What the backlog needs of a searchable kind.
#[derive(Debug)]
pub struct Kind {
    pub kind: EntityKind,
    /// Its number in `search_backlog.kind`.
    code: i64,
    /// Its search table.
    pub fts: &'static str,
    /// The view of its rows' texts that the search table indexes: rowid, then `columns`.
    view: &'static str,
    columns: &'static str,
}

pub const FAVOURS: Kind = Kind {
    kind: EntityKind::Favour,
    code: 0,
    fts: "favours_fts",
    view: "favours_text",
    columns: "title, details, category",
};

pub const ITEMS: Kind = Kind {
    kind: EntityKind::Item,
    code: 1,
    fts: "items_fts",
    view: "items_text",
    columns: "title, description, category",
};

pub const PRODUCTS: Kind = Kind {
    kind: EntityKind::Product,
    code: 2,
    fts: "products_fts",
    view: "products_on_sale",
    columns: "name, unit",
};

/// The searchable kinds.
pub const KINDS: [Kind; 3] = [FAVOURS, ITEMS, PRODUCTS];

/// The tokenizer and prefix indexes of the search tables (migration 009).
const OPTIONS: &str = "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'";

impl Kind {
    /// Its waiting rows' texts, new then edited: rowid, then `columns` (for a product, only if on sale).
    fn waiting_rows(&self) -> String {
        format!(
            "SELECT t.* FROM {view} t WHERE t.rowid > (SELECT up_to FROM search_folded) \
             UNION ALL SELECT t.* FROM search_backlog b CROSS JOIN {view} t ON t.rowid = b.row \
             WHERE b.kind = {code}",
            view = self.view,
            code = self.code
        )
    }

    /// The table of its waiting rows in a store that cannot fold (in the connection's `temp` schema,
    /// which SQLite looks in first).
    pub fn waiting_table(&self) -> String {
        format!("{}_waiting", self.fts)
    }
}

fn sqlite(doing: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    StoreError::sqlite(doing)
}

/// The rows that wait: the new ones (numbered above the last fold) and the edited ones.
const WAITING: &str = "SELECT rowid FROM favours WHERE rowid > (SELECT up_to FROM search_folded) \
     UNION ALL SELECT rowid FROM items WHERE rowid > (SELECT up_to FROM search_folded) \
     UNION ALL SELECT rowid FROM products WHERE rowid > (SELECT up_to FROM search_folded) \
     UNION ALL SELECT row FROM search_backlog";

/// The number every new favour, item or product must be above: the last folded, or a larger row.
pub const LAST_ROW: &str = "SELECT max(ifnull((SELECT max(rowid) FROM favours), 0), \
     ifnull((SELECT max(rowid) FROM items), 0), ifnull((SELECT max(rowid) FROM products), 0), \
     (SELECT up_to FROM search_folded))";

/// Whether at least `n` rows wait.
fn waiting(conn: &Connection, n: usize) -> Result<bool> {
    let offset = i64::try_from(n.saturating_sub(1)).unwrap_or(i64::MAX);
    conn.prepare_cached(&format!("SELECT EXISTS (SELECT 1 FROM ({WAITING}) LIMIT 1 OFFSET ?)"))
        .and_then(|mut stmt| stmt.query_row([offset], |row| row.get(0)))
        .map_err(sqlite("reading the search backlog"))
}

/// How many rows wait to be indexed.
pub fn waiting_count(conn: &Connection) -> Result<i64> {
    conn.prepare_cached(&format!("SELECT count(*) FROM ({WAITING})"))
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(sqlite("reading the search backlog"))
}

/// Indexes every waiting row, one batch per kind, and marks them all indexed (in the caller's
/// transaction).
pub fn fold(conn: &Connection) -> Result<()> {
    let run = |sql: &str| {
        conn.prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute([]))
            .map(drop)
            .map_err(sqlite("updating the search index"))
    };
    for kind in &KINDS {
        run(&format!("INSERT INTO {} (rowid, {}) {}", kind.fts, kind.columns, kind.waiting_rows()))?;
    }
    run(&format!("UPDATE search_folded SET up_to = ({LAST_ROW})"))?;
    run("DELETE FROM search_backlog")
}

/// [`fold`]s if [`FOLD_AT`] rows or more wait: called by each write before its commit.
pub fn fold_if_due(conn: &Connection) -> Result<()> {
    if waiting(conn, FOLD_AT)? { fold(conn) } else { Ok(()) }
}

/// Makes the index whole before a search: folds what waits, in a transaction of its own. Returns the
/// kinds whose waiting rows a store that cannot write has copied to its `*_waiting` tables instead,
/// for the search to query as well.
pub fn before_search(conn: &Connection) -> Result<Vec<&'static Kind>> {
    if !waiting(conn, 1)? {
        return Ok(Vec::new());
    }
    match fold_now(conn) {
        Ok(()) => Ok(Vec::new()),
        Err(error) => {
            tracing::warn!(%error, "the latest changes could not be indexed for search; searching them apart");
            copy_waiting(conn).or_else(|error| {
                // Not even this connection's own tables in memory can be written (`PRAGMA query_only`):
                // the search answers from what is indexed rather than not at all.
                tracing::warn!(%error, "the latest changes cannot be searched apart either; left out");
                Ok(Vec::new())
            })
        }
    }
}

/// [`fold`] in a transaction that does not wait for the disk.
fn fold_now(conn: &Connection) -> Result<()> {
    let synchronous: i64 = conn
        .pragma_query_value(None, "synchronous", |row| row.get(0))
        .map_err(sqlite("reading the durability"))?;
    let relaxed = synchronous > 1;
    if relaxed {
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sqlite("setting the durability"))?;
    }
    let folded = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(sqlite("updating the search index"))
        .and_then(|tx| {
            fold(&tx)?;
            tx.commit().map_err(sqlite("updating the search index"))
        });
    // The durability comes back whether the fold worked or not; the fold's own error comes first.
    let restored = if relaxed {
        conn.pragma_update(None, "synchronous", synchronous).map_err(sqlite("setting the durability"))
    } else {
        Ok(())
    };
    folded.and(restored)
}

/// Copies the waiting rows of each kind to a table of this connection's own (in memory), for a
/// store that cannot fold them.
fn copy_waiting(conn: &Connection) -> Result<Vec<&'static Kind>> {
    let mut kinds = Vec::new();
    for kind in &KINDS {
        let table = kind.waiting_table();
        conn.execute_batch(&format!(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.{table} USING fts5 ({}, {OPTIONS}); DELETE FROM temp.{table};",
            kind.columns
        ))
        .map_err(sqlite("searching the latest changes"))?;
        let copied = conn
            .execute(
                &format!("INSERT INTO temp.{table} (rowid, {}) {}", kind.columns, kind.waiting_rows()),
                [],
            )
            .map_err(sqlite("searching the latest changes"))?;
        if copied > 0 {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}
