//! `crash-victim`: a device in a process of its own that stops at an exact point of its SQLite work, for
//! the crash test (`tests/sync_kill.rs`, `kill_9_at_hundreds_of_points_of_writes_and_sync`).
//!
//! `crash-victim DIR SERVER_URL NEIGHBOURHOOD PRODUCT FIRST COUNT STOP_AT` opens the device database
//! `DIR/quartier.db` (registered already, its token in `DIR/secrets.json`) and works in one thread, in
//! a fixed order: it makes the mutations numbered `FIRST`, `FIRST + 1`… of
//! [`quartier_e2e::victim::planned`] in small batches, syncing with `SERVER_URL` after each batch, then
//! syncs until its outbox is empty. After each mutation is saved it prints `saved SEQ INDEX JSON`.
//!
//! On the device's connection, the start of every statement that writes (SQLite's trace), every row
//! written (its update hook) and every commit (its commit hook, called before the commit is made) is
//! one *step*, counted from 1 (`STOP_AT` of the form `commit:N` counts the commits only).
//! `CRASH_VICTIM_TRACE=1` prints each step on stderr. At step `STOP_AT` the victim prints
//! `stop STEP PHASE` (where `PHASE` is `write`, `push`, `pull` or `rebase`, and ends in `-commit` at a
//! commit; the rebase at the end of a pull commits with it: `pull-commit`) and waits, inside SQLite,
//! for the test to kill it with SIGKILL. The work is the same for the same database and server, so a
//! step number names one point of it. If it gets to the end first it prints `drained` and `steps N C`
//! (how many steps and commits it made) and exits. Every wait is bounded: a victim nobody kills aborts
//! after 30 seconds.

use quartier_core::store::{Store, StoreOptions};
use quartier_core::sync::{FileSecretStore, SyncClient};
use rusqlite::Connection;
use rusqlite::hooks::Action;
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The step at which to stop (0: never).
static STOP_AT: AtomicU64 = AtomicU64::new(0);
/// Whether [`STOP_AT`] counts commits only.
static STOP_AT_COMMIT: AtomicBool = AtomicBool::new(false);
/// Steps made so far, and commits among them.
static STEPS: AtomicU64 = AtomicU64::new(0);
static COMMITS: AtomicU64 = AtomicU64::new(0);
/// Whether to print each step on stderr (`CRASH_VICTIM_TRACE=1`), to see what the step numbers name.
static TRACE: AtomicBool = AtomicBool::new(false);
/// What the victim's own code is doing: [`WRITING`] or [`SYNCING`].
static DOING: AtomicU8 = AtomicU8::new(WRITING);
const WRITING: u8 = 0;
const SYNCING: u8 = 1;
/// What the open transaction of a sync is, told by the rows it writes.
static TRANSACTION: Mutex<&str> = Mutex::new("");

/// Mutations per batch between two syncs, in turn.
const BATCHES: [u64; 4] = [1, 3, 2, 4];

/// Names the phase of a statement that writes during sync, from the statements the open transaction
/// ran so far: a push's answers start with `settled`, `settling`, `rejected` or the outbox; a pull
/// page with the confirmed state (`base`) and the cursor, and ends with the clock (`meta`); whatever the
/// same transaction writes after the clock is the rebase of the pending mutations on the new state.
fn statement_phase(sql: &str) -> &'static str {
    let mut transaction = TRANSACTION.lock().unwrap_or_else(|p| p.into_inner());
    let push =
        ["INTO settled", "INTO settling", "INTO rejected", "FROM outbox"].iter().any(|t| sql.contains(t));
    let (phase, next) = match *transaction {
        "" if push => ("push", "push"),
        "" | "pull" if sql.contains("INTO meta") => ("pull", "pull-end"),
        "" | "pull" => ("pull", "pull"),
        "push" => ("push", "push"),
        _ => ("rebase", "rebase"),
    };
    *transaction = next;
    phase
}

/// The phase of the open transaction of a sync, for its rows and its commit.
fn transaction_phase() -> &'static str {
    match *TRANSACTION.lock().unwrap_or_else(|p| p.into_inner()) {
        "push" => "push",
        "rebase" => "rebase",
        _ => "pull",
    }
}

fn writing() -> bool {
    DOING.load(Ordering::SeqCst) == WRITING
}

/// One step; stops there if it is the chosen one.
fn step(phase: &str, what: &str) {
    let step = STEPS.fetch_add(1, Ordering::SeqCst) + 1;
    let commit = if what == "commit" { COMMITS.fetch_add(1, Ordering::SeqCst) + 1 } else { 0 };
    if TRACE.load(Ordering::Relaxed) {
        eprintln!("step {step} {phase} {what}");
    }
    let counted = if STOP_AT_COMMIT.load(Ordering::SeqCst) { commit } else { step };
    if counted == STOP_AT.load(Ordering::SeqCst) {
        let suffix = if what == "commit" { "-commit" } else { "" };
        // Stdout is line-buffered: the line is out before the wait.
        println!("stop {counted} {phase}{suffix}");
        std::thread::sleep(Duration::from_secs(30));
        eprintln!("crash-victim: nobody killed me at step {step}");
        std::process::abort();
    }
}

