//! The device's store: the local SQLite database that holds a replica of each neighbourhood the person
//! belongs to, and the outbox of their mutations.
//!
//! Every user action goes through [`Store::mutate`]: in one immediate transaction the rules check it
//! against the local replica, its effects are written, and the mutation is appended to the outbox. Both
//! are saved or neither is; a refused mutation writes nothing and consumes no sequence number. The sync
//! client later pushes the outbox in order.
//!
//! Durability: the database runs in WAL mode. [`Durability::Full`] (the default) syncs the WAL to
//! storage at every commit, so a write the app was told is saved survives a crash of the app *and* a
//! power loss. [`Durability::Normal`] syncs only at checkpoints: it survives an app crash (and kill -9)
//! but a power loss may take back the last few commits; it is for bulk loads and benchmarks.
//!
//! What is deleted does not stay readable between live rows (`secure_delete = FAST`), and a
//! neighbourhood left is erased from the files, freed pages and log included ([`Store::forget`]); the
//! log is cut back to 8 MiB when a checkpoint starts it over.
//!
//! One connection serves everything, behind a mutex: SQLite serialises writers anyway, and the reads
//! the apps make take microseconds. Layout: `schema.rs` (migrations), `rows.rs` (entities ↔ rows and the
//! rules' view), `queries.rs` (the lists the apps show), `search.rs` (full text), `backlog.rs` (texts
//! waiting to be indexed for search), `inbox.rs` (what
//! concerns the person, and notifications), `observe.rs` (watching a query), `invitations.rs`,
//! `sync_state.rs` (the outbox, the confirmed state and the rebase; `overlay.rs`, the rebase's working
//! state; `large_pull.rs`, the indexes a large pull puts off), `error.rs`.

pub mod backlog;
pub mod error;
mod export;
pub mod inbox;
mod invitations;
mod large_pull;
pub mod observe;
mod overlay;
pub mod queries;
pub mod rows;
pub mod schema;
pub mod search;
mod sync_state;

pub use error::StoreError;
pub use inbox::{InboxEntry, InboxKind, NotifySettings};
pub use invitations::{NewInvitation, draw_code};
pub use observe::Watch;
pub use queries::{
    FavourFilter, FavourView, ItemFilter, ItemView, LoanFilter, LoanView, MemberView, MessageView,
    OrderFilter, OrderLineView, OrderView, Page, StallView,
};
pub use search::{SearchFilter, SearchHit, SearchOrder};
pub use sync_state::{AckReport, Rejected};

use crate::domain::{self, Effect, Entity, EntityKey, EntityKind, Hlc, HlcClock, Mutation, Op};
use error::Result;
use rows::SqlView;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// What SQLite does with what a write deletes: "FAST" overwrites it in the pages that stay, at no
/// extra I/O, so a deleted entity's text is not left readable between live rows; a page freed whole
/// keeps its old content until reused, except in [`Store::erasing`], which zeroes those too.
const SECURE_DELETE: &str = "FAST";
/// The log is cut back to this size (bytes) when a checkpoint starts it over: a large pull's commits
/// grow it to tens of megabytes, which it kept, with the old page images in them.
const JOURNAL_SIZE_LIMIT: i64 = 8 * 1024 * 1024;
/// Prepared statements kept per connection: more than the store has different queries.
const STATEMENT_CACHE: usize = 256;
/// SQLite's page cache, in KiB (its default is 2 MiB). Storing a pulled page touches pages all over
/// the replica's indexes; with the default, a replica of a few hundred thousand entities is read back
/// from the file again and again. Pages are only held once read, so a small store stays small.
const PAGE_CACHE_KIB: i64 = 32 * 1024;

/// The default of `StoreOptions::large_pull`: two pages of a pull.
const LARGE_PULL: u64 = 10_000;

/// How hard a commit tries to reach the storage; see the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    #[default]
    Full,
    Normal,
}

/// Who this device is and whom it acts for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The device's own id; its mutations are numbered per device.
    pub device_id: String,
    /// The person using it: their member id in every neighbourhood they join.
    pub person_id: String,
}

