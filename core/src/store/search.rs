//! Full-text search over favours, items and products, offline, with SQLite's FTS5.
//!
//! The search tables (`favours_fts`, `items_fts`, `products_fts`, kept in step by `rows.rs`) share the
//! rowid of their entity's row and fold case and accents (`unicode61 remove_diacritics 2`), so
//! "perceuse" finds "Perceuse" and "pates" finds "pâtes". What a person types is never passed to FTS5
//! as a query: it is cut into words, and each word becomes a quoted phrase with a trailing `*`, so every
//! word must match the start of a word and no operator (`OR`, `NEAR`, `-`, `"`, `*`, `(`) can be
//! injected. Hits are ranked with `bm25` (a title counts more than a description), best first; a
//! place only filters (`within_m`) and shows a distance.
//!
//! To make another kind searchable: give it a search table in a new migration, index it in `rows.rs`,
//! and add a [`Source`] below.

use super::Store;
use super::error::{Result, StoreError};
use super::queries::{HALF_STEP_M, Page, Place, cell_of};
use crate::domain::{Cell, EntityKind};
use rusqlite::Connection;
use rusqlite::types::Value;

/// What to search and where. The default searches favours, items and products that are open.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchFilter {
    /// Which kinds to search, among favours, items and products; empty means all three.
    pub kinds: Vec<EntityKind>,
    /// Only favours and items of this category (products have none, so they are left out).
    pub category: Option<String>,
    /// Show the distance from this cell.
    pub near: Option<Cell>,
    /// With `near`: only what is at most this far, as the distance is shown (rounded).
    pub within_m: Option<u32>,
    /// Only open favours, items still lent and products on sale (removed products are never found).
    pub open_only: bool,
}

impl Default for SearchFilter {
    fn default() -> SearchFilter {
        SearchFilter { kinds: Vec::new(), category: None, near: None, within_m: None, open_only: true }
    }
}

/// One thing found.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchHit {
    pub kind: EntityKind,
    pub id: String,
    /// The favour's or item's title, or the product's name.
    pub title: String,
    /// A favour's details or an item's description around the words found (`…` where cut); for a
    /// product, its unit and stall ("Sold by the kg at Chez Tom").
    pub snippet: String,
    /// The favour's or item's category; `None` for a product.
    pub category: Option<String>,
    /// From the filter's `near` cell, when one was given and the thing has a place (a product has its
    /// stall's).
    pub distance_m: Option<u32>,
}

/// The kinds that can be searched, in the order ties are listed.
pub const SEARCHABLE: [EntityKind; 3] = [EntityKind::Favour, EntityKind::Item, EntityKind::Product];

/// Words beyond this many are ignored: no one types more, and each costs a lookup.
const MAX_WORDS: usize = 16;

