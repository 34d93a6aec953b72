//! The one public error, and the one place where the core's errors and panics become it.
//!
//! Each variant exists because a caller can act differently on it: show a refusal to the person,
//! fix an argument, refresh a screen, tell the person the phone's storage is in trouble, retry later,
//! register the device, or report a bug. The message is always a sentence a person can act on.

use quartier_core::store::StoreError;
use quartier_core::sync::SyncError;
use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Why a call failed. Kotlin: `QuartierException.Refused(code, reason)` and so on; Swift:
/// `QuartierError.Refused(code:reason:)`; a storage problem is `QuartierException.Storage(problem, reason)`
/// and `QuartierError.Storage(problem:reason:)`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum QuartierError {
    /// The neighbourhood's rules refused the action; nothing was saved. `code` is stable and
    /// machine-readable (`invalid`, `overlap`, `forbidden`, `insufficient_stock`, …), `reason` is a
    /// sentence for the person.
    #[error("{reason}")]
    Refused { code: String, reason: String },
    /// An argument the core cannot use (a malformed day, a page too large, a bad server address).
    #[error("{reason}")]
    Invalid { reason: String },
    /// The thing asked for does not exist on this device.
    #[error("{reason}")]
    NotFound { reason: String },
    /// The local database or the secret store cannot be used; `problem` says which way, so that the
    /// app can offer the right way out (free space, close another program, restore a backup…).
    #[error("{reason}")]
    Storage { problem: StorageProblem, reason: String },
    /// The server cannot be reached or is busy: the changes are kept and sent later.
    #[error("{reason}")]
    Network { reason: String },
    /// The device has no valid registration with the server: register it (again).
    #[error("{reason}")]
    NotRegistered { reason: String },
    /// A bug: something that should never happen did (a panic, an answer not understood).
    #[error("{reason}")]
    Internal { reason: String },
}

/// What is wrong with the device's storage, in [`QuartierError::Storage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum StorageProblem {
    /// The storage is full: free some space and try again. Nothing was saved.
    Full,
    /// The database file or its folder cannot be written (read-only storage, permissions).
    ReadOnly,
    /// Another program holds the database locked: close it and try again.
    Locked,
    /// The database file is damaged or is not a Quartier database: restore a backup or start afresh.
    Damaged,
    /// The database file cannot be opened at all (a missing folder, permissions).
    CannotOpen,
    /// The storage failed to read or write (a failing card, storage removed).
    Failing,
    /// The database was written by a newer version of Quartier: update the app.
    NewerVersion,
    /// The secret store (Keychain, Keystore, the secrets file) failed.
    Secrets,
    /// Anything else the database reported.
    Other,
}

impl QuartierError {
    pub(crate) fn storage(problem: StorageProblem, reason: impl Into<String>) -> QuartierError {
        QuartierError::Storage { problem, reason: reason.into() }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> QuartierError {
        QuartierError::Invalid { reason: reason.into() }
    }

    pub(crate) fn internal(reason: impl Into<String>) -> QuartierError {
        QuartierError::Internal { reason: reason.into() }
    }

    fn from_panic(payload: &(dyn Any + Send)) -> QuartierError {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        tracing::error!(panic = %what, "a call into the Quartier core panicked");
        QuartierError::internal(format!(
            "Quartier hit an internal error ({what}); nothing more was done. Please report it."
        ))
    }
}

impl From<StoreError> for QuartierError {
    fn from(error: StoreError) -> QuartierError {
        match error {
            StoreError::Rejected(rejection) => {
                QuartierError::Refused { code: rejection.code.as_str().to_owned(), reason: rejection.message }
            }
            StoreError::NotFound(reason) => QuartierError::NotFound { reason },
            StoreError::Invalid(reason) => QuartierError::Invalid { reason },
            e => {
                let problem = match &e {
                    StoreError::DiskFull { .. } => StorageProblem::Full,
                    StoreError::ReadOnly { .. } => StorageProblem::ReadOnly,
                    StoreError::Locked { .. } => StorageProblem::Locked,
                    StoreError::Corrupt { .. } => StorageProblem::Damaged,
                    StoreError::CannotOpen { .. } => StorageProblem::CannotOpen,
                    StoreError::Io { .. } => StorageProblem::Failing,
                    StoreError::NewerSchema { .. } => StorageProblem::NewerVersion,
                    _ => StorageProblem::Other,
                };
                QuartierError::storage(problem, e.to_string())
            }
        }
    }
}

impl From<SyncError> for QuartierError {
    fn from(error: SyncError) -> QuartierError {
        match error {
            SyncError::Store(e) => e.into(),
            e @ SyncError::Offline(_) => QuartierError::Network { reason: e.to_string() },
            // The server is overloaded or failing: like being offline, it passes.
            e @ SyncError::Server { status, .. } if status >= 500 || status == 429 => {
                QuartierError::Network { reason: e.to_string() }
            }
            SyncError::Server { code, message, .. } => QuartierError::Refused { code, reason: message },
            e @ (SyncError::Unauthorized { .. } | SyncError::NotRegistered) => {
                QuartierError::NotRegistered { reason: e.to_string() }
            }
            // A server address or a device link code the person typed that cannot be used.
            SyncError::BadAddress(reason) | SyncError::BadLink(reason) => QuartierError::Invalid { reason },
            e @ SyncError::Secrets(_) => QuartierError::storage(StorageProblem::Secrets, e.to_string()),
            e @ SyncError::Protocol(_) => QuartierError::Internal { reason: e.to_string() },
        }
    }
}

/// A foreign callback (secret store, observer) threw something its declaration does not allow.
impl From<uniffi::UnexpectedUniFFICallbackError> for QuartierError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> QuartierError {
        QuartierError::internal(format!("the app's callback failed unexpectedly: {}", error.reason))
    }
}

