//! The primitives of [`Tx`] in SQL, over a PostgreSQL transaction.
//!
//! The same statements as SQLite's `tx.rs`, in PostgreSQL's dialect (`$1` parameters, a `BOOLEAN`
//! `deleted`); entities are their JSON (`data`) beside the columns of `storage::index`, and every
//! query of live entities says `NOT deleted`. Versions and sequence numbers are `BIGINT` (`i64`).
//! Statements are prepared once per connection and kept in its cache.
//!
//! Locks are taken in write transactions only (a read transaction is read-only, and one snapshot):
//! `lock_neighbourhood` and `lock_device` as the module `postgres` explains, and `device_exists` and
//! `person_exists` lock the id they check so that registering stays check-then-insert without a race.
//!
//! PostgreSQL's text cannot hold the character NUL, which an id sent by a device may contain: a lookup
//! of such an id finds nothing without asking the database (nothing stored can match it).
//!
//! To add a primitive: add it to [`Tx`], write it here and in SQLite's `tx.rs`, and keep the reference
//! behaviour of `MemoryState` (id order, live entities only) where it answers a rule.

use super::{lock_key, pg_error};
use crate::storage::index::{EntityIndex, index_of};
use crate::storage::{
    AccountDevice, Device, InvitationRef, NewDevice, Result, StorageError, Tx, kind_of, parse, stored_change,
    to_json,
};
use postgres::types::{FromSql, ToSql};
use postgres::{Row, Statement, Transaction};
use quartier_core::domain::{Entity, EntityKey, Favour, Loan, Order};
use quartier_core::sync::protocol::{Outcome, StoredChange};
use std::cell::RefCell;
use std::collections::HashMap;

/// Whether the transaction may write (and so takes locks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Read,
    Write,
}

/// [`Tx`]'s methods take `&self`; the driver's transaction wants `&mut`: hence the `RefCell`s. No
/// method calls another while it holds a borrow.
pub(super) struct PgTx<'c> {
    tx: RefCell<Transaction<'c>>,
    statements: RefCell<&'c mut HashMap<String, Statement>>,
    mode: Mode,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

impl<'c> PgTx<'c> {
    pub(super) fn new(
        tx: Transaction<'c>,
        statements: &'c mut HashMap<String, Statement>,
        mode: Mode,
    ) -> PgTx<'c> {
        PgTx { tx: RefCell::new(tx), statements: RefCell::new(statements), mode }
    }

    pub(super) fn into_transaction(self) -> Transaction<'c> {
        self.tx.into_inner()
    }

    /// The statement for `sql`, prepared on this connection the first time.
    fn statement(&self, sql: &str, context: &'static str) -> Result<Statement> {
        let mut statements = self.statements.borrow_mut();
        if let Some(statement) = statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.borrow_mut().prepare(sql).map_err(pg_error(context))?;
        statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    fn query(&self, sql: &str, params: Params<'_>, context: &'static str) -> Result<Vec<Row>> {
        let statement = self.statement(sql, context)?;
        self.tx.borrow_mut().query(&statement, params).map_err(pg_error(context))
    }

    fn query_opt(&self, sql: &str, params: Params<'_>, context: &'static str) -> Result<Option<Row>> {
        let statement = self.statement(sql, context)?;
        self.tx.borrow_mut().query_opt(&statement, params).map_err(pg_error(context))
    }

    fn execute(&self, sql: &str, params: Params<'_>, context: &'static str) -> Result<u64> {
        let statement = self.statement(sql, context)?;
        self.tx.borrow_mut().execute(&statement, params).map_err(pg_error(context))
    }

    /// Takes the advisory lock of an id until the transaction ends; nothing in a read transaction.
    fn lock(&self, kind: &str, id: &str) -> Result<()> {
        if self.mode == Mode::Write {
            self.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key(kind, id)], "taking a lock")?;
        }
        Ok(())
    }

    fn exists(&self, sql: &str, params: Params<'_>, context: &'static str) -> Result<bool> {
        Ok(self.query_opt(sql, params, context)?.is_some())
    }

    /// Reads the entities of `SELECT data …` rows.
    fn entities(&self, sql: &str, params: Params<'_>) -> Result<Vec<Entity>> {
        self.query(sql, params, "reading entities")?
            .iter()
            .map(|row| parse(&column::<String>(row, 0, "entity")?))
            .collect()
    }

    fn changes(&self, sql: &str, params: Params<'_>) -> Result<Vec<StoredChange>> {
        self.query(sql, params, "reading changes")?
            .iter()
            .map(|row| {
                let version: i64 = column(row, 1, "change")?;
                let kind: String = column(row, 2, "change")?;
                stored_change(
                    column(row, 0, "change")?,
                    from_sql(version),
                    &kind,
                    column(row, 3, "change")?,
                    column(row, 4, "change")?,
                )
            })
            .collect()
    }
}

