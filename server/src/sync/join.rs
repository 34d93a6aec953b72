//! Join: a newcomer redeems an invitation code.
//!
//! The device does not hold the neighbourhood yet, so it cannot make the `member.join` mutation
//! itself: the server finds the invitation by the hash of the code, makes the mutation on the device's
//! behalf (authored by its person, stamped by the server's clock, seq 0: it is not one of the device's
//! numbered mutations and no outcome is recorded for it), and applies it like a push, with the same
//! rules. A refusal is answered as an error with the rules' sentence (its status is chosen in
//! `error.rs`). Then the device pulls.

use super::apply::apply_in;
use crate::clock::Clock;
use crate::error::Error;
use crate::storage::{Backend, Device};
use quartier_core::domain::mutation::MemberJoin;
use quartier_core::domain::{Entity, EntityKey, EntityKind, Mutation, Op, hash_code};
use quartier_core::sync::protocol::{JoinRequest, JoinResponse};

pub fn join<B: Backend>(
    backend: &B,
    clock: &Clock,
    device: &Device,
    request: &JoinRequest,
) -> Result<JoinResponse, Error> {
    let code_hash = hash_code(&request.code);
    let stamp = clock.stamp();
    let now_ms = clock.now_ms();
    let response = backend.write(|tx| {
        let found = tx.invitation_by_code_hash(&code_hash)?.ok_or_else(|| {
            Error::UnknownInvitation(String::from(
                "No invitation has this code; check it with the neighbour who gave it to you.",
            ))
        })?;
        let nid = found.neighbourhood_id;
        let m = Mutation {
            neighbourhood_id: nid.clone(),
            author: device.person_id.clone(),
            device_id: device.device_id.clone(),
            seq: 0,
            hlc: stamp,
            op: Op::MemberJoin(MemberJoin {
                invitation_id: found.invitation_id,
                code: request.code.clone(),
                display_name: request.display_name.clone(),
            }),
        };
        apply_in(tx, &m, now_ms)?.map_err(Error::Refused)?;
        let neighbourhood_name = match tx.get(&EntityKey::new(&nid, EntityKind::Neighbourhood, &nid))? {
            Some(Entity::Neighbourhood(n)) => n.name,
            _ => {
                return Err(Error::Bug(format!(
                    "neighbourhood {nid} has members but no neighbourhood entity"
                )));
            }
        };
        Ok(JoinResponse { neighbourhood_id: nid, neighbourhood_name })
    })?;
    tracing::info!(
        device_id = %device.device_id,
        neighbourhood_id = %response.neighbourhood_id,
        "a newcomer joined"
    );
    Ok(response)
}
