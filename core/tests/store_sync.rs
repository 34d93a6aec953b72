//! The device's half of sync, against a real SQLite file: answers to a push, pages of a pull, and the
//! rebase of pending mutations on the confirmed state. The confirmed state comes from the rules' own
//! in-memory replica, numbered the way the server numbers its changes (one counter per neighbourhood)
//! and answering a mutation pushed again with its first outcome, like the server; the end-to-end tests
//! in `tests/` run the same stories against the real server.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use proptest::prelude::Rng;
use proptest::test_runner::{RngAlgorithm, TestRng};
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::store::{
    Applied, CommitListener, FavourFilter, FavourView, Identity, Page, SearchFilter, SearchOrder, Store,
    StoreOptions,
};
use quartier_core::sync::protocol::{Change, MutationResult, Outcome, PullResponse};
use std::collections::BTreeMap;
use tempfile::TempDir;

/// The confirmed state, as the server keeps it: the rules' replica, the version of each entity, each
/// neighbourhood's version, and the outcome of every device's mutation.
struct Confirmed {
    state: MemoryState,
    versions: BTreeMap<EntityKey, (u64, Effect)>,
    version: BTreeMap<String, u64>,
    outcomes: BTreeMap<(String, u64), Outcome>,
}

impl Confirmed {
    fn new() -> Confirmed {
        Confirmed {
            state: MemoryState::new(),
            versions: BTreeMap::new(),
            version: BTreeMap::new(),
            outcomes: BTreeMap::new(),
        }
    }

    /// Applies a mutation once; pushed again, it gets its first outcome again.
    fn apply(&mut self, m: &Mutation) -> Outcome {
        let id = (m.device_id.clone(), m.seq);
        if let Some(outcome) = self.outcomes.get(&id) {
            return outcome.clone();
        }
        assert_eq!(m.seq, self.answered(&m.device_id) + 1, "a device's mutations come in order");
        let outcome = match self.state.apply(m, i64::try_from(m.hlc.wall_ms()).unwrap()) {
            Ok(effects) => {
                let version = self.version.entry(m.neighbourhood_id.clone()).or_default();
                *version += 1;
                for effect in effects {
                    self.versions.insert(effect.key(), (*version, effect));
                }
                Outcome::Applied
            }
            Err(ApplyError::Rejected(r)) => Outcome::Rejected { code: r.code, message: r.message },
            Err(e) => panic!("{e}"),
        };
        self.outcomes.insert(id, outcome.clone());
        outcome
    }

    /// The last of the device's sequence numbers answered (0 if none).
    fn answered(&self, device_id: &str) -> u64 {
        self.outcomes.keys().filter(|(device, _)| device == device_id).map(|(_, seq)| *seq).max().unwrap_or(0)
    }

    /// Everything of `nid` after `after`, in one page or in pages of `per_page` versions, as `device_id`
    /// pulls them.
    fn pages(&self, nid: &str, device_id: &str, after: u64, per_page: u64) -> Vec<PullResponse> {
        let mut changes: Vec<Change> = self
            .versions
            .iter()
            .filter(|(key, (v, _))| key.neighbourhood_id == nid && *v > after)
            .map(|(_, (version, effect))| Change { version: *version, effect: effect.clone() })
            .collect();
        changes.sort_by_key(|c| c.version);
        let checkpoint = self.version.get(nid).copied().unwrap_or(0);
        let mut pages = Vec::new();
        let mut from = after;
        while from < checkpoint {
            let to = (from + per_page).min(checkpoint);
            let page: Vec<Change> =
                changes.iter().filter(|c| c.version > from && c.version <= to).cloned().collect();
            pages.push(PullResponse {
                changes: page,
                cursor: to,
                checkpoint,
                more: to < checkpoint,
                answered_seq: Some(self.answered(device_id)),
            });
            from = to;
        }
        pages
    }
}

/// A device of `person`, and its mutations as the server receives them.
fn device(dir: &TempDir, name: &str, person: &str) -> Store {
    device_with(dir, name, person, StoreOptions::default().large_pull)
}

/// A device whose pulls of `large_pull` changes or more build some list indexes at their end.
fn device_with(dir: &TempDir, name: &str, person: &str, large_pull: u64) -> Store {
    let identity = Identity { device_id: format!("{name}-device"), person_id: person.into() };
    Store::open(
        dir.path().join(format!("{name}.db")),
        StoreOptions { identity: Some(identity), large_pull, ..StoreOptions::default() },
    )
    .unwrap()
}

fn push(store: &Store, server: &mut Confirmed) -> Vec<MutationResult> {
    let results: Vec<MutationResult> = store
        .pending(100)
        .unwrap()
        .iter()
        .map(|m| MutationResult { seq: m.seq, outcome: server.apply(m) })
        .collect();
    store.acknowledge(&results).unwrap();
    results
}

fn pull(store: &Store, server: &Confirmed, nid: &str, per_page: u64) {
    let device_id = &store.identity().device_id;
    for page in server.pages(nid, device_id, store.sync_cursor(nid).unwrap(), per_page) {
        store.apply_pulled(nid, &page).unwrap();
    }
}

/// Pushes the pending mutations to the server, whose answer is lost on the way: the device hears
/// nothing.
fn push_and_lose_the_answer(store: &Store, server: &mut Confirmed) {
    for m in store.pending(100).unwrap() {
        server.apply(&m);
    }
}

fn product(store: &Store, nid: &str, id: &str) -> Product {
    match store.get(&EntityKey::new(nid, EntityKind::Product, id)).unwrap() {
        Some(Entity::Product(p)) => p,
        other => panic!("no product {id}: {other:?}"),
    }
}

