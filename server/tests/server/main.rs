//! quartier-server's tests: a real server on `127.0.0.1:0` over a real SQLite file, talked to over
//! HTTP. One binary, so it compiles once.
//!
//! `support` starts servers and makes phones; `sync` covers register, push, pull, join, privacy and
//! paging; `authorization` the roles × actions matrix; `limits` malformed requests, sizes, rate limits,
//! compression, health and metrics; `lifecycle` start-up failures and shutdown; `state_view` checks the
//! server's state against the reference `MemoryState` over random histories.

#![allow(clippy::unwrap_used)]

mod authorization;
mod lifecycle;
mod limits;
mod state_view;
mod support;
mod sync;
