//! The domain's rules, tested through the public API only: one binary, so it compiles once.
//!
//! `support` builds a neighbourhood and makes mutations the way devices do; each feature has its unit
//! tests (every rule, every refusal, and that a refusal changes nothing); `properties` runs random
//! histories against the invariants.

mod favours;
mod lending;
mod market;
mod members;
mod messages;
mod properties;
mod support;
mod tenancy;
mod wire;
