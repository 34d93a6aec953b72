//! Sync over a bad network: neighbours (and a trader's second device) act offline at random, sometimes
//! while a round is under way, and a newcomer registers and joins (asking again until it works), all
//! through a fault proxy that drops, cuts, truncates, duplicates,
//! reorders and delays their requests, with short timeouts and, for most seeds, pulls of a few changes a
//! page, until each has nothing pending. Then, for every seed:
//! - every device holds exactly what the server lets its person read (the same non-message state as a
//!   fresh device pulling directly from the server, and the messages of its own threads);
//! - every mutation was answered once: applied on the server, or refused and in the device's `rejected`
//!   table, never both, never neither; the stock of each product is its initial stock plus the applied
//!   moves minus what was collected, and each move is logged once; each created thing exists once;
//! - the rules still hold: stock ≥ reserved ≥ 0, reserved is what confirmed orders hold, and no two
//!   approved loans of one item overlap;
//! - the network's faults only ever surfaced as transient errors (try again later).
//!
//! The server keeps its state in SQLite, and again in PostgreSQL (`QUARTIER_TEST_POSTGRES`, as for the
//! server's own suite). `QUARTIER_FAULT_SEEDS=N` runs N seeds on each (by default 40 on SQLite, 12 on
//! PostgreSQL); `QUARTIER_FAULT_FIRST_SEED=S` starts at S, so that one failing seed can be run alone. A seed fixes the actions' and the faults' random draws;
//! the interleaving of the devices still varies from run to run, as on a real network.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test that cannot unwrap has failed

