//! The async [`SyncEngine`], the [`SecretStore`] the shells implement, and the runtime async calls run on.

use crate::error::{QuartierError, guard, on_runtime, shielded};
use crate::observe::{RunningCall, Subscription};
use crate::quartier::Quartier;
use crate::records::{JoinedNeighbourhood, SyncReport, SyncStatus};
use quartier_core::domain::EntityKind;
use quartier_core::store::CommitListener;
use quartier_core::sync::client::StatusListener;
use quartier_core::sync::secrets::SecretError;
use quartier_core::sync::{self as core, SyncClient};
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

/// The runtime of every async call: a small one, shared, started at the first call. Two workers: the
/// work is network waits and short SQLite writes, and phones have few cores to spare.
pub(crate) fn runtime() -> Result<&'static tokio::runtime::Runtime, QuartierError> {
    static RUNTIME: OnceLock<std::io::Result<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("quartier-async")
                .enable_all()
                .build()
        })
        .as_ref()
        .map_err(|e| QuartierError::internal(format!("the background runtime could not start ({e})")))
}

/// Where the device keeps its secrets (the server token): the Keychain on iOS, the Keystore on
/// Android. Never the database, never a log.
#[uniffi::export(rust, foreign)]
pub trait SecretStore: Send + Sync + std::fmt::Debug {
    fn get(&self, key: String) -> Result<Option<String>, QuartierError>;
    fn set(&self, key: String, value: String) -> Result<(), QuartierError>;
    fn delete(&self, key: String) -> Result<(), QuartierError>;
}

/// Secrets in a file readable by its owner only: for tests and desktop tools, not for phones.
#[uniffi::export]
pub fn file_secret_store(path: String) -> Arc<dyn SecretStore> {
    Arc::new(FileSecrets(core::FileSecretStore::new(path)))
}

#[derive(Debug)]
struct FileSecrets(core::FileSecretStore);

impl SecretStore for FileSecrets {
    fn get(&self, key: String) -> Result<Option<String>, QuartierError> {
        use core::SecretStore as _;
        self.0.get(&key).map_err(secret_error)
    }
    fn set(&self, key: String, value: String) -> Result<(), QuartierError> {
        use core::SecretStore as _;
        self.0.set(&key, &value).map_err(secret_error)
    }
    fn delete(&self, key: String) -> Result<(), QuartierError> {
        use core::SecretStore as _;
        self.0.delete(&key).map_err(secret_error)
    }
}

fn secret_error(error: SecretError) -> QuartierError {
    QuartierError::storage(crate::error::StorageProblem::Secrets, error.to_string())
}

/// The shell's secret store, as the core's sync client asks for it.
#[derive(Debug)]
struct SecretBridge(Arc<dyn SecretStore>);

impl core::SecretStore for SecretBridge {
    fn get(&self, key: &str) -> Result<Option<String>, SecretError> {
        self.0.get(key.to_owned()).map_err(|e| SecretError(e.to_string()))
    }
    fn set(&self, key: &str, value: &str) -> Result<(), SecretError> {
        self.0.set(key.to_owned(), value.to_owned()).map_err(|e| SecretError(e.to_string()))
    }
    fn delete(&self, key: &str) -> Result<(), SecretError> {
        self.0.delete(key.to_owned()).map_err(|e| SecretError(e.to_string()))
    }
}

/// Syncs a [`Quartier`] with its server: pushes the outbox, pulls the neighbourhoods' changes. Each
/// round is cut into steps that are saved as they go, so a round stopped anywhere (budget, network, the
/// app suspended) loses nothing and the next one resumes.
#[derive(uniffi::Object)]
pub struct SyncEngine {
    client: Arc<SyncClient>,
    /// The app's status observers; the core's client tells them through one [`StatusFanout`].
    status_relays: Arc<StatusRelays>,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine").field("client", &self.client).finish_non_exhaustive()
    }
}

/// Told the sync status (pending changes, last success, last error, syncing): at once, then at every
/// change of it, including a local write that adds to the pending count. Called on the thread that
/// changed it: only hand the status over.
#[uniffi::export(foreign)]
pub trait SyncStatusObserver: Send + Sync {
    fn on_status(&self, status: SyncStatus) -> Result<(), QuartierError>;
}

type StatusRelays = Mutex<Vec<Weak<StatusRelay>>>;

/// The one listener the engine gives the core's client (which keeps its listeners for good): it
/// passes each change on to the relays still alive.
struct StatusFanout(Arc<StatusRelays>);

