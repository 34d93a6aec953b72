//! The harness of the end-to-end tests: a real sync server on `127.0.0.1:0` with its SQLite file in a
//! temporary folder, and devices, each with its own database, syncing with it over HTTP.
//!
//! To add a story: write a test in `tests/` that makes a [`TestServer`] and a few [`Device`]s, lets them
//! act offline with [`Device::act`], syncs them in some order, and checks [`Device::replica`].
//!
//! Faults: [`fault_proxy::FaultProxy`] stands between devices and the server and drops, cuts, truncates,
//! duplicates, reorders and delays requests; give a device a client through it with
//! [`Device::client_via`]. [`TestServer`] also shows what the server holds (outcomes, entities, what a
//! member may pull), to check a test's devices against it, and runs on SQLite or, with
//! [`TestServer::start_on`], on PostgreSQL. `src/bin/sync_victim.rs` is a device in a process of its own,
//! for the kill -9 test ([`victim`]), and `src/bin/crash_victim.rs` one that stops at an exact SQLite
//! step to be killed there. [`disk`] makes storage faults (a small filesystem to fill or turn
//! read-only, another program holding the database's lock); [`server_process`] runs the server in a
//! process of its own, to stop and start again under the devices.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a harness that cannot set up has failed the test

pub mod disk;
pub mod fault_proxy;
pub mod fixtures;
pub mod server_process;
pub mod victim;

use quartier_core::domain::{Entity, EntityKey, EntityKind, Op};
use quartier_core::store::{Applied, Identity, Store, StoreError, StoreOptions};
use quartier_core::sync::protocol::{MAX_PULL_LIMIT, Outcome, StoredChange};
use quartier_core::sync::{FileSecretStore, SyncClient, SyncReport};
use quartier_server::AnyBackend;
use quartier_server::storage::{Backend, StorageError, Tx};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// The variable naming the PostgreSQL server on which [`TestDb::Postgres`] makes its databases (a
/// `postgres://` URL; `eval "$(bash scripts/postgres.sh)"` starts one and sets it).
pub const POSTGRES_VARIABLE: &str = "QUARTIER_TEST_POSTGRES";

/// Where a [`TestServer`] keeps its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestDb {
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A database of its own on the PostgreSQL server of [`POSTGRES_VARIABLE`], dropped after the test.
    Postgres,
}

