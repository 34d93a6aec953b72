//! The primitives of [`Tx`] in SQL, over a SQLite transaction.
//!
//! Entities are stored as their JSON (`data`) beside the columns of `storage::index`; every query of
//! live entities says `deleted = 0`. Versions and sequence numbers are SQLite integers (`i64`).
//!
//! To add a primitive: add it to [`Tx`], write it here, and keep the reference behaviour of
//! `MemoryState` (id order, live entities only) where it answers a rule.

use super::sqlite_error;
use crate::storage::index::{EntityIndex, index_of};
use crate::storage::{
    AccountDevice, Device, InvitationRef, NewDevice, Result, StorageError, Tx, kind_of, parse, stored_change,
    to_json,
};
use quartier_core::domain::{Entity, EntityKey, Favour, Loan, Order};
use quartier_core::sync::protocol::{Outcome, StoredChange};
use rusqlite::{Connection, OptionalExtension, Row, params};

pub(super) struct SqliteTx<'c> {
    conn: &'c Connection,
}

impl<'c> SqliteTx<'c> {
    pub(super) fn new(conn: &'c Connection) -> SqliteTx<'c> {
        SqliteTx { conn }
    }

    /// The row `sql` selects, if there is one, read by `read`; `context` says what was being done.
    fn optional_row<T>(
        &self,
        context: &'static str,
        sql: &str,
        params: impl rusqlite::Params,
        read: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.query_row(params, read).optional())
            .map_err(sqlite_error(context))
    }

    /// Reads the entities of `SELECT data …` rows.
    fn entities(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Entity>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(sqlite_error("reading entities"))?;
        let rows = stmt
            .query_map(params, |row| row.get::<_, String>(0))
            .map_err(sqlite_error("reading entities"))?;
        rows.map(|row| parse(&row.map_err(sqlite_error("reading entities"))?)).collect()
    }

    fn changes(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<StoredChange>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(sqlite_error("reading changes"))?;
        let rows = stmt.query_map(params, change_row).map_err(sqlite_error("reading changes"))?;
        rows.map(|row| {
            let (neighbourhood_id, version, kind, id, data) = row.map_err(sqlite_error("reading changes"))?;
            stored_change(neighbourhood_id, from_sql(version), &kind, id, data)
        })
        .collect()
    }
}

type ChangeRow = (String, i64, String, String, Option<String>);

fn change_row(row: &Row<'_>) -> rusqlite::Result<ChangeRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
}