use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::store::StoreError;
use quartier_core::sync::protocol::Outcome;
use quartier_core::sync::{SyncClient, SyncError, SyncReport};
use quartier_e2e::fault_proxy::{FaultProxy, FaultStats, Faults};
use quartier_e2e::fixtures::neighbourhood;
use quartier_e2e::{Device, POSTGRES_VARIABLE, TestDb, TestServer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Seeds run at once: most of a seed's time is spent waiting on timeouts, not computing.
const PARALLEL: usize = 4;
/// Steps of each device: acting offline or trying a sync round.
const STEPS: usize = 14;
/// The budget of one round through the proxy; it also bounds each request's timeout.
const ROUND: Duration = Duration::from_millis(700);
/// The most rounds a device may need to empty its outbox, and the most time.
const MAX_ROUNDS: usize = 300;
const MAX_DRAIN: Duration = Duration::from_secs(60);

const INITIAL_STOCK: [(&str, i64); 2] = [("radishes", 20), ("eggs", 30)];

/// One neighbour's device acting and syncing through the proxy.
struct Actor {
    device: Device,
    via_proxy: Arc<SyncClient>,
    person: String,
    trader: bool,
    rng: StdRng,
    made: Vec<Mutation>,
    next_id: u32,
    /// What the failed rounds said, by kind.
    errors: BTreeMap<String, usize>,
    /// For a newcomer: the invitation code to join with, through the proxy, before anything else.
    newcomer: Option<String>,
}

impl Actor {
    fn new(device: Device, proxy: &FaultProxy, trader: bool, seed: u64) -> Actor {
        let via_proxy = device.client_via(&proxy.url);
        let person = device.store.identity().person_id.clone();
        Actor {
            device,
            via_proxy,
            person,
            trader,
            rng: StdRng::seed_from_u64(seed),
            made: Vec::new(),
            next_id: 0,
            errors: BTreeMap::new(),
            newcomer: None,
        }
    }

    /// A newcomer registers and joins through the proxy, asking again after each failure: answers
    /// lost, cut or duplicated must neither strand the device nor make it twice.
    async fn onboard(&mut self, code: &str) {
        let started = Instant::now();
        while let Err(e) = self.via_proxy.register().await {
            self.wait_after(e).await;
            assert!(started.elapsed() < MAX_DRAIN, "{} could not register", self.device.name);
        }
        assert!(self.via_proxy.is_registered().unwrap());
        loop {
            match self.via_proxy.join(code, "Emma").await {
                Ok(joined) => {
                    assert_eq!(joined.neighbourhood_name, "Aligre");
                    return;
                }
                Err(e) => {
                    self.wait_after(e).await;
                    assert!(started.elapsed() < MAX_DRAIN, "{} could not join", self.device.name);
                }
            }
        }
    }

    /// Tallies a failed call, then waits a little before the next, as the app would (longer when the
    /// server said it was asked too often).
    async fn wait_after(&mut self, e: SyncError) {
        let limited = matches!(e, SyncError::Server { status: 429, .. });
        self.tally(Err(e));
        let pause = if limited { 1_000 } else { self.rng.random_range(10..60) };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }

    fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        format!("{}-{}", self.device.name, self.next_id)
    }

    /// One round through the proxy.
    async fn try_sync(&mut self) -> bool {
        let result = self.via_proxy.sync_once(ROUND).await;
        self.tally(result)
    }

    /// Whether a round completed; an error is tallied, and must be one worth retrying.
    fn tally(&mut self, result: Result<SyncReport, SyncError>) -> bool {
        match result {
            Ok(report) => report.complete,
            Err(e) => {
                let kind = match &e {
                    SyncError::Offline(_) => "offline".to_owned(),
                    SyncError::Server { status, code, .. } => format!("{status} {code}"),
                    other => format!("{other:?}"),
                };
                assert!(
                    e.is_transient(),
                    "{}: a network fault gave an error that is not transient: {e:?}",
                    self.device.name
                );
                *self.errors.entry(kind).or_default() += 1;
                false
            }
        }
    }

    /// Syncs until nothing is pending and a round completed.
    async fn drain(&mut self) {
        let started = Instant::now();
        for _ in 0..MAX_ROUNDS {
            if self.try_sync().await && self.device.store.pending_count().unwrap() == 0 {
                return;
            }
            assert!(started.elapsed() < MAX_DRAIN, "{} did not drain in {MAX_DRAIN:?}", self.device.name);
        }
        panic!("{} did not drain in {MAX_ROUNDS} rounds", self.device.name);
    }

    /// Makes one valid mutation chosen at random from what the device sees (a few tries, since the
    /// local rules may still refuse one).
    fn act(&mut self, nid: &str) {
        for _ in 0..8 {
            let op = self.choose(nid);
            match self.device.act(nid, op) {
                Ok(applied) => {
                    self.made.push(applied.mutation);
                    return;
                }
                Err(StoreError::Rejected(_)) => continue,
                Err(e) => panic!("{}: {e}", self.device.name),
            }
        }
    }

    fn choose(&mut self, nid: &str) -> Op {
        let me = self.person.clone();
        let replica = self.device.replica(nid);
        let today = Day::of_instant(self.device.store.now_ms(), 0);
        let mut options: Vec<Op> = Vec::new();
        for entity in &replica {
            match entity {
                Entity::Favour(f) => {
                    let involved = f.author == me || f.counterpart.as_deref() == Some(&me);
                    match f.status {
                        FavourStatus::Open if f.author != me => {
                            options.push(FavourRef { id: f.id.clone() }.into())
                        }
                        FavourStatus::Promised if involved => {
                            options.push(FavourComplete { id: f.id.clone() }.into());
                        }
                        FavourStatus::Done if f.beneficiary() == Some(&me) => {
                            options.push(FavourThank { id: f.id.clone(), note: "Merci !".into() }.into());
                        }
                        _ => {}
                    }
                    if f.author == me
                        && matches!(f.status, FavourStatus::Open | FavourStatus::Promised)
                        && self.rng.random_bool(0.3)
                    {
                        options.push(FavourCancel { id: f.id.clone() }.into());
                    }
                    if f.counterpart.is_some() && involved {
                        options.push(self.message(ThreadKind::Favour, &f.id));
                    }
                }
                Entity::Item(item) if item.owner != me && !item.withdrawn => {
                    let first_day = today.plus_days(self.rng.random_range(1..12));
                    let last_day = first_day.plus_days(self.rng.random_range(0..3));
                    let id = self.fresh_id();
                    options.push(
                        LoanRequest {
                            id,
                            item_id: item.id.clone(),
                            first_day,
                            last_day,
                            note: String::new(),
                        }
                        .into(),
                    );
                }
                Entity::Loan(loan) => {
                    let id = loan.id.clone();
                    if loan.owner == me {
                        match loan.status {
                            LoanStatus::Requested => {
                                options.push(LoanApprove { id: id.clone() }.into());
                                options.push(
                                    LoanDecline { id: id.clone(), reason: "Not these days".into() }.into(),
                                );
                            }
                            LoanStatus::Approved => options.push(LoanHandOver { id: id.clone() }.into()),
                            LoanStatus::HandedOver => options.push(LoanReturn { id: id.clone() }.into()),
                            _ => {}
                        }
                    }
                    if loan.borrower == me
                        && matches!(loan.status, LoanStatus::Requested | LoanStatus::Approved)
                    {
                        options.push(LoanCancel { id: id.clone() }.into());
                    }
                    if loan.owner == me || loan.borrower == me {
                        options.push(self.message(ThreadKind::Loan, &id));
                    }
                }
                Entity::Product(p) if self.trader && p.owner == me && !p.removed => {
                    let mut delta = self.rng.random_range(-4..=6);
                    if delta == 0 {
                        delta = 1;
                    }
                    options.push(ProductAdjustStock { id: p.id.clone(), delta }.into());
                }
                Entity::Order(order) => {
                    let id = order.id.clone();
                    if order.trader == me {
                        match order.status {
                            OrderStatus::Placed => {
                                options.push(OrderConfirm { id: id.clone() }.into());
                                options
                                    .push(OrderDecline { id: id.clone(), reason: "Sold out".into() }.into());
                            }
                            OrderStatus::Confirmed => {
                                options.push(OrderReady { id: id.clone() }.into());
                                options.push(OrderCollect { id: id.clone() }.into());
                            }
                            OrderStatus::Ready => options.push(OrderCollect { id: id.clone() }.into()),
                            _ => {}
                        }
                    }
                    if order.customer == me
                        && order.status == OrderStatus::Placed
                        && self.rng.random_bool(0.3)
                    {
                        options.push(OrderCancel { id: id.clone() }.into());
                    }
                    if order.trader == me || order.customer == me {
                        options.push(self.message(ThreadKind::Order, &id));
                    }
                }
                _ => {}
            }
        }
        // Something new is always possible.
        let id = self.fresh_id();
        match self.rng.random_range(0..3) {
            0 => options.push(
                FavourPost {
                    id,
                    kind: if self.rng.random_bool(0.5) { FavourKind::Ask } else { FavourKind::Offer },
                    title: "Help with the garden".into(),
                    details: String::new(),
                    category: "garden".into(),
                    window: None,
                    cell: None,
                }
                .into(),
            ),
            1 => options.push(
                ItemAdd {
                    id,
                    title: "Drill".into(),
                    description: String::new(),
                    category: "diy".into(),
                    condition: Condition::Good,
                    deposit_note: String::new(),
                    cell: None,
                }
                .into(),
            ),
            _ if !self.trader => {
                let products: Vec<&Product> = replica
                    .iter()
                    .filter_map(|e| match e {
                        Entity::Product(p) if !p.removed && p.free_stock() > 0 => Some(p),
                        _ => None,
                    })
                    .collect();
                let mut lines = Vec::new();
                for p in products {
                    if self.rng.random_bool(0.6) {
                        lines.push(OrderLine {
                            product_id: p.id.clone(),
                            quantity: self.rng.random_range(1..=3),
                        });
                    }
                }
                if !lines.is_empty() {
                    options.push(
                        OrderPlace {
                            id,
                            stall_id: "stall".into(),
                            lines,
                            pickup_day: None,
                            note: String::new(),
                        }
                        .into(),
                    );
                }
            }
            _ => {}
        }
        if options.is_empty() {
            return ItemAdd {
                id: self.fresh_id(),
                title: "Ladder".into(),
                description: String::new(),
                category: "diy".into(),
                condition: Condition::Fair,
                deposit_note: String::new(),
                cell: None,
            }
            .into();
        }
        let chosen = self.rng.random_range(0..options.len());
        options.swap_remove(chosen)
    }

    fn message(&mut self, kind: ThreadKind, id: &str) -> Op {
        MessageSend {
            id: self.fresh_id(),
            thread: ThreadRef { kind, id: id.to_owned() },
            body: "See you there".into(),
        }
        .into()
    }
}

