//! The sync client: pushes the outbox, pulls the neighbourhoods' changes in pages, and lets the store
//! rebase what is still pending on top.
//!
//! [`SyncClient::sync_once`] does one round within a time budget (the short background windows of iOS
//! and Android); [`SyncClient::run`] keeps syncing on a timer, sooner after a local write, with backoff
//! and jitter after failures, whatever the app does. Each step stores its progress as it goes, so a
//! round cut short (budget, network, the process killed) loses nothing and the next round
//! resumes where it stopped: a push is answered per mutation and retried safely (the server applies a
//! mutation once; a batch's answers are stored while the next batch is on its way), and a pull stores
//! each page with its cursor (on a blocking thread, while the next page, asked from that cursor, is on
//! its way; pages are as large as the server gives, `PULL_PAGE`). [`SyncClient::push_pending`] pushes
//! without pulling.
//!
//! Every call is safe to ask again when its answer is lost: registering (the device draws its token
//! and keeps it before sending), joining (the server answers a repeated join of the same invitation
//! with the same membership), pushing (answered per sequence number) and pulling (by cursor). A push
//! that the server stops at a gap in the device's numbers (`409 seq_gap`) is handled by the push
//! itself (`push_outbox`, see `fill_gap`). Push bodies above `GZIP_ABOVE` bytes (1 KiB) go
//! gzip-compressed; answers come compressed when the server chooses (reqwest asks for and decodes gzip).

use super::protocol::*;
use super::secrets::{SecretError, SecretStore};
use crate::domain::{EntityKind, Mutation};
use crate::store::{CommitListener, Rejected, Store, StoreError};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The secret-store key of the device's token.
const TOKEN_KEY: &str = "quartier.server-token";
/// The secret-store key of the token a registration sent, until the server has answered it.
const PENDING_TOKEN_KEY: &str = "quartier.server-token.pending";
/// The longest one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Mutations per push.
const PUSH_BATCH: usize = 200;
/// Push bodies longer than this go gzip-compressed (a handful of mutations; smaller ones gain little).
const GZIP_ABOVE: usize = 1024;
/// Changes asked for per pull page: the most a server gives. Each page is one round trip (long on a
/// phone's network) and one transaction on the device (its commit, and a segment of each full-text
/// index to merge later), so fewer, larger pages sync a neighbourhood faster; a page of 5,000 is a
/// few megabytes of JSON.
const PULL_PAGE: u32 = MAX_PULL_LIMIT;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The server could not be reached, or did not answer in time: try again later.
    #[error(
        "the server cannot be reached ({0}); your changes are saved on this device and will be sent later"
    )]
    Offline(String),
    /// The server refused the device's token, saying why: it does not know it, the device was taken
    /// off its account from another, or its link code expired before its first call.
    #[error("the server refused this device: {message}")]
    Unauthorized { message: String },
    /// The device has not registered with the server yet.
    #[error("this device is not registered with a server yet; register it first")]
    NotRegistered,
    /// The server answered with an error.
    #[error("the server refused: {message}")]
    Server { status: u16, code: String, message: String },
    /// The server's address is not acceptable.
    #[error("{0}")]
    BadAddress(String),
    /// A device link code that cannot be used.
    #[error("{0}")]
    BadLink(String),
    /// The server answered something this version of Quartier does not understand.
    #[error("the server's answer could not be understood ({0}); update the app")]
    Protocol(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] SecretError),
}

impl SyncError {
    /// Whether trying again later may help (the network, the server's load).
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Offline(_) => true,
            SyncError::Server { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// What the apps show about sync.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStatus {
    /// Mutations saved on the device and not yet answered by the server.
    pub pending: u64,
    /// When a round last completed (Unix ms).
    pub last_success_ms: Option<i64>,
    /// Why the last round failed, if it did.
    pub last_error: Option<String>,
    pub syncing: bool,
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncReport {
    pub pushed: usize,
    pub rejected: Vec<Rejected>,
    pub pulled: usize,
    /// False when the budget ran out first: call again to finish.
    pub complete: bool,
}

/// What a registered device hands to a new device of the same person (a trader's tablet): the server,
/// the person, the new device's id and token, and the neighbourhoods to follow. As text it is a link
/// code, to be shown once (a QR code) and never logged: whoever has it can act as the person.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceLink {
    pub server: String,
    pub person_id: String,
    pub device_id: String,
    pub token: String,
    pub neighbourhoods: Vec<String>,
}

impl std::fmt::Debug for DeviceLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceLink")
            .field("server", &self.server)
            .field("person_id", &self.person_id)
            .field("device_id", &self.device_id)
            .field("token", &"<secret>")
            .finish()
    }
}

