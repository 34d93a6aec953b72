//! The mutation fuzz target on stable: every corpus file in `fuzz/corpus/mutation/` replayed (each a
//! valid history of one operation against the seeded neighbourhood), then a few thousand seeded,
//! structure-aware mutants of them (`quartier_core::fuzz::mutate`): no panic, every refusal with a
//! sentence, the stock invariants kept. `QUARTIER_FUZZ_CASES=N` runs N mutants (default 3000); the
//! seed is fixed so that a failure comes back, and printed with the failing input.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use quartier_core::domain::Op;
use quartier_core::fuzz::{Reached, mutate, mutations, seeded_state};
use std::cell::Cell;
use std::path::PathBuf;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/mutation");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.file_stem().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn cases() -> u32 {
    std::env::var("QUARTIER_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(3000)
}

#[test]
fn every_corpus_file_is_a_valid_history_of_its_operation() {
    let state = seeded_state();
    let files = corpus();
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.len(), Op::NAMES.len(), "one corpus file per mutation name (fuzz/make_corpus.py)");
    for name in Op::NAMES {
        assert!(names.contains(name), "no corpus file for {name}: run fuzz/make_corpus.py");
    }
    for (name, bytes) in &files {
        let steps = match serde_json::from_slice::<serde_json::Value>(bytes).unwrap() {
            serde_json::Value::Array(steps) => steps.len(),
            _ => 1,
        };
        let reached = mutations(&state, bytes);
        assert_eq!(reached, Reached { undecodable: false, applied: steps, refused: 0 }, "{name}");
    }
}

#[test]
fn seeded_mutants_of_the_corpus_never_break_a_rule() {
    let state = seeded_state();
    let files: Vec<serde_json::Value> =
        corpus().iter().map(|(_, bytes)| serde_json::from_slice(bytes).unwrap()).collect();
    let (undecodable, applied, refused) = (Cell::new(0_u32), Cell::new(0_u32), Cell::new(0_u32));
    let config = Config { cases: cases(), failure_persistence: None, ..Config::default() };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let strategy = (0..files.len(), proptest::collection::vec(any::<u8>(), 0..16));
    runner
        .run(&strategy, |(file, choices)| {
            let input = mutate(&files[file], &choices);
            let reached = mutations(&state, &input);
            undecodable.set(undecodable.get() + u32::from(reached.undecodable));
            applied.set(applied.get() + u32::try_from(reached.applied).unwrap());
            refused.set(refused.get() + u32::try_from(reached.refused).unwrap());
            Ok(())
        })
        .unwrap();
    // The generator reaches the rules, not only the decoder: some mutants apply, some are refused.
    let (undecodable, applied, refused) = (undecodable.get(), applied.get(), refused.get());
    println!("mutants: {undecodable} undecodable, {applied} mutations applied, {refused} refused");
    assert!(applied > cases() / 10 && refused > cases() / 40 && undecodable > cases() / 20);
}

#[test]
fn raw_bytes_never_panic_the_decoder() {
    let state = seeded_state();
    let config = Config { cases: cases() / 3, failure_persistence: None, ..Config::default() };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[11; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..512), |bytes| {
            mutations(&state, &bytes);
            Ok(())
        })
        .unwrap();
}