/// Whether these values can be in the database at all (PostgreSQL's text holds no NUL).
fn storable(values: &[&str]) -> bool {
    values.iter().all(|value| !value.contains('\0'))
}

fn column<'r, T: FromSql<'r>>(row: &'r Row, index: usize, what: &'static str) -> Result<T> {
    row.try_get(index).map_err(|e| StorageError::Data { what, detail: e.to_string() })
}

/// Versions and sequence numbers are never negative; PostgreSQL stores them as `BIGINT`.
fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn from_sql(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Changes a reader may see: everything but what is private to two other members.
const VISIBLE: &str = "(reader_a IS NULL OR reader_a = $3 OR reader_b = $3)";
const CHANGE_COLUMNS: &str = "neighbourhood_id, version, kind, id, data";

impl Tx for PgTx<'_> {
    fn device_exists(&self, device_id: &str) -> Result<bool> {
        self.lock("device", device_id)?;
        if !storable(&[device_id]) {
            return Ok(false);
        }
        self.exists("SELECT 1 FROM devices WHERE device_id = $1", &[&device_id], "looking up a device")
    }

    fn person_exists(&self, person_id: &str) -> Result<bool> {
        self.lock("person", person_id)?;
        if !storable(&[person_id]) {
            return Ok(false);
        }
        self.exists(
            "SELECT 1 FROM devices WHERE person_id = $1 LIMIT 1",
            &[&person_id],
            "looking up a person",
        )
    }

    fn insert_device(&self, d: &NewDevice<'_>) -> Result<()> {
        self.execute(
            "INSERT INTO devices (device_id, person_id, token_hash, created_at, last_seq, claim_by) \
             VALUES ($1, $2, $3, $4, 0, $5)",
            &[&d.device_id, &d.person_id, &d.token_hash, &d.created_at, &d.claim_by],
            "registering a device",
        )?;
        Ok(())
    }

    fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>> {
        if !storable(&[token_hash]) {
            return Ok(None);
        }
        let row = self.query_opt(
            "SELECT device_id, person_id, claim_by, removed_at FROM devices WHERE token_hash = $1",
            &[&token_hash],
            "checking a token",
        )?;
        row.map(|row| {
            Ok(Device {
                device_id: column(&row, 0, "device")?,
                person_id: column(&row, 1, "device")?,
                claim_by: column(&row, 2, "device")?,
                removed_at: column(&row, 3, "device")?,
            })
        })
        .transpose()
    }

    fn person_devices(&self, person_id: &str) -> Result<Vec<AccountDevice>> {
        self.lock("person", person_id)?;
        if !storable(&[person_id]) {
            return Ok(Vec::new());
        }
        let rows = self.query(
            "SELECT device_id, created_at, claim_by FROM devices WHERE person_id = $1 AND removed_at IS NULL \
             ORDER BY created_at, device_id COLLATE \"C\"",
            &[&person_id],
            "listing a person's devices",
        )?;
        rows.iter()
            .map(|row| {
                Ok(AccountDevice {
                    device_id: column(row, 0, "device")?,
                    created_at: column(row, 1, "device")?,
                    claim_by: column(row, 2, "device")?,
                })
            })
            .collect()
    }

    fn remove_device(&self, device_id: &str, at: i64) -> Result<()> {
        self.execute(
            "UPDATE devices SET removed_at = $1 WHERE device_id = $2 AND removed_at IS NULL",
            &[&at, &device_id],
            "taking a device off its account",
        )?;
        Ok(())
    }

    fn claim_device(&self, device_id: &str) -> Result<()> {
        self.execute(
            "UPDATE devices SET claim_by = NULL WHERE device_id = $1",
            &[&device_id],
            "recording a device's first call",
        )?;
        Ok(())
    }

    fn lock_device(&self, device_id: &str) -> Result<Option<u64>> {
        if !storable(&[device_id]) {
            return Ok(None);
        }
        let sql = match self.mode {
            Mode::Write => "SELECT last_seq FROM devices WHERE device_id = $1 FOR UPDATE",
            Mode::Read => "SELECT last_seq FROM devices WHERE device_id = $1",
        };
        let row = self.query_opt(sql, &[&device_id], "reading a device's sequence number")?;
        row.map(|row| column::<i64>(&row, 0, "sequence number").map(from_sql)).transpose()
    }

    fn set_last_seq(&self, device_id: &str, seq: u64) -> Result<()> {
        self.execute(
            "UPDATE devices SET last_seq = $1 WHERE device_id = $2",
            &[&to_sql(seq), &device_id],
            "recording a device's sequence number",
        )?;
        Ok(())
    }

    fn last_seq(&self, device_id: &str) -> Result<Option<u64>> {
        if !storable(&[device_id]) {
            return Ok(None);
        }
        let sql = "SELECT last_seq FROM devices WHERE device_id = $1";
        let row = self.query_opt(sql, &[&device_id], "reading a device's sequence number")?;
        row.map(|row| column::<i64>(&row, 0, "sequence number").map(from_sql)).transpose()
    }

    fn record_outcome(
        &self,
        device_id: &str,
        seq: u64,
        nid: &str,
        outcome: &Outcome,
        hlc: &str,
        answered_at: i64,
    ) -> Result<()> {
        let json = serde_json::to_string(outcome)
            .map_err(|e| StorageError::Data { what: "outcome", detail: e.to_string() })?;
        // The neighbourhood is recorded for the people who read the table, never read back: a NUL in
        // it (a mutation for a neighbourhood that cannot exist) is written as U+FFFD.
        let nid = nid.replace('\0', "\u{fffd}");
        self.execute(
            "INSERT INTO outcomes (device_id, seq, neighbourhood_id, outcome, hlc, answered_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&device_id, &to_sql(seq), &nid, &json, &hlc, &answered_at],
            "recording an outcome",
        )?;
        Ok(())
    }

    fn forget_outcomes(&self, device_id: &str, up_to: u64, answered_before: i64) -> Result<u64> {
        if !storable(&[device_id]) {
            return Ok(0);
        }
        let oldest = self.query_opt(
            "SELECT answered_at IS NULL OR answered_at < $3 FROM outcomes WHERE device_id = $1 AND seq <= $2 \
             ORDER BY seq LIMIT 1",
            &[&device_id, &to_sql(up_to), &answered_before],
            "forgetting outcomes",
        )?;
        if !oldest.map(|row| column::<bool>(&row, 0, "answered_at")).transpose()?.unwrap_or(false) {
            return Ok(0);
        }
        self.execute(
            "DELETE FROM outcomes WHERE device_id = $1 AND seq <= $2 AND (answered_at IS NULL OR answered_at < $3)",
            &[&device_id, &to_sql(up_to), &answered_before],
            "forgetting outcomes",
        )
    }

    fn outcome_stamp(&self, device_id: &str, seq: u64) -> Result<Option<String>> {
        if !storable(&[device_id]) {
            return Ok(None);
        }
        let row = self.query_opt(
            "SELECT hlc FROM outcomes WHERE device_id = $1 AND seq = $2",
            &[&device_id, &to_sql(seq)],
            "reading an outcome's stamp",
        )?;
        row.map(|row| column::<Option<String>>(&row, 0, "hlc")).transpose().map(Option::flatten)
    }

    fn outcome(&self, device_id: &str, seq: u64) -> Result<Option<Outcome>> {
        if !storable(&[device_id]) {
            return Ok(None);
        }
        let row = self.query_opt(
            "SELECT outcome FROM outcomes WHERE device_id = $1 AND seq = $2",
            &[&device_id, &to_sql(seq)],
            "reading an outcome",
        )?;
        row.map(|row| {
            let json: String = column(&row, 0, "outcome")?;
            serde_json::from_str(&json)
                .map_err(|e| StorageError::Data { what: "outcome", detail: e.to_string() })
        })
        .transpose()
    }

    fn lock_neighbourhood(&self, nid: &str) -> Result<Option<u64>> {
        if self.mode == Mode::Read {
            return self.neighbourhood_version(nid);
        }
        // The advisory lock covers a neighbourhood that does not exist yet; the row lock is the one
        // any other writer of the row meets. Both are held until the transaction ends.
        self.lock("neighbourhood", nid)?;
        if !storable(&[nid]) {
            return Ok(None);
        }
        let row = self.query_opt(
            "SELECT version FROM neighbourhoods WHERE neighbourhood_id = $1 FOR UPDATE",
            &[&nid],
            "locking a neighbourhood",
        )?;
        row.map(|row| column::<i64>(&row, 0, "version").map(from_sql)).transpose()
    }

    fn neighbourhood_version(&self, nid: &str) -> Result<Option<u64>> {
        if !storable(&[nid]) {
            return Ok(None);
        }
        let row = self.query_opt(
            "SELECT version FROM neighbourhoods WHERE neighbourhood_id = $1",
            &[&nid],
            "reading a neighbourhood's version",
        )?;
        row.map(|row| column::<i64>(&row, 0, "version").map(from_sql)).transpose()
    }

    fn set_neighbourhood_version(&self, nid: &str, version: u64) -> Result<()> {
        self.execute(
            "INSERT INTO neighbourhoods (neighbourhood_id, version) VALUES ($1, $2) \
             ON CONFLICT (neighbourhood_id) DO UPDATE SET version = EXCLUDED.version",
            &[&nid, &to_sql(version)],
            "advancing a neighbourhood's version",
        )?;
        Ok(())
    }

    fn get(&self, key: &EntityKey) -> Result<Option<Entity>> {
        if !storable(&[&key.neighbourhood_id, &key.id]) {
            return Ok(None);
        }
        let sql = "SELECT data FROM entities \
                   WHERE neighbourhood_id = $1 AND kind = $2 AND id = $3 AND NOT deleted";
        Ok(self.entities(sql, &[&key.neighbourhood_id, &key.kind.as_str(), &key.id])?.pop())
    }

    fn put(&self, entity: &Entity, version: u64) -> Result<()> {
        let key = entity.key();
        let EntityIndex { status, parent, owner, co_owner, counterpart, readers } = index_of(entity);
        let data = to_json(entity)?;
        let (parent_kind, parent_id) = parent.unzip();
        let (reader_a, reader_b) = readers.map(|[a, b]| (a, b)).unzip();
        self.execute(
            "INSERT INTO entities (neighbourhood_id, kind, id, version, deleted, data, status, \
                 parent_kind, parent_id, owner, co_owner, counterpart, reader_a, reader_b) \
             VALUES ($1, $2, $3, $4, FALSE, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (neighbourhood_id, kind, id) DO UPDATE SET \
                 version = EXCLUDED.version, deleted = FALSE, data = EXCLUDED.data, \
                 status = EXCLUDED.status, parent_kind = EXCLUDED.parent_kind, \
                 parent_id = EXCLUDED.parent_id, owner = EXCLUDED.owner, \
                 co_owner = EXCLUDED.co_owner, counterpart = EXCLUDED.counterpart, \
                 reader_a = EXCLUDED.reader_a, reader_b = EXCLUDED.reader_b",
            &[
                &key.neighbourhood_id,
                &key.kind.as_str(),
                &key.id,
                &to_sql(version),
                &data,
                &status,
                &parent_kind,
                &parent_id,
                &owner,
                &co_owner,
                &counterpart,
                &reader_a,
                &reader_b,
            ],
            "saving an entity",
        )?;
        Ok(())
    }

    fn delete(&self, key: &EntityKey, version: u64) -> Result<()> {
        if !storable(&[&key.neighbourhood_id, &key.id]) {
            return Ok(());
        }
        // The tombstone keeps its readers (who may learn of the deletion) and nothing else.
        self.execute(
            "UPDATE entities SET version = $4, deleted = TRUE, data = NULL, status = NULL, \
                 parent_kind = NULL, parent_id = NULL, owner = NULL, co_owner = NULL, \
                 counterpart = NULL \
             WHERE neighbourhood_id = $1 AND kind = $2 AND id = $3 AND NOT deleted",
            &[&key.neighbourhood_id, &key.kind.as_str(), &key.id, &to_sql(version)],
            "deleting an entity",
        )?;
        Ok(())
    }

    fn changes_after(&self, nid: &str, after: u64, reader: &str, limit: u32) -> Result<Vec<StoredChange>> {
        if !storable(&[nid, reader]) {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {CHANGE_COLUMNS} FROM entities \
             WHERE neighbourhood_id = $1 AND version > $2 AND {VISIBLE} \
             ORDER BY version, kind, id LIMIT $4"
        );
        self.changes(&sql, &[&nid, &to_sql(after), &reader, &i64::from(limit)])
    }

    fn changes_at(&self, nid: &str, version: u64, reader: &str) -> Result<Vec<StoredChange>> {
        if !storable(&[nid, reader]) {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {CHANGE_COLUMNS} FROM entities \
             WHERE neighbourhood_id = $1 AND version = $2 AND {VISIBLE} ORDER BY kind, id"
        );
        self.changes(&sql, &[&nid, &to_sql(version), &reader])
    }

    fn has_changes_after(&self, nid: &str, after: u64, reader: &str) -> Result<bool> {
        if !storable(&[nid, reader]) {
            return Ok(false);
        }
        let sql = format!(
            "SELECT 1 FROM entities WHERE neighbourhood_id = $1 AND version > $2 AND {VISIBLE} LIMIT 1"
        );
        self.exists(&sql, &[&nid, &to_sql(after), &reader], "reading changes")
    }

    fn open_loans_of_item(&self, nid: &str, item_id: &str) -> Result<Vec<Loan>> {
        if !storable(&[nid, item_id]) {
            return Ok(Vec::new());
        }
        let sql = "SELECT data FROM entities WHERE neighbourhood_id = $1 AND kind = 'loan' \
                   AND parent_id = $2 AND NOT deleted \
                   AND status IN ('requested', 'approved', 'handed_over') ORDER BY id";
        Ok(self
            .entities(sql, &[&nid, &item_id])?
            .into_iter()
            .filter_map(|e| if let Entity::Loan(l) = e { Some(l) } else { None })
            .collect())
    }

    fn open_orders_of_stall(&self, nid: &str, stall_id: &str) -> Result<Vec<Order>> {
        if !storable(&[nid, stall_id]) {
            return Ok(Vec::new());
        }
        let sql = "SELECT data FROM entities WHERE neighbourhood_id = $1 AND kind = 'order' \
                   AND parent_id = $2 AND NOT deleted \
                   AND status IN ('placed', 'confirmed', 'ready') ORDER BY id";
        Ok(self
            .entities(sql, &[&nid, &stall_id])?
            .into_iter()
            .filter_map(|e| if let Entity::Order(o) = e { Some(o) } else { None })
            .collect())
    }

    fn favours_taken_up_by(&self, nid: &str, member_id: &str) -> Result<Vec<Favour>> {
        if !storable(&[nid, member_id]) {
            return Ok(Vec::new());
        }
        let sql = "SELECT data FROM entities WHERE neighbourhood_id = $1 AND kind = 'favour' \
                   AND counterpart = $2 AND NOT deleted AND status = 'promised' ORDER BY id";
        Ok(self
            .entities(sql, &[&nid, &member_id])?
            .into_iter()
            .filter_map(|e| if let Entity::Favour(f) = e { Some(f) } else { None })
            .collect())
    }

    fn keys_of_member(&self, nid: &str, member_id: &str) -> Result<Vec<EntityKey>> {
        if !storable(&[nid, member_id]) {
            return Ok(Vec::new());
        }
        // What they own, and the messages in the threads of what they own.
        let sql = "WITH owned (kind, id) AS (
                       SELECT kind, id FROM entities
                       WHERE neighbourhood_id = $1 AND NOT deleted AND (owner = $2 OR co_owner = $2))
                   SELECT kind, id FROM owned
                   UNION
                   SELECT m.kind, m.id FROM entities m JOIN owned o
                       ON m.parent_kind = o.kind AND m.parent_id = o.id
                   WHERE m.neighbourhood_id = $1 AND m.kind = 'message' AND NOT m.deleted";
        let mut keys = Vec::new();
        for row in self.query(sql, &[&nid, &member_id], "listing a member's content")? {
            let kind: String = column(&row, 0, "entity kind")?;
            let id: String = column(&row, 1, "entity id")?;
            keys.push(EntityKey::new(nid, kind_of(&kind)?, &id));
        }
        keys.sort();
        Ok(keys)
    }

    fn index_invitation_code(&self, code_hash: &str, nid: &str, invitation_id: &str) -> Result<()> {
        self.execute(
            "INSERT INTO invitation_codes (code_hash, neighbourhood_id, invitation_id) VALUES ($1, $2, $3) \
             ON CONFLICT (code_hash) DO NOTHING",
            &[&code_hash, &nid, &invitation_id],
            "filing an invitation code",
        )?;
        Ok(())
    }

    fn unindex_invitation(&self, nid: &str, invitation_id: &str) -> Result<()> {
        if !storable(&[nid, invitation_id]) {
            return Ok(());
        }
        self.execute(
            "DELETE FROM invitation_codes WHERE neighbourhood_id = $1 AND invitation_id = $2",
            &[&nid, &invitation_id],
            "forgetting an invitation code",
        )?;
        Ok(())
    }

    fn invitation_by_code_hash(&self, code_hash: &str) -> Result<Option<InvitationRef>> {
        if !storable(&[code_hash]) {
            return Ok(None);
        }
        let row = self.query_opt(
            "SELECT neighbourhood_id, invitation_id FROM invitation_codes WHERE code_hash = $1",
            &[&code_hash],
            "looking up an invitation code",
        )?;
        row.map(|row| {
            Ok(InvitationRef {
                neighbourhood_id: column(&row, 0, "invitation code")?,
                invitation_id: column(&row, 1, "invitation code")?,
            })
        })
        .transpose()
    }
}
