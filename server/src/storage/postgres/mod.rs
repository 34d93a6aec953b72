//! The PostgreSQL backend: one database shared by as many stateless server processes as a host runs.
//!
//! The synchronous `postgres` client, and a pool of its connections (`r2d2`, at most
//! [`POOL_SIZE`] per process), each connection with a cache of its prepared statements. The tables are
//! SQLite's (see `migrations/`), keyed by neighbourhood first, with text keys in byte order
//! (`COLLATE "C"`) so that lists come in Rust's `String` order whatever the database's locale. The
//! queries are in `tx.rs`, the migrations in `schema.rs`.
//!
//! # Why a pull never skips a change
//!
//! A pull reads "every entity changed after version V" of a neighbourhood. That is only safe if the
//! versions of a neighbourhood become visible in order: a change at version 7 that committed after a
//! pull already saw version 8 would be behind that device's cursor for ever. Two things make it so:
//!
//! - **Writes** run at `READ COMMITTED`, and [`Tx::lock_neighbourhood`](super::Tx::lock_neighbourhood)
//!   takes `pg_advisory_xact_lock` on the neighbourhood's id (which also covers a neighbourhood that
//!   does not exist yet), then reads its version with `SELECT … FOR UPDATE`. Both locks are held to
//!   the end of the transaction, so the writers of one neighbourhood run one after the other: the next
//!   writer gets the lock only once the previous one has committed (PostgreSQL releases a
//!   transaction's locks after it is visible to new snapshots), and, at `READ COMMITTED`, every
//!   statement after the lock sees that commit: it reads version `v` and writes `v + 1`, and the rules
//!   read the state as of the previous commit. So version `v + 1` never commits before version `v`.
//! - **Reads** (pulls, tokens) run at `REPEATABLE READ READ ONLY`: one snapshot for the whole
//!   transaction, so the checkpoint (the neighbourhood's version), the member check and the pages all
//!   see the same committed prefix of versions 1..=checkpoint and nothing after it. A pull at
//!   `READ COMMITTED` could read the checkpoint, then changes committed after it, and answer a cursor
//!   behind changes it already sent.
//!
//! Writers of different neighbourhoods do not wait for each other. A push locks its device's row
//! (`lock_device`) before the neighbourhood, and a join locks the neighbourhood only: always in that
//! order, so they cannot deadlock. Registration locks the device id and the person id it checks
//! (advisory locks in `device_exists` and `person_exists`), which SQLite's single writer gives for free.
//!
//! # TLS
//!
//! This backend speaks to PostgreSQL without TLS, so that the server links no OpenSSL (the same reason
//! the workspace uses rustls elsewhere). It therefore connects only where a connection cannot be read
//! on the way: a Unix socket, or a loopback address (`localhost`, `127.0.0.0/8`, `::1`). A remote
//! server is reached through a local TLS tunnel (pgbouncer with `server_tls_sslmode = verify-full`,
//! stunnel, an SSH tunnel) or a private link, in which case the URL says so with `sslmode=disable`.
//! A URL that asks for TLS (`sslmode=require`), or names a remote host without `sslmode=disable`, is
//! refused before anything is touched ([`PostgresUrl::parse`]).

mod schema;
mod tx;

use super::{Backend, StorageError, Tx};
use postgres::config::{Host, SslMode};
use postgres::{Client, IsolationLevel, NoTls, Statement};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;
use tx::{Mode, PgTx};

pub use schema::{CURRENT_VERSION, upgrade_to};

/// Connections kept by one server process, at most. Several processes share the database's
/// `max_connections` (100 by default).
pub const POOL_SIZE: u32 = 16;

/// How long connecting waits, when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a call waits for a free connection of the pool before it fails.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the server looks for PostgreSQL's Unix socket when the URL names no host (Debian's place,
/// then PostgreSQL's own default).
const SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];

/// Wraps a PostgreSQL error with what the server was doing.
pub(crate) fn pg_error(context: &'static str) -> impl Fn(postgres::Error) -> StorageError {
    move |source| StorageError::Database { context, source: Box::new(Described(source)) }
}

