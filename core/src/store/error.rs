//! The store's errors: what went wrong, with enough context to act on it.

use crate::domain::{Rejection, ViewError};
use rusqlite::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The rules refused the mutation; nothing was written.
    #[error(transparent)]
    Rejected(#[from] Rejection),

    /// The file is damaged, or is not a Quartier database.
    #[error(
        "the database file {path} is damaged or is not a Quartier database ({detail}); restore it from a backup or move it aside to start afresh"
    )]
    Corrupt { path: String, detail: String },

    /// The file or its folder cannot be written (permissions, read-only storage).
    #[error(
        "the database file {path} cannot be written ({detail}); check that the file and its folder are writable"
    )]
    ReadOnly { path: String, detail: String },

    /// The file cannot be opened at all (missing folder, permissions).
    #[error(
        "the database file {path} cannot be opened ({detail}); check that its folder exists and is readable"
    )]
    CannotOpen { path: String, detail: String },

    /// Another process holds the database locked for longer than the busy timeout.
    #[error(
        "the database is locked by another program while {context}; close the other program and try again"
    )]
    Locked { context: &'static str },

    /// The storage is full.
    #[error("the storage is full while {context}; free some space and try again (nothing was saved)")]
    DiskFull { context: &'static str },

    /// The storage failed to read or write (a failing memory card, storage removed, a file changed
    /// under the app). A change that failed is not saved.
    #[error(
        "the storage failed while {context} ({detail}); check the device's storage and try again (a change that failed was not saved)"
    )]
    Io { context: &'static str, detail: String },

    /// The database was written by a newer version of Quartier.
    #[error(
        "the database has schema version {found} but this version of Quartier knows up to {supported}; update the app"
    )]
    NewerSchema { found: u32, supported: u32 },

    /// The caller asked for something that does not exist.
    #[error("{0}")]
    NotFound(String),

    /// The caller passed an argument the store cannot use.
    #[error("{0}")]
    Invalid(String),

    /// Any other SQLite failure.
    #[error("the local database failed while {context}: {source}")]
    Sqlite {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },

    /// A stored row could not be read back.
    #[error("a stored {what} could not be read ({source}); the database may have been edited by hand")]
    Data {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl StoreError {
    /// Wraps a SQLite error with what the store was doing, sorting out the failures a person can act on.
    pub fn sqlite(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
        move |source| match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked { context },
            Some(ErrorCode::DiskFull) => StoreError::DiskFull { context },
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                StoreError::Corrupt { path: String::from("in use"), detail: source.to_string() }
            }
            Some(ErrorCode::ReadOnly) => {
                StoreError::ReadOnly { path: String::from("in use"), detail: source.to_string() }
            }
            Some(ErrorCode::SystemIoFailure) => StoreError::Io { context, detail: source.to_string() },
            Some(ErrorCode::CannotOpen) => {
                StoreError::CannotOpen { path: String::from("in use"), detail: source.to_string() }
            }
            _ => StoreError::Sqlite { context, source },
        }
    }

    /// Names the file in errors that are about the file.
    pub fn at_path(self, path: &str) -> StoreError {
        match self {
            StoreError::Corrupt { detail, .. } => StoreError::Corrupt { path: path.to_owned(), detail },
            StoreError::ReadOnly { detail, .. } => StoreError::ReadOnly { path: path.to_owned(), detail },
            StoreError::CannotOpen { detail, .. } => StoreError::CannotOpen { path: path.to_owned(), detail },
            other => other,
        }
    }

    pub fn data(what: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
        move |source| StoreError::Data { what, source }
    }
}

impl From<StoreError> for ViewError {
    fn from(error: StoreError) -> ViewError {
        ViewError(Box::new(error))
    }
}

/// Back from the rules: the store's own error as it was, anything else as invalid.
impl From<ViewError> for StoreError {
    fn from(error: ViewError) -> StoreError {
        match error.0.downcast::<StoreError>() {
            Ok(store) => *store,
            Err(other) => StoreError::Invalid(other.to_string()),
        }
    }
}

/// Convenience for store internals.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: std::ffi::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn the_failures_a_person_can_act_on_are_sorted_out() {
        let sort = StoreError::sqlite("saving a change");
        assert!(matches!(sort(failure(rusqlite::ffi::SQLITE_FULL)), StoreError::DiskFull { .. }));
        assert!(matches!(sort(failure(rusqlite::ffi::SQLITE_BUSY)), StoreError::Locked { .. }));
        assert!(matches!(sort(failure(rusqlite::ffi::SQLITE_READONLY)), StoreError::ReadOnly { .. }));
        assert!(matches!(sort(failure(rusqlite::ffi::SQLITE_CANTOPEN)), StoreError::CannotOpen { .. }));
        let io = sort(failure(rusqlite::ffi::SQLITE_IOERR_WRITE));
        assert!(matches!(io, StoreError::Io { context: "saving a change", .. }), "{io:?}");
        assert!(io.to_string().contains("check the device's storage"), "{io}");
        assert!(matches!(sort(failure(rusqlite::ffi::SQLITE_CONSTRAINT)), StoreError::Sqlite { .. }));
    }
}
