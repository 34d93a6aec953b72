//! kill -9 during sync: a device process (`sync-victim`) writes and syncs through a fault proxy, and is
//! killed with SIGKILL at chosen moments — while it writes, while a push or a pull is on its way to the
//! server, after the server answered but before the device heard it, or at a random time. After each
//! kill the database is opened again here and must be intact, hold every mutation the victim said it
//! had saved (in its outbox, or applied on the server), and the server must have applied none twice;
//! then a sync from here must complete and empty the outbox.
//!
//! `QUARTIER_KILL_CYCLES=N` runs N kills (24 by default, a few seconds).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test that cannot unwrap has failed

use quartier_core::domain::mutation::{ProductAdd, StallOpen};
use quartier_core::domain::{Entity, EntityKey, EntityKind, Mutation, Op, Product};
use quartier_core::store::{Identity, Store, StoreOptions};
use quartier_core::sync::protocol::Outcome;
use quartier_core::sync::{FileSecretStore, SyncClient};
use quartier_e2e::fault_proxy::{FaultProxy, Faults, PausePoint, Resume};
use quartier_e2e::fixtures::neighbourhood;
use quartier_e2e::{TestServer, victim};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const DEVICE: &str = "victim-device";
const PERSON: &str = "tess";
const NID: &str = "market-street";
const PRODUCT: &str = "radishes";
/// Mutations per victim.
const COUNT: u64 = 14;

/// Where a victim is killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum KillPoint {
    /// After it reported some saved mutations, while it goes on writing.
    Writing,
    /// A push has reached the proxy; the server has not seen it.
    PushSent,
    /// The server applied a push; its answer has not reached the device.
    PushAnswered,
    /// A pull has reached the proxy.
    PullSent,
    /// The server answered a pull; the device has not stored it.
    PullAnswered,
    /// Any time after it started.
    Anytime,
}

const KILL_POINTS: [KillPoint; 6] = [
    KillPoint::Writing,
    KillPoint::PushSent,
    KillPoint::PushAnswered,
    KillPoint::PullSent,
    KillPoint::PullAnswered,
    KillPoint::Anytime,
];

fn open(dir: &Path) -> Arc<Store> {
    let identity = Identity { device_id: DEVICE.into(), person_id: PERSON.into() };
    let options = StoreOptions { identity: Some(identity), ..StoreOptions::default() };
    Arc::new(Store::open(dir.join("quartier.db"), options).unwrap())
}

fn client(store: &Arc<Store>, dir: &Path, url: &str) -> Arc<SyncClient> {
    SyncClient::new(store.clone(), url, Arc::new(FileSecretStore::new(dir.join("secrets.json")))).unwrap()
}

/// Syncs directly with the server until the outbox is empty and a round completed.
async fn drain(client: &SyncClient) {
    for _ in 0..50 {
        let report = client.sync_once(Duration::from_secs(10)).await.unwrap();
        if report.complete && client.store().pending_count().unwrap() == 0 {
            return;
        }
    }
    panic!("the outbox did not drain in 50 rounds");
}

/// The trader's device: founder of the neighbourhood, with a stall and a product at stock 0.
async fn set_up(server: &TestServer, dir: &Path) {
    let store = open(dir);
    let client = client(&store, dir, &server.url);
    client.register().await.unwrap();
    store.mutate(NID, neighbourhood("Rue du Marché", "Tess")).unwrap();
    store
        .mutate(
            NID,
            StallOpen {
                id: "stall".into(),
                name: "Tess's vegetables".into(),
                market: "Marché d'Aligre".into(),
                days: vec![2, 6],
                opens_min: 7 * 60,
                closes_min: 13 * 60,
                place: String::new(),
                cell: None,
            },
        )
        .unwrap();
    store
        .mutate(
            NID,
            ProductAdd {
                id: PRODUCT.into(),
                stall_id: "stall".into(),
                name: "Radishes".into(),
                unit: "bunch".into(),
                price_cents: 150,
                stock: 0,
                available_today: true,
            },
        )
        .unwrap();
    drain(&client).await;
}

/// One mutation of the victims: its number in [`victim::planned`], and the mutation itself when
/// known (reported by the victim, or found in the outbox after a kill).
struct Known {
    index: u64,
    mutation: Option<Mutation>,
}

