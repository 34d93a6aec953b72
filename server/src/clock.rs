//! The server's clock: wall time for the rules' `now_ms` (an invitation's expiry), and a hybrid
//! logical clock for the mutations the server makes itself (a newcomer's `member.join`).
//!
//! The HLC observes every stamp the server applies, so a stamp it issues comes after everything it has
//! seen, as a device's does after a pull. It starts afresh at each start; its stamps are still close to
//! wall time, which is all a join needs.
//!
//! Time comes from `Config::now`: tests give their own to move the server's clock without the devices'.

use quartier_core::domain::{Hlc, HlcClock};
use std::sync::{Mutex, PoisonError};

/// The node name of the server's stamps (a device id no device can have: ids have no `:`).
const SERVER_NODE: &str = "server:quartier";

#[derive(Debug)]
pub struct Clock {
    now: fn() -> i64,
    hlc: Mutex<HlcClock>,
}

/// The current time in Unix milliseconds.
pub fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Clock {
    pub fn new(now: fn() -> i64) -> Clock {
        Clock { now, hlc: Mutex::new(HlcClock::new(SERVER_NODE)) }
    }

    pub fn now_ms(&self) -> i64 {
        (self.now)()
    }

    /// A fresh stamp, after every stamp issued or observed so far.
    pub fn stamp(&self) -> Hlc {
        let wall = u64::try_from(self.now_ms()).unwrap_or(0);
        self.hlc.lock().unwrap_or_else(PoisonError::into_inner).tick(wall)
    }

    pub fn observe(&self, stamp: Hlc) {
        self.hlc.lock().unwrap_or_else(PoisonError::into_inner).observe(stamp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_come_after_what_was_observed() {
        let clock = Clock::new(|| 1_000);
        let first = clock.stamp();
        let remote = Hlc::new(5_000, 3, 7);
        clock.observe(remote);
        let next = clock.stamp();
        assert!(first < next && remote < next, "{first:?} {remote:?} {next:?}");
    }
}
