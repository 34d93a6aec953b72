//! quartier-core: the offline core of Quartier, shared by the Android and iOS apps, the terminal client
//! and the sync server.
//!
//! - [`domain`]: the rules, in pure Rust with no I/O; they run on the device and on the server alike.
//! - [`store`]: the device's SQLite database (the local replica and the outbox of mutations).
//!
//! The shells never see SQL or JSON: they call the store's operations and queries, and observe them.

pub mod domain;
pub mod fuzz;
pub mod store;
pub mod sync;
