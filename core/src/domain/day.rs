//! Calendar days, for loan periods and pickup days.
//!
//! A [`Day`] is a civil date with no time zone, written `YYYY-MM-DD`. Loans run from a first day to a
//! last day, both included, so "Saturday to Sunday" is two days. Turning an instant into "today"
//! needs the user's UTC offset, which only the caller knows.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::{Date, format_description::BorrowedFormatItem, macros::format_description};

const ISO: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// A civil date between the years 2000 and 2200, stored as days since 1970-01-01.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(i32);

const UNIX_EPOCH_JULIAN: i32 = 2_440_588;
/// The first day Quartier accepts (2000-01-01).
pub const FIRST_DAY: Day = Day(10_957);
/// The last day Quartier accepts (2200-12-31).
pub const LAST_DAY: Day = Day(84_370);

/// The text is not a date, or is outside 2000–2200.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a day is written YYYY-MM-DD, between 2000-01-01 and 2200-12-31, not {0:?}")]
pub struct BadDay(pub String);

impl Day {
    /// The day with this many days since 1970-01-01, if it is within the accepted range.
    pub fn from_days_since_epoch(days: i32) -> Option<Day> {
        (FIRST_DAY.0..=LAST_DAY.0).contains(&days).then_some(Day(days))
    }

    pub fn days_since_epoch(self) -> i32 {
        self.0
    }

    /// The day an instant falls on, for someone at `utc_offset_minutes` from UTC.
    pub fn of_instant(unix_ms: i64, utc_offset_minutes: i32) -> Day {
        let local_ms = unix_ms + i64::from(utc_offset_minutes) * 60_000;
        let days = local_ms.div_euclid(86_400_000) as i32;
        Day(days.clamp(FIRST_DAY.0, LAST_DAY.0))
    }

    /// The instant (Unix milliseconds) at which this day begins, for someone at `utc_offset_minutes`.
    pub fn start_ms(self, utc_offset_minutes: i32) -> i64 {
        i64::from(self.0) * 86_400_000 - i64::from(utc_offset_minutes) * 60_000
    }

    /// The day `n` days later (or earlier for negative `n`), kept within the accepted range.
    pub fn plus_days(self, n: i32) -> Day {
        Day(self.0.saturating_add(n).clamp(FIRST_DAY.0, LAST_DAY.0))
    }

    /// Days from `self` to `later` (negative if `later` is before).
    pub fn days_until(self, later: Day) -> i32 {
        later.0 - self.0
    }

    fn date(self) -> Date {
        // Within FIRST_DAY..=LAST_DAY every value is a valid date.
        Date::from_julian_day(self.0 + UNIX_EPOCH_JULIAN).unwrap_or(Date::MIN)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.date().format(ISO).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl fmt::Debug for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Day({self})")
    }
}

impl std::str::FromStr for Day {
    type Err = BadDay;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let date = Date::parse(s.trim(), ISO).map_err(|_| BadDay(s.to_owned()))?;
        Day::from_days_since_epoch(date.to_julian_day() - UNIX_EPOCH_JULIAN)
            .ok_or_else(|| BadDay(s.to_owned()))
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_range_is_enforced() {
        let day: Day = "2026-11-22".parse().unwrap();
        assert_eq!(day.to_string(), "2026-11-22");
        assert_eq!(day.plus_days(10).to_string(), "2026-12-02");
        assert_eq!("2000-01-01".parse::<Day>().unwrap(), FIRST_DAY);
        assert_eq!("2200-12-31".parse::<Day>().unwrap(), LAST_DAY);
        for bad in ["1999-12-31", "2201-01-01", "2026-02-30", "tomorrow", ""] {
            assert!(bad.parse::<Day>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_day_of_an_instant_depends_on_the_offset() {
        let day: Day = "2026-11-22".parse().unwrap();
        let midnight_utc = day.start_ms(0);
        assert_eq!(Day::of_instant(midnight_utc, 0), day);
        assert_eq!(Day::of_instant(midnight_utc - 1, 0), day.plus_days(-1));
        // 23:30 UTC the day before is already the 22nd in Paris (UTC+1).
        assert_eq!(Day::of_instant(midnight_utc - 30 * 60_000, 60), day);
        assert_eq!(day.start_ms(60), midnight_utc - 3_600_000);
    }
}
