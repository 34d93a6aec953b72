//! Sync: the protocol a device and the server share, the device's client, and where it keeps its
//! token. The device's half of the state (outbox, confirmed state, rebase) is in `store/sync_state.rs`.

pub mod client;
pub mod protocol;
pub mod secrets;

pub use client::{DeviceLink, SyncClient, SyncError, SyncReport, SyncStatus};
pub use secrets::{FileSecretStore, SecretStore};
