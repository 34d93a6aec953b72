//! The device's side of sync, in the store: the outbox as the sync client sees it, the confirmed state
//! pulled from the server, and the rebase that puts the pending mutations back on top of it.
//!
//! - The replica is the confirmed state of every entity no pending or settling mutation has written.
//!   For the others the confirmed state is kept apart, in `confirmed` (migration 010): a local
//!   mutation copies an entity's row there before it first writes it ([`keep_confirmed`]; a row with
//!   no data when the server has no such entity), pulls keep those copies up to date, and they are
//!   dropped once no mutation holds their entity ([`drop_settled_copies`]). Keeping every pulled
//!   entity twice made a pull write each one twice.
//!
//! - [`Store::pending`] gives the oldest mutations to push; [`Store::acknowledge`] takes the server's
//!   answers: applied ones leave the outbox; rejected ones leave it for the `rejected` table (the inbox
//!   shows them with their reason) and their local effects are rolled back by a rebase.
//! - [`Store::apply_pulled`] stores a page of confirmed changes and the cursor in one transaction, so an
//!   interrupted pull resumes where it stopped. Entities no pending mutation touched are written to the
//!   replica at once; the others wait for the rebase at the end of the pull, in `confirmed`.
//! - Entities written by mutations the server has applied are reset to the confirmed state at the end of
//!   the next pull (`settling`): the server may have settled them otherwise than the device guessed.
//!   Until then those mutations are kept (`settled`): a rollback before that pull replays them first, so
//!   that each keeps all its effects together.
//! - The rebase resets every entity a pending mutation touched to its confirmed copy, then replays the
//!   pending mutations in order with the same rules. A mutation the rules now refuse stays pending with no
//!   local effect: the server has the last word, and its answer reaches the person either way. Both
//!   happen in memory over the replica (`overlay.rs`): only the entities that come out different from
//!   their rows are written.
//! - A pending mutation may already be in the confirmed state: the server applied it but its answer was
//!   lost on the way. Replaying it would count it twice (a restock of 5 showing 10). So the last page
//!   of a pull says up to which of this device's numbers the server had answered (`answered_seq`, read
//!   with the page); the pending mutations of that neighbourhood numbered up to it are marked
//!   `answered` and no rebase replays them again. They stay in the outbox until pushed again: the
//!   server answers them again from what it recorded, and they leave it as usual (an applied one needs
//!   no `settled` row: its effects are pulled already). Pending mutations of other neighbourhoods, and
//!   those numbered after `answered_seq`, are replayed as before. Likewise only the `settled`
//!   mutations numbered up to `answered_seq` are in the state pulled; later ones (answered to another
//!   client of this store after the pull was read) are kept for the next pull.

use super::error::{Result, StoreError};
use super::overlay::Overlay;
use super::rows::{self, IN_NEIGHBOURHOOD};
use super::{Store, large_pull};
use crate::domain::{self, Effect, Entity, EntityKey, EntityKind, Hlc, Mutation};
use crate::sync::protocol::{MutationResult, Outcome, PullResponse};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeSet;

/// A mutation the server refused, as the inbox shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    pub seq: u64,
    pub name: String,
    pub code: String,
    pub message: String,
}

/// What an acknowledgement did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AckReport {
    pub applied: usize,
    pub rejected: Vec<Rejected>,
}

fn seq_sql(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// Appends a mutation to the outbox with the keys it wrote (called by `Store::mutate`).
pub(super) fn append_to_outbox(conn: &Connection, m: &Mutation, effects: &[Effect], now: i64) -> Result<()> {
    let json = serde_json::to_string(m).map_err(StoreError::data("mutation"))?;
    let touched: BTreeSet<EntityKey> = effects.iter().map(Effect::key).collect();
    let touched = serde_json::to_string(&touched).map_err(StoreError::data("outbox keys"))?;
    conn.prepare_cached(
        "INSERT INTO outbox (seq, neighbourhood_id, name, hlc, mutation, created_at, touched) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![seq_sql(m.seq), m.neighbourhood_id, m.op.name(), m.hlc.to_string(), json, now, touched])
    })
    .map_err(StoreError::sqlite("adding to the outbox"))?;
    Ok(())
}

