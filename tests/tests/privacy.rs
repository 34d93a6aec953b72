//! Privacy end to end, with a real server and devices in this process:
//! - tokens, link codes and invitation codes never reach a log line (every `tracing` event of the
//!   server and the client, at TRACE, is captured) nor a database in clear (the devices' and the
//!   server's SQLite files and their logs are scanned);
//! - an attacker measuring distances to a neighbour's item from many places learns only its cell: two
//!   homes over 1 km apart give the very same answers, so no guess is sure to be within 500 m.

#![allow(clippy::unwrap_used)]

use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::store::{Identity, Page, SearchFilter, Store, StoreOptions};
use quartier_core::sync::{FileSecretStore, SyncClient};
use quartier_e2e::fixtures::neighbourhood;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tempfile::TempDir;

/// Every log line of this test binary, from any thread.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()));
        subscriber.try_init().unwrap();
        logs
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A server on a SQLite file in `dir`, on a loopback port.
async fn serve(dir: &Path) -> String {
    let backend = quartier_server::SqliteBackend::open(&dir.join("server.db")).unwrap();
    let server = quartier_server::Server::new(backend, quartier_server::Config::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(quartier_server::run(listener, server, std::future::pending()));
    url
}

struct Phone {
    dir: PathBuf,
    store: Arc<Store>,
    client: Arc<SyncClient>,
}

impl Phone {
    fn open(dir: &Path, identity: Identity, url: &str) -> Phone {
        std::fs::create_dir_all(dir).unwrap();
        let options = StoreOptions { identity: Some(identity), ..StoreOptions::default() };
        let store = Arc::new(Store::open(dir.join("quartier.db"), options).unwrap());
        let secrets = Arc::new(FileSecretStore::new(dir.join("secrets.json")));
        let client = SyncClient::new(store.clone(), url, secrets).unwrap();
        Phone { dir: dir.to_path_buf(), store, client }
    }

    async fn new(root: &Path, name: &str, url: &str) -> Phone {
        let identity = Identity { device_id: format!("{name}-phone"), person_id: name.to_owned() };
        let phone = Phone::open(&root.join(name), identity, url);
        phone.client.register().await.unwrap();
        phone
    }

    async fn sync(&self) {
        let report = self.client.sync_once(Duration::from_secs(30)).await.unwrap();
        assert!(report.complete, "{report:?}");
    }

    /// The secrets the device keeps (its token), from its secret store.
    fn secrets(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.join("secrets.json")).unwrap();
        let map: std::collections::BTreeMap<String, String> = serde_json::from_str(&text).unwrap();
        map.into_values().filter(|v| v.len() >= 16).collect()
    }
}

/// The bytes of a SQLite database and its write-ahead log.
fn database_bytes(file: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(file).unwrap();
    for suffix in ["-wal", "-journal"] {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        bytes.extend(std::fs::read(PathBuf::from(name)).unwrap_or_default());
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_codes_stay_out_of_logs_and_databases() {
    let logs = captured();
    let root = TempDir::new().unwrap();
    let url = serve(root.path()).await;
    let alice = Phone::new(root.path(), "alice", &url).await;
    let nid = "aligre";
    alice.store.mutate(nid, neighbourhood("Aligre", "Alice")).unwrap();
    let invitation = alice.store.invite(nid, 2, 86_400_000).unwrap();
    alice.sync().await;
    let bob = Phone::new(root.path(), "bob", &url).await;
    bob.client.join(&invitation.code, "Bob").await.unwrap();
    bob.sync().await;
    alice.sync().await;
    // A second device of Alice's, linked with a code that carries its token.
    let link = alice.client.link_device().await.unwrap();
    let tablet_identity = Identity { device_id: link.device_id.clone(), person_id: link.person_id.clone() };
    let tablet = Phone::open(&root.path().join("tablet"), tablet_identity, &url);
    let tablet_client = SyncClient::adopt(
        tablet.store.clone(),
        &link,
        Arc::new(FileSecretStore::new(tablet.dir.join("s.json"))),
    )
    .unwrap();
    tablet_client.sync_once(Duration::from_secs(30)).await.unwrap();
    // A refused join, with a code that is almost right, is logged too: still without the code.
    let carol = Phone::new(root.path(), "carol", &url).await;
    // Its last letter changed (to one it is not: the code is random, and may end in X).
    let (kept, last) = invitation.code.split_at(invitation.code.len() - 1);
    let wrong = format!("{kept}{}", if last == "X" { "Y" } else { "X" });
    assert!(carol.client.join(&wrong, "Carol").await.is_err());

    let mut secrets = alice.secrets();
    secrets.extend(bob.secrets());
    assert_eq!(secrets.len(), 2, "one token per registered device");
    secrets.push(link.token.clone());
    secrets.push(link.to_code());
    let plain: String = invitation.code.chars().filter(char::is_ascii_alphanumeric).collect();
    secrets.extend([invitation.code.clone(), plain, wrong]);
    // Link codes carry their token in hex: look for that too.
    let hex: String = link.token.bytes().map(|b| format!("{b:02x}")).collect();
    secrets.push(hex);

    let logs = logs.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&logs);
    assert!(text.contains("/v1/push") && text.contains("/v1/join"), "the server's log is captured");
    assert!(text.contains("quartier_core"), "the client's log is captured: {text}");
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a secret is in the log: {secret}");
    }
    // In clear in no database: not the devices', not the server's.
    for file in [
        alice.dir.join("quartier.db"),
        bob.dir.join("quartier.db"),
        tablet.dir.join("quartier.db"),
        root.path().join("server.db"),
    ] {
        let bytes = database_bytes(&file);
        assert!(contains(&bytes, "Aligre"), "{} is read", file.display());
        for secret in &secrets {
            assert!(!contains(&bytes, secret), "{} holds a secret in clear: {secret}", file.display());
        }
    }
}

