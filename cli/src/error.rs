//! The terminal client's errors, and the exit code each one gives. Scripts rely on these codes:
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | done |
//! | 1 | an unexpected failure (a bug: please report it) |
//! | 2 | the command line is wrong (unknown command, missing or malformed argument) |
//! | 3 | the neighbourhood's rules refused the action (the reason code is in the `--json` output) |
//! | 4 | the thing asked for does not exist (an unknown or ambiguous id) |
//! | 5 | the local database cannot be used (damaged, read-only, locked, full) |
//! | 6 | no profile or neighbourhood to act in yet (create or join one first), or not registered |
//! | 7 | the server cannot be reached, or refused (the changes stay saved on this device) |

use quartier_core::domain::Rejection;
use quartier_core::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Refused(Rejection),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Storage(String),
    #[error("{0}")]
    NotSetUp(String),
    #[error("{0}")]
    Network(String),
    #[error("{0}")]
    Unexpected(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Unexpected(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Refused(_) => 3,
            CliError::NotFound(_) => 4,
            CliError::Storage(_) => 5,
            CliError::NotSetUp(_) => 6,
            CliError::Network(_) => 7,
        }
    }

    /// A stable word for scripts: the rules' reason code, or the kind of failure.
    pub fn code(&self) -> &str {
        match self {
            CliError::Refused(rejection) => rejection.code.as_str(),
            CliError::Usage(_) => "usage",
            CliError::NotFound(_) => "not_found",
            CliError::Storage(_) => "storage",
            CliError::NotSetUp(_) => "not_set_up",
            CliError::Network(_) => "network",
            CliError::Unexpected(_) => "unexpected",
        }
    }
}

impl From<StoreError> for CliError {
    fn from(error: StoreError) -> CliError {
        match error {
            StoreError::Rejected(rejection) => CliError::Refused(rejection),
            StoreError::NotFound(what) => CliError::NotFound(what),
            StoreError::Invalid(what) => CliError::Usage(what),
            other @ (StoreError::Corrupt { .. }
            | StoreError::ReadOnly { .. }
            | StoreError::CannotOpen { .. }
            | StoreError::Locked { .. }
            | StoreError::DiskFull { .. }
            | StoreError::Io { .. }
            | StoreError::NewerSchema { .. }) => CliError::Storage(other.to_string()),
            other => CliError::Unexpected(other.to_string()),
        }
    }
}

impl From<quartier_core::sync::SyncError> for CliError {
    fn from(error: quartier_core::sync::SyncError) -> CliError {
        use quartier_core::sync::SyncError;
        match error {
            SyncError::Store(store) => store.into(),
            SyncError::NotRegistered | SyncError::Unauthorized { .. } => {
                CliError::NotSetUp(error.to_string())
            }
            SyncError::BadAddress(_) | SyncError::BadLink(_) => CliError::Usage(error.to_string()),
            SyncError::Server { status: 404, .. } => CliError::NotFound(error.to_string()),
            SyncError::Server { ref code, ref message, status: 409 | 422 | 403 }
                if code == "invitation_unusable" || code == "forbidden" =>
            {
                CliError::Refused(quartier_core::domain::Rejection::new(
                    if code == "forbidden" {
                        quartier_core::domain::Code::Forbidden
                    } else {
                        quartier_core::domain::Code::InvitationUnusable
                    },
                    message.clone(),
                ))
            }
            other => CliError::Network(other.to_string()),
        }
    }
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;