/// Every mutation the victims saved, by seq.
struct Ledger {
    by_seq: BTreeMap<u64, Known>,
    /// The last seq of the set-up, before any victim.
    first_seq: u64,
    next_index: u64,
}

impl Ledger {
    fn last_seq(&self) -> u64 {
        self.by_seq.keys().next_back().copied().unwrap_or(self.first_seq)
    }

    /// A victim's `saved SEQ INDEX JSON` line.
    fn record(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("saved ") else { return };
        let mut parts = rest.splitn(3, ' ');
        let (seq, index, json) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let (seq, index): (u64, u64) = (seq.parse().unwrap(), index.parse().unwrap());
        let mutation: Mutation = serde_json::from_str(json).unwrap();
        assert_eq!((mutation.seq, index), (seq, self.next_index), "saved out of order: {line}");
        assert_eq!(mutation.op, victim::planned(index, PRODUCT));
        assert_eq!(seq, self.last_seq() + 1, "seqs must follow each other: {line}");
        self.by_seq.insert(seq, Known { index, mutation: Some(mutation) });
        self.next_index += 1;
    }

    /// After a kill: the victim may have saved one more mutation than it reported (killed between the
    /// two). If so it is in the outbox, or the server applied it already; it counts like the others.
    fn find_unreported(&mut self, outbox: &BTreeMap<u64, Mutation>, server: &TestServer) {
        let seq = self.last_seq() + 1;
        let index = self.next_index;
        if let Some(m) = outbox.get(&seq) {
            assert_eq!(
                m.op,
                victim::planned(index, PRODUCT),
                "seq {seq} in the outbox is not the next mutation"
            );
            self.by_seq.insert(seq, Known { index, mutation: Some(m.clone()) });
        } else if server.outcome(DEVICE, seq).is_some() {
            self.by_seq.insert(seq, Known { index, mutation: None });
        } else {
            return;
        }
        self.next_index += 1;
    }
}

/// The server's side in one snapshot: the outcomes of the known seqs, the product, and which favours
/// exist.
fn server_state(server: &TestServer, ledger: &Ledger) -> (BTreeMap<u64, Outcome>, Product, BTreeSet<u64>) {
    server.read(|tx| {
        let mut outcomes = BTreeMap::new();
        let mut favours = BTreeSet::new();
        for (seq, known) in &ledger.by_seq {
            if let Some(outcome) = tx.outcome(DEVICE, *seq)? {
                outcomes.insert(*seq, outcome);
            }
            if let Op::FavourPost(post) = victim::planned(known.index, PRODUCT) {
                if tx.get(&EntityKey::new(NID, EntityKind::Favour, &post.id))?.is_some() {
                    favours.insert(known.index);
                }
            }
        }
        let product = match tx.get(&EntityKey::new(NID, EntityKind::Product, PRODUCT))? {
            Some(Entity::Product(p)) => p,
            other => panic!("the product is gone: {other:?}"),
        };
        Ok((outcomes, product, favours))
    })
}

