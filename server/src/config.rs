//! What a host can tune, with the defaults a small neighbourhood server needs.
//!
//! The command line (`main.rs`) fills it from flags and `QUARTIER_*` variables; tests build it
//! directly (a low rate limit, a clock of their own). To add a setting: a field here with its default,
//! and a flag in `main.rs`.

use crate::clock::system_now_ms;
use crate::rate_limit::RateLimit;
use axum::http::HeaderName;

/// The largest request body taken, after decompression: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct Config {
    /// The largest request body, in bytes, before and after decompression.
    pub max_body_bytes: usize,
    /// The rate limit of `/v1/register` and of `/v1/join`, each, per client address.
    pub onboarding_limit: RateLimit,
    /// Behind a reverse proxy: the header whose last address is the client's (`X-Forwarded-For`).
    pub client_ip_header: Option<HeaderName>,
    /// The clock, in Unix milliseconds.
    pub now: fn() -> i64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            onboarding_limit: RateLimit::default(),
            client_ip_header: None,
            now: system_now_ms,
        }
    }
}
