//! Server restarts in the middle of pushes and pulls, on SQLite and on PostgreSQL: four devices write
//! and sync continuously with a server in a process of its own ([`ServerProcess`]), through a proxy
//! that only splits pulls into small pages, while the test stops the server — gracefully or with
//! SIGKILL — at a random moment, or just as a push or a pull reaches it, and starts it again on the
//! same database and address. In the end every mutation the devices saved is applied on the server
//! exactly once (none lost, none twice: the stock is the sum of the moves, each logged once), and
//! every device holds what the server holds.
//!
//! `QUARTIER_RESTART_CYCLES=N` restarts N times per database (8 by default, a few seconds each).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test that cannot unwrap has failed

use quartier_core::domain::mutation::{FavourPost, ProductAdd, ProductAdjustStock, StallOpen};
use quartier_core::domain::{Entity, EntityKey, EntityKind, FavourKind, Op, Product};
use quartier_core::sync::SyncClient;
use quartier_core::sync::protocol::Outcome;
use quartier_e2e::fault_proxy::{FaultProxy, Faults, PausePoint, Resume};
use quartier_e2e::fixtures::neighbourhood;
use quartier_e2e::server_process::ServerProcess;
use quartier_e2e::{Device, TestDb};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const NID: &str = "aligre";
const PRODUCT: &str = "radishes";

/// How the server goes down in one cycle.
#[derive(Clone, Copy, Debug)]
enum Stop {
    /// SIGKILL at a random moment.
    KillAnytime,
    /// Graceful, at a random moment.
    GracefulAnytime,
    /// SIGKILL while a push is being applied: just after it was forwarded to the server.
    KillDuringPush,
    /// SIGKILL while a pull page is being read.
    KillDuringPull,
    /// Graceful while a push is on its way in.
    GracefulDuringPush,
}

const STOPS: [Stop; 5] = [
    Stop::KillAnytime,
    Stop::KillDuringPush,
    Stop::GracefulAnytime,
    Stop::KillDuringPull,
    Stop::GracefulDuringPush,
];

/// One device at work: what it saved, in order.
struct Writer {
    device: Device,
    client: Arc<SyncClient>,
    /// Whether it restocks the product (the stall's owner) or only posts favours.
    trader: bool,
    saved: Mutex<Vec<(u64, Op)>>,
}

impl Writer {
    fn op(&self, n: usize, rng: &mut StdRng) -> Op {
        if self.trader && rng.random_bool(0.5) {
            ProductAdjustStock { id: PRODUCT.into(), delta: rng.random_range(1..10) }.into()
        } else {
            FavourPost {
                id: format!("{}-favour-{n}", self.device.name),
                kind: FavourKind::Ask,
                title: format!("Favour {n} of {}", self.device.name),
                details: String::new(),
                category: "garden".into(),
                window: None,
                cell: None,
            }
            .into()
        }
    }

    /// Writes and syncs until told to stop; sync failures (the server is down) are expected.
    async fn work(self: Arc<Self>, seed: u64, done: Arc<AtomicBool>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut n = 0;
        // Bounded: the test stops it long before.
        for _ in 0..100_000 {
            if done.load(Ordering::SeqCst) {
                return;
            }
            for _ in 0..rng.random_range(1..4) {
                let op = self.op(n, &mut rng);
                n += 1;
                let applied = self.device.act(NID, op.clone()).unwrap();
                self.saved.lock().unwrap().push((applied.mutation.seq, op));
            }
            let _ = self.client.sync_once(Duration::from_secs(2)).await;
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..15))).await;
        }
    }
}

/// Alice founds the neighbourhood and opens a stall with the product (stock 0); her tablet is linked;
/// Bob and Chloé join.
async fn set_up(server: &ServerProcess, proxy: &FaultProxy) -> Vec<Arc<Writer>> {
    let alice = Device::new(&server.view, "alice").await;
    let create = neighbourhood("Aligre", "Alice");
    alice.act(NID, create).unwrap();
    let stall = StallOpen {
        id: "stall".into(),
        name: "Alice's vegetables".into(),
        market: "Marché d'Aligre".into(),
        days: vec![2, 6],
        opens_min: 7 * 60,
        closes_min: 13 * 60,
        place: String::new(),
        cell: None,
    };
    alice.act(NID, stall).unwrap();
    let product = ProductAdd {
        id: PRODUCT.into(),
        stall_id: "stall".into(),
        name: "Radishes".into(),
        unit: "bunch".into(),
        price_cents: 150,
        stock: 0,
        available_today: true,
    };
    alice.act(NID, product).unwrap();
    let invitation = alice.store.invite(NID, 2, 86_400_000).unwrap();
    alice.sync().await;
    let tablet = alice.link("alice-tablet").await;
    let bob = Device::new(&server.view, "bob").await;
    let chloe = Device::new(&server.view, "chloe").await;
    bob.client.join(&invitation.code, "Bob").await.unwrap();
    chloe.client.join(&invitation.code, "Chloé").await.unwrap();
    for device in [&alice, &tablet, &bob, &chloe] {
        device.sync().await;
    }
    [(alice, true), (tablet, true), (bob, false), (chloe, false)]
        .into_iter()
        .map(|(device, trader)| {
            let client = device.client_via(&proxy.url);
            Arc::new(Writer { device, client, trader, saved: Mutex::new(Vec::new()) })
        })
        .collect()
}