const LINK_PREFIX: &str = "quartier-link:";

impl DeviceLink {
    /// The link as one line of text.
    pub fn to_code(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let hex: String = json.iter().map(|b| format!("{b:02x}")).collect();
        format!("{LINK_PREFIX}{hex}")
    }

    /// Reads a link code, as printed by [`DeviceLink::to_code`].
    pub fn from_code(code: &str) -> Result<DeviceLink, SyncError> {
        let bad = || {
            SyncError::BadLink(
                "this is not a device link code: copy the whole line the other device printed".into(),
            )
        };
        let hex = code.trim().strip_prefix(LINK_PREFIX).ok_or_else(bad)?;
        if hex.len() % 2 != 0 || !hex.is_ascii() {
            return Err(bad());
        }
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        let link: DeviceLink = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        check_server_url(&link.server)?;
        Ok(link)
    }
}

/// Told whenever the sync status changes.
pub trait StatusListener: Send + Sync {
    fn status_changed(&self, status: &SyncStatus);
}

/// Accepts `https://` anywhere and `http://` only to this machine (tests, a server on the same host).
///
/// Host names are ASCII only: the library carries no Unicode (IDNA) tables (`idna_adapter` 1.0 in
/// Cargo.lock, to keep the mobile library small), so a server at an internationalised name is written
/// in its Punycode form (`https://xn--change-bva.example`, not `https://échange.example`).
pub fn check_server_url(url: &str) -> Result<reqwest::Url, SyncError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        let hint = if url.is_ascii() {
            "write it like https://sync.example.org"
        } else {
            "write a non-ASCII host name in its Punycode form, like https://xn--change-bva.example"
        };
        SyncError::BadAddress(format!("{url:?} is not a server address ({e}); {hint}"))
    })?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        "http" => Err(SyncError::BadAddress(format!(
            "{url} is not encrypted: use https:// (plain http:// is only allowed to this machine)"
        ))),
        other => Err(SyncError::BadAddress(format!("{other}:// is not a server address; use https://"))),
    }
}

/// Wakes the background loop after a local write.
struct Waker(Arc<tokio::sync::Notify>);

impl CommitListener for Waker {
    fn committed(&self, _kinds: &BTreeSet<EntityKind>) {
        self.0.notify_one();
    }
}

pub struct SyncClient {
    store: Arc<Store>,
    http: reqwest::Client,
    server: reqwest::Url,
    secrets: Arc<dyn SecretStore>,
    status: Mutex<SyncStatus>,
    listeners: Mutex<Vec<Arc<dyn StatusListener>>>,
    wake: Arc<tokio::sync::Notify>,
    /// The store holds its listeners weakly: the client keeps this one alive.
    _waker: Arc<dyn CommitListener>,
    /// One round at a time.
    round: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncClient").field("server", &self.server.as_str()).finish_non_exhaustive()
    }
}

/// The answer to one push.
enum Pushed {
    /// One outcome per mutation, in order.
    Answered(Vec<MutationResult>),
    /// Stopped at a gap in the device's numbers (`409 seq_gap`).
    Gap(SeqGap),
}

/// Reads an HTTP answer: the body on success, a typed error otherwise.
async fn answer<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, SyncError> {
    let status = response.status();
    if status.is_success() {
        // The body is read whole first: one cut short is the network's fault (try again later; reqwest
        // reports it as a decode error too), and only a whole body that does not parse is a protocol error.
        // Read as text (the store reads its JSON as text too: one reader type, so the entities'
        // readers are compiled once into the library).
        let body = response.bytes().await.map_err(offline)?;
        let text = std::str::from_utf8(&body)
            .map_err(|e| SyncError::Protocol(format!("the server's answer is not UTF-8 text: {e}")))?;
        return serde_json::from_str(text).map_err(|e| SyncError::Protocol(e.to_string()));
    }
    if status.is_redirection() {
        let to = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .unwrap_or("elsewhere");
        return Err(SyncError::Server {
            status: status.as_u16(),
            code: "redirect".to_owned(),
            message: format!(
                "The sync server's address answers with a redirect to {to}. Quartier follows no redirect, so that \
                 changes go only where you chose: set the server's address to the one it should be."
            ),
        });
    }
    let body = response.text().await.unwrap_or_default();
    let (code, message) = match serde_json::from_str::<ErrorBody>(&body) {
        Ok(body) => (body.error.code, body.error.message),
        Err(_) => ("http".to_owned(), format!("HTTP {status}")),
    };
    // A refused token: the server's sentence says why (unknown, taken off its account, link expired).
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(SyncError::Unauthorized { message });
    }
    Err(SyncError::Server { status: status.as_u16(), code, message })
}

