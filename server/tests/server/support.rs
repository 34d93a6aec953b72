//! A real server on `127.0.0.1:0` over a fresh database, a real HTTP client, and phones that make
//! mutations the way devices do (their own sequence numbers and clock).
//!
//! Every test runs on both backends ([`Db`]): `TestServer::start(db)` serves until `stop()` over a
//! [`TestDatabase`] of its own, a SQLite file in a temporary folder or a PostgreSQL database made for
//! the test on the server that `QUARTIER_TEST_POSTGRES` names (and dropped after it). `hood()` builds
//! neighbourhood Aligre through the protocol: Mona founds it, Léa and Bob join on her invitation, and
//! Tom joins and becomes a trader.

use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::sync::protocol::*;
use quartier_server::rate_limit::RateLimit;
use quartier_server::storage::{Backend, StorageError, Tx};
use quartier_server::{AnyBackend, Config, PostgresBackend, PostgresUrl, Server, SqliteBackend};
use reqwest::StatusCode;
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const DAY_MS: i64 = 24 * 3_600_000;
pub const CODE: &str = "plum tree 42";

pub fn now_ms() -> i64 {
    quartier_server::clock::system_now_ms()
}

/// A rate limit no test reaches unless it means to.
pub fn generous() -> RateLimit {
    RateLimit { per_minute: NonZeroU32::new(10_000).unwrap(), burst: NonZeroU32::new(10_000).unwrap() }
}

/// Runs blocking work (the PostgreSQL client, which has a runtime of its own) on a thread of its own,
/// outside the test's async runtime; a panic in it is the test's.
pub fn blocking<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|scope| {
        scope.spawn(work).join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The variable naming the PostgreSQL server the tests make their databases on.
pub const POSTGRES_VARIABLE: &str = "QUARTIER_TEST_POSTGRES";

/// The URL of the PostgreSQL server for the tests; without it the PostgreSQL half of the suite fails,
/// saying how to start one.
pub fn postgres_server() -> String {
    match std::env::var(POSTGRES_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{POSTGRES_VARIABLE} is not set, and the PostgreSQL half of this suite needs it: a postgres:// URL of a \
             PostgreSQL server where the tests may create databases. Start one (installing PostgreSQL if needed) with \
             `eval \"$(bash scripts/postgres.sh)\"` from the repository root, then run the tests again."
        ),
    }
}

/// `url` naming the database `name` instead of its own.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |at| at + 3);
    let base = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// A database for one test, and what the test may ask of it.
#[derive(Debug)]
pub enum TestDatabase {
    Sqlite { dir: TempDir },
    Postgres(PostgresDatabase),
}

/// A PostgreSQL database made for one test, dropped (connections and all) when it is.
#[derive(Debug)]
pub struct PostgresDatabase {
    /// The server's URL, as `QUARTIER_TEST_POSTGRES` gives it.
    server: String,
    pub name: String,
    /// The URL of this database.
    pub url: String,
}

impl PostgresDatabase {
    /// A new, empty database on the tests' PostgreSQL server. Blocking.
    pub fn create() -> PostgresDatabase {
        PostgresDatabase::create_with("")
    }

    /// [`create`](Self::create), with clauses for `CREATE DATABASE` (a locale, a template).
    pub fn create_with(clauses: &str) -> PostgresDatabase {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let server = postgres_server();
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name =
            format!("quartier_test_{}_{}_{nanos}", std::process::id(), COUNT.fetch_add(1, Ordering::SeqCst));
        let mut admin = admin_client(&server);
        admin.batch_execute(&format!("CREATE DATABASE {name} {clauses}")).unwrap_or_else(|e| {
            panic!(
                "cannot create a database on the server of {POSTGRES_VARIABLE} (its role needs CREATEDB): {e}"
            )
        });
        let url = with_database(&server, &name);
        PostgresDatabase { server, name, url }
    }

    /// A client of this database, to look at it the way an operator would.
    pub fn client(&self) -> ::postgres::Client {
        ::postgres::Client::connect(&self.url, ::postgres::NoTls).unwrap()
    }
}

