//! The device's schema and its forward-only migrations.
//!
//! The schema is the list of numbered SQL files in `migrations/`; `PRAGMA user_version` says how many
//! have run. Opening a database runs the missing ones in one transaction, so a database is always at a
//! version it was released with. An empty database gets `schema.sql` instead, what they all make
//! together, in one step: running every migration (tables made, then dropped and made again) was most
//! of a first open. A database written by a newer Quartier is refused rather than guessed at.
//!
//! To change the schema: add `migrations/NNN_what.sql` and a line to [`MIGRATIONS`], and make the same
//! change to `schema.sql`. Never edit a migration that has shipped; `tests/store_migrations.rs` builds a
//! database at every older version, with data in it, and checks that migrating it gives the data back
//! and the same schema, to the letter, as a fresh database.

use super::error::StoreError;
use rusqlite::{Connection, TransactionBehavior};

/// The migrations, in order: entry `i` upgrades a database from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_initial.sql"),
    include_str!("migrations/002_inbox.sql"),
    include_str!("migrations/003_read_indexes.sql"),
    include_str!("migrations/004_sync.sql"),
    include_str!("migrations/005_settled.sql"),
    include_str!("migrations/006_answered.sql"),
    include_str!("migrations/007_search_merges.sql"),
    include_str!("migrations/008_search_keys.sql"),
    include_str!("migrations/009_search_rows.sql"),
    include_str!("migrations/010_confirmed_copies.sql"),
    include_str!("migrations/011_neighbourhood_numbers.sql"),
    include_str!("migrations/012_counterpart_index.sql"),
];

/// The version a fresh database gets.
pub const CURRENT_VERSION: u32 = MIGRATIONS.len() as u32;

/// What every migration makes together, in one step, for an empty database (`schema.sql`; a test checks
/// that the two agree).
const FRESH: &str = include_str!("schema.sql");

pub fn version(conn: &Connection) -> Result<u32, StoreError> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(StoreError::sqlite("reading the schema version"))
}

/// Brings the database up to `target` (normally [`CURRENT_VERSION`]); tests stop at older versions.
pub fn upgrade_to(conn: &mut Connection, target: u32) -> Result<(), StoreError> {
    let found = version(conn)?;
    if found > CURRENT_VERSION {
        return Err(StoreError::NewerSchema { found, supported: CURRENT_VERSION });
    }
    if found >= target {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StoreError::sqlite("starting the schema upgrade"))?;
    if found == 0 && target == CURRENT_VERSION {
        tx.execute_batch(FRESH).map_err(StoreError::sqlite("creating the schema"))?;
    } else {
        for (index, sql) in MIGRATIONS.iter().enumerate().take(target as usize).skip(found as usize) {
            tracing::info!(from = index, to = index + 1, "migrating the local database");
            tx.execute_batch(sql).map_err(StoreError::sqlite("upgrading the schema"))?;
        }
    }
    tx.pragma_update(None, "user_version", target)
        .map_err(StoreError::sqlite("recording the schema version"))?;
    tx.commit().map_err(StoreError::sqlite("committing the schema upgrade"))
}
