//! Sync: the protocol a device and the server share. The client that speaks it lands next.

pub mod protocol;