/// Turns typed text into an FTS5 query: each word a quoted phrase matching word starts, all required.
/// `None` when there is no word to search for.
fn match_expression(text: &str) -> Option<String> {
    let words: Vec<String> = text
        // ASCII punctuation is where FTS5's syntax lives: it only ever separates words here.
        .split(|c: char| c.is_whitespace() || (c.is_ascii() && !c.is_ascii_alphanumeric()))
        .filter(|word| word.chars().any(char::is_alphanumeric))
        .take(MAX_WORDS)
        .map(|word| format!("\"{}\"*", word.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// How one kind is searched.
struct Source {
    kind: EntityKind,
    /// Selects id, title, text (a product's unit; nothing for the others), stall name, category,
    /// cell_row, cell_col, score and the row of the search table, for the parameters (match expression,
    /// neighbourhood), followed by the conditions below.
    select: &'static str,
    /// Selects the row and the snippet of the given rows (`?2`, a JSON array) among the matches of `?1`.
    /// Snippets are made for the page shown only: made in `select`, one was built for every match
    /// before the best were picked, which cost far more than finding and ranking them.
    snippets: Option<&'static str>,
    open: &'static str,
    category: Option<&'static str>,
    cell_row: &'static str,
}

const FAVOURS: Source = Source {
    kind: EntityKind::Favour,
    select: "SELECT e.id, favours_fts.title, NULL, NULL, e.category, \
             e.cell_row, e.cell_col, bm25(favours_fts, 4.0, 1.0, 2.0) AS score, favours_fts.rowid \
             FROM favours_fts JOIN favours e ON e.rowid = favours_fts.rowid \
             WHERE favours_fts MATCH ? AND e.neighbourhood_id = ?",
    snippets: Some(
        "SELECT rowid, snippet(favours_fts, 1, '', '', '…', 12) FROM favours_fts \
         WHERE favours_fts MATCH ?1 AND +rowid IN (SELECT value FROM json_each(?2))",
    ),
    open: "e.status = 'open'",
    category: Some("e.category = ?"),
    cell_row: "e.cell_row",
};

const ITEMS: Source = Source {
    kind: EntityKind::Item,
    select: "SELECT e.id, items_fts.title, NULL, NULL, e.category, \
             e.cell_row, e.cell_col, bm25(items_fts, 4.0, 1.0, 2.0) AS score, items_fts.rowid \
             FROM items_fts JOIN items e ON e.rowid = items_fts.rowid \
             WHERE items_fts MATCH ? AND e.neighbourhood_id = ?",
    snippets: Some(
        "SELECT rowid, snippet(items_fts, 1, '', '', '…', 12) FROM items_fts \
         WHERE items_fts MATCH ?1 AND +rowid IN (SELECT value FROM json_each(?2))",
    ),
    open: "e.withdrawn = 0",
    category: Some("e.category = ?"),
    cell_row: "e.cell_row",
};

const PRODUCTS: Source = Source {
    kind: EntityKind::Product,
    select: "SELECT e.id, products_fts.name, products_fts.unit, json_extract(s.data, '$.data.name'), NULL, s.cell_row, s.cell_col, \
             bm25(products_fts, 4.0, 1.0) AS score, products_fts.rowid \
             FROM products_fts JOIN products e ON e.rowid = products_fts.rowid \
             LEFT JOIN stalls s ON s.neighbourhood_id = e.neighbourhood_id AND s.id = e.stall_id \
             WHERE products_fts MATCH ? AND e.neighbourhood_id = ?",
    snippets: None,
    open: "e.removed = 0",
    category: None,
    cell_row: "s.cell_row",
};

impl Source {
    fn of(kind: EntityKind) -> Option<&'static Source> {
        match kind {
            EntityKind::Favour => Some(&FAVOURS),
            EntityKind::Item => Some(&ITEMS),
            EntityKind::Product => Some(&PRODUCTS),
            _ => None,
        }
    }
}

/// A hit and its score (bm25: lower is better), before the kinds are merged.
struct Scored {
    score: f64,
    order: usize,
    /// The row of the search table, for the snippet.
    rowid: i64,
    hit: SearchHit,
}

impl Store {
    /// Searches a neighbourhood's favours, items and products for the words typed, best match first.
    pub fn search(&self, nid: &str, text: &str, filter: &SearchFilter, page: Page) -> Result<Vec<SearchHit>> {
        let page = page.checked()?;
        let place = Place::of(filter.near, filter.within_m)?;
        let expression = match_expression(text).ok_or_else(|| {
            StoreError::Invalid("There is nothing to search for: type a word, or the start of one.".into())
        })?;
        let mut sources: Vec<&Source> = Vec::new();
        for &kind in if filter.kinds.is_empty() { &SEARCHABLE[..] } else { &filter.kinds[..] } {
            let source = Source::of(kind).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "Only favours, items and products can be searched, not {}s.",
                    kind.as_str()
                ))
            })?;
            if !sources.iter().any(|s| s.kind == kind) {
                sources.push(source);
            }
        }
        self.read(|conn| {
            let mut scored = Vec::new();
            for source in sources {
                if filter.category.is_some() && source.category.is_none() {
                    continue;
                }
                scored.extend(search_one(conn, nid, source, &expression, filter, place, page)?);
            }
            scored.sort_by(|a, b| {
                a.score.total_cmp(&b.score).then(a.order.cmp(&b.order)).then_with(|| a.hit.id.cmp(&b.hit.id))
            });
            let mut shown = page.slice(scored);
            add_snippets(conn, &expression, &mut shown)?;
            Ok(shown.into_iter().map(|s| s.hit).collect())
        })
    }
}