impl Identity {
    /// A new person on a new device.
    pub fn generate() -> Identity {
        Identity { device_id: new_id(), person_id: new_id() }
    }
}

/// A fresh id for a new thing: a UUIDv7 (time-ordered, so new rows land at the end of indexes).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// The current time in Unix milliseconds.
pub fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub durability: Durability,
    /// Open without writing anything (an app extension or widget reading the app's database).
    pub read_only: bool,
    /// The identity a new database is created with; a fresh one is drawn when `None`. Ignored when the
    /// database already has one.
    pub identity: Option<Identity>,
    /// The clock, in Unix milliseconds. Tests set their own.
    pub now: fn() -> i64,
    /// Called with the connection as soon as it is opened, before anything is read or written: for
    /// instrumentation and injected faults (the crash tests stop the process at SQLite's row and commit
    /// hooks). The apps leave it `None`.
    pub on_open: Option<fn(&mut Connection) -> rusqlite::Result<()>>,
    /// A pull with at least this many changes still to come, and at least as many as the replica has
    /// rows, builds some list indexes once at its end instead of row by row (`large_pull.rs`). Tests
    /// lower it to pull small neighbourhoods that way.
    pub large_pull: u64,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            durability: Durability::Full,
            read_only: false,
            identity: None,
            now: system_now_ms,
            on_open: None,
            large_pull: LARGE_PULL,
        }
    }
}

/// A mutation saved locally: it is in the outbox, and its effects are in the replica.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub mutation: Mutation,
    pub effects: Vec<Effect>,
}

/// Told after each commit which kinds of entity it changed. Observers of queries build on it.
pub trait CommitListener: Send + Sync {
    fn committed(&self, kinds: &BTreeSet<EntityKind>);
}

struct Inner {
    conn: Connection,
    clock: HlcClock,
}