/// Alice founds the neighbourhood and invites Bob, Chloé and Dora; Bob becomes a trader with a stall,
/// two products and a tablet. All of it directly, without faults.
async fn set_up(server: &TestServer) -> (String, Device, Device, Device, Device, Device) {
    let alice = Device::new(server, "alice").await;
    let nid = "aligre".to_owned();
    alice.act(&nid, neighbourhood("Aligre", "Alice")).unwrap();
    let invitation = alice.store.invite(&nid, 3, 86_400_000).unwrap();
    alice.sync().await;
    let bob = Device::new(server, "bob").await;
    let chloe = Device::new(server, "chloe").await;
    let dora = Device::new(server, "dora").await;
    bob.client.join(&invitation.code, "Bob").await.unwrap();
    chloe.client.join(&invitation.code, "Chloé").await.unwrap();
    dora.client.join(&invitation.code, "Dora").await.unwrap();
    alice.sync().await;
    alice.act(&nid, MemberSetRole { member_id: "bob".into(), role: Role::Trader }).unwrap();
    alice.sync().await;
    bob.sync().await;
    bob.act(
        &nid,
        StallOpen {
            id: "stall".into(),
            name: "Bob's farm".into(),
            market: "Marché d'Aligre".into(),
            days: vec![2, 4, 6],
            opens_min: 7 * 60,
            closes_min: 13 * 60,
            place: "Row B".into(),
            cell: None,
        },
    )
    .unwrap();
    for (id, stock) in INITIAL_STOCK {
        bob.act(
            &nid,
            ProductAdd {
                id: id.into(),
                stall_id: "stall".into(),
                name: id.into(),
                unit: "piece".into(),
                price_cents: 200,
                stock,
                available_today: true,
            },
        )
        .unwrap();
    }
    bob.sync().await;
    let tablet = bob.link("bob-tablet").await;
    for device in [&alice, &chloe, &tablet] {
        device.sync().await;
    }
    (nid, alice, bob, tablet, chloe, dora)
}

