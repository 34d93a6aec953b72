//! Input at the limits, at the terminal: numbers past their type, huge text, days out of range and
//! arguments that are not UTF-8 are refused at the first boundary that sees them — the command line
//! (exit 2) or the rules on the device (exit 3) — with a sentence, never a crash (exit 1 or 101), and
//! nothing is saved.

use crate::support::*;
use tempfile::TempDir;

/// Runs a command that must be refused as bad input (exit 2 or 3), and returns its message.
fn refused(person: &Person, args: &[&str]) -> String {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let output = person.cmd(&all).get_output().clone();
    let code = output.status.code();
    assert!(
        matches!(code, Some(2 | 3)),
        "{args:?} exited {code:?}: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let message = json["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.len() > 10, "{args:?}: {message}");
    message
}

#[test]
fn values_past_their_limits_are_refused_with_a_sentence() {
    let home = TempDir::new().unwrap();
    let alice = found(&home, "alice", "Alice");
    let stall = alice.create(&[
        "stall",
        "open",
        "--name",
        "Jams",
        "--market",
        "Aligre",
        "--days",
        "sat",
        "--hours",
        "08:00-12:00",
    ]);
    let jam = alice.create(&[
        "product", "add", "--stall", &stall, "--name", "Jam", "--unit", "jar", "--price", "3", "--stock", "5",
    ]);
    let drill = alice.create(&["item", "add", "--title", "Drill"]);
    let before = alice.json(&["outbox"]).as_array().unwrap().len();
    let long = "x".repeat(20_000);
    let cases: Vec<Vec<&str>> = vec![
        vec!["product", "price", &jam, "92233720368547758.08"],
        vec!["product", "price", &jam, "1e300"],
        vec!["product", "stock", &jam, "+9223372036854775807"],
        vec!["product", "stock", &jam, "-9223372036854775808"],
        vec!["product", "count", &jam, "18446744073709551616"],
        vec![
            "product", "add", "--stall", &stall, "--name", "X", "--unit", "jar", "--price", "1", "--stock",
            "-1",
        ],
        vec!["favour", "ask", "--title", &long],
        vec!["item", "add", "--title", "Saw", "--description", &long],
        vec!["loan", "request", &drill, "--from", "9999-12-31", "--to", "9999-12-31"],
        vec!["loan", "request", &drill, "--from", "2026-02-30", "--to", "2026-03-01"],
        vec!["invite", "--uses", "4294967296"],
        vec!["invite", "--days", "9223372036854775807"],
        vec!["favour", "ask", "--title", "Help", "--lat", "NaN", "--lon", "2"],
        vec!["favour", "ask", "--title", "Help", "--lat", "48.8", "--lon", "inf"],
    ];
    for args in &cases {
        refused(&alice, args);
    }
    // An argument that is not UTF-8.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let output = assert_cmd::Command::cargo_bin("quartier")
            .unwrap()
            .arg("--home")
            .arg(&alice.home)
            .args(["--profile", "alice", "--json", "favour", "ask", "--title"])
            .arg(std::ffi::OsStr::from_bytes(b"Help \xff\xfe"))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stdout));
        assert!(String::from_utf8_lossy(&output.stdout).contains("UTF-8"), "{output:?}");
    }
    assert_eq!(alice.json(&["outbox"]).as_array().unwrap().len(), before, "nothing was saved");
}