pub struct Store {
    path: PathBuf,
    identity: Identity,
    now: fn() -> i64,
    large_pull: u64,
    inner: Mutex<Inner>,
    listeners: Mutex<Vec<std::sync::Weak<dyn CommitListener>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the database at `path`, upgrading its schema if it is older.
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let shown = path.display().to_string();
        Store::open_inner(&path, &options)
            .map_err(|e| if options.read_only { e } else { explain_open_failure(e, &path) })
            .map_err(|e| e.at_path(&shown))
    }

    fn open_inner(path: &Path, options: &StoreOptions) -> Result<Store> {
        let shown = path.display().to_string();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.is_dir() {
                return Err(StoreError::CannotOpen {
                    path: shown,
                    detail: format!("the folder {} does not exist", parent.display()),
                });
            }
        }
        let flags = if options.read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let mut conn = Connection::open_with_flags(path, flags)
            .map_err(|e| StoreError::CannotOpen { path: shown.clone(), detail: e.to_string() })?;
        // Every query is prepared once and kept (`prepare_cached`): rusqlite keeps 16 by default, fewer
        // than a pull uses (an upsert and full-text statements per kind, the confirmed state, the
        // cursor), and a statement pushed out is compiled again, which cost more than the write itself.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        if let Some(on_open) = options.on_open {
            on_open(&mut conn).map_err(StoreError::sqlite("preparing the connection"))?;
        }
        conn.busy_timeout(Duration::from_secs(5)).map_err(StoreError::sqlite("setting the busy timeout"))?;
        // Reading the schema version is the first thing that touches the file: garbage is caught here.
        let version = schema::version(&conn)?;
        if options.read_only {
            if version != schema::CURRENT_VERSION {
                return Err(StoreError::ReadOnly {
                    path: shown,
                    detail: format!(
                        "it is at schema version {version} and must be upgraded by the app first"
                    ),
                });
            }
        } else {
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(StoreError::sqlite("switching to WAL"))?;
            let sync = match options.durability {
                Durability::Full => "FULL",
                Durability::Normal => "NORMAL",
            };
            conn.pragma_update(None, "synchronous", sync)
                .map_err(StoreError::sqlite("setting durability"))?;
        }
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(StoreError::sqlite("enabling foreign keys"))?;
        // A statement whose plan may depend on a bound value (a `LIMIT ?`, an `= ?` no index serves)
        // is compiled again at its next run once its values are cleared, and rusqlite's cache clears
        // them each time it takes a statement back: searches and lists were compiled at every call
        // (a third of the time of a search that finds a few hundred things). With the planner's
        // stability guarantee a plan never depends on bound values, so a cached statement stays
        // compiled.
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(StoreError::sqlite("keeping query plans"))?;
        conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)
            .map_err(StoreError::sqlite("sizing the page cache"))?;
        conn.pragma_update(None, "temp_store", "MEMORY").map_err(StoreError::sqlite("setting temp_store"))?;
        conn.pragma_update(None, "secure_delete", SECURE_DELETE)
            .map_err(StoreError::sqlite("setting secure_delete"))?;
        conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)
            .map_err(StoreError::sqlite("setting journal_size_limit"))?;
        if !options.read_only {
            // Before any migration, which may change an index a pull cut short had put off. One that
            // cannot be built now (a full disk) leaves the store as usable, only slower to list from:
            // the next sync round tries again.
            if version > 0 {
                let built = conn
                    .transaction()
                    .map_err(StoreError::sqlite("building put-off indexes"))
                    .and_then(|tx| {
                        large_pull::build_deferred(&tx)?;
                        tx.commit().map_err(StoreError::sqlite("building put-off indexes"))
                    });
                if let Err(error) = built {
                    tracing::warn!(%error, "the list indexes a large pull put off could not be built; left for the next sync");
                }
            }
            schema::upgrade_to(&mut conn, schema::CURRENT_VERSION)?;
        }
        let identity = load_identity(&conn, options)?;
        let clock = HlcClock::resume(&identity.device_id, last_stamp(&conn)?);
        Ok(Store {
            path: path.to_path_buf(),
            identity,
            now: options.now,
            large_pull: options.large_pull,
            inner: Mutex::new(Inner { conn, clock }),
            listeners: Mutex::new(Vec::new()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The store's clock, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        (self.now)()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave SQLite half-written (the transaction rolls back on
        // drop), so a poisoned lock is safe to take over.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs a read against the database.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        f(&self.lock().conn)
    }

    /// Acts as this device's person in a neighbourhood: checks the rules, writes the effects and appends
    /// the mutation to the outbox, all in one transaction. A refusal writes nothing.
    pub fn mutate(&self, neighbourhood_id: &str, op: impl Into<Op>) -> Result<Applied> {
        let op = op.into();
        let now = self.now_ms();
        let applied = self.write_tx("saving a change", |w, clock| {
            let mutation = Mutation {
                neighbourhood_id: neighbourhood_id.to_owned(),
                author: self.identity.person_id.clone(),
                device_id: self.identity.device_id.clone(),
                seq: next_seq(w)?,
                hlc: clock.tick(u64::try_from(now).unwrap_or(0)),
                op,
            };
            let effects = domain::apply(&SqlView(w), &mutation, now).map_err(|e| match e {
                domain::ApplyError::Rejected(rejection) => StoreError::Rejected(rejection),
                domain::ApplyError::View(view) => view.into(),
            })?;
            sync_state::keep_confirmed(w, &effects)?;
            rows::write_effects(w, &effects)?;
            sync_state::append_to_outbox(w, &mutation, &effects, now)?;
            Ok(Applied { mutation, effects })
        })?;
        tracing::debug!(name = applied.mutation.op.name(), seq = applied.mutation.seq, "saved locally");
        self.notify(applied.effects.iter().map(|e| e.key().kind).collect());
        Ok(applied)
    }

    /// Writes effects straight into the replica, in one transaction, and tells the observers: for
    /// filling a replica with state that is confirmed already (tests and benchmarks seed replicas with
    /// it). Sync stores what it pulls with [`Store::apply_pulled`], which also keeps the confirmed
    /// copies of what this device changed; here an entity a pending mutation wrote is overwritten and
    /// its confirmed copy left as it was.
    pub fn write_effects(&self, effects: &[Effect]) -> Result<()> {
        self.write_tx("saving changes", |w, _| rows::write_effects(w, effects))?;
        self.notify(effects.iter().map(|e| e.key().kind).collect());
        Ok(())
    }

    /// Runs `write`, a transaction deleting what must not stay readable in the store's files (a
    /// neighbourhood left), with SQLite's `secure_delete` fully on: the pages it frees are zeroed too,
    /// not only what it takes out of the pages that stay ([`SECURE_DELETE`]). Then empties the log,
    /// which still holds pages as they were before; if another connection is reading it then, those
    /// stay until the log is written over (said in the log).
    fn erasing<T>(&self, write: impl FnOnce() -> Result<T>) -> Result<T> {
        let secure_delete = |value: &str| {
            self.lock()
                .conn
                .pragma_update(None, "secure_delete", value)
                .map_err(StoreError::sqlite("setting secure_delete"))
        };
        secure_delete("ON")?;
        let written = write();
        // Back to the everyday setting whether the write worked or not; its own error comes first.
        let restored = secure_delete(SECURE_DELETE);
        let value = written?;
        restored?;
        let checkpoint =
            self.lock().conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get::<_, bool>(0));
        match checkpoint {
            Ok(false) => {}
            Ok(true) => tracing::warn!(
                "the log could not be emptied (another connection reads it): what it held of the neighbourhood stays until written over"
            ),
            Err(error) => tracing::warn!(
                %error,
                "the log could not be emptied: what it held of the neighbourhood stays until written over"
            ),
        }
        Ok(value)
    }

    /// Runs `f` in one immediate transaction with the device's clock, and the search backlog folded in
    /// if it is due; commits on `Ok`, and keeps the clock's progress only then. Every write goes
    /// through here.
    fn write_tx<T>(
        &self,
        doing: &'static str,
        f: impl FnOnce(&rows::Writer<'_>, &mut HlcClock) -> Result<T>,
    ) -> Result<T> {
        let mut inner = self.lock();
        let Inner { conn, clock } = &mut *inner;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite(doing))?;
        let mut next_clock = clock.clone();
        let value = f(&rows::Writer::new(&tx), &mut next_clock)?;
        backlog::fold_if_due(&tx)?;
        tx.commit().map_err(StoreError::sqlite(doing))?;
        *clock = next_clock;
        Ok(value)
    }

    /// One entity, if the replica holds it.
    pub fn get(&self, key: &EntityKey) -> Result<Option<Entity>> {
        self.read(|conn| rows::get(conn, key))
    }

    /// The mutations not yet acknowledged by the server, oldest first.
    pub fn outbox(&self) -> Result<Vec<Mutation>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT mutation FROM outbox ORDER BY seq")
                .map_err(StoreError::sqlite("reading the outbox"))?;
            let rows = stmt
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(StoreError::sqlite("reading the outbox"))?;
            rows.map(|row| {
                let json = row.map_err(StoreError::sqlite("reading the outbox"))?;
                serde_json::from_str(&json).map_err(StoreError::data("outbox entry"))
            })
            .collect()
        })
    }

    /// How many mutations wait to be pushed.
    pub fn pending_count(&self) -> Result<u64> {
        self.read(|conn| {
            conn.prepare_cached("SELECT count(*) FROM outbox")
                .and_then(|mut stmt| stmt.query_row([], |row| row.get::<_, i64>(0)))
                .map(|n| u64::try_from(n).unwrap_or(0))
                .map_err(StoreError::sqlite("counting the outbox"))
        })
    }

    /// Asks to be told after each commit which kinds of entity changed. The store keeps only a weak
    /// reference: dropping the listener's last `Arc` unsubscribes it.
    pub fn subscribe(&self, listener: std::sync::Weak<dyn CommitListener>) {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner()).push(listener);
    }

    fn notify(&self, kinds: BTreeSet<EntityKind>) {
        if kinds.is_empty() {
            return;
        }
        // Listeners run without the store's lock (they re-run queries) and without the list's lock
        // (they may subscribe others).
        let live: Vec<_> = {
            let mut listeners = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
            listeners.retain(|l| l.strong_count() > 0);
            listeners.iter().filter_map(std::sync::Weak::upgrade).collect()
        };
        for listener in live {
            listener.committed(&kinds);
        }
    }
}

