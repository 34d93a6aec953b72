//! The server's PostgreSQL schema and its forward-only migrations.
//!
//! The schema is the list of numbered SQL files in `migrations/`. PostgreSQL has no
//! `PRAGMA user_version`: the table `schema_version` holds one row per migration run (its number and
//! when), and the database's version is the highest number. Opening the backend runs the missing
//! migrations in one transaction (PostgreSQL's DDL is transactional: a failed upgrade leaves nothing
//! half done), under an advisory lock, so that several server processes starting at once upgrade the
//! database once. A database written by a newer server is refused rather than guessed at.
//!
//! To change the schema: add `migrations/NNN_what.sql` and a line to [`MIGRATIONS`], never edit a file
//! that has shipped, keep the tables keyed by `neighbourhood_id` first, and make SQLite's schema say
//! the same thing. Add a test (`tests/server/postgresql.rs`) that builds a database at the older
//! version with data in it ([`upgrade_to`]) and checks the data after migrating.

use super::{lock_key, pg_error};
use crate::storage::StorageError;
use postgres::{Client, IsolationLevel, Transaction};

/// The migrations, in order: entry `i` upgrades a database from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_initial.sql"),
    include_str!("migrations/002_outcome_stamps.sql"),
    include_str!("migrations/003_link_deadline.sql"),
    include_str!("migrations/004_outcome_times.sql"),
    include_str!("migrations/005_device_removal.sql"),
];

/// The version a fresh database gets.
pub const CURRENT_VERSION: u32 = MIGRATIONS.len() as u32;

const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)";

fn version(tx: &mut Transaction<'_>) -> Result<u32, StorageError> {
    let row = tx
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .map_err(pg_error("reading the schema version"))?;
    let version: i32 = row.get(0);
    Ok(u32::try_from(version).unwrap_or(0))
}

/// Brings the database up to `target` (normally [`CURRENT_VERSION`]).
pub fn upgrade_to(client: &mut Client, target: u32) -> Result<(), StorageError> {
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .map_err(pg_error("starting the schema upgrade"))?;
    // Another server process may be upgrading the same database: one at a time.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key("schema", "")])
        .map_err(pg_error("locking the schema for its upgrade"))?;
    tx.batch_execute(CREATE_VERSION_TABLE).map_err(pg_error("creating the schema_version table"))?;
    let found = version(&mut tx)?;
    if found > CURRENT_VERSION {
        return Err(StorageError::NewerSchema { found, supported: CURRENT_VERSION });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().take(target as usize).skip(found as usize) {
        tracing::info!(from = index, to = index + 1, "migrating the server database");
        tx.batch_execute(sql).map_err(pg_error("upgrading the schema"))?;
        let reached = i32::try_from(index + 1).unwrap_or(i32::MAX);
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&reached])
            .map_err(pg_error("recording the schema version"))?;
    }
    tx.commit().map_err(pg_error("committing the schema upgrade"))
}
