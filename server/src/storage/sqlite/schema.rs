//! The server's SQLite schema and its forward-only migrations, like the device's.
//!
//! The schema is the list of numbered SQL files in `migrations/`; `PRAGMA user_version` says how many
//! have run. Opening the database runs the missing ones in one transaction. A database written by a
//! newer server is refused rather than guessed at.
//!
//! To change the schema: add `migrations/NNN_what.sql` and a line to [`MIGRATIONS`]; never edit a file
//! that has shipped. Add a test below that builds a database at the older version with data in it and
//! checks the data after migrating.

use super::sqlite_error;
use crate::storage::StorageError;
use rusqlite::{Connection, TransactionBehavior};

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

pub fn version(conn: &Connection) -> Result<u32, StorageError> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sqlite_error("reading the schema version"))
}

/// Brings the database up to `target` (normally [`CURRENT_VERSION`]); tests stop at older versions.
pub fn upgrade_to(conn: &mut Connection, target: u32) -> Result<(), StorageError> {
    let found = version(conn)?;
    if found > CURRENT_VERSION {
        return Err(StorageError::NewerSchema { found, supported: CURRENT_VERSION });
    }
    if found >= target {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite_error("starting the schema upgrade"))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().take(target as usize).skip(found as usize) {
        tracing::info!(from = index, to = index + 1, "migrating the server database");
        tx.execute_batch(sql).map_err(sqlite_error("upgrading the schema"))?;
    }
    tx.pragma_update(None, "user_version", target).map_err(sqlite_error("recording the schema version"))?;
    tx.commit().map_err(sqlite_error("committing the schema upgrade"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Tx;
    use crate::storage::sqlite::tx::SqliteTx;
    use quartier_core::sync::protocol::Outcome;

    /// A database made at schema `version`, with `rows` written into it, then upgraded to the current
    /// version: what a server finds after an upgrade.
    fn upgraded_from(version: u32, rows: &str) -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        upgrade_to(&mut conn, version).unwrap();
        conn.execute_batch(rows).unwrap();
        upgrade_to(&mut conn, CURRENT_VERSION).unwrap();
        conn
    }

    #[test]
    fn a_fresh_database_gets_every_migration_and_a_newer_one_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        upgrade_to(&mut conn, CURRENT_VERSION).unwrap();
        assert_eq!(version(&conn).unwrap(), CURRENT_VERSION);
        // Running again changes nothing.
        upgrade_to(&mut conn, CURRENT_VERSION).unwrap();
        assert_eq!(version(&conn).unwrap(), CURRENT_VERSION);

        conn.pragma_update(None, "user_version", CURRENT_VERSION + 1).unwrap();
        let error = upgrade_to(&mut conn, CURRENT_VERSION).unwrap_err();
        assert!(matches!(error, StorageError::NewerSchema { .. }), "{error}");
        assert!(error.to_string().contains("newer quartier-server"), "{error}");
    }

    #[test]
    fn outcomes_recorded_before_stamps_keep_their_answer_and_have_no_stamp() {
        let conn = upgraded_from(
            1,
            "INSERT INTO devices (device_id, person_id, token_hash, created_at, last_seq) VALUES ('d1', 'p1', 'h', 0, 1);
             INSERT INTO outcomes (device_id, seq, neighbourhood_id, outcome) VALUES ('d1', 1, 'n1', '{\"status\":\"applied\"}');",
        );
        let tx = SqliteTx::new(&conn);
        assert_eq!(tx.outcome("d1", 1).unwrap(), Some(Outcome::Applied));
        assert_eq!(tx.outcome_stamp("d1", 1).unwrap(), None);
        tx.record_outcome("d1", 2, "n1", &Outcome::Applied, "stamp-2", 1).unwrap();
        assert_eq!(tx.outcome_stamp("d1", 2).unwrap().as_deref(), Some("stamp-2"));
    }

    /// Migration 4: the answers recorded before it have no time, so they go as soon as their device
    /// says it has stored them; those recorded since stay until they are old enough.
    #[test]
    fn outcomes_from_before_their_times_go_once_their_device_has_stored_them() {
        let conn = upgraded_from(
            3,
            "INSERT INTO devices (device_id, person_id, token_hash, created_at, last_seq) VALUES ('d1', 'p1', 'h', 0, 2);
             INSERT INTO outcomes (device_id, seq, neighbourhood_id, outcome, hlc)
             VALUES ('d1', 1, 'n1', '{\"status\":\"applied\"}', 's1'), ('d1', 2, 'n1', '{\"status\":\"applied\"}', 's2');",
        );
        let tx = SqliteTx::new(&conn);
        tx.record_outcome("d1", 3, "n1", &Outcome::Applied, "s3", 1_000).unwrap();
        assert_eq!(tx.forget_outcomes("d1", 3, 1_000).unwrap(), 2);
        let kept: Vec<_> = (1..=3).map(|seq| tx.outcome("d1", seq).unwrap()).collect();
        assert_eq!(kept, [None, None, Some(Outcome::Applied)]);
        assert_eq!(tx.forget_outcomes("d1", 3, 1_001).unwrap(), 1);
    }

    /// Migration 5: devices from before are on their accounts, and one can be taken off.
    #[test]
    fn devices_from_before_removal_are_in_use_and_can_be_taken_off() {
        let conn = upgraded_from(
            4,
            "INSERT INTO devices (device_id, person_id, token_hash, created_at, last_seq) VALUES ('d1', 'p1', 'h1', 0, 0), ('d2', 'p1', 'h2', 1, 0);",
        );
        let tx = SqliteTx::new(&conn);
        assert_eq!(tx.device_by_token_hash("h1").unwrap().unwrap().removed_at, None);
        assert_eq!(tx.person_devices("p1").unwrap().len(), 2);
        tx.remove_device("d1", 7).unwrap();
        assert_eq!(tx.device_by_token_hash("h1").unwrap().unwrap().removed_at, Some(7));
        let left: Vec<String> = tx.person_devices("p1").unwrap().into_iter().map(|d| d.device_id).collect();
        assert_eq!(left, ["d2"]);
    }

    #[test]
    fn devices_from_before_link_deadlines_have_none_and_a_first_call_lifts_one() {
        use crate::storage::NewDevice;
        let conn = upgraded_from(
            2,
            "INSERT INTO devices (device_id, person_id, token_hash, created_at, last_seq) VALUES ('d1', 'p1', 'h1', 0, 0);",
        );
        let tx = SqliteTx::new(&conn);
        let claim_by = |hash: &str| tx.device_by_token_hash(hash).unwrap().unwrap().claim_by;
        assert_eq!(claim_by("h1"), None);
        let linked = NewDevice {
            device_id: "d2",
            person_id: "p1",
            token_hash: "h2",
            created_at: 5,
            claim_by: Some(900_005),
        };
        tx.insert_device(&linked).unwrap();
        assert_eq!(claim_by("h2"), Some(900_005));
        tx.claim_device("d2").unwrap();
        assert_eq!(claim_by("h2"), None);
    }
}