/// `bytes`, gzip-compressed (the server reads `Content-Encoding: gzip`; JSON shrinks to a fraction).
fn gzip(bytes: &[u8]) -> Result<Vec<u8>, SyncError> {
    use std::io::Write;
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 4), flate2::Compression::fast());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| SyncError::Protocol(format!("a push could not be compressed: {e}")))
}

/// What a pull request brought.
enum Pulled {
    Page(PullResponse),
    /// A neighbourhood created offline that the server does not have yet.
    Unknown,
    /// No longer a member (left, or removed): its content leaves this device too.
    Left,
}

/// The result of storing something on a blocking thread. A panic there goes on unwinding here, as it
/// would have without the thread (the FFI layer catches it).
fn joined<T>(stored: Result<Result<T, StoreError>, tokio::task::JoinError>) -> Result<T, SyncError> {
    match stored {
        Ok(result) => Ok(result?),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(SyncError::Offline(format!("storing what the server sent was cancelled ({e})"))),
    }
}

/// Waits for a push's answers to be stored, if some are on their way, and counts them in `report`.
async fn record(
    storing: Option<tokio::task::JoinHandle<Result<crate::store::AckReport, StoreError>>>,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    if let Some(storing) = storing {
        let ack = joined(storing.await)?;
        report.pushed += ack.applied + ack.rejected.len();
        report.rejected.extend(ack.rejected);
    }
    Ok(())
}

fn offline(error: reqwest::Error) -> SyncError {
    SyncError::Offline(error.without_url().to_string())
}

impl SyncClient {
    /// A client of the server at `server_url` for this store, keeping its token in `secrets`.
    pub fn new(
        store: Arc<Store>,
        server_url: &str,
        secrets: Arc<dyn SecretStore>,
    ) -> Result<Arc<SyncClient>, SyncError> {
        let server = check_server_url(server_url)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("quartier/", env!("CARGO_PKG_VERSION")))
            // The sync API never redirects: following one could carry a push (a 307 resends its body) to
            // an address the person never chose. A redirect is answered as an error that names it.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(offline)?;
        let pending = store.pending_count()?;
        let wake = Arc::new(tokio::sync::Notify::new());
        let waker: Arc<dyn CommitListener> = Arc::new(Waker(wake.clone()));
        store.subscribe(Arc::downgrade(&waker));
        Ok(Arc::new(SyncClient {
            store,
            http,
            server,
            secrets,
            status: Mutex::new(SyncStatus { pending, ..SyncStatus::default() }),
            listeners: Mutex::new(Vec::new()),
            wake,
            _waker: waker,
            round: tokio::sync::Mutex::new(()),
        }))
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, SyncError> {
        self.server.join(path).map_err(|e| SyncError::BadAddress(e.to_string()))
    }

    fn token(&self) -> Result<String, SyncError> {
        self.secrets.get(TOKEN_KEY)?.ok_or(SyncError::NotRegistered)
    }

    pub fn is_registered(&self) -> Result<bool, SyncError> {
        Ok(self.secrets.get(TOKEN_KEY)?.is_some())
    }

