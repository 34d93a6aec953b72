//! Devices: registering one (a new device of a new person) and knowing it again by its token.
//!
//! A token is 32 random bytes in hex. A device draws its own and sends it when it registers (so that
//! it can register again with the same token when the answer was lost); the server keeps only its
//! SHA-256, so a copy of the database lets no one act as a device. Tokens are never logged.
//!
//! A person's further devices (a trader's tablet) are added by a device already registered: it asks for
//! the new device's token and hands it over itself, in a link code ([`add_device`]). The new device
//! must make its first call within [`LINK_CLAIM_MS`]: a link code left lying around (a photo of the
//! screen, a message) does not open the person's account for ever ([`authenticate`]).
//!
//! A person sees their devices ([`list`]) and takes one off the account from another ([`remove`]): a
//! lost or sold phone. Its token is refused from then on, with a sentence that says why; its row
//! stays (its id is not given again). The last device of an account cannot be taken off: nothing
//! could link a device again.

use crate::error::Error;
use crate::storage::{Backend, Device, NewDevice};
use quartier_core::domain::validate;
use quartier_core::sync::protocol::{
    self, AccountDevice, AddDeviceRequest, DevicesResponse, RegisterRequest, RegisterResponse,
};
use sha2::{Digest, Sha256};

/// How long a device added with a link code has to make its first call.
pub const LINK_CLAIM_MS: i64 = 15 * 60 * 1000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh token from the operating system's random source.
pub fn new_token() -> Result<String, Error> {
    protocol::new_token()
        .map_err(|e| Error::Bug(format!("the operating system gave no random bytes for a token: {e}")))
}

/// What the server stores of a token: its SHA-256, in hex.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Whether a registration made a new device, or answered one made before with the same token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registered {
    New,
    Again,
}

/// Registers a new device of a new person, with the token the device drew (or, for a device that sent
/// none, a token drawn here and given once). The same device with the same token again is answered
/// again (its first answer was lost); with another token it is refused.
pub fn register<B: Backend>(
    backend: &B,
    request: &RegisterRequest,
    now_ms: i64,
) -> Result<(RegisterResponse, Registered), Error> {
    for (field, id) in [("device", &request.device_id), ("person", &request.person_id)] {
        validate::new_id(field, id).map_err(|rejection| Error::BadRequest(rejection.message))?;
    }
    let token = match &request.token {
        Some(token) if protocol::is_well_formed_token(token) => token.clone(),
        Some(_) => {
            return Err(Error::BadRequest(format!(
                "A device's token is {} lower-case hex digits (32 random bytes); draw a new one.",
                protocol::TOKEN_LEN
            )));
        }
        None => new_token()?,
    };
    let hash = token_hash(&token);
    let registered = backend.write(|tx| {
        if tx.device_exists(&request.device_id)? {
            let same = tx.device_by_token_hash(&hash)?.is_some_and(|known| {
                known.device_id == request.device_id && known.person_id == request.person_id
            });
            if same && request.token.is_some() {
                return Ok(Registered::Again);
            }
            return Err(Error::Conflict(format!(
                "The device {} is registered already with another token; a device registers once and keeps its token. \
                 If this device lost its token, set it up again with a new device id.",
                request.device_id
            )));
        }
        if tx.person_exists(&request.person_id)? {
            return Err(Error::Conflict(format!(
                "The person {} has a registered device already; add this device from that one (link a device).",
                request.person_id
            )));
        }
        tx.insert_device(&NewDevice {
            device_id: &request.device_id,
            person_id: &request.person_id,
            token_hash: &hash,
            created_at: now_ms,
            claim_by: None,
        })?;
        Ok(Registered::New)
    })?;
    match registered {
        Registered::New => {
            tracing::info!(device_id = %request.device_id, person_id = %request.person_id, "device registered");
        }
        Registered::Again => {
            tracing::info!(device_id = %request.device_id, "device registration answered again");
        }
    }
    let response = RegisterResponse {
        device_id: request.device_id.clone(),
        person_id: request.person_id.clone(),
        token,
    };
    Ok((response, registered))
}