/// The database is intact; every saved mutation is in the outbox as it was saved, or applied on the
/// server; none is applied twice; the server applied nothing that was not saved.
fn check_nothing_lost(store: &Store, server: &TestServer, ledger: &mut Ledger) {
    let integrity: String = store
        .read(|conn| Ok(conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap()))
        .unwrap();
    assert_eq!(integrity, "ok");
    let outbox: BTreeMap<u64, Mutation> = store.outbox().unwrap().into_iter().map(|m| (m.seq, m)).collect();
    ledger.find_unreported(&outbox, server);
    for (seq, m) in &outbox {
        let known = ledger.by_seq.get(seq).and_then(|k| k.mutation.as_ref());
        assert_eq!(known, Some(m), "the outbox holds seq {seq} other than it was saved");
    }
    let (outcomes, product, favours) = server_state(server, ledger);
    let mut applied_moves = Vec::new();
    let mut stamps = Vec::new();
    for (seq, known) in &ledger.by_seq {
        let outcome = outcomes.get(seq);
        assert!(
            outbox.contains_key(seq) || outcome.is_some(),
            "seq {seq} was saved, but is neither in the outbox nor answered by the server"
        );
        match (outcome, victim::planned(known.index, PRODUCT)) {
            (None, _) => {}
            (Some(Outcome::Rejected { code, message }), _) => {
                panic!("the server refused seq {seq} ({code:?}: {message}); none of these can be refused")
            }
            (Some(Outcome::Applied), Op::ProductAdjustStock(adjust)) => {
                applied_moves.push(adjust.delta);
                stamps.extend(known.mutation.as_ref().map(|m| m.hlc));
            }
            (Some(Outcome::Applied), Op::FavourPost(post)) => {
                assert!(
                    favours.contains(&known.index),
                    "seq {seq} applied, but favour {} is not there",
                    post.id
                );
            }
            (Some(Outcome::Applied), op) => panic!("the victim does not make {op:?}"),
        }
    }
    // Exactly once: the stock is the sum of the applied moves, and each is logged once.
    let expected: i64 = applied_moves.iter().sum();
    assert_eq!(product.stock, expected, "stock is not the sum of the {} applied moves", applied_moves.len());
    if product.moves.len() < Product::MAX_MOVES {
        let mut logged: Vec<i64> = product.moves.iter().map(|m| m.delta).collect();
        logged.sort_unstable();
        applied_moves.sort_unstable();
        assert_eq!(logged, applied_moves, "the product's move log is not each applied move once");
        for stamp in stamps {
            assert_eq!(
                product.moves.iter().filter(|m| m.hlc == stamp).count(),
                1,
                "move {stamp} is not logged once"
            );
        }
    }
    // Nothing that was not saved: the server knows no seq past the last one.
    let next = ledger.last_seq() + 1;
    assert!(server.outcome(DEVICE, next).is_none(), "the server applied seq {next}, which was never saved");
    assert!(!outbox.contains_key(&next), "the outbox has seq {next}, which was never saved");
}