/// Tom founds neighbourhood `nid` (as a moderator he may keep a stall there) and opens a stall
/// with a product, on this device: pending until pushed.
fn open_market(store: &Store, nid: &str, product_id: &str, stock: i64) {
    store
        .mutate(
            nid,
            NeighbourhoodCreate {
                name: format!("Market {nid}"),
                description: String::new(),
                cell: None,
                display_name: "Tom".into(),
            },
        )
        .unwrap();
    let stall_id = format!("stall-{nid}");
    store
        .mutate(
            nid,
            StallOpen {
                id: stall_id.clone(),
                name: "Les Vergers".into(),
                market: "Aligre".into(),
                days: vec![6],
                opens_min: 480,
                closes_min: 780,
                place: String::new(),
                cell: None,
            },
        )
        .unwrap();
    store
        .mutate(
            nid,
            ProductAdd {
                id: product_id.into(),
                stall_id,
                name: "Radis".into(),
                unit: "bunch".into(),
                price_cents: 150,
                stock,
                available_today: true,
            },
        )
        .unwrap();
}

/// Tom (a moderator, so he may keep a stall) with a stall and radishes, synced on his phone and tablet.
fn market(dir: &TempDir) -> (Store, Store, Confirmed) {
    market_with(dir, StoreOptions::default().large_pull)
}

/// [`market`], on devices whose pulls of `large_pull` changes or more build some indexes at their end.
fn market_with(dir: &TempDir, large_pull: u64) -> (Store, Store, Confirmed) {
    let phone = device_with(dir, "phone", "tom", large_pull);
    let tablet = device_with(dir, "tablet", "tom", large_pull);
    let mut server = Confirmed::new();
    open_market(&phone, "n1", "radish", 10);
    push(&phone, &mut server);
    pull(&phone, &server, "n1", 100);
    tablet.follow("n1").unwrap();
    pull(&tablet, &server, "n1", 100);
    assert_eq!(product(&tablet, "n1", "radish").stock, 10);
    (phone, tablet, server)
}

#[test]
fn pending_moves_are_replayed_on_top_of_what_others_confirmed() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, mut server) = market(&dir);
    phone.mutate("n1", ProductAdjustStock { id: "radish".into(), delta: -3 }).unwrap();
    tablet.mutate("n1", ProductAdjustStock { id: "radish".into(), delta: 10 }).unwrap();
    push(&tablet, &mut server);
    // The phone pulls the restock while its sale is still pending: 10 + 10 - 3.
    pull(&phone, &server, "n1", 1);
    assert_eq!(product(&phone, "n1", "radish").stock, 17);
    assert_eq!(phone.pending_count().unwrap(), 1);
    push(&phone, &mut server);
    pull(&phone, &server, "n1", 100);
    pull(&tablet, &server, "n1", 100);
    assert_eq!(product(&phone, "n1", "radish"), product(&tablet, "n1", "radish"));
    assert_eq!(product(&phone, "n1", "radish").stock, 17);
}

#[test]
fn a_refused_mutation_is_rolled_back_and_kept_for_the_inbox() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, mut server) = market(&dir);
    // The tablet sells the last radishes and syncs; the phone, offline, sells 4 more it thinks it has.
    tablet.mutate("n1", ProductAdjustStock { id: "radish".into(), delta: -8 }).unwrap();
    push(&tablet, &mut server);
    phone.mutate("n1", ProductAdjustStock { id: "radish".into(), delta: -4 }).unwrap();
    assert_eq!(product(&phone, "n1", "radish").stock, 6);
    let results = push(&phone, &mut server);
    assert!(
        matches!(&results[0].outcome, Outcome::Rejected { code: Code::InsufficientStock, .. }),
        "{results:?}"
    );
    // Rolled back at once to the confirmed state the phone knew, then brought up to date by the pull.
    assert_eq!(product(&phone, "n1", "radish").stock, 10);
    pull(&phone, &server, "n1", 100);
    assert_eq!(product(&phone, "n1", "radish").stock, 2);
    assert_eq!(phone.pending_count().unwrap(), 0);
    let inbox = phone.inbox("n1", phone.now_ms(), 0).unwrap();
    let refusal = inbox.iter().find(|e| e.kind.as_str() == "rejected").expect("the refusal is in the inbox");
    assert!(refusal.body.contains("Only 2 bunch of Radis left"), "{refusal:?}");
}

#[test]
fn a_rollback_keeps_the_effects_of_mutations_applied_but_not_pulled_yet() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, mut server) = market(&dir);
    tablet.mutate("n1", ProductAdjustStock { id: "radish".into(), delta: -8 }).unwrap();
    push(&tablet, &mut server);
    // Offline, the phone restocks 5, then sells 9 it thinks it has (10 + 5): the server applies the
    // restock (2 + 5) and refuses the sale (7 < 9).
    let restock = phone.mutate("n1", ProductAdjustStock { id: "radish".into(), delta: 5 }).unwrap();
    phone.mutate("n1", ProductAdjustStock { id: "radish".into(), delta: -9 }).unwrap();
    let results = push(&phone, &mut server);
    assert_eq!(results[0].outcome, Outcome::Applied);
    assert!(matches!(&results[1].outcome, Outcome::Rejected { code: Code::InsufficientStock, .. }));
    // Only the sale is rolled back: the restock, applied, stays on the phone until the pull confirms it.
    let radish = product(&phone, "n1", "radish");
    assert_eq!(radish.stock, 15);
    assert!(radish.moves.iter().any(|m| m.hlc == restock.mutation.hlc && m.delta == 5), "{radish:?}");
    pull(&phone, &server, "n1", 100);
    assert_eq!(product(&phone, "n1", "radish").stock, 7);
    // Once pulled, the restock is not replayed again by a later rollback.
    phone.mutate("n1", ProductAdjustStock { id: "radish".into(), delta: -20 }).unwrap_err();
    phone.mutate("n1", ProductAdjustStock { id: "radish".into(), delta: -7 }).unwrap();
    tablet.mutate("n1", ProductAdjustStock { id: "radish".into(), delta: -1 }).unwrap();
    push(&tablet, &mut server);
    let results = push(&phone, &mut server);
    assert!(matches!(&results[0].outcome, Outcome::Rejected { .. }), "{results:?}");
    assert_eq!(product(&phone, "n1", "radish").stock, 7, "the confirmed 7, the refused sale rolled back");
    pull(&phone, &server, "n1", 100);
    assert_eq!(product(&phone, "n1", "radish").stock, 6);
}

