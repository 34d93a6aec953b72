//! The Rust side of "Across the FFI" (`quartier-bench-ffi`, run by bench/ffi.sh) at a tiny size, so that
//! it cannot rot: the baseline measures both calls and the report reads its lines. No timing is asserted.

#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn the_ffi_baseline_runs_at_a_tiny_size_and_is_reported() {
    let exe = env!("CARGO_BIN_EXE_quartier-bench-ffi");
    let measured = Command::new(exe).args(["measure", "--smoke"]).output().unwrap();
    assert!(measured.status.success(), "{}", String::from_utf8_lossy(&measured.stderr));
    let lines = String::from_utf8(measured.stdout).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(lines.contains(r#""call":"favours_page","batch":1,"samples":5,"records":50,"#), "{lines}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rust.jsonl");
    std::fs::write(&file, &lines).unwrap();
    let report = Command::new(exe)
        .args(["report", "--note", "Kotlin and Swift: not measured in this test."])
        .arg(&file)
        .output()
        .unwrap();
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    let text = String::from_utf8(report.stdout).unwrap();
    assert!(text.contains("## Across the FFI"), "{text}");
    assert!(text.contains("| A small call, `identity()`"), "{text}");
    assert!(text.contains("Kotlin and Swift: not measured in this test."), "{text}");
}
