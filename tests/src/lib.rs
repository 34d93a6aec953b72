//! The harness of the end-to-end tests: a real sync server on `127.0.0.1:0` with its SQLite file in a
//! temporary folder, and devices, each with its own database, syncing with it over HTTP.
//!
//! To add a story: write a test in `tests/` that makes a [`TestServer`] and a few [`Device`]s, lets them
//! act offline with [`Device::act`], syncs them in some order, and checks [`Device::replica`].

#![allow(clippy::unwrap_used, clippy::expect_used)] // a harness that cannot set up has failed the test

use quartier_core::domain::{Entity, EntityKind, Op};
use quartier_core::store::{Applied, Identity, Store, StoreError, StoreOptions};
use quartier_core::sync::{FileSecretStore, SyncClient, SyncReport};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// A sync server serving on a loopback port until dropped.
#[derive(Debug)]
pub struct TestServer {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let dir = TempDir::new().unwrap();
        let backend = quartier_server::SqliteBackend::open(&dir.path().join("server.db")).unwrap();
        let server = quartier_server::Server::new(backend, quartier_server::Config::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            quartier_server::run(listener, server, shutdown).await.unwrap();
        });
        TestServer { url, stop: Some(stop), _dir: dir }
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
    _dir: TempDir,
}

impl Device {
    /// A new person on a new device, registered with `server`.
    pub async fn new(server: &TestServer, name: &str) -> Device {
        let dir = TempDir::new().unwrap();
        let identity = Identity { device_id: format!("{name}-device"), person_id: name.to_owned() };
        let options = StoreOptions { identity: Some(identity), ..StoreOptions::default() };
        let store = Arc::new(Store::open(dir.path().join("quartier.db"), options).unwrap());
        let secrets = Arc::new(FileSecretStore::new(dir.path().join("secrets.json")));
        let client = SyncClient::new(store.clone(), &server.url, secrets).unwrap();
        client.register().await.unwrap();
        Device { name: name.to_owned(), store, client, _dir: dir }
    }

    /// Another device of the same person (a trader's tablet), linked by this one.
    pub async fn link(&self, name: &str) -> Device {
        let link = self.client.link_device().await.unwrap();
        let dir = TempDir::new().unwrap();
        let identity = Identity { device_id: link.device_id.clone(), person_id: link.person_id.clone() };
        let options = StoreOptions { identity: Some(identity), ..StoreOptions::default() };
        let store = Arc::new(Store::open(dir.path().join("quartier.db"), options).unwrap());
        let secrets = Arc::new(FileSecretStore::new(dir.path().join("secrets.json")));
        let client = SyncClient::adopt(store.clone(), &link, secrets).unwrap();
        Device { name: name.to_owned(), store, client, _dir: dir }
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

    /// Everything this device holds of a neighbourhood, in key order (messages only where it is a party).
    pub fn replica(&self, nid: &str) -> Vec<Entity> {
        self.store.replica(nid).unwrap()
    }

    /// The replica without messages, which each person sees only a part of.
    pub fn shared_replica(&self, nid: &str) -> Vec<Entity> {
        self.replica(nid).into_iter().filter(|e| e.key().kind != EntityKind::Message).collect()
    }
}
