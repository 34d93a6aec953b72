//! Group commit: the writer thread, which owns the turns of the writer connection for the writes that
//! async code hands it ([`Backend::write_owned`](crate::storage::Backend::write_owned), the pushes).
//!
//! A write is a job on a channel. The thread takes the first job, begins a transaction, runs it in a
//! savepoint of its own, then the jobs queued behind it in theirs (up to [`MAX_GROUP`], only those
//! already waiting: a lone write is not delayed), and commits them all with one sync of the WAL to
//! disk. Under load, the writes that arrive during one commit's disk sync make up the next group.
//!
//! - A job whose work fails (returns `Err`, or panics: each job runs under `catch_unwind`) has its
//!   savepoint rolled back and is answered with its error; the other jobs of the group still commit.
//! - A job whose work succeeds is answered only after the group's `COMMIT` has returned, that is once
//!   its writes are durable (`synchronous=FULL`).
//! - If the commit fails, or SQLite rolls the whole transaction back under a job (some errors, a full
//!   disk for one, end the transaction and not only the statement), every job of the group that had
//!   succeeded is answered with that error: nothing of theirs was kept.
//!
//! The jobs of a group run one after the other on this thread, each seeing what the jobs before it
//! wrote; they commit together, so a reader's snapshot has all of a group or none of it, and the
//! versions of a neighbourhood still commit in order ([`Tx::lock_neighbourhood`]).
//!
//! The thread and the synchronous [`Backend::write`](crate::storage::Backend::write) (registrations,
//! joins) share the writer connection through its mutex; the thread holds it for a group at a time.
//! It stops when the backend is dropped (its channel closes), after the group under way.

use super::lock;
use super::tx::SqliteTx;
use crate::storage::{StorageError, Tx};
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use tokio::sync::oneshot;

/// The most jobs committed in one transaction. A group's jobs wait for the last of them before they
/// are answered; a push of one mutation takes ≈ 0.1–0.3 ms of the writer's time, so a full group adds
/// a few milliseconds to the commit's disk sync, which it shares.
pub(super) const MAX_GROUP: usize = 64;

/// The savepoint of each job (one at a time: jobs do not nest).
const SAVEPOINT: &str = "SAVEPOINT job";
const RELEASE: &str = "RELEASE job";
const ROLLBACK_TO: &str = "ROLLBACK TO job; RELEASE job";

/// A write handed to the writer thread.
pub(super) trait Job: Send {
    /// Runs the work on the writer connection, in the savepoint that the thread opened for it.
    fn run(self: Box<Self>, conn: &Connection) -> Ran;
    /// Answers the job with `error` without running it (the group could not start, or the transaction
    /// was gone before its turn).
    fn refuse(self: Box<Self>, error: StorageError);
}

/// Answers a job's caller, given the group's failure if its commit failed (`None`: committed).
type Answer = Box<dyn FnOnce(Option<&Failure>) + Send>;

/// What a job's work did.
pub(super) struct Ran {
    /// Whether its writes are kept (the work succeeded); if not, its savepoint is rolled back.
    kept: bool,
    /// Answers the caller: with the work's value once the group committed (`None`), with the group's
    /// failure (`Some`); a job that was not kept answers its own error whatever it is given.
    answer: Answer,
}

/// Why a group's writes were not kept, given to each of its callers.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    context: &'static str,
    error: Arc<dyn std::error::Error + Send + Sync>,
}

impl Failure {
    fn new(context: &'static str, error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Failure {
        Failure { context, error: Arc::from(error.into()) }
    }

    fn to_error(&self) -> StorageError {
        StorageError::Database { context: self.context, source: Box::new(Shared(Arc::clone(&self.error))) }
    }
}