/// Great-circle distance in metres between two coordinates.
fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let (dp, dl) = (p2 - p1, (b.1 - a.1).to_radians());
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacker_measuring_distances_cannot_place_a_home_within_500_m() {
    let root = TempDir::new().unwrap();
    let url = serve(root.path()).await;
    let home = (48.84937, 2.37812);
    let home_cell = Cell::from_coordinates(home.0, home.1).unwrap();

    // Léa lends her drill from home; Mallory, a member, syncs it and measures from 441 places.
    let lea = Phone::new(root.path(), "lea", &url).await;
    let nid = "aligre";
    lea.store.mutate(nid, neighbourhood("Aligre", "Léa")).unwrap();
    let item = ItemAdd {
        id: "drill".into(),
        title: "Perceuse".into(),
        description: String::new(),
        category: "tools".into(),
        condition: Condition::Good,
        deposit_note: String::new(),
        cell: Some(home_cell),
    };
    lea.store.mutate(nid, item).unwrap();
    let invitation = lea.store.invite(nid, 1, 86_400_000).unwrap();
    lea.sync().await;
    let mallory = Phone::new(root.path(), "mallory", &url).await;
    mallory.client.join(&invitation.code, "Mallory").await.unwrap();
    mallory.sync().await;

    let step = 0.002; // about 220 m north-south, 150 m east-west
    let mut observations = Vec::new();
    for i in -10..=10 {
        for j in -10..=10 {
            let from = (home.0 + f64::from(i) * step, home.1 + f64::from(j) * step);
            let near = Cell::from_coordinates(from.0, from.1).unwrap();
            let filter = SearchFilter { near: Some(near), ..SearchFilter::default() };
            let hits = mallory.store.search(nid, "perceuse", &filter, Page::default()).unwrap();
            assert_eq!(hits.len(), 1);
            let distance = hits[0].distance_m.unwrap();
            assert_eq!(distance % 500, 0, "distances are rounded to 500 m");
            observations.push((near, distance));
        }
    }
    let distinct: std::collections::BTreeSet<u32> = observations.iter().map(|(_, d)| *d).collect();
    assert!(distinct.len() >= 3, "the attacker gets varied answers: {distinct:?}");

    // Every place whose answers match all of Mallory's observations is where Léa may live, as far as
    // Mallory can tell. Among them are places over 1 km apart, so any guess is 500 m or more from one.
    let explains = |place: (f64, f64)| {
        let cell = Cell::from_coordinates(place.0, place.1).unwrap();
        observations.iter().all(|(near, distance)| near.distance_m(cell) == *distance)
    };
    assert!(explains(home));
    let mut candidates = Vec::new();
    for i in -40..=40 {
        for j in -40..=40 {
            let place = (home.0 + f64::from(i) * 0.0002, home.1 + f64::from(j) * 0.0003);
            if explains(place) {
                candidates.push(place);
            }
        }
    }
    let spread = candidates
        .iter()
        .flat_map(|a| candidates.iter().map(move |b| metres(*a, *b)))
        .fold(0.0_f64, f64::max);
    assert!(spread >= 1000.0, "the attacker narrowed the home to {spread:.0} m");
    // So for every guess, some place the answers allow is at least 500 m from it.
    for guess in &candidates {
        let worst = candidates.iter().map(|c| metres(*guess, *c)).fold(0.0_f64, f64::max);
        assert!(worst >= 500.0, "a guess within {worst:.0} m of every possible home");
    }
}
