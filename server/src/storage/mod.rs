//! Storage: the server's database, behind two small traits so that the sync logic never knows which
//! database it runs on.
//!
//! A [`Backend`] runs transactions; a [`Tx`] is one transaction with the primitive operations the sync
//! logic is made of (lock a neighbourhood and read its version, get/put/delete an entity at a version,
//! the rules' queries, devices, outcomes, invitation codes). The logic in `sync/` is generic over the
//! backend, so a second backend changes nothing there. Which fields of an entity the queries filter on,
//! and who may read it, is decided once for every backend in [`index`].
//!
//! Two backends: SQLite (`sqlite/`), one file for hosts who run the server on one machine, and
//! PostgreSQL (`postgres/`), for hosts who run several stateless server processes over one database.
//! Both keep the same tables, every per-neighbourhood table keyed by `neighbourhood_id` first (so that
//! Citus can shard by it), and pass the same test suite (`tests/server/`). [`AnyBackend`] is either
//! one, chosen at start-up from the command line.
//!
//! What a backend must give, beyond the SQL: writers of one neighbourhood serialised from
//! [`Tx::lock_neighbourhood`] to commit, so that its versions commit in order; a read transaction
//! that is one snapshot; and lists in byte order of their text keys (Rust's `String` order). To add a
//! backend: a module with a pool, the tables, [`Backend`] and [`Tx`], a variant of [`AnyBackend`], and
//! a variant of the tests' `Db`.

mod any;
pub mod index;
pub mod postgres;
pub mod sqlite;

pub use any::AnyBackend;

use quartier_core::domain::{Entity, EntityKey, EntityKind, Favour, Loan, Order};
use quartier_core::sync::protocol::{Outcome, StoredChange};
use std::future::Future;

/// The database failed, or holds something the server cannot read.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database file cannot be opened or created.
    #[error(
        "the database file {path} cannot be opened ({detail}); check that its folder exists and is writable by this user"
    )]
    Open { path: String, detail: String },

    /// A database URL that cannot be used as it is (the sentence says why and what to do).
    #[error("{0}")]
    Url(String),

    /// The PostgreSQL server cannot be reached, or refuses the connection. `target` never shows a
    /// password.
    #[error(
        "cannot connect to PostgreSQL at {target} ({detail}); check that the server is running and that the URL (host, port, user, password, database) is right"
    )]
    Connect { target: String, detail: String },

    /// The database was written by a newer server.
    #[error(
        "the database has schema version {found} but this quartier-server knows versions up to {supported}; run a newer quartier-server"
    )]
    NewerSchema { found: u32, supported: u32 },

    /// Any failure of the database while doing something.
    #[error("the database failed while {context}: {source}")]
    Database {
        context: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A stored row could not be read back.
    #[error("a stored {what} could not be read ({detail}); the database may have been edited by hand")]
    Data { what: &'static str, detail: String },
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A registered device, as its token identifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub device_id: String,
    /// The person it acts for: their member id in every neighbourhood.
    pub person_id: String,
    /// For a device added with a link code that has not called yet: the time (Unix ms) by which its
    /// first call must come (`sync/devices.rs`).
    pub claim_by: Option<i64>,
    /// When another device of its person took it off the account (Unix ms).
    pub removed_at: Option<i64>,
}

/// A device of a person's account, as the person's devices list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountDevice {
    pub device_id: String,
    /// When it was registered or added (Unix ms).
    pub created_at: i64,
    /// For a device added with a link code that has not called yet, its deadline (Unix ms).
    pub claim_by: Option<i64>,
}

/// A device to register. `token_hash` is the SHA-256 of its token, in hex: the token itself is never
/// stored.
#[derive(Clone, PartialEq, Eq)]
pub struct NewDevice<'a> {
    pub device_id: &'a str,
    pub person_id: &'a str,
    pub token_hash: &'a str,
    pub created_at: i64,
    /// See [`Device::claim_by`].
    pub claim_by: Option<i64>,
}

impl std::fmt::Debug for NewDevice<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewDevice")
            .field("device_id", &self.device_id)
            .field("person_id", &self.person_id)
            .field("token_hash", &"<hash>")
            .field("created_at", &self.created_at)
            .field("claim_by", &self.claim_by)
            .finish()
    }
}

/// Where a stored invitation code leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvitationRef {
    pub neighbourhood_id: String,
    pub invitation_id: String,
}

