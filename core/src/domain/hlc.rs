//! Hybrid logical clock stamps.
//!
//! A stamp orders events across devices better than a wall clock alone: it never goes backwards on one
//! device, it moves past every stamp the device has seen from others, and it stays close to real time.
//! Concurrent edits of one field are settled by comparing stamps (last writer wins), so the order in
//! which mutations reach the server does not matter.
//!
//! A stamp packs the wall time in milliseconds (48 bits), a counter (16 bits) and a node id derived
//! from the device id (64 bits) into one `u128`. Its text form is 32 hex digits, so stamps sort the
//! same way as text (in SQLite) and as numbers (in Rust).
//!
//! A device's clock can be wrong: set by hand, or a year off. Its stamps would then win every edit of
//! the same field by others until that date, and every clock that saw them would move there too. So the
//! server applies a mutation stamped more than [`MAX_AHEAD_MS`] after its own time with a stamp of its
//! own clock instead ([`Hlc::is_ahead_of`]; `server/src/clock.rs`), which orders it by its arrival: what
//! others pull never carries such a stamp. A clock behind is no harm: stamps move past what they see.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// One hybrid logical clock stamp. Ordered by wall time, then counter, then node.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hlc(u128);

const WALL_BITS: u32 = 48;
const COUNTER_BITS: u32 = 16;
const NODE_BITS: u32 = 64;
const MAX_WALL: u64 = (1 << WALL_BITS) - 1;
const MAX_COUNTER: u32 = (1 << COUNTER_BITS) - 1;

/// How far ahead of the server's clock a device's stamp may be (see the module's documentation): more
/// than phones synchronised over the network ever are apart, little enough that a clock set wrong
/// does not decide which of two edits stands.
pub const MAX_AHEAD_MS: u64 = 60_000;

impl Hlc {
    /// The smallest stamp: older than anything a clock produces.
    pub const ZERO: Hlc = Hlc(0);

    /// Builds a stamp from its parts. Wall times beyond year 10889 are clamped.
    pub fn new(wall_ms: u64, counter: u16, node: u64) -> Hlc {
        let wall = u128::from(wall_ms.min(MAX_WALL));
        Hlc((wall << (COUNTER_BITS + NODE_BITS)) | (u128::from(counter) << NODE_BITS) | u128::from(node))
    }

    /// Milliseconds since the Unix epoch at which the stamp was taken (as the device saw it).
    pub fn wall_ms(self) -> u64 {
        (self.0 >> (COUNTER_BITS + NODE_BITS)) as u64
    }

    pub fn counter(self) -> u16 {
        ((self.0 >> NODE_BITS) & u128::from(MAX_COUNTER)) as u16
    }

    pub fn node(self) -> u64 {
        self.0 as u64
    }

    /// Whether the stamp was taken more than [`MAX_AHEAD_MS`] after `now_ms`: by a clock set wrong.
    pub fn is_ahead_of(self, now_ms: u64) -> bool {
        self.wall_ms() > now_ms.saturating_add(MAX_AHEAD_MS)
    }

    /// The node id of a device: a stable 64-bit digest (FNV-1a) of its id.
    pub fn node_of(device_id: &str) -> u64 {
        device_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hlc({}.{}@{:x})", self.wall_ms(), self.counter(), self.node())
    }
}

/// The text is not 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a clock stamp is 32 hexadecimal digits, not {0:?}")]
pub struct BadHlc(String);

impl FromStr for Hlc {
    type Err = BadHlc;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 32 {
            return Err(BadHlc(s.to_owned()));
        }
        u128::from_str_radix(s, 16).map(Hlc).map_err(|_| BadHlc(s.to_owned()))
    }
}

impl Serialize for Hlc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The clock of one device (or of the server). Not thread-safe by itself: the store owns one behind its
/// writer lock.
#[derive(Debug, Clone)]
pub struct HlcClock {
    node: u64,
    last: Hlc,
}

impl HlcClock {
    pub fn new(device_id: &str) -> HlcClock {
        HlcClock { node: Hlc::node_of(device_id), last: Hlc::ZERO }
    }

    /// Resumes a clock after a restart, so that it never issues a stamp below one it issued before.
    pub fn resume(device_id: &str, last: Hlc) -> HlcClock {
        HlcClock { node: Hlc::node_of(device_id), last }
    }

    pub fn last(&self) -> Hlc {
        self.last
    }

    /// A fresh stamp for a local event at wall time `now_ms`: greater than every stamp seen so far.
    pub fn tick(&mut self, now_ms: u64) -> Hlc {
        let last_wall = self.last.wall_ms();
        let stamp = if now_ms > last_wall {
            Hlc::new(now_ms, 0, self.node)
        } else if self.last.counter() < MAX_COUNTER as u16 {
            Hlc::new(last_wall, self.last.counter() + 1, self.node)
        } else {
            // 65,535 events in one millisecond: borrow the next millisecond rather than repeat a stamp.
            Hlc::new(last_wall + 1, 0, self.node)
        };
        self.last = stamp;
        stamp
    }

    /// Takes note of a stamp received from another device, so that the next local stamp comes after it.
    pub fn observe(&mut self, remote: Hlc) {
        if remote.wall_ms() > self.last.wall_ms()
            || (remote.wall_ms() == self.last.wall_ms() && remote.counter() > self.last.counter())
        {
            self.last = Hlc::new(remote.wall_ms(), remote.counter(), self.node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip_and_text_sorts_like_numbers() {
        let a = Hlc::new(1_700_000_000_000, 3, 42);
        assert_eq!((a.wall_ms(), a.counter(), a.node()), (1_700_000_000_000, 3, 42));
        let b = Hlc::new(1_700_000_000_000, 4, 1);
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
        assert_eq!(a.to_string().parse::<Hlc>().unwrap(), a);
        assert_eq!(serde_json::from_str::<Hlc>(&serde_json::to_string(&a).unwrap()).unwrap(), a);
    }

    #[test]
    fn bad_text_is_refused() {
        assert!("xyz".parse::<Hlc>().is_err());
        assert!("g".repeat(32).parse::<Hlc>().is_err());
    }

    #[test]
    fn clock_never_goes_backwards_even_when_the_wall_clock_does() {
        let mut clock = HlcClock::new("device-a");
        let first = clock.tick(1_000);
        let second = clock.tick(900);
        let third = clock.tick(900);
        assert!(first < second && second < third);
        assert_eq!(second.wall_ms(), 1_000);
    }

    #[test]
    fn clock_moves_past_what_it_observes() {
        let mut clock = HlcClock::new("device-a");
        clock.tick(1_000);
        let remote = Hlc::new(5_000, 7, Hlc::node_of("device-b"));
        clock.observe(remote);
        let next = clock.tick(2_000);
        assert!(next > remote);
    }

    #[test]
    fn a_stamp_is_ahead_beyond_a_minute() {
        let now = 1_700_000_000_000;
        assert!(!Hlc::new(now + MAX_AHEAD_MS, 9, 1).is_ahead_of(now));
        assert!(Hlc::new(now + MAX_AHEAD_MS + 1, 0, 1).is_ahead_of(now));
        assert!(!Hlc::new(0, 0, 1).is_ahead_of(now));
        assert!(!Hlc::new(u64::MAX, 0, 1).is_ahead_of(u64::MAX));
    }

    #[test]
    fn counter_overflow_borrows_the_next_millisecond() {
        let mut clock = HlcClock::resume("d", Hlc::new(10, u16::MAX, Hlc::node_of("d")));
        let next = clock.tick(10);
        assert_eq!((next.wall_ms(), next.counter()), (11, 0));
    }
}