impl StatusListener for StatusFanout {
    fn status_changed(&self, _status: &core::SyncStatus) {
        let live: Vec<_> = {
            let mut relays = self.0.lock().unwrap_or_else(|p| p.into_inner());
            relays.retain(|r| r.strong_count() > 0);
            relays.iter().filter_map(Weak::upgrade).collect()
        };
        for relay in live {
            relay.tell();
        }
    }
}

/// One observation of the status: told by the fanout and by the store's commits, it sends the
/// status only when it differs from the last one sent.
struct StatusRelay {
    client: Arc<SyncClient>,
    observer: Arc<dyn SyncStatusObserver>,
    last: Mutex<Option<SyncStatus>>,
}

impl StatusRelay {
    fn tell(&self) {
        let status = current_status(&self.client);
        {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if last.as_ref() == Some(&status) {
                return;
            }
            *last = Some(status.clone());
        }
        shielded("sync status observer", || self.observer.on_status(status));
    }
}

impl CommitListener for StatusRelay {
    fn committed(&self, _kinds: &BTreeSet<EntityKind>) {
        self.tell();
    }
}

/// The client's status, with the pending count read now (the client counts only at each round).
fn current_status(client: &SyncClient) -> SyncStatus {
    let mut status: SyncStatus = client.status().into();
    match client.store().pending_count() {
        Ok(pending) => status.pending = pending,
        Err(e) => tracing::warn!(error = %e, "could not count the pending changes"),
    }
    status
}

/// Cancels async calls that were given it. Kotlin needs none (cancelling the coroutine drops the call),
/// but uniffi's Swift code waits for the call even when its task is cancelled: the Swift shell makes one
/// per call and cancels it from the task's cancellation handler.
#[derive(Debug, uniffi::Object)]
pub struct Cancellation {
    cancelled: tokio::sync::watch::Sender<bool>,
}

#[uniffi::export]
impl Cancellation {
    #[uniffi::constructor]
    pub fn new() -> Arc<Cancellation> {
        Arc::new(Cancellation { cancelled: tokio::sync::watch::Sender::new(false) })
    }

    /// Stops the calls given this cancellation at their next wait (a network call); they end with
    /// `QuartierError::Network`, and what they saved stays saved. Later calls given it end at once.
    pub fn cancel(&self) {
        self.cancelled.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.cancelled.borrow()
    }
}

impl Cancellation {
    async fn wait(&self) {
        let mut cancelled = self.cancelled.subscribe();
        // The sender lives as long as `self`: the wait cannot fail before the cancel.
        let _ = cancelled.wait_for(|c| *c).await;
    }
}

/// Runs an async call on the runtime, counted in the diagnostics for as long as it runs, and stopped
/// by `cancellation` if one is given.
async fn counted<T, F>(cancellation: Option<Arc<Cancellation>>, work: F) -> Result<T, QuartierError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, QuartierError>> + Send + 'static,
{
    on_runtime(async move {
        let _running = RunningCall::start();
        let Some(cancellation) = cancellation else { return work.await };
        tokio::select! {
            result = work => result,
            () = cancellation.wait() => Err(QuartierError::Network {
                reason: "The call was cancelled before it ended; what was saved stays saved, and the next sync resumes."
                    .into(),
            }),
        }
    })
    .await
}

#[uniffi::export]
impl SyncEngine {
    /// A sync engine for `quartier` and the server at `server_url` (`https://…`; plain `http://` only to
    /// this machine), keeping the device's token in `secrets`.
    #[uniffi::constructor]
    pub fn new(
        quartier: Arc<Quartier>,
        server_url: String,
        secrets: Arc<dyn SecretStore>,
    ) -> Result<Arc<SyncEngine>, QuartierError> {
        guard(|| {
            let secrets: Arc<dyn core::SecretStore> = Arc::new(SecretBridge(secrets));
            let client = SyncClient::new(quartier.store.clone(), &server_url, secrets)?;
            let status_relays = Arc::new(StatusRelays::default());
            client.add_status_listener(Arc::new(StatusFanout(status_relays.clone())));
            Ok(Arc::new(SyncEngine { client, status_relays }))
        })
    }

    /// Whether the device has a token from the server.
    pub fn is_registered(&self) -> Result<bool, QuartierError> {
        guard(|| Ok(self.client.is_registered()?))
    }

    /// Registers the device (and its person) with the server, once; later calls do nothing.
    #[uniffi::method(default(cancellation = None))]
    pub async fn register(&self, cancellation: Option<Arc<Cancellation>>) -> Result<(), QuartierError> {
        let client = self.client.clone();
        counted(cancellation, async move { Ok(client.register().await?) }).await
    }

