//! Pull: a page of a neighbourhood's changes after a device's cursor, for its active members only.
//!
//! The server keeps one row per entity with the version of its last change, so a page is "every row
//! changed after the cursor, in version order": an interrupted pull resumes from its last cursor and
//! never skips a change (versions of one neighbourhood commit in order; see `storage::Tx`). A page
//! holds at most `limit` changes but never splits a version: the last version's changes are all
//! there, so a page may run over `limit` when one mutation changed many things (a member leaving).
//!
//! Privacy: a member gets what [`storage::index`](crate::storage::index) lets them read (a message
//! only goes to its author and its recipient, its tombstone likewise); the rest goes to every active
//! member. When the page reaches the end, `cursor` is the checkpoint itself, so that changes the
//! member may not read are not scanned again on the next pull. To make a kind private, give it readers
//! in `storage::index`; nothing here changes.
//!
//! Every page also says up to which sequence number the server has answered the calling device
//! (`answered_seq`), read in the page's snapshot: a push commits a mutation's effects and the device's
//! last answered number together, so on the last page the state the device has pulled holds every one
//! of its mutations of this neighbourhood up to that number. A device whose push answer was lost
//! learns from it not to replay those on top (see `core/src/store/sync_state.rs`). Only the caller's
//! own number is given, never another device's, even of the same person.

use crate::error::Error;
use crate::storage::Backend;
use crate::storage::Device;
use quartier_core::domain::{Entity, EntityKey, EntityKind, MemberStatus};
use quartier_core::sync::protocol::{MAX_PULL_LIMIT, PullResponse, StoredChange};

/// Checks a page size asked for.
pub fn check_limit(limit: u32) -> Result<u32, Error> {
    if (1..=MAX_PULL_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::BadRequest(format!("A pull takes a limit from 1 to {MAX_PULL_LIMIT}, not {limit}.")))
    }
}

/// One page of the changes of `neighbourhood_id` after version `after`, as `device` may read them.
pub fn pull<B: Backend>(
    backend: &B,
    device: &Device,
    neighbourhood_id: &str,
    after: u64,
    limit: u32,
) -> Result<PullResponse<StoredChange>, Error> {
    let limit = check_limit(limit)?;
    let reader = device.person_id.as_str();
    backend.read(|tx| {
        let checkpoint = tx.neighbourhood_version(neighbourhood_id)?.ok_or_else(|| {
            Error::NotFound(format!("This server has no neighbourhood {neighbourhood_id}."))
        })?;
        let member = tx.get(&EntityKey::new(neighbourhood_id, EntityKind::Member, reader))?;
        match member {
            Some(Entity::Member(m)) if m.status == MemberStatus::Active => {}
            Some(_) => {
                return Err(Error::Forbidden(format!(
                    "You are no longer a member of neighbourhood {neighbourhood_id}, so its changes are not sent to you."
                )));
            }
            None => {
                return Err(Error::Forbidden(format!(
                    "Only members of neighbourhood {neighbourhood_id} can pull its changes; ask a neighbour for an invitation."
                )));
            }
        }
        let answered_seq = tx.last_seq(&device.device_id)?;
        let mut changes = tx.changes_after(neighbourhood_id, after, reader, limit)?;
        let last = match changes.last() {
            Some(last) if changes.len() >= limit as usize => last.version(),
            _ => {
                return Ok(PullResponse { changes, cursor: checkpoint, checkpoint, more: false, answered_seq });
            }
        };
        // The page is full: finish its last version, whatever the limit.
        changes.retain(|change| change.version() != last);
        changes.extend(tx.changes_at(neighbourhood_id, last, reader)?);
        let more = tx.has_changes_after(neighbourhood_id, last, reader)?;
        let cursor = if more { last } else { checkpoint };
        Ok(PullResponse { changes, cursor, checkpoint, more, answered_seq })
    })
}
