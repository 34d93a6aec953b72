//! Mutation arguments: any bytes, decoded as the server decodes a pushed mutation (or a list of them),
//! validated and applied by the domain's rules to a seeded neighbourhood. The body is
//! `quartier_core::fuzz::mutations`; the stable tests run it too (`core/tests/fuzz_mutations.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use quartier_core::domain::MemoryState;
use std::sync::LazyLock;

static STATE: LazyLock<MemoryState> = LazyLock::new(quartier_core::fuzz::seeded_state);

fuzz_target!(|data: &[u8]| {
    quartier_core::fuzz::mutations(&STATE, data);
});
