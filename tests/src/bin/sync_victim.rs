//! `sync-victim`: a device in a process of its own, for the kill -9 test (`tests/sync_kill.rs`).
//!
//! `sync-victim DIR SERVER_URL NEIGHBOURHOOD PRODUCT FIRST COUNT SEED` opens the device database
//! `DIR/quartier.db` (registered already, its token in `DIR/secrets.json`), and while a background task
//! syncs with `SERVER_URL` in a loop, makes `COUNT` mutations in the neighbourhood: those numbered
//! `FIRST`, `FIRST + 1`… in [`quartier_e2e::victim::planned`] (stock moves of `PRODUCT` and favours).
//! After each one is saved it prints `saved SEQ INDEX MUTATION-JSON` on stdout: from then on the device
//! owes it to the server. When all are made it syncs until its outbox is empty and prints `drained`.
//! The test kills it with SIGKILL at any moment in between; every loop here is bounded in count and
//! time. `SEED` draws the pauses between writes and between sync rounds.

use quartier_core::store::{Store, StoreOptions};
use quartier_core::sync::{FileSecretStore, SyncClient};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest the victim lives if nobody kills it.
const LIFETIME: Duration = Duration::from_secs(60);

struct Args {
    dir: PathBuf,
    server: String,
    neighbourhood: String,
    product: String,
    first: u64,
    count: u64,
    seed: u64,
}

fn parse() -> Result<Args, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, server, neighbourhood, product, first, count, seed] = args.as_slice() else {
        return Err("usage: sync-victim DIR SERVER_URL NEIGHBOURHOOD PRODUCT FIRST COUNT SEED".into());
    };
    Ok(Args {
        dir: PathBuf::from(dir),
        server: server.clone(),
        neighbourhood: neighbourhood.clone(),
        product: product.clone(),
        first: first.parse().map_err(|e| format!("FIRST {first:?}: {e}"))?,
        count: count.parse().map_err(|e| format!("COUNT {count:?}: {e}"))?,
        seed: seed.parse().map_err(|e| format!("SEED {seed:?}: {e}"))?,
    })
}

fn main() -> ExitCode {
    let result = parse().and_then(|args| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(run(args))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sync-victim: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let started = Instant::now();
    let store = Arc::new(
        Store::open(args.dir.join("quartier.db"), StoreOptions::default()).map_err(|e| e.to_string())?,
    );
    let secrets = Arc::new(FileSecretStore::new(args.dir.join("secrets.json")));
    let client = SyncClient::new(store.clone(), &args.server, secrets).map_err(|e| e.to_string())?;
    let mut rng = StdRng::seed_from_u64(args.seed);

    let background = tokio::spawn({
        let client = client.clone();
        let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
        async move {
            for _ in 0..10_000 {
                if started.elapsed() > LIFETIME {
                    break;
                }
                let _ = client.sync_once(Duration::from_secs(1)).await;
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..8))).await;
            }
        }
    });

    for index in args.first..args.first + args.count {
        let op = quartier_e2e::victim::planned(index, &args.product);
        let applied = store.mutate(&args.neighbourhood, op).map_err(|e| e.to_string())?;
        let json = serde_json::to_string(&applied.mutation).map_err(|e| e.to_string())?;
        // Stdout is line-buffered: the line is out before the next mutation starts.
        println!("saved {} {index} {json}", applied.mutation.seq);
        if rng.random_bool(0.3) {
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..4))).await;
        }
    }

    background.abort();
    let _ = background.await;
    while started.elapsed() < LIFETIME {
        match client.sync_once(Duration::from_secs(2)).await {
            Ok(report) if report.complete && store.pending_count().map_err(|e| e.to_string())? == 0 => {
                println!("drained");
                return Ok(());
            }
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    Err(format!("the outbox did not drain in {LIFETIME:?}"))
}
