//! Request decoding: the first byte picks an endpoint, the rest is its body (or query string), sent
//! through the server's real router over a SQLite file. Never a 5xx; every error an `ErrorBody` with a
//! sentence. The body is `quartier_server::fuzz::RequestHarness::request`; the stable tests run it too
//! (`server/tests/server/fuzz.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use quartier_server::fuzz::RequestHarness;
use std::sync::LazyLock;

static HARNESS: LazyLock<RequestHarness> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("quartier-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("no folder for the fuzz database: {e}"));
    RequestHarness::new(&dir)
});

fuzz_target!(|data: &[u8]| {
    HARNESS.request(data);
});