/// Tells, when a seed fails, which seed it was and what the proxy did last.
struct Diagnose<'a>(&'a FaultProxy, u64);

impl Drop for Diagnose<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("seed {} failed; the proxy's last faults: {:#?}", self.1, self.0.recent());
        }
    }
}

/// What one seed did, for the summary.
struct SeedReport {
    mutations: usize,
    rejected: usize,
    stats: FaultStats,
    errors: BTreeMap<String, usize>,
}

fn check_rules(who: &str, entities: &[Entity]) {
    let mut reserved: BTreeMap<&str, i64> = BTreeMap::new();
    for e in entities {
        if let Entity::Order(o) = e {
            if o.status.reserves_stock() {
                for line in &o.lines {
                    *reserved.entry(line.product_id.as_str()).or_default() += line.quantity;
                }
            }
        }
    }
    let mut calendars: BTreeMap<&str, Vec<&Loan>> = BTreeMap::new();
    for e in entities {
        match e {
            Entity::Product(p) => {
                assert!(
                    p.stock >= p.reserved && p.reserved >= 0,
                    "{who}: {} has stock {} and reserved {}",
                    p.id,
                    p.stock,
                    p.reserved
                );
                assert_eq!(
                    p.reserved,
                    reserved.get(p.id.as_str()).copied().unwrap_or(0),
                    "{who}: {} reserved",
                    p.id
                );
            }
            Entity::Loan(l) if l.status.holds_calendar() => {
                calendars.entry(l.item_id.as_str()).or_default().push(l)
            }
            _ => {}
        }
    }
    for (item, loans) in calendars {
        for (i, a) in loans.iter().enumerate() {
            for b in &loans[i + 1..] {
                assert!(
                    !a.overlaps(b.first_day, b.last_day),
                    "{who}: loans {} and {} of {item} overlap",
                    a.id,
                    b.id
                );
            }
        }
    }
}

