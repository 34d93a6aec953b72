//! The SQLite backend: one file, `quartier-server.db`, for hosts who run the server on one machine.
//!
//! One writer connection. Pushes ([`Backend::write_owned`]) go to a writer thread that owns its turns
//! and commits them in groups (`writer.rs`): the pushes queued at the time, up to 64, in one
//! transaction with a savepoint each and one sync of the WAL to disk, each answered once that commit
//! has returned. A push that fails or panics rolls back its savepoint only; a commit that fails is
//! answered to every push of its group. Under load the pushes that arrive during one commit's disk
//! sync make up the next group, so the writer is no longer bounded at one push per disk sync; a lone
//! push is not delayed. The other writes (registration, joining: [`Backend::write`]) take the same
//! connection through its mutex for a transaction of their own, between two groups.
//!
//! Writers of a neighbourhood are serialised, as [`Tx::lock_neighbourhood`] asks: SQLite has one
//! writer, the writes of a group run one after the other on the writer thread, each seeing what the
//! ones before it wrote, and commit together, so the versions of a neighbourhood commit in order and a
//! reader's snapshot has all of a group or none of it. Reads (authentication, pulls) take a connection
//! of their own from a pool of [`READERS`], kept open with their compiled statements, and see one
//! snapshot for their whole transaction; in WAL mode they never wait for the writer. The server runs
//! no more calls at once than that ([`Backend::calls_at_once`]), so the pool never runs dry.
//!
//! Durability: WAL with `synchronous=FULL`, so an answered push survives a power loss (it is answered
//! after its group's commit). The queries are in `tx.rs`, the schema in `schema.rs`, the writer
//! thread in `writer.rs`; connection settings are in `configure`.

mod schema;
mod tx;
mod writer;

use super::{Backend, StorageError, Tx};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::oneshot;
use tx::SqliteTx;
use writer::Job;

pub use schema::CURRENT_VERSION;

/// The name of the database file in the data folder.
pub const FILE_NAME: &str = "quartier-server.db";

/// How long a statement waits for a lock held by another process before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Prepared statements kept per connection: more than the server has different queries.
const STATEMENT_CACHE: usize = 256;

/// The largest the log stays after a checkpoint, in bytes (as on the device).
const JOURNAL_SIZE_LIMIT: i64 = 8 * 1024 * 1024;

/// Read connections kept open: as many reads run at once ([`Backend::calls_at_once`]). A read beyond
/// them (not through the server) opens a connection of its own and closes it after.
const READERS: usize = 8;

#[derive(Debug)]
pub struct SqliteBackend {
    path: PathBuf,
    /// The writer connection: the writer thread's for a group at a time, [`Backend::write`]'s for a
    /// transaction at a time.
    writer: Arc<Mutex<Connection>>,
    /// The writer thread's jobs; `None` only while the backend is dropped.
    jobs: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
    counts: Arc<writer::Counts>,
    readers: Mutex<Vec<Connection>>,
    /// Read connections opened since the backend was opened.
    readers_opened: AtomicUsize,
}

/// What the writer thread has committed since the backend was opened ([`SqliteBackend::group_commits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommits {
    /// Transactions committed by the writer thread, each with one sync of the WAL to disk.
    pub groups: u64,
    /// Writes committed in them (`writes / groups` is the mean group size).
    pub writes: u64,
}

/// Wraps a SQLite error with what the server was doing.
pub(crate) fn sqlite_error(context: &'static str) -> impl Fn(rusqlite::Error) -> StorageError {
    move |source| StorageError::Database { context, source: Box::new(source) }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while the lock was held rolled its transaction back (a dropped transaction rolls back),
    // so the connection is still good to use.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SqliteBackend {
    /// Opens (creating it if needed) the database file at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteBackend, StorageError> {
        let shown = path.display().to_string();
        let open_error = |source: rusqlite::Error| StorageError::Open {
            path: shown.clone(),
            detail: match source.sqlite_error_code() {
                Some(rusqlite::ErrorCode::CannotOpen) => String::from("unable to open or create the file"),
                _ => source.to_string(),
            },
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let mut writer = Connection::open_with_flags(path, flags).map_err(open_error)?;
        configure(&writer).map_err(open_error)?;
        // The journal mode is a property of the file: set once, by the writer.
        let mode: String =
            writer.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).map_err(open_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StorageError::Open {
                path: shown,
                detail: format!("the database cannot use write-ahead logging (journal mode {mode})"),
            });
        }
        schema::upgrade_to(&mut writer, schema::CURRENT_VERSION).map_err(|e| match e {
            StorageError::Database { source, .. } => {
                StorageError::Open { path: shown.clone(), detail: source.to_string() }
            }
            other => other,
        })?;
        let writer = Arc::new(Mutex::new(writer));
        let (jobs, queue) = mpsc::channel();
        let (connection, counts) = (Arc::clone(&writer), Arc::new(writer::Counts::default()));
        let counted = Arc::clone(&counts);
        let thread = std::thread::Builder::new()
            .name(String::from("sqlite-writer"))
            .spawn(move || writer::serve(&connection, &queue, &counted))
            .map_err(|e| StorageError::Open {
                path: shown.clone(),
                detail: format!("cannot start the writer thread ({e})"),
            })?;
        Ok(SqliteBackend {
            path: path.to_owned(),
            writer,
            jobs: Some(jobs),
            thread: Some(thread),
            counts,
            readers: Mutex::new(Vec::new()),
            readers_opened: AtomicUsize::new(0),
        })
    }

    /// What the writer thread has committed so far (the writes of [`Backend::write_owned`]).
    pub fn group_commits(&self) -> GroupCommits {
        GroupCommits {
            groups: self.counts.groups.load(Ordering::Relaxed),
            writes: self.counts.writes.load(Ordering::Relaxed),
        }
    }

    /// Hands `job` to the writer thread.
    fn submit(&self, job: Box<dyn Job>) -> Result<(), StorageError> {
        match &self.jobs {
            Some(jobs) if jobs.send(job).is_ok() => Ok(()),
            _ => Err(writer::lost()),
        }
    }

    /// Runs `work` on the writer connection in the writer thread's next group, as
    /// [`Backend::write_owned`] does with a [`Tx`] (tests inject faults with it).
    #[cfg(test)]
    fn write_raw<R, E, W>(&self, work: W) -> impl Future<Output = Result<R, E>> + Send + 'static
    where
        W: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let (job, answer) = writer::raw_job(work);
        answered(self.submit(job), answer)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn reader(&self) -> Result<Connection, StorageError> {
        if let Some(conn) = lock(&self.readers).pop() {
            return Ok(conn);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)
            .map_err(sqlite_error("opening a read connection"))?;
        configure(&conn).map_err(sqlite_error("opening a read connection"))?;
        self.readers_opened.fetch_add(1, Ordering::Relaxed);
        Ok(conn)
    }

    /// How many read connections the backend has opened: [`READERS`] at most when all reads go
    /// through the server, each kept for the next read.
    pub fn readers_opened(&self) -> usize {
        self.readers_opened.load(Ordering::Relaxed)
    }

    fn give_back(&self, conn: Connection) {
        let mut readers = lock(&self.readers);
        if readers.len() < READERS {
            readers.push(conn);
        }
    }
}