fn admin_client(server: &str) -> ::postgres::Client {
    ::postgres::Client::connect(server, ::postgres::NoTls).unwrap_or_else(|e| {
        panic!(
            "cannot connect to the PostgreSQL server of {POSTGRES_VARIABLE} ({e}); start one with \
             `eval \"$(bash scripts/postgres.sh)\"` from the repository root"
        )
    })
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // A test that failed may still hold connections: FORCE ends them.
        let dropped = blocking(move || {
            admin_client(&server).batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        });
        if let Err(error) = dropped {
            eprintln!("could not drop the test database {}: {error}", self.name);
        }
    }
}

impl TestDatabase {
    /// A new, empty database. Blocking.
    pub fn create(db: Db) -> TestDatabase {
        match db {
            Db::Sqlite => TestDatabase::Sqlite { dir: tempfile::tempdir().unwrap() },
            Db::Postgres => TestDatabase::Postgres(PostgresDatabase::create()),
        }
    }

    /// The SQLite file.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        match self {
            TestDatabase::Sqlite { dir } => {
                Some(dir.path().join(quartier_server::storage::sqlite::FILE_NAME))
            }
            TestDatabase::Postgres(_) => None,
        }
    }

    /// Opens it as the server does. Blocking.
    pub fn open(&self) -> AnyBackend {
        match self {
            TestDatabase::Sqlite { .. } => SqliteBackend::open(&self.sqlite_file().unwrap()).unwrap().into(),
            TestDatabase::Postgres(database) => {
                PostgresBackend::open(&PostgresUrl::parse(&database.url).unwrap()).unwrap().into()
            }
        }
    }

    /// Copies SQLite's log into the file and empties it, as its checkpoints do in time (nothing to do
    /// on PostgreSQL). Blocking.
    pub fn checkpoint(&self) {
        if let Some(file) = self.sqlite_file() {
            let conn = rusqlite::Connection::open(file).unwrap();
            let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0)).unwrap();
            assert_eq!(busy, 0, "the checkpoint could not finish");
        }
    }

    /// The arguments of `quartier-server serve` that name this database.
    pub fn serve_args(&self) -> Vec<String> {
        match self {
            TestDatabase::Sqlite { dir } => vec!["--data".into(), dir.path().display().to_string()],
            TestDatabase::Postgres(database) => vec!["--database".into(), database.url.clone()],
        }
    }

    /// The columns whose type could hold a coordinate (floating point or decimal) or whose name is one
    /// (`lat`, `lon`, `coord…`), as `table.column`. Blocking.
    pub fn float_or_place_columns(&self) -> Vec<String> {
        let suspicious = |name: &str, ty: &str| {
            let (name, ty) = (name.to_ascii_lowercase(), ty.to_ascii_uppercase());
            ["REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL"].iter().any(|t| ty.contains(t))
                || name.starts_with("lat")
                || name.starts_with("lon")
                || name.contains("coord")
        };
        match self {
            TestDatabase::Sqlite { .. } => {
                let conn = rusqlite::Connection::open(self.sqlite_file().unwrap()).unwrap();
                let mut found = Vec::new();
                let mut tables = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").unwrap();
                let tables: Vec<String> =
                    tables.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect();
                assert!(tables.len() >= 5, "the schema's tables: {tables:?}");
                for table in tables {
                    let mut columns = conn.prepare(&format!("PRAGMA table_info(\"{table}\")")).unwrap();
                    let columns: Vec<(String, String)> = columns
                        .query_map([], |row| Ok((row.get(1)?, row.get(2)?)))
                        .unwrap()
                        .map(Result::unwrap)
                        .collect();
                    for (name, ty) in columns {
                        let reals: i64 = conn
                            .query_row(
                                &format!(
                                    "SELECT count(*) FROM \"{table}\" WHERE typeof(\"{name}\") = 'real'"
                                ),
                                [],
                                |row| row.get(0),
                            )
                            .unwrap();
                        if suspicious(&name, &ty) || reals > 0 {
                            found.push(format!("{table}.{name} ({ty}, {reals} real values)"));
                        }
                    }
                }
                found
            }
            TestDatabase::Postgres(database) => {
                let mut client = database.client();
                let rows = client
                    .query(
                        "SELECT table_name::text, column_name::text, data_type::text \
                         FROM information_schema.columns WHERE table_schema = current_schema()",
                        &[],
                    )
                    .unwrap();
                assert!(rows.len() >= 10, "the schema's columns");
                rows.iter()
                    .map(|row| (row.get::<_, String>(0), row.get::<_, String>(1), row.get::<_, String>(2)))
                    .filter(|(_, name, ty)| suspicious(name, ty))
                    .map(|(table, name, ty)| format!("{table}.{name} ({ty})"))
                    .collect()
            }
        }
    }

    /// Everything the database stores, as bytes: the SQLite file and its log, or every row of every
    /// PostgreSQL table as text. Blocking.
    pub fn stored_bytes(&self) -> Vec<u8> {
        match self {
            TestDatabase::Sqlite { dir } => {
                let mut bytes = Vec::new();
                for file in ["quartier-server.db", "quartier-server.db-wal"] {
                    bytes.extend(std::fs::read(dir.path().join(file)).unwrap_or_default());
                }
                bytes
            }
            TestDatabase::Postgres(database) => {
                let mut client = database.client();
                let tables = client
                    .query(
                        "SELECT quote_ident(table_name) FROM information_schema.tables \
                         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                        &[],
                    )
                    .unwrap();
                assert!(tables.len() >= 5, "the schema's tables");
                let mut bytes = Vec::new();
                for table in tables {
                    let table: String = table.get(0);
                    for row in client.query(&format!("SELECT t::text FROM {table} t"), &[]).unwrap() {
                        bytes.extend(row.get::<_, String>(0).into_bytes());
                        bytes.push(b'\n');
                    }
                }
                bytes
            }
        }
    }
}