/// Runs an exported call, turning a panic into [`QuartierError::Internal`].
///
/// uniffi would catch the panic too, but as its own generic error (`InternalException` in Kotlin,
/// `UniffiInternalError` in Swift) that the apps' `catch` on our error would miss.
pub(crate) fn guard<T>(call: impl FnOnce() -> Result<T, QuartierError>) -> Result<T, QuartierError> {
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|payload| Err(QuartierError::from_panic(&*payload)))
}

/// Runs a callback into the app for which nobody waits for an answer (an observer, a log sink): its
/// failure is logged, and never unwinds into the core, which is in the middle of a commit.
pub(crate) fn shielded(what: &'static str, call: impl FnOnce() -> Result<(), QuartierError>) {
    let error = match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(())) => return,
        Ok(Err(error)) => error,
        Err(payload) => QuartierError::from_panic(&*payload),
    };
    tracing::warn!(%error, "the app's {what} failed");
}

/// Runs an async call on the shared runtime, turning a panic into [`QuartierError::Internal`]. If the
/// caller stops waiting (a cancelled coroutine or Swift task), the work is stopped at its next await.
pub(crate) async fn on_runtime<T, F>(work: F) -> Result<T, QuartierError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, QuartierError>> + Send + 'static,
{
    let mut task = AbortOnDrop(crate::sync::runtime()?.spawn(work));
    match task.await_result().await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(QuartierError::from_panic(&*e.into_panic())),
        Err(e) => Err(QuartierError::internal(format!("the task stopped before it ended ({e})"))),
    }
}

/// Aborts a task whose result nobody waits for any more.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    async fn await_result(&mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quartier_core::domain::{Code, Rejection};

    #[test]
    fn a_panic_becomes_internal() {
        let result: Result<(), QuartierError> = guard(|| panic!("boom"));
        match result {
            Err(QuartierError::Internal { reason }) => assert!(reason.contains("boom"), "{reason}"),
            other => panic!("expected Internal, got {other:?}"),
        }
    }

    #[test]
    fn a_panic_in_async_work_becomes_internal() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let result: Result<(), QuartierError> = runtime.block_on(on_runtime(async { panic!("async boom") }));
        match result {
            Err(QuartierError::Internal { reason }) => assert!(reason.contains("async boom"), "{reason}"),
            other => panic!("expected Internal, got {other:?}"),
        }
    }

    #[test]
    fn refusals_keep_their_code_and_sentence() {
        let error: QuartierError =
            StoreError::Rejected(Rejection::new(Code::Overlap, "The drill is already lent.")).into();
        assert_eq!(
            error,
            QuartierError::Refused { code: "overlap".into(), reason: "The drill is already lent.".into() }
        );
        assert_eq!(error.to_string(), "The drill is already lent.");
    }

    #[test]
    fn storage_errors_say_which_problem_with_the_core_sentence() {
        let cases = [
            (StoreError::DiskFull { context: "saving a favour" }, StorageProblem::Full),
            (StoreError::ReadOnly { path: "q.db".into(), detail: "EROFS".into() }, StorageProblem::ReadOnly),
            (StoreError::Locked { context: "saving a favour" }, StorageProblem::Locked),
            (
                StoreError::Corrupt { path: "q.db".into(), detail: "not a database".into() },
                StorageProblem::Damaged,
            ),
            (
                StoreError::CannotOpen { path: "q.db".into(), detail: "no folder".into() },
                StorageProblem::CannotOpen,
            ),
            (StoreError::Io { context: "reading", detail: "EIO".into() }, StorageProblem::Failing),
            (StoreError::NewerSchema { found: 9, supported: 6 }, StorageProblem::NewerVersion),
        ];
        for (error, problem) in cases {
            let sentence = error.to_string();
            assert_eq!(QuartierError::from(error), QuartierError::Storage { problem, reason: sentence });
        }
        let secrets =
            SyncError::Secrets(quartier_core::sync::secrets::SecretError("the Keychain is locked".into()));
        assert!(matches!(
            QuartierError::from(secrets),
            QuartierError::Storage { problem: StorageProblem::Secrets, .. }
        ));
    }

    #[test]
    fn sync_errors_map_to_what_the_app_can_do() {
        let busy = SyncError::Server { status: 503, code: "busy".into(), message: "later".into() };
        assert!(matches!(QuartierError::from(busy), QuartierError::Network { .. }));
        let refused =
            SyncError::Server { status: 403, code: "invitation_unusable".into(), message: "used up".into() };
        assert_eq!(
            QuartierError::from(refused),
            QuartierError::Refused { code: "invitation_unusable".into(), reason: "used up".into() }
        );
        let refused =
            SyncError::Unauthorized { message: String::from("This device was taken off its account.") };
        assert!(
            matches!(QuartierError::from(refused), QuartierError::NotRegistered { reason } if reason.contains("taken off")),
        );
        assert!(matches!(QuartierError::from(SyncError::Offline("x".into())), QuartierError::Network { .. }));
        let link = SyncError::BadLink("that link code has expired".into());
        assert_eq!(QuartierError::from(link), QuartierError::invalid("that link code has expired"));
        let store = SyncError::Store(StoreError::NotFound("no such loan".into()));
        assert_eq!(QuartierError::from(store), QuartierError::NotFound { reason: "no such loan".into() });
    }
}
