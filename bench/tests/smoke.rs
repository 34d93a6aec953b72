//! Every benchmark at a tiny size, so that the bench code cannot rot: each must run to the end and
//! check what it checks (50 nearest favours found, the observer sees each write, every pushed mutation
//! applied once, the device pulls every entity). No timing is asserted.

#![allow(clippy::unwrap_used)]

use quartier_bench::{Sizes, report};
use std::path::Path;

#[test]
fn every_benchmark_runs_at_a_tiny_size() {
    let work = tempfile::tempdir().unwrap();
    let sizes = Sizes::tiny();
    let rows =
        quartier_bench::run(&sizes, work.path(), Path::new(env!("CARGO_BIN_EXE_quartier-bench"))).unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    for expected in [
        "Local write, synchronous=Full",
        "Local write, synchronous=Normal",
        "50 nearest open favours",
        "Full-text search",
        "A write seen by an observer",
        "Cold open",
        "Rebase",
        "Initial sync of",
        "Initial sync: the device's peak resident memory",
        "Back from a week offline",
        "Server under load, SQLite",
    ] {
        assert!(names.iter().any(|n| n.starts_with(expected)), "no row {expected:?} in {names:#?}");
    }
    let text = report::markdown(&rows, &quartier_bench::measure::Machine::probe(), "today", "test", "");
    assert!(text.contains("| benchmark |"), "{text}");
}