#[test]
fn an_interrupted_pull_resumes_from_its_last_page() {
    let dir = TempDir::new().unwrap();
    let (phone, _tablet, mut server) = market(&dir);
    let latecomer = device(&dir, "late", "tom");
    for delta in [1, 2, 3, 4] {
        phone.mutate("n1", ProductAdjustStock { id: "radish".into(), delta }).unwrap();
    }
    push(&phone, &mut server);
    latecomer.follow("n1").unwrap();
    let pages = server.pages("n1", "late-device", 0, 2);
    assert!(pages.len() > 2);
    latecomer.apply_pulled("n1", &pages[0]).unwrap();
    latecomer.apply_pulled("n1", &pages[1]).unwrap();
    let cursor = latecomer.sync_cursor("n1").unwrap();
    drop(latecomer);
    // The process died here; the next start goes on from the stored cursor.
    let latecomer = device(&dir, "late", "tom");
    assert_eq!(latecomer.sync_cursor("n1").unwrap(), cursor);
    pull(&latecomer, &server, "n1", 2);
    assert_eq!(product(&latecomer, "n1", "radish"), product(&phone, "n1", "radish"));
    assert_eq!(product(&latecomer, "n1", "radish").stock, 20);
}

#[test]
fn a_price_changed_on_both_devices_ends_at_the_newest_everywhere() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, mut server) = market(&dir);
    let older = tablet.mutate("n1", ProductSetPrice { id: "radish".into(), price_cents: 180 }).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let newer = phone.mutate("n1", ProductSetPrice { id: "radish".into(), price_cents: 200 }).unwrap();
    assert!(newer.mutation.hlc > older.mutation.hlc);
    // The newer edit reaches the server first; the older one arrives later and changes nothing.
    push(&phone, &mut server);
    push(&tablet, &mut server);
    pull(&phone, &server, "n1", 100);
    pull(&tablet, &server, "n1", 100);
    assert_eq!(product(&tablet, "n1", "radish").price_cents, 200, "the tablet's own older edit gave way");
    assert_eq!(product(&phone, "n1", "radish"), product(&tablet, "n1", "radish"));
}

fn adjust(id: &str, delta: i64) -> ProductAdjustStock {
    ProductAdjustStock { id: id.into(), delta }
}

fn applied(mutations: &[&Applied]) -> Vec<MutationResult> {
    mutations.iter().map(|a| MutationResult { seq: a.mutation.seq, outcome: Outcome::Applied }).collect()
}

#[test]
fn a_change_applied_by_the_server_whose_answer_was_lost_counts_once() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, mut server) = market(&dir);
    // Tom restocks 5 on the phone; the server applies it, but its answer is lost on the way.
    let restock = phone.mutate("n1", adjust("radish", 5)).unwrap();
    push_and_lose_the_answer(&phone, &mut server);
    // Meanwhile the tablet sells 1 and syncs, and the phone sells 2 (not pushed yet).
    tablet.mutate("n1", adjust("radish", -1)).unwrap();
    push(&tablet, &mut server);
    let sale = phone.mutate("n1", adjust("radish", -2)).unwrap();
    assert_eq!(product(&phone, "n1", "radish").stock, 13);

    // The phone pulls, in pages of one version. The last page says the server had answered the phone
    // up to the restock: it is in the confirmed state (10 + 5 - 1) and is not replayed on top; the
    // sale, numbered after it, is.
    pull(&phone, &server, "n1", 1);
    let radish = product(&phone, "n1", "radish");
    assert_eq!(radish.stock, 12, "the restock counted once: {radish:?}");
    assert_eq!(radish.moves.iter().filter(|m| m.hlc == restock.mutation.hlc).count(), 1, "{radish:?}");
    assert!(radish.moves.iter().any(|m| m.hlc == sale.mutation.hlc), "the pending sale is replayed");
    assert_eq!(phone.pending_count().unwrap(), 2, "both still wait for their answer");

    // Later rebases leave it out too: a pull with news from the tablet (it sells 10: 4 left)...
    pull(&tablet, &server, "n1", 100);
    tablet.mutate("n1", adjust("radish", -10)).unwrap();
    push(&tablet, &mut server);
    pull(&phone, &server, "n1", 100);
    assert_eq!(product(&phone, "n1", "radish").stock, 2, "4 confirmed, the pending sale of 2 on top");
    // ... and a rollback: the tablet sells 1 more (3 left), and the phone, not knowing it, sells its
    // last 2, which the server refuses (1 left after the first sale). Pushed again, the restock gets
    // its recorded answer; the first sale is applied.
    tablet.mutate("n1", adjust("radish", -1)).unwrap();
    push(&tablet, &mut server);
    let refused = phone.mutate("n1", adjust("radish", -2)).unwrap();
    let results = push(&phone, &mut server);
    assert_eq!(&results[..2], &applied(&[&restock, &sale])[..]);
    assert_eq!(results[2].seq, refused.mutation.seq);
    assert!(matches!(&results[2].outcome, Outcome::Rejected { code: Code::InsufficientStock, .. }));
    // The first sale is applied but not pulled yet, so the rollback replays it; the restock was pulled
    // already, so it is not replayed with it: 4 - 2.
    assert_eq!(product(&phone, "n1", "radish").stock, 2, "{:?}", product(&phone, "n1", "radish"));
    assert_eq!(phone.pending_count().unwrap(), 0);

    pull(&phone, &server, "n1", 100);
    pull(&tablet, &server, "n1", 100);
    assert_eq!(product(&phone, "n1", "radish"), product(&tablet, "n1", "radish"));
    // 10 + 5 - 1 - 10 - 1 - 2: the server applied the restock once, and so does every device.
    assert_eq!(product(&tablet, "n1", "radish").stock, 1);
    let moves = product(&phone, "n1", "radish").moves;
    assert_eq!(moves.iter().filter(|m| m.hlc == restock.mutation.hlc).count(), 1, "{moves:?}");
}