    /// Registers this device (and its person) with the server, once.
    ///
    /// The device draws its token itself and keeps it in the secret store (as pending) *before* it
    /// sends it, so that a registration whose answer was lost is simply asked again with the same
    /// token: the server answers it again instead of refusing a device id it already knows. The token
    /// becomes the device's when the server has answered.
    pub async fn register(&self) -> Result<(), SyncError> {
        if self.is_registered()? {
            return Ok(());
        }
        let token = match self.secrets.get(PENDING_TOKEN_KEY)? {
            Some(token) => token,
            None => {
                let token = new_token().map_err(|e| {
                    SecretError(format!(
                        "the operating system gave no random bytes for the device's token ({e})"
                    ))
                })?;
                self.secrets.set(PENDING_TOKEN_KEY, &token)?;
                token
            }
        };
        let identity = self.store.identity();
        let request = RegisterRequest {
            device_id: identity.device_id.clone(),
            person_id: identity.person_id.clone(),
            token: Some(token.clone()),
        };
        let response =
            self.http.post(self.url("/v1/register")?).json(&request).send().await.map_err(offline)?;
        let registered: RegisterResponse = answer(response).await?;
        if registered.token != token || registered.device_id != identity.device_id {
            return Err(SyncError::Protocol(String::from(
                "the server answered the registration for another token or device",
            )));
        }
        self.secrets.set(TOKEN_KEY, &token)?;
        self.secrets.delete(PENDING_TOKEN_KEY)?;
        tracing::info!(device = %registered.device_id, "registered with the server");
        Ok(())
    }

    /// Adds another device of this person with the server, and gives what the new device needs.
    pub async fn link_device(&self) -> Result<DeviceLink, SyncError> {
        let request = AddDeviceRequest { device_id: crate::store::new_id() };
        let response = self
            .http
            .post(self.url("/v1/devices")?)
            .bearer_auth(self.token()?)
            .json(&request)
            .send()
            .await
            .map_err(offline)?;
        let added: RegisterResponse = answer(response).await?;
        Ok(DeviceLink {
            server: self.server.to_string(),
            person_id: added.person_id,
            device_id: added.device_id,
            token: added.token,
            neighbourhoods: self.store.followed()?,
        })
    }

    /// The devices of this person's account, oldest first (this one says so).
    pub async fn devices(&self) -> Result<Vec<AccountDevice>, SyncError> {
        let response = self
            .http
            .get(self.url("/v1/devices")?)
            .bearer_auth(self.token()?)
            .send()
            .await
            .map_err(offline)?;
        let listed: DevicesResponse = answer(response).await?;
        Ok(listed.devices)
    }

    /// Takes another device of this person (a lost phone) off the account: its token is refused from
    /// then on. The account's last device cannot be taken off.
    pub async fn remove_device(&self, device_id: &str) -> Result<(), SyncError> {
        let mut url = self.url("/v1/devices")?;
        url.path_segments_mut()
            .map_err(|()| SyncError::BadAddress(format!("{} is not a server address", self.server)))?
            .push(device_id);
        let response = self.http.delete(url).bearer_auth(self.token()?).send().await.map_err(offline)?;
        if response.status().is_success() {
            return Ok(());
        }
        // The error's sentence, as any other answer's.
        answer::<serde_json::Value>(response).await.map(drop)
    }

    /// The client of a new device set up from a link: `store` must have been opened with the link's
    /// identity (see [`DeviceLink`]); the token goes to `secrets`, and the neighbourhoods are followed.
    pub fn adopt(
        store: Arc<Store>,
        link: &DeviceLink,
        secrets: Arc<dyn SecretStore>,
    ) -> Result<Arc<SyncClient>, SyncError> {
        let identity = store.identity();
        if identity.person_id != link.person_id || identity.device_id != link.device_id {
            return Err(SyncError::BadLink(format!(
                "this database belongs to another device ({}); set the new device up with a fresh database",
                identity.device_id
            )));
        }
        let client = SyncClient::new(store, &link.server, secrets)?;
        client.secrets.set(TOKEN_KEY, &link.token)?;
        for neighbourhood in &link.neighbourhoods {
            client.store.follow(neighbourhood)?;
        }
        Ok(client)
    }

    /// Joins a neighbourhood with an invitation code, then fetches it.
    pub async fn join(&self, code: &str, display_name: &str) -> Result<JoinResponse, SyncError> {
        let request = JoinRequest { code: code.to_owned(), display_name: display_name.to_owned() };
        let response = self
            .http
            .post(self.url("/v1/join")?)
            .bearer_auth(self.token()?)
            .json(&request)
            .send()
            .await
            .map_err(offline)?;
        let joined: JoinResponse = answer(response).await?;
        self.store.follow(&joined.neighbourhood_id)?;
        self.sync_once(REQUEST_TIMEOUT * 4).await?;
        Ok(joined)
    }

    pub fn status(&self) -> SyncStatus {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn add_status_listener(&self, listener: Arc<dyn StatusListener>) {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner()).push(listener);
    }

