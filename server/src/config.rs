//! What a host can tune, with the defaults a small neighbourhood server needs.
//!
//! The command line (`main.rs`) fills it from flags and `QUARTIER_*` variables; tests build it
//! directly (a low rate limit, a clock of their own). To add a setting: a field here with its default,
//! and a flag in `main.rs`.

use crate::clock::system_now_ms;
use crate::rate_limit::RateLimit;
use axum::http::HeaderName;
use sha2::{Digest, Sha256};

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
    /// When set, `/metrics` answers only a scraper that sends this token (`Authorization: Bearer`).
    pub metrics_token: Option<MetricsToken>,
    /// The clock, in Unix milliseconds.
    pub now: fn() -> i64,
}

/// The token `/metrics` asks for. Only its SHA-256 is kept, and it never shows in a log.
#[derive(Clone, PartialEq, Eq)]
pub struct MetricsToken([u8; 32]);

/// The fewest characters a metrics token has.
pub const MIN_METRICS_TOKEN_LEN: usize = 16;

impl MetricsToken {
    /// The token, if it is long enough to be worth guarding with.
    pub fn new(token: &str) -> Result<MetricsToken, String> {
        if token.chars().count() < MIN_METRICS_TOKEN_LEN {
            return Err(format!(
                "a metrics token has at least {MIN_METRICS_TOKEN_LEN} characters (this one has {}); \
                 draw one with `openssl rand -hex 32`",
                token.chars().count()
            ));
        }
        Ok(MetricsToken(Sha256::digest(token.as_bytes()).into()))
    }

    /// Whether `presented` is the token.
    pub fn admits(&self, presented: &str) -> bool {
        // Digests compared, so the time taken says nothing of how much of the token was right.
        <[u8; 32]>::from(Sha256::digest(presented.as_bytes())) == self.0
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(…)")
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            onboarding_limit: RateLimit::default(),
            client_ip_header: None,
            metrics_token: None,
            now: system_now_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MetricsToken;

    #[test]
    fn a_metrics_token_is_long_enough_admits_only_itself_and_stays_out_of_logs() {
        let error = MetricsToken::new("short").unwrap_err();
        assert!(error.contains("at least 16") && error.contains("has 5"), "{error}");
        let token = MetricsToken::new("scraper-token-0123456789").unwrap();
        assert!(token.admits("scraper-token-0123456789"));
        assert!(!token.admits("scraper-token-012345678") && !token.admits(""));
        assert_eq!(format!("{token:?}"), "MetricsToken(…)");
    }
}