/// The keys every pending mutation touched.
fn pending_keys(conn: &Connection) -> Result<BTreeSet<EntityKey>> {
    let mut stmt = conn
        .prepare_cached("SELECT touched FROM outbox")
        .map_err(StoreError::sqlite("reading the outbox"))?;
    let rows = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(StoreError::sqlite("reading the outbox"))?;
    let mut keys = BTreeSet::new();
    for row in rows {
        let text = row.map_err(StoreError::sqlite("reading the outbox"))?;
        let touched: Vec<EntityKey> = serde_json::from_str(&text).map_err(StoreError::data("outbox keys"))?;
        keys.extend(touched);
    }
    Ok(keys)
}

/// Whether any pending mutation has an effect on the replica.
fn holds_keys(conn: &Connection) -> Result<bool> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox WHERE touched != '[]')")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(StoreError::sqlite("reading the outbox"))
}

/// The mutations the server applied whose confirmed state has not been pulled yet, oldest first.
fn settled_mutations(conn: &Connection) -> Result<Vec<Mutation>> {
    let mut stmt = conn
        .prepare_cached("SELECT mutation FROM settled ORDER BY seq")
        .map_err(StoreError::sqlite("reading the sync state"))?;
    let rows = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(StoreError::sqlite("reading the sync state"))?;
    let mut mutations = Vec::new();
    for row in rows {
        let json = row.map_err(StoreError::sqlite("reading the sync state"))?;
        mutations.push(serde_json::from_str(&json).map_err(StoreError::data("settled mutation"))?);
    }
    Ok(mutations)
}

/// The entities of every neighbourhood written by mutations the server applied since the last pull.
fn all_settling_keys(conn: &Connection) -> Result<BTreeSet<EntityKey>> {
    let mut stmt = conn
        .prepare_cached("SELECT neighbourhood_id, kind, id FROM settling")
        .map_err(StoreError::sqlite("reading the sync state"))?;
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?))
        })
        .map_err(StoreError::sqlite("reading the sync state"))?;
    let mut keys = BTreeSet::new();
    for row in rows {
        let (nid, kind, id) = row.map_err(StoreError::sqlite("reading the sync state"))?;
        if let Some(kind) = EntityKind::parse(&kind) {
            keys.insert(EntityKey::new(&nid, kind, &id));
        }
    }
    Ok(keys)
}

/// The entities of a neighbourhood written by mutations the server applied since the last pull.
fn settling_keys(conn: &Connection, neighbourhood_id: &str) -> Result<BTreeSet<EntityKey>> {
    let mut keys = BTreeSet::new();
    for_kind_and_id(
        conn,
        "SELECT kind, id FROM settling WHERE neighbourhood_id = ?",
        neighbourhood_id,
        |kind, id| {
            keys.insert(EntityKey::new(neighbourhood_id, kind, &id));
        },
    )?;
    Ok(keys)
}