    fn update_status(&self, change: impl FnOnce(&mut SyncStatus)) {
        let status = {
            let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
            change(&mut status);
            status.clone()
        };
        let listeners = self.listeners.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for listener in listeners {
            listener.status_changed(&status);
        }
    }

    /// One round: push everything pending, then pull every neighbourhood, within `budget`.
    pub async fn sync_once(&self, budget: Duration) -> Result<SyncReport, SyncError> {
        self.reported(budget, true, |deadline| self.round(deadline)).await
    }

    /// Pushes what waits in the outbox, without pulling: [`SyncClient::sync_once`]'s first half, for a
    /// device that only needs its changes sent (a trader back in range, say). `complete` says whether
    /// the outbox was emptied within `budget`; the status's last success stays that of a whole round.
    pub async fn push_pending(&self, budget: Duration) -> Result<SyncReport, SyncError> {
        self.reported(budget, false, |deadline| async move {
            let token = self.token()?;
            let mut report = SyncReport::default();
            report.complete = self.push_outbox(&token, deadline, &mut report).await?;
            Ok(report)
        })
        .await
    }

    /// Runs `work` with `budget`, one at a time, and keeps the status up to date around it
    /// (`whole_round`: a complete one is the status's last success).
    async fn reported<Work>(
        &self,
        budget: Duration,
        whole_round: bool,
        work: impl FnOnce(Instant) -> Work,
    ) -> Result<SyncReport, SyncError>
    where
        Work: std::future::Future<Output = Result<SyncReport, SyncError>>,
    {
        let _one_at_a_time = self.round.lock().await;
        let deadline = Instant::now() + budget;
        self.update_status(|s| s.syncing = true);
        let mut result = work(deadline).await;
        // A large pull cut short put list indexes off: they are built now, not left for the next round.
        let store = Arc::clone(&self.store);
        if let Err(e) =
            joined(tokio::task::spawn_blocking(move || store.build_deferred_indexes().map(drop)).await)
        {
            tracing::warn!(error = %e, "the list indexes a large pull put off could not be built");
            if result.is_ok() {
                result = Err(e);
            }
        }
        let pending = self.store.pending_count().unwrap_or(0);
        let now = self.store.now_ms();
        self.update_status(|s| {
            s.syncing = false;
            s.pending = pending;
            match &result {
                Ok(report) if report.complete && whole_round => {
                    s.last_success_ms = Some(now);
                    s.last_error = None;
                }
                Ok(report) if report.complete => s.last_error = None,
                Ok(_) => {}
                Err(e) => s.last_error = Some(e.to_string()),
            }
        });
        result
    }

    async fn round(&self, deadline: Instant) -> Result<SyncReport, SyncError> {
        let token = self.token()?;
        let mut report = SyncReport::default();
        if !self.push_outbox(&token, deadline, &mut report).await? {
            return Ok(report);
        }
        // Pull: each neighbourhood, page by page, each page stored with its cursor. The last page also
        // says up to which number the server has answered this device, so that the store does not
        // replay a mutation whose answer was lost (another client of this store pushed it while this
        // pull was on its way, say) on top of a state that holds it already.
        for neighbourhood in self.store.followed()? {
            if Instant::now() >= deadline {
                return Ok(report);
            }
            let after = self.store.sync_cursor(&neighbourhood)?;
            let mut page = match self.pull_page(&token, &neighbourhood, after, deadline).await? {
                Pulled::Page(page) => page,
                Pulled::Unknown => continue,
                Pulled::Left => {
                    self.store.forget(&neighbourhood)?;
                    continue;
                }
            };
            // Each page is stored with its cursor, on a blocking thread, while the next one is on its way.
            loop {
                report.pulled += page.changes.len();
                let (more, cursor) = (page.more, page.cursor);
                let store = Arc::clone(&self.store);
                let of = neighbourhood.clone();
                let stored = tokio::task::spawn_blocking(move || store.apply_pulled(&of, &page));
                if !more || Instant::now() >= deadline {
                    joined(stored.await)?;
                    if more {
                        return Ok(report);
                    }
                    break;
                }
                let (stored, next) =
                    tokio::join!(stored, self.pull_page(&token, &neighbourhood, cursor, deadline));
                joined(stored)?;
                match next? {
                    Pulled::Page(next) => page = next,
                    Pulled::Unknown => break,
                    // Forgotten once the page before is stored, so that nothing of it stays behind.
                    Pulled::Left => {
                        self.store.forget(&neighbourhood)?;
                        break;
                    }
                }
            }
        }
        report.complete = true;
        Ok(report)
    }