async fn run_seed(db: TestDb, seed: u64) -> SeedReport {
    let server = TestServer::start_on(db).await;
    // Pulls of a few changes a page for most seeds, so that faults also fall between pages.
    let pull_page_limit = [Some(2), Some(5), Some(20), None][(seed % 4) as usize];
    let proxy =
        FaultProxy::start(&server.url, seed, Faults { pull_page_limit, ..Faults::mixed() }).await.unwrap();
    let _diagnose = Diagnose(&proxy, seed);
    let (nid, alice, bob, tablet, chloe, dora) = set_up(&server).await;
    // Emma, a newcomer, registers and joins through the faults, with an invitation for one person.
    let welcome = alice.store.invite(&nid, 1, 86_400_000).unwrap();
    alice.sync().await;
    let emma = Device::unregistered(&proxy.url, "emma");
    let mut newcomer = Actor::new(emma, &proxy, false, seed.wrapping_mul(8).wrapping_add(5));
    newcomer.newcomer = Some(welcome.code.clone());
    let actors = vec![
        Actor::new(alice, &proxy, false, seed.wrapping_mul(8).wrapping_add(1)),
        Actor::new(bob, &proxy, true, seed.wrapping_mul(8).wrapping_add(2)),
        Actor::new(tablet, &proxy, true, seed.wrapping_mul(8).wrapping_add(3)),
        Actor::new(chloe, &proxy, false, seed.wrapping_mul(8).wrapping_add(4)),
        newcomer,
    ];

    // Everyone at once: act offline, try a round, or both at once; then empty the outbox. (A JoinSet: if one
    // panics, the others stop with the seed.)
    let mut running = tokio::task::JoinSet::new();
    for mut actor in actors {
        let nid = nid.clone();
        running.spawn(async move {
            if let Some(code) = actor.newcomer.take() {
                actor.onboard(&code).await;
            }
            for _ in 0..STEPS {
                match actor.rng.random_range(0..10) {
                    0..5 => {
                        for _ in 0..actor.rng.random_range(1..=3) {
                            actor.act(&nid);
                        }
                    }
                    5..8 => {
                        actor.try_sync().await;
                    }
                    _ => {
                        // The person goes on using the app while a round is under way.
                        let client = actor.via_proxy.clone();
                        let round = tokio::spawn(async move { client.sync_once(ROUND).await });
                        for _ in 0..actor.rng.random_range(1..=3) {
                            let pause = actor.rng.random_range(0..40);
                            tokio::time::sleep(Duration::from_millis(pause)).await;
                            actor.act(&nid);
                        }
                        let result = round.await.unwrap();
                        actor.tally(result);
                    }
                }
                let pause = actor.rng.random_range(0..15);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            actor.drain().await;
            actor
        });
    }
    let mut actors = Vec::new();
    while let Some(done) = running.join_next().await {
        actors.push(done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())));
    }
    actors.sort_by(|a, b| a.device.name.cmp(&b.device.name));
    // Nothing is pending anywhere: one more complete round each picks up what the others pushed last.
    for actor in &mut actors {
        actor.drain().await;
    }
    assert!(proxy.stats().faulted() > 0, "seed {seed}: the proxy mistreated no request");

    // A fresh device of Dora's pulls everything directly from the server.
    let fresh = dora.link("fresh").await;
    fresh.sync().await;
    let reference = fresh.shared_replica(&nid);
    check_rules("the server", &server.visible_to(&nid, "dora"));

    let mut report = SeedReport { mutations: 0, rejected: 0, stats: proxy.stats(), errors: BTreeMap::new() };
    let mut applied: Vec<&Mutation> = Vec::new();
    for actor in &actors {
        let name = &actor.device.name;
        assert_eq!(actor.device.shared_replica(&nid), reference, "{name} differs from a fresh device");
        assert_eq!(
            actor.device.replica(&nid),
            server.visible_to(&nid, &actor.person),
            "{name} differs from the server"
        );
        check_rules(name, &actor.device.replica(&nid));
        assert!(actor.device.store.outbox().unwrap().is_empty(), "{name} has an outbox left");

        // Every mutation answered once: applied, or refused and kept; never both, never neither.
        let device_id = actor.device.store.identity().device_id.clone();
        let rejected: BTreeMap<u64, String> = actor.device.rejected().into_iter().collect();
        let made: BTreeSet<u64> = actor.made.iter().map(|m| m.seq).collect();
        assert!(
            rejected.keys().all(|seq| made.contains(seq)),
            "{name} has refusals of mutations it never made"
        );
        for m in &actor.made {
            match server.outcome(&device_id, m.seq) {
                Some(Outcome::Applied) => {
                    assert!(!rejected.contains_key(&m.seq), "{name} seq {} applied and also refused", m.seq);
                    applied.push(m);
                }
                Some(Outcome::Rejected { code, .. }) => {
                    assert_eq!(
                        rejected.get(&m.seq).map(String::as_str),
                        Some(code.as_str()),
                        "{name} seq {} refused",
                        m.seq
                    );
                }
                None => panic!("{name} seq {} ({}) never reached the server", m.seq, m.op.name()),
            }
        }
        let last = actor.made.iter().map(|m| m.seq).max().unwrap_or(0);
        assert!(server.outcome(&device_id, last + 1).is_none(), "{name}: the server has a seq never made");
        report.mutations += actor.made.len();
        report.rejected += rejected.len();
        for (kind, n) in &actor.errors {
            *report.errors.entry(kind.clone()).or_default() += n;
        }
    }

    // Emma joined once, by one use of her invitation, whatever the network did to her calls.
    match server.entity(&EntityKey::new(&nid, EntityKind::Member, "emma")) {
        Some(Entity::Member(emma)) => {
            assert_eq!(emma.status, MemberStatus::Active);
            assert_eq!(emma.invitation_id.as_deref(), Some(welcome.invitation_id.as_str()));
        }
        other => panic!("seed {seed}: Emma is not a member: {other:?}"),
    }
    match server.entity(&EntityKey::new(&nid, EntityKind::Invitation, &welcome.invitation_id)) {
        Some(Entity::Invitation(invitation)) => assert_eq!(invitation.uses, 1, "seed {seed}"),
        other => panic!("seed {seed}: {other:?}"),
    }

    // Each created thing exists once on the server, and nothing else was created.
    let created = |kind: EntityKind| -> BTreeSet<String> {
        applied
            .iter()
            .filter_map(|m| match (&m.op, kind) {
                (Op::FavourPost(a), EntityKind::Favour) => Some(a.id.clone()),
                (Op::ItemAdd(a), EntityKind::Item) => Some(a.id.clone()),
                (Op::LoanRequest(a), EntityKind::Loan) => Some(a.id.clone()),
                (Op::OrderPlace(a), EntityKind::Order) => Some(a.id.clone()),
                (Op::MessageSend(a), EntityKind::Message) => Some(a.id.clone()),
                _ => None,
            })
            .collect()
    };
    let everything: Vec<Entity> = ["alice", "bob", "chloe", "dora", "emma"]
        .iter()
        .flat_map(|person| server.visible_to(&nid, person))
        .collect();
    for kind in
        [EntityKind::Favour, EntityKind::Item, EntityKind::Loan, EntityKind::Order, EntityKind::Message]
    {
        let on_server: BTreeSet<String> =
            everything.iter().filter(|e| e.key().kind == kind).map(|e| e.key().id).collect();
        assert_eq!(
            on_server,
            created(kind),
            "seed {seed}: the {} on the server are not those created",
            kind.as_str()
        );
    }

    // Exactly once: each product's stock is its initial stock, plus the applied moves, minus what the
    // collected orders took; its log has each applied move and each collection once.
    let orders: BTreeMap<String, Order> = reference
        .iter()
        .filter_map(|e| match e {
            Entity::Order(o) => Some((o.id.clone(), o.clone())),
            _ => None,
        })
        .collect();
    for (id, initial) in INITIAL_STOCK {
        let Some(Entity::Product(product)) =
            reference.iter().find(|e| e.key().kind == EntityKind::Product && e.key().id == id)
        else {
            panic!("seed {seed}: product {id} is gone");
        };
        let mut moves: Vec<(Hlc, i64)> = Vec::new();
        for m in &applied {
            match &m.op {
                Op::ProductAdjustStock(a) if a.id == id => moves.push((m.hlc, a.delta)),
                Op::OrderCollect(a) => {
                    for line in orders[&a.id].lines.iter().filter(|l| l.product_id == id) {
                        moves.push((m.hlc, -line.quantity));
                    }
                }
                _ => {}
            }
        }
        moves.sort();
        let expected = initial + moves.iter().map(|(_, delta)| delta).sum::<i64>();
        assert_eq!(
            product.stock,
            expected,
            "seed {seed}: the stock of {id} is not the sum of its {} moves",
            moves.len()
        );
        let mut logged: Vec<(Hlc, i64)> = product.moves.iter().map(|m| (m.hlc, m.delta)).collect();
        logged.sort();
        assert_eq!(logged, moves, "seed {seed}: the move log of {id} is not each applied move once");
    }

    report
}

