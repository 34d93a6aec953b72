//! Observation: the [`Subscription`] every observer call returns, the generic [`ChangeObserver`] the
//! shells build their `Flow`s and `AsyncStream`s on, and the [`diagnostics`] that count what is alive.
//!
//! A shell observes a query the way Room and SQLDelight do: it asks to be told when one of the
//! [`Topic`]s the query reads changes (`observe_changes`), and re-runs the query on its own I/O
//! thread. One callback interface then serves every list (favours, loans, products, messages, the
//! inbox…), and the query runs off the committing thread. To observe a new query, name the topics it
//! reads in the shells; to add a topic, add it to [`Topic`] and map it to the core's kinds below.
//!
//! Every live observation is counted ([`diagnostics`]): a shell's tests assert that cancelling a
//! collector really unregisters it, and an app can log the count to find leaks.

use crate::error::{QuartierError, guard, shielded};
use crate::quartier::Quartier;
use quartier_core::domain::EntityKind;
use quartier_core::store::CommitListener;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

static LIVE_OBSERVATIONS: AtomicU64 = AtomicU64::new(0);
pub(crate) static RUNNING_CALLS: AtomicU64 = AtomicU64::new(0);

/// What is alive in the library now, for tests and leak hunting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Diagnostics {
    /// Observations started and not yet cancelled or released, over every open database.
    pub live_observations: u64,
    /// Async calls (sync rounds, register, join) under way on the library's threads.
    pub running_calls: u64,
}

/// Counts what is alive now (see [`Diagnostics`]).
#[uniffi::export]
pub fn diagnostics() -> Diagnostics {
    Diagnostics {
        live_observations: LIVE_OBSERVATIONS.load(Ordering::SeqCst),
        running_calls: RUNNING_CALLS.load(Ordering::SeqCst),
    }
}

/// Held for as long as an async call runs on the library's runtime (dropped too when it is aborted).
pub(crate) struct RunningCall;

impl RunningCall {
    pub(crate) fn start() -> RunningCall {
        RUNNING_CALLS.fetch_add(1, Ordering::SeqCst);
        RunningCall
    }
}

impl Drop for RunningCall {
    fn drop(&mut self) {
        RUNNING_CALLS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running observation. `cancel()` (or releasing it) stops it: no call starts after that.
#[derive(uniffi::Object)]
pub struct Subscription {
    // What keeps the observation alive (a core watch, a commit listener): dropping it stops it.
    keep: Mutex<Option<Box<dyn Send>>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("active", &self.is_active()).finish()
    }
}

impl Subscription {
    pub(crate) fn new(keep: Box<dyn Send>) -> Arc<Subscription> {
        LIVE_OBSERVATIONS.fetch_add(1, Ordering::SeqCst);
        Arc::new(Subscription { keep: Mutex::new(Some(keep)) })
    }

    fn stop(&self) {
        let kept = self.keep.lock().unwrap_or_else(|p| p.into_inner()).take();
        if kept.is_some() {
            LIVE_OBSERVATIONS.fetch_sub(1, Ordering::SeqCst);
        }
        drop(kept);
    }
}

#[uniffi::export]
impl Subscription {
    /// Stops the observation. Calling it again does nothing.
    pub fn cancel(&self) {
        self.stop();
    }

    pub fn is_active(&self) -> bool {
        self.keep.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a screen shows, as far as observing it goes: a change to any of these may change the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Topic {
    Neighbourhoods,
    Members,
    Invitations,
    Favours,
    Items,
    Loans,
    Stalls,
    Products,
    Orders,
    Messages,
    /// What the inbox reads: everything above, and the changes the server refused.
    Inbox,
}

impl Topic {
    fn kinds(self) -> Vec<EntityKind> {
        match self {
            Topic::Neighbourhoods => vec![EntityKind::Neighbourhood],
            Topic::Members => vec![EntityKind::Member],
            Topic::Invitations => vec![EntityKind::Invitation],
            Topic::Favours => vec![EntityKind::Favour],
            Topic::Items => vec![EntityKind::Item],
            Topic::Loans => vec![EntityKind::Loan],
            Topic::Stalls => vec![EntityKind::Stall],
            Topic::Products => vec![EntityKind::Product],
            Topic::Orders => vec![EntityKind::Order],
            Topic::Messages => vec![EntityKind::Message],
            Topic::Inbox => EntityKind::ALL.to_vec(),
        }
    }
}

/// Told that something it observes changed: re-run the query (on your own thread). Called on the
/// thread that committed the change, so only hand the signal over (a channel, a continuation).
#[uniffi::export(foreign)]
pub trait ChangeObserver: Send + Sync {
    fn on_change(&self) -> Result<(), QuartierError>;
}

/// Relays the store's commits that touch one of its kinds to the app's observer.
pub(crate) struct ChangeRelay {
    kinds: BTreeSet<EntityKind>,
    observer: Arc<dyn ChangeObserver>,
}

impl CommitListener for ChangeRelay {
    fn committed(&self, kinds: &BTreeSet<EntityKind>) {
        if !self.kinds.is_disjoint(kinds) {
            shielded("change observer", || self.observer.on_change());
        }
    }
}

impl ChangeRelay {
    /// Also told of what changes without an entity (a refused change dismissed): the inbox.
    pub(crate) fn poke(&self) {
        shielded("change observer", || self.observer.on_change());
    }
}

#[uniffi::export]
impl Quartier {
    /// Tells `observer` after every change to one of `topics` (in any neighbourhood of this device),
    /// until the subscription is cancelled or released. Nothing is called at once: run the query once
    /// yourself when you start. The shells' `Flow`s and `AsyncStream`s are built on it.
    pub fn observe_changes(
        &self,
        topics: Vec<Topic>,
        observer: Arc<dyn ChangeObserver>,
    ) -> Result<Arc<Subscription>, QuartierError> {
        guard(|| {
            if topics.is_empty() {
                return Err(QuartierError::invalid(
                    "Name at least one topic to observe (Favours, Loans, Inbox…): with none, nothing would ever be told.",
                ));
            }
            let kinds = topics.iter().flat_map(|t| t.kinds()).collect();
            let inbox = topics.contains(&Topic::Inbox);
            let relay = Arc::new(ChangeRelay { kinds, observer });
            let listener: Arc<dyn CommitListener> = relay.clone();
            self.store.subscribe(Arc::downgrade(&listener));
            if inbox {
                self.inbox_relays.lock().unwrap_or_else(|p| p.into_inner()).push(Arc::downgrade(&relay));
            }
            Ok(Subscription::new(Box::new((listener, relay))))
        })
    }
}

/// The inbox observers of one database, told of what changes the inbox without a commit of an entity.
pub(crate) type InboxRelays = Mutex<Vec<std::sync::Weak<ChangeRelay>>>;

pub(crate) fn poke_all(relays: &InboxRelays) {
    let live: Vec<_> = {
        let mut relays = relays.lock().unwrap_or_else(|p| p.into_inner());
        relays.retain(|r| r.strong_count() > 0);
        relays.iter().filter_map(std::sync::Weak::upgrade).collect()
    };
    for relay in live {
        relay.poke();
    }
}