    /// Pushes the outbox in order, in batches; whether it was emptied before `deadline`. A batch's
    /// answers are stored (on a blocking thread) while the next batch is on its way: the server
    /// answered the first before the second leaves, so it still gets them in order, and answers not
    /// stored when the push stops (the process killed) are asked again by the next push and answered
    /// the same (the server applies a mutation once).
    async fn push_outbox(
        &self,
        token: &str,
        deadline: Instant,
        report: &mut SyncReport,
    ) -> Result<bool, SyncError> {
        let mut filled_gap_at = None;
        // The last number answered in this push: the next batch starts after it.
        let mut answered_up_to = 0;
        let mut storing = None;
        let pushed = loop {
            let read = self
                .store
                .pending_after(answered_up_to, PUSH_BATCH)
                .and_then(|batch| Ok((batch, self.store.answers_stored_up_to()?)));
            let (batch, stored_up_to) = match read {
                Ok(read) => read,
                Err(e) => break Err(e.into()),
            };
            let Some(first) = batch.first().map(|m| m.seq) else {
                break Ok(true);
            };
            if Instant::now() >= deadline {
                break Ok(false);
            }
            let (stored, answered) = tokio::join!(
                record(storing.take(), report),
                self.push(token, batch, Some(stored_up_to), deadline)
            );
            if let Err(e) = stored {
                break Err(e);
            }
            let results = match answered {
                Err(e) => break Err(e),
                Ok(Pushed::Answered(results)) if results.is_empty() => {
                    break Err(SyncError::Protocol("the server answered a push with no outcome".into()));
                }
                Ok(Pushed::Answered(results)) => results,
                // What came before the gap was answered: acknowledged, and the next push starts at it.
                Ok(Pushed::Gap(gap)) if !gap.results.is_empty() => gap.results,
                Ok(Pushed::Gap(gap)) if gap.found < gap.expected => break Err(self.numbers_went_back(&gap)),
                Ok(Pushed::Gap(gap)) => {
                    // Once per gap: if the same gap comes back, filling it did not work.
                    if gap.found != first || filled_gap_at == Some(gap.expected) {
                        break Err(self.real_gap(&gap));
                    }
                    if let Err(e) = self.fill_gap(token, &gap, deadline).await {
                        break Err(e);
                    }
                    filled_gap_at = Some(gap.expected);
                    continue;
                }
            };
            answered_up_to = results.iter().map(|r| r.seq).max().unwrap_or(answered_up_to);
            let store = Arc::clone(&self.store);
            storing = Some(tokio::task::spawn_blocking(move || store.acknowledge(&results)));
        };
        // However the push stopped, the answers on their way to the store are stored; the push's own
        // error comes first.
        let stored = record(storing, report).await;
        pushed.and_then(|complete| stored.map(|()| complete))
    }

    /// Fetches the page of `neighbourhood`'s changes after `after`.
    async fn pull_page(
        &self,
        token: &str,
        neighbourhood: &str,
        after: u64,
        deadline: Instant,
    ) -> Result<Pulled, SyncError> {
        let mut url = self.url(&format!("/v1/neighbourhoods/{neighbourhood}/pull"))?;
        url.query_pairs_mut()
            .append_pair("after", &after.to_string())
            .append_pair("limit", &PULL_PAGE.to_string());
        let response = self
            .http
            .get(url)
            .bearer_auth(token)
            .timeout(remaining(deadline))
            .send()
            .await
            .map_err(offline)?;
        match answer(response).await {
            Ok(page) => Ok(Pulled::Page(page)),
            Err(SyncError::Server { status: 404, .. }) => Ok(Pulled::Unknown),
            Err(SyncError::Server { status: 403, .. }) => Ok(Pulled::Left),
            Err(e) => Err(e),
        }
    }

