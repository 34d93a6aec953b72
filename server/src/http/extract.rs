//! Extractors that answer every failure with an [`ErrorBody`](quartier_core::sync::protocol::ErrorBody):
//! a JSON body, a query string, and the device behind a bearer token.
//!
//! axum's own extractors answer rejections in plain text (and a JSON body of the wrong shape with 422);
//! these wrap them so that a malformed request always gets a 400 (or 413, 415) and a sentence saying
//! what is wrong. To read another part of a request, wrap axum's extractor the same way.

use crate::Server;
use crate::error::{ApiError, Error};
use crate::storage::{Backend, Device};
use crate::sync::devices;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use std::error::Error as _;

/// A JSON request body, read strictly (the protocol's types refuse unknown fields).
#[derive(Debug)]
pub struct Json<T>(pub T);

/// The most precise sentence an error has: its innermost source.
fn innermost(error: &dyn std::error::Error) -> String {
    let mut error = error;
    while let Some(source) = error.source() {
        error = source;
    }
    error.to_string()
}

impl<B: Backend, T: DeserializeOwned> FromRequest<Server<B>> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, server: &Server<B>) -> Result<Json<T>, ApiError> {
        match axum::Json::<T>::from_request(request, server).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_rejection(&rejection, server.config().max_body_bytes)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection, max_body: usize) -> ApiError {
    match rejection {
        // The path to the field and what is wrong with it ("mutations[0]: unknown field `x`…").
        JsonRejection::JsonDataError(e) => ApiError::bad_request(format!(
            "The request body does not have the shape this call takes: {}.",
            e.source().map_or_else(|| e.body_text(), |source| source.to_string())
        )),
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::bad_request(format!("The request body is not valid JSON: {}.", innermost(e)))
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_request",
            "The request body must be JSON, sent with `Content-Type: application/json`.",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::too_large(max_body)
        }
        other => ApiError::bad_request(format!("The request body could not be read: {}.", innermost(other))),
    }
}

/// A query string, read strictly.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Query<T>, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(ApiError::bad_request(format!(
                "The query string is not valid for this call: {}.",
                innermost(&e)
            ))),
            Err(other) => Err(ApiError::bad_request(format!(
                "The query string could not be read: {}.",
                other.body_text()
            ))),
        }
    }
}

/// The device whose token the request carries in `Authorization: Bearer <token>`.
#[derive(Debug)]
pub struct Authenticated(pub Device);

/// The token of an `Authorization` header, if it is `Bearer <token>` (the scheme in any case).
pub(super) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()
        .and_then(|text| text.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
}

/// A device's token, from an `Authorization` header that must be `Bearer <token>`.
fn bearer(parts: &Parts) -> Result<String, Error> {
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        return Err(Error::Unauthorized(String::from(
            "This call needs the device's token: send it as `Authorization: Bearer <token>`.",
        )));
    }
    bearer_token(&parts.headers).map(str::to_owned).ok_or_else(|| {
        Error::Unauthorized(String::from(
            "The Authorization header must be `Bearer <token>`, with the device's token.",
        ))
    })
}

impl<B: Backend> FromRequestParts<Server<B>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, server: &Server<B>) -> Result<Authenticated, ApiError> {
        let token = bearer(parts)?;
        let device = server
            .blocking(move |inner| devices::authenticate(&inner.backend, &token, inner.clock.now_ms()))
            .await?;
        Ok(Authenticated(device))
    }
}