/// Versions and sequence numbers are never negative; SQLite stores them as `i64`.
fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn from_sql(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Changes a reader may see: everything but what is private to two other members.
const VISIBLE: &str = "(reader_a IS NULL OR reader_a = ?3 OR reader_b = ?3)";
const CHANGE_COLUMNS: &str = "neighbourhood_id, version, kind, id, data";

impl Tx for SqliteTx<'_> {
    fn device_exists(&self, device_id: &str) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM devices WHERE device_id = ?")
            .and_then(|mut stmt| stmt.exists([device_id]))
            .map_err(sqlite_error("looking up a device"))
    }

    fn person_exists(&self, person_id: &str) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM devices WHERE person_id = ?")
            .and_then(|mut stmt| stmt.exists([person_id]))
            .map_err(sqlite_error("looking up a person"))
    }

    fn insert_device(&self, d: &NewDevice<'_>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO devices (device_id, person_id, token_hash, created_at, last_seq, claim_by) \
                 VALUES (?, ?, ?, ?, 0, ?)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![d.device_id, d.person_id, d.token_hash, d.created_at, d.claim_by])
            })
            .map_err(sqlite_error("registering a device"))?;
        Ok(())
    }

    fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>> {
        let sql = "SELECT device_id, person_id, claim_by, removed_at FROM devices WHERE token_hash = ?";
        self.optional_row("checking a token", sql, [token_hash], |row| {
            Ok(Device {
                device_id: row.get(0)?,
                person_id: row.get(1)?,
                claim_by: row.get(2)?,
                removed_at: row.get(3)?,
            })
        })
    }

    fn person_devices(&self, person_id: &str) -> Result<Vec<AccountDevice>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT device_id, created_at, claim_by FROM devices WHERE person_id = ? AND removed_at IS NULL \
                 ORDER BY created_at, device_id",
            )
            .map_err(sqlite_error("listing a person's devices"))?;
        let rows = stmt
            .query_map([person_id], |row| {
                Ok(AccountDevice { device_id: row.get(0)?, created_at: row.get(1)?, claim_by: row.get(2)? })
            })
            .map_err(sqlite_error("listing a person's devices"))?;
        rows.collect::<rusqlite::Result<_>>().map_err(sqlite_error("listing a person's devices"))
    }

    fn remove_device(&self, device_id: &str, at: i64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE devices SET removed_at = ? WHERE device_id = ? AND removed_at IS NULL")
            .and_then(|mut stmt| stmt.execute(params![at, device_id]))
            .map_err(sqlite_error("taking a device off its account"))?;
        Ok(())
    }

    fn claim_device(&self, device_id: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE devices SET claim_by = NULL WHERE device_id = ?")
            .and_then(|mut stmt| stmt.execute([device_id]))
            .map_err(sqlite_error("recording a device's first call"))?;
        Ok(())
    }

    fn lock_device(&self, device_id: &str) -> Result<Option<u64>> {
        // The write transaction holds SQLite's only write lock: the device is locked already.
        self.last_seq(device_id)
    }

    fn set_last_seq(&self, device_id: &str, seq: u64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE devices SET last_seq = ? WHERE device_id = ?")
            .and_then(|mut stmt| stmt.execute(params![to_sql(seq), device_id]))
            .map_err(sqlite_error("recording a device's sequence number"))?;
        Ok(())
    }

    fn last_seq(&self, device_id: &str) -> Result<Option<u64>> {
        let sql = "SELECT last_seq FROM devices WHERE device_id = ?";
        let seq =
            self.optional_row("reading a device's sequence number", sql, [device_id], |row| row.get(0))?;
        Ok(seq.map(from_sql))
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
        self.conn
            .prepare_cached(
                "INSERT INTO outcomes (device_id, seq, neighbourhood_id, outcome, hlc, answered_at) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .and_then(|mut stmt| stmt.execute(params![device_id, to_sql(seq), nid, json, hlc, answered_at]))
            .map_err(sqlite_error("recording an outcome"))?;
        Ok(())
    }

    fn forget_outcomes(&self, device_id: &str, up_to: u64, answered_before: i64) -> Result<u64> {
        let sql = "SELECT answered_at IS NULL OR answered_at < ? FROM outcomes WHERE device_id = ? AND seq <= ? \
                   ORDER BY seq LIMIT 1";
        let params = params![answered_before, device_id, to_sql(up_to)];
        if self.optional_row("forgetting outcomes", sql, params, |row| row.get::<_, bool>(0))? != Some(true) {
            return Ok(0);
        }
        let forgotten = self
            .conn
            .prepare_cached(
                "DELETE FROM outcomes WHERE device_id = ? AND seq <= ? \
                 AND (answered_at IS NULL OR answered_at < ?)",
            )
            .and_then(|mut stmt| stmt.execute(params![device_id, to_sql(up_to), answered_before]))
            .map_err(sqlite_error("forgetting outcomes"))?;
        Ok(forgotten as u64)
    }

    fn outcome_stamp(&self, device_id: &str, seq: u64) -> Result<Option<String>> {
        let sql = "SELECT hlc FROM outcomes WHERE device_id = ? AND seq = ?";
        let params = params![device_id, to_sql(seq)];
        let stamp: Option<Option<String>> =
            self.optional_row("reading an outcome's stamp", sql, params, |row| row.get(0))?;
        Ok(stamp.flatten())
    }

    fn outcome(&self, device_id: &str, seq: u64) -> Result<Option<Outcome>> {
        let sql = "SELECT outcome FROM outcomes WHERE device_id = ? AND seq = ?";
        let json: Option<String> =
            self.optional_row("reading an outcome", sql, params![device_id, to_sql(seq)], |row| row.get(0))?;
        json.map(|json| {
            serde_json::from_str(&json)
                .map_err(|e| StorageError::Data { what: "outcome", detail: e.to_string() })
        })
        .transpose()
    }

    fn lock_neighbourhood(&self, nid: &str) -> Result<Option<u64>> {
        // As for devices: the transaction's write lock serialises every writer.
        self.neighbourhood_version(nid)
    }

    fn neighbourhood_version(&self, nid: &str) -> Result<Option<u64>> {
        let sql = "SELECT version FROM neighbourhoods WHERE neighbourhood_id = ?";
        let version = self.optional_row("reading a neighbourhood's version", sql, [nid], |row| row.get(0))?;
        Ok(version.map(from_sql))
    }

    fn set_neighbourhood_version(&self, nid: &str, version: u64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO neighbourhoods (neighbourhood_id, version) VALUES (?1, ?2) \
                 ON CONFLICT (neighbourhood_id) DO UPDATE SET version = excluded.version",
            )
            .and_then(|mut stmt| stmt.execute(params![nid, to_sql(version)]))
            .map_err(sqlite_error("advancing a neighbourhood's version"))?;
        Ok(())
    }

    fn get(&self, key: &EntityKey) -> Result<Option<Entity>> {
        let sql = "SELECT data FROM entities \
                   WHERE neighbourhood_id = ? AND kind = ? AND id = ? AND deleted = 0";
        Ok(self.entities(sql, params![key.neighbourhood_id, key.kind.as_str(), key.id])?.pop())
    }

    fn put(&self, entity: &Entity, version: u64) -> Result<()> {
        let key = entity.key();
        let EntityIndex { status, parent, owner, co_owner, counterpart, readers } = index_of(entity);
        let data = to_json(entity)?;
        let (parent_kind, parent_id) = parent.unzip();
        let (reader_a, reader_b) = readers.map(|[a, b]| (a, b)).unzip();
        self.conn
            .prepare_cached(
                "INSERT INTO entities (neighbourhood_id, kind, id, version, deleted, data, status, \
                     parent_kind, parent_id, owner, co_owner, counterpart, reader_a, reader_b) \
                 VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
                 ON CONFLICT (neighbourhood_id, kind, id) DO UPDATE SET \
                     version = excluded.version, deleted = 0, data = excluded.data, \
                     status = excluded.status, parent_kind = excluded.parent_kind, \
                     parent_id = excluded.parent_id, owner = excluded.owner, \
                     co_owner = excluded.co_owner, counterpart = excluded.counterpart, \
                     reader_a = excluded.reader_a, reader_b = excluded.reader_b",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    key.neighbourhood_id,
                    key.kind.as_str(),
                    key.id,
                    to_sql(version),
                    data,
                    status,
                    parent_kind,
                    parent_id,
                    owner,
                    co_owner,
                    counterpart,
                    reader_a,
                    reader_b,
                ])
            })
            .map_err(sqlite_error("saving an entity"))?;
        Ok(())
    }

    fn delete(&self, key: &EntityKey, version: u64) -> Result<()> {
        // The tombstone keeps its readers (who may learn of the deletion) and nothing else.
        self.conn
            .prepare_cached(
                "UPDATE entities SET version = ?4, deleted = 1, data = NULL, status = NULL, \
                     parent_kind = NULL, parent_id = NULL, owner = NULL, co_owner = NULL, \
                     counterpart = NULL \
                 WHERE neighbourhood_id = ?1 AND kind = ?2 AND id = ?3 AND deleted = 0",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![key.neighbourhood_id, key.kind.as_str(), key.id, to_sql(version)])
            })
            .map_err(sqlite_error("deleting an entity"))?;
        Ok(())
    }

    fn changes_after(&self, nid: &str, after: u64, reader: &str, limit: u32) -> Result<Vec<StoredChange>> {
        let sql = format!(
            "SELECT {CHANGE_COLUMNS} FROM entities \
             WHERE neighbourhood_id = ?1 AND version > ?2 AND {VISIBLE} \
             ORDER BY version, kind, id LIMIT ?4"
        );
        self.changes(&sql, params![nid, to_sql(after), reader, limit])
    }

    fn changes_at(&self, nid: &str, version: u64, reader: &str) -> Result<Vec<StoredChange>> {
        let sql = format!(
            "SELECT {CHANGE_COLUMNS} FROM entities \
             WHERE neighbourhood_id = ?1 AND version = ?2 AND {VISIBLE} ORDER BY kind, id"
        );
        self.changes(&sql, params![nid, to_sql(version), reader])
    }

    fn has_changes_after(&self, nid: &str, after: u64, reader: &str) -> Result<bool> {
        let sql =
            format!("SELECT 1 FROM entities WHERE neighbourhood_id = ?1 AND version > ?2 AND {VISIBLE}");
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut stmt| stmt.exists(params![nid, to_sql(after), reader]))
            .map_err(sqlite_error("reading changes"))
    }

    fn open_loans_of_item(&self, nid: &str, item_id: &str) -> Result<Vec<Loan>> {
        let sql = "SELECT data FROM entities WHERE neighbourhood_id = ? AND kind = 'loan' \
                   AND parent_id = ? AND deleted = 0 \
                   AND status IN ('requested', 'approved', 'handed_over') ORDER BY id";
        Ok(self
            .entities(sql, params![nid, item_id])?
            .into_iter()
            .filter_map(|e| if let Entity::Loan(l) = e { Some(l) } else { None })
            .collect())
    }

    fn open_orders_of_stall(&self, nid: &str, stall_id: &str) -> Result<Vec<Order>> {
        let sql = "SELECT data FROM entities WHERE neighbourhood_id = ? AND kind = 'order' \
                   AND parent_id = ? AND deleted = 0 \
                   AND status IN ('placed', 'confirmed', 'ready') ORDER BY id";
        Ok(self
            .entities(sql, params![nid, stall_id])?
            .into_iter()
            .filter_map(|e| if let Entity::Order(o) = e { Some(o) } else { None })
            .collect())
    }

    fn favours_taken_up_by(&self, nid: &str, member_id: &str) -> Result<Vec<Favour>> {
        let sql = "SELECT data FROM entities WHERE neighbourhood_id = ? AND kind = 'favour' \
                   AND counterpart = ? AND deleted = 0 AND status = 'promised' ORDER BY id";
        Ok(self
            .entities(sql, params![nid, member_id])?
            .into_iter()
            .filter_map(|e| if let Entity::Favour(f) = e { Some(f) } else { None })
            .collect())
    }

    fn keys_of_member(&self, nid: &str, member_id: &str) -> Result<Vec<EntityKey>> {
        // What they own, and the messages in the threads of what they own.
        let sql = "WITH owned (kind, id) AS (
                       SELECT kind, id FROM entities
                       WHERE neighbourhood_id = ?1 AND deleted = 0 AND (owner = ?2 OR co_owner = ?2))
                   SELECT kind, id FROM owned
                   UNION
                   SELECT m.kind, m.id FROM entities m JOIN owned o
                       ON m.parent_kind = o.kind AND m.parent_id = o.id
                   WHERE m.neighbourhood_id = ?1 AND m.kind = 'message' AND m.deleted = 0";
        let mut stmt = self.conn.prepare_cached(sql).map_err(sqlite_error("listing a member's content"))?;
        let rows = stmt
            .query_map(params![nid, member_id], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(sqlite_error("listing a member's content"))?;
        let mut keys = Vec::new();
        for row in rows {
            let (kind, id) = row.map_err(sqlite_error("listing a member's content"))?;
            keys.push(EntityKey::new(nid, kind_of(&kind)?, &id));
        }
        keys.sort();
        Ok(keys)
    }

    fn index_invitation_code(&self, code_hash: &str, nid: &str, invitation_id: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO invitation_codes (code_hash, neighbourhood_id, invitation_id) VALUES (?, ?, ?) \
                 ON CONFLICT (code_hash) DO NOTHING",
            )
            .and_then(|mut stmt| stmt.execute(params![code_hash, nid, invitation_id]))
            .map_err(sqlite_error("filing an invitation code"))?;
        Ok(())
    }

    fn unindex_invitation(&self, nid: &str, invitation_id: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM invitation_codes WHERE neighbourhood_id = ? AND invitation_id = ?")
            .and_then(|mut stmt| stmt.execute(params![nid, invitation_id]))
            .map_err(sqlite_error("forgetting an invitation code"))?;
        Ok(())
    }

    fn invitation_by_code_hash(&self, code_hash: &str) -> Result<Option<InvitationRef>> {
        let sql = "SELECT neighbourhood_id, invitation_id FROM invitation_codes WHERE code_hash = ?";
        self.optional_row("looking up an invitation code", sql, [code_hash], |row| {
            Ok(InvitationRef { neighbourhood_id: row.get(0)?, invitation_id: row.get(1)? })
        })
    }
}
