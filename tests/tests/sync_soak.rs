//! Network soak: ten devices write continuously — favours, pre-orders, restocks, confirmations — and
//! sync through the fault proxy (drops, cuts, truncations, errors, duplicates, reorders, delays) while
//! partitions come and go (a partitioned device's requests go to a closed port, so it works offline).
//! After every step of every device:
//! - **read-your-writes**: what a device just saved is in its replica, exactly, and every favour it
//!   ever posted stays there;
//! - **monotonic reads**: a device never loses a favour it has seen, and its sync cursor never goes
//!   back;
//! - **atomicity**: an order's confirmation moves the order and the product's reservation together,
//!   so on the trader's devices each product's reservation is the sum of its confirmed pre-orders.
//!
//! Once the network heals every mutation is answered once (applied or refused, never both, never
//! neither), every device holds what the server lets it see, and the parts everyone sees are the same
//! on every device.
//!
//! `QUARTIER_SOAK_ROUNDS=N` runs N rounds per device (30 by default, well under a minute);
//! `QUARTIER_SOAK_SEED` changes the draw.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test that cannot unwrap has failed

use quartier_core::domain::mutation::{
    FavourPost, OrderConfirm, OrderPlace, ProductAdd, ProductAdjustStock, StallOpen,
};
use quartier_core::domain::{Effect, Entity, EntityKind, FavourKind, Op, OrderLine, OrderStatus};
use quartier_core::store::StoreError;
use quartier_core::sync::SyncClient;
use quartier_core::sync::protocol::Outcome;
use quartier_e2e::fault_proxy::{FaultProxy, Faults};
use quartier_e2e::fixtures::neighbourhood;
use quartier_e2e::{Device, TestServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

const NID: &str = "aligre";
const PRODUCTS: [&str; 2] = ["radishes", "leeks"];
const MEMBERS: [&str; 8] = ["bob", "chloe", "dora", "emile", "fanny", "gael", "hugo", "ines"];

/// One device and what the test knows of it.
struct Soaker {
    device: Device,
    /// Through the fault proxy, and to a closed port during a partition.
    via_proxy: Arc<SyncClient>,
    partitioned_client: Arc<SyncClient>,
    partitioned: bool,
    trader: bool,
    /// Every mutation it saved: seq → op.
    saved: BTreeMap<u64, Op>,
    /// Favours it posted, and favours it has seen.
    posted: BTreeSet<String>,
    seen: BTreeSet<String>,
    cursor: u64,
    made: usize,
}

impl Soaker {
    fn new(device: Device, proxy: &str, closed: &str, trader: bool) -> Soaker {
        let via_proxy = device.client_via(proxy);
        let partitioned_client = device.client_via(closed);
        Soaker {
            device,
            via_proxy,
            partitioned_client,
            partitioned: false,
            trader,
            saved: BTreeMap::new(),
            posted: BTreeSet::new(),
            seen: BTreeSet::new(),
            cursor: 0,
            made: 0,
        }
    }

    fn name(&self) -> &str {
        &self.device.name
    }

    /// The next thing this person does.
    fn next_op(&mut self, rng: &mut StdRng) -> Op {
        self.made += 1;
        let n = self.made;
        let favour = |name: &str| -> Op {
            FavourPost {
                id: format!("{name}-favour-{n}"),
                kind: FavourKind::Ask,
                title: format!("Favour {n} of {name}"),
                details: String::new(),
                category: "garden".into(),
                window: None,
                cell: None,
            }
            .into()
        };
        let product = PRODUCTS[rng.random_range(0..PRODUCTS.len())].to_owned();
        match (self.trader, rng.random_range(0..3)) {
            (true, 0) => ProductAdjustStock { id: product, delta: rng.random_range(1..4) }.into(),
            (true, 1) => {
                let placed: Vec<String> = self
                    .device
                    .replica(NID)
                    .into_iter()
                    .filter_map(|e| match e {
                        Entity::Order(o) if o.status == OrderStatus::Placed => Some(o.id),
                        _ => None,
                    })
                    .collect();
                match placed.get(rng.random_range(0..placed.len().max(1))) {
                    Some(id) => OrderConfirm { id: id.clone() }.into(),
                    None => favour(self.name()),
                }
            }
            (false, 0) => OrderPlace {
                id: format!("{}-order-{n}", self.name()),
                stall_id: "stall".into(),
                lines: vec![OrderLine { product_id: product, quantity: rng.random_range(1..3) }],
                pickup_day: None,
                note: String::new(),
            }
            .into(),
            _ => favour(self.name()),
        }
    }

    /// Acts, and checks read-your-writes at once.
    fn act(&mut self, rng: &mut StdRng) {
        let op = self.next_op(rng);
        match self.device.act(NID, op.clone()) {
            Ok(applied) => {
                for effect in &applied.effects {
                    let stored = self.device.store.get(&effect.key()).unwrap();
                    match effect {
                        Effect::Put { entity } => assert_eq!(
                            stored.as_ref(),
                            Some(entity),
                            "{}: its own write is not what it reads back",
                            self.name()
                        ),
                        Effect::Delete { key } => {
                            assert!(stored.is_none(), "{}: {key:?} still there", self.name())
                        }
                    }
                }
                if let Op::FavourPost(post) = &op {
                    self.posted.insert(post.id.clone());
                }
                self.saved.insert(applied.mutation.seq, op);
            }
            // The rules refuse it on this device already (no stock left to confirm): nothing saved.
            Err(StoreError::Rejected(_)) => {}
            Err(other) => panic!("{}: {other}", self.name()),
        }
    }

    /// One sync round through the network as it is for this device now.
    async fn sync(&self) {
        let client = if self.partitioned { &self.partitioned_client } else { &self.via_proxy };
        let _ = client.sync_once(Duration::from_secs(1)).await;
    }

    /// Read-your-writes over time, monotonic reads, and the atomicity of confirmations.
    fn observe(&mut self) {
        let replica = self.device.replica(NID);
        let favours: BTreeSet<String> = replica
            .iter()
            .filter_map(|e| match e {
                Entity::Favour(f) => Some(f.id.clone()),
                _ => None,
            })
            .collect();
        let lost: Vec<&String> = self.posted.difference(&favours).collect();
        assert!(lost.is_empty(), "{}: its own favours are gone: {lost:?}", self.name());
        let unseen: Vec<&String> = self.seen.difference(&favours).collect();
        assert!(unseen.is_empty(), "{}: favours it had seen are gone: {unseen:?}", self.name());
        self.seen = favours;
        let cursor = self.device.store.sync_cursor(NID).unwrap();
        assert!(
            cursor >= self.cursor,
            "{}: its sync cursor went back from {} to {cursor}",
            self.name(),
            self.cursor
        );
        self.cursor = cursor;
        if self.trader {
            check_reservations(self.name(), &replica);
        }
    }
}

/// Each product's reservation is the sum of its confirmed pre-orders, and no stock is negative.
fn check_reservations(whose: &str, entities: &[Entity]) {
    let mut confirmed: BTreeMap<&str, i64> = BTreeMap::new();
    for entity in entities {
        if let Entity::Order(order) = entity {
            if matches!(order.status, OrderStatus::Confirmed | OrderStatus::Ready) {
                for line in &order.lines {
                    *confirmed.entry(line.product_id.as_str()).or_default() += line.quantity;
                }
            }
        }
    }
    for entity in entities {
        if let Entity::Product(product) = entity {
            let expected = confirmed.get(product.id.as_str()).copied().unwrap_or(0);
            assert_eq!(
                product.reserved, expected,
                "{whose}: {} has {} reserved but its confirmed pre-orders hold {expected}",
                product.id, product.reserved
            );
            assert!(product.stock >= 0 && product.free_stock() >= 0, "{whose}: {product:?} below zero");
        }
    }
}

/// Alice founds the neighbourhood, opens the stall with two products and links her tablet; eight
/// neighbours join. All of it directly.
async fn set_up(server: &TestServer) -> (Device, Device, Vec<Device>) {
    let alice = Device::new(server, "alice").await;
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
    for id in PRODUCTS {
        let product = ProductAdd {
            id: id.into(),
            stall_id: "stall".into(),
            name: id.into(),
            unit: "bunch".into(),
            price_cents: 150,
            stock: 5,
            available_today: true,
        };
        alice.act(NID, product).unwrap();
    }
    let invitation = alice.store.invite(NID, 8, 86_400_000).unwrap();
    alice.sync().await;
    let tablet = alice.link("alice-tablet").await;
    let mut members = Vec::new();
    for name in MEMBERS {
        let member = Device::new(server, name).await;
        member.client.join(&invitation.code, name).await.unwrap();
        members.push(member);
    }
    alice.sync().await;
    tablet.sync().await;
    for member in &members {
        member.sync().await;
    }
    (alice, tablet, members)
}

/// A loopback address where nothing listens: a partitioned device's requests are refused there.
async fn closed_address() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// One device's life: acts, syncs now and then, moves in and out of partitions, observes.
async fn live(mut soaker: Soaker, rounds: usize, seed: u64) -> Soaker {
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..rounds {
        if rng.random_bool(0.15) {
            soaker.partitioned = !soaker.partitioned;
        }
        for _ in 0..rng.random_range(1..3) {
            soaker.act(&mut rng);
            soaker.observe();
        }
        if rng.random_bool(0.6) {
            soaker.sync().await;
            soaker.observe();
        }
    }
    soaker
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_devices_through_drops_and_partitions_keep_their_guarantees_and_converge() {
    let rounds: usize = std::env::var("QUARTIER_SOAK_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(30);
    let seed: u64 = std::env::var("QUARTIER_SOAK_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(5);
    let mut rng = StdRng::seed_from_u64(seed);
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(&server.url, seed, Faults::mixed()).await.unwrap();
    let closed = closed_address().await;
    let (alice, tablet, members) = set_up(&server).await;

    let mut living = tokio::task::JoinSet::new();
    let devices = [(alice, true), (tablet, true)].into_iter().chain(members.into_iter().map(|m| (m, false)));
    for (device, trader) in devices {
        living.spawn(live(Soaker::new(device, &proxy.url, &closed, trader), rounds, rng.random()));
    }
    let mut soakers = Vec::new();
    while let Some(done) = living.join_next().await {
        soakers.push(done.unwrap());
    }
    assert!(proxy.settle(Duration::from_secs(20)).await, "requests still in the proxy");

    // The network heals: everyone syncs directly until nothing is pending, then once more to see the
    // last writes of the others.
    for _ in 0..3 {
        for soaker in &mut soakers {
            soaker.device.sync().await;
            soaker.observe();
        }
    }

    let mut saved = 0;
    let mut refused = 0;
    let shared = |d: &Device| -> Vec<Entity> {
        d.replica(NID)
            .into_iter()
            .filter(|e| !matches!(e.key().kind, EntityKind::Order | EntityKind::Message))
            .collect()
    };
    let reference = shared(&soakers[0].device);
    check_reservations("the server", &server.visible_to(NID, "alice"));
    for soaker in &soakers {
        let name = soaker.name();
        let identity = soaker.device.store.identity().clone();
        assert!(soaker.device.store.outbox().unwrap().is_empty(), "{name} has an outbox left");
        assert_eq!(
            soaker.device.replica(NID),
            server.visible_to(NID, &identity.person_id),
            "{name} differs from the server"
        );
        assert_eq!(shared(&soaker.device), reference, "{name} differs from alice");
        let rejected: BTreeMap<u64, String> = soaker.device.rejected().into_iter().collect();
        for (seq, op) in &soaker.saved {
            match server.outcome(&identity.device_id, *seq) {
                Some(Outcome::Applied) => {
                    assert!(!rejected.contains_key(seq), "{name}'s seq {seq} is applied and refused");
                }
                Some(Outcome::Rejected { code, .. }) => {
                    assert_eq!(
                        rejected.get(seq),
                        Some(&code.as_str().to_owned()),
                        "{name}'s seq {seq} refused, not shown as such"
                    );
                    assert!(!matches!(op, Op::FavourPost(_)), "{name}'s favour {op:?} was refused");
                    refused += 1;
                }
                None => panic!("{name}'s seq {seq} ({op:?}) never reached the server"),
            }
        }
        saved += soaker.saved.len();
    }
    eprintln!(
        "{} devices, {rounds} rounds each: {saved} mutations saved, {refused} refused by the server; proxy: {}",
        soakers.len(),
        proxy.stats()
    );
    assert!(proxy.stats().faulted() > 0, "the proxy mistreated no request");
    assert!(saved >= soakers.len() * rounds, "too little written to test anything: {saved}");
}