/// Runs transactions on the server's database.
pub trait Backend: Send + Sync + 'static {
    /// Runs `work` in a transaction that may write: committed if `work` returns `Ok`, rolled back if it
    /// returns `Err`. Blocking: call it from `spawn_blocking`.
    fn write<R, E>(&self, work: impl FnOnce(&dyn Tx) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StorageError>;

    /// Runs `work` in a transaction that may write, like [`Backend::write`], from async code: the
    /// future answers once the transaction is committed (durably) or rolled back, and holds no thread
    /// while it waits. `work` owns what it uses, so that the backend may run it on a thread of its own.
    ///
    /// SQLite runs it on its writer thread, in one transaction with the other writes queued at the
    /// time (group commit: one disk sync for all), in a savepoint of its own: if `work` fails or
    /// panics, only its writes are rolled back and it is answered with its error (a panic as a
    /// [`StorageError`]); if the shared commit fails, every write of the group is answered with that
    /// failure. To `work` the group is invisible: it sees what the writes before it in the group
    /// wrote, as if they had committed just before it, and its own writes are kept or lost whole.
    /// PostgreSQL runs it as [`Backend::write`] on the blocking pool.
    fn write_owned<R, E, W>(&self, work: W) -> impl Future<Output = Result<R, E>> + Send + 'static
    where
        W: FnOnce(&dyn Tx) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StorageError> + Send + 'static;

    /// Runs `work` in a read-only transaction: everything it reads is one consistent snapshot, and
    /// writes fail. Blocking: call it from `spawn_blocking`.
    fn read<R, E>(&self, work: impl FnOnce(&dyn Tx) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StorageError>;

    /// Checks that the database answers (for `/health`).
    fn health(&self) -> Result<()>;

    /// How many blocking calls ([`Backend::read`], [`Backend::write`]) the server runs at once: one
    /// for each connection the backend keeps. The server's other calls wait their turn without holding
    /// a thread; more at once would only open connections to close again, or wait for one.
    fn calls_at_once(&self) -> usize;
}

/// One transaction, with the primitives the sync logic is made of.
///
/// Entity reads see live entities only: a tombstone (an entity deleted at some version, kept so that
/// pulls propagate the deletion) is invisible to [`Tx::get`] and to the rules' queries. Lists come in
/// id order, like the reference `MemoryState`, so that the rules produce the same effects everywhere.
pub trait Tx {
    // Devices.

    /// Whether a device with this id is registered. In a write transaction the answer holds until
    /// the transaction ends (the id is locked), so that checking and then inserting does not race.
    fn device_exists(&self, device_id: &str) -> Result<bool>;
    /// Whether any device acts for this person; in a write transaction, locked like `device_exists`.
    fn person_exists(&self, person_id: &str) -> Result<bool>;
    fn insert_device(&self, device: &NewDevice<'_>) -> Result<()>;
    fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>>;
    /// The device has made its first call: it no longer has a deadline for it.
    fn claim_device(&self, device_id: &str) -> Result<()>;
    /// The devices of a person's account that were not taken off it, oldest first. In a write, the
    /// person is locked until the transaction ends (two devices taking each other off at once).
    fn person_devices(&self, person_id: &str) -> Result<Vec<AccountDevice>>;
    /// Takes a device off its person's account at `at` (Unix ms): its token is refused from then on.
    fn remove_device(&self, device_id: &str, at: i64) -> Result<()>;
    /// The last sequence number answered for a device, its row locked until the transaction ends so
    /// that two pushes of one device are answered one after the other. `None` if there is no device.
    fn lock_device(&self, device_id: &str) -> Result<Option<u64>>;
    fn set_last_seq(&self, device_id: &str, seq: u64) -> Result<()>;
    /// The last sequence number answered for a device, without a lock (for a pull, in its snapshot).
    /// `None` if there is no device.
    fn last_seq(&self, device_id: &str) -> Result<Option<u64>>;
    /// Remembers the answer to a device's mutation, to give it again if the mutation comes again, with
    /// the mutation's clock stamp (`hlc`, as text) to know it again, and the time (Unix ms).
    fn record_outcome(
        &self,
        device_id: &str,
        seq: u64,
        neighbourhood_id: &str,
        outcome: &Outcome,
        hlc: &str,
        answered_at: i64,
    ) -> Result<()>;
    /// Forgets the answers to the device's mutations numbered up to `up_to` that were recorded before
    /// `answered_before` (Unix ms; those recorded before times were kept go too). Returns how many.
    /// Answers are recorded in number order, so when the oldest of them is not old enough none is:
    /// then nothing is read but that one (a push says it every time, and a device back from a week
    /// offline has thousands of answers younger than a day).
    fn forget_outcomes(&self, device_id: &str, up_to: u64, answered_before: i64) -> Result<u64>;
    fn outcome(&self, device_id: &str, seq: u64) -> Result<Option<Outcome>>;
    /// The clock stamp of the mutation answered under this number; `None` if there is none, or if the
    /// outcome was recorded before stamps were kept.
    fn outcome_stamp(&self, device_id: &str, seq: u64) -> Result<Option<String>>;

    // Neighbourhoods and their change counter.

    /// The neighbourhood's current version, with the neighbourhood locked until the transaction ends:
    /// writers of one neighbourhood are serialised, so its versions commit in order and a pull cursor
    /// never skips a change that commits late. `None` for a neighbourhood that does not exist yet (which
    /// must be locked all the same, so that two creations of one id do not race).
    fn lock_neighbourhood(&self, neighbourhood_id: &str) -> Result<Option<u64>>;
    /// The neighbourhood's current version, without a lock; `None` if it does not exist.
    fn neighbourhood_version(&self, neighbourhood_id: &str) -> Result<Option<u64>>;
    /// Sets the neighbourhood's version, creating the neighbourhood if needed.
    fn set_neighbourhood_version(&self, neighbourhood_id: &str, version: u64) -> Result<()>;

    // Entities.

    /// The live entity with this key.
    fn get(&self, key: &EntityKey) -> Result<Option<Entity>>;
    /// Writes an entity (insert or replace, bringing a tombstone back to life) at `version`, with the
    /// columns of [`index::index_of`].
    fn put(&self, entity: &Entity, version: u64) -> Result<()>;
    /// Turns a live entity into a tombstone at `version`; nothing if there is no live entity.
    fn delete(&self, key: &EntityKey, version: u64) -> Result<()>;
    /// The first `limit` changes after version `after` that `reader` may read, in version order, each
    /// entity as its stored JSON (see [`stored_change`]).
    fn changes_after(
        &self,
        neighbourhood_id: &str,
        after: u64,
        reader: &str,
        limit: u32,
    ) -> Result<Vec<StoredChange>>;
    /// Every change at exactly `version` that `reader` may read.
    fn changes_at(&self, neighbourhood_id: &str, version: u64, reader: &str) -> Result<Vec<StoredChange>>;
    /// Whether there is a change after version `after` that `reader` may read.
    fn has_changes_after(&self, neighbourhood_id: &str, after: u64, reader: &str) -> Result<bool>;

    // The rules' queries (see `quartier_core::domain::StateView`).

    fn open_loans_of_item(&self, neighbourhood_id: &str, item_id: &str) -> Result<Vec<Loan>>;
    fn open_orders_of_stall(&self, neighbourhood_id: &str, stall_id: &str) -> Result<Vec<Order>>;
    fn favours_taken_up_by(&self, neighbourhood_id: &str, member_id: &str) -> Result<Vec<Favour>>;
    /// Sorted like `EntityKey`s sort.
    fn keys_of_member(&self, neighbourhood_id: &str, member_id: &str) -> Result<Vec<EntityKey>>;

    // Invitation codes: how `/v1/join` finds an invitation from the code a newcomer types.

    /// Files an invitation under the hash of its code. If another invitation has the same hash (two
    /// invitations made with one code), the first one keeps it.
    fn index_invitation_code(
        &self,
        code_hash: &str,
        neighbourhood_id: &str,
        invitation_id: &str,
    ) -> Result<()>;
    /// Forgets the code of a deleted invitation.
    fn unindex_invitation(&self, neighbourhood_id: &str, invitation_id: &str) -> Result<()>;
    fn invitation_by_code_hash(&self, code_hash: &str) -> Result<Option<InvitationRef>>;
}

/// A change as both back ends read its row: `data` is the entity's JSON as [`Tx::put`] stored it, or
/// none for a deletion. The JSON is checked to be JSON but not read into an [`Entity`]: a pull page
/// sends it on as it is, which spared the server reading and writing again every entity it sends.
pub(crate) fn stored_change(
    neighbourhood_id: String,
    version: u64,
    kind: &str,
    id: String,
    data: Option<String>,
) -> Result<StoredChange> {
    Ok(match data {
        Some(data) => StoredChange::Put {
            version,
            entity: serde_json::value::RawValue::from_string(data).map_err(bad_entity)?,
        },
        None => {
            StoredChange::Delete { version, key: EntityKey { neighbourhood_id, kind: kind_of(kind)?, id } }
        }
    })
}

/// The error of a write whose work panicked, on either back end (its writes were rolled back).
pub(crate) fn panicked(panic: &(dyn std::any::Any + Send)) -> StorageError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| String::from("a panic without a message"));
    StorageError::Database {
        context: "running a write",
        source: format!("the write panicked ({message}); its changes were rolled back").into(),
    }
}

/// Reads an entity's stored JSON (both back ends).
pub(crate) fn parse(data: &str) -> Result<Entity> {
    serde_json::from_str(data).map_err(bad_entity)
}

/// An entity's JSON as both back ends store it (and [`parse`] reads it).
pub(crate) fn to_json(entity: &Entity) -> Result<String> {
    serde_json::to_string(entity).map_err(bad_entity)
}

fn bad_entity(error: serde_json::Error) -> StorageError {
    StorageError::Data { what: "entity", detail: error.to_string() }
}

/// Reads a stored kind's name (both back ends).
pub(crate) fn kind_of(kind: &str) -> Result<EntityKind> {
    EntityKind::parse(kind)
        .ok_or_else(|| StorageError::Data { what: "entity kind", detail: format!("unknown kind {kind:?}") })
}
