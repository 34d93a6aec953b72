//! Sync benchmarks: a real sync server on `127.0.0.1:0` (SQLite, or PostgreSQL from
//! `QUARTIER_TEST_POSTGRES`) and devices talking to it over HTTP.
//!
//! - [`initial_sync`]: a fresh device (a child process of its own, so that its peak memory is its own)
//!   pulls a whole neighbourhood;
//! - [`week_offline`]: a device's queued mutations pushed as the sync client pushes them;
//! - [`load`]: many simulated devices pushing and pulling at once.
//!
//! Servers are seeded through their own `Tx::put`, one transaction per batch. To add a sync benchmark:
//! a function here, a row in `report.rs`, a call in `lib.rs`.

use crate::data::{self, Counts, Generator, NID};
use crate::local::{self, Result};
use crate::measure::{self, Samples};
use quartier_core::domain::{Entity, HlcClock, Mutation, Op};
use quartier_core::store::Durability;
use quartier_core::sync::protocol::{
    MAX_PULL_LIMIT, Outcome, PullResponse, PushRequest, PushResponse, RegisterRequest, RegisterResponse,
};
use quartier_core::sync::{FileSecretStore, SyncClient};
use quartier_server::AnyBackend;
use quartier_server::storage::{Backend, StorageError};
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The variable naming a PostgreSQL server on which the load test makes a database of its own.
pub const POSTGRES_VARIABLE: &str = "QUARTIER_TEST_POSTGRES";

/// Where a bench server keeps its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    pub fn name(self) -> &'static str {
        match self {
            Db::Sqlite => "SQLite",
            Db::Postgres => "PostgreSQL",
        }
    }
}

/// A database of its own on the PostgreSQL server, dropped with it.
#[derive(Debug)]
struct PgDatabase {
    admin: String,
    name: String,
}

impl PgDatabase {
    fn create() -> Result<(PgDatabase, String)> {
        let admin = std::env::var(POSTGRES_VARIABLE).map_err(|_| {
            format!("{POSTGRES_VARIABLE} is not set: run `eval \"$(bash scripts/postgres.sh)\"`")
        })?;
        let name = format!("quartier_bench_{}_{}", std::process::id(), quartier_core::store::system_now_ms());
        postgres::Client::connect(&admin, postgres::NoTls)?
            .batch_execute(&format!("CREATE DATABASE {name}"))?;
        let (base, query) = admin.split_once('?').map_or((admin.as_str(), None), |(b, q)| (b, Some(q)));
        let authority = base.find("://").map_or(0, |at| at + 3);
        let base = base[authority..].find('/').map_or(base, |slash| &base[..authority + slash]);
        let url = match query {
            Some(query) => format!("{base}/{name}?{query}"),
            None => format!("{base}/{name}"),
        };
        Ok((PgDatabase { admin, name }, url))
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let dropped = std::thread::scope(|s| {
            s.spawn(|| {
                postgres::Client::connect(&self.admin, postgres::NoTls).and_then(|mut c| {
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
                })
            })
            .join()
        });
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the bench database {}", self.name);
        }
    }
}

/// A sync server on a loopback port, on its own runtime, until dropped.
#[derive(Debug)]
pub struct BenchServer {
    pub url: String,
    pub server: quartier_server::Server<AnyBackend>,
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _postgres: Option<PgDatabase>,
}

