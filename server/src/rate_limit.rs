//! Rate limits per client address, for the calls anyone can make without a token's history
//! (`/v1/register`, `/v1/join`): a burst, then so many a minute (GCRA, from `governor`).
//!
//! The client address is the peer's IP, or, behind a reverse proxy, the last address of a header the
//! proxy sets (`--client-ip-header X-Forwarded-For`): the proxy appends the address it saw, so the
//! last one is the only one a client cannot forge.
//!
//! To limit another route: give it a [`Limiter`] and the `limit` middleware in `http/`.

use axum::http::{HeaderMap, HeaderName};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Arc;

/// So many calls a minute per address, after a burst of `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        // A newcomer registers and joins once; a family or a market hall behind one address, a few times.
        let twenty = NonZeroU32::MIN.saturating_add(19);
        RateLimit { per_minute: twenty, burst: twenty }
    }
}

/// One rate limit, keyed by client address.
#[derive(Clone)]
pub struct Limiter {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("addresses", &self.limiter.len()).finish()
    }
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Limiter {
        let quota = Quota::per_minute(limit.per_minute).allow_burst(limit.burst);
        Limiter { limiter: Arc::new(DefaultKeyedRateLimiter::keyed(quota)) }
    }

    /// Takes one call from `address`, or says in how many seconds (at least 1) the next is allowed.
    pub fn check(&self, address: IpAddr) -> Result<(), u64> {
        self.limiter.check_key(&address).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets the addresses whose limit has recovered, so the table does not grow without end.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The address a call comes from: the last entry of `header` if set and readable, else the peer's.
pub fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, header: Option<&HeaderName>) -> IpAddr {
    let forwarded = header
        .and_then(|name| headers.get_all(name).iter().next_back())
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.rsplit(',').next())
        .and_then(|last| last.trim().parse::<IpAddr>().ok());
    forwarded.or(peer).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_a_wait() {
        let limit = RateLimit { per_minute: NonZeroU32::new(1).unwrap(), burst: NonZeroU32::new(2).unwrap() };
        let limiter = Limiter::new(limit);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_ok());
        let wait = limiter.check(a).unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        // Another address has its own limit.
        assert!(limiter.check(b).is_ok());
    }

    #[test]
    fn the_last_forwarded_address_counts() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "1.2.3.4, 5.6.7.8".parse().unwrap());
        let name = HeaderName::from_static("x-forwarded-for");
        let peer = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(client_address(peer, &headers, Some(&name)), "5.6.7.8".parse::<IpAddr>().unwrap());
        assert_eq!(client_address(peer, &headers, None), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(client_address(peer, &HeaderMap::new(), Some(&name)), IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
}
