//! HTTP: the routes of the protocol and the middleware around them.
//!
//! Around every route, from the outside in: metrics (requests by route and status, latency), a panic
//! guard (a 500 with an `ErrorBody`, never a dropped connection), a trace span per request (method and
//! path; never headers, so never a token), response compression (gzip), the conversion of any bare
//! error answer into an `ErrorBody`, the body limit on the raw body, request decompression (gzip), and
//! the same body limit again on the decompressed body (so a small gzip bomb is cut at the limit).
//! `/v1/register` and `/v1/join` also have a rate limit per client address.
//!
//! To add a route: a handler in `handlers.rs` calling a function of `sync/`, and a line in [`router`].

mod extract;
mod handlers;

use crate::Server;
use crate::error::{ApiError, Error};
use crate::rate_limit::{Limiter, client_address};
use crate::storage::Backend;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use std::net::SocketAddr;
use std::time::Instant;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::SizeAbove;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// Answers of more bytes than this are compressed for clients that accept gzip.
pub const COMPRESS_ABOVE: u16 = 1024;

pub fn router<B: Backend>(server: Server<B>) -> Router {
    let max_body = server.config().max_body_bytes;
    let header = server.config().client_ip_header.clone();
    let register_gate = Gate { limiter: server.inner.register_limit.clone(), header: header.clone() };
    let join_gate = Gate { limiter: server.inner.join_limit.clone(), header };
    Router::new()
        .route("/health", get(handlers::health::<B>))
        .route("/metrics", get(handlers::metrics::<B>))
        .route(
            "/v1/register",
            post(handlers::register::<B>).layer(middleware::from_fn_with_state(register_gate, rate_limit)),
        )
        .route(
            "/v1/join",
            post(handlers::join::<B>).layer(middleware::from_fn_with_state(join_gate, rate_limit)),
        )
        .route("/v1/devices", post(handlers::add_device::<B>).get(handlers::list_devices::<B>))
        .route("/v1/devices/{id}", delete(handlers::remove_device::<B>))
        .route("/v1/push", post(handlers::push::<B>))
        .route("/v1/neighbourhoods/{id}/pull", get(handlers::pull::<B>))
        .fallback(handlers::not_found)
        // Each `layer` wraps the ones before it: the last is the outermost.
        .layer(DefaultBodyLimit::max(max_body))
        .layer(RequestDecompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(middleware::map_response_with_state(max_body, errors_as_json))
        // gzip at its fastest level (nginx's default, `gzip_comp_level 1`): under load, compressing pull
        // pages at the default level was half of the server's CPU; the fastest level takes about a
        // third of that time for bodies ≈ 18 % larger (a page of 1,000 favours: 569 KB of JSON, 131 KB
        // at the default level, 154 KB at the fastest). See bench/NOTES.md.
        // Answers under 1 KiB (a push's few answers, an error) go as they are: compressing them saved
        // a few dozen bytes for a compressor's state made and cleared each time.
        .layer(
            CompressionLayer::new()
                .quality(tower_http::CompressionLevel::Fastest)
                .compress_when(SizeAbove::new(COMPRESS_ABOVE)),
        )
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::from(Error::Bug(String::from("a handler panicked"))).into_response()
        }))
        .layer(middleware::from_fn_with_state(server.clone(), record_metrics::<B>))
        .with_state(server)
}

/// Counts every answer by route (as declared, so ids do not make new series), method and status.
async fn record_metrics<B: Backend>(
    State(server): State<Server<B>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = match *request.method() {
        Method::GET
        | Method::POST
        | Method::PUT
        | Method::DELETE
        | Method::HEAD
        | Method::OPTIONS
        | Method::PATCH => request.method().as_str().to_owned(),
        _ => String::from("other"),
    };
    let response = next.run(request).await;
    server.metrics().observe_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Gives an `ErrorBody` to error answers made without one (by a middleware, or axum itself).
async fn errors_as_json(State(max_body): State<usize>, response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let mut answer = ApiError::for_status(status, max_body).into_response();
    // Keep what tells the client how to go on (`Allow` of a 405, `Retry-After`).
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = response.headers().get(&name) {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

/// A rate limit and where to read the client's address.
#[derive(Clone, Debug)]
struct Gate {
    limiter: Limiter,
    header: Option<HeaderName>,
}

async fn rate_limit(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    let address = client_address(peer, request.headers(), gate.header.as_ref());
    match gate.limiter.check(address) {
        Ok(()) => next.run(request).await,
        Err(retry_after_secs) => {
            tracing::warn!(%address, route = %request.uri().path(), "rate limited");
            ApiError::from(Error::RateLimited { retry_after_secs }).into_response()
        }
    }
}