/// An answer cut short by the network is a network failure, worth retrying: not "the server's answer
/// could not be understood; update the app", and it loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_cut_short_is_a_network_failure_not_a_protocol_error() {
    let server = TestServer::start().await;
    let (nid, alice, ..) = set_up(&server).await;
    let proxy = FaultProxy::start(&server.url, 7, Faults { truncate: 1.0, ..Faults::NONE }).await.unwrap();
    let via_proxy = alice.client_via(&proxy.url);
    alice
        .act(
            &nid,
            FavourPost {
                id: "plants".into(),
                kind: FavourKind::Ask,
                title: "Water my plants".into(),
                details: String::new(),
                category: "garden".into(),
                window: None,
                cell: None,
            },
        )
        .unwrap();
    for _ in 0..10 {
        let error = via_proxy.sync_once(Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(error, SyncError::Offline(_)) && error.is_transient(), "{error:?}");
    }
    assert_eq!(proxy.stats().truncated, 10);
    // The server applied the favour at the first push; the device learns it when the network is back.
    assert_eq!(alice.store.pending_count().unwrap(), 1);
    alice.sync().await;
    assert_eq!(alice.store.pending_count().unwrap(), 0);
    assert!(alice.rejected().is_empty());
    assert!(server.entity(&EntityKey::new(&nid, EntityKind::Favour, "plants")).is_some());
}

