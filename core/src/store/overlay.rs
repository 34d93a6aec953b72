//! The rebase's working state: the entities it has reset and replayed so far, held in memory over the
//! replica, and written when it ends — only those that came out different from their row.
//!
//! A rebase (`sync_state.rs`) resets every entity a pending mutation wrote to its confirmed state, then
//! replays the mutations. Mostly the replay brings each entity back to what it was (a favour posted
//! offline that the pull did not touch): written through, each was deleted and written again — its row,
//! its indexes, its search entry — and, new again, it lost its place among the newest. Here each comes
//! out of the rebase compared with its row first, and a row the rebase leaves as it was is not touched.
//!
//! The rules read through the overlay: [`StateView::get`] gives what the overlay holds, else the row.
//! Their list reads (the loans of an item, the orders of a stall, …) are answered by SQL, so the
//! overlay's entities of the kinds they list are written first (the same comparison applies).
//!
//! To extend: a new list read of [`StateView`] writes the kinds it lists ([`Overlay::flush`]) before
//! asking SQL.

use super::error::{Result, StoreError};
use super::rows::{self, SqlView, Writer};
use crate::domain::{Effect, Entity, EntityKey, EntityKind, Favour, Loan, Order, StateView, ViewError};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// Entities set or written by a rebase and not yet written to the replica.
pub(super) struct Overlay<'w, 'c> {
    w: &'w Writer<'c>,
    held: RefCell<BTreeMap<EntityKey, Slot>>,
    /// The keys waiting, in the order the overlay took them: rows new to the replica are numbered in
    /// that order, as they would have been written through (newest first follows it).
    order: RefCell<Vec<EntityKey>>,
    /// The kinds whose rows changed.
    written: RefCell<BTreeSet<EntityKind>>,
}

/// What the overlay holds of an entity. (Written entities keep their slot: taking keys out of the
/// map would compile B-tree rebalancing into the library for nothing.)
#[allow(clippy::large_enum_variant)] // nearly every slot is waiting; a box each would cost more
enum Slot {
    /// Its state (`None`: gone), not yet written.
    Waiting(Option<Entity>),
    /// Written to its row (for a list read): the row holds it.
    Written,
}

impl<'w, 'c> Overlay<'w, 'c> {
    pub(super) fn new(w: &'w Writer<'c>) -> Overlay<'w, 'c> {
        Overlay {
            w,
            held: RefCell::new(BTreeMap::new()),
            order: RefCell::new(Vec::new()),
            written: RefCell::new(BTreeSet::new()),
        }
    }

    /// Sets an entity's state (`None`: gone).
    pub(super) fn set(&self, key: EntityKey, entity: Option<Entity>) {
        let mut held = self.held.borrow_mut();
        match held.get_mut(&key) {
            Some(Slot::Waiting(waiting)) => *waiting = entity,
            Some(slot) => {
                *slot = Slot::Waiting(entity);
                self.order.borrow_mut().push(key);
            }
            None => {
                self.order.borrow_mut().push(key.clone());
                held.insert(key, Slot::Waiting(entity));
            }
        }
    }

    /// Writes a mutation's effects, in order.
    pub(super) fn write_effects(&self, effects: &[Effect]) {
        for effect in effects {
            match effect {
                Effect::Put { entity } => self.set(entity.key(), Some(entity.clone())),
                Effect::Delete { key } => self.set(key.clone(), None),
            }
        }
    }

    /// Writes to the replica the entities held of `kind` (of every kind if `None`) that differ from
    /// their rows, in the order the overlay took them; all of that kind leave the overlay.
    pub(super) fn flush(&self, kind: Option<EntityKind>) -> Result<()> {
        let mut leaving = Vec::new();
        {
            let mut held = self.held.borrow_mut();
            let mut order = self.order.borrow_mut();
            let (staying, going): (Vec<EntityKey>, Vec<EntityKey>) =
                std::mem::take(&mut *order).into_iter().partition(|key| kind.is_some_and(|k| k != key.kind));
            *order = staying;
            for key in going {
                if let Some(slot) = held.get_mut(&key) {
                    if let Slot::Waiting(entity) = std::mem::replace(slot, Slot::Written) {
                        leaving.push((key, entity));
                    }
                }
            }
        }
        for (key, entity) in leaving {
            let data =
                entity.as_ref().map(serde_json::to_string).transpose().map_err(StoreError::data("entity"))?;
            if rows::get_json(self.w, &key)? == data {
                continue;
            }
            match (entity, data) {
                (Some(entity), Some(data)) => rows::put_json(self.w, &entity, data)?,
                _ => rows::delete(self.w, &key)?,
            }
            self.written.borrow_mut().insert(key.kind);
        }
        Ok(())
    }

    /// Writes what is left and gives the kinds whose rows the rebase changed.
    pub(super) fn finish(self) -> Result<BTreeSet<EntityKind>> {
        self.flush(None)?;
        Ok(self.written.into_inner())
    }

    /// The replica, for a list of `kind` (of every kind if `None`), with the overlay's entities of
    /// that kind written to it first.
    fn listed(&self, kind: Option<EntityKind>) -> Result<SqlView<'_>, ViewError> {
        self.flush(kind)?;
        Ok(SqlView(self.w))
    }
}

impl StateView for Overlay<'_, '_> {
    fn get(&self, key: &EntityKey) -> Result<Option<Entity>, ViewError> {
        if let Some(Slot::Waiting(entity)) = self.held.borrow().get(key) {
            return Ok(entity.clone());
        }
        SqlView(self.w).get(key)
    }

    fn open_loans_of_item(&self, nid: &str, item_id: &str) -> Result<Vec<Loan>, ViewError> {
        self.listed(Some(EntityKind::Loan))?.open_loans_of_item(nid, item_id)
    }

    fn open_orders_of_stall(&self, nid: &str, stall_id: &str) -> Result<Vec<Order>, ViewError> {
        self.listed(Some(EntityKind::Order))?.open_orders_of_stall(nid, stall_id)
    }

    fn favours_taken_up_by(&self, nid: &str, member_id: &str) -> Result<Vec<Favour>, ViewError> {
        self.listed(Some(EntityKind::Favour))?.favours_taken_up_by(nid, member_id)
    }

    fn keys_of_member(&self, nid: &str, member_id: &str) -> Result<Vec<EntityKey>, ViewError> {
        self.listed(None)?.keys_of_member(nid, member_id)
    }
}