/// A PostgreSQL error that says what happened: the driver's own text is only its kind ("db error",
/// "error connecting to server"), and the rest (the server's message, the system's error) is its cause.
#[derive(Debug)]
pub(crate) struct Described(postgres::Error);

impl std::fmt::Display for Described {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = std::error::Error::source(&self.0);
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

impl std::error::Error for Described {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A checked PostgreSQL URL: where to connect, and how to name it in messages without its password.
#[derive(Clone)]
pub struct PostgresUrl {
    config: postgres::Config,
    shown: String,
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresUrl").field("target", &self.shown).finish_non_exhaustive()
    }
}

impl PostgresUrl {
    /// Whether `url` is meant for PostgreSQL (`postgres://` or `postgresql://`).
    pub fn is_postgres(url: &str) -> bool {
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }

    /// Reads a URL such as `postgres://quartier:secret@localhost:5432/quartier`, without connecting.
    /// Refused: a malformed URL, a URL that asks for TLS, and a plain connection to a remote host
    /// (see the module's documentation). Messages never show the password.
    pub fn parse(url: &str) -> Result<PostgresUrl, StorageError> {
        let mut config: postgres::Config = url.parse().map_err(|e| {
            StorageError::Url(format!(
                "the PostgreSQL URL cannot be read ({}); write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE",
                Described(e)
            ))
        })?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            let dir = SOCKET_DIRS.iter().find(|dir| Path::new(dir).is_dir()).unwrap_or(&SOCKET_DIRS[1]);
            config.host_path(dir);
        }
        let shown = shown(&config);
        let remote: Vec<String> = remote_hosts(&config);
        match config.get_ssl_mode() {
            SslMode::Disable => {}
            SslMode::Prefer if remote.is_empty() => {}
            SslMode::Prefer => {
                return Err(StorageError::Url(format!(
                    "quartier-server connects to PostgreSQL without TLS, so only through a Unix socket or a loopback address, and {} is neither; reach it through a TLS tunnel on this machine, or add sslmode=disable to the URL if the network to it is private",
                    remote.join(", ")
                )));
            }
            _ => {
                return Err(StorageError::Url(String::from(
                    "the PostgreSQL URL asks for TLS (sslmode=require), which quartier-server does not speak; connect through a Unix socket, a loopback address or a TLS tunnel on this machine",
                )));
            }
        }
        config.ssl_mode(SslMode::Disable);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("quartier-server");
        }
        Ok(PostgresUrl { config, shown })
    }

    /// `user@host:port/database`, without the password.
    pub fn target(&self) -> &str {
        &self.shown
    }
}

fn shown(config: &postgres::Config) -> String {
    let user = config.get_user().map_or_else(|| String::from("(this system user)"), str::to_owned);
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let mut hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    if hosts.is_empty() {
        hosts = config.get_hostaddrs().iter().map(IpAddr::to_string).collect();
    }
    let database = config.get_dbname().unwrap_or(user.as_str());
    format!("{user}@{}:{port}/{database}", hosts.join(","))
}

/// The hosts a connection would go to over a network: neither a Unix socket nor loopback.
fn remote_hosts(config: &postgres::Config) -> Vec<String> {
    let hosts = config.get_hosts();
    let addrs = config.get_hostaddrs();
    let count = hosts.len().max(addrs.len());
    (0..count)
        .filter_map(|i| {
            // The address, when given, is where the connection goes.
            if let Some(addr) = addrs.get(i) {
                return (!addr.is_loopback()).then(|| addr.to_string());
            }
            match hosts.get(i) {
                Some(Host::Tcp(name)) => {
                    let local = name.eq_ignore_ascii_case("localhost")
                        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
                    (!local).then(|| name.clone())
                }
                Some(Host::Unix(_)) | None => None,
            }
        })
        .collect()
}

