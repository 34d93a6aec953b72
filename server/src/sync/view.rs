//! The rules' [`StateView`] over a transaction: the rules read the server's confirmed state through it,
//! inside the transaction that will write their effects.
//!
//! It must answer exactly like the reference `MemoryState` (`tests/state_view.rs` checks it against
//! random histories); the queries themselves are the backend's, in `storage`. A new question of the
//! rules goes to `StateView`, then to [`Tx`], every backend, and here.

use crate::storage::{StorageError, Tx};
use quartier_core::domain::{Entity, EntityKey, Favour, Loan, Order, StateView, ViewError};

pub struct TxView<'t>(pub &'t dyn Tx);

impl std::fmt::Debug for TxView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TxView")
    }
}

impl From<StorageError> for ViewError {
    fn from(error: StorageError) -> ViewError {
        ViewError(Box::new(error))
    }
}

/// The storage failure behind a [`ViewError`] that came back through the rules.
pub fn storage_error(error: ViewError) -> StorageError {
    match error.0.downcast::<StorageError>() {
        Ok(storage) => *storage,
        Err(other) => StorageError::Database { context: "reading the state for the rules", source: other },
    }
}

impl StateView for TxView<'_> {
    fn get(&self, key: &EntityKey) -> Result<Option<Entity>, ViewError> {
        Ok(self.0.get(key)?)
    }

    fn open_loans_of_item(&self, nid: &str, item_id: &str) -> Result<Vec<Loan>, ViewError> {
        Ok(self.0.open_loans_of_item(nid, item_id)?)
    }

    fn open_orders_of_stall(&self, nid: &str, stall_id: &str) -> Result<Vec<Order>, ViewError> {
        Ok(self.0.open_orders_of_stall(nid, stall_id)?)
    }

    fn favours_taken_up_by(&self, nid: &str, member_id: &str) -> Result<Vec<Favour>, ViewError> {
        Ok(self.0.favours_taken_up_by(nid, member_id)?)
    }

    fn keys_of_member(&self, nid: &str, member_id: &str) -> Result<Vec<EntityKey>, ViewError> {
        Ok(self.0.keys_of_member(nid, member_id)?)
    }
}
