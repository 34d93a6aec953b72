//! `quartier-bench`: runs the benchmarks and writes the report (see the crate's documentation).
//!
//! `quartier-bench [--out FILE] [--notes FILE]` runs them at the sizes of `QUARTIER_BENCH_*`;
//! `quartier-bench device-sync URL DIR` is the device process of the initial-sync benchmark.

use quartier_bench::{Sizes, measure, report, sync};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("device-sync") => device_sync(&args[1..]),
        _ => bench(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quartier-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn device_sync(args: &[String]) -> quartier_bench::local::Result<()> {
    let [url, dir] = args else {
        return Err("usage: quartier-bench device-sync URL DIR".into());
    };
    let report = sync::device_sync(url, &PathBuf::from(dir))?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn bench(args: &[String]) -> quartier_bench::local::Result<()> {
    let mut out = PathBuf::from("BENCHMARKS.md");
    let mut notes = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = args.next().ok_or("--out needs a file")?.into(),
            "--notes" => notes = Some(PathBuf::from(args.next().ok_or("--notes needs a file")?)),
            other => return Err(format!("unknown argument {other:?}; see bench/run").into()),
        }
    }
    let sizes = Sizes::from_env();
    let work = tempfile::Builder::new().prefix("quartier-bench").tempdir()?;
    let exe = std::env::current_exe()?;
    let rows = quartier_bench::run(&sizes, work.path(), &exe)?;
    let notes = match notes {
        Some(path) => std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?,
        None => String::new(),
    };
    let text =
        report::markdown(&rows, &measure::Machine::probe(), &measure::now_utc(), "bash bench/run", &notes);
    std::fs::write(&out, &text)?;
    eprint!("{text}");
    Ok(())
}