/// The store's `on_open`: counts the steps of this connection: the start of each statement that writes
/// (its trace), each row it writes (the update hook; tables without rowid have none) and each commit.
fn instrument(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.trace_v2(
        TraceEventCodes::SQLITE_TRACE_STMT,
        Some(|event: TraceEvent<'_>| {
            let TraceEvent::Stmt(_, sql) = event else { return };
            let sql = sql.trim_start();
            let verb = sql.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            if !matches!(verb.as_str(), "INSERT" | "UPDATE" | "DELETE") {
                return;
            }
            let phase = if writing() { "write" } else { statement_phase(sql) };
            step(phase, &sql.chars().take(60).collect::<String>());
        }),
    )?;
    conn.update_hook(Some(|action: Action, _db: &str, table: &str, _row: i64| {
        let phase = if writing() { "write" } else { transaction_phase() };
        step(phase, &format!("{action:?} {table}"));
    }))?;
    conn.commit_hook(Some(|| {
        // A pull page and the rebase that ends the last one are one transaction: its commit is the pull's.
        let phase = match (writing(), transaction_phase()) {
            (true, _) => "write",
            (false, "push") => "push",
            (false, _) => "pull",
        };
        *TRANSACTION.lock().unwrap_or_else(|p| p.into_inner()) = "";
        step(phase, "commit");
        false // go on with the commit
    }))?;
    conn.rollback_hook(Some(|| {
        *TRANSACTION.lock().unwrap_or_else(|p| p.into_inner()) = "";
    }))?;
    Ok(())
}

struct Args {
    dir: PathBuf,
    server: String,
    neighbourhood: String,
    product: String,
    first: u64,
    count: u64,
    stop_at: u64,
    stop_at_commit: bool,
}

fn parse() -> Result<Args, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, server, neighbourhood, product, first, count, stop_at] = args.as_slice() else {
        return Err("usage: crash-victim DIR SERVER_URL NEIGHBOURHOOD PRODUCT FIRST COUNT STOP_AT".into());
    };
    let number = |name: &str, value: &str| value.parse::<u64>().map_err(|e| format!("{name} {value:?}: {e}"));
    Ok(Args {
        dir: PathBuf::from(dir),
        server: server.clone(),
        neighbourhood: neighbourhood.clone(),
        product: product.clone(),
        first: number("FIRST", first)?,
        count: number("COUNT", count)?,
        stop_at: number("STOP_AT", stop_at.trim_start_matches("commit:"))?,
        stop_at_commit: stop_at.starts_with("commit:"),
    })
}

fn main() -> ExitCode {
    let result = parse().and_then(|args| {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        runtime.block_on(run(args))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash-victim: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn sync(client: &SyncClient) -> Result<bool, String> {
    DOING.store(SYNCING, Ordering::SeqCst);
    let report = client.sync_once(Duration::from_secs(10)).await;
    DOING.store(WRITING, Ordering::SeqCst);
    let pending = client.store().pending_count().map_err(|e| e.to_string())?;
    Ok(report.is_ok_and(|r| r.complete) && pending == 0)
}

async fn run(args: Args) -> Result<(), String> {
    STOP_AT.store(args.stop_at, Ordering::SeqCst);
    STOP_AT_COMMIT.store(args.stop_at_commit, Ordering::SeqCst);
    TRACE.store(std::env::var_os("CRASH_VICTIM_TRACE").is_some(), Ordering::Relaxed);
    let options = StoreOptions { on_open: Some(instrument), ..StoreOptions::default() };
    let store = Arc::new(Store::open(args.dir.join("quartier.db"), options).map_err(|e| e.to_string())?);
    let secrets = Arc::new(FileSecretStore::new(args.dir.join("secrets.json")));
    let client = SyncClient::new(store.clone(), &args.server, secrets).map_err(|e| e.to_string())?;

    let end = args.first + args.count;
    let mut index = args.first;
    for batch in BATCHES.iter().cycle() {
        if index >= end {
            break;
        }
        for _ in 0..*batch {
            if index >= end {
                break;
            }
            let op = quartier_e2e::victim::planned(index, &args.product);
            let applied = store.mutate(&args.neighbourhood, op).map_err(|e| e.to_string())?;
            let json = serde_json::to_string(&applied.mutation).map_err(|e| e.to_string())?;
            println!("saved {} {index} {json}", applied.mutation.seq);
            index += 1;
        }
        sync(&client).await?;
    }
    for _ in 0..20 {
        if sync(&client).await? {
            println!("drained");
            println!("steps {} {}", STEPS.load(Ordering::SeqCst), COMMITS.load(Ordering::SeqCst));
            return Ok(());
        }
    }
    Err("the outbox did not drain in 20 rounds".into())
}
