//! One mutation applied inside a write transaction: the neighbourhood locked, the rules run over the
//! transaction with the server's clock, and the effects written at the neighbourhood's next version.
//!
//! Push and join both go through [`apply_in`]; what they record around it (a device's outcome and
//! sequence number, or nothing) is theirs. Whatever must be derived from the effects in the same
//! transaction (like the index of invitation codes) is written here, beside them.

use super::view::{TxView, storage_error};
use crate::error::Error;
use crate::storage::Tx;
use quartier_core::domain::{self, ApplyError, Effect, Entity, EntityKind, Mutation, Rejection};

/// Applies `m` in `tx`: `Ok(Ok(()))` when its effects are written, `Ok(Err(rejection))` when the
/// rules refuse it (nothing is written), `Err` when the storage fails.
pub fn apply_in(tx: &dyn Tx, m: &Mutation, now_ms: i64) -> Result<Result<(), Rejection>, Error> {
    let nid = &m.neighbourhood_id;
    // Locked before the rules read anything, so that what they read is still true when the effects
    // are written.
    let current = tx.lock_neighbourhood(nid)?;
    let effects = match domain::apply(&TxView(tx), m, now_ms) {
        Ok(effects) => effects,
        Err(ApplyError::Rejected(rejection)) => return Ok(Err(rejection)),
        Err(ApplyError::View(error)) => return Err(storage_error(error).into()),
    };
    if effects.is_empty() {
        // Accepted, with nothing to change (an edit that a newer one already overrode).
        return Ok(Ok(()));
    }
    if let Some(stray) = effects.iter().find(|e| e.key().neighbourhood_id != *nid) {
        return Err(Error::Bug(format!(
            "{} in neighbourhood {nid} has an effect on {:?}, outside it",
            m.op.name(),
            stray.key()
        )));
    }
    let version = current.unwrap_or(0) + 1;
    tx.set_neighbourhood_version(nid, version)?;
    for effect in &effects {
        match effect {
            Effect::Put { entity } => {
                tx.put(entity, version)?;
                if let Entity::Invitation(invitation) = entity {
                    tx.index_invitation_code(&invitation.code_hash, nid, &invitation.id)?;
                }
            }
            Effect::Delete { key } => {
                tx.delete(key, version)?;
                if key.kind == EntityKind::Invitation {
                    tx.unindex_invitation(nid, &key.id)?;
                }
            }
        }
    }
    Ok(Ok(()))
}