/// Runs `each` on every row of `sql` (a kind and an id, for a neighbourhood).
fn for_kind_and_id(
    conn: &Connection,
    sql: &str,
    neighbourhood_id: &str,
    mut each: impl FnMut(EntityKind, String),
) -> Result<()> {
    let mut stmt = conn.prepare_cached(sql).map_err(StoreError::sqlite("reading the sync state"))?;
    let rows = stmt
        .query_map([neighbourhood_id], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
        .map_err(StoreError::sqlite("reading the sync state"))?;
    for row in rows {
        let (kind, id) = row.map_err(StoreError::sqlite("reading the sync state"))?;
        if let Some(kind) = EntityKind::parse(&kind) {
            each(kind, id);
        }
    }
    Ok(())
}

/// The entities of a neighbourhood whose confirmed state is kept apart (see [`keep_confirmed`]), as
/// a pull looks them up once for each change of a page: by id (in order), then by kind (bit
/// `kind as u32`).
struct KeptApart(Vec<(String, u32)>);

impl KeptApart {
    fn read(conn: &Connection, neighbourhood_id: &str) -> Result<KeptApart> {
        let mut ids: Vec<(String, u32)> = Vec::new();
        // SQLite orders text as Rust does (byte by byte).
        let sql = "SELECT kind, id FROM confirmed WHERE neighbourhood_id = ? ORDER BY id";
        for_kind_and_id(conn, sql, neighbourhood_id, |kind, id| match ids.last_mut() {
            Some((last, kinds)) if *last == id => *kinds |= 1 << (kind as u32),
            _ => ids.push((id, 1 << (kind as u32))),
        })?;
        Ok(KeptApart(ids))
    }

    /// Whether the entity's confirmed state is kept apart (`key` is of the neighbourhood read).
    fn contains(&self, key: &EntityKey) -> bool {
        self.0
            .binary_search_by(|(id, _)| id.as_str().cmp(key.id.as_str()))
            .is_ok_and(|at| self.0[at].1 & (1 << (key.kind as u32)) != 0)
    }
}

/// The confirmed state kept apart for an entity: `None` if none is (the replica holds it), `Some(None)`
/// if the server has no such entity.
fn confirmed_copy(conn: &Connection, key: &EntityKey) -> Result<Option<Option<Entity>>> {
    let data: Option<Option<String>> = conn
        .prepare_cached("SELECT data FROM confirmed WHERE neighbourhood_id = ? AND kind = ? AND id = ?")
        .and_then(|mut stmt| {
            stmt.query_row(params![key.neighbourhood_id, key.kind.as_str(), key.id], |row| row.get(0))
                .optional()
        })
        .map_err(StoreError::sqlite("reading the confirmed state"))?;
    data.map(|d| d.map(|d| rows::parse(&d)).transpose()).transpose()
}

/// Called before a mutation's effects are written, when it is made and when it is replayed: sets
/// aside the confirmed state of each entity they write, unless it is set aside already. Until then the
/// replica holds it (a copy with no data when the replica has no such entity: the server has none).
pub(super) fn keep_confirmed(conn: &Connection, effects: &[Effect]) -> Result<()> {
    for key in effects.iter().map(Effect::key) {
        let sql = format!(
            "INSERT OR IGNORE INTO confirmed (neighbourhood_id, kind, id, data) \
             VALUES (?1, ?2, ?3, (SELECT data FROM {} \
                 WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) AND id = ?3))",
            rows::table_of(key.kind)
        );
        conn.prepare_cached(&sql)
            .and_then(|mut stmt| stmt.execute(params![key.neighbourhood_id, key.kind.as_str(), key.id]))
            .map_err(StoreError::sqlite("keeping the confirmed state"))?;
    }
    Ok(())
}

/// Drops the confirmed copies of entities no pending or settling mutation holds any more: the replica
/// is their confirmed state again (the rebase has just reset them to it).
fn drop_settled_copies(conn: &Connection) -> Result<()> {
    let mut held = pending_keys(conn)?;
    held.extend(all_settling_keys(conn)?);
    let kept: Vec<(String, String, String)> = {
        let mut stmt = conn
            .prepare_cached("SELECT neighbourhood_id, kind, id FROM confirmed")
            .map_err(StoreError::sqlite("reading the confirmed state"))?;
        let rows = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .map_err(StoreError::sqlite("reading the confirmed state"))?;
        rows.collect::<Result<_, _>>().map_err(StoreError::sqlite("reading the confirmed state"))?
    };
    for (nid, kind, id) in kept {
        let still_held =
            EntityKind::parse(&kind).is_some_and(|k| held.contains(&EntityKey::new(&nid, k, &id)));
        if !still_held {
            conn.prepare_cached("DELETE FROM confirmed WHERE neighbourhood_id = ? AND kind = ? AND id = ?")
                .and_then(|mut stmt| stmt.execute(params![nid, kind, id]))
                .map_err(StoreError::sqlite("updating the confirmed state"))?;
        }
    }
    Ok(())
}

/// Resets the given entities to their confirmed state, then replays every pending mutation in order.
/// Returns the kinds whose rows changed. An entity with no confirmed copy set aside is in its confirmed
/// state already (see [`keep_confirmed`]). Both happen in an [`Overlay`]: an entity the replay brings
/// back to what its row holds is not written at all.
fn rebase(conn: &rows::Writer<'_>, mut keys: BTreeSet<EntityKey>, now: i64) -> Result<BTreeSet<EntityKind>> {
    keys.extend(pending_keys(conn)?);
    // Mutations applied by the server but not pulled yet are replayed first, on every entity they wrote.
    let settled = settled_mutations(conn)?;
    if !settled.is_empty() {
        keys.extend(all_settling_keys(conn)?);
    }
    let overlay = Overlay::new(conn);
    for key in keys {
        if let Some(confirmed) = confirmed_copy(conn, &key)? {
            overlay.set(key, confirmed);
        }
    }
    let pending: Vec<(i64, String, bool, String)> = {
        let mut stmt = conn
            .prepare_cached("SELECT seq, mutation, answered, touched FROM outbox ORDER BY seq")
            .map_err(StoreError::sqlite("reading the outbox"))?;
        let rows = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
            .map_err(StoreError::sqlite("reading the outbox"))?;
        rows.collect::<Result<_, _>>().map_err(StoreError::sqlite("reading the outbox"))?
    };
    let replay = |m: &Mutation| -> Result<Vec<Effect>> {
        let effects = match domain::apply(&overlay, m, now) {
            Ok(effects) => effects,
            // Confirmed already, or settled otherwise by the server (a settled mutation): the next pull
            // says. A pending one: the server will answer for it; until then it has no local effect.
            Err(domain::ApplyError::Rejected(_)) => Vec::new(),
            Err(domain::ApplyError::View(view)) => return Err(view.into()),
        };
        keep_confirmed(conn, &effects)?;
        overlay.write_effects(&effects);
        Ok(effects)
    };
    for m in &settled {
        replay(m)?;
    }
    for (seq, json, answered, touched_before) in pending {
        let touched = if answered {
            // Answered by the server, and pulled: the confirmed state holds its effects already (or
            // the server refused it). Not replayed, so it has no local effect left to reset.
            "[]".to_owned()
        } else {
            let m: Mutation = serde_json::from_str(&json).map_err(StoreError::data("outbox entry"))?;
            let touched: BTreeSet<EntityKey> = replay(&m)?.iter().map(Effect::key).collect();
            serde_json::to_string(&touched).map_err(StoreError::data("outbox keys"))?
        };
        if touched != touched_before {
            conn.prepare_cached("UPDATE outbox SET touched = ? WHERE seq = ?")
                .and_then(|mut stmt| stmt.execute(params![touched, seq]))
                .map_err(StoreError::sqlite("updating the outbox"))?;
        }
    }
    overlay.finish()
}

fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
    )
    .and_then(|mut stmt| stmt.execute(params![key, value]))
    .map_err(StoreError::sqlite("saving the sync state"))?;
    Ok(())
}

