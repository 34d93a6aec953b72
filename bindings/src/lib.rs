//! quartier-ffi: the uniffi surface of Quartier for the Kotlin and Swift shells.
//!
//! Thin wrappers over `quartier-core`, nothing more: every rule, query and sync step lives in the core,
//! and this crate only turns its types into records the foreign languages can hold, and its errors into
//! the one public error, [`QuartierError`]. Layout:
//!
//! - `quartier.rs`: the [`Quartier`] object (the device's store): opening, posting, the main lists;
//! - `actions.rs`: the life of favours, loans and pre-orders, stalls, products, messages, rejections;
//! - `observe.rs`: [`Subscription`], the generic [`ChangeObserver`] the shells' flows build on, and
//!   [`diagnostics`] (live observations and running calls, for leak tests);
//! - `records.rs`: what crosses the boundary (records and enums), converted from the core's views;
//! - `sync.rs`: the async [`SyncEngine`], the [`SecretStore`] the shells implement, the shared runtime;
//! - `logging.rs`: the [`LogSink`] the shells implement, fed by `tracing` events filtered here;
//! - `error.rs`: [`QuartierError`], the one place where core errors and panics are mapped.
//!
//! Threads: every call may be made from any thread. Plain calls run on the caller's thread (the Kotlin
//! and Swift shells move them off the main thread); async calls run on a small shared tokio runtime.
//! No panic crosses the boundary: every fallible call catches it (`error::guard`, `error::on_runtime`)
//! and answers `QuartierError::Internal`, and callbacks into the app never unwind into the core
//! (`error::shielded`). The few infallible calls (getters) only clone; uniffi would catch them too.
//!
//! To expose something new: write it in the core, then add a method here that converts its arguments,
//! calls the core inside `error::guard`, and converts the result into a record of `records.rs`.

mod actions;
mod error;
mod logging;
mod observe;
mod quartier;
mod records;
mod sync;

pub use error::{QuartierError, StorageProblem};
pub use logging::{LogLevel, LogRecord, LogSink, remove_log_sink, set_log_sink};
pub use observe::{ChangeObserver, Diagnostics, Subscription, Topic, diagnostics};
pub use quartier::{FavoursObserver, Quartier};
pub use records::*;
pub use sync::{Cancellation, SecretStore, SyncEngine, SyncStatusObserver, file_secret_store};

uniffi::setup_scaffolding!("quartier");
