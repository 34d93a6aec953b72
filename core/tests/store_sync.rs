//! The device's half of sync, against a real SQLite file: answers to a push, pages of a pull, and the
//! rebase of pending mutations on the confirmed state. The confirmed state comes from the rules' own
//! in-memory replica, numbered the way the server numbers its changes; the end-to-end tests in `tests/`
//! run the same stories against the real server.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::store::{Identity, Store, StoreOptions};
use quartier_core::sync::protocol::{Change, MutationResult, Outcome, PullResponse};
use std::collections::BTreeMap;
use tempfile::TempDir;

/// The confirmed state, as the server keeps it: the rules' replica, and the version of each entity.
struct Confirmed {
    state: MemoryState,
    versions: BTreeMap<EntityKey, (u64, Effect)>,
    version: u64,
}

impl Confirmed {
    fn new() -> Confirmed {
        Confirmed { state: MemoryState::new(), versions: BTreeMap::new(), version: 0 }
    }

    fn apply(&mut self, m: &Mutation) -> Outcome {
        match self.state.apply(m, i64::try_from(m.hlc.wall_ms()).unwrap()) {
            Ok(effects) => {
                self.version += 1;
                for effect in effects {
                    self.versions.insert(effect.key(), (self.version, effect));
                }
                Outcome::Applied
            }
            Err(ApplyError::Rejected(r)) => Outcome::Rejected { code: r.code, message: r.message },
            Err(e) => panic!("{e}"),
        }
    }

    /// Everything after `after`, in one page or in pages of `per_page` versions.
    fn pages(&self, after: u64, per_page: u64) -> Vec<PullResponse> {
        let mut changes: Vec<Change> = self
            .versions
            .values()
            .filter(|(v, _)| *v > after)
            .map(|(version, effect)| Change { version: *version, effect: effect.clone() })
            .collect();
        changes.sort_by_key(|c| c.version);
        let mut pages = Vec::new();
        let mut from = after;
        while from < self.version {
            let to = (from + per_page).min(self.version);
            let page: Vec<Change> =
                changes.iter().filter(|c| c.version > from && c.version <= to).cloned().collect();
            pages.push(PullResponse {
                changes: page,
                cursor: to,
                checkpoint: self.version,
                more: to < self.version,
                answered_seq: None,
            });
            from = to;
        }
        pages
    }
}

/// A device of `person`, and its mutations as the server receives them.
fn device(dir: &TempDir, name: &str, person: &str) -> Store {
    let identity = Identity { device_id: format!("{name}-device"), person_id: person.into() };
    Store::open(
        dir.path().join(format!("{name}.db")),
        StoreOptions { identity: Some(identity), ..StoreOptions::default() },
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
    for page in server.pages(store.sync_cursor(nid).unwrap(), per_page) {
        store.apply_pulled(nid, &page).unwrap();
    }
}

fn product(store: &Store, nid: &str, id: &str) -> Product {
    match store.get(&EntityKey::new(nid, EntityKind::Product, id)).unwrap() {
        Some(Entity::Product(p)) => p,
        other => panic!("no product {id}: {other:?}"),
    }
}

/// Tom (a moderator, so he may keep a stall) with a stall and radishes, synced on his phone and tablet.
fn market(dir: &TempDir) -> (Store, Store, Confirmed) {
    let phone = device(dir, "phone", "tom");
    let tablet = device(dir, "tablet", "tom");
    let mut server = Confirmed::new();
    phone
        .mutate(
            "n1",
            NeighbourhoodCreate {
                name: "Aligre".into(),
                description: String::new(),
                cell: None,
                display_name: "Tom".into(),
            },
        )
        .unwrap();
    phone
        .mutate(
            "n1",
            StallOpen {
                id: "s1".into(),
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
    phone
        .mutate(
            "n1",
            ProductAdd {
                id: "radish".into(),
                stall_id: "s1".into(),
                name: "Radis".into(),
                unit: "bunch".into(),
                price_cents: 150,
                stock: 10,
                available_today: true,
            },
        )
        .unwrap();
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
    let pages = server.pages(0, 2);
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