/// One error, shown to each of the callers that it concerns.
#[derive(Debug)]
struct Shared(Arc<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Shared {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The error of a write whose answer never came (the writer thread stopped).
pub(super) fn lost() -> StorageError {
    StorageError::Database {
        context: "waiting for the writer thread",
        source: "the writer thread stopped before answering; the write may not have been kept".into(),
    }
}

/// A write of typed work: the work, and where to answer it.
struct Write<W, R, E> {
    work: W,
    reply: oneshot::Sender<Result<R, E>>,
}

impl<W, R, E> Job for Write<W, R, E>
where
    W: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
    R: Send + 'static,
    E: From<StorageError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> Ran {
        let Write { work, reply } = *self;
        match catch_unwind(AssertUnwindSafe(|| work(conn))) {
            Ok(Ok(value)) => Ran {
                kept: true,
                answer: Box::new(move |failure| {
                    let _ = reply.send(match failure {
                        None => Ok(value),
                        Some(failure) => Err(E::from(failure.to_error())),
                    });
                }),
            },
            Ok(Err(error)) => Ran {
                kept: false,
                answer: Box::new(move |_| {
                    let _ = reply.send(Err(error));
                }),
            },
            Err(panic) => {
                let error = super::super::panicked(&*panic);
                tracing::error!(%error, "a write panicked; it was rolled back and the writer goes on");
                Ran {
                    kept: false,
                    answer: Box::new(move |_| {
                        let _ = reply.send(Err(E::from(error)));
                    }),
                }
            }
        }
    }

    fn refuse(self: Box<Self>, error: StorageError) {
        let _ = self.reply.send(Err(E::from(error)));
    }
}

/// A job running `work` over a [`Tx`], and the receiver of its answer.
pub(super) fn tx_job<R, E, W>(work: W) -> (Box<dyn Job>, oneshot::Receiver<Result<R, E>>)
where
    W: FnOnce(&dyn Tx) -> Result<R, E> + Send + 'static,
    R: Send + 'static,
    E: From<StorageError> + Send + 'static,
{
    raw_job(move |conn: &Connection| work(&SqliteTx::new(conn)))
}

/// A job running `work` on the connection itself (tests inject faults with it).
pub(super) fn raw_job<R, E, W>(work: W) -> (Box<dyn Job>, oneshot::Receiver<Result<R, E>>)
where
    W: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
    R: Send + 'static,
    E: From<StorageError> + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    (Box::new(Write { work, reply }), answer)
}

/// What the writer thread has done since the backend was opened.
#[derive(Debug, Default)]
pub(super) struct Counts {
    /// Transactions committed (each one disk sync).
    pub(super) groups: AtomicU64,
    /// Writes committed in them.
    pub(super) writes: AtomicU64,
}

/// The writer thread's loop: a group per turn, until the channel closes.
pub(super) fn serve(conn: &Mutex<Connection>, jobs: &mpsc::Receiver<Box<dyn Job>>, counts: &Counts) {
    while let Ok(first) = jobs.recv() {
        let conn = lock(conn);
        group(&conn, first, jobs, counts);
    }
}

/// Runs `first` and the jobs queued behind it in one transaction, and answers them.
fn group(conn: &Connection, first: Box<dyn Job>, jobs: &mpsc::Receiver<Box<dyn Job>>, counts: &Counts) {
    // A transaction left open by a rollback that failed earlier.
    roll_back(conn);
    if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
        first.refuse(StorageError::Database { context: "starting a transaction", source: Box::new(error) });
        return;
    }
    // The answers of the jobs kept so far, given once the commit has returned.
    let mut kept: Vec<Answer> = Vec::new();
    let mut next = Some(first);
    let mut taken = 0;
    while let Some(job) = next.take() {
        taken += 1;
        if let Err(error) = conn.execute_batch(SAVEPOINT) {
            let failure = Failure::new("starting a write in a group", error);
            job.refuse(failure.to_error());
            return abandon(conn, kept, &failure);
        }
        // `run` catches the work's panics; this catches anything else (answering, dropping), which
        // leaves the job unanswered: its caller sees that the writer lost it.
        let ran = catch_unwind(AssertUnwindSafe(|| job.run(conn))).ok();
        match ran {
            Some(Ran { kept: true, answer }) => {
                if let Err(error) = conn.execute_batch(RELEASE) {
                    let failure = Failure::new("ending a write in a group", error);
                    answer(Some(&failure));
                    return abandon(conn, kept, &failure);
                }
                kept.push(answer);
            }
            not_kept => {
                // Some errors end the whole transaction, not only the statement: the writes of the jobs
                // before this one are gone with it.
                if conn.is_autocommit() {
                    if let Some(ran) = not_kept {
                        (ran.answer)(None);
                    }
                    let failure = Failure::new(
                        "committing a transaction",
                        "another write committed with this one failed, and SQLite rolled back the whole \
                         transaction; nothing of this write was kept",
                    );
                    return abandon(conn, kept, &failure);
                }
                let rolled_back = conn.execute_batch(ROLLBACK_TO);
                if let Some(ran) = not_kept {
                    (ran.answer)(None);
                }
                if let Err(error) = rolled_back {
                    return abandon(conn, kept, &Failure::new("rolling back a write in a group", error));
                }
            }
        }
        if taken < MAX_GROUP {
            next = jobs.try_recv().ok();
        }
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            // Counted before the answers, so that a caller answered sees its write counted.
            counts.groups.fetch_add(1, Ordering::Relaxed);
            counts.writes.fetch_add(kept.len() as u64, Ordering::Relaxed);
            for answer in kept {
                answer(None);
            }
        }
        Err(error) => abandon(conn, kept, &Failure::new("committing a transaction", error)),
    }
}