#[derive(Debug)]
pub struct TestServer {
    pub url: String,
    pub http: reqwest::Client,
    pub server: Server<AnyBackend>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// Shared by the servers over it ([`TestServer::start_beside`]), dropped after the last of them.
    pub database: Arc<TestDatabase>,
}

impl TestServer {
    pub async fn start(db: Db) -> TestServer {
        TestServer::start_with(db, Config { onboarding_limit: generous(), ..Config::default() }).await
    }

    pub async fn start_with(db: Db, config: Config) -> TestServer {
        let database = blocking(|| TestDatabase::create(db));
        TestServer::serve(Arc::new(database), config).await
    }

    /// A server over a database made beforehand.
    pub async fn start_on(database: TestDatabase) -> TestServer {
        let config = Config { onboarding_limit: generous(), ..Config::default() };
        TestServer::serve(Arc::new(database), config).await
    }

    /// Another server over the same database, as a host runs several processes over one PostgreSQL.
    pub async fn start_beside(&self) -> TestServer {
        let config = self.server.config().clone();
        TestServer::serve(Arc::clone(&self.database), config).await
    }

    async fn serve(database: Arc<TestDatabase>, config: Config) -> TestServer {
        let backend = blocking(|| database.open());
        let server = Server::new(backend, config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(quartier_server::run(listener, server.clone(), async {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        TestServer { url, http, server, shutdown: Some(shutdown), task: Some(task), database }
    }

    /// Runs `work` in a read transaction of the server's database, off the async runtime.
    pub fn read<R: Send>(&self, work: impl FnOnce(&dyn Tx) -> Result<R, StorageError> + Send) -> R {
        let backend = self.server.backend();
        blocking(move || backend.read(work)).unwrap()
    }

    /// Asks the server to stop and waits for `run` to end.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("run ended")
            .expect("run did not panic")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Registers a new device of a new person, with a token it drew itself.
    pub async fn register(&self, person: &str) -> Phone {
        let device = format!("{person}-phone");
        let token = new_token().unwrap();
        let response = self
            .http
            .post(self.url("/v1/register"))
            .json(&RegisterRequest {
                device_id: device.clone(),
                person_id: person.into(),
                token: Some(token.clone()),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "registering {person}");
        let registered: RegisterResponse = response.json().await.unwrap();
        assert_eq!((registered.device_id.as_str(), registered.person_id.as_str()), (device.as_str(), person));
        assert_eq!(registered.token, token, "the device's own token");
        Phone::new(person, &device, &registered.token)
    }

    /// Adds another device of `phone`'s person (`POST /v1/devices`, which must answer 201).
    pub async fn link(&self, phone: &Phone, device: &str) -> Phone {
        let response = self
            .http
            .post(self.url("/v1/devices"))
            .bearer_auth(&phone.token)
            .json(&AddDeviceRequest { device_id: device.into() })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "linking {device}");
        let added: RegisterResponse = response.json().await.unwrap();
        Phone::new(&phone.person, device, &added.token)
    }

    pub async fn push(&self, phone: &Phone, mutations: &[Mutation]) -> reqwest::Response {
        self.push_at(phone, "/v1/push", mutations).await
    }

    /// Pushes to `path` (`/v1/push` with a query).
    pub async fn push_at(&self, phone: &Phone, path: &str, mutations: &[Mutation]) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(&phone.token)
            .json(&PushRequest { mutations: mutations.to_vec() })
            .send()
            .await
            .unwrap()
    }

    /// Pushes mutations that must be answered (applied or rejected), and gives the answers.
    pub async fn push_ok(&self, phone: &Phone, mutations: &[Mutation]) -> Vec<MutationResult> {
        let response = self.push(phone, mutations).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "push by {}: {text}", phone.person);
        let answer: PushResponse = serde_json::from_str(&text).unwrap();
        assert_eq!(answer.results.len(), mutations.len(), "one result per mutation: {text}");
        for (result, m) in answer.results.iter().zip(mutations) {
            assert_eq!(result.seq, m.seq);
        }
        answer.results
    }

    /// Makes `op` on the phone and pushes it: it must be applied.
    pub async fn act(&self, phone: &mut Phone, nid: &str, op: impl Into<Op>) -> Mutation {
        let m = phone.mutation(nid, op);
        let results = self.push_ok(phone, std::slice::from_ref(&m)).await;
        assert_eq!(results[0].outcome, Outcome::Applied, "{} by {}", m.op.name(), phone.person);
        m
    }

    /// Makes `op` on the phone and pushes it: it must be rejected; gives the code and sentence.
    pub async fn refused(&self, phone: &mut Phone, nid: &str, op: impl Into<Op>) -> (Code, String) {
        let m = phone.mutation(nid, op);
        let results = self.push_ok(phone, std::slice::from_ref(&m)).await;
        match &results[0].outcome {
            Outcome::Rejected { code, message } => (*code, message.clone()),
            Outcome::Applied => panic!("{} by {} was applied", m.op.name(), phone.person),
        }
    }

    pub async fn pull(&self, phone: &Phone, nid: &str, after: u64, limit: Option<u32>) -> reqwest::Response {
        let mut url = self.url(&format!("/v1/neighbourhoods/{nid}/pull?after={after}"));
        if let Some(limit) = limit {
            url.push_str(&format!("&limit={limit}"));
        }
        self.http.get(url).bearer_auth(&phone.token).send().await.unwrap()
    }

    pub async fn pull_page(&self, phone: &Phone, nid: &str, after: u64, limit: Option<u32>) -> PullResponse {
        let response = self.pull(phone, nid, after, limit).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "pull by {}: {text}", phone.person);
        serde_json::from_str(&text).unwrap()
    }

    /// Pulls pages into `replica` from its cursor until caught up; gives the pages.
    pub async fn catch_up(
        &self,
        phone: &Phone,
        replica: &mut Replica,
        limit: Option<u32>,
    ) -> Vec<PullResponse> {
        let mut pages = Vec::new();
        loop {
            let page = self.pull_page(phone, &replica.nid, replica.cursor, limit).await;
            replica.apply(&page);
            let more = page.more;
            pages.push(page);
            if !more {
                return pages;
            }
            assert!(pages.len() < 10_000, "a pull that never ends");
        }
    }

    /// Everything `phone` may read of a neighbourhood, pulled from the start.
    pub async fn replica(&self, phone: &Phone, nid: &str) -> Replica {
        let mut replica = Replica::new(nid);
        self.catch_up(phone, &mut replica, None).await;
        replica
    }

    /// Redeems an invitation code: must succeed.
    pub async fn join(&self, phone: &Phone, code: &str, name: &str) -> JoinResponse {
        let response = self.join_raw(phone, code, name).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "join by {}: {text}", phone.person);
        serde_json::from_str(&text).unwrap()
    }