/// SQLite says only "unable to open database file" or "disk I/O error" when a database cannot be
/// written where it lies (a WAL database makes its `-wal` and `-shm` files beside it as it opens): asks
/// the file system whether the file or its folder refuses writing, or the storage is full, and says
/// so, for the person to know what to fix.
fn explain_open_failure(error: StoreError, path: &Path) -> StoreError {
    let unclear = match &error {
        StoreError::CannotOpen { .. } | StoreError::Io { .. } => true,
        StoreError::Sqlite { source, .. } => {
            source.sqlite_error_code() == Some(rusqlite::ErrorCode::CannotOpen)
        }
        _ => false,
    };
    if !unclear {
        return error;
    }
    let refused = |e: &std::io::Error| {
        matches!(e.kind(), std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied)
    };
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // Opening for appending writes nothing. The probe file in the folder takes the room of a few pages
    // (what opening needs) and is removed at once.
    if let Some(why) = std::fs::OpenOptions::new().append(true).open(path).err().filter(refused) {
        return StoreError::ReadOnly { path: String::new(), detail: why.to_string() };
    }
    let probe = folder.join(format!(".quartier-probe-{}", std::process::id()));
    let written = std::fs::File::create(&probe).and_then(|mut file| {
        use std::io::Write;
        file.write_all(&[0; 64 * 1024])?;
        file.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    match written {
        Err(why) if refused(&why) => StoreError::ReadOnly { path: String::new(), detail: why.to_string() },
        Err(why) if why.kind() == std::io::ErrorKind::StorageFull => {
            StoreError::DiskFull { context: "opening the database" }
        }
        _ => match error {
            StoreError::Sqlite { source, .. } => {
                StoreError::CannotOpen { path: String::new(), detail: source.to_string() }
            }
            StoreError::Io { detail, .. } => StoreError::CannotOpen { path: String::new(), detail },
            other => other,
        },
    }
}

fn meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?")
        .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
        .map_err(StoreError::sqlite("reading the device settings"))
}

fn load_identity(conn: &Connection, options: &StoreOptions) -> Result<Identity> {
    if let (Some(device_id), Some(person_id)) = (meta(conn, "device_id")?, meta(conn, "person_id")?) {
        return Ok(Identity { device_id, person_id });
    }
    if options.read_only {
        return Err(StoreError::ReadOnly { path: String::new(), detail: "it has no identity yet".into() });
    }
    let identity = options.identity.clone().unwrap_or_else(Identity::generate);
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('device_id', ?1), ('person_id', ?2)",
        params![identity.device_id, identity.person_id],
    )
    .map_err(StoreError::sqlite("saving the device identity"))?;
    Ok(identity)
}

/// The newest stamp this device has issued, so its clock never goes back after a restart.
fn last_stamp(conn: &Connection) -> Result<Hlc> {
    let outbox: Option<String> = conn
        .query_row("SELECT max(hlc) FROM outbox", [], |row| row.get(0))
        .map_err(StoreError::sqlite("reading the clock"))?;
    let saved = meta(conn, "clock")?;
    Ok([outbox, saved].into_iter().flatten().filter_map(|s| s.parse().ok()).max().unwrap_or(Hlc::ZERO))
}

/// The next sequence number: after every mutation in the outbox and every one already acknowledged.
pub(super) fn next_seq(conn: &Connection) -> Result<u64> {
    // Cached, as every statement of a local write: compiling SQL showed in the write's profile.
    let outbox: Option<i64> = conn
        .prepare_cached("SELECT max(seq) FROM outbox")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(StoreError::sqlite("numbering a change"))?;
    let acked = meta(conn, "last_acked_seq")?.and_then(|s| s.parse::<i64>().ok());
    let last = outbox.into_iter().chain(acked).max().unwrap_or(0);
    Ok(u64::try_from(last).unwrap_or(0) + 1)
}
