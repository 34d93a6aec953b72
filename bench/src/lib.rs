//! quartier-bench: Quartier's benchmark suite.
//!
//! `bash bench/run` builds it with the release settings and runs every benchmark at the sizes of
//! issue 5, then writes `BENCHMARKS.md` at the repository root: each figure next to a baseline measured
//! in the same run (plain rusqlite doing the equivalent work), its ratio, the target, peak memory where
//! asked, and the machine and date. Sizes come from `QUARTIER_BENCH_*` variables ([`Sizes`]), so the
//! smoke test (`tests/smoke.rs`) runs every benchmark at a tiny size, asserting no timing.
//!
//! Layout: `data.rs` (generated neighbourhoods), `measure.rs` (timings, memory, machine), `local.rs`
//! (the device alone), `sync.rs` (a real server on loopback), `report.rs` (the table). To add a
//! benchmark: a function in `local.rs` or `sync.rs` that returns its figures and baseline, then rows in
//! [`run`].

pub mod data;
pub mod local;
pub mod measure;
pub mod report;
pub mod sync;

use local::Result;
use measure::{ms, us};
use quartier_core::store::Durability;
use report::Row;
use std::path::{Path, PathBuf};

/// How big each benchmark is. `Sizes::from_env` reads `QUARTIER_BENCH_<NAME>` for each field (in
/// capitals), defaulting to the sizes.
#[derive(Clone, Debug)]
pub struct Sizes {
    /// Local writes timed (each durability).
    pub writes: usize,
    /// Favours in the read benchmark's replica; as many items and products again.
    pub read_entities: usize,
    /// Queries of each kind timed.
    pub queries: usize,
    pub cold_opens: usize,
    /// Entities of the neighbourhood a fresh device pulls.
    pub sync_entities: usize,
    pub rebase_incoming: usize,
    pub rebase_pending: usize,
    pub offline_mutations: usize,
    pub devices: usize,
    pub rounds: usize,
    /// Comma-separated names of the benchmarks to run (`write,reads,cold,rebase,sync,offline,load,
    /// footprint`); all when empty.
    pub only: String,
    /// The release library to measure (`bench/run` builds it); skipped when unset.
    pub library: Option<PathBuf>,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(format!("QUARTIER_BENCH_{name}"))
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

impl Sizes {
    pub fn from_env() -> Sizes {
        Sizes {
            writes: env_usize("WRITES", 2_000),
            read_entities: env_usize("READ_ENTITIES", 100_000),
            queries: env_usize("QUERIES", 300),
            cold_opens: env_usize("COLD_OPENS", 30),
            sync_entities: env_usize("SYNC_ENTITIES", 1_000_000),
            rebase_incoming: env_usize("REBASE_INCOMING", 100_000),
            rebase_pending: env_usize("REBASE_PENDING", 1_000),
            offline_mutations: env_usize("OFFLINE_MUTATIONS", 10_000),
            devices: env_usize("DEVICES", 1_000),
            rounds: env_usize("ROUNDS", 5),
            only: std::env::var("QUARTIER_BENCH_ONLY").unwrap_or_default(),
            library: std::env::var_os("QUARTIER_BENCH_LIBRARY").map(PathBuf::from),
        }
    }

