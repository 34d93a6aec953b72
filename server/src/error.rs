//! The server's two errors: [`Error`], what went wrong in detail (for the logic and the logs), and
//! [`ApiError`], what a caller is told: a status, a stable code and a sentence, as an
//! [`ErrorBody`]. The mapping from one to the other is here and nowhere else.
//!
//! To add a failure: a variant of [`Error`] naming what happened, and its line in
//! `From<Error> for ApiError`. Internal failures are logged here and answered with a sentence that
//! gives nothing away.

use crate::storage::StorageError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quartier_core::domain::{Code, Rejection};
use quartier_core::sync::protocol::ErrorBody;

/// What went wrong while serving a call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed (the sentence says how).
    #[error("{0}")]
    BadRequest(String),
    /// The request is larger than the server takes.
    #[error("{0}")]
    TooLarge(String),
    /// No token, or one the server does not know.
    #[error("{0}")]
    Unauthorized(String),
    /// The device may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// What was asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be taken in the server's current state (an id registered already, a gap in
    /// a device's sequence numbers).
    #[error("{0}")]
    Conflict(String),
    /// No invitation has the code a newcomer typed.
    #[error("{0}")]
    UnknownInvitation(String),
    /// The rules refused a mutation the server made on the caller's behalf (joining).
    #[error(transparent)]
    Refused(Rejection),
    /// Too many calls from one address; `retry_after_secs` until the next one is taken.
    #[error("too many requests; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A blocking task of the server failed (a panic, or the runtime shutting down).
    #[error("a background task failed: {0}")]
    Task(String),
    /// Something the server relies on did not hold: a bug.
    #[error("{0}")]
    Bug(String),
}

/// An answer with a 4xx or 5xx status and an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Seconds, for `Retry-After`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError { status, body: ErrorBody::new(code, message), retry_after: None }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// The body of a request is larger than `limit` bytes.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "The request body is larger than the server accepts ({}); send fewer mutations per push.",
                human_size(limit)
            ),
        )
    }

    /// The answer for an error status that carries no [`ErrorBody`] yet (from a middleware or a
    /// fallback).
    pub fn for_status(status: StatusCode, max_body: usize) -> ApiError {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(max_body),
            StatusCode::NOT_FOUND => ApiError::new(
                status,
                "not_found",
                "There is nothing at this address; see the protocol's paths.",
            ),
            StatusCode::METHOD_NOT_ALLOWED => {
                ApiError::new(status, "bad_request", "This address does not take this method.")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
                status,
                "bad_request",
                "The request body is in an encoding the server does not read; send JSON, plain or gzip.",
            ),
            status if status.is_server_error() => {
                ApiError::new(status, "internal", "The server failed; try again later.")
            }
            status => ApiError::new(
                status,
                "bad_request",
                format!("The server cannot take this request ({status})."),
            ),
        }
    }
}

/// `1048576` as "1 MiB".
fn human_size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes % (1 << 10) == 0 {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        match error {
            Error::BadRequest(m) => ApiError::bad_request(m),
            Error::TooLarge(m) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", m),
            Error::Unauthorized(m) => ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m),
            Error::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            Error::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
            Error::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            Error::UnknownInvitation(m) => ApiError::new(StatusCode::NOT_FOUND, "invitation_unusable", m),
            Error::Refused(rejection) => {
                let (status, code) = match rejection.code {
                    Code::InvitationUnusable => (StatusCode::CONFLICT, "invitation_unusable"),
                    Code::Invalid => (StatusCode::BAD_REQUEST, "bad_request"),
                    Code::Forbidden | Code::NotMember => (StatusCode::FORBIDDEN, "forbidden"),
                    Code::NotFound => (StatusCode::NOT_FOUND, "not_found"),
                    Code::AlreadyExists | Code::WrongState | Code::Overlap | Code::InsufficientStock => {
                        (StatusCode::CONFLICT, "conflict")
                    }
                };
                ApiError::new(status, code, rejection.message)
            }
            Error::RateLimited { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!(
                        "Too many requests from this address; try again in {retry_after_secs} second{}.",
                        if retry_after_secs == 1 { "" } else { "s" }
                    ),
                )
            },
            error @ (Error::Storage(_) | Error::Task(_) | Error::Bug(_)) => {
                tracing::error!(error = %error, "a call failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "The server failed while handling this call; try again later.",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(1 << 20), "1 MiB");
        assert_eq!(human_size(64 << 10), "64 KiB");
        assert_eq!(human_size(1000), "1000 bytes");
    }

    #[test]
    fn internal_failures_give_nothing_away() {
        let error = Error::Bug(String::from("secret detail of the database"));
        let api = ApiError::from(error);
        assert_eq!(api.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(api.body.error.code, "internal");
        assert!(!api.body.error.message.contains("secret"));
    }

    #[test]
    fn rate_limits_say_when_to_come_back() {
        let api = ApiError::from(Error::RateLimited { retry_after_secs: 30 });
        assert_eq!(api.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(api.retry_after, Some(30));
        assert!(api.body.error.message.contains("30 seconds"), "{}", api.body.error.message);
    }
}
