//! Request decoding: the first byte picks an endpoint, the rest is its body (or query string), sent
//! through the server's real router over a SQLite file. Never a 5xx; every error an `ErrorBody` with a
//! sentence. The body is `quartier_server::fuzz::RequestHarness::request`; the stable tests run it too
//! (`server/tests/server/fuzz.rs`).
//!
//! Each input is a call to a freshly founded server, as in the stable replay of the corpus: the same
//! bytes always get the same answer (libFuzzer needs that to replay and shrink what it finds), and a
//! push numbered from the device's second number reaches the domain's rules instead of a `409` for a
//! number an earlier input used. That costs a new SQLite file per input (about 50 inputs a second
//! here, against 700 with one server for the whole run), and reaches a third more of the code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quartier_server::fuzz::RequestHarness;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("quartier-fuzz-{}", std::process::id()));
    // The previous input's database goes first.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("no folder for the fuzz database: {e}"));
    RequestHarness::new(&dir).request(data);
});
