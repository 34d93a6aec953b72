//! The terminal client on a full disk, on read-only storage and on a database locked by another
//! program: exit code 5 with the `storage` code and a sentence saying what to do, nothing reported
//! saved that was not, and the same command works once the fault clears. The storage is a real small
//! filesystem (`quartier_e2e::disk::SmallDisk`, a tmpfs: it needs root); where it cannot be mounted
//! those two parts say so and are skipped (the store's own test injects them inside SQLite instead).

use crate::support::Person;
use quartier_e2e::disk::{SmallDisk, WriteLock};
use serde_json::Value;
use std::path::PathBuf;
use tempfile::TempDir;

fn founder(home: PathBuf) -> Person {
    let alice = Person { home, profile: "alice" };
    alice.json(&["neighbourhood", "create", "--name", "Aligre", "--display-name", "Alice"]);
    alice
}

fn ask(n: usize) -> Vec<String> {
    let title = format!("Favour {n}");
    let details = "Water the tomatoes on the balcony, twice. ".repeat(40);
    ["favour", "ask", "--title", &title, "--details", &details, "--category", "garden"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

fn run(person: &Person, args: &[String]) -> assert_cmd::assert::Assert {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    person.cmd(&args)
}

/// The titles of the favours the profile holds.
fn titles(person: &Person) -> Vec<String> {
    let favours = person.json(&["favour", "list", "--limit", "100"]);
    let mut titles: Vec<String> = favours
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["favour"]["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    titles
}

fn storage_error(assert: assert_cmd::assert::Assert) -> String {
    let out = assert.code(5).get_output().stdout.clone();
    let json: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["error"]["code"], "storage", "{json}");
    json["error"]["message"].as_str().unwrap().to_owned()
}

fn mount(size_kib: u64) -> Option<SmallDisk> {
    SmallDisk::mount(size_kib)
        .inspect_err(|why| eprintln!("skipped: cannot mount a small filesystem ({why})"))
        .ok()
}

#[test]
fn a_full_disk_exits_5_saves_nothing_and_the_next_try_works_once_space_is_freed() {
    let Some(disk) = mount(4096) else { return };
    let alice = founder(disk.path().to_path_buf());
    disk.fill();
    let mut saved = 0;
    let message = loop {
        assert!(saved < 500, "500 favours saved on a full disk");
        let mut args = vec!["--json".to_owned()];
        args.extend(ask(saved));
        let assert = run(&alice, &args);
        if assert.get_output().status.success() {
            saved += 1;
        } else {
            break storage_error(assert);
        }
    };
    assert!(message.contains("full") && message.contains("free some space"), "{message}");
    let human = String::from_utf8(run(&alice, &ask(saved)).code(5).get_output().stderr.clone()).unwrap();
    assert!(human.contains("the storage is full"), "people get the sentence on stderr: {human}");

    disk.free();
    run(&alice, &ask(saved)).success();
    let expected: Vec<String> = {
        let mut t: Vec<String> = (0..=saved).map(|n| format!("Favour {n}")).collect();
        t.sort();
        t
    };
    assert_eq!(titles(&alice), expected, "exactly the favours reported saved");
}

#[test]
fn read_only_storage_exits_5_and_the_next_try_works_once_writable() {
    let Some(disk) = mount(8192) else { return };
    let alice = founder(disk.path().to_path_buf());
    run(&alice, &ask(0)).success();

    disk.set_read_only(true);
    let mut args = vec!["--json".to_owned()];
    args.extend(ask(1));
    let message = storage_error(run(&alice, &args));
    assert!(message.contains("cannot be written") && message.contains("quartier.db"), "{message}");

    disk.set_read_only(false);
    assert_eq!(titles(&alice), ["Favour 0"], "nothing was saved");
    run(&alice, &ask(1)).success();
    assert_eq!(titles(&alice), ["Favour 0", "Favour 1"]);
}

#[test]
fn a_database_locked_by_another_program_exits_5_and_the_next_try_works_once_released() {
    let home = TempDir::new().unwrap();
    let alice = founder(home.path().to_path_buf());
    run(&alice, &ask(0)).success();

    let lock = WriteLock::take(&home.path().join("profiles").join("alice").join("quartier.db"));
    let mut args = vec!["--json".to_owned()];
    args.extend(ask(1));
    let message = storage_error(run(&alice, &args));
    assert!(message.contains("locked by another program"), "{message}");

    drop(lock);
    assert_eq!(titles(&alice), ["Favour 0"], "nothing was saved");
    run(&alice, &ask(1)).success();
    assert_eq!(titles(&alice), ["Favour 0", "Favour 1"]);
}