/// A pooled connection and the statements prepared on it.
pub(crate) struct Connection {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// Opens the pool's connections (`r2d2`'s side of the pool).
#[derive(Debug)]
struct Manager {
    config: postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Connection, postgres::Error> {
        Ok(Connection { client: self.config.connect(NoTls)?, statements: HashMap::new() })
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.client.is_closed()
    }
}

/// Sends the pool's failures to connect to the server's log.
#[derive(Debug)]
struct LogErrors;

impl r2d2::HandleError<postgres::Error> for LogErrors {
    fn handle_error(&self, error: postgres::Error) {
        tracing::warn!(%error, "a PostgreSQL connection failed");
    }
}

pub struct PostgresBackend {
    /// `None` only while it is dropped (see `Drop`).
    pool: Option<r2d2::Pool<Manager>>,
    target: String,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend").field("target", &self.target).finish_non_exhaustive()
    }
}

impl PostgresBackend {
    /// Connects, brings the schema up to date, and keeps a pool of up to [`POOL_SIZE`] connections.
    /// Blocking: call it from outside the async runtime, or from `spawn_blocking`.
    pub fn open(url: &PostgresUrl) -> Result<PostgresBackend, StorageError> {
        PostgresBackend::open_with(url, POOL_SIZE)
    }

    /// [`open`](Self::open) with at most `pool_size` connections.
    pub fn open_with(url: &PostgresUrl, pool_size: u32) -> Result<PostgresBackend, StorageError> {
        let target = url.shown.clone();
        let mut client = url.config.connect(NoTls).map_err(|e| StorageError::Connect {
            target: target.clone(),
            detail: Described(e).to_string(),
        })?;
        schema::upgrade_to(&mut client, CURRENT_VERSION)?;
        drop(client);
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .error_handler(Box::new(LogErrors))
            .build_unchecked(Manager { config: url.config.clone() });
        Ok(PostgresBackend { pool: Some(pool), target })
    }

    /// `user@host:port/database`, without the password.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn connection(&self) -> Result<r2d2::PooledConnection<Manager>, StorageError> {
        connection_of(self.pool.as_ref())
    }
}

fn connection_of(
    pool: Option<&r2d2::Pool<Manager>>,
) -> Result<r2d2::PooledConnection<Manager>, StorageError> {
    let context = "taking a PostgreSQL connection from the pool";
    let pool = pool.ok_or_else(|| StorageError::Database { context, source: "the pool is closed".into() })?;
    pool.get().map_err(|e| StorageError::Database { context, source: Box::new(e) })
}

/// [`Backend::write`] with a connection of `pool`.
fn write_in<R, E>(
    pool: Option<&r2d2::Pool<Manager>>,
    work: impl FnOnce(&dyn Tx) -> Result<R, E>,
) -> Result<R, E>
where
    E: From<StorageError>,
{
    let mut conn = connection_of(pool)?;
    let Connection { client, statements } = &mut *conn;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .map_err(pg_error("starting a transaction"))?;
    let pg = PgTx::new(tx, statements, Mode::Write);
    let result = work(&pg);
    let tx = pg.into_transaction();
    match result {
        Ok(value) => {
            tx.commit().map_err(pg_error("committing a transaction"))?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback) = tx.rollback() {
                // The connection is gone with its transaction; the pool checks it before reuse.
                tracing::warn!(error = %rollback, "rolling back a PostgreSQL transaction failed");
            }
            Err(error)
        }
    }
}

impl Drop for PostgresBackend {
    /// Closing a connection of the synchronous client blocks on a runtime of its own, which panics on
    /// a thread that runs async tasks (where a server is dropped when it stops): the pool is dropped
    /// on a thread of its own.
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            let closing = std::thread::Builder::new().name("postgres-close".into()).spawn(move || drop(pool));
            if let Ok(closing) = closing {
                let _ = closing.join();
            }
        }
    }
}