/// The proxy's page limit works: a device that pulls the whole neighbourhood through it takes a page
/// per two changes, and ends up with what the server has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_in_pages_of_two_changes_gets_everything() {
    let server = TestServer::start().await;
    let (nid, _alice, _bob, _tablet, _chloe, dora) = set_up(&server).await;
    let proxy =
        FaultProxy::start(&server.url, 1, Faults { pull_page_limit: Some(2), ..Faults::NONE }).await.unwrap();
    let fresh = dora.link("fresh").await;
    let report = fresh.client_via(&proxy.url).sync_once(Duration::from_secs(30)).await.unwrap();
    assert!(report.complete);
    let everything = server.visible_to(&nid, "dora");
    assert_eq!(fresh.replica(&nid), everything);
    // A page never splits the changes of one mutation, so some pages hold more than two.
    let pages = proxy.stats().requests as usize;
    assert!(
        pages > 3 && pages <= everything.len().div_ceil(2),
        "{pages} pages for {} changes",
        everything.len()
    );
}

/// Runs the seeds on servers on `db`, a few at once, and fails with every seed that failed.
async fn run_seeds(db: TestDb, default_seeds: u64) {
    let seeds: u64 =
        std::env::var("QUARTIER_FAULT_SEEDS").ok().and_then(|n| n.parse().ok()).unwrap_or(default_seeds);
    let first: u64 =
        std::env::var("QUARTIER_FAULT_FIRST_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(1);
    let started = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    let mut seeds_of = BTreeMap::new();
    let mut next = first;
    let (mut mutations, mut rejected, mut stats) = (0, 0, FaultStats::default());
    let mut errors = BTreeMap::<String, usize>::new();
    let mut failed = Vec::new();
    while next < first + seeds || !running.is_empty() {
        while next < first + seeds && running.len() < PARALLEL {
            let handle = running.spawn(run_seed(db, next));
            seeds_of.insert(handle.id(), next);
            next += 1;
        }
        match running.join_next_with_id().await {
            Some(Ok((_, report))) => {
                mutations += report.mutations;
                rejected += report.rejected;
                stats += report.stats;
                for (kind, n) in report.errors {
                    *errors.entry(kind).or_default() += n;
                }
            }
            Some(Err(e)) => failed.push(format!("seed {}: {e}", seeds_of[&e.id()])),
            None => break,
        }
    }
    eprintln!(
        "{db:?}: {seeds} seeds in {:.1?}: {mutations} mutations, {rejected} refused by the server; proxy: {stats}; \
         failed rounds: {errors:?}",
        started.elapsed(),
    );
    assert!(
        failed.is_empty(),
        "{} seeds failed on {db:?} (rerun one with QUARTIER_FAULT_FIRST_SEED=S QUARTIER_FAULT_SEEDS=1):\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn devices_converge_and_nothing_is_lost_over_a_faulty_network() {
    run_seeds(TestDb::Sqlite, 40).await;
}

/// The same on PostgreSQL, where pushes of one neighbourhood commit concurrently: its versions must
/// still reach every device without a gap. Needs `QUARTIER_TEST_POSTGRES` (see `tests/run`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgresql_too() {
    assert!(
        std::env::var(POSTGRES_VARIABLE).is_ok_and(|url| !url.trim().is_empty()),
        "{POSTGRES_VARIABLE} is not set, and this test needs a PostgreSQL server to make its databases on: \
         start one with `eval \"$(bash scripts/postgres.sh)\"` from the repository root, then run it again"
    );
    run_seeds(TestDb::Postgres, 12).await;
}