/// The best hits of one kind: enough of them for the page once merged with the other kinds' (the
/// first `offset + limit` of the merged list are among the first `offset + limit` of each kind).
fn search_one(
    conn: &Connection,
    nid: &str,
    source: &Source,
    expression: &str,
    filter: &SearchFilter,
    place: Option<Place>,
    page: Page,
) -> Result<Vec<Scored>> {
    let context = "searching";
    let mut sql = String::from(source.select);
    let mut values = vec![Value::Text(expression.to_owned()), Value::Text(nid.to_owned())];
    if filter.open_only {
        sql.push_str(" AND ");
        sql.push_str(source.open);
    }
    if let (Some(condition), Some(category)) = (source.category, &filter.category) {
        sql.push_str(" AND ");
        sql.push_str(condition);
        values.push(Value::Text(category.clone()));
    }
    let within = place.filter(|p| p.within_m.is_some());
    if let Some(place) = within {
        // Only the rows that can be close enough; the exact distance is checked below, so every hit
        // is read and the page is cut after.
        let rows = place.near.rows_within(place.within_m.map_or(0.0, f64::from) + HALF_STEP_M);
        sql.push_str(&format!(" AND {} BETWEEN ? AND ?", source.cell_row));
        values.push(Value::Integer(i64::from(*rows.start())));
        values.push(Value::Integer(i64::from(*rows.end())));
        sql.push_str(" ORDER BY score, e.id");
    } else {
        sql.push_str(" ORDER BY score, e.id LIMIT ?");
        values.push(Value::Integer(i64::try_from(page.end()).unwrap_or(i64::MAX)));
    }
    let order = SEARCHABLE.iter().position(|k| *k == source.kind).unwrap_or(SEARCHABLE.len());
    let mut stmt = conn.prepare_cached(&sql).map_err(StoreError::sqlite(context))?;
    let mut rows = stmt.query(rusqlite::params_from_iter(values)).map_err(StoreError::sqlite(context))?;
    let mut found = Vec::new();
    while let Some(row) = rows.next().map_err(StoreError::sqlite(context))? {
        let read = |row: &rusqlite::Row<'_>| -> rusqlite::Result<_> {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                row.get::<_, Option<String>>(3)?,
                row.get::<_, Option<String>>(4)?,
                cell_of(row.get(5)?, row.get(6)?),
                row.get::<_, f64>(7)?,
                row.get::<_, i64>(8)?,
            ))
        };
        let (id, title, text, stall, category, cell, score, rowid) =
            read(row).map_err(StoreError::sqlite(context))?;
        let distance_m = place.zip(cell).map(|(place, cell)| place.near.distance_m(cell));
        if let Some(place) = within {
            if !distance_m.is_some_and(|d| place.reaches(d)) {
                continue;
            }
        }
        let snippet = match source.kind {
            EntityKind::Product => match stall {
                Some(stall) => format!("Sold by the {text} at {stall}"),
                None => format!("Sold by the {text}"),
            },
            _ => text,
        };
        found.push(Scored {
            score,
            order,
            rowid,
            hit: SearchHit { kind: source.kind, id, title, snippet, category, distance_m },
        });
    }
    Ok(found)
}

/// Fills in the snippets of the hits shown (favours and items; a product's is made already), one
/// query per kind.
fn add_snippets(conn: &Connection, expression: &str, shown: &mut [Scored]) -> Result<()> {
    let context = "searching";
    for source in [&FAVOURS, &ITEMS] {
        let Some(sql) = source.snippets else { continue };
        let rowids: Vec<i64> = shown.iter().filter(|s| s.hit.kind == source.kind).map(|s| s.rowid).collect();
        if rowids.is_empty() {
            continue;
        }
        let list = serde_json::to_string(&rowids).map_err(StoreError::data("search rows"))?;
        let mut stmt = conn.prepare_cached(sql).map_err(StoreError::sqlite(context))?;
        let mut rows =
            stmt.query(rusqlite::params![expression, list]).map_err(StoreError::sqlite(context))?;
        while let Some(row) = rows.next().map_err(StoreError::sqlite(context))? {
            let rowid: i64 = row.get(0).map_err(StoreError::sqlite(context))?;
            let snippet: Option<String> = row.get(1).map_err(StoreError::sqlite(context))?;
            if let Some(hit) = shown.iter_mut().find(|s| s.hit.kind == source.kind && s.rowid == rowid) {
                hit.hit.snippet = snippet.unwrap_or_default();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_becomes_quoted_prefix_phrases() {
        assert_eq!(match_expression("perc").as_deref(), Some("\"perc\"*"));
        assert_eq!(match_expression("  Des  pâtes ").as_deref(), Some("\"Des\"* \"pâtes\"*"));
        assert_eq!(match_expression("\"a\" OR b* NEAR(").as_deref(), Some("\"a\"* \"OR\"* \"b\"* \"NEAR\"*"));
        assert_eq!(match_expression("l'eau").as_deref(), Some("\"l\"* \"eau\"*"));
        for nothing in ["", "   ", "-", "\"\"", "*", "( ) : ^ + -", "…", "—"] {
            assert_eq!(match_expression(nothing), None, "{nothing:?}");
        }
        let many = "mot ".repeat(40);
        assert_eq!(match_expression(&many).map(|e| e.matches('*').count()), Some(MAX_WORDS));
    }
}