impl Backend for PostgresBackend {
    fn write<R, E>(&self, work: impl FnOnce(&dyn Tx) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StorageError>,
    {
        write_in(self.pool.as_ref(), work)
    }

    /// Runs [`Backend::write`] on the blocking pool: PostgreSQL commits concurrent transactions
    /// together by itself.
    fn write_owned<R, E, W>(&self, work: W) -> impl Future<Output = Result<R, E>> + Send + 'static
    where
        W: FnOnce(&dyn Tx) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let pool = self.pool.clone();
        async move {
            tokio::task::spawn_blocking(move || write_in(pool.as_ref(), work)).await.unwrap_or_else(|e| {
                // A panic unwound through the transaction, which rolled back as it was dropped.
                let error = match e.try_into_panic() {
                    Ok(panic) => super::panicked(&*panic),
                    Err(e) => StorageError::Database { context: "running a write", source: Box::new(e) },
                };
                tracing::error!(%error, "a write failed on the blocking pool");
                Err(E::from(error))
            })
        }
    }

    fn read<R, E>(&self, work: impl FnOnce(&dyn Tx) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StorageError>,
    {
        let mut conn = self.connection()?;
        let Connection { client, statements } = &mut *conn;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(pg_error("starting a read"))?;
        let pg = PgTx::new(tx, statements, Mode::Read);
        let result = work(&pg);
        // Nothing was written: ending the transaction either way only releases the snapshot.
        if let Err(error) = pg.into_transaction().rollback() {
            tracing::warn!(%error, "ending a PostgreSQL read failed");
        }
        result
    }

    fn health(&self) -> Result<(), StorageError> {
        let mut conn = self.connection()?;
        conn.client.simple_query("SELECT 1").map_err(pg_error("checking the database"))?;
        Ok(())
    }

    fn calls_at_once(&self) -> usize {
        self.pool.as_ref().map_or(1, |pool| pool.max_size() as usize)
    }
}

/// The key of the advisory lock on an id of some kind (`"neighbourhood"`, `"device"`, `"person"`):
/// 64 bits of its SHA-256, computed here so that any id, whatever its bytes, has one. Two ids that
/// share a key only wait for each other.
fn lock_key(kind: &str, id: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(b"quartier\0")
        .chain_update(kind)
        .chain_update(b"\0")
        .chain_update(id)
        .finalize();
    let mut bytes = [0_u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_before_connecting_and_never_show_the_password() {
        let url = PostgresUrl::parse("postgres://quartier:hunter2@localhost:5433/hood").unwrap();
        assert_eq!(url.target(), "quartier@localhost:5433/hood");
        assert!(!format!("{url:?}").contains("hunter2"));
        for local in [
            "postgres://q@127.0.0.1/q",
            "postgresql://q@[::1]:5432/q",
            "postgres://q@%2Fvar%2Frun%2Fpostgresql/q",
            "postgres:///q?host=/tmp",
            "postgres:///q",
            "postgres://q@db.internal/q?sslmode=disable",
            "postgres://q@db.internal/q?hostaddr=127.0.0.1",
        ] {
            PostgresUrl::parse(local).unwrap_or_else(|e| panic!("{local}: {e}"));
        }
        let remote = PostgresUrl::parse("postgres://q:hunter2@db.example/q").unwrap_err().to_string();
        assert!(remote.contains("db.example") && remote.contains("sslmode=disable"), "{remote}");
        let remote = PostgresUrl::parse("postgres://q@localhost,10.0.0.5/q").unwrap_err().to_string();
        assert!(remote.contains("10.0.0.5") && !remote.contains("localhost"), "{remote}");
        let tls = PostgresUrl::parse("postgres://q@localhost/q?sslmode=require").unwrap_err().to_string();
        assert!(tls.contains("TLS"), "{tls}");
        let bad = PostgresUrl::parse("postgres://q:hunter2@localhost/q?colour=blue").unwrap_err().to_string();
        assert!(bad.contains("colour") && !bad.contains("hunter2"), "{bad}");
    }

    #[test]
    fn lock_keys_differ_by_kind_and_id() {
        assert_eq!(lock_key("device", "a"), lock_key("device", "a"));
        assert_ne!(lock_key("device", "a"), lock_key("person", "a"));
        assert_ne!(lock_key("device", "a"), lock_key("device", "b"));
        assert_ne!(lock_key("device", "ab"), lock_key("devicea", "b"));
    }
}
