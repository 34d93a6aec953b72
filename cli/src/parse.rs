//! Reading what people type: prices, days, hours, market days, places and ids.
//!
//! Each parser says what it expected, with an example, so the message can be shown as it is.

use crate::error::{CliError, Result};
use quartier_core::domain::{Cell, Day};

fn usage(message: impl Into<String>) -> CliError {
    CliError::Usage(message.into())
}

/// A price as people write it ("2.50", "2,50", "3") in cents.
pub fn price_cents(text: &str) -> Result<i64> {
    let text = text.trim().trim_end_matches(['€', '$', '£']).trim();
    let bad = || usage(format!("{text:?} is not a price: write it like 2.50 (or 2,50), not negative"));
    let (units, cents) = match text.split_once(['.', ',']) {
        Some((units, cents)) => (units, cents),
        None => (text, ""),
    };
    if units.is_empty()
        || !units.chars().all(|c| c.is_ascii_digit())
        || cents.len() > 2
        || !cents.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let units: i64 = units.parse().map_err(|_| bad())?;
    let cents: i64 = if cents.is_empty() { 0 } else { format!("{cents:0<2}").parse().map_err(|_| bad())? };
    units.checked_mul(100).and_then(|u| u.checked_add(cents)).ok_or_else(bad)
}

/// Cents written back as a price ("2.50").
pub fn show_price(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

/// A day: `YYYY-MM-DD`, `today` or `tomorrow` (in the profile's time zone).
pub fn day(text: &str, today: Day) -> Result<Day> {
    match text.trim() {
        "today" => Ok(today),
        "tomorrow" => Ok(today.plus_days(1)),
        other => other.parse().map_err(|e: quartier_core::domain::day::BadDay| usage(e.to_string())),
    }
}

/// A time of day, `HH:MM`, in minutes after midnight (24:00 is the end of the day).
pub fn time_of_day(text: &str) -> Result<u16> {
    let bad = || usage(format!("{text:?} is not a time of day: write it like 08:30"));
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Opening hours, `HH:MM-HH:MM`.
pub fn hours(text: &str) -> Result<(u16, u16)> {
    let bad = || usage(format!("{text:?} are not hours: write them like 08:00-13:00"));
    let (open, close) = text.split_once('-').ok_or_else(bad)?;
    Ok((time_of_day(open).map_err(|_| bad())?, time_of_day(close).map_err(|_| bad())?))
}

pub fn show_time(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Market days: `sat,sun`, `tue,fri` or numbers 1 (Monday) to 7.
pub fn weekdays(text: &str) -> Result<Vec<u8>> {
    text.split(',')
        .map(|part| {
            let part = part.trim().to_ascii_lowercase();
            let by_name = WEEKDAYS.iter().position(|d| part.starts_with(d)).map(|i| i as u8 + 1);
            by_name.or_else(|| part.parse().ok().filter(|n| (1..=7).contains(n))).ok_or_else(|| {
                usage(format!("{part:?} is not a day of the week: write days like sat,sun or 6,7"))
            })
        })
        .collect()
}

pub fn show_weekdays(days: &[u8]) -> String {
    days.iter()
        .filter_map(|d| WEEKDAYS.get(usize::from(*d).wrapping_sub(1)))
        .copied()
        .collect::<Vec<_>>()
        .join(",")
}

/// A coarse place from `--lat/--lon` (turned into a cell here; the coordinates go no further) or
/// `--cell row:col`.
pub fn place(lat: Option<f64>, lon: Option<f64>, cell: Option<&str>) -> Result<Option<Cell>> {
    match (lat, lon, cell) {
        (None, None, None) => Ok(None),
        (Some(lat), Some(lon), None) => {
            Cell::from_coordinates(lat, lon).map(Some).map_err(|e| usage(e.to_string()))
        }
        (None, None, Some(cell)) => {
            cell.parse().map(Some).map_err(|e: quartier_core::domain::cell::BadCell| usage(e.to_string()))
        }
        _ => Err(usage("give a place either as --lat and --lon together, or as --cell row:col")),
    }
}

/// A quantity line of a pre-order: `PRODUCT:QUANTITY` (the product by id or shortened id).
pub fn order_line(text: &str) -> Result<(String, i64)> {
    let bad = || {
        usage(format!(
            "{text:?} is not an order line: write it like 3f9a21c0:2 (product id, colon, quantity)"
        ))
    };
    let (product, quantity) = text.rsplit_once(':').ok_or_else(bad)?;
    let quantity: i64 = quantity.trim().parse().map_err(|_| bad())?;
    Ok((product.trim().to_owned(), quantity))
}

/// A UTC offset: `+01:00`, `-05:30`, `+2` or `0`, in minutes.
pub fn utc_offset(text: &str) -> Result<i32> {
    let bad = || usage(format!("{text:?} is not a UTC offset: write it like +01:00 or -05:30"));
    let text = text.trim();
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m >= 60 {
        return Err(bad());
    }
    Ok(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices() {
        assert_eq!(price_cents("2.50").unwrap(), 250);
        assert_eq!(price_cents("2,5").unwrap(), 250);
        assert_eq!(price_cents("3").unwrap(), 300);
        assert_eq!(price_cents("0.07 €").unwrap(), 7);
        for bad in ["-1", "2.505", "abc", "", ".5", "99999999999999999999"] {
            assert!(price_cents(bad).is_err(), "{bad}");
        }
        assert_eq!(show_price(250), "2.50");
    }

    #[test]
    fn days_hours_and_weekdays() {
        let today: Day = "2026-11-22".parse().unwrap();
        assert_eq!(day("tomorrow", today).unwrap().to_string(), "2026-11-23");
        assert!(day("someday", today).is_err());
        assert_eq!(hours("08:00-13:30").unwrap(), (480, 810));
        assert!(hours("8h-13h").is_err());
        assert!(time_of_day("24:30").is_err());
        assert_eq!(weekdays("sat,Sunday").unwrap(), vec![6, 7]);
        assert_eq!(weekdays("2,5").unwrap(), vec![2, 5]);
        assert!(weekdays("someday").is_err());
        assert_eq!(show_weekdays(&[6, 7]), "sat,sun");
    }

    #[test]
    fn places_lines_and_offsets() {
        assert!(place(Some(48.85), Some(2.38), None).unwrap().is_some());
        assert!(place(Some(48.85), None, None).is_err());
        assert!(place(Some(120.0), Some(2.0), None).is_err());
        assert_eq!(order_line("abc:3").unwrap(), ("abc".to_owned(), 3));
        assert!(order_line("abc").is_err());
        assert_eq!(utc_offset("+01:00").unwrap(), 60);
        assert_eq!(utc_offset("-05:30").unwrap(), -330);
        assert!(utc_offset("+25").is_err());
    }
}