#[test]
fn pending_changes_of_a_neighbourhood_not_pulled_yet_are_still_replayed() {
    let dir = TempDir::new().unwrap();
    let (phone, _tablet, mut server) = market(&dir);
    // Tom's second market, in another neighbourhood, synced.
    open_market(&phone, "n2", "leek", 4);
    push(&phone, &mut server);
    pull(&phone, &server, "n2", 100);
    // Offline, he restocks leeks (n2), then radishes (n1); the server applies both, the answers are lost.
    let leeks = phone.mutate("n2", adjust("leek", 3)).unwrap();
    let radishes = phone.mutate("n1", adjust("radish", 5)).unwrap();
    assert!(leeks.mutation.seq < radishes.mutation.seq);
    push_and_lose_the_answer(&phone, &mut server);

    // The pull of n1 says the server answered both numbers. The radish restock is in n1's confirmed
    // state: not replayed. The leek restock is not in what the phone has pulled of n2 yet: still
    // replayed, or it would vanish from the phone until n2 is pulled.
    pull(&phone, &server, "n1", 100);
    assert_eq!(product(&phone, "n1", "radish").stock, 15);
    assert_eq!(product(&phone, "n2", "leek").stock, 7);
    // Once n2 is pulled, it holds the leek restock once as well.
    pull(&phone, &server, "n2", 100);
    assert_eq!(product(&phone, "n2", "leek").stock, 7);
    assert_eq!(product(&phone, "n1", "radish").stock, 15);
    assert_eq!(phone.pending_count().unwrap(), 2);

    // The next push gets both answers again; nothing moves, and the next pulls change nothing.
    assert_eq!(push(&phone, &mut server), applied(&[&leeks, &radishes]));
    assert_eq!(phone.pending_count().unwrap(), 0);
    assert_eq!(product(&phone, "n2", "leek").stock, 7);
    assert_eq!(product(&phone, "n1", "radish").stock, 15);
    pull_both(&phone, &server);
    assert_eq!(product(&phone, "n2", "leek").stock, 7);
    assert_eq!(product(&phone, "n1", "radish").stock, 15);
}

/// Pulls both neighbourhoods of the phone.
fn pull_both(phone: &Store, server: &Confirmed) {
    for nid in ["n1", "n2"] {
        pull(phone, server, nid, 100);
    }
}

#[test]
fn a_change_answered_after_the_pull_was_read_stays_until_the_next_pull() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, mut server) = market(&dir);
    tablet.mutate("n1", adjust("radish", -1)).unwrap();
    push(&tablet, &mut server);
    // A pull of the phone is read by the server (the tablet's sale in it)...
    let device_id = phone.identity().device_id.clone();
    let pages = server.pages("n1", &device_id, phone.sync_cursor("n1").unwrap(), 100);
    // ... then another client of the same store pushes the phone's restock, and hears the answer...
    phone.mutate("n1", adjust("radish", 5)).unwrap();
    push(&phone, &mut server);
    // ... and then the pull's pages arrive: they do not hold the restock (answered after they were
    // read), so it stays on the phone, to be settled by the next pull.
    for page in &pages {
        phone.apply_pulled("n1", page).unwrap();
    }
    assert_eq!(product(&phone, "n1", "radish").stock, 14, "10 - 1 confirmed, the restock kept on top");
    pull(&phone, &server, "n1", 100);
    assert_eq!(product(&phone, "n1", "radish").stock, 14);
    pull(&tablet, &server, "n1", 100);
    assert_eq!(product(&phone, "n1", "radish"), product(&tablet, "n1", "radish"));
}

#[test]
fn a_server_that_does_not_say_what_it_answered_is_pulled_as_before() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, mut server) = market(&dir);
    phone.mutate("n1", adjust("radish", -3)).unwrap();
    tablet.mutate("n1", adjust("radish", 10)).unwrap();
    push(&tablet, &mut server);
    let device_id = phone.identity().device_id.clone();
    for mut page in server.pages("n1", &device_id, phone.sync_cursor("n1").unwrap(), 1) {
        page.answered_seq = None;
        phone.apply_pulled("n1", &page).unwrap();
    }
    // The pending sale is replayed on the restock: 10 + 10 - 3.
    assert_eq!(product(&phone, "n1", "radish").stock, 17);
    push(&phone, &mut server);
    for mut page in server.pages("n1", &device_id, phone.sync_cursor("n1").unwrap(), 100) {
        page.answered_seq = None;
        phone.apply_pulled("n1", &page).unwrap();
    }
    assert_eq!(product(&phone, "n1", "radish").stock, 17);
    assert_eq!(phone.pending_count().unwrap(), 0);
}