/// Stops the server as `stop` says; returns whether the chosen moment was reached.
async fn stop_server(server: &mut ServerProcess, proxy: &FaultProxy, stop: Stop, rng: &mut StdRng) -> bool {
    let pause = match stop {
        Stop::KillDuringPush | Stop::GracefulDuringPush => {
            Some(proxy.pause("/v1/push", PausePoint::BeforeForward))
        }
        Stop::KillDuringPull => Some(proxy.pause("/v1/neighbourhoods/", PausePoint::BeforeForward)),
        Stop::KillAnytime | Stop::GracefulAnytime => None,
    };
    let reached = match pause {
        Some(pause) => {
            let reached =
                tokio::time::timeout(Duration::from_secs(5), pause.reached).await.is_ok_and(|r| r.is_ok());
            // Let the request go to the server, and go down while it works on it (or just after).
            let _ = pause.resume.send(Resume::Go);
            tokio::time::sleep(Duration::from_micros(rng.random_range(0..3_000))).await;
            reached
        }
        None => {
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..200))).await;
            true
        }
    };
    match stop {
        Stop::GracefulAnytime | Stop::GracefulDuringPush => server.stop(),
        Stop::KillAnytime | Stop::KillDuringPush | Stop::KillDuringPull => server.kill(),
    }
    proxy.disarm();
    reached
}

/// Every device's saved mutations applied once on the server, nothing else; every device holds what
/// the server lets it see.
fn check(server: &ServerProcess, writers: &[Arc<Writer>]) -> (usize, usize) {
    let view = &server.view;
    let mut moves = Vec::new();
    let mut saved_count = 0;
    for writer in writers {
        let device_id = writer.device.store.identity().device_id.clone();
        let saved = writer.saved.lock().unwrap();
        saved_count += saved.len();
        for (seq, op) in saved.iter() {
            match view.outcome(&device_id, *seq) {
                Some(Outcome::Applied) => {}
                other => panic!(
                    "{}'s seq {seq} ({op:?}) is not applied on the server: {other:?}",
                    writer.device.name
                ),
            }
            match op {
                Op::ProductAdjustStock(adjust) => moves.push(adjust.delta),
                Op::FavourPost(post) => {
                    let key = EntityKey::new(NID, EntityKind::Favour, &post.id);
                    assert!(view.entity(&key).is_some(), "favour {} is lost", post.id);
                }
                other => panic!("not a mutation of this test: {other:?}"),
            }
        }
        let last = saved.last().map_or(0, |(seq, _)| *seq);
        assert!(
            view.outcome(&device_id, last + 1).is_none(),
            "{} has seq {} on the server, which it never saved",
            writer.device.name,
            last + 1
        );
        assert!(
            writer.device.store.outbox().unwrap().is_empty(),
            "{} has an outbox left",
            writer.device.name
        );
    }
    let product = match view.entity(&EntityKey::new(NID, EntityKind::Product, PRODUCT)) {
        Some(Entity::Product(product)) => product,
        other => panic!("the product is gone: {other:?}"),
    };
    assert_eq!(
        product.stock,
        moves.iter().sum::<i64>(),
        "the stock is not the sum of the {} moves",
        moves.len()
    );
    if product.moves.len() < Product::MAX_MOVES {
        let mut logged: Vec<i64> = product.moves.iter().map(|m| m.delta).collect();
        logged.sort_unstable();
        moves.sort_unstable();
        assert_eq!(logged, moves, "the move log is not each move once");
    }
    for writer in writers {
        let person = writer.device.store.identity().person_id.clone();
        assert_eq!(
            writer.device.replica(NID),
            view.visible_to(NID, &person),
            "{} differs from the server",
            writer.device.name
        );
    }
    (saved_count, moves.len())
}

async fn restarts(db: TestDb, seed: u64) {
    let cycles: usize =
        std::env::var("QUARTIER_RESTART_CYCLES").ok().and_then(|n| n.parse().ok()).unwrap_or(8);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut server = ServerProcess::start(db, env!("CARGO_BIN_EXE_server-process")).await;
    // Pulls in pages of three changes, so that a stop falls between pages too.
    let faults = Faults { pull_page_limit: Some(3), ..Faults::NONE };
    let proxy = FaultProxy::start(server.url(), seed, faults).await.unwrap();
    let writers = set_up(&server, &proxy).await;

    let done = Arc::new(AtomicBool::new(false));
    let mut working = tokio::task::JoinSet::new();
    for writer in &writers {
        working.spawn(writer.clone().work(rng.random(), done.clone()));
    }
    let mut reached = 0;
    for cycle in 0..cycles {
        let stop = STOPS[cycle % STOPS.len()];
        reached += usize::from(stop_server(&mut server, &proxy, stop, &mut rng).await);
        // Down for a while: the devices' syncs fail and their writes wait in their outboxes.
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..150))).await;
        server.restart().await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..300))).await;
    }
    done.store(true, Ordering::SeqCst);
    while let Some(finished) = working.join_next().await {
        finished.unwrap();
    }
    assert!(proxy.settle(Duration::from_secs(10)).await, "requests still in the proxy");

    // Everyone drains directly, then pulls once more to see the others' last writes.
    for _ in 0..2 {
        for writer in &writers {
            writer.device.sync().await;
        }
    }
    let (saved, moves) = check(&server, &writers);
    eprintln!(
        "{db:?}: {cycles} restarts ({reached} at their chosen moment), {saved} mutations saved ({moves} stock moves), all applied once; proxy: {}",
        proxy.stats()
    );
    assert!(reached * 2 >= cycles, "too few stops at their chosen moment: {reached} of {cycles}");
    assert!(saved >= cycles * 4, "the devices wrote too little to test anything: {saved}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restarts_on_sqlite_lose_nothing_and_apply_nothing_twice() {
    restarts(TestDb::Sqlite, 11).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restarts_on_postgresql_lose_nothing_and_apply_nothing_twice() {
    restarts(TestDb::Postgres, 12).await;
}
