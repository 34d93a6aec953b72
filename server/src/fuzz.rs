//! The body of the request fuzz target: any bytes, as the body (or query string) of any endpoint, go
//! through the server's real router — extractors, limits, decompression, authentication, the calls of
//! `sync/` — over a real SQLite file, and must get an answer that is not a 5xx, with an `ErrorBody`
//! carrying a sentence when it is an error. It panics otherwise, which is what a fuzzer reports.
//!
//! cargo-fuzz runs it from `fuzz/fuzz_targets/request.rs` (nightly); the stable suite runs it on
//! seeded structure-aware inputs and on the corpus files in `fuzz/corpus/request/`
//! (`server/tests/server/fuzz.rs`). The first byte of an input picks the endpoint ([`Endpoint::of`]),
//! the rest is the body. To add an endpoint, add a variant and its request in [`RequestHarness::send`].

use crate::storage::sqlite::SqliteBackend;
use crate::{Config, Server, http};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use quartier_core::sync::protocol::{ErrorBody, PushResponse, RegisterResponse};
use std::path::Path;
use tower::ServiceExt;

/// The endpoints that read a request, and so can be fed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Register,
    AddDevice,
    Join,
    Push,
    /// The bytes are the query string of a pull of the harness's neighbourhood.
    Pull,
    /// The bytes are gzip-compressed (or claim to be) and go to `/v1/push`.
    PushGzip,
    /// `GET /v1/devices` (the bytes are not read).
    Devices,
    /// The bytes are the id of `DELETE /v1/devices/{id}` — never the harness's own device, which would
    /// leave every later call unauthorized.
    RemoveDevice,
}

impl Endpoint {
    pub const ALL: [Endpoint; 8] = [
        Endpoint::Register,
        Endpoint::AddDevice,
        Endpoint::Join,
        Endpoint::Push,
        Endpoint::Pull,
        Endpoint::PushGzip,
        Endpoint::Devices,
        Endpoint::RemoveDevice,
    ];

    /// The endpoint a fuzz input's first byte picks.
    pub fn of(byte: u8) -> Endpoint {
        Endpoint::ALL[usize::from(byte) % Endpoint::ALL.len()]
    }

    /// The byte that picks this endpoint (the inverse of [`Endpoint::of`]).
    pub fn byte(self) -> u8 {
        Endpoint::ALL.iter().position(|e| *e == self).and_then(|i| u8::try_from(i).ok()).unwrap_or(0)
    }
}

/// A server on a SQLite file in a folder of the caller's, with a registered device (`fuzz-phone`
/// of `fuzz`) that founded the neighbourhood `aligre`, and a runtime to call it from plain code.
#[derive(Debug)]
pub struct RequestHarness {
    runtime: tokio::runtime::Runtime,
    app: Router,
    token: String,
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: StatusCode,
    /// The error's code and sentence, for a 4xx.
    pub error: Option<(String, String)>,
    /// For a push, the sequence number the server now expects from the harness's device, when the
    /// answer tells it (after the results of a 200, or the gap of a `409`). Seeded pushes are
    /// renumbered with it, so that they reach the domain's rules instead of `seq_reused`.
    pub expected_seq: Option<u64>,
}

/// The most bytes a fuzz input may have; the server's limit is set just under it, so that 413 is
/// reached too.
pub const MAX_BODY: usize = 64 << 10;

