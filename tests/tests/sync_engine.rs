//! The sync engine's behaviour over time, with a real server: the background loop, the time budget,
//! and the status the apps show.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::sync::SyncStatus;
use quartier_core::sync::client::StatusListener;
use quartier_core::sync::protocol::Outcome;
use quartier_e2e::fixtures::neighbourhood;
use quartier_e2e::{Device, TestDb, TestServer};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn ask(id: &str) -> FavourPost {
    FavourPost {
        id: id.into(),
        kind: FavourKind::Ask,
        title: "Water my plants".into(),
        details: String::new(),
        category: "garden".into(),
        window: None,
        cell: None,
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<SyncStatus>>);

impl StatusListener for Recorder {
    fn status_changed(&self, status: &SyncStatus) {
        self.0.lock().unwrap().push(status.clone());
    }
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_loop_sends_a_local_write_soon_without_being_asked() {
    let server = TestServer::start().await;
    let alice = Device::new(&server, "alice").await;
    let recorder = Arc::new(Recorder::default());
    alice.client.add_status_listener(recorder.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // A long interval: only the write itself can make the loop sync again in time.
    let engine =
        tokio::spawn(alice.client.clone().run(Duration::from_secs(3600), Duration::from_secs(60), async {
            let _ = stopped.await;
        }));
    until("the first round is done", || recorder.0.lock().unwrap().iter().any(|s| !s.syncing)).await;
    alice.act("n1", neighbourhood("Aligre", "Alice")).unwrap();
    alice.act("n1", ask("f1")).unwrap();
    until("the writes reach the server", || alice.store.pending_count().unwrap() == 0).await;
    until("the status says so", || {
        alice.client.status().pending == 0 && alice.client.status().last_success_ms.is_some()
    })
    .await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), engine).await.unwrap().unwrap();
    let seen = recorder.0.lock().unwrap().clone();
    assert!(seen.iter().any(|s| s.syncing) && seen.iter().any(|s| !s.syncing), "{seen:?}");
    // A second device of nobody in Aligre sees nothing, but Bob joining would: the server has it all.
    let fresh = Device::new(&server, "bob").await;
    fresh.sync().await;
    assert!(fresh.replica("n1").is_empty(), "a stranger pulled Aligre");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_cut_short_by_its_budget_is_finished_by_the_next() {
    let server = TestServer::start().await;
    let alice = Device::new(&server, "alice").await;
    alice.act("n1", neighbourhood("Aligre", "Alice")).unwrap();
    for i in 0..450 {
        alice.act("n1", ask(&format!("f{i}"))).unwrap();
    }
    // No time at all: nothing is sent, nothing is lost, and the round says it is not complete.
    let report = alice.client.sync_once(Duration::ZERO).await.unwrap();
    assert!(!report.complete);
    assert_eq!(alice.store.pending_count().unwrap(), 451);
    let report = alice.client.sync_once(Duration::from_secs(30)).await.unwrap();
    assert!(report.complete);
    assert_eq!(report.pushed, 451);
    assert_eq!(alice.store.pending_count().unwrap(), 0);
    assert_eq!(alice.shared_replica("n1").len(), 1 + 1 + 450, "the neighbourhood, Alice and her favours");
}

/// A person takes a lost phone off the account from their tablet: the phone's syncs are refused from
/// then on; the tablet, the account's last device, cannot be taken off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_phone_is_taken_off_the_account_from_the_tablet() {
    let server = TestServer::start().await;
    let phone = Device::new(&server, "alice").await;
    phone.act("n1", neighbourhood("Aligre", "Alice")).unwrap();
    assert!(phone.client.sync_once(Duration::from_secs(30)).await.unwrap().complete);
    let tablet = phone.link("alice-tablet").await;
    assert!(tablet.client.sync_once(Duration::from_secs(30)).await.unwrap().complete);
    let listed = tablet.client.devices().await.unwrap();
    let names: Vec<(&str, bool)> = listed.iter().map(|d| (d.device_id.as_str(), d.this_device)).collect();
    assert_eq!(names[0], ("alice-device", false));
    assert_eq!((names.len(), names[1].1), (2, true));

    tablet.client.remove_device("alice-device").await.unwrap();
    phone.act("n1", ask("f-thief")).unwrap();
    let refused = phone.client.sync_once(Duration::from_secs(30)).await.unwrap_err();
    // The server's sentence reaches the device: not "unknown", taken off.
    assert!(
        matches!(&refused, quartier_core::sync::SyncError::Unauthorized { message } if message.contains("taken off its account")),
        "{refused:?}"
    );
    let last = tablet.client.remove_device(&listed[1].device_id).await.unwrap_err();
    assert!(
        matches!(&last, quartier_core::sync::SyncError::Server { status: 409, message, .. } if message.contains("last device")),
        "{last:?}"
    );
    assert_eq!(tablet.client.devices().await.unwrap().len(), 1);
    assert!(server.entity(&EntityKey::new("n1", EntityKind::Favour, "f-thief")).is_none());
}

/// With each push a device says up to which number it has stored the answers, and the server forgets
/// them once a day old: a day after pushing 301 mutations in two batches, the next sync leaves only
/// its own answer on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_forgets_the_answers_a_device_has_stored() {
    static SERVER_NOW: AtomicI64 = AtomicI64::new(0);
    SERVER_NOW.store(quartier_core::store::system_now_ms(), Ordering::SeqCst);
    let config = quartier_server::Config { now: || SERVER_NOW.load(Ordering::SeqCst), ..Default::default() };
    let server = TestServer::start_with(TestDb::Sqlite, config).await;
    let alice = Device::new(&server, "alice").await;
    alice.act("n1", neighbourhood("Aligre", "Alice")).unwrap();
    for i in 0..300 {
        alice.act("n1", ask(&format!("f{i}"))).unwrap();
    }
    assert!(alice.client.sync_once(Duration::from_secs(60)).await.unwrap().complete);
    assert_eq!(server.outcome("alice-device", 1), Some(Outcome::Applied), "kept for a day");
    SERVER_NOW.fetch_add(quartier_server::sync::push::OUTCOMES_KEPT_MS + 1, Ordering::SeqCst);
    alice.act("n1", ask("f-next-day")).unwrap();
    assert_eq!(alice.store.answers_stored_up_to().unwrap(), 301);
    assert!(alice.client.sync_once(Duration::from_secs(60)).await.unwrap().complete);
    let kept: Vec<u64> = (1..=302).filter(|seq| server.outcome("alice-device", *seq).is_some()).collect();
    assert_eq!(kept, [302]);
    assert_eq!(alice.store.answers_stored_up_to().unwrap(), 302);
}