    /// Joins a neighbourhood with an invitation code received from a member, then fetches it.
    #[uniffi::method(default(cancellation = None))]
    pub async fn join(
        &self,
        code: String,
        display_name: String,
        cancellation: Option<Arc<Cancellation>>,
    ) -> Result<JoinedNeighbourhood, QuartierError> {
        let client = self.client.clone();
        counted(cancellation, async move {
            let joined = client.join(&code, &display_name).await?;
            Ok(JoinedNeighbourhood { id: joined.neighbourhood_id, name: joined.neighbourhood_name })
        })
        .await
    }

    /// One round within `budget_ms` milliseconds: the short background windows of iOS and Android.
    /// `complete` is false when the budget ran out first.
    #[uniffi::method(default(cancellation = None))]
    pub async fn sync_once(
        &self,
        budget_ms: u64,
        cancellation: Option<Arc<Cancellation>>,
    ) -> Result<SyncReport, QuartierError> {
        let client = self.client.clone();
        counted(
            cancellation,
            async move { Ok(client.sync_once(Duration::from_millis(budget_ms)).await?.into()) },
        )
        .await
    }

    /// The sync status now: what waits to be sent, when a round last completed, why one failed.
    pub fn status(&self) -> SyncStatus {
        current_status(&self.client)
    }

    /// Observes the sync status: `observer` gets it now, then at every change (a round starting or
    /// ending, a local write adding to the pending count), until the subscription is cancelled.
    pub fn observe_status(
        &self,
        observer: Arc<dyn SyncStatusObserver>,
    ) -> Result<Arc<Subscription>, QuartierError> {
        guard(|| {
            let relay =
                Arc::new(StatusRelay { client: self.client.clone(), observer, last: Mutex::new(None) });
            let listener: Arc<dyn CommitListener> = relay.clone();
            self.client.store().subscribe(Arc::downgrade(&listener));
            self.status_relays.lock().unwrap_or_else(|p| p.into_inner()).push(Arc::downgrade(&relay));
            relay.tell();
            Ok(Subscription::new(Box::new((listener, relay))))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unregistered_device_is_told_to_register() {
        let dir = tempfile::TempDir::new().unwrap();
        let q = Quartier::open(dir.path().join("q.db").display().to_string()).unwrap();
        let secrets = file_secret_store(dir.path().join("secrets.json").display().to_string());
        let engine = SyncEngine::new(q, "http://127.0.0.1:9".into(), secrets).unwrap();
        assert!(!engine.is_registered().unwrap());
        let result = runtime().unwrap().block_on(engine.sync_once(1_000, None));
        assert!(matches!(result, Err(QuartierError::NotRegistered { .. })), "{result:?}");
        assert_eq!(engine.status().last_error.as_deref().map(|e| e.contains("register")), Some(true));
    }

    #[test]
    fn an_unreachable_server_is_a_network_error() {
        let dir = tempfile::TempDir::new().unwrap();
        let q = Quartier::open(dir.path().join("q.db").display().to_string()).unwrap();
        // A port nobody listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let secrets = file_secret_store(dir.path().join("secrets.json").display().to_string());
        let engine = SyncEngine::new(q, format!("http://127.0.0.1:{port}"), secrets).unwrap();
        let result = runtime().unwrap().block_on(engine.register(None));
        assert!(matches!(result, Err(QuartierError::Network { .. })), "{result:?}");
    }

    #[test]
    fn a_cancelled_call_on_a_silent_server_ends_and_is_no_longer_counted() {
        let dir = tempfile::TempDir::new().unwrap();
        let q = Quartier::open(dir.path().join("q.db").display().to_string()).unwrap();
        // Accepts connections (the backlog) and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", silent.local_addr().unwrap());
        let secrets = file_secret_store(dir.path().join("secrets.json").display().to_string());
        let engine = SyncEngine::new(q, url, secrets).unwrap();
        let cancellation = Cancellation::new();
        let rt = runtime().unwrap();
        let call = rt.spawn({
            let cancellation = cancellation.clone();
            async move { engine.register(Some(cancellation)).await }
        });
        cancellation.cancel();
        let result = rt.block_on(call).unwrap();
        assert!(matches!(result, Err(QuartierError::Network { .. })), "{result:?}");
        assert!(cancellation.is_cancelled());
    }

    #[test]
    fn plain_http_to_another_machine_is_invalid() {
        let dir = tempfile::TempDir::new().unwrap();
        let q = Quartier::open(dir.path().join("q.db").display().to_string()).unwrap();
        let secrets = file_secret_store(dir.path().join("secrets.json").display().to_string());
        let result = SyncEngine::new(q, "http://sync.example.org".into(), secrets);
        assert!(matches!(result, Err(QuartierError::Invalid { .. })), "{result:?}");
    }
}
