//! The request fuzz target on stable (`quartier_server::fuzz`): the corpus in `fuzz/corpus/request/`
//! replayed, then seeded structure-aware mutants of it and of every mutation of
//! `fuzz/corpus/mutation/` pushed, for every endpoint: never a 5xx, every error an `ErrorBody` with a
//! sentence. `QUARTIER_FUZZ_CASES=N` sets the number of mutants (default 3000, a third of them raw bytes).

use quartier_core::fuzz::mutate;
use quartier_server::fuzz::{Endpoint, RequestHarness};
use reqwest::StatusCode;
use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn cases() -> u32 {
    std::env::var("QUARTIER_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(3000)
}

#[test]
fn the_request_corpus_gets_clear_answers() {
    let mut statuses = std::collections::BTreeMap::new();
    for (name, bytes) in corpus("request") {
        // Each file is a call to a freshly founded server: the pushes all start at the device's second
        // number, as they would after the founding push.
        let dir = tempfile::tempdir().unwrap();
        let harness = RequestHarness::new(dir.path());
        let answer = harness.request(&bytes);
        statuses.insert(name, answer.status);
    }
    // The corpus is made of valid calls and a few known-bad ones: both kinds answer as they should.
    assert_eq!(statuses["register"], StatusCode::CREATED);
    assert_eq!(statuses["devices"], StatusCode::CREATED);
    assert_eq!(statuses["pull"], StatusCode::OK);
    assert_eq!(statuses["devices-list"], StatusCode::OK);
    assert_eq!(statuses["devices-remove"], StatusCode::NOT_FOUND);
    assert_eq!(statuses["push-neighbourhood.edit"], StatusCode::OK);
    for bad in ["register-nul", "push-deep", "push-invalid-utf8", "pull-huge"] {
        assert_eq!(statuses[bad], StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[test]
fn seeded_mutants_of_every_endpoint_get_clear_answers() {
    let dir = tempfile::tempdir().unwrap();
    let harness = RequestHarness::new(dir.path());
    // Bodies to start from, by endpoint: the request corpus, and every mutation as a push.
    let mut seeds: Vec<(Endpoint, serde_json::Value)> = corpus("request")
        .into_iter()
        .filter_map(|(_, bytes)| {
            let (first, body) = bytes.split_first()?;
            Some((Endpoint::of(*first), serde_json::from_slice(body).ok()?))
        })
        .collect();
    for (_, bytes) in corpus("mutation") {
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let list = if value.is_array() { value } else { serde_json::json!([value]) };
        seeds.push((Endpoint::Push, serde_json::json!({ "mutations": list })));
    }
    let config = Config { cases: cases(), failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[5; 32]));
    let statuses = std::cell::RefCell::new(std::collections::BTreeMap::<u16, u32>::new());
    // The number the server expects next from the harness's device (the founding push was the first).
    let next_seq = std::cell::Cell::new(2_u64);
    let strategy = (0..seeds.len(), proptest::collection::vec(any::<u8>(), 0..16), any::<u8>());
    runner
        .run(&strategy, |(seed, choices, endpoint)| {
            let (mut target, value) = (seeds[seed].0, &seeds[seed].1);
            // One time in eight, the body goes to another endpoint than the one it was made for.
            if endpoint % 8 == 0 {
                target = Endpoint::of(endpoint / 8);
            }
            let value = renumbered(value, next_seq.get());
            let body = mutate(&value, &choices);
            let answer = harness.send(target, &body);
            if let Some(expected) = answer.expected_seq {
                next_seq.set(expected);
            }
            *statuses.borrow_mut().entry(answer.status.as_u16()).or_default() += 1;
            Ok(())
        })
        .unwrap();
    let statuses = statuses.into_inner();
    println!("answers by status: {statuses:?}");
    // Both kinds of answer were reached: calls that went through, and clear refusals.
    assert!(statuses.get(&200).is_some_and(|n| *n > cases() / 20), "{statuses:?}");
    assert!(statuses.get(&400).is_some_and(|n| *n > cases() / 20), "{statuses:?}");
}

/// A push body whose mutations are numbered from `next` on, as the device would number them; other
/// bodies as they are.
fn renumbered(value: &serde_json::Value, next: u64) -> serde_json::Value {
    let mut value = value.clone();
    if let Some(list) = value.get_mut("mutations").and_then(serde_json::Value::as_array_mut) {
        for (m, seq) in list.iter_mut().zip(next..) {
            if let Some(m) = m.as_object_mut().filter(|m| m.contains_key("seq")) {
                m.insert("seq".to_owned(), seq.into());
            }
        }
    }
    value
}

#[test]
fn raw_bytes_to_every_endpoint_get_clear_answers() {
    let dir = tempfile::tempdir().unwrap();
    let harness = RequestHarness::new(dir.path());
    let config = Config { cases: cases() / 3, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[9; 32]));
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..600), |bytes| {
            harness.request(&bytes);
            Ok(())
        })
        .unwrap();
}
