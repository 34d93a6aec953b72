//! The store's read side against real SQLite files: lists and their filters and orders, search,
//! the inbox and its notifications, and watched queries.

// Helpers outside `#[test]` functions unwrap too: a failed set-up is a failed test.
#![allow(clippy::unwrap_used)]

mod inbox;
mod observe;
mod queries;
mod search;
mod support;