impl BenchServer {
    /// Starts a server with its database in `dir` (SQLite) or on PostgreSQL, on a runtime of its own
    /// with `workers` threads. Registration is not rate-limited (every simulated device comes from
    /// 127.0.0.1). Blocking.
    pub fn start(dir: &Path, db: Db, workers: usize) -> Result<BenchServer> {
        let (backend, postgres): (AnyBackend, _) = match db {
            Db::Sqlite => (quartier_server::SqliteBackend::open(&dir.join("server.db"))?.into(), None),
            Db::Postgres => {
                let (database, url) = PgDatabase::create()?;
                let url = quartier_server::PostgresUrl::parse(&url)?;
                (quartier_server::PostgresBackend::open(&url)?.into(), Some(database))
            }
        };
        let unlimited = NonZeroU32::new(1_000_000).ok_or("zero")?;
        let config = quartier_server::Config {
            onboarding_limit: quartier_server::rate_limit::RateLimit {
                per_minute: unlimited,
                burst: unlimited,
            },
            ..quartier_server::Config::default()
        };
        let server = quartier_server::Server::new(backend, config);
        let runtime =
            // Named, so that a profile tells the server's threads (and its blocking pool) from the clients'.
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .thread_name("bench-server")
                .enable_all()
                .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = server.clone();
        runtime.spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(e) = quartier_server::run(listener, serving, shutdown).await {
                eprintln!("the bench server stopped: {e}");
            }
        });
        Ok(BenchServer { url, server, runtime: Some(runtime), stop: Some(stop), _postgres: postgres })
    }

    /// Writes generated entities of `nid` at the next versions, `batch` per transaction. Blocking.
    pub fn seed(&self, generator: &mut Generator, nid: &str) -> Result<usize> {
        let mut total = 0;
        loop {
            let batch = generator.batch(20_000);
            if batch.is_empty() {
                return Ok(total);
            }
            total += batch.len();
            self.put_all(nid, &batch)?;
        }
    }

    /// Writes entities of `nid` at the next versions, in one transaction. Blocking.
    pub fn put_all(&self, nid: &str, entities: &[Entity]) -> Result<()> {
        self.server.backend().write(|tx| -> std::result::Result<(), StorageError> {
            let mut version = match tx.lock_neighbourhood(nid)? {
                Some(version) => version,
                None => {
                    tx.set_neighbourhood_version(nid, 0)?;
                    0
                }
            };
            for entity in entities {
                version += 1;
                tx.put(entity, version)?;
            }
            tx.set_neighbourhood_version(nid, version)
        })?;
        Ok(())
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

/// What a device process reports after its initial sync.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DeviceSync {
    pub entities: usize,
    pub seconds: f64,
    pub peak_rss_bytes: u64,
}

/// The device side of the initial sync, run in a process of its own (`quartier-bench device-sync`):
/// registers as the neighbourhood's first member, follows it and syncs until caught up.
pub fn device_sync(server: &str, dir: &Path) -> Result<DeviceSync> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let start = Instant::now();
    let store = Arc::new(local::open_store(&dir.join("device.db"), Durability::Full)?);
    let secrets = Arc::new(FileSecretStore::new(dir.join("secrets.json")));
    let client = SyncClient::new(store.clone(), server, secrets)?;
    let entities = runtime.block_on(async {
        client.register().await?;
        store.follow(NID)?;
        let mut pulled = 0;
        loop {
            let report = client.sync_once(Duration::from_secs(600)).await?;
            pulled += report.pulled;
            if report.complete {
                return Ok::<_, Box<dyn std::error::Error + Send + Sync>>(pulled);
            }
        }
    })?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(DeviceSync { entities, seconds, peak_rss_bytes: crate::measure::peak_rss_bytes().unwrap_or(0) })
}

/// Initial sync figures.
#[derive(Debug, Clone)]
pub struct InitialSync {
    pub entities: usize,
    pub device: DeviceSync,
    /// Plain rusqlite: the same entities' JSON inserted into one table, in transactions of a pull page (5,000) each.
    pub baseline: Duration,
}

/// A neighbourhood of about `n` entities on a SQLite server; a fresh device (process `device_exe`)
/// pulls it all.
pub fn initial_sync(dir: &Path, n: usize, device_exe: &Path) -> Result<InitialSync> {
    let server = BenchServer::start(dir, Db::Sqlite, 2)?;
    let counts = Counts::about(n);
    let seeded = server.seed(&mut Generator::new(counts, 11), NID)?;
    let device_dir = dir.join("device");
    std::fs::create_dir_all(&device_dir)?;
    let output = std::process::Command::new(device_exe)
        .arg("device-sync")
        .arg(&server.url)
        .arg(&device_dir)
        .stderr(std::process::Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!("the device process failed ({})", output.status).into());
    }
    let device: DeviceSync = serde_json::from_slice(&output.stdout)?;
    if device.entities != seeded {
        return Err(format!("the device pulled {} entities of {seeded}", device.entities).into());
    }
    drop(server);
    // Baseline: the same entities, as JSON rows, into plain SQLite in transactions of a page (5,000).
    let mut conn = rusqlite::Connection::open(dir.join("plain-sync.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("CREATE TABLE entities (kind TEXT, id TEXT, data TEXT, PRIMARY KEY (kind, id))")?;
    let mut generator = Generator::new(counts, 11);
    let mut baseline = Duration::ZERO;
    loop {
        let batch = generator.batch(MAX_PULL_LIMIT as usize);
        if batch.is_empty() {
            break;
        }
        let rows: Vec<(String, String, String)> = batch
            .iter()
            .map(|e| {
                let key = e.key();
                (key.kind.as_str().to_owned(), key.id, serde_json::to_string(e).unwrap_or_default())
            })
            .collect();
        let start = Instant::now();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("INSERT INTO entities (kind, id, data) VALUES (?, ?, ?)")?;
            for (kind, id, json) in &rows {
                stmt.execute([kind, id, json])?;
            }
        }
        tx.commit()?;
        baseline += start.elapsed();
    }
    Ok(InitialSync { entities: seeded, device, baseline })
}