    /// Every benchmark at a size that runs in seconds: for the smoke test.
    pub fn tiny() -> Sizes {
        Sizes {
            writes: 20,
            read_entities: 2_000,
            queries: 10,
            cold_opens: 3,
            sync_entities: 3_000,
            rebase_incoming: 2_000,
            rebase_pending: 20,
            offline_mutations: 300,
            devices: 20,
            rounds: 2,
            only: String::new(),
            library: None,
        }
    }

    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.split(',').any(|n| n.trim() == name)
    }
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

/// Runs the benchmarks `sizes` asks for in temporary folders under `work`, printing progress on
/// stderr, and returns the report's rows. `device_exe` is the `quartier-bench` binary (the initial
/// sync runs its device in a process of its own). PostgreSQL is measured when
/// `QUARTIER_TEST_POSTGRES` is set.
pub fn run(sizes: &Sizes, work: &Path, device_exe: &Path) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let dir = |name: &str| tempfile::Builder::new().prefix(name).tempdir_in(work);
    if sizes.wants("write") {
        for durability in [Durability::Full, Durability::Normal] {
            eprintln!("local write ({durability:?}) …");
            let d = dir("write")?;
            let w = local::local_write(d.path(), sizes.writes, durability)?;
            let (q, b) = (w.quartier.median(), w.baseline.median());
            rows.push(Row {
                name: format!("Local write, synchronous={durability:?} (median of {})", w.quartier.len()),
                measured: format!("{:.0} µs", us(q)),
                baseline: format!(
                    "{:.0} µs plain rusqlite insert+commit of its row, the store's table",
                    us(b)
                ),
                ratio: ratio(us(q), us(b)),
                target: "≤ 1.5×".into(),
                met: ratio(us(q), us(b)).map(|r| r <= 1.5),
            });
        }
    }
    if sizes.wants("reads") {
        eprintln!("reads …");
        let d = dir("reads")?;
        let counts = data::Counts {
            members: 1000,
            favours: sizes.read_entities,
            items: sizes.read_entities / 2,
            products: sizes.read_entities / 2,
        };
        let r = local::reads(d.path(), counts, sizes.queries)?;
        let fav = format!("{} favours", counts.favours);
        let texts = counts.favours + counts.items + counts.products;
        // Each vocabulary's searches, with how much of the replica a searched word is in.
        let searched = |s: &local::Searches, vocabulary: data::Vocabulary| {
            let share = 100.0 * s.median_matches() as f64 / texts.max(1) as f64;
            format!(
                "{} items + {} products + {fav}, {}: the median word searched is in {share:.2} % of them",
                counts.items,
                counts.products,
                vocabulary.describe()
            )
        };
        let narrow = searched(&r.search, data::Vocabulary::Narrow);
        let long_tail = searched(&r.search_long_tail, data::Vocabulary::LongTailed);
        let mut timed = vec![(
            format!("50 nearest open favours around a cell, of {fav}"),
            &r.nearest,
            &r.nearest_baseline,
            "plain SQL: 50 rows of a box by the place index",
            2.0,
        )];
        for (s, what) in [(&r.search, &narrow), (&r.search_long_tail, &long_tail)] {
            timed.push((
                format!("Full-text search of one word, best match first, {what}"),
                &s.best,
                &s.best_baseline,
                "plain FTS5 ranked by bm25: 50 of each kind",
                2.0,
            ));
            timed.push((
                format!("Full-text search of one word, newest first, {what}"),
                &s.newest,
                &s.newest_baseline,
                "plain FTS5 in its table's order: 50 of each kind",
                2.0,
            ));
        }
        timed.extend([
            (
                "A write seen by an observer of the nearest-favours list (synchronous=FULL)".to_owned(),
                &r.observed,
                &r.observed_baseline,
                "the same write, unobserved",
                1.0,
            ),
            (
                "A write seen by an observer of the nearest-favours list (synchronous=NORMAL)".to_owned(),
                &r.observed_normal,
                &r.observed_normal_baseline,
                "the same write, unobserved",
                1.0,
            ),
        ]);
        for (name, s, b, base, limit) in timed {
            let (m, bm) = (ms(s.median()), ms(b.median()));
            rows.push(Row {
                name: format!("{name} (median of {})", s.len()),
                measured: format!("{m:.3} ms (p99 {:.3} ms)", ms(s.percentile(99.0))),
                baseline: format!("{bm:.3} ms {base}"),
                ratio: ratio(m, bm),
                target: format!("< {limit} ms median"),
                met: Some(m < limit),
            });
        }
    }
    if sizes.wants("cold") {
        eprintln!("cold open …");
        let d = dir("cold")?;
        let c = local::cold_open(d.path(), sizes.cold_opens)?;
        let (m, b) = (ms(c.quartier.median()), ms(c.baseline.median()));
        rows.push(Row {
            name: format!("Cold open: create, migrate, first query (median of {})", c.quartier.len()),
            measured: format!("{m:.2} ms"),
            baseline: format!("{b:.2} ms plain rusqlite open + one table + one query"),
            ratio: ratio(m, b),
            target: "< 20 ms".into(),
            met: Some(m < 20.0),
        });
    }
    if sizes.wants("rebase") {
        eprintln!("rebase …");
        let d = dir("rebase")?;
        let r = local::rebase(d.path(), sizes.rebase_incoming, sizes.rebase_pending)?;
        let (m, b) = (r.with_pending.as_secs_f64(), r.without_pending.as_secs_f64());
        rows.push(Row {
            name: format!(
                "Rebase: {} incoming changes (pages of 5,000, as the device asks) with {} pending",
                r.incoming, r.pending
            ),
            measured: format!("{m:.2} s"),
            baseline: format!("{b:.2} s the same pull with nothing pending"),
            ratio: ratio(m, b),
            target: "< 2 s".into(),
            met: Some(m < 2.0),
        });
    }
    if sizes.wants("sync") {
        eprintln!("initial sync …");
        let d = dir("sync")?;
        let s = sync::initial_sync(d.path(), sizes.sync_entities, device_exe)?;
        let rate = s.entities as f64 / s.device.seconds;
        let base_rate = s.entities as f64 / s.baseline.as_secs_f64();
        let rss_mb = s.device.peak_rss_bytes as f64 / 1e6;
        rows.push(Row {
            name: format!("Initial sync of {} entities from a loopback server (SQLite)", s.entities),
            measured: format!("{rate:.0} entities/s ({:.1} s)", s.device.seconds),
            baseline: format!("{base_rate:.0} rows/s plain rusqlite insert of the same JSON"),
            ratio: ratio(rate, base_rate),
            target: "≥ 70,000 entities/s".into(),
            met: Some(rate >= 70_000.0),
        });
        rows.push(Row {
            name: "Initial sync: the device's peak resident memory".into(),
            measured: format!("{rss_mb:.0} MB"),
            baseline: String::new(),
            ratio: None,
            target: "< 150 MB".into(),
            met: Some(rss_mb < 150.0),
        });
    }
    if sizes.wants("offline") {
        eprintln!("back from a week offline …");
        let d = dir("offline")?;
        let w = sync::week_offline(d.path(), sizes.offline_mutations)?;
        let rate = w.mutations as f64 / w.push.as_secs_f64();
        let base = w.mutations as f64 / w.baseline.as_secs_f64();
        rows.push(Row {
            name: format!(
                "Back from a week offline: {} queued mutations pushed, each applied once",
                w.mutations
            ),
            measured: format!("{rate:.0} mutations/s ({:.2} s)", w.push.as_secs_f64()),
            baseline: format!("{base:.0} rows/s plain rusqlite insert, each committed"),
            ratio: ratio(rate, base),
            target: "≥ 20,000 mutations/s".into(),
            met: Some(rate >= 20_000.0),
        });
    }
    if sizes.wants("load") {
        let mut dbs = vec![sync::Db::Sqlite];
        if std::env::var_os(sync::POSTGRES_VARIABLE).is_some() {
            dbs.push(sync::Db::Postgres);
        } else {
            eprintln!("{} is not set: the load test runs on SQLite only", sync::POSTGRES_VARIABLE);
        }
        for db in dbs {
            eprintln!("server under load ({}) …", db.name());
            let d = dir("load")?;
            let l = sync::load(d.path(), db, sizes.devices, sizes.rounds)?;
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let sqlite = db == sync::Db::Sqlite;
            for (what, s, phase) in [
                ("first pull of its neighbourhood", &l.first_pull, &l.first),
                ("then push", &l.push, &l.then),
                ("then pull", &l.pull, &l.then),
            ] {
                let p99 = ms(s.percentile(99.0));
                let cpu = match (phase.cpu_per_request(), phase.least_p99(l.devices, cores)) {
                    (Some(cpu), Some(least)) => format!(
                        "; the server's CPU {:.2} ms a request: p99 ≥ {:.0} ms with {} waiting, had it {cores} cores to itself",
                        ms(cpu),
                        ms(least),
                        l.devices
                    ),
                    _ => String::new(),
                };
                rows.push(Row {
                    name: format!(
                        "Server under load, {}: {} devices at once, {what} ({} calls{})",
                        db.name(),
                        l.devices,
                        s.len(),
                        if what.starts_with("then") {
                            format!(", {} rounds", l.rounds)
                        } else {
                            String::new()
                        },
                    ),
                    measured: format!("p50 {:.1} ms, p99 {p99:.1} ms", ms(s.median())),
                    baseline: format!(
                        "{:.0} requests/s{cpu}{}",
                        phase.throughput(),
                        if what == "then push" {
                            format!("; {} mutations applied", l.applied)
                        } else {
                            String::new()
                        }
                    ),
                    ratio: None,
                    target: if sqlite { "p99 < 100 ms".into() } else { "reported".into() },
                    met: sqlite.then_some(p99 < 100.0),
                });
            }
        }
    }
    if sizes.wants("footprint") {
        if let Some(library) = &sizes.library {
            let bytes = std::fs::metadata(library)?.len();
            let mb = bytes as f64 / 1e6;
            rows.push(Row {
                name: format!(
                    "Stripped mobile library (ffi-release profile), {} ({})",
                    std::env::consts::ARCH,
                    library.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
                ),
                measured: format!("{mb:.2} MB"),
                baseline: String::new(),
                ratio: None,
                target: "< 6 MB".into(),
                met: Some(mb < 6.0),
            });
        }
    }
    Ok(rows)
}