/// The rows of the store's `confirmed` table (the confirmed state kept apart for what this device
/// changed), as (kind, id, whether the server has the entity).
fn kept_apart(dir: &TempDir, name: &str) -> Vec<(String, String, bool)> {
    let conn = rusqlite::Connection::open(dir.path().join(format!("{name}.db"))).unwrap();
    let mut stmt =
        conn.prepare("SELECT kind, id, data IS NOT NULL FROM confirmed ORDER BY kind, id").unwrap();
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn only_what_the_device_changed_is_kept_apart_from_the_replica() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, mut server) = market(&dir);
    // Pulled and not changed here since: the replica is the confirmed state, nothing is kept twice.
    assert_eq!(kept_apart(&dir, "tablet"), vec![]);
    assert_eq!(kept_apart(&dir, "phone"), vec![]);
    // A sale of a pulled product keeps its confirmed state; a new product is one the server has not.
    tablet.mutate("n1", adjust("radish", -2)).unwrap();
    tablet
        .mutate(
            "n1",
            ProductAdd {
                id: "leek".into(),
                stall_id: "stall-n1".into(),
                name: "Poireau".into(),
                unit: "kg".into(),
                price_cents: 300,
                stock: 4,
                available_today: true,
            },
        )
        .unwrap();
    tablet.mutate("n1", adjust("leek", -1)).unwrap();
    let expected =
        vec![("product".to_owned(), "leek".to_owned(), false), ("product".into(), "radish".into(), true)];
    assert_eq!(kept_apart(&dir, "tablet"), expected);
    // Applied: kept until the pull brings the server's state, then dropped.
    push(&tablet, &mut server);
    assert_eq!(kept_apart(&dir, "tablet"), expected);
    pull(&tablet, &server, "n1", 100);
    assert_eq!(kept_apart(&dir, "tablet"), vec![]);
    assert_eq!(product(&tablet, "n1", "leek").stock, 3);
    // Refused: rolled back to the kept state at once, and nothing is kept after.
    phone.mutate("n1", adjust("radish", -10)).unwrap();
    assert_eq!(kept_apart(&dir, "phone").len(), 1);
    let results = push(&phone, &mut server);
    assert!(matches!(&results[0].outcome, Outcome::Rejected { .. }), "{results:?}");
    assert_eq!(product(&phone, "n1", "radish").stock, 10);
    assert_eq!(kept_apart(&dir, "phone"), vec![]);
}

/// Tom offers to lend `title`, here and now, as favour `id`.
fn offer(id: &str, title: &str) -> FavourPost {
    FavourPost {
        id: id.into(),
        kind: FavourKind::Offer,
        title: title.into(),
        details: String::new(),
        category: "diy".into(),
        window: None,
        cell: Some(Cell { row: 100, col: 200 }),
    }
}

/// The confirmed state with the device's pending mutations replayed on it: what its replica must show
/// after a pull.
fn confirmed_and_pending(server: &Confirmed, device: &Store) -> Vec<Entity> {
    let mut state = server.state.clone();
    for m in device.outbox().unwrap() {
        // Refused on replay: no local effect until the server answers.
        let _ = state.apply(&m, device.now_ms());
    }
    let mut entities: Vec<Entity> =
        state.entities().filter(|e| e.key().neighbourhood_id == "n1").cloned().collect();
    entities.sort_by_key(Entity::key);
    entities
}

#[test]
fn a_rebase_leaves_what_the_pull_did_not_change_as_it_was() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, mut server) = market(&dir);
    // Offline, the phone offers a ladder; the tablet restocks, and syncs.
    phone.mutate("n1", offer("ladder", "Ladder")).unwrap();
    tablet.mutate("n1", adjust("radish", 5)).unwrap();
    push(&tablet, &mut server);
    let told = std::sync::Arc::new(Told::default());
    let weak = std::sync::Arc::downgrade(&told);
    phone.subscribe(weak);
    pull(&phone, &server, "n1", 100);
    assert_eq!(phone.replica("n1").unwrap(), confirmed_and_pending(&server, &phone));
    // The ladder came out of the rebase as it went in: its row was not written again, and observers
    // of the favours are not woken for it.
    assert_eq!(told.kinds(), [EntityKind::Product].into());
    // Nor did it take a new place among the newest: a drill offered on the tablet since comes first.
    tablet.mutate("n1", offer("drill", "Drill")).unwrap();
    push(&tablet, &mut server);
    pull(&phone, &server, "n1", 100);
    let newest = SearchFilter { order: SearchOrder::Newest, ..SearchFilter::default() };
    let hits: Vec<String> =
        phone.search("n1", "diy", &newest, Page::default()).unwrap().into_iter().map(|h| h.id).collect();
    assert_eq!(hits, ["drill", "ladder"]);
    assert_eq!(phone.replica("n1").unwrap(), confirmed_and_pending(&server, &phone));
}

#[test]
fn a_replayed_change_that_lists_things_sees_what_the_earlier_ones_replayed() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, mut server) = market(&dir);
    // Offline, Tom offers a ladder on his phone, then leaves the neighbourhood: his offer goes with him.
    phone.mutate("n1", offer("ladder", "Ladder")).unwrap();
    phone.mutate("n1", MemberLeave {}).unwrap();
    let ladder = EntityKey::new("n1", EntityKind::Favour, "ladder");
    assert_eq!(phone.get(&ladder).unwrap(), None);
    // His tablet restocked meanwhile; the phone pulls that with both its changes pending. Replaying the
    // leave lists his things, the ladder among them, which the replay of the offer has just put back.
    tablet.mutate("n1", adjust("radish", 5)).unwrap();
    push(&tablet, &mut server);
    pull(&phone, &server, "n1", 100);
    assert_eq!(phone.pending_count().unwrap(), 2);
    assert_eq!(phone.get(&ladder).unwrap(), None);
    assert_eq!(phone.replica("n1").unwrap(), confirmed_and_pending(&server, &phone));
}