    /// Sends one push: its outcomes, or where it stopped at a gap in this device's numbers. It says up
    /// to which number this device has stored its answers, if given, so that the server may forget
    /// them (a server from before that ignores it).
    async fn push(
        &self,
        token: &str,
        mutations: Vec<Mutation>,
        stored_up_to: Option<u64>,
        deadline: Instant,
    ) -> Result<Pushed, SyncError> {
        let json = serde_json::to_vec(&PushRequest { mutations })
            .map_err(|e| SyncError::Protocol(format!("a push could not be written: {e}")))?;
        let mut url = self.url("/v1/push")?;
        if let Some(stored) = stored_up_to {
            url.query_pairs_mut().append_pair("stored_up_to", &stored.to_string());
        }
        let mut request = self
            .http
            .post(url)
            .bearer_auth(token)
            .timeout(remaining(deadline))
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        request = if json.len() > GZIP_ABOVE {
            request.header(reqwest::header::CONTENT_ENCODING, "gzip").body(gzip(&json)?)
        } else {
            request.body(json)
        };
        let response = request.send().await.map_err(offline)?;
        if response.status() == reqwest::StatusCode::CONFLICT {
            let body = response.text().await.map_err(offline)?;
            return match serde_json::from_str::<ErrorBody>(&body) {
                Ok(ErrorBody { gap: Some(gap), .. }) => Ok(Pushed::Gap(gap)),
                Ok(ErrorBody { error, .. }) => {
                    Err(SyncError::Server { status: 409, code: error.code, message: error.message })
                }
                Err(e) => Err(SyncError::Protocol(format!("a push's 409 answer: {e}"))),
            };
        }
        let answered: PushResponse = answer(response).await?;
        Ok(Pushed::Answered(answered.results))
    }

    /// The server expects numbers `gap.expected..gap.found` that are not in the outbox. If this device
    /// set them aside itself (changes to a neighbourhood it forgot before they were sent), they go now,
    /// so that the server answers them and the numbers after them can follow; their answers change
    /// nothing here. Otherwise the server lacks changes it had confirmed: a real gap.
    async fn fill_gap(&self, token: &str, gap: &SeqGap, deadline: Instant) -> Result<(), SyncError> {
        let set_aside = self.store.set_aside(gap.expected, gap.found)?;
        let covers = set_aside.iter().map(|m| m.seq).eq(gap.expected..gap.found);
        if !covers {
            return Err(self.real_gap(gap));
        }
        tracing::info!(
            from = gap.expected,
            to = gap.found - 1,
            "sending the changes set aside for a forgotten neighbourhood, which the server still expects"
        );
        for chunk in set_aside.chunks(PUSH_BATCH) {
            match self.push(token, chunk.to_vec(), None, deadline).await? {
                Pushed::Answered(_) => {}
                Pushed::Gap(gap) if !gap.results.is_empty() => {}
                Pushed::Gap(gap) => return Err(self.real_gap(&gap)),
            }
        }
        Ok(())
    }

    /// The error of a number that the server answered already for another mutation of this device:
    /// its numbers went back (it was restored from an older backup, say). The server does not answer
    /// it with the other mutation's outcome, which would lose it silently; nothing waiting here is
    /// dropped, and the sync status says so.
    fn numbers_went_back(&self, gap: &SeqGap) -> SyncError {
        let pending = self.store.pending_count().unwrap_or(0);
        tracing::warn!(seq = gap.found, server_last = gap.expected - 1, "this device's numbers went back");
        SyncError::Server {
            status: 409,
            code: String::from("seq_reused"),
            message: format!(
                "The server already has another change of this device under number {}: this device seems to have been \
                 restored from an older backup. The {pending} change{} waiting on this device {} kept, not sent, so that \
                 nothing is mixed up; ask for help to move them to a newly set-up device.",
                gap.found,
                if pending == 1 { "" } else { "s" },
                if pending == 1 { "is" } else { "are" },
            ),
        }
    }

    /// The error of a gap this device cannot fill: the server has lost changes it had confirmed (it was
    /// restored from an older backup, say). Nothing waiting here is dropped, and nothing is sent until
    /// the server's host sorts it out; the sync status says so, and the loop backs off.
    fn real_gap(&self, gap: &SeqGap) -> SyncError {
        let pending = self.store.pending_count().unwrap_or(0);
        tracing::warn!(expected = gap.expected, found = gap.found, "the server lacks changes of this device");
        SyncError::Server {
            status: 409,
            code: String::from("seq_gap"),
            message: format!(
                "The server has this device's changes only up to number {}, but this device had them confirmed up to {}: \
                 the server has probably been restored from an older backup. The {pending} change{} waiting on this device \
                 {} kept and will be sent once the server's host has sorted this out; tell them.",
                gap.expected.saturating_sub(1),
                gap.found.saturating_sub(1),
                if pending == 1 { "" } else { "s" },
                if pending == 1 { "is" } else { "are" },
            ),
        }
    }