/// Pushing alone sends the whole outbox, batch after batch (each batch's answers stored while the
/// next is on its way), and pulls nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushing_alone_sends_every_batch_in_order_and_pulls_nothing() {
    let server = TestServer::start().await;
    let alice = Device::new(&server, "alice").await;
    alice.act("n1", neighbourhood("Aligre", "Alice")).unwrap();
    for i in 0..650 {
        alice.act("n1", ask(&format!("f{i}"))).unwrap();
    }
    let report = alice.client.push_pending(Duration::from_secs(60)).await.unwrap();
    assert_eq!((report.pushed, report.complete), (651, true));
    assert_eq!(alice.store.pending_count().unwrap(), 0);
    for seq in 1..=651 {
        assert_eq!(server.outcome("alice-device", seq), Some(Outcome::Applied), "seq {seq}");
    }
    assert_eq!(alice.store.sync_cursor("n1").unwrap(), 0, "nothing pulled");
    let status = alice.client.status();
    assert_eq!((status.syncing, status.pending), (false, 0));
    assert_eq!(status.last_success_ms, None, "a push alone is not a whole round");
    let report = alice.client.sync_once(Duration::from_secs(30)).await.unwrap();
    assert_eq!((report.pushed, report.complete), (0, true));
    assert!(alice.client.status().last_success_ms.is_some());
    assert_eq!(alice.shared_replica("n1").len(), 1 + 1 + 650);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_leaves_everything_saved_and_is_reported() {
    let alice = {
        let server = TestServer::start().await;
        Device::new(&server, "alice").await
        // The server stops here.
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    alice.act("n1", neighbourhood("Aligre", "Alice")).unwrap();
    let error = alice.client.sync_once(Duration::from_secs(5)).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(error.to_string().contains("saved on this device"), "{error}");
    assert_eq!(alice.store.pending_count().unwrap(), 1);
    let status = alice.client.status();
    assert_eq!(status.pending, 1);
    assert!(status.last_error.is_some());
}

/// A push of more than a few mutations goes gzip-compressed, and the server reads it; a small one goes
/// as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_pushes_go_compressed_and_the_server_reads_them() {
    use quartier_e2e::fault_proxy::{FaultProxy, Faults};
    let server = TestServer::start().await;
    let alice = Device::new(&server, "alice").await;
    let proxy = FaultProxy::start(&server.url, 1, Faults::NONE).await.unwrap();
    let via_proxy = alice.client_via(&proxy.url);
    alice.act("n1", neighbourhood("Aligre", "Alice")).unwrap();
    for i in 0..40 {
        alice.act("n1", ask(&format!("f{i}"))).unwrap();
    }
    let report = via_proxy.sync_once(Duration::from_secs(30)).await.unwrap();
    assert_eq!((report.pushed, report.complete), (41, true));
    let stats = proxy.stats();
    assert_eq!(stats.gzipped, 1, "the push went compressed: {stats}");
    for i in 0..40 {
        let key = EntityKey::new("n1", EntityKind::Favour, &format!("f{i}"));
        assert!(server.entity(&key).is_some(), "f{i} reached the server");
    }
    // One short mutation is not worth compressing.
    alice.act("n1", ask("short")).unwrap();
    assert_eq!(via_proxy.sync_once(Duration::from_secs(30)).await.unwrap().pushed, 1);
    assert_eq!(proxy.stats().gzipped, 1);
    assert!(server.entity(&EntityKey::new("n1", EntityKind::Favour, "short")).is_some());
}