/// Runs blocking work (the PostgreSQL client has a runtime of its own) on a thread of its own, outside
/// the test's async runtime; a panic in it is the test's.
pub fn blocking<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|scope| {
        scope.spawn(work).join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A PostgreSQL database made for one test server, dropped (connections and all) with it.
#[derive(Debug)]
struct PostgresDatabase {
    server: String,
    name: String,
}

impl PostgresDatabase {
    /// A new database on the server of [`POSTGRES_VARIABLE`], and its URL. Blocking.
    fn create() -> (PostgresDatabase, String) {
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let server = std::env::var(POSTGRES_VARIABLE).unwrap_or_else(|_| {
            panic!(
                "{POSTGRES_VARIABLE} is not set: start PostgreSQL with `eval \"$(bash scripts/postgres.sh)\"`"
            )
        });
        let count = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name =
            format!("quartier_e2e_{}_{count}_{}", std::process::id(), quartier_core::store::system_now_ms());
        postgres::Client::connect(&server, postgres::NoTls)
            .and_then(|mut admin| admin.batch_execute(&format!("CREATE DATABASE {name}")))
            .unwrap_or_else(|e| panic!("cannot create a database on the server of {POSTGRES_VARIABLE}: {e}"));
        // The same URL, naming the new database instead of its own.
        let (base, query) = server.split_once('?').map_or((server.as_str(), None), |(b, q)| (b, Some(q)));
        let authority = base.find("://").map_or(0, |at| at + 3);
        let base = base[authority..].find('/').map_or(base, |slash| &base[..authority + slash]);
        let url = match query {
            Some(query) => format!("{base}/{name}?{query}"),
            None => format!("{base}/{name}"),
        };
        (PostgresDatabase { server, name }, url)
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        // The stopped server's last calls may still be connecting: try again a few times.
        let mut last_error = None;
        for _ in 0..5 {
            let dropped = blocking(|| {
                postgres::Client::connect(&self.server, postgres::NoTls).and_then(|mut admin| {
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
                })
            });
            match dropped {
                Ok(()) => return,
                Err(error) => last_error = Some(error),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        if let Some(error) = last_error {
            let detail = error.as_db_error().map_or_else(|| error.to_string(), |db| db.message().to_owned());
            eprintln!("could not drop the test database {}: {detail}", self.name);
        }
    }
}

/// A sync server serving on a loopback port until dropped.
#[derive(Debug)]
pub struct TestServer {
    pub url: String,
    /// The server itself, to look into its database from the test.
    pub server: quartier_server::Server<AnyBackend>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: TempDir,
    _postgres: Option<PostgresDatabase>,
}

impl TestServer {
    /// A server on a SQLite file.
    pub async fn start() -> TestServer {
        TestServer::start_on(TestDb::Sqlite).await
    }

    pub async fn start_on(db: TestDb) -> TestServer {
        TestServer::start_with(db, quartier_server::Config::default()).await
    }

    /// A server with settings of the test's (a clock it moves, say).
    pub async fn start_with(db: TestDb, config: quartier_server::Config) -> TestServer {
        let dir = TempDir::new().unwrap();
        let (backend, postgres): (AnyBackend, _) = match db {
            TestDb::Sqlite => {
                (quartier_server::SqliteBackend::open(&dir.path().join("server.db")).unwrap().into(), None)
            }
            TestDb::Postgres => blocking(|| {
                let (database, url) = PostgresDatabase::create();
                let url = quartier_server::PostgresUrl::parse(&url).unwrap();
                (quartier_server::PostgresBackend::open_with(&url, 4).unwrap().into(), Some(database))
            }),
        };
        let server = quartier_server::Server::new(backend, config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = server.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            quartier_server::run(listener, serving, shutdown).await.unwrap();
        });
        TestServer { url, server, stop: Some(stop), _dir: dir, _postgres: postgres }
    }

    /// Runs a read transaction on the server's database, off the async runtime.
    pub fn read<R: Send>(&self, work: impl FnOnce(&dyn Tx) -> Result<R, StorageError> + Send) -> R {
        blocking(|| self.server.backend().read(work).unwrap())
    }

    /// The server's answer to a device's mutation, if it has one.
    pub fn outcome(&self, device_id: &str, seq: u64) -> Option<Outcome> {
        self.read(|tx| tx.outcome(device_id, seq))
    }

    /// The live entity with this key on the server.
    pub fn entity(&self, key: &EntityKey) -> Option<Entity> {
        self.read(|tx| tx.get(key))
    }

    /// Every live entity of a neighbourhood that `reader` may pull, in key order: what a device of
    /// theirs holds once it has caught up and has nothing pending.
    pub fn visible_to(&self, nid: &str, reader: &str) -> Vec<Entity> {
        let changes = self.read(|tx| tx.changes_after(nid, 0, reader, MAX_PULL_LIMIT));
        assert!(changes.len() < MAX_PULL_LIMIT as usize, "too many entities to list at once");
        let mut entities: Vec<Entity> = changes
            .into_iter()
            .filter_map(|change| match change {
                StoredChange::Put { entity, .. } => Some(
                    serde_json::from_str(entity.get()).expect("the server stores entities as their JSON"),
                ),
                StoredChange::Delete { .. } => None,
            })
            .collect();
        entities.sort_by_key(Entity::key);
        entities
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One device: its own database and secrets, registered with the server as its person.
#[derive(Debug)]
pub struct Device {
    pub name: String,
    pub store: Arc<Store>,
    pub client: Arc<SyncClient>,
    secrets: Arc<FileSecretStore>,
    _dir: TempDir,
}

impl Device {
    /// A new person on a new device, registered with `server`.
    pub async fn new(server: &TestServer, name: &str) -> Device {
        let device = Device::unregistered(&server.url, name);
        device.client.register().await.unwrap();
        device
    }

    /// A new person on a new device that has not registered yet, its client talking to `url` (the
    /// server, or a fault proxy in front of it).
    pub fn unregistered(url: &str, name: &str) -> Device {
        let dir = TempDir::new().unwrap();
        let identity = Identity { device_id: format!("{name}-device"), person_id: name.to_owned() };
        let options = StoreOptions { identity: Some(identity), ..StoreOptions::default() };
        let store = Arc::new(Store::open(dir.path().join("quartier.db"), options).unwrap());
        let secrets = Arc::new(FileSecretStore::new(dir.path().join("secrets.json")));
        let client = SyncClient::new(store.clone(), url, secrets.clone()).unwrap();
        Device { name: name.to_owned(), store, client, secrets, _dir: dir }
    }

    /// Another device of the same person (a trader's tablet), linked by this one.
    pub async fn link(&self, name: &str) -> Device {
        let link = self.client.link_device().await.unwrap();
        let dir = TempDir::new().unwrap();
        let identity = Identity { device_id: link.device_id.clone(), person_id: link.person_id.clone() };
        let options = StoreOptions { identity: Some(identity), ..StoreOptions::default() };
        let store = Arc::new(Store::open(dir.path().join("quartier.db"), options).unwrap());
        let secrets = Arc::new(FileSecretStore::new(dir.path().join("secrets.json")));
        let client = SyncClient::adopt(store.clone(), &link, secrets.clone()).unwrap();
        Device { name: name.to_owned(), store, client, secrets, _dir: dir }
    }

    /// Another client of this device, with the same database and token, talking to `url` (a fault
    /// proxy in front of the server).
    pub fn client_via(&self, url: &str) -> Arc<SyncClient> {
        SyncClient::new(self.store.clone(), url, self.secrets.clone()).unwrap()
    }

    /// The mutations the server refused, as this device recorded them: (seq, reason code), by seq.
    pub fn rejected(&self) -> Vec<(u64, String)> {
        self.store
            .read(|conn| {
                let mut stmt = conn.prepare("SELECT seq, code FROM rejected ORDER BY seq").unwrap();
                let rows =
                    stmt.query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))).unwrap();
                Ok(rows
                    .map(|row| row.map(|(seq, code)| (u64::try_from(seq).unwrap(), code)).unwrap())
                    .collect())
            })
            .unwrap()
    }

    /// Acts offline: the mutation is saved locally and waits in the outbox.
    pub fn act(&self, nid: &str, op: impl Into<Op>) -> Result<Applied, StoreError> {
        self.store.mutate(nid, op)
    }

    /// One sync round, which must complete.
    pub async fn sync(&self) -> SyncReport {
        let report = self.client.sync_once(Duration::from_secs(30)).await.unwrap();
        assert!(report.complete, "{}'s sync did not complete: {report:?}", self.name);
        report
    }

    /// A product as this device shows it; panics naming the device when it has none.
    pub fn product(&self, nid: &str, id: &str) -> quartier_core::domain::Product {
        match self.store.get(&EntityKey::new(nid, EntityKind::Product, id)).unwrap() {
            Some(Entity::Product(product)) => product,
            other => panic!("{} has no product {id}: {other:?}", self.name),
        }
    }

    /// Everything this device holds of a neighbourhood, in key order (messages only where it is a party).
    pub fn replica(&self, nid: &str) -> Vec<Entity> {
        self.store.replica(nid).unwrap()
    }

    /// The replica without messages, which each person sees only a part of.
    pub fn shared_replica(&self, nid: &str) -> Vec<Entity> {
        self.replica(nid).into_iter().filter(|e| e.key().kind != EntityKind::Message).collect()
    }
}
