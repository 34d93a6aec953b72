//! The endpoints: each reads its request, runs the call's logic from `sync/` on the blocking pool (a
//! push awaits its transactions instead, see `sync::push`), counts it in the metrics and answers.
//! Nothing else happens here; a new endpoint is a function here and a line in the router
//! (`http/mod.rs`).

use super::extract::{Authenticated, Json, Query, bearer_token};
use crate::Server;
use crate::error::{ApiError, Error};
use crate::metrics;
use crate::storage::Backend;
use crate::sync::{devices, join as joining, pull as pulling, push as pushing};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quartier_core::sync::protocol::{
    AddDeviceRequest, DEFAULT_PULL_LIMIT, DevicesResponse, JoinRequest, JoinResponse, PullResponse,
    PushRequest, PushResponse, RegisterRequest, RegisterResponse, StoredChange,
};
use serde::Deserialize;

pub async fn health<B: Backend>(State(server): State<Server<B>>) -> Result<Response, ApiError> {
    match server.blocking(|inner| Ok(inner.backend.health()?)).await {
        Ok(()) => Ok((StatusCode::OK, axum::Json(serde_json::json!({ "status": "ok" }))).into_response()),
        Err(error) => {
            tracing::error!(%error, "the health check failed");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "internal",
                "The server's database does not answer; see the server's log.",
            ))
        }
    }
}

/// The metrics, to a scraper with the metrics token when the server has one.
pub async fn metrics<B: Backend>(
    State(server): State<Server<B>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = &server.config().metrics_token {
        if !bearer_token(&headers).is_some_and(|presented| token.admits(presented)) {
            return Err(ApiError::from(Error::Unauthorized(String::from(
                "This server's metrics need its metrics token (Authorization: Bearer …), the one it was \
                 started with (--metrics-token, QUARTIER_METRICS_TOKEN).",
            ))));
        }
    }
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], server.metrics().encode()).into_response())
}

pub async fn register<B: Backend>(
    State(server): State<Server<B>>,
    Json(request): Json<RegisterRequest>,
) -> Result<(StatusCode, axum::Json<RegisterResponse>), ApiError> {
    let (registered, how) = server
        .blocking(move |inner| devices::register(&inner.backend, &request, inner.clock.now_ms()))
        .await?;
    let status = match how {
        devices::Registered::New => StatusCode::CREATED,
        devices::Registered::Again => StatusCode::OK,
    };
    Ok((status, axum::Json(registered)))
}

pub async fn add_device<B: Backend>(
    State(server): State<Server<B>>,
    Authenticated(device): Authenticated,
    Json(request): Json<AddDeviceRequest>,
) -> Result<(StatusCode, axum::Json<RegisterResponse>), ApiError> {
    let added = server
        .blocking(move |inner| devices::add_device(&inner.backend, &device, &request, inner.clock.now_ms()))
        .await?;
    Ok((StatusCode::CREATED, axum::Json(added)))
}

/// `?stored_up_to=N`: optional (see `sync::push`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushParams {
    stored_up_to: Option<u64>,
}

pub async fn list_devices<B: Backend>(
    State(server): State<Server<B>>,
    Authenticated(device): Authenticated,
) -> Result<axum::Json<DevicesResponse>, ApiError> {
    let listed = server.blocking(move |inner| devices::list(&inner.backend, &device)).await?;
    Ok(axum::Json(listed))
}

pub async fn remove_device<B: Backend>(
    State(server): State<Server<B>>,
    Authenticated(device): Authenticated,
    Path(device_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    server
        .blocking(move |inner| devices::remove(&inner.backend, &device, &device_id, inner.clock.now_ms()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn push<B: Backend>(
    State(server): State<Server<B>>,
    Authenticated(device): Authenticated,
    Query(params): Query<PushParams>,
    Json(request): Json<PushRequest>,
) -> Result<axum::Json<PushResponse>, ApiError> {
    // Not on the blocking pool: the push waits for its transactions without holding a thread.
    let clock = &server.inner.clock;
    let report =
        pushing::push(server.backend(), clock, device, request.mutations, params.stored_up_to).await?;
    server.metrics().count_push(report.applied, report.rejected, report.duplicates);
    match report.gap {
        Some(gap) => Err(gap.into_api_error(report.results)),
        None => Ok(axum::Json(PushResponse { results: report.results })),
    }
}

/// `?after=V&limit=N`: both optional (from the start, a page of the default size).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullParams {
    #[serde(default)]
    after: u64,
    limit: Option<u32>,
}

pub async fn pull<B: Backend>(
    State(server): State<Server<B>>,
    Authenticated(device): Authenticated,
    Path(neighbourhood_id): Path<String>,
    Query(params): Query<PullParams>,
) -> Result<axum::Json<PullResponse<StoredChange>>, ApiError> {
    let limit = pulling::check_limit(params.limit.unwrap_or(DEFAULT_PULL_LIMIT))?;
    let page = server
        .blocking(move |inner| pulling::pull(&inner.backend, &device, &neighbourhood_id, params.after, limit))
        .await?;
    server.metrics().count_pulled(page.changes.len());
    Ok(axum::Json(page))
}

pub async fn join<B: Backend>(
    State(server): State<Server<B>>,
    Authenticated(device): Authenticated,
    Json(request): Json<JoinRequest>,
) -> Result<axum::Json<JoinResponse>, ApiError> {
    let joined =
        server.blocking(move |inner| joining::join(&inner.backend, &inner.clock, &device, &request)).await;
    server.metrics().count_join(joined.is_ok());
    Ok(axum::Json(joined?))
}

pub async fn not_found() -> ApiError {
    ApiError::from(Error::NotFound(String::from(
        "There is nothing at this address; the calls are under /v1 (see the protocol).",
    )))
}