impl RequestHarness {
    /// # Panics
    /// When the folder cannot hold a database or the founding calls fail: the harness cannot start.
    pub fn new(dir: &Path) -> RequestHarness {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("no runtime for the fuzz harness: {e}"));
        let backend = SqliteBackend::open(&dir.join("fuzz.sqlite3"))
            .unwrap_or_else(|e| panic!("the fuzz harness's database cannot be opened: {e}"));
        let many = std::num::NonZeroU32::new(1_000_000).unwrap_or(std::num::NonZeroU32::MIN);
        let limit = crate::rate_limit::RateLimit { per_minute: many, burst: many };
        let config = Config { max_body_bytes: MAX_BODY - 1024, onboarding_limit: limit, ..Config::default() };
        let app = http::router(Server::new(backend, config));
        let mut harness = RequestHarness { runtime, app, token: String::new() };
        let registered = harness.call(
            Method::POST,
            "/v1/register",
            None,
            br#"{"device_id":"fuzz-phone","person_id":"fuzz"}"#.to_vec(),
        );
        let (status, body) = registered;
        assert_eq!(status, StatusCode::CREATED, "the fuzz harness cannot register");
        let registered: RegisterResponse =
            serde_json::from_slice(&body).unwrap_or_else(|e| panic!("register answered {e}"));
        harness.token = registered.token;
        let found = serde_json::json!({ "mutations": [{
            "neighbourhood_id": "aligre", "author": "fuzz", "device_id": "fuzz-phone", "seq": 1,
            "hlc": "00000000000000000000000000000001", "name": "neighbourhood.create",
            "args": { "name": "Aligre", "description": "", "cell": null, "display_name": "Fuzz" }
        }]});
        let answer = harness.send(Endpoint::Push, found.to_string().as_bytes());
        assert_eq!(answer.status, StatusCode::OK, "the fuzz harness cannot found its neighbourhood");
        harness
    }

    /// The fuzz target `request`: the first byte picks the endpoint, the rest is its body.
    pub fn request(&self, data: &[u8]) -> Answer {
        match data.split_first() {
            Some((first, body)) => self.send(Endpoint::of(*first), body),
            None => self.send(Endpoint::Push, &[]),
        }
    }

    /// Sends `body` to `endpoint` and checks the answer keeps the server's promises.
    ///
    /// # Panics
    /// On a 5xx, or an error without an `ErrorBody` and a sentence.
    pub fn send(&self, endpoint: Endpoint, body: &[u8]) -> Answer {
        let token = Some(self.token.as_str());
        let (status, answer) = match endpoint {
            Endpoint::Register => self.call(Method::POST, "/v1/register", None, body.to_vec()),
            Endpoint::AddDevice => self.call(Method::POST, "/v1/devices", token, body.to_vec()),
            Endpoint::Join => self.call(Method::POST, "/v1/join", token, body.to_vec()),
            Endpoint::Push => self.call(Method::POST, "/v1/push", token, body.to_vec()),
            Endpoint::PushGzip => self.call(Method::POST, "/v1/push#gzip", token, body.to_vec()),
            Endpoint::Pull => {
                // An address longer than this never reaches the router (hyper refuses it first).
                let query = percent_encode(&body[..body.len().min(4096)]);
                self.call(Method::GET, &format!("/v1/neighbourhoods/aligre/pull?{query}"), token, Vec::new())
            }
            Endpoint::Devices => self.call(Method::GET, "/v1/devices", token, Vec::new()),
            Endpoint::RemoveDevice => {
                let id = if body == b"fuzz-phone" {
                    b"fuzz-phone-not".as_slice()
                } else {
                    &body[..body.len().min(4096)]
                };
                self.call(Method::DELETE, &format!("/v1/devices/{}", percent_encode(id)), token, Vec::new())
            }
        };
        assert!(
            !status.is_server_error(),
            "{endpoint:?} answered {status} to {:?}: {}",
            String::from_utf8_lossy(body),
            String::from_utf8_lossy(&answer)
        );
        let error = if status.is_client_error() {
            let parsed: ErrorBody = serde_json::from_slice(&answer).unwrap_or_else(|e| {
                panic!("{endpoint:?} answered {status} without an error body ({e}): {answer:?}")
            });
            assert!(
                parsed.error.message.trim_end().ends_with('.') && parsed.error.message.len() > 10,
                "{endpoint:?} answered {status} without a sentence: {:?}",
                parsed.error.message
            );
            Some((parsed.error.code, parsed.error.message, parsed.gap.map(|gap| gap.expected)))
        } else {
            None
        };
        let pushed = matches!(endpoint, Endpoint::Push | Endpoint::PushGzip) && status == StatusCode::OK;
        let answered = pushed
            .then(|| serde_json::from_slice::<PushResponse>(&answer).ok())
            .flatten()
            .and_then(|push| push.results.iter().map(|r| r.seq).max())
            .map(|seq| seq.saturating_add(1));
        let expected_seq = answered.or_else(|| error.as_ref().and_then(|e| e.2));
        Answer { status, error: error.map(|(code, message, _)| (code, message)), expected_seq }
    }

    /// One request through the router, with the JSON content type (and gzip when the path says so).
    fn call(&self, method: Method, path: &str, token: Option<&str>, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
        let (path, gzip) = match path.strip_suffix("#gzip") {
            Some(path) => (path, true),
            None => (path, false),
        };
        let mut request = Request::builder().method(method).uri(path);
        if !body.is_empty() || gzip {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        if gzip {
            request = request.header(header::CONTENT_ENCODING, "gzip");
        }
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request =
            request.body(Body::from(body)).unwrap_or_else(|e| panic!("a request that cannot be built: {e}"));
        let app = self.app.clone();
        self.runtime.block_on(async move {
            let response = match app.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap_or_else(|e| panic!("the answer's body cannot be read: {e}"));
            (status, bytes.to_vec())
        })
    }
}

/// Bytes as a query string: `&` and `=` stay (so the fuzzer can shape parameters), the rest of what a
/// URI cannot carry is percent-encoded.
fn percent_encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"&=-_.~+".contains(&b) {
            text.push(char::from(b));
        } else {
            text.push_str(&format!("%{b:02X}"));
        }
    }
    text
}
