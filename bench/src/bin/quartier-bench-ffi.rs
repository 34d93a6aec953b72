//! `quartier-bench-ffi`: "Across the FFI" (issue 5), the Rust baseline and the report.
//!
//! `quartier-bench-ffi measure [--smoke]` times, on the `quartier_ffi` Rust API (the very functions
//! uniffi wraps, called here without crossing any boundary), the calls that the Kotlin program
//! (`android/src/bench`) and the Swift one (`ios/Benchmarks/FfiBench`) time through the generated
//! bindings: the same store, the same favours, the same plans (warm-up, samples, batch), and the same
//! JSON lines, with `"lang":"rust"`.
//!
//! `quartier-bench-ffi report [--library NAME] [--note TEXT]... [--runtime LANG=TEXT]... FILE...` reads
//! the JSON lines of the three and prints the Markdown section that `bench/ffi.sh` appends to
//! BENCHMARKS.md: each call's median and p90 per call in each language, and its ratio to Rust's.
//! No figure is ever asserted (the smoke test, `tests/ffi.rs`, only checks that it all runs).

use quartier_bench::measure::{Machine, now_utc};
use quartier_ffi::{FavourDraft, Quartier};
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// How one call is timed: `warmup` calls, then `samples` samples, each the mean of `batch` calls.
#[derive(Clone, Copy, Debug)]
struct Plan {
    warmup: usize,
    samples: usize,
    batch: usize,
}

/// The sizes of a run; the same in the Kotlin and the Swift programs.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    favours: usize,
    small: Plan,
    page: Plan,
}

const FULL: Sizes = Sizes {
    favours: 200,
    small: Plan { warmup: 20_000, samples: 2_000, batch: 100 },
    page: Plan { warmup: 2_000, samples: 2_000, batch: 1 },
};

const SMOKE: Sizes = Sizes {
    favours: 60,
    small: Plan { warmup: 10, samples: 5, batch: 10 },
    page: Plan { warmup: 2, samples: 5, batch: 1 },
};

/// The records in a page of favours.
const PAGE: u32 = 50;

/// One JSON line: the figures of one call in one language.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Line {
    lang: String,
    call: String,
    batch: usize,
    samples: usize,
    records: usize,
    median_ns: f64,
    p90_ns: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runtime: Option<String>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("measure") => match &args[1..] {
            [] => measure(FULL),
            [smoke] if smoke == "--smoke" => measure(SMOKE),
            _ => Err("usage: quartier-bench-ffi measure [--smoke]".into()),
        },
        Some("report") => report_command(&args[1..]),
        _ => Err("usage: quartier-bench-ffi measure [--smoke] | report [--library NAME] [--note TEXT]... \
                  [--runtime LANG=TEXT]... FILE..."
            .into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quartier-bench-ffi: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The `p`-th percentile (0–100) of sorted values, nearest rank (as `measure::Samples`).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Times `call` by `plan` and returns its line.
fn time<T>(name: &str, records: usize, plan: Plan, mut call: impl FnMut() -> T) -> Line {
    for _ in 0..plan.warmup {
        black_box(call());
    }
    let mut per_call: Vec<f64> = Vec::with_capacity(plan.samples);
    for _ in 0..plan.samples {
        let start = Instant::now();
        for _ in 0..plan.batch {
            black_box(call());
        }
        per_call.push(start.elapsed().as_nanos() as f64 / plan.batch as f64);
    }
    per_call.sort_by(f64::total_cmp);
    let round = |ns: f64| (ns * 10.0).round() / 10.0;
    Line {
        lang: "rust".into(),
        call: name.into(),
        batch: plan.batch,
        samples: plan.samples,
        records,
        median_ns: round(percentile(&per_call, 50.0)),
        p90_ns: round(percentile(&per_call, 90.0)),
        runtime: Some(format!("rustc, {} profile", if cfg!(debug_assertions) { "debug" } else { "release" })),
    }
}

/// The baseline: the calls of the Kotlin and Swift programs, on the Rust API, printed as JSON lines.
fn measure(sizes: Sizes) -> Result<()> {
    let dir = tempfile::Builder::new().prefix("quartier-ffi-bench").tempdir()?;
    let q = Quartier::open(dir.path().join("bench.db").display().to_string())?;
    let nid = q.create_neighbourhood("Bench".into(), String::new(), "Bench".into())?;
    for i in 0..sizes.favours {
        // The same favours as the Kotlin and the Swift programs.
        let draft = FavourDraft {
            title: format!("Water the plants, favour {i}"),
            category: "garden".into(),
            details: format!("Twice a day, on the balcony; the key is with the concierge ({i})."),
            window: None,
        };
        if i % 2 == 0 {
            q.ask_favour(nid.clone(), draft)?;
        } else {
            q.offer_favour(nid.clone(), draft)?;
        }
    }
    let listed = q.favours(nid.clone(), None, PAGE, 0)?.len();
    if listed != PAGE as usize {
        return Err(format!("a page of favours has {listed} records, not {PAGE}").into());
    }
    // (a) A small call: the device's identity. (b) A page of 50 favours.
    let lines = [
        time("identity", 0, sizes.small, || q.identity()),
        time("favours_page", PAGE as usize, sizes.page, || q.favours(nid.clone(), None, PAGE, 0)),
    ];
    for line in lines {
        println!("{}", serde_json::to_string(&line)?);
    }
    Ok(())
}

fn report_command(args: &[String]) -> Result<()> {
    let mut library = None;
    let mut notes = Vec::new();
    let mut runtimes = Vec::new();
    let mut lines = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--library" => library = Some(args.next().ok_or("--library needs a name")?.clone()),
            "--note" => notes.push(args.next().ok_or("--note needs a text")?.clone()),
            "--runtime" => {
                let value = args.next().ok_or("--runtime needs LANG=TEXT")?;
                let (lang, text) = value.split_once('=').ok_or("--runtime needs LANG=TEXT")?;
                runtimes.push((lang.to_owned(), text.to_owned()));
            }
            file => {
                let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
                for (n, line) in text.lines().enumerate().filter(|(_, l)| l.trim_start().starts_with('{')) {
                    let parsed: Line =
                        serde_json::from_str(line).map_err(|e| format!("{file}:{}: {e}: {line}", n + 1))?;
                    lines.push(parsed);
                }
            }
        }
    }
    let context = Context {
        date: now_utc(),
        machine: Machine::probe(),
        library: library.unwrap_or_else(|| "libquartier_ffi".into()),
        notes,
        runtimes,
    };
    print!("{}", markdown(&lines, &context));
    Ok(())
}

