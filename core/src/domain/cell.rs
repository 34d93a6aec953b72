//! Coarse locations: the only kind of place Quartier stores or shares.
//!
//! The surface of the earth is cut into cells of about [`CELL_SIZE_M`] metres a side: bands of equal
//! latitude, each cut into equal longitude steps wide enough that cells stay roughly square away from
//! the equator. A coordinate is turned into its cell on the device, at once, and the coordinate is
//! dropped: no table, payload or log ever holds one. Distances are measured between cell centres and
//! rounded to [`DISTANCE_STEP_M`], so nobody can learn more than the cell a neighbour lives in.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The side of a cell, in metres.
pub const CELL_SIZE_M: f64 = 800.0;
/// Distances are shown rounded to this many metres.
pub const DISTANCE_STEP_M: u32 = 500;

const EARTH_RADIUS_M: f64 = 6_371_008.8;
const METRES_PER_DEGREE: f64 = 111_195.08; // on the mean sphere above
const BAND_DEG: f64 = CELL_SIZE_M / METRES_PER_DEGREE;

/// A coarse cell: a latitude band (row) and a longitude step within it (col).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cell {
    pub row: u32,
    pub col: u32,
}

/// A coordinate that is not on the earth.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("latitude must be between -90 and 90 and longitude between -180 and 180 (got {lat}, {lon})")]
pub struct BadCoordinate {
    pub lat: f64,
    pub lon: f64,
}

fn rows() -> u32 {
    (180.0 / BAND_DEG).ceil() as u32
}

fn cols_in_row(row: u32) -> u32 {
    let lat_centre = -90.0 + (f64::from(row) + 0.5) * BAND_DEG;
    let circumference_m = 360.0 * METRES_PER_DEGREE * lat_centre.to_radians().cos();
    ((circumference_m / CELL_SIZE_M).floor() as u32).max(1)
}