/// The names of the indexes of a store's database file.
fn indexes(database: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(database).unwrap();
    let mut stmt = conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' ORDER BY name").unwrap();
    stmt.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
}

/// A first pull of a large neighbourhood stores its rows without some list indexes and builds them at
/// its end; cut short by the network, the round builds them as it ends, so that the app's lists never
/// stay without them between rounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_first_pull_cut_short_leaves_the_lists_indexed() {
    use quartier_e2e::fault_proxy::{FaultProxy, Faults, PausePoint, Resume};
    use quartier_server::storage::Backend;
    let server = TestServer::start().await;
    let alice = Device::new(&server, "alice").await;
    alice.act("n1", neighbourhood("Aligre", "Alice")).unwrap();
    alice.sync().await;
    // 10,100 favours of Alice's, written on the server as if other devices of hers had posted them:
    // three pages, more than `StoreOptions::large_pull` to come.
    let favours = 10_100;
    quartier_e2e::blocking(|| {
        server.server.backend().write(|tx| {
            let mut version = tx.lock_neighbourhood("n1")?.unwrap();
            for i in 0..favours {
                version += 1;
                let favour = Favour {
                    neighbourhood_id: "n1".into(),
                    id: format!("f{i:05}"),
                    author: "alice".into(),
                    kind: FavourKind::Offer,
                    title: format!("Ladder number {i}"),
                    details: String::new(),
                    category: "diy".into(),
                    window: None,
                    cell: Some(Cell { row: 100 + i % 50, col: 200 + i % 40 }),
                    status: FavourStatus::Open,
                    counterpart: None,
                    thanks_note: None,
                    created_at: 1_700_000_000_000 + i64::from(i),
                    updated: Hlc::new(1_700_000_000_000 + u64::from(i), 0, 1),
                };
                tx.put(&Entity::Favour(favour), version)?;
            }
            tx.set_neighbourhood_version("n1", version)
        })
    })
    .unwrap();
    let tablet = alice.link("tablet").await;
    let fresh = indexes(alice.store.path());
    let proxy = FaultProxy::start(&server.url, 1, Faults::NONE).await.unwrap();
    let via_proxy = tablet.client_via(&proxy.url);
    let first = proxy.pause("/v1/neighbourhoods/", PausePoint::BeforeForward);
    let second = proxy.pause("/v1/neighbourhoods/", PausePoint::BeforeForward);
    let round = tokio::spawn(async move { via_proxy.sync_once(Duration::from_secs(60)).await });
    first.reached.await.unwrap();
    first.resume.send(Resume::Go).unwrap();
    // The second page is asked for while the first is stored; once it is, the network goes.
    second.reached.await.unwrap();
    until("the first page is stored", || tablet.store.sync_cursor("n1").unwrap() > 0).await;
    let waiting = indexes(tablet.store.path());
    assert!(!waiting.contains(&"favours_by_place".to_owned()), "{waiting:?}");
    second.resume.send(Resume::Close).unwrap();
    let error = round.await.unwrap().unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(indexes(tablet.store.path()), fresh, "built as the round ended");
    // The next round pulls the rest.
    let report = tablet.sync().await;
    assert!(report.complete, "{report:?}");
    assert_eq!(indexes(tablet.store.path()), fresh);
    assert_eq!(tablet.shared_replica("n1").len(), 1 + 1 + favours as usize);
}