/// Whether a word is anywhere in a store's files (the database and its log), in any case.
fn in_files(dir: &TempDir, name: &str, word: &str) -> bool {
    let word = word.to_lowercase();
    ["db", "db-wal"].iter().any(|ext| {
        let bytes = std::fs::read(dir.path().join(format!("{name}.{ext}"))).unwrap_or_default();
        bytes.to_ascii_lowercase().windows(word.len()).any(|w| w == word.as_bytes())
    })
}

#[test]
fn a_neighbourhood_left_leaves_nothing_of_it_readable_in_the_files() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, mut server) = market(&dir);
    // Many things, so that leaving frees whole pages of them, and one the search has indexed.
    tablet.mutate("n1", offer("secret", "Zanzibarquux ladder")).unwrap();
    for i in 0..300 {
        tablet.mutate("n1", offer(&format!("f{i}"), &format!("Quokkaplum number {i}"))).unwrap();
    }
    push(&tablet, &mut server);
    pull(&phone, &server, "n1", 100);
    let hits = phone.search("n1", "zanzibarquux", &SearchFilter::default(), Page::default()).unwrap();
    assert_eq!(hits.len(), 1);
    assert!(in_files(&dir, "phone", "zanzibarquux") && in_files(&dir, "phone", "quokkaplum"));
    phone.forget("n1").unwrap();
    for word in ["zanzibarquux", "quokkaplum", "Les Vergers"] {
        assert!(!in_files(&dir, "phone", word), "{word} is still in the phone's files");
    }
    // The tablet, still a member, keeps everything; the phone goes on working.
    assert_eq!(
        tablet.search("n1", "zanzibarquux", &SearchFilter::default(), Page::default()).unwrap().len(),
        1
    );
    assert_eq!(phone.replica("n1").unwrap(), vec![]);
    assert!(phone.search("n1", "ladder", &SearchFilter::default(), Page::default()).unwrap().is_empty());
}

/// The refused list as the device keeps it: (seq, code).
fn refused(dir: &TempDir, name: &str) -> Vec<(i64, String)> {
    let conn = rusqlite::Connection::open(dir.path().join(format!("{name}.db"))).unwrap();
    let mut stmt = conn.prepare("SELECT seq, code FROM rejected ORDER BY seq").unwrap();
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap().map(Result::unwrap).collect()
}

#[test]
fn leaving_refuses_what_waits_but_not_what_the_server_answered() {
    let dir = TempDir::new().unwrap();
    let (phone, _tablet, mut server) = market(&dir);
    // The server applies a sale whose answer is lost; the pull says it was answered. Then one more
    // change, made while the person was leaving, waits.
    let sold = phone.mutate("n1", adjust("radish", -1)).unwrap().mutation.seq;
    push_and_lose_the_answer(&phone, &mut server);
    pull(&phone, &server, "n1", 100);
    let waiting = phone.mutate("n1", adjust("radish", -2)).unwrap().mutation.seq;
    assert_eq!(phone.pending_count().unwrap(), 2);
    phone.forget("n1").unwrap();
    // Only the change the server never saw is refused; the sale it applied is not called refused.
    assert_eq!(refused(&dir, "phone"), vec![(i64::try_from(waiting).unwrap(), "not_member".to_owned())]);
    assert!(sold < waiting);
    assert_eq!(phone.pending_count().unwrap(), 0);
}

#[test]
fn the_log_does_not_keep_the_size_of_a_large_pull() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, mut server) = many_favours(&dir, 0, StoreOptions::default().large_pull);
    for i in 0..3_000 {
        let post = FavourPost { details: "a".repeat(1_900), ..offer(&format!("f{i}"), "Ladder") };
        phone.mutate("n1", post).unwrap();
    }
    while phone.pending_count().unwrap() > 0 {
        push(&phone, &mut server);
    }
    // One page of 3,000 long favours: a commit of more than 8 MiB to the log.
    pull(&tablet, &server, "n1", 10_000);
    let wal = dir.path().join("tablet.db-wal");
    let grown = std::fs::metadata(&wal).unwrap().len();
    assert!(grown > 8 << 20, "the pull's commit grew the log to {grown} bytes only");
    // The next write starts the log over (the page was checkpointed after its commit), and cuts it back.
    tablet.mutate("n1", offer("ladder", "Ladder")).unwrap();
    let after = std::fs::metadata(&wal).unwrap().len();
    assert!(after <= 8 << 20, "the log kept {after} bytes of the pull's {grown}");
}