impl Cell {
    /// The cell holding a coordinate. The coordinate itself is not kept.
    pub fn from_coordinates(lat: f64, lon: f64) -> Result<Cell, BadCoordinate> {
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return Err(BadCoordinate { lat, lon });
        }
        let row = (((lat + 90.0) / BAND_DEG).floor() as u32).min(rows() - 1);
        let cols = cols_in_row(row);
        let col = (((lon + 180.0) / 360.0 * f64::from(cols)).floor() as u32).min(cols - 1);
        Ok(Cell { row, col })
    }

    /// Whether the cell exists on the grid (a cell read from the network may not).
    pub fn is_valid(self) -> bool {
        self.row < rows() && self.col < cols_in_row(self.row)
    }

    /// The centre of the cell, in degrees. Only for measuring distances and drawing maps.
    pub fn centre(self) -> (f64, f64) {
        let lat = -90.0 + (f64::from(self.row) + 0.5) * BAND_DEG;
        let lon = -180.0 + (f64::from(self.col) + 0.5) * 360.0 / f64::from(cols_in_row(self.row));
        (lat, lon)
    }

    /// Great-circle distance between the two centres, in metres, not rounded.
    pub fn centre_distance_m(self, other: Cell) -> f64 {
        let (lat1, lon1) = self.centre();
        let (lat2, lon2) = other.centre();
        let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
        let dp = p2 - p1;
        let dl = (lon2 - lon1).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().asin()
    }

    /// The distance that may be shown: between centres, rounded to the nearest [`DISTANCE_STEP_M`].
    /// Two places in one cell are 0 m apart.
    pub fn distance_m(self, other: Cell) -> u32 {
        let step = f64::from(DISTANCE_STEP_M);
        ((self.centre_distance_m(other) / step).round() * step) as u32
    }

    /// The latitude bands within `radius_m` of this cell, for narrowing a nearest-first search.
    pub fn rows_within(self, radius_m: f64) -> std::ops::RangeInclusive<u32> {
        // `as` saturates for huge or infinite radii; the band then covers the whole grid.
        let span = ((radius_m / CELL_SIZE_M).ceil() as u32).saturating_add(1);
        self.row.saturating_sub(span)..=self.row.saturating_add(span).min(rows() - 1)
    }

    /// The longitude steps (`col`) of every cell within `radius_m` of this cell whose row is in
    /// [`Cell::rows_within`] (the union over those rows, whose numbers of steps differ), for narrowing a
    /// nearest-first search further; `None` when the cells within reach go round the earth or across
    /// the antimeridian, and every column may hold one.
    pub fn cols_within(self, radius_m: f64) -> Option<std::ops::RangeInclusive<u32>> {
        let half_angle = radius_m / (2.0 * EARTH_RADIUS_M);
        if !(0.0..std::f64::consts::FRAC_PI_2).contains(&half_angle) {
            return None;
        }
        let rows = self.rows_within(radius_m);
        let lat = |row: u32| -90.0 + (f64::from(row) + 0.5) * BAND_DEG;
        // Between two centres within reach, sin(Δlon/2) ≤ sin(r/2R) / √(cos φ1 cos φ2) (haversine),
        // and the cosines are smallest at the band's edge furthest from the equator.
        let cos_min = [lat(*rows.start()), lat(*rows.end()), lat(self.row)]
            .into_iter()
            .map(|l| l.to_radians().cos())
            .fold(f64::INFINITY, f64::min);
        let ratio = half_angle.sin() / cos_min;
        if !(cos_min > 0.0 && ratio < 1.0) {
            return None;
        }
        let reach_deg = 2.0 * ratio.asin().to_degrees();
        let (_, lon) = self.centre();
        let (west, east) = (lon - reach_deg, lon + reach_deg);
        if west < -180.0 || east > 180.0 {
            return None;
        }
        let (mut first, mut last) = (u32::MAX, 0);
        for row in rows {
            let cols = f64::from(cols_in_row(row));
            // A centre at col c is at -180 + (c + 0.5) · 360 / cols; one step of margin each side
            // against rounding.
            let from = ((west + 180.0) / 360.0 * cols - 0.5).ceil() - 1.0;
            let to = ((east + 180.0) / 360.0 * cols - 0.5).floor() + 1.0;
            first = first.min(from.max(0.0) as u32);
            last = last.max((to.max(0.0) as u32).min(cols as u32 - 1));
        }
        (first <= last).then_some(first..=last)
    }

    /// The spans of cells that may lie within `radius_m` of this cell, centre to centre: for each row
    /// of [`Cell::rows_within`] that can hold one, the range of its columns around this cell's
    /// longitude (two ranges when they cross the antimeridian, the whole row when they go round the
    /// earth). Narrower than [`Cell::cols_within`], which is one range for every row of the band: the
    /// rows further north or south hold fewer cells within reach, and their column numbers drift.
    pub fn spans_within(self, radius_m: f64) -> Vec<(u32, std::ops::RangeInclusive<u32>)> {
        let mut spans = Vec::new();
        if radius_m.is_nan() || radius_m < 0.0 {
            return spans;
        }
        let lat = |row: u32| (-90.0 + (f64::from(row) + 0.5) * BAND_DEG).to_radians();
        let (here_lat, here_lon) = (lat(self.row), self.centre().1);
        // Haversine: a centre (φ, λ) is within reach when
        // sin²(Δφ/2) + cos φ1 cos φ sin²(Δλ/2) ≤ sin²(r/2R); a little slack against rounding.
        let half_angle = (radius_m / (2.0 * EARTH_RADIUS_M)).min(std::f64::consts::FRAC_PI_2);
        let reach = half_angle.sin().powi(2) * (1.0 + 1e-9) + 1e-15;
        for row in self.rows_within(radius_m) {
            let cols = cols_in_row(row);
            let left = reach - ((lat(row) - here_lat) / 2.0).sin().powi(2);
            if left < 0.0 {
                continue;
            }
            let ratio = left / (here_lat.cos() * lat(row).cos());
            let whole = || (row, 0..=cols - 1);
            if ratio >= 1.0 {
                spans.push(whole());
                continue;
            }
            let reach_deg = 2.0 * ratio.sqrt().asin().to_degrees();
            let per_col = f64::from(cols) / 360.0;
            // A centre at col c is at -180 + (c + 0.5) · 360 / cols; one step of margin each side
            // against rounding. Columns below 0 or from `cols` on are across the antimeridian.
            let from = ((here_lon - reach_deg + 180.0) * per_col - 0.5).ceil() as i64 - 1;
            let to = ((here_lon + reach_deg + 180.0) * per_col - 0.5).floor() as i64 + 1;
            let n = i64::from(cols);
            if to - from + 1 >= n {
                spans.push(whole());
                continue;
            }
            // In 0..n once shifted by at most one turn, since the span is narrower than the row.
            let wrap = |c: i64| u32::try_from(c.rem_euclid(n)).unwrap_or(0);
            let (from, to) = (wrap(from), wrap(to));
            if from <= to {
                spans.push((row, from..=to));
            } else {
                spans.push((row, 0..=to));
                spans.push((row, from..=cols - 1));
            }
        }
        spans
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.row, self.col)
    }
}