    /// Keeps syncing until `shutdown` resolves: every `interval`, sooner after a local write, and after
    /// a failure again with exponential backoff (up to `max_backoff`) and jitter, so that a thousand
    /// devices coming back online do not all knock at once.
    pub async fn run(
        self: Arc<Self>,
        interval: Duration,
        max_backoff: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut failures: u32 = 0;
        loop {
            let wait = match self.sync_once(interval.max(Duration::from_secs(5))).await {
                Ok(report) if report.complete => {
                    failures = 0;
                    interval
                }
                Ok(_) => Duration::ZERO,
                Err(e) if e.is_transient() => {
                    failures = failures.saturating_add(1);
                    tracing::info!(error = %e, failures, "sync failed; trying again later");
                    backoff(failures, max_backoff)
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, "sync failed");
                    backoff(failures, max_backoff).max(interval)
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(wait) => {}
                // A local write: push it soon, but not before a failure's backoff is over.
                () = self.wake.notified(), if failures == 0 => {}
            }
        }
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now()).clamp(Duration::from_millis(100), REQUEST_TIMEOUT)
}

/// The wait after `failures` failures in a row: doubling from one second, capped, with ±50% jitter.
pub fn backoff(failures: u32, max: Duration) -> Duration {
    let base = Duration::from_secs(1).saturating_mul(1_u32 << failures.min(16).saturating_sub(1)).min(max);
    let jitter = f64::from(uuid::Uuid::new_v4().as_bytes()[0]) / 255.0; // 0..=1
    base.mul_f64(0.5 + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_this_machine() {
        assert!(check_server_url("https://sync.example.org").is_ok());
        assert!(check_server_url("http://127.0.0.1:8080").is_ok());
        assert!(check_server_url("http://localhost:8080").is_ok());
        assert!(check_server_url("http://[::1]:8080").is_ok());
        let err = check_server_url("http://sync.example.org").unwrap_err();
        assert!(err.to_string().contains("not encrypted"), "{err}");
        assert!(check_server_url("ftp://example.org").is_err());
        assert!(check_server_url("not a url").is_err());
    }

    #[test]
    fn host_names_are_ascii_or_punycode() {
        // No Unicode tables in the library (idna_adapter 1.0): ASCII names are lower-cased as usual,
        // Punycode names pass as written, and a non-ASCII name is refused with a hint.
        let url = check_server_url("https://Sync.Example.ORG/").expect("ascii");
        assert_eq!(url.host_str(), Some("sync.example.org"));
        let url = check_server_url("https://xn--change-bva.example").expect("punycode");
        assert_eq!(url.host_str(), Some("xn--change-bva.example"));
        let err = check_server_url("https://échange.example").unwrap_err();
        assert!(err.to_string().contains("Punycode"), "{err}");
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let max = Duration::from_secs(300);
        for failures in 1..40 {
            let wait = backoff(failures, max);
            let base = Duration::from_secs(1 << (failures - 1).min(15)).min(max);
            assert!(wait >= base.mul_f64(0.5) && wait <= base.mul_f64(1.5), "{failures}: {wait:?}");
        }
        let samples: BTreeSet<Duration> = (0..20).map(|_| backoff(3, max)).collect();
        assert!(samples.len() > 1, "jitter spreads the retries");
    }
}

#[cfg(test)]
mod link_tests {
    use super::*;

    #[test]
    fn a_link_code_round_trips_and_hides_its_token_from_logs() {
        let link = DeviceLink {
            server: "https://sync.example.org/".into(),
            person_id: "tom".into(),
            device_id: "tablet".into(),
            token: "s3cret".into(),
            neighbourhoods: vec!["n1".into()],
        };
        assert_eq!(DeviceLink::from_code(&link.to_code()).unwrap(), link);
        assert!(!format!("{link:?}").contains("s3cret"));
        assert!(DeviceLink::from_code("quartier-link:zz").is_err());
        assert!(DeviceLink::from_code("hello").is_err());
        let insecure = DeviceLink { server: "http://example.org".into(), ..link };
        assert!(DeviceLink::from_code(&insecure.to_code()).is_err());
    }
}