#[test]
fn random_stories_of_two_devices_end_with_the_servers_state() {
    for seed in 1..=12_u8 {
        let dir = TempDir::new().unwrap();
        // Half the stories on devices for which every pull as large as their replica is a large one.
        let large_pull = if seed % 2 == 0 { 1 } else { StoreOptions::default().large_pull };
        let (phone, tablet, mut server) = market_with(&dir, large_pull);
        let devices = [&phone, &tablet];
        // Seeded: the same stories every run.
        let mut dice = TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]);
        let mut products = vec!["radish".to_owned()];
        for step in 0..150 {
            let device = devices[dice.random_range(0..2_usize)];
            let id = products[dice.random_range(0..products.len())].clone();
            // Refused at once on the device (not enough stock, removed product): nothing to push.
            let _ = match dice.random_range(0..12) {
                0..=3 => device.mutate("n1", adjust(&id, dice.random_range(-4..3))).map(drop),
                4 => device
                    .mutate("n1", ProductSetPrice { id, price_cents: dice.random_range(100..150) })
                    .map(drop),
                5 => device.mutate("n1", ProductStocktake { id, count: dice.random_range(0..9) }).map(drop),
                6 if dice.random_range(0..3) == 0 => device.mutate("n1", ProductRemove { id }).map(drop),
                6 => {
                    let id = format!("p{seed}-{step}");
                    products.push(id.clone());
                    let add = ProductAdd {
                        id,
                        stall_id: "stall-n1".into(),
                        name: "Navet".into(),
                        unit: "bunch".into(),
                        price_cents: 120,
                        stock: dice.random_range(0..6),
                        available_today: true,
                    };
                    device.mutate("n1", add).map(drop)
                }
                7 | 8 => {
                    push(device, &mut server);
                    Ok(())
                }
                9 => {
                    push_and_lose_the_answer(device, &mut server);
                    Ok(())
                }
                10 => {
                    pull(device, &server, "n1", dice.random_range(1..5));
                    Ok(())
                }
                // Online for a moment: every answer heard, then everything pulled. Nothing of its own
                // is left on top, so the device shows exactly what the server has.
                _ => {
                    push(device, &mut server);
                    pull(device, &server, "n1", dice.random_range(1..5));
                    let name = if std::ptr::eq(device, &phone) { "phone" } else { "tablet" };
                    let when = format!("seed {seed}, step {step}");
                    assert_in_step(device, &server, &kept_apart(&dir, name), &when);
                    assert_eq!(indexes(&dir, name), indexes(&dir, "fresh"), "{when}: {name}'s indexes");
                    Ok(())
                }
            };
        }
        for (device, name) in [(&phone, "phone"), (&tablet, "tablet")] {
            push(device, &mut server);
            pull(device, &server, "n1", 100);
            assert_in_step(device, &server, &kept_apart(&dir, name), &format!("seed {seed}, the end"));
        }
    }
}

/// A device with nothing pending that has pulled everything shows the server's state, and keeps
/// nothing apart (`kept` is its `confirmed` table).
fn assert_in_step(device: &Store, server: &Confirmed, kept: &[(String, String, bool)], when: &str) {
    let mut confirmed: Vec<Entity> =
        server.state.entities().filter(|e| e.key().neighbourhood_id == "n1").cloned().collect();
    confirmed.sort_by_key(Entity::key);
    let name = &device.identity().device_id;
    assert_eq!(device.pending_count().unwrap(), 0, "{when}: {name}");
    assert_eq!(device.replica("n1").unwrap(), confirmed, "{when}: the replica of {name}");
    assert_eq!(kept, &[], "{when}: {name} keeps nothing apart");
}

/// The names of the indexes of a store's file, as another connection reads them; "fresh" is a store
/// opened for the occasion.
fn indexes(dir: &TempDir, name: &str) -> Vec<String> {
    if name == "fresh" && !dir.path().join("fresh.db").exists() {
        drop(device(dir, "fresh", "nobody"));
    }
    let conn = rusqlite::Connection::open(dir.path().join(format!("{name}.db"))).unwrap();
    let mut stmt = conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' ORDER BY name").unwrap();
    stmt.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
}

/// The commits an observer is told of since it subscribed: the kinds each says changed.
#[derive(Default)]
struct Told(std::sync::Mutex<Vec<std::collections::BTreeSet<EntityKind>>>);

impl CommitListener for Told {
    fn committed(&self, kinds: &std::collections::BTreeSet<EntityKind>) {
        self.0.lock().unwrap().push(kinds.clone());
    }
}

impl Told {
    fn times(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Every kind it was told of.
    fn kinds(&self) -> std::collections::BTreeSet<EntityKind> {
        self.0.lock().unwrap().iter().flatten().copied().collect()
    }
}

/// Tom founds n1 on his phone and posts `n` favours there, each at a place of its own, all pushed;
/// his tablet (whose pulls of `large_pull` changes or more are large ones) follows n1 and has pulled
/// nothing yet.
fn many_favours(dir: &TempDir, n: usize, large_pull: u64) -> (Store, Store, Confirmed) {
    let phone = device(dir, "phone", "tom");
    let tablet = device_with(dir, "tablet", "tom", large_pull);
    let mut server = Confirmed::new();
    let create = NeighbourhoodCreate {
        name: "Aligre".into(),
        description: String::new(),
        cell: None,
        display_name: "Tom".into(),
    };
    phone.mutate("n1", create).unwrap();
    post_favours(&phone, 0..n);
    while phone.pending_count().unwrap() > 0 {
        push(&phone, &mut server);
    }
    tablet.follow("n1").unwrap();
    (phone, tablet, server)
}

fn post_favours(store: &Store, numbers: std::ops::Range<usize>) {
    for i in numbers {
        let post = FavourPost {
            id: format!("f{i:03}"),
            kind: FavourKind::Offer,
            title: format!("Ladder number {i}"),
            details: String::new(),
            category: ["diy", "garden", "kids"][i % 3].into(),
            window: None,
            cell: Some(Cell {
                row: 100 + u32::try_from(i % 7).unwrap(),
                col: 200 + u32::try_from(i % 5).unwrap(),
            }),
        };
        store.mutate("n1", post).unwrap();
    }
}

/// The nearest favours around the cells of [`post_favours`], as the apps list them.
fn nearest(store: &Store) -> Vec<FavourView> {
    let filter = FavourFilter { near: Some(Cell { row: 103, col: 202 }), ..FavourFilter::default() };
    store.favours("n1", &filter, Page { limit: 200, offset: 0 }).unwrap()
}

#[test]
fn a_large_pull_builds_the_list_indexes_it_put_off_once_at_its_end() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, server) = many_favours(&dir, 60, 20);
    let told = std::sync::Arc::new(Told::default());
    let listener: std::sync::Arc<dyn CommitListener> = told.clone();
    tablet.subscribe(std::sync::Arc::downgrade(&listener));
    let pages = server.pages("n1", "tablet-device", 0, 10);
    assert_eq!(pages.len(), 7);
    tablet.apply_pulled("n1", &pages[0]).unwrap();
    // 70 changes to come and an empty replica: the place index waits, the one in time order does not.
    let waiting = indexes(&dir, "tablet");
    assert!(!waiting.contains(&"favours_by_place".to_owned()), "{waiting:?}");
    assert!(waiting.contains(&"favours_by_time".to_owned()), "{waiting:?}");
    // Lists answer the same meanwhile, only without the index; the observers are not told yet.
    assert_eq!(nearest(&tablet).len(), 9);
    for page in &pages[1..6] {
        tablet.apply_pulled("n1", page).unwrap();
    }
    assert_eq!(told.times(), 0);
    assert!(!indexes(&dir, "tablet").contains(&"favours_by_place".to_owned()));
    tablet.apply_pulled("n1", &pages[6]).unwrap();
    assert_eq!(indexes(&dir, "tablet"), indexes(&dir, "fresh"));
    assert_eq!(told.times(), 1, "told once, at the end");
    assert_eq!(nearest(&tablet).len(), 60);
    assert_eq!(nearest(&tablet), nearest(&phone));
}

