//! The sync logic: registering devices, pushing mutations, pulling changes and joining, generic over
//! the storage [`Backend`](crate::storage::Backend) so that it runs the same on every database.
//!
//! Everything here is blocking (it runs transactions): the HTTP handlers call it from
//! `spawn_blocking`. Push is the exception: it is async and awaits its transactions
//! ([`Backend::write_owned`](crate::storage::Backend::write_owned)), so that pushes waiting for the
//! SQLite writer hold no thread of the blocking pool (which the pulls need) and are committed in
//! groups. It takes plain values (the authenticated [`Device`](crate::storage::Device), the
//! protocol's requests) and answers the protocol's responses or an [`Error`](crate::error::Error), so
//! that it can be read and tested without HTTP.
//!
//! - `devices`: registration and tokens;
//! - `apply`: one mutation in one transaction (shared by push and join);
//! - `push`, `pull`, `join`: the calls of the protocol;
//! - `view`: the rules' `StateView` over a transaction.
//!
//! To add a call: a module here with a function generic over the backend, then a handler in `http/`.

pub mod apply;
pub mod devices;
pub mod join;
pub mod pull;
pub mod push;
pub mod view;