/// Kills `child` once `point` is reached (or a few seconds passed), then lets paused requests go on.
async fn kill_at(
    point: KillPoint,
    child: &mut std::process::Child,
    lines: &std::sync::mpsc::Receiver<String>,
    ledger: &mut Ledger,
    proxy: &FaultProxy,
    rng: &mut StdRng,
) -> bool {
    let pause = match point {
        KillPoint::PushSent => Some(proxy.pause("/v1/push", PausePoint::BeforeForward)),
        KillPoint::PushAnswered => Some(proxy.pause("/v1/push", PausePoint::BeforeAnswer)),
        KillPoint::PullSent => Some(proxy.pause("/v1/neighbourhoods/", PausePoint::BeforeForward)),
        KillPoint::PullAnswered => Some(proxy.pause("/v1/neighbourhoods/", PausePoint::BeforeAnswer)),
        KillPoint::Writing | KillPoint::Anytime => None,
    };
    let (reached, resume) = match pause {
        Some(pause) => {
            let reached =
                tokio::time::timeout(Duration::from_secs(5), pause.reached).await.is_ok_and(|r| r.is_ok());
            (reached, Some(pause.resume))
        }
        None if point == KillPoint::Writing => {
            let wanted = rng.random_range(1..=COUNT as usize);
            let mut seen = 0;
            while seen < wanted {
                match lines.recv_timeout(Duration::from_secs(5)) {
                    Ok(line) => {
                        seen += usize::from(line.starts_with("saved "));
                        ledger.record(&line);
                    }
                    Err(_) => break,
                }
            }
            (seen == wanted, None)
        }
        None => {
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..250))).await;
            (true, None)
        }
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    proxy.disarm();
    if let Some(resume) = resume {
        // The request goes on after its device died: forwarded late, or never; answered to no one.
        let _ = resume.send(if rng.random_bool(0.5) { Resume::Go } else { Resume::Close });
    }
    reached
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_sync_loses_nothing_and_applies_nothing_twice() {
    let cycles: usize = std::env::var("QUARTIER_KILL_CYCLES").ok().and_then(|n| n.parse().ok()).unwrap_or(24);
    let seed: u64 = std::env::var("QUARTIER_KILL_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(9);
    let mut rng = StdRng::seed_from_u64(seed);
    let server = TestServer::start().await;
    // Only delays: they widen the moments a kill can land in, and the pauses pick exact ones.
    let proxy =
        FaultProxy::start(&server.url, seed, Faults::delays(Duration::from_millis(15))).await.unwrap();
    let dir = tempfile::TempDir::new().unwrap();
    set_up(&server, dir.path()).await;

    let mut ledger = Ledger { by_seq: BTreeMap::new(), first_seq: 3, next_index: 0 };
    let mut reached = BTreeSet::new();
    let mut drained_by_victim = 0;
    for cycle in 0..cycles {
        let point = KILL_POINTS[cycle % KILL_POINTS.len()];
        let mut child = Command::new(env!("CARGO_BIN_EXE_sync-victim"))
            .arg(dir.path())
            .arg(&proxy.url)
            .args([NID, PRODUCT, &ledger.next_index.to_string(), &COUNT.to_string()])
            .arg(rng.random::<u64>().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        if kill_at(point, &mut child, &lines, &mut ledger, &proxy, &mut rng).await {
            reached.insert(point);
        }
        reader.join().unwrap();
        for line in lines.try_iter() {
            drained_by_victim += usize::from(line == "drained");
            ledger.record(&line);
        }
        assert!(
            proxy.settle(Duration::from_secs(10)).await,
            "requests of the dead victim still in the proxy"
        );

        // Opened again after the crash: intact, nothing lost, nothing twice.
        let store = open(dir.path());
        check_nothing_lost(&store, &server, &mut ledger);
        // Most times the next sync runs here at once; otherwise the next victim starts with a full outbox.
        if rng.random_bool(0.7) || cycle + 1 == cycles {
            drain(&client(&store, dir.path(), &server.url)).await;
            check_nothing_lost(&store, &server, &mut ledger);
            let (outcomes, _, favours) = server_state(&server, &ledger);
            assert_eq!(
                outcomes.len(),
                ledger.by_seq.len(),
                "after the sync every saved mutation is answered"
            );
            let posted = ledger.by_seq.values().filter(|k| k.index % 2 == 1).count();
            assert_eq!(favours.len(), posted);
        }
    }
    let all: BTreeSet<KillPoint> = KILL_POINTS.into_iter().collect();
    assert_eq!(reached, all, "some kill points were never reached");
    assert!(
        ledger.by_seq.len() >= cycles,
        "the victims saved too little to test anything: {}",
        ledger.by_seq.len()
    );
    eprintln!(
        "{cycles} kills, {} mutations saved, {drained_by_victim} victims drained before their kill; proxy: {}",
        ledger.by_seq.len(),
        proxy.stats()
    );
}

/// Where `crash-victim` can stop, as it names them: each statement, row and commit of a local write, of
/// taking a push's answers, of storing a pulled page, and of the rebase at the end of a pull (which
/// commits with the page).
const CRASH_PHASES: [&str; 7] =
    ["write", "write-commit", "push", "push-commit", "pull", "rebase", "pull-commit"];

/// Mutations per crash victim.
const CRASH_COUNT: u64 = 6;

/// Runs one `crash-victim` told to stop at `stop_at` (a step, or `commit:N`), records what it saved,
/// and kills it (SIGKILL) where it stopped. The phase it was killed in; or, if it finished first, how
/// many steps and commits it made.
fn crash_once(dir: &Path, url: &str, ledger: &mut Ledger, stop_at: &str) -> Result<String, (u64, u64)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash-victim"))
        .arg(dir)
        .arg(url)
        .args([NID, PRODUCT, &ledger.next_index.to_string(), &CRASH_COUNT.to_string(), stop_at])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut steps = None;
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(stop) = line.strip_prefix("stop ") {
            let (step, phase) = stop.split_once(' ').unwrap();
            assert_eq!(step, stop_at.trim_start_matches("commit:"), "stopped elsewhere: {line}");
            child.kill().unwrap(); // SIGKILL, while it waits inside SQLite
            child.wait().unwrap();
            return Ok(phase.to_owned());
        }
        if let Some(counts) = line.strip_prefix("steps ") {
            let (made, commits) = counts.split_once(' ').unwrap();
            steps = Some((made.parse().unwrap(), commits.parse().unwrap()));
        }
        ledger.record(&line);
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "crash-victim failed ({status}) before step {stop_at}");
    Err(steps.expect("a victim that got to the end says how many steps it made"))
}