impl Store {
    /// The oldest mutations waiting to be pushed, at most `limit`, in sequence order.
    pub fn pending(&self, limit: usize) -> Result<Vec<Mutation>> {
        self.pending_after(0, limit)
    }

    /// [`Store::pending`] numbered above `after`: the next batch of a push whose earlier batches'
    /// answers are still being recorded.
    pub fn pending_after(&self, after: u64, limit: usize) -> Result<Vec<Mutation>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT mutation FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?")
                .map_err(StoreError::sqlite("reading the outbox"))?;
            let rows = stmt
                .query_map(params![seq_sql(after), i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
                    row.get::<_, String>(0)
                })
                .map_err(StoreError::sqlite("reading the outbox"))?;
            rows.map(|row| {
                let json = row.map_err(StoreError::sqlite("reading the outbox"))?;
                serde_json::from_str(&json).map_err(StoreError::data("outbox entry"))
            })
            .collect()
        })
    }

    /// The number up to which this device has stored the server's answers to its mutations: every
    /// number below the oldest mutation still in the outbox (waiting to be pushed, or for its answer),
    /// or every number given so far when the outbox is empty. A push says it, so that the server may
    /// forget those answers (it never forgets beyond what it answered).
    pub fn answers_stored_up_to(&self) -> Result<u64> {
        self.read(|conn| {
            let oldest: Option<i64> = conn
                .prepare_cached("SELECT min(seq) FROM outbox")
                .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
                .map_err(StoreError::sqlite("reading the outbox"))?;
            Ok(match oldest {
                Some(seq) => u64::try_from(seq).unwrap_or(0).saturating_sub(1),
                None => super::next_seq(conn)?.saturating_sub(1),
            })
        })
    }

    /// The mutations numbered `from..to` in the refused list, in sequence order: above all those this
    /// device set aside without an answer from the server (those of a neighbourhood it forgot while
    /// they waited, see [`Store::forget`]). When the server still expects their numbers, the client
    /// pushes them to fill the gap they left; their answers change nothing here.
    pub fn set_aside(&self, from: u64, to: u64) -> Result<Vec<Mutation>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT mutation FROM rejected WHERE seq >= ? AND seq < ? ORDER BY seq")
                .map_err(StoreError::sqlite("reading the refused changes"))?;
            let rows = stmt
                .query_map(params![seq_sql(from), seq_sql(to)], |row| row.get::<_, String>(0))
                .map_err(StoreError::sqlite("reading the refused changes"))?;
            rows.map(|row| {
                let json = row.map_err(StoreError::sqlite("reading the refused changes"))?;
                serde_json::from_str(&json).map_err(StoreError::data("refused change"))
            })
            .collect()
        })
    }

    /// Takes the server's answers to a push, in one transaction: applied mutations leave the outbox,
    /// rejected ones move to the `rejected` table with their reason, and their local effects are rolled
    /// back. An answer for a mutation no longer in the outbox (a repeated answer) changes nothing.
    pub fn acknowledge(&self, results: &[MutationResult]) -> Result<AckReport> {
        let now = self.now_ms();
        let (report, kinds) = self.write_tx("recording the server's answers", |conn, clock| {
            let mut report = AckReport::default();
            let mut rolled_back = BTreeSet::new();
            let mut last_acked = 0_u64;
            for result in results {
                // Statements made once (`prepare_cached`): a push's answers come 200 at a time.
                let row: Option<(String, String, String, String, bool)> = conn
                    .prepare_cached("SELECT neighbourhood_id, name, mutation, touched, answered FROM outbox WHERE seq = ?")
                    .and_then(|mut stmt| {
                        stmt.query_row([seq_sql(result.seq)], |row| {
                            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
                        })
                        .optional()
                    })
                    .map_err(StoreError::sqlite("reading the outbox"))?;
                let Some((nid, name, mutation, touched, answered)) = row else { continue };
                last_acked = last_acked.max(result.seq);
                let keys: Vec<EntityKey> = serde_json::from_str(&touched).map_err(StoreError::data("outbox keys"))?;
                match &result.outcome {
                    // Its effects came with a pull already (see `apply_pulled`): nothing to settle.
                    Outcome::Applied if answered => report.applied += 1,
                    Outcome::Applied => {
                        report.applied += 1;
                        conn.prepare_cached("INSERT OR REPLACE INTO settled (seq, neighbourhood_id, mutation) VALUES (?, ?, ?)")
                            .and_then(|mut stmt| stmt.execute(params![seq_sql(result.seq), nid, mutation]))
                            .map_err(StoreError::sqlite("recording the server's answers"))?;
                        for key in &keys {
                            conn.prepare_cached("INSERT OR IGNORE INTO settling (neighbourhood_id, kind, id) VALUES (?, ?, ?)")
                                .and_then(|mut stmt| stmt.execute(params![key.neighbourhood_id, key.kind.as_str(), key.id]))
                                .map_err(StoreError::sqlite("recording the server's answers"))?;
                        }
                    }
                    Outcome::Rejected { code, message } => {
                        conn.execute(
                            "INSERT OR REPLACE INTO rejected (seq, neighbourhood_id, name, mutation, code, message, rejected_at) \
                             VALUES (?, ?, ?, ?, ?, ?, ?)",
                            params![seq_sql(result.seq), nid, name, mutation, code.as_str(), message, now],
                        )
                        .map_err(StoreError::sqlite("keeping a refused change"))?;
                        rolled_back.extend(keys);
                        report.rejected.push(Rejected {
                            seq: result.seq,
                            name,
                            code: code.as_str().to_owned(),
                            message: message.clone(),
                        });
                    }
                }
                conn.prepare_cached("DELETE FROM outbox WHERE seq = ?")
                    .and_then(|mut stmt| stmt.execute([seq_sql(result.seq)]))
                    .map_err(StoreError::sqlite("updating the outbox"))?;
            }
            if last_acked > 0 {
                // Numbers and stamps must go on after what left the outbox.
                let known: u64 = super::meta(conn, "last_acked_seq")?.and_then(|s| s.parse().ok()).unwrap_or(0);
                set_meta(conn, "last_acked_seq", &known.max(last_acked).to_string())?;
                set_meta(conn, "clock", &clock.last().to_string())?;
            }
            let kinds = if rolled_back.is_empty() {
                BTreeSet::new()
            } else {
                let kinds = rebase(conn, rolled_back, now)?;
                drop_settled_copies(conn)?;
                kinds
            };
            Ok((report, kinds))
        })?;
        self.notify(kinds);
        Ok(report)
    }

    /// How far a neighbourhood has been pulled (0 if never).
    pub fn sync_cursor(&self, neighbourhood_id: &str) -> Result<u64> {
        self.read(|conn| {
            let cursor: Option<i64> = conn
                .query_row(
                    "SELECT cursor FROM sync_cursors WHERE neighbourhood_id = ?",
                    [neighbourhood_id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(StoreError::sqlite("reading the sync cursor"))?;
            Ok(cursor.map_or(0, |c| u64::try_from(c).unwrap_or(0)))
        })
    }

    /// Starts following a neighbourhood this device has just joined (its first pull fetches it all).
    pub fn follow(&self, neighbourhood_id: &str) -> Result<()> {
        self.write_tx("following a neighbourhood", |conn, _| {
            conn.execute(
                "INSERT OR IGNORE INTO sync_cursors (neighbourhood_id, cursor, checkpoint) VALUES (?, 0, 0)",
                [neighbourhood_id],
            )
            .map_err(StoreError::sqlite("following a neighbourhood"))?;
            Ok(())
        })
    }

    /// The neighbourhoods to pull: those the replica holds, and those joined but not pulled yet.
    pub fn followed(&self) -> Result<Vec<String>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id FROM neighbourhoods UNION SELECT neighbourhood_id FROM sync_cursors \
                     UNION SELECT DISTINCT neighbourhood_id FROM outbox ORDER BY 1",
                )
                .map_err(StoreError::sqlite("listing neighbourhoods"))?;
            let rows =
                stmt.query_map([], |row| row.get(0)).map_err(StoreError::sqlite("listing neighbourhoods"))?;
            rows.collect::<Result<_, _>>().map_err(StoreError::sqlite("listing neighbourhoods"))
        })
    }

    /// Stores one page of a pull and its cursor in one transaction. When the page is the last one
    /// (`more` is false) the pending mutations are rebased on the new confirmed state, except those of
    /// this neighbourhood that the server had answered already (numbered up to `page.answered_seq`):
    /// their effects are in it.
    pub fn apply_pulled(&self, neighbourhood_id: &str, page: &PullResponse) -> Result<()> {
        let now = self.now_ms();
        let (kinds, quiet) = self.write_tx("saving pulled changes", |conn, clock| {
            let deferring = large_pull::defer_if_large(conn, page, self.large_pull)?;
            // The entities of the neighbourhood whose confirmed state is kept apart (none in a first pull;
            // as many as the changes waiting to be pushed otherwise), read once a page: each one a pending
            // mutation holds (see `keep_confirmed`), and those only settling ones hold. Which are pending
            // is read only for a page that has one of them.
            let kept = KeptApart::read(conn, neighbourhood_id)?;
            let mut pending: Option<BTreeSet<EntityKey>> = None;
            let mut kinds = BTreeSet::new();
            let mut newest = Hlc::ZERO;
            for change in &page.changes {
                let key = change.effect.key();
                if key.neighbourhood_id != neighbourhood_id {
                    return Err(StoreError::Invalid(format!(
                        "the server sent a change of neighbourhood {} in a pull of {neighbourhood_id}",
                        key.neighbourhood_id
                    )));
                }
                let held = kept.contains(&key);
                let replica = !held || {
                    let pending = match &mut pending {
                        Some(pending) => pending,
                        none => none.insert(pending_keys(conn)?),
                    };
                    !pending.contains(&key)
                };
                let entity = match &change.effect {
                    Effect::Put { entity } => {
                        newest = newest.max(entity.updated());
                        Some(entity)
                    }
                    Effect::Delete { .. } => None,
                };
                // An entity is serialised once, for its confirmed copy and the replica.
                let data = entity.map(serde_json::to_string).transpose().map_err(StoreError::data("entity"))?;
                // A pending mutation's entity: the confirmed state waits in its copy for the rebase. Any
                // other's copy (a settling mutation wrote it) follows the server's state too.
                if held {
                    conn.prepare_cached(
                        "INSERT INTO confirmed (neighbourhood_id, kind, id, data) VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT (neighbourhood_id, kind, id) DO UPDATE SET data = ?4",
                    )
                        .and_then(|mut stmt| stmt.execute(params![key.neighbourhood_id, key.kind.as_str(), key.id, data]))
                        .map_err(StoreError::sqlite("saving pulled changes"))?;
                }
                if replica {
                    match (entity, data) {
                        (Some(entity), Some(data)) => rows::put_json(conn, entity, data)?,
                        _ => rows::delete(conn, &key)?,
                    }
                    kinds.insert(key.kind);
                }
            }
            conn.execute(
                "INSERT INTO sync_cursors (neighbourhood_id, cursor, checkpoint, synced_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (neighbourhood_id) DO UPDATE SET cursor = ?2, checkpoint = ?3, synced_at = ?4",
                params![neighbourhood_id, seq_sql(page.cursor), seq_sql(page.checkpoint), now],
            )
            .map_err(StoreError::sqlite("saving the sync cursor"))?;
            clock.observe(newest);
            set_meta(conn, "clock", &clock.last().to_string())?;
            if !page.more {
                // Before the rebase: the rules' reads use them.
                if large_pull::build_deferred(conn)? {
                    kinds.extend(EntityKind::ALL);
                }
                // The confirmed state now holds what the server had answered when it read this page:
                // those mutations are not replayed again, whether their answer came or not.
                let still_settling = match page.answered_seq {
                    Some(answered) => {
                        let answered = seq_sql(answered);
                        conn.execute(
                            "UPDATE outbox SET answered = 1 WHERE neighbourhood_id = ? AND seq <= ?",
                            params![neighbourhood_id, answered],
                        )
                        .map_err(StoreError::sqlite("saving pulled changes"))?;
                        conn.execute(
                            "DELETE FROM settled WHERE neighbourhood_id = ? AND seq <= ?",
                            params![neighbourhood_id, answered],
                        )
                        .map_err(StoreError::sqlite("saving pulled changes"))?;
                        conn.query_row(
                            "SELECT EXISTS (SELECT 1 FROM settled WHERE neighbourhood_id = ?)",
                            [neighbourhood_id],
                            |row| row.get::<_, bool>(0),
                        )
                        .map_err(StoreError::sqlite("saving pulled changes"))?
                    }
                    // A server that does not say (an older one): everything applied before the pull.
                    None => {
                        conn.execute("DELETE FROM settled WHERE neighbourhood_id = ?", [neighbourhood_id])
                            .map_err(StoreError::sqlite("saving pulled changes"))?;
                        false
                    }
                };
                let settled = settling_keys(conn, neighbourhood_id)?;
                if !settled.is_empty() || holds_keys(conn)? {
                    kinds.extend(rebase(conn, settled, now)?);
                }
                // Applied after the page was read: still to be reset by the next pull, with their keys.
                if !still_settling {
                    conn.execute("DELETE FROM settling WHERE neighbourhood_id = ?", [neighbourhood_id])
                        .map_err(StoreError::sqlite("saving pulled changes"))?;
                }
                drop_settled_copies(conn)?;
            }
            Ok((kinds, deferring && page.more))
        })?;
        // A large pull's pages are not shown one by one: the lists would be read again after each
        // without the indexes it put off. They are when it ends.
        if !quiet {
            self.notify(kinds);
        }
        Ok(())
    }

    /// Builds the list indexes that a large pull cut short (its deadline, the network) put off
    /// (`large_pull.rs`), and tells the observers; nothing if none wait. The sync round calls it as it
    /// ends. Whether any were built.
    pub fn build_deferred_indexes(&self) -> Result<bool> {
        if !self.read(large_pull::deferred)? {
            return Ok(false);
        }
        let built = self.write_tx("building put-off indexes", |conn, _| large_pull::build_deferred(conn));
        // Built or not, the pull's rows are there and were not shown: the lists show them (slower if
        // the indexes could not be built).
        if !matches!(built, Ok(false)) {
            self.notify(EntityKind::ALL.into_iter().collect());
        }
        built
    }

    /// Forgets a neighbourhood the person no longer belongs to (they left, or a moderator removed them):
    /// its replica, its confirmed state and its cursor go, and nothing of them stays readable in the
    /// store's files (freed pages zeroed, the search index merged without their entries, the log
    /// emptied). Changes
    /// still waiting for it cannot be applied any more: they move to the refused list with a sentence
    /// that says why, so none vanishes unseen — except those the server had answered already (its
    /// answer lost on the way, the pull saying so): the device does not know whether they were
    /// applied, and must not tell the person they were not; they leave the outbox.
    pub fn forget(&self, neighbourhood_id: &str) -> Result<()> {
        let now = self.now_ms();
        let kinds = self.erasing(|| self.write_tx("forgetting a neighbourhood", |conn, _| {
            conn.execute(
                "INSERT OR REPLACE INTO rejected (seq, neighbourhood_id, name, mutation, code, message, rejected_at)                  SELECT seq, neighbourhood_id, name, mutation, 'not_member',                  'You are no longer a member of this neighbourhood, so this change could not be shared.', ?2                  FROM outbox WHERE neighbourhood_id = ?1 AND answered = 0",
                params![neighbourhood_id, now],
            )
            .map_err(StoreError::sqlite("forgetting a neighbourhood"))?;
            for sql in [
                "DELETE FROM outbox WHERE neighbourhood_id = ?",
                "DELETE FROM confirmed WHERE neighbourhood_id = ?",
                "DELETE FROM settling WHERE neighbourhood_id = ?",
                "DELETE FROM settled WHERE neighbourhood_id = ?",
                "DELETE FROM sync_cursors WHERE neighbourhood_id = ?",
            ] {
                conn.execute(sql, [neighbourhood_id]).map_err(StoreError::sqlite("forgetting a neighbourhood"))?;
            }
            // The search entries go with their rows (triggers of migration 009).
            for kind in EntityKind::ALL {
                let sql = format!("DELETE FROM {} WHERE {IN_NEIGHBOURHOOD}", rows::table_of(kind));
                conn.execute(&sql, [neighbourhood_id]).map_err(StoreError::sqlite("forgetting a neighbourhood"))?;
            }
            conn.execute("DELETE FROM neighbourhood_numbers WHERE id = ?", [neighbourhood_id])
                .map_err(StoreError::sqlite("forgetting a neighbourhood"))?;
            // A full-text index takes an entry out by adding a note that it is gone; the entry stays in
            // its segment until a merge rewrites it. Merged now, into one segment, without them.
            for kind in &super::backlog::KINDS {
                conn.execute(&format!("INSERT INTO {0} ({0}) VALUES ('optimize')", kind.fts), [])
                    .map_err(StoreError::sqlite("forgetting a neighbourhood"))?;
            }
            Ok(EntityKind::ALL.into_iter().collect())
        }))?;
        tracing::info!(
            neighbourhood = neighbourhood_id,
            "left the neighbourhood: its data is removed from this device"
        );
        self.notify(kinds);
        Ok(())
    }

    /// Everything the replica holds of a neighbourhood, in key order: for comparing replicas, and for
    /// export.
    pub fn replica(&self, neighbourhood_id: &str) -> Result<Vec<Entity>> {
        self.read(|conn| {
            let mut all = Vec::new();
            for kind in EntityKind::ALL {
                let sql = format!("SELECT data FROM {} WHERE {IN_NEIGHBOURHOOD}", rows::table_of(kind));
                all.extend(rows::entities(conn, &sql, [neighbourhood_id])?);
            }
            all.sort_by_key(Entity::key);
            Ok(all)
        })
    }
}
