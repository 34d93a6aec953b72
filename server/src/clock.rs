//! The server's clock: wall time for the rules' `now_ms` (an invitation's expiry), and a hybrid
//! logical clock for the mutations the server makes itself (a newcomer's `member.join`).
//!
//! The HLC observes every stamp the server applies, so a stamp it issues comes after everything it has
//! seen, as a device's does after a pull. It starts afresh at each start; its stamps are still close to
//! wall time, which is all a join needs. A device's stamp too far ahead of the server's time (its clock
//! set wrong: `Hlc::is_ahead_of`) is neither observed nor applied: the mutation is applied with a stamp
//! of this clock instead ([`Clock::admit`]).
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

    /// The stamp a device's mutation stamped `stamp` is applied with: its own, which this clock then
    /// observes; or, if it was taken more than `MAX_AHEAD_MS` after this clock's time, a fresh stamp of
    /// this clock, after everything applied so far (so the device's later edits still come after its
    /// earlier ones).
    pub fn admit(&self, stamp: Hlc) -> Hlc {
        let wall = u64::try_from(self.now_ms()).unwrap_or(0);
        let mut hlc = self.hlc.lock().unwrap_or_else(PoisonError::into_inner);
        if stamp.is_ahead_of(wall) {
            hlc.tick(wall)
        } else {
            hlc.observe(stamp);
            stamp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quartier_core::domain::hlc::MAX_AHEAD_MS;

    #[test]
    fn stamps_come_after_what_was_admitted() {
        let clock = Clock::new(|| 1_000);
        let first = clock.stamp();
        let remote = Hlc::new(5_000, 3, 7);
        assert_eq!(clock.admit(remote), remote);
        let next = clock.stamp();
        assert!(first < next && remote < next, "{first:?} {remote:?} {next:?}");
    }

    #[test]
    fn a_stamp_too_far_ahead_is_replaced_by_one_of_the_clock_after_all_it_admitted() {
        let clock = Clock::new(|| 1_000_000);
        let near = Hlc::new(1_050_000, 0, 7);
        assert_eq!(clock.admit(near), near);
        let year = 365 * 24 * 3_600_000;
        let far = Hlc::new(1_000_000 + year, 0, 7);
        let admitted = clock.admit(far);
        assert!(admitted > near && admitted.wall_ms() <= 1_000_000 + MAX_AHEAD_MS, "{admitted:?}");
        // The clock did not move a year ahead: its own stamps stay near its time.
        assert!(clock.stamp().wall_ms() <= 1_000_000 + MAX_AHEAD_MS);
    }
}