/// The answer of a job handed to the writer thread (`submitted`).
async fn answered<R, E: From<StorageError>>(
    submitted: Result<(), StorageError>,
    answer: oneshot::Receiver<Result<R, E>>,
) -> Result<R, E> {
    submitted?;
    answer.await.unwrap_or_else(|_| Err(E::from(writer::lost())))
}

impl Drop for SqliteBackend {
    /// Closes the writer thread's channel and waits for the group under way, so that the writer
    /// connection is closed when the backend is gone (a server restarted on the same file).
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            // A job dropped on the writer thread may hold the last reference to the backend.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // Every query is prepared once and kept (`prepare_cached`): rusqlite keeps 16 by default, fewer
    // than a push uses, and a statement pushed out is compiled again at its next use.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // And kept compiled: without the planner's stability guarantee, a statement whose plan may depend
    // on a bound value (a `LIMIT ?`, an `= ?` no index serves) is compiled again at each use, once the
    // cache has cleared its values (as the device's store says, `Store::open`).
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // What a write deletes or replaces is overwritten where it lay, in the pages it writes anyway (a
    // member who leaves: their content's bytes, not only its rows); the log is cut back after a
    // checkpoint instead of keeping its largest size, and old page images with it.
    conn.pragma_update(None, "secure_delete", "FAST")?;
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

impl Backend for SqliteBackend {
    fn write<R, E>(&self, work: impl FnOnce(&dyn Tx) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StorageError>,
    {
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_error("starting a transaction"))?;
        // On `Err` the transaction is dropped, which rolls it back.
        let result = work(&SqliteTx::new(&tx))?;
        tx.commit().map_err(sqlite_error("committing a transaction"))?;
        Ok(result)
    }

    fn write_owned<R, E, W>(&self, work: W) -> impl Future<Output = Result<R, E>> + Send + 'static
    where
        W: FnOnce(&dyn Tx) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let (job, answer) = writer::tx_job(work);
        answered(self.submit(job), answer)
    }

    fn read<R, E>(&self, work: impl FnOnce(&dyn Tx) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StorageError>,
    {
        let mut conn = self.reader()?;
        let result = {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Deferred)
                .map_err(sqlite_error("starting a read"))?;
            let result = work(&SqliteTx::new(&tx));
            // Nothing was written: ending the transaction either way only releases the snapshot.
            drop(tx);
            result
        };
        self.give_back(conn);
        result
    }

    fn health(&self) -> Result<(), StorageError> {
        let conn = self.reader()?;
        conn.query_row("SELECT count(*) FROM neighbourhoods", [], |row| row.get::<_, i64>(0))
            .map_err(sqlite_error("checking the database"))?;
        self.give_back(conn);
        Ok(())
    }

    fn calls_at_once(&self) -> usize {
        READERS
    }
}

#[cfg(test)]
mod tests {
    use super::SqliteBackend;

    /// A pull's page (`LIMIT ?`) is compiled once, not again at each use once the statement cache
    /// has cleared its values (see `configure`).
    #[test]
    fn cached_statements_are_not_compiled_again_at_each_use() {
        let dir = tempfile::tempdir().unwrap();
        let backend = SqliteBackend::open(&dir.path().join("cache.db")).unwrap();
        let conn = backend.reader().unwrap();
        let sql = "SELECT kind, id FROM entities WHERE neighbourhood_id = ?1 AND version > ?2 \
                   ORDER BY version, kind, id LIMIT ?3";
        for after in [0, 10, 0] {
            let mut stmt = conn.prepare_cached(sql).unwrap();
            assert_eq!(stmt.query_map(rusqlite::params!["n", after, 500], |_| Ok(())).unwrap().count(), 0);
        }
        let stmt = conn.prepare_cached(sql).unwrap();
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }
}