#[test]
fn a_large_pull_cut_short_builds_its_indexes_when_the_round_ends_or_the_store_opens_again() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, server) = many_favours(&dir, 60, 20);
    let pages = server.pages("n1", "tablet-device", 0, 10);
    tablet.apply_pulled("n1", &pages[0]).unwrap();
    tablet.apply_pulled("n1", &pages[1]).unwrap();
    assert_ne!(indexes(&dir, "tablet"), indexes(&dir, "fresh"));
    // The sync round ends (its deadline, the network): the indexes are built, once.
    assert!(tablet.build_deferred_indexes().unwrap());
    assert!(!tablet.build_deferred_indexes().unwrap());
    assert_eq!(indexes(&dir, "tablet"), indexes(&dir, "fresh"));
    // The next round goes on (still more to come than the replica holds), and the app is killed.
    tablet.apply_pulled("n1", &pages[2]).unwrap();
    assert_ne!(indexes(&dir, "tablet"), indexes(&dir, "fresh"));
    drop(tablet);
    let tablet = device_with(&dir, "tablet", "tom", 20);
    assert_eq!(indexes(&dir, "tablet"), indexes(&dir, "fresh"));
    pull(&tablet, &server, "n1", 10);
    assert_eq!(indexes(&dir, "tablet"), indexes(&dir, "fresh"));
    assert_eq!(nearest(&tablet), nearest(&phone));
}

#[test]
fn a_pull_smaller_than_the_replica_keeps_its_indexes() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, mut server) = many_favours(&dir, 60, 20);
    pull(&tablet, &server, "n1", 10);
    post_favours(&phone, 60..85);
    while phone.pending_count().unwrap() > 0 {
        push(&phone, &mut server);
    }
    let told = std::sync::Arc::new(Told::default());
    let listener: std::sync::Arc<dyn CommitListener> = told.clone();
    tablet.subscribe(std::sync::Arc::downgrade(&listener));
    // 25 changes to come: over `large_pull`, but fewer than the replica's 62 rows.
    for page in server.pages("n1", "tablet-device", tablet.sync_cursor("n1").unwrap(), 10) {
        tablet.apply_pulled("n1", &page).unwrap();
        assert_eq!(indexes(&dir, "tablet"), indexes(&dir, "fresh"));
    }
    assert_eq!(told.times(), 3, "told after each page");
    assert_eq!(nearest(&tablet), nearest(&phone));
}

/// Put-off indexes that cannot be built when the store opens (the disk full, or read-only) leave it
/// usable: it opens, lists everything (more slowly), and the indexes are built once they can be.
#[test]
fn put_off_indexes_that_cannot_be_built_leave_the_store_usable() {
    let dir = TempDir::new().unwrap();
    let (phone, tablet, server) = many_favours(&dir, 60, 20);
    let pages = server.pages("n1", "tablet-device", 0, 10);
    tablet.apply_pulled("n1", &pages[0]).unwrap();
    tablet.apply_pulled("n1", &pages[1]).unwrap();
    drop(tablet);
    fn cannot_write(conn: &mut rusqlite::Connection) -> rusqlite::Result<()> {
        conn.pragma_update(None, "query_only", true)
    }
    let identity = Identity { device_id: "tablet-device".into(), person_id: "tom".into() };
    let options = StoreOptions {
        identity: Some(identity),
        large_pull: 20,
        on_open: Some(cannot_write),
        ..StoreOptions::default()
    };
    let stuck = Store::open(dir.path().join("tablet.db"), options).unwrap();
    assert_eq!(nearest(&stuck).len(), 19, "what was pulled is listed");
    assert!(stuck.build_deferred_indexes().is_err());
    assert_ne!(indexes(&dir, "tablet"), indexes(&dir, "fresh"));
    drop(stuck);
    let tablet = device_with(&dir, "tablet", "tom", 20);
    assert_eq!(indexes(&dir, "tablet"), indexes(&dir, "fresh"));
    pull(&tablet, &server, "n1", 10);
    assert_eq!(nearest(&tablet), nearest(&phone));
}