/// Back from a week offline: figures of the push.
#[derive(Debug, Clone)]
pub struct WeekOffline {
    pub mutations: usize,
    /// Every batch pushed over HTTP and acknowledged in the device's store.
    pub push: Duration,
    /// Plain rusqlite: the same number of rows inserted, each committed on its own (the server's unit).
    pub baseline: Duration,
}

async fn register(http: &reqwest::Client, url: &str, device_id: &str, person_id: &str) -> Result<String> {
    let request = RegisterRequest { device_id: device_id.into(), person_id: person_id.into(), token: None };
    let response = http.post(format!("{url}/v1/register")).json(&request).send().await?.error_for_status()?;
    Ok(response.json::<RegisterResponse>().await?.token)
}

/// `n` favours posted offline, then the outbox pushed by the sync client (`SyncClient::push_pending`:
/// batches of 200, compressed, each batch's answers stored while the next is on its way); then checks
/// on the server that each was applied exactly once.
pub fn week_offline(dir: &Path, n: usize) -> Result<WeekOffline> {
    let server = BenchServer::start(dir, Db::Sqlite, 2)?;
    server.seed(&mut Generator::new(Counts { members: 100, favours: 0, items: 0, products: 0 }, 3), NID)?;
    let store = local::open_store(&dir.join("week.db"), Durability::Full)?;
    crate::local::seed_replica(&store, Counts { members: 100, favours: 0, items: 0, products: 0 }, 3)?;
    for i in 0..n {
        store.mutate(NID, data::favour_post(&format!("week{i:06}"), "Help carry boxes", data::home()))?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let me = local::me();
    let store = Arc::new(store);
    let secrets = Arc::new(FileSecretStore::new(dir.join("week-secrets.json")));
    let client = SyncClient::new(store.clone(), &server.url, secrets)?;
    runtime.block_on(client.register())?;
    let start = Instant::now();
    let report = runtime.block_on(client.push_pending(Duration::from_secs(600)))?;
    if !report.complete || report.pushed != n {
        return Err(format!("{} of {n} pushed (complete: {})", report.pushed, report.complete).into());
    }
    let push = start.elapsed();
    // Exactly once: every seq has one outcome, applied, and the server holds each favour once.
    let applied = server.server.backend().read(|tx| -> std::result::Result<usize, StorageError> {
        let mut applied = 0;
        for seq in 1..=n as u64 {
            if tx.outcome(&me.device_id, seq)? == Some(Outcome::Applied) {
                applied += 1;
            }
        }
        Ok(applied)
    })?;
    let version = server.server.backend().read(|tx| tx.neighbourhood_version(NID))?.unwrap_or(0);
    if applied != n || version != 101 + n as u64 {
        return Err(format!("{applied} of {n} applied; the neighbourhood is at version {version}").into());
    }
    drop(server);
    let mut conn = rusqlite::Connection::open(dir.join("plain-week.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("CREATE TABLE entities (kind TEXT, id TEXT, data TEXT, PRIMARY KEY (kind, id))")?;
    let json = serde_json::to_string(&store.get(&quartier_core::domain::EntityKey::new(
        NID,
        quartier_core::domain::EntityKind::Favour,
        "week000000",
    ))?)?;
    let start = Instant::now();
    for i in 0..n {
        let tx = conn.transaction()?;
        tx.prepare_cached("INSERT INTO entities (kind, id, data) VALUES ('favour', ?, ?)")?
            .execute([format!("week{i:06}"), json.clone()])?;
        tx.commit()?;
    }
    Ok(WeekOffline { mutations: n, push, baseline: start.elapsed() })
}

/// Server-under-load figures on one database.
#[derive(Debug, Clone)]
pub struct Load {
    pub db: Db,
    pub devices: usize,
    pub rounds: usize,
    /// Each device's first pull of its whole neighbourhood, every device at once.
    pub first_pull: Samples,
    pub first: Phase,
    /// Then the rounds: pushes and the pulls of what changed.
    pub push: Samples,
    pub pull: Samples,
    pub then: Phase,
    /// Mutations the server applied.
    pub applied: usize,
}

/// One phase of the load test: how long it took, and the CPU time the server used meanwhile (this
/// process but its simulated devices; for PostgreSQL, not its own processes).
#[derive(Debug, Clone, Copy)]
pub struct Phase {
    pub requests: usize,
    pub elapsed: Duration,
    pub server_cpu: Option<Duration>,
}

/// The name of the simulated devices' threads.
const CLIENT_THREADS: &str = "bench-client";

impl Phase {
    /// Times `work`, which makes `requests(&its answer)` requests.
    fn measure<T>(work: impl FnOnce() -> Result<T>, requests: impl Fn(&T) -> usize) -> Result<(T, Phase)> {
        let server_cpu = || {
            let (all, clients) = (measure::process_cpu_time()?, measure::threads_cpu_time(CLIENT_THREADS)?);
            Some(all.saturating_sub(clients))
        };
        let (before, start) = (server_cpu(), Instant::now());
        let value = work()?;
        let elapsed = start.elapsed();
        let server_cpu = before.zip(server_cpu()).map(|(before, after)| after.saturating_sub(before));
        let requests = requests(&value);
        Ok((value, Phase { requests, elapsed, server_cpu }))
    }

    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// The server's CPU time a request, on average.
    pub fn cpu_per_request(&self) -> Option<Duration> {
        let requests = u32::try_from(self.requests.max(1)).unwrap_or(u32::MAX);
        self.server_cpu.map(|cpu| cpu / requests)
    }

    /// The smallest 99th percentile of latency that any order of service allows when `at_once`
    /// requests, each costing this phase's mean server CPU time, are waiting together on `cores`
    /// cores that serve nothing else: the 99th percentile's request cannot be finished before that
    /// many requests' CPU time, shared out.
    pub fn least_p99(&self, at_once: usize, cores: usize) -> Option<Duration> {
        let before = u32::try_from((at_once * 99).div_ceil(100)).unwrap_or(u32::MAX);
        self.cpu_per_request().map(|c| c * before / u32::try_from(cores.max(1)).unwrap_or(1))
    }
}

/// `devices` simulated devices in `devices / 100` neighbourhoods (100 members each, with 1,000
/// favours). First every device pulls its neighbourhood, all at once (a neighbourhood's first sync);
/// once all have, each pushes one mutation and pulls what changed, `rounds` times, all at once again.
/// Latencies are measured by the devices, from request to whole answer. Each device waits for an
/// answer before its next request and never pauses between them, so `devices` requests are always
/// waiting: latency is then that queue's length over the throughput (Little's law).
pub fn load(dir: &Path, db: Db, devices: usize, rounds: usize) -> Result<Load> {
    let server = BenchServer::start(dir, db, 2)?;
    let towns = devices.div_ceil(100);
    let per_town = devices.div_ceil(towns);
    for t in 0..towns {
        let nid = format!("town{t:03}");
        let counts = Counts { members: per_town, favours: 1000, items: 0, products: 0 };
        server.seed(&mut Generator::in_neighbourhood(&nid, counts, 20 + t as u64), &nid)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(CLIENT_THREADS)
        .enable_all()
        .build()?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(devices).build()?;
    let url = server.url.clone();
    // Registration is set-up, not measured.
    let simulated: Vec<SimulatedDevice> = runtime.block_on(async {
        let mut all = Vec::new();
        for d in 0..devices {
            let (nid, person) = (format!("town{:03}", d / per_town), data::member_id(d % per_town));
            let device = format!("load-{d}");
            // A person is in one town only here: ids of other towns' members are told apart by device.
            let person = format!("{person}-{}", d / per_town);
            let token = register(&http, &url, &device, &person).await?;
            all.push(SimulatedDevice {
                http: http.clone(),
                url: url.clone(),
                clock: HlcClock::new(&device),
                nid,
                person,
                device,
                token,
                cursor: 0,
            });
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(all)
    })?;
    // The members of each town are people p…-town, as registered.
    for t in 0..towns {
        let nid = format!("town{t:03}");
        let mut generator = Generator::in_neighbourhood(
            &nid,
            Counts { members: per_town, favours: 0, items: 0, products: 0 },
            1,
        );
        let members: Vec<Entity> = generator
            .batch(per_town + 1)
            .into_iter()
            .skip(1)
            .map(|mut m| {
                if let Entity::Member(member) = &mut m {
                    member.id = format!("{}-{t}", member.id);
                }
                m
            })
            .collect();
        server.put_all(&nid, &members)?;
    }
    // Each phase runs every device at once and waits for the last.
    let all_at_once = |devices: Vec<SimulatedDevice>, work: Work| {
        runtime.block_on(async {
            let tasks: Vec<_> = devices.into_iter().map(|device| tokio::spawn(device.sync(work))).collect();
            let mut all = Vec::new();
            for task in tasks {
                all.push(task.await.map_err(|e| e.to_string())??);
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(all)
        })
    };
    let (firsts, first) = Phase::measure(
        || all_at_once(simulated, Work::FirstPull),
        |all| all.iter().map(|(_, t)| t.pull.len()).sum(),
    )?;
    let mut first_pull = Samples::new();
    let simulated = firsts
        .into_iter()
        .map(|(device, timings)| {
            first_pull.extend(timings.pull);
            device
        })
        .collect();
    let (results, then) = Phase::measure(
        || all_at_once(simulated, Work::Rounds(rounds)),
        |all| all.iter().map(|(_, t)| t.push.len() + t.pull.len()).sum(),
    )?;
    if let AnyBackend::Sqlite(sqlite) = server.server.backend() {
        let commits = sqlite.group_commits();
        eprintln!(
            "  SQLite writer thread: {} push transactions in {} commits ({:.1} a commit)",
            commits.writes,
            commits.groups,
            commits.writes as f64 / commits.groups.max(1) as f64
        );
    }
    let (mut push, mut pull, mut applied) = (Samples::new(), Samples::new(), 0);
    for (_, timings) in results {
        push.extend(timings.push);
        pull.extend(timings.pull);
        applied += timings.applied;
    }
    drop(runtime);
    if applied != devices * rounds {
        return Err(format!("{applied} of the {} mutations pushed were applied", devices * rounds).into());
    }
    Ok(Load { db, devices, rounds, first_pull, first, push, pull, then, applied })
}

/// One device of the load test: who it is, and how far it has pulled.
struct SimulatedDevice {
    http: reqwest::Client,
    url: String,
    clock: HlcClock,
    nid: String,
    person: String,
    device: String,
    token: String,
    cursor: u64,
}

/// What a simulated device measured.
#[derive(Default)]
struct Timings {
    push: Samples,
    pull: Samples,
    applied: usize,
}

/// What a simulated device does in a phase of the load test.
#[derive(Clone, Copy)]
enum Work {
    /// Pulls its whole neighbourhood.
    FirstPull,
    /// This many times, pushes a favour and pulls what changed.
    Rounds(usize),
}

impl SimulatedDevice {
    async fn sync(mut self, work: Work) -> Result<(SimulatedDevice, Timings)> {
        let mut timings = Timings::default();
        let rounds = match work {
            Work::FirstPull => {
                self.pull_all(&mut timings.pull).await?;
                0
            }
            Work::Rounds(rounds) => rounds,
        };
        for round in 0..rounds {
            let seq = round as u64 + 1;
            let now = quartier_core::store::system_now_ms();
            let m = Mutation {
                neighbourhood_id: self.nid.clone(),
                author: self.person.clone(),
                device_id: self.device.clone(),
                seq,
                hlc: self.clock.tick(u64::try_from(now).unwrap_or(0)),
                op: Op::from(data::favour_post(
                    &format!("{}-{seq}", self.device),
                    "Lend a ladder",
                    data::home(),
                )),
            };
            let start = Instant::now();
            let answer: PushResponse = self
                .http
                .post(format!("{}/v1/push", self.url))
                .bearer_auth(&self.token)
                .json(&PushRequest { mutations: vec![m] })
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            timings.push.push(start.elapsed());
            timings.applied += answer.results.iter().filter(|r| r.outcome == Outcome::Applied).count();
            self.pull_all(&mut timings.pull).await?;
        }
        Ok((self, timings))
    }

    async fn pull_all(&mut self, timings: &mut Samples) -> Result<()> {
        loop {
            let start = Instant::now();
            let page: PullResponse = self
                .http
                .get(format!("{}/v1/neighbourhoods/{}/pull?after={}", self.url, self.nid, self.cursor))
                .bearer_auth(&self.token)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            timings.push(start.elapsed());
            self.cursor = page.cursor;
            if !page.more {
                return Ok(());
            }
        }
    }
}