/// Every favour the victims saved is on the device, and the next one, never saved, is not: a local
/// write is its effects and its outbox entry together, or nothing.
fn check_local_writes(store: &Store, ledger: &Ledger) {
    for known in ledger.by_seq.values() {
        if let Op::FavourPost(post) = victim::planned(known.index, PRODUCT) {
            let key = EntityKey::new(NID, EntityKind::Favour, &post.id);
            assert!(
                store.get(&key).unwrap().is_some(),
                "favour {} was saved but is not on the device",
                post.id
            );
        }
    }
    if let Op::FavourPost(post) = victim::planned(ledger.next_index, PRODUCT) {
        let key = EntityKey::new(NID, EntityKind::Favour, &post.id);
        assert!(
            store.get(&key).unwrap().is_none(),
            "favour {} was never saved but is on the device",
            post.id
        );
    }
}

/// kill -9 at exact points: each `crash-victim` stops at a chosen row or commit of its SQLite work (a
/// local write, taking a push's answers, storing a pulled page, the rebase) and is killed there. After
/// each kill: the database is intact, every write it reported saved is on the device and in its outbox
/// or applied on the server, none is applied twice, and the next sync drains the outbox.
///
/// `QUARTIER_CRASH_POINTS=N` kills N times (240 by default, about 15 seconds); `QUARTIER_KILL_SEED`
/// chooses the points.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_hundreds_of_points_of_writes_and_sync() {
    let wanted: usize =
        std::env::var("QUARTIER_CRASH_POINTS").ok().and_then(|n| n.parse().ok()).unwrap_or(240);
    let seed: u64 = std::env::var("QUARTIER_KILL_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(9);
    let mut rng = StdRng::seed_from_u64(seed);
    let server = TestServer::start().await;
    let dir = tempfile::TempDir::new().unwrap();
    set_up(&server, dir.path()).await;

    let mut ledger = Ledger { by_seq: BTreeMap::new(), first_seq: 3, next_index: 0 };
    // How many steps and commits a victim makes, learnt from those that got to the end (the first one is
    // let run to its end); the points are drawn a little past them, as the work grows. Every other kill
    // is at a commit, which are few among the steps.
    let (mut steps, mut commits): (u64, u64) = (0, 0);
    let mut killed: BTreeMap<String, usize> = BTreeMap::new();
    let mut points = BTreeSet::new();
    let (mut kills, mut runs) = (0, 0);
    while kills < wanted {
        runs += 1;
        assert!(runs <= wanted * 2, "too many victims got to the end: {runs} runs for {kills} kills");
        let stop_at = if steps == 0 {
            "0".to_owned()
        } else if runs % 2 == 0 {
            format!("commit:{}", rng.random_range(1..=commits + commits / 4))
        } else {
            rng.random_range(1..=steps + steps / 4).to_string()
        };
        let url = server.url.clone();
        let dir_path = dir.path().to_path_buf();
        let point = stop_at.clone();
        let (outcome, back) = quartier_e2e::blocking(move || {
            let outcome = crash_once(&dir_path, &url, &mut ledger, &point);
            (outcome, ledger)
        });
        ledger = back;
        match outcome {
            Ok(phase) => {
                kills += 1;
                points.insert(stop_at);
                *killed.entry(phase).or_default() += 1;
            }
            Err((made, made_commits)) => (steps, commits) = (made.max(10), made_commits.max(2)),
        }

        let store = open(dir.path());
        check_nothing_lost(&store, &server, &mut ledger);
        check_local_writes(&store, &ledger);
        // Half the time the next sync runs here at once; otherwise the next victim starts with what
        // this one left in its outbox.
        if rng.random_bool(0.5) || kills == wanted {
            drain(&client(&store, dir.path(), &server.url)).await;
            check_nothing_lost(&store, &server, &mut ledger);
            check_local_writes(&store, &ledger);
            let (outcomes, _, favours) = server_state(&server, &ledger);
            assert_eq!(
                outcomes.len(),
                ledger.by_seq.len(),
                "after the sync every saved mutation is answered"
            );
            let posted = ledger.by_seq.values().filter(|k| k.index % 2 == 1).count();
            assert_eq!(favours.len(), posted);
        }
    }
    eprintln!(
        "{kills} kills at {} different steps in {runs} runs, {} mutations saved; kills by phase: {killed:?}",
        points.len(),
        ledger.by_seq.len()
    );
    for phase in CRASH_PHASES {
        assert!(
            killed.get(phase).copied().unwrap_or(0) * 50 >= wanted,
            "too few kills during {phase}: {killed:?}"
        );
    }
}