/// Adds another device of the person of a registered device, and gives the new device's token, once.
pub fn add_device<B: Backend>(
    backend: &B,
    by: &Device,
    request: &AddDeviceRequest,
    now_ms: i64,
) -> Result<RegisterResponse, Error> {
    validate::new_id("device", &request.device_id)
        .map_err(|rejection| Error::BadRequest(rejection.message))?;
    let token = new_token()?;
    let hash = token_hash(&token);
    backend.write(|tx| {
        if tx.device_exists(&request.device_id)? {
            return Err(Error::Conflict(format!(
                "The device {} is registered already; choose a new id for the new device.",
                request.device_id
            )));
        }
        tx.insert_device(&NewDevice {
            device_id: &request.device_id,
            person_id: &by.person_id,
            token_hash: &hash,
            created_at: now_ms,
            claim_by: Some(now_ms.saturating_add(LINK_CLAIM_MS)),
        })?;
        Ok(())
    })?;
    tracing::info!(device_id = %request.device_id, person_id = %by.person_id, "device added");
    Ok(RegisterResponse { device_id: request.device_id.clone(), person_id: by.person_id.clone(), token })
}

/// The devices of the person of `by`, oldest first.
pub fn list<B: Backend>(backend: &B, by: &Device) -> Result<DevicesResponse, Error> {
    let devices = backend.read(|tx| tx.person_devices(&by.person_id).map_err(Error::from))?;
    Ok(DevicesResponse {
        devices: devices
            .into_iter()
            .map(|d| AccountDevice {
                this_device: d.device_id == by.device_id,
                waiting_for_first_call: d.claim_by.is_some(),
                added_at: d.created_at,
                device_id: d.device_id,
            })
            .collect(),
    })
}

/// Takes `device_id`, a device of the person of `by` (`by` itself too), off the account at `now_ms`.
pub fn remove<B: Backend>(backend: &B, by: &Device, device_id: &str, now_ms: i64) -> Result<(), Error> {
    backend.write(|tx| {
        let devices = tx.person_devices(&by.person_id)?;
        if !devices.iter().any(|d| d.device_id == device_id) {
            return Err(Error::NotFound(format!(
                "Your account has no device {device_id}: list your devices to see their ids."
            )));
        }
        if devices.len() == 1 {
            return Err(Error::Conflict(format!(
                "The device {device_id} is the last device of your account: without it, no device could be \
                 linked to the account again. Link another device first."
            )));
        }
        tx.remove_device(device_id, now_ms)?;
        Ok(())
    })?;
    tracing::info!(device_id, by = %by.device_id, "device taken off its account");
    Ok(())
}

/// The device a bearer token belongs to, at `now_ms`. A device added with a link code that makes its
/// first call after its deadline is refused; its first call in time lifts the deadline.
pub fn authenticate<B: Backend>(backend: &B, token: &str, now_ms: i64) -> Result<Device, Error> {
    let hash = token_hash(token);
    let device =
        backend.read(|tx| tx.device_by_token_hash(&hash).map_err(Error::from))?.ok_or_else(|| {
            Error::Unauthorized(String::from(
                "The server does not know this token; register the device again to get a new one.",
            ))
        })?;
    if device.removed_at.is_some() {
        return Err(Error::Unauthorized(String::from(
            "This device was taken off its account by another device of the same person. To use it again, \
             make a link code on a device still in the account.",
        )));
    }
    match device.claim_by {
        None => Ok(device),
        Some(by) if now_ms <= by => {
            backend.write(|tx| tx.claim_device(&device.device_id).map_err(Error::from))?;
            tracing::info!(device_id = %device.device_id, "linked device made its first call");
            Ok(Device { claim_by: None, ..device })
        }
        Some(_) => Err(Error::Unauthorized(format!(
            "This device's link code has expired: a device added from another one must connect within {} minutes. \
             Make a new link code on the other device.",
            LINK_CLAIM_MS / 60_000
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_random_bytes_in_hex_and_hashes_hide_them() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        let hash = token_hash(&a);
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, a);
        assert_eq!(hash, token_hash(&a));
    }
}