/// Rolls the group's transaction back (if SQLite has not) and answers its kept jobs with `failure`.
fn abandon(conn: &Connection, kept: Vec<Answer>, failure: &Failure) {
    roll_back(conn);
    tracing::error!(error = %failure.to_error(), writes = kept.len(), "a group of writes was not committed");
    for answer in kept {
        answer(Some(failure));
    }
}

/// Rolls back the transaction under way, if there is one.
fn roll_back(conn: &Connection) {
    if !conn.is_autocommit() {
        if let Err(error) = conn.execute_batch("ROLLBACK") {
            tracing::warn!(%error, "rolling back a group of writes failed");
        }
    }
}

#[cfg(test)]
mod tests {
    //! The group commit against a real database file. A test holds the writer connection's mutex
    //! while it hands over its jobs, so that they queue and the writer thread runs them as one group.

    use super::super::{SqliteBackend, lock};
    use crate::storage::{Backend, StorageError, Tx};
    use std::sync::Arc;

    fn open() -> (tempfile::TempDir, SqliteBackend) {
        let dir = tempfile::tempdir().unwrap();
        let backend = SqliteBackend::open(&dir.path().join("group.db")).unwrap();
        (dir, backend)
    }

    /// A write that sets the version of neighbourhood `nid` to 1.
    fn mark(nid: &'static str) -> impl FnOnce(&dyn Tx) -> Result<(), StorageError> + Send + 'static {
        move |tx| tx.set_neighbourhood_version(nid, 1)
    }

    fn marked(backend: &SqliteBackend, nid: &str) -> bool {
        backend.read(|tx| tx.neighbourhood_version(nid)).unwrap().is_some()
    }

    fn message(error: &StorageError) -> String {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        text
    }

    #[tokio::test]
    async fn a_failing_or_panicking_write_loses_only_its_own_changes() {
        let (_dir, backend) = open();
        let held = lock(&backend.writer);
        let a = backend.write_owned(mark("a"));
        let b = backend.write_owned(|tx| {
            tx.set_neighbourhood_version("b", 1)?;
            Err::<(), _>(StorageError::Data { what: "test", detail: String::from("refused on purpose") })
        });
        let c = backend.write_owned(|tx| -> Result<(), StorageError> {
            tx.set_neighbourhood_version("c", 1)?;
            panic!("a bug in the middle of a write");
        });
        // A statement that fails (an id that is not text) only fails its write.
        let d = backend.write_raw(|conn| {
            conn.execute("INSERT INTO neighbourhoods (neighbourhood_id, version) VALUES ('d', 1)", [])
                .map_err(super::super::sqlite_error("test"))?;
            conn.execute("INSERT INTO neighbourhoods (neighbourhood_id, version) VALUES ('a', 2)", [])
                .map_err(super::super::sqlite_error("inserting twice"))?;
            Ok::<_, StorageError>(())
        });
        let e = backend.write_owned(mark("e"));
        drop(held);

        a.await.unwrap();
        let b = b.await.unwrap_err();
        assert!(message(&b).contains("refused on purpose"), "{b}");
        let c = c.await.unwrap_err();
        assert!(message(&c).contains("a bug in the middle of a write"), "{}", message(&c));
        let d = d.await.unwrap_err();
        assert!(message(&d).contains("inserting twice"), "{}", message(&d));
        e.await.unwrap();

        assert_eq!(backend.group_commits().groups, 1, "one transaction for the five writes");
        assert_eq!(backend.group_commits().writes, 2, "the two that succeeded");
        assert!(marked(&backend, "a") && marked(&backend, "e"), "the writes that succeeded are kept");
        for lost in ["b", "c", "d"] {
            assert!(!marked(&backend, lost), "the failed write {lost} left nothing");
        }
        assert_eq!(backend.read(|tx| tx.neighbourhood_version("a")).unwrap(), Some(1));
        // The writer thread goes on after a panic.
        backend.write_owned(mark("f")).await.unwrap();
        assert!(marked(&backend, "f"));
    }

    #[tokio::test]
    async fn a_commit_that_fails_fails_every_write_of_its_group() {
        let (_dir, backend) = open();
        let held = lock(&backend.writer);
        let a = backend.write_owned(mark("a"));
        // A deferred foreign key broken: the write itself succeeds, the COMMIT fails.
        let b = backend.write_raw(|conn| {
            conn.execute_batch(
                "CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY);
                 CREATE TEMP TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
                 INSERT INTO child VALUES (1);",
            )
            .map_err(super::super::sqlite_error("breaking a foreign key"))
        });
        let c = backend.write_owned(mark("c"));
        drop(held);

        for (name, answer) in [("a", a.await), ("b", b.await), ("c", c.await)] {
            let error = answer.expect_err(name);
            let text = message(&error);
            assert!(
                text.contains("committing a transaction") && text.contains("FOREIGN KEY"),
                "{name}: {text}"
            );
        }
        assert!(!marked(&backend, "a") && !marked(&backend, "c"), "nothing of the group was kept");
        assert_eq!(backend.group_commits().groups, 0);
        // The writer thread goes on, with a transaction of its own.
        backend.write_owned(mark("d")).await.unwrap();
        assert!(marked(&backend, "d"));
        assert_eq!(backend.group_commits().groups, 1);
    }

    #[tokio::test]
    async fn a_transaction_that_sqlite_rolled_back_fails_the_writes_before_it_only() {
        let (_dir, backend) = open();
        let held = lock(&backend.writer);
        let a = backend.write_owned(mark("a"));
        // What a full disk does: SQLite ends the whole transaction, not only the statement.
        let b = backend.write_raw(|conn| {
            conn.execute_batch("ROLLBACK").map_err(super::super::sqlite_error("rolling back"))?;
            Err::<(), _>(StorageError::Data { what: "test", detail: String::from("the disk is full") })
        });
        let c = backend.write_owned(mark("c"));
        drop(held);

        let a = a.await.unwrap_err();
        assert!(message(&a).contains("rolled back the whole transaction"), "{}", message(&a));
        assert!(message(&b.await.unwrap_err()).contains("the disk is full"));
        // The write after it starts the next group.
        c.await.unwrap();
        assert!(!marked(&backend, "a") && marked(&backend, "c"));
    }

    #[tokio::test]
    async fn a_write_that_succeeds_after_its_transaction_ended_is_not_answered_as_kept() {
        let (_dir, backend) = open();
        let held = lock(&backend.writer);
        let a = backend.write_owned(mark("a"));
        let b = backend.write_raw(|conn| {
            conn.execute_batch("ROLLBACK").map_err(super::super::sqlite_error("rolling back"))
        });
        drop(held);
        assert!(a.await.is_err() && b.await.is_err());
        assert!(!marked(&backend, "a"));
        backend.write_owned(mark("c")).await.unwrap();
        assert!(marked(&backend, "c"));
    }

    /// Writes from many tasks at once: each is applied once, in groups, and each is answered only
    /// once it is committed (a new connection of another reader sees it).
    #[test]
    fn concurrent_writes_are_each_committed_once_in_groups() {
        const TASKS: usize = 16;
        const EACH: usize = 50;
        let (_dir, backend) = open();
        let backend = Arc::new(backend);
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).build().unwrap();
        runtime.block_on(async {
            let mut tasks = Vec::new();
            for t in 0..TASKS {
                let backend = Arc::clone(&backend);
                tasks.push(tokio::spawn(async move {
                    for i in 0..EACH {
                        let nid = format!("n{t}-{i}");
                        let written = nid.clone();
                        backend
                            .write_owned(move |tx| {
                                // Counted once per write: the shared counter of all tasks.
                                let total = tx.lock_neighbourhood("total")?.unwrap_or(0);
                                tx.set_neighbourhood_version("total", total + 1)?;
                                tx.set_neighbourhood_version(&written, 1)
                            })
                            .await
                            .unwrap();
                        let seen = rusqlite::Connection::open(backend.path())
                            .unwrap()
                            .query_row(
                                "SELECT count(*) FROM neighbourhoods WHERE neighbourhood_id = ?",
                                [&nid],
                                |row| row.get::<_, i64>(0),
                            )
                            .unwrap();
                        assert_eq!(seen, 1, "{nid} is committed when it is answered");
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
        });
        let total = (TASKS * EACH) as u64;
        assert_eq!(backend.read(|tx| tx.neighbourhood_version("total")).unwrap(), Some(total));
        let commits = backend.group_commits();
        assert_eq!(commits.writes, total);
        assert!(commits.groups < total, "some writes shared a commit: {commits:?}");
    }
}