/// What the section says besides the figures.
#[derive(Debug)]
struct Context {
    date: String,
    machine: Machine,
    library: String,
    notes: Vec<String>,
    runtimes: Vec<(String, String)>,
}

/// The rows of the table: the call's name in the JSON lines, what it is, and the Rust call it is compared
/// with.
const ROWS: [(&str, &str, &str); 3] = [
    ("identity", "A small call, `identity()`: two short strings", "identity"),
    ("favours_page", "A page of favours, `favours(limit = 50)`: 50 records", "favours_page"),
    (
        "favours_page_shell",
        "The same page through the shell: `suspend` on `Dispatchers.IO`, `async` on the store's queue",
        "favours_page",
    ),
];

/// The languages measured through the bindings, with their column's title.
const LANGS: [(&str, &str); 2] = [("kotlin", "Kotlin (JVM, JNA)"), ("swift", "Swift")];

/// A time per call, readably: ns, µs or ms.
fn duration(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else {
        format!("{:.2} ms", ns / 1_000_000.0)
    }
}

fn figure(line: &Line) -> String {
    format!("{} (p90 {})", duration(line.median_ns), duration(line.p90_ns))
}

/// The Markdown section: a table of the calls, Rust first, then each language and its ratio to Rust.
fn markdown(lines: &[Line], context: &Context) -> String {
    let find = |lang: &str, call: &str| lines.iter().find(|l| l.lang == lang && l.call == call);
    let mut out = String::new();
    out.push_str("\n## Across the FFI: the cost of a call from Kotlin and Swift\n\n");
    out.push_str(&format!(
        "Written by `bash bench/ffi.sh` on {}; machine: {} ({} cores available). One store in a temporary \
         folder, one neighbourhood filled with favours through the API; the same calls timed in Rust on the \
         `quartier_ffi` API that uniffi wraps (the baseline: no boundary crossed), then through the \
         generated bindings from Kotlin and from Swift, on the same library ({}). Each \
         figure is the median (and 90th percentile) of the time per call over the samples, each sample the \
         mean of a batch of calls, after a warm-up; the ratio is the figure ÷ Rust's median.\n\n",
        context.date, context.machine.cpu, context.machine.cores, context.library
    ));
    out.push_str("| call | Rust (baseline) |");
    for (_, title) in LANGS {
        out.push_str(&format!(" {title} | ratio |"));
    }
    out.push_str("\n|---|---|");
    for _ in LANGS {
        out.push_str("---|---|");
    }
    out.push('\n');
    for (call, what, baseline_call) in ROWS {
        let baseline = find("rust", baseline_call);
        let plan = LANGS.iter().chain([("rust", "")].iter()).find_map(|(lang, _)| find(lang, call));
        let batches = plan.map_or_else(String::new, |l| {
            format!("; {} samples of {} call{}", l.samples, l.batch, if l.batch == 1 { "" } else { "s" })
        });
        let rust_cell = match (baseline, call == baseline_call) {
            (Some(b), true) => figure(b),
            (Some(_), false) => "(the row above)".into(),
            (None, _) => "—".into(),
        };
        out.push_str(&format!("| {what}{batches} | {rust_cell} |"));
        for (lang, _) in LANGS {
            match find(lang, call) {
                Some(line) => {
                    let ratio = baseline
                        .filter(|b| b.median_ns > 0.0)
                        .map_or_else(String::new, |b| format!("{:.1}×", line.median_ns / b.median_ns));
                    out.push_str(&format!(" {} | {ratio} |", figure(line)));
                }
                None => out.push_str(" — | |"),
            }
        }
        out.push('\n');
    }
    out.push('\n');
    let mut runtimes: Vec<String> = Vec::new();
    for (lang, title) in LANGS.iter().chain([("rust", "Rust")].iter()) {
        let from_lines = lines.iter().find(|l| l.lang == *lang).and_then(|l| l.runtime.clone());
        let given = context.runtimes.iter().find(|(l, _)| l == lang).map(|(_, t)| t.clone());
        if let Some(runtime) = given.or(from_lines) {
            runtimes.push(format!("{} — {runtime}", title.split(' ').next().unwrap_or(title)));
        }
    }
    if !runtimes.is_empty() {
        out.push_str(&format!("Runtimes: {}.\n", runtimes.join("; ")));
    }
    out.push_str(
        "\nWhat a call through the bindings does besides the Rust work: a method of an object first clones \
         the object's handle (a call of its own), the arguments and the answer cross as buffers that are \
         written and read on both sides, and the answer's buffer is freed by a further call. In Kotlin each \
         of these crossings also allocates JNA structures (a call status, a buffer), and allocating one \
         takes microseconds on the JVM: most of a small call's cost there is JNA's, not Rust's. The shell's \
         row adds the hop to the I/O thread or queue that keeps the core off the main thread.\n",
    );
    for note in &context.notes {
        out.push_str(&format!("\n{note}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn line(lang: &str, call: &str, median_ns: f64) -> Line {
        Line {
            lang: lang.into(),
            call: call.into(),
            batch: 1,
            samples: 10,
            records: 0,
            median_ns,
            p90_ns: median_ns * 1.5,
            runtime: None,
        }
    }

    fn context(notes: Vec<String>) -> Context {
        Context {
            date: "today".into(),
            machine: Machine { cpu: "a CPU".into(), cores: 2, memory: "1 GiB".into(), os: "Linux".into() },
            library: "libquartier_ffi.so".into(),
            notes,
            runtimes: vec![("swift".into(), "Swift version 6.0.3".into())],
        }
    }

    #[test]
    fn the_report_puts_each_language_next_to_rust_with_its_ratio() {
        let lines = [
            line("rust", "identity", 50.0),
            line("rust", "favours_page", 40_000.0),
            line("kotlin", "identity", 2_000.0),
            line("kotlin", "favours_page", 100_000.0),
            line("kotlin", "favours_page_shell", 160_000.0),
        ];
        let text = markdown(&lines, &context(vec!["Swift: not measured here.".into()]));
        assert!(text.contains("| 50 ns (p90 75 ns) | 2.0 µs (p90 3.0 µs) | 40.0× | — | |"), "{text}");
        assert!(text.contains("| 40.0 µs (p90 60.0 µs) | 100.0 µs (p90 150.0 µs) | 2.5× |"), "{text}");
        assert!(text.contains("| (the row above) | 160.0 µs (p90 240.0 µs) | 4.0× |"), "{text}");
        assert!(text.contains("Runtimes: Swift — Swift version 6.0.3."), "{text}");
        assert!(text.ends_with("\nSwift: not measured here.\n"), "{text}");
    }

    #[test]
    fn lines_read_back_as_written_and_percentiles_are_nearest_rank() {
        let written = line("swift", "identity", 12.5);
        let read: Line = serde_json::from_str(&serde_json::to_string(&written).unwrap()).unwrap();
        assert_eq!(read, written);
        let from_kotlin = r#"{"lang":"kotlin","call":"identity","batch":100,"samples":2000,"records":0,"median_ns":1890.2,"p90_ns":2101.0,"runtime":"OpenJDK 64-Bit Server VM 17"}"#;
        assert_eq!(serde_json::from_str::<Line>(from_kotlin).unwrap().batch, 100);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), 2.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 90.0), 4.0);
        assert_eq!(percentile(&[], 90.0), 0.0);
        assert_eq!(duration(2_500_000.0), "2.50 ms");
    }
}
