//! Observing a query: run it now, and again after every commit that may change its answer.
//!
//! [`Store::watch`] is what the shells build live screens on (a Kotlin `Flow`, a Swift
//! `AsyncStream`): it calls `on_change` with the first result at once, then after each commit that
//! touched one of the watched kinds re-runs the query and calls `on_change` only if the result differs.
//! It rides on [`Store::subscribe`], which holds the watch weakly: dropping the [`Watch`] stops it.
//!
//! Threads: the query runs and `on_change` is called on the thread that committed (or, the first time,
//! the thread that called `watch`). One thread at a time runs a given watch, so results arrive in order
//! and each is newer than the one before; a commit made while it runs (on another thread, or by
//! `on_change` itself) makes that thread run the query once more instead of waiting for a lock. So
//! `on_change` should be quick: hand the value to a channel or a main-thread queue.
//!
//! Only commits through this `Store` are seen: what another process writes to the file is not.
//! To observe something new, write it as a query over `&Store` and name the kinds it reads.

use super::error::{Result, StoreError};
use super::{CommitListener, Store};
use crate::domain::EntityKind;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

type Query<T> = Box<dyn Fn(&Store) -> Result<T> + Send + Sync>;
type OnChange<T> = Box<dyn Fn(T) + Send + Sync>;
type OnError = Box<dyn Fn(StoreError) + Send + Sync>;

/// A running observation of a query. Dropping it (or calling [`Watch::stop`]) stops it: no
/// `on_change` starts after that.
pub struct Watch {
    // The only strong reference: the store holds the watcher weakly.
    _listener: Arc<dyn CommitListener>,
    stopped: Arc<AtomicBool>,
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch").field("stopped", &self.stopped.load(Ordering::SeqCst)).finish_non_exhaustive()
    }
}

impl Watch {
    /// Stops the watch (the same as dropping it).
    pub fn stop(self) {}
}

impl Drop for Watch {
    fn drop(&mut self) {
        // A commit running the query right now holds the watcher alive until it ends; this flag keeps
        // it from calling `on_change` once the owner has let go.
        self.stopped.store(true, Ordering::SeqCst);
    }
}

struct State<T> {
    /// The last result given to `on_change`.
    last: Option<T>,
    /// A thread is running the query; others only set `dirty` and leave.
    running: bool,
    /// A relevant commit came in since the query last started.
    dirty: bool,
}

struct Watcher<T> {
    store: Weak<Store>,
    kinds: BTreeSet<EntityKind>,
    query: Query<T>,
    on_change: OnChange<T>,
    on_error: Option<OnError>,
    state: Mutex<State<T>>,
    stopped: Arc<AtomicBool>,
}

impl Store {
    /// Observes a query: `on_change` gets its result now, then each new result after a commit that
    /// touched one of `kinds`. Errors of later runs are logged (`tracing::warn!`) and the watch goes
    /// on; an error of the first run is returned. The store must be in an `Arc` (the shells hold it so).
    pub fn watch<T, Q, C>(self: &Arc<Self>, kinds: &[EntityKind], query: Q, on_change: C) -> Result<Watch>
    where
        T: PartialEq + Clone + Send + 'static,
        Q: Fn(&Store) -> Result<T> + Send + Sync + 'static,
        C: Fn(T) + Send + Sync + 'static,
    {
        self.start_watch(kinds, Box::new(query), Box::new(on_change), None)
    }

    /// Like [`Store::watch`], with the errors of later runs given to `on_error` instead of logged.
    pub fn watch_with_errors<T, Q, C, E>(
        self: &Arc<Self>,
        kinds: &[EntityKind],
        query: Q,
        on_change: C,
        on_error: E,
    ) -> Result<Watch>
    where
        T: PartialEq + Clone + Send + 'static,
        Q: Fn(&Store) -> Result<T> + Send + Sync + 'static,
        C: Fn(T) + Send + Sync + 'static,
        E: Fn(StoreError) + Send + Sync + 'static,
    {
        self.start_watch(kinds, Box::new(query), Box::new(on_change), Some(Box::new(on_error)))
    }

    fn start_watch<T: PartialEq + Clone + Send + 'static>(
        self: &Arc<Self>,
        kinds: &[EntityKind],
        query: Query<T>,
        on_change: OnChange<T>,
        on_error: Option<OnError>,
    ) -> Result<Watch> {
        if kinds.is_empty() {
            return Err(StoreError::Invalid(
                "A watch needs at least one kind of entity whose changes re-run its query.".into(),
            ));
        }
        let stopped = Arc::new(AtomicBool::new(false));
        let watcher = Arc::new(Watcher {
            store: Arc::downgrade(self),
            kinds: kinds.iter().copied().collect(),
            query,
            on_change,
            on_error,
            // Running from the start: commits made before the first result is out only mark it dirty.
            state: Mutex::new(State { last: None, running: true, dirty: false }),
            stopped: Arc::clone(&stopped),
        });
        let listener: Arc<dyn CommitListener> = watcher.clone();
        // Subscribed before the first run, so that no commit falls between the two.
        self.subscribe(Arc::downgrade(&listener));
        let first = (watcher.query)(self)?;
        watcher.lock().last = Some(first.clone());
        (watcher.on_change)(first);
        watcher.run();
        Ok(Watch { _listener: listener, stopped })
    }
}

impl<T> Watcher<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The state is a few flags and the last value, each written in one step: a panic elsewhere
        // cannot leave it half-changed.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<T: PartialEq + Clone + Send + 'static> Watcher<T> {
    /// Re-runs the query while commits keep coming. Only the thread that set `running` gets here.
    fn run(&self) {
        let _running = Running(self);
        loop {
            {
                let mut state = self.lock();
                if !state.dirty || self.stopped.load(Ordering::SeqCst) {
                    state.running = false;
                    return;
                }
                state.dirty = false;
            }
            let Some(store) = self.store.upgrade() else {
                self.lock().running = false;
                return;
            };
            match (self.query)(&store) {
                Ok(value) => {
                    let changed = {
                        let mut state = self.lock();
                        let changed = state.last.as_ref() != Some(&value);
                        if changed {
                            state.last = Some(value.clone());
                        }
                        changed
                    };
                    // Called without the lock, so that `on_change` may write to the store.
                    if changed && !self.stopped.load(Ordering::SeqCst) {
                        (self.on_change)(value);
                    }
                }
                Err(error) => match &self.on_error {
                    Some(on_error) => on_error(error),
                    None => {
                        tracing::warn!(%error, "a watched query failed; it runs again at the next change")
                    }
                },
            }
        }
    }
}

impl<T: PartialEq + Clone + Send + 'static> CommitListener for Watcher<T> {
    fn committed(&self, kinds: &BTreeSet<EntityKind>) {
        if kinds.is_disjoint(&self.kinds) || self.stopped.load(Ordering::SeqCst) {
            return;
        }
        {
            let mut state = self.lock();
            state.dirty = true;
            if state.running {
                return; // the running thread will see `dirty` and run the query again
            }
            state.running = true;
        }
        self.run();
    }
}

/// Lets another thread take over if a query or `on_change` panics while this one runs.
struct Running<'a, T>(&'a Watcher<T>);

impl<T> Drop for Running<'_, T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().running = false;
        }
    }
}