    pub async fn join_raw(&self, phone: &Phone, code: &str, name: &str) -> reqwest::Response {
        self.http
            .post(self.url("/v1/join"))
            .bearer_auth(&phone.token)
            .json(&JoinRequest { code: code.into(), display_name: name.into() })
            .send()
            .await
            .unwrap()
    }

    pub async fn metrics(&self) -> String {
        let response = self.http.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// An error answer: its status, and an `ErrorBody` with this code and a sentence.
pub async fn expect_error(response: reqwest::Response, status: StatusCode, code: &str) -> String {
    let got = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    let body: ErrorBody =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not an ErrorBody ({e}): {text}"));
    assert_eq!(body.error.code, code, "{text}");
    let message = body.error.message;
    assert!(message.ends_with('.'), "not a sentence: {message}");
    assert!(message.chars().next().is_some_and(char::is_uppercase), "not a sentence: {message}");
    message
}

/// A registered device: its person, token, sequence numbers and clock.
#[derive(Debug, Clone)]
pub struct Phone {
    pub person: String,
    pub device: String,
    pub token: String,
    pub seq: u64,
    clock: HlcClock,
    /// How far ahead of the real time the phone's clock is set.
    pub ahead_ms: u64,
}

impl Phone {
    pub fn new(person: &str, device: &str, token: &str) -> Phone {
        Phone {
            person: person.into(),
            device: device.into(),
            token: token.into(),
            seq: 0,
            clock: HlcClock::new(device),
            ahead_ms: 0,
        }
    }

    /// The phone's next mutation, numbered and stamped.
    pub fn mutation(&mut self, nid: &str, op: impl Into<Op>) -> Mutation {
        self.seq += 1;
        Mutation {
            neighbourhood_id: nid.into(),
            author: self.person.clone(),
            device_id: self.device.clone(),
            seq: self.seq,
            hlc: self.clock.tick(u64::try_from(now_ms()).unwrap() + self.ahead_ms),
            op: op.into(),
        }
    }
}

/// What a device holds of a neighbourhood after pulling.
#[derive(Debug, Clone, PartialEq)]
pub struct Replica {
    pub nid: String,
    pub cursor: u64,
    pub entities: BTreeMap<EntityKey, Entity>,
    /// Every change received, by key: the last version seen and whether it was a deletion.
    pub seen: BTreeMap<EntityKey, (u64, bool)>,
}

impl Replica {
    pub fn new(nid: &str) -> Replica {
        Replica { nid: nid.into(), cursor: 0, entities: BTreeMap::new(), seen: BTreeMap::new() }
    }

    pub fn apply(&mut self, page: &PullResponse) {
        let mut last = 0;
        for change in &page.changes {
            assert!(change.version > self.cursor, "a change at or before the cursor: {change:?}");
            assert!(change.version >= last, "changes out of version order");
            last = change.version;
            let key = change.effect.key();
            assert_eq!(key.neighbourhood_id, self.nid, "a change of another neighbourhood");
            match &change.effect {
                Effect::Put { entity } => {
                    self.entities.insert(key.clone(), entity.clone());
                    self.seen.insert(key, (change.version, false));
                }
                Effect::Delete { key } => {
                    self.entities.remove(key);
                    self.seen.insert(key.clone(), (change.version, true));
                }
            }
        }
        assert!(page.cursor >= self.cursor, "the cursor went back");
        assert!(page.cursor <= page.checkpoint, "a cursor past the checkpoint");
        self.cursor = page.cursor;
    }

    pub fn get(&self, kind: EntityKind, id: &str) -> Option<&Entity> {
        self.entities.get(&EntityKey::new(&self.nid, kind, id))
    }

    pub fn has(&self, kind: EntityKind, id: &str) -> bool {
        self.get(kind, id).is_some()
    }

    pub fn member(&self, id: &str) -> Member {
        match self.get(EntityKind::Member, id) {
            Some(Entity::Member(m)) => m.clone(),
            other => panic!("no member {id}: {other:?}"),
        }
    }

    pub fn messages(&self) -> Vec<&Message> {
        self.entities
            .values()
            .filter_map(|e| if let Entity::Message(m) = e { Some(m) } else { None })
            .collect()
    }
}

// Arguments, with plausible defaults.

pub fn found(name: &str, display_name: &str) -> NeighbourhoodCreate {
    NeighbourhoodCreate {
        name: name.into(),
        description: String::new(),
        cell: None,
        display_name: display_name.into(),
    }
}

pub fn invitation(id: &str, code: &str, max_uses: u32) -> InvitationCreate {
    InvitationCreate {
        id: id.into(),
        code_hash: hash_code(code),
        expires_at: now_ms() + 7 * DAY_MS,
        max_uses,
    }
}

pub fn ask(id: &str, title: &str) -> FavourPost {
    FavourPost {
        id: id.into(),
        kind: FavourKind::Ask,
        title: title.into(),
        details: String::new(),
        category: "garden".into(),
        window: None,
        cell: None,
    }
}

/// A stall at the Aligre market, on Saturday mornings, with no cell.
pub fn stall(id: &str, name: &str) -> StallOpen {
    StallOpen {
        id: id.into(),
        name: name.into(),
        market: "Aligre".into(),
        days: vec![6],
        opens_min: 480,
        closes_min: 780,
        place: "north row".into(),
        cell: None,
    }
}

pub fn item(id: &str, title: &str) -> ItemAdd {
    ItemAdd {
        id: id.into(),
        title: title.into(),
        description: String::new(),
        category: "tools".into(),
        condition: Condition::Good,
        deposit_note: "none".into(),
        cell: None,
    }
}

pub fn message(id: &str, kind: ThreadKind, thread: &str, body: &str) -> MessageSend {
    MessageSend { id: id.into(), thread: ThreadRef { kind, id: thread.into() }, body: body.into() }
}

/// Neighbourhood Aligre, made through the protocol.
#[derive(Debug)]
pub struct Hood {
    pub nid: String,
    /// The founder and moderator.
    pub mona: Phone,
    pub lea: Phone,
    pub bob: Phone,
    /// A trader.
    pub tom: Phone,
}

/// `n` more phones, people `{prefix}0`…, registered and joined to `hood` with an invitation `code`
/// that Mona makes for them.
pub async fn crowd(server: &TestServer, hood: &mut Hood, prefix: &str, code: &str, n: usize) -> Vec<Phone> {
    let inv = invitation(&format!("inv-{prefix}"), code, u32::try_from(n).expect("a small crowd"));
    server.act(&mut hood.mona, &hood.nid, inv).await;
    let mut phones = Vec::with_capacity(n);
    for i in 0..n {
        let phone = server.register(&format!("{prefix}{i}")).await;
        server.join(&phone, code, &format!("{}{i}", prefix.to_uppercase())).await;
        phones.push(phone);
    }
    phones
}

pub async fn hood(server: &TestServer) -> Hood {
    let nid = String::from("aligre");
    let mut mona = server.register("mona").await;
    server.act(&mut mona, &nid, found("Aligre", "Mona")).await;
    server.act(&mut mona, &nid, invitation("inv-aligre", CODE, 10)).await;
    let lea = server.register("lea").await;
    let bob = server.register("bob").await;
    let tom = server.register("tom").await;
    for (phone, name) in [(&lea, "Léa"), (&bob, "Bob"), (&tom, "Tom")] {
        let joined = server.join(phone, CODE, name).await;
        assert_eq!(
            (joined.neighbourhood_id.as_str(), joined.neighbourhood_name.as_str()),
            ("aligre", "Aligre")
        );
    }
    server.act(&mut mona, &nid, MemberSetRole { member_id: "tom".into(), role: Role::Trader }).await;
    Hood { nid, mona, lea, bob, tom }
}