/// A cell written as `row:col` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a cell is written row:col with two whole numbers on the grid, not {0:?}")]
pub struct BadCell(pub String);

impl std::str::FromStr for Cell {
    type Err = BadCell;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadCell(s.to_owned());
        let (row, col) = s.split_once(':').ok_or_else(bad)?;
        let cell =
            Cell { row: row.trim().parse().map_err(|_| bad())?, col: col.trim().parse().map_err(|_| bad())? };
        if cell.is_valid() { Ok(cell) } else { Err(bad()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARIS_11E: (f64, f64) = (48.8590, 2.3800);

    #[test]
    fn every_cell_within_reach_is_in_the_columns_within() {
        let places = [PARIS_11E, (0.1, 10.0), (-33.9, 151.2), (64.1, -21.9), (78.2, 15.6), (35.0, 179.9)];
        for (lat, lon) in places {
            let here = Cell::from_coordinates(lat, lon).unwrap();
            for radius in [500.0, 2_000.0, 8_000.0, 20_000.0] {
                let Some(cols) = here.cols_within(radius) else { continue };
                for row in here.rows_within(radius) {
                    for col in 0..cols_in_row(row) {
                        let there = Cell { row, col };
                        if here.centre_distance_m(there) <= radius {
                            assert!(cols.contains(&col), "{here} {radius} m: {there} is not in {cols:?}");
                        }
                    }
                }
            }
        }
        // Round the earth, or across the antimeridian: no narrowing.
        let here = Cell::from_coordinates(PARIS_11E.0, PARIS_11E.1).unwrap();
        assert_eq!(here.cols_within(20_100_000.0), None);
        assert_eq!(Cell::from_coordinates(10.0, 179.99).unwrap().cols_within(2_000.0), None);
        // Nearby, a few dozen columns of the tens of thousands of the row (the union over the band's
        // rows, whose column numbers drift apart by a few columns a row).
        let cols = here.cols_within(2_000.0).unwrap();
        assert!(cols.end() - cols.start() <= 40, "{cols:?}");
    }

    /// Every cell within reach is in a span, at every latitude, near the poles and across the
    /// antimeridian; and the spans are little more than the circle they cover.
    #[test]
    fn every_cell_within_reach_is_in_a_span() {
        let places = [
            PARIS_11E,
            (0.1, 10.0),
            (-33.9, 151.2),
            (64.1, -21.9),
            (78.2, 15.6),
            (35.0, 179.9),
            (35.0, -179.99),
            (-60.0, 180.0),
            (89.99, 0.0),
            (-89.95, 100.0),
            (88.0, -179.5),
        ];
        for (lat, lon) in places {
            let here = Cell::from_coordinates(lat, lon).unwrap();
            for radius in [0.0, 500.0, 1_000.0, 2_000.0, 8_000.0, 20_000.0] {
                let spans = here.spans_within(radius);
                let mut inside = 0;
                for row in here.rows_within(radius) {
                    let of_row: Vec<_> = spans.iter().filter(|(r, _)| *r == row).collect();
                    assert!(of_row.len() <= 2, "{here} {radius} m: row {row} has {of_row:?}");
                    for col in 0..cols_in_row(row) {
                        let there = Cell { row, col };
                        let spanned = of_row.iter().any(|(_, cols)| cols.contains(&col));
                        if here.centre_distance_m(there) <= radius {
                            inside += 1;
                            assert!(spanned, "{here} {radius} m: {there} is in no span of {of_row:?}");
                        }
                    }
                }
                // Each row's spans stay on the grid, do not overlap, and are not much more than the
                // cells within reach: at most three columns of margin a row.
                let mut spanned = 0;
                for (row, cols) in &spans {
                    assert!(here.rows_within(radius).contains(row) && *cols.end() < cols_in_row(*row));
                    spanned += cols.end() - cols.start() + 1;
                }
                let rows = spans.iter().map(|(r, _)| *r).collect::<std::collections::BTreeSet<_>>().len();
                assert!(
                    spanned <= inside + 4 * rows as u32
                        || spans.iter().any(|(r, c)| c.end() - c.start() + 1 == cols_in_row(*r)),
                    "{here} {radius} m: {spanned} cells spanned for {inside} within reach"
                );
            }
        }
        // Around Paris, 2 km: five rows of a handful of columns, instead of nine rows of two dozen.
        let here = Cell::from_coordinates(PARIS_11E.0, PARIS_11E.1).unwrap();
        let spans = here.spans_within(2_000.0);
        assert_eq!(spans.len(), 5, "{spans:?}");
        assert!(spans.iter().all(|(_, cols)| cols.end() - cols.start() < 8), "{spans:?}");
        // Across the antimeridian: two spans in a row, at both ends.
        let east = Cell::from_coordinates(35.0, 179.99).unwrap();
        let spans = east.spans_within(2_000.0);
        let of_row: Vec<_> = spans.iter().filter(|(r, _)| *r == east.row).collect();
        assert_eq!(of_row.len(), 2, "{spans:?}");
        assert_eq!(*of_row[0].1.start(), 0);
        assert_eq!(*of_row[1].1.end(), cols_in_row(east.row) - 1);
        // Round the earth: whole rows.
        for (row, cols) in here.spans_within(WHOLE) {
            assert_eq!(cols, 0..=cols_in_row(row) - 1);
        }
        assert_eq!(here.spans_within(WHOLE).len(), rows() as usize);
        assert!(here.spans_within(f64::NAN).is_empty());
    }

    const WHOLE: f64 = 20_100_000.0;

    #[test]
    fn cells_are_a_few_hundred_metres_wide() {
        let cell = Cell::from_coordinates(PARIS_11E.0, PARIS_11E.1).unwrap();
        let north = Cell::from_coordinates(PARIS_11E.0 + BAND_DEG, PARIS_11E.1).unwrap();
        let east = Cell { row: cell.row, col: cell.col + 1 };
        let ns = cell.centre_distance_m(north);
        let ew = cell.centre_distance_m(east);
        assert!((700.0..900.0).contains(&ns), "north-south step {ns}");
        assert!((700.0..900.0).contains(&ew), "east-west step {ew}");
    }

    #[test]
    fn nearby_coordinates_share_a_cell_and_distances_are_rounded() {
        let a = Cell::from_coordinates(48.8590, 2.3800).unwrap();
        let b = Cell::from_coordinates(48.8591, 2.3801).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.distance_m(b), 0);
        let far = Cell::from_coordinates(48.8800, 2.3800).unwrap(); // about 2.3 km north
        let d = a.distance_m(far);
        assert_eq!(d % DISTANCE_STEP_M, 0);
        assert!((2_000..=2_500).contains(&d), "{d}");
    }

    #[test]
    fn poles_and_date_line_are_on_the_grid() {
        for (lat, lon) in [(90.0, 180.0), (-90.0, -180.0), (0.0, 180.0), (89.999, -179.999)] {
            let cell = Cell::from_coordinates(lat, lon).unwrap();
            assert!(cell.is_valid(), "{lat},{lon} -> {cell}");
        }
    }

    #[test]
    fn any_radius_gives_a_band_on_the_grid() {
        let cell = Cell::from_coordinates(PARIS_11E.0, PARIS_11E.1).unwrap();
        assert_eq!(cell.rows_within(0.0), cell.row - 1..=cell.row + 1);
        assert_eq!(cell.rows_within(f64::INFINITY), 0..=rows() - 1);
        assert_eq!(cell.rows_within(1e30), 0..=rows() - 1);
    }

    #[test]
    fn off_earth_coordinates_and_bad_text_are_refused() {
        assert!(Cell::from_coordinates(91.0, 0.0).is_err());
        assert!(Cell::from_coordinates(0.0, f64::NAN).is_err());
        assert!("12".parse::<Cell>().is_err());
        assert!("99999999:0".parse::<Cell>().is_err());
        let cell = Cell::from_coordinates(PARIS_11E.0, PARIS_11E.1).unwrap();
        assert_eq!(cell.to_string().parse::<Cell>().unwrap(), cell);
    }
}
