//! Full-text search over favours, items and products, offline, with SQLite's FTS5.
//!
//! The search tables (`favours_fts`, `items_fts`, `products_fts`) index the texts of their entities'
//! rows, keyed by the same row, kept in step by triggers (migration 009; new texts wait a little in
//! `backlog.rs`), and fold case and accents (`unicode61 remove_diacritics 2`), so "perceuse" finds
//! "Perceuse" and "pates" finds "pâtes". What a person types is never passed to FTS5
//! as a query: it is cut into words, and each word becomes a quoted phrase with a trailing `*`, so every
//! word must match the start of a word and no operator (`OR`, `NEAR`, `-`, `"`, `*`, `(`) can be
//! injected. Hits come best match first (`bm25`, a title counting more than a description) or newest
//! first ([`SearchOrder`]); a place only filters (`within_m`) and shows a distance.
//!
//! Favours, items and products are numbered from one sequence as they are stored (`rows.rs`), and FTS5
//! walks the matches of a query in the order of their rows: newest first walks them backwards and
//! stops after a page, whereas best match first ranks every match before it can pick the best (FTS5
//! has no top-k), which costs time in proportion to how many things the words match.
//!
//! To make another kind searchable: give it a view of its texts, a search table and triggers in a new
//! migration (as 009 does), a row in `backlog::KINDS`, and a `Source` below.

use super::Store;
use super::backlog;
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
    /// Best match first, or newest first.
    pub order: SearchOrder,
}

impl Default for SearchFilter {
    fn default() -> SearchFilter {
        SearchFilter {
            kinds: Vec::new(),
            category: None,
            near: None,
            within_m: None,
            open_only: true,
            order: SearchOrder::BestMatch,
        }
    }
}

/// The order of the things found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SearchOrder {
    /// The best match first: the words in a title count more than in a category, and more than in a
    /// description; rarer words count more. (A store that cannot write ranks the few things not yet
    /// indexed among themselves: see `backlog.rs`.) Every match is ranked, so the more things the words
    /// match, the longer it takes (tens of milliseconds for a word found in a third of 200,000).
    #[default]
    BestMatch,
    /// The most recently stored on this device first: what neighbours post comes first as it
    /// arrives, and an edit keeps a thing where it was. A first sync stores a neighbourhood in the
    /// order of its changes on the server (the last change of each thing); a database made before
    /// version 9 was numbered in the order of creation. Reads only as many matches as the page needs.
    Newest,
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

/// The kinds that can be searched, in the order ties are listed (those the backlog indexes).
pub const SEARCHABLE: [EntityKind; backlog::KINDS.len()] =
    [backlog::KINDS[0].kind, backlog::KINDS[1].kind, backlog::KINDS[2].kind];

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
    /// The kind, and its search table (`fts`).
    searched: &'static backlog::Kind,
    /// Selects id, title, text, stall name, category, cell_row, cell_col, score and row, for the
    /// parameters (match expression, neighbourhood), followed by the conditions below; `{fts}` is the
    /// search table queried and `{table}` the kind's. The text is a product's unit; for a favour or an
    /// item it is `{text}`, its snippet when it is made here (newest first) or nothing. `{score}` is
    /// [`Source::rank`] or nothing. Texts are read from the entity's JSON: the search table reads them
    /// from there too (its content is a view of the rows).
    select: &'static str,
    /// A favour's or an item's snippet: the description around the words found.
    snippet: Option<&'static str>,
    /// How well a row matches (bm25, weighting the columns; lower is better), for best match first.
    /// Newest first leaves it out: bm25 counts every match of each word before its first answer.
    rank: &'static str,
    open: &'static str,
    category: Option<&'static str>,
    cell_row: &'static str,
}

/// The select of a favour or an item: a title, a description and a category, and a place of its own.
const LISTED: &str = "SELECT e.id, e.data ->> '$.data.title', {text}, NULL, e.category, \
     e.cell_row, e.cell_col, {score} AS score, e.rowid \
     FROM {fts} CROSS JOIN {table} e ON e.rowid = {fts}.rowid \
     WHERE {fts} MATCH ? AND e.neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?)";

const FAVOURS: Source = Source {
    searched: &backlog::FAVOURS,
    select: LISTED,
    snippet: Some("snippet({fts}, 1, '', '', '…', 12)"),
    rank: "bm25({fts}, 4.0, 1.0, 2.0)",
    open: "e.status = 'open'",
    category: Some("e.category = ?"),
    cell_row: "e.cell_row",
};

const ITEMS: Source = Source {
    searched: &backlog::ITEMS,
    select: LISTED,
    snippet: Some("snippet({fts}, 1, '', '', '…', 12)"),
    rank: "bm25({fts}, 4.0, 1.0, 2.0)",
    open: "e.withdrawn = 0",
    category: Some("e.category = ?"),
    cell_row: "e.cell_row",
};

const PRODUCTS: Source = Source {
    searched: &backlog::PRODUCTS,
    select: "SELECT e.id, e.data ->> '$.data.name', e.data ->> '$.data.unit', s.data ->> '$.data.name', NULL, \
             s.cell_row, s.cell_col, {score} AS score, e.rowid \
             FROM {fts} CROSS JOIN {table} e ON e.rowid = {fts}.rowid \
             LEFT JOIN stalls s ON s.neighbourhood = e.neighbourhood AND s.id = e.stall_id \
             WHERE {fts} MATCH ? AND e.neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?)",
    snippet: None,
    rank: "bm25({fts}, 4.0, 1.0)",
    open: "e.removed = 0",
    category: None,
    cell_row: "s.cell_row",
};

impl Source {
    fn kind(&self) -> EntityKind {
        self.searched.kind
    }

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
    /// The entity's row, which is its search entry's: for the snippet, and newest first (one sequence
    /// numbers the three kinds).
    rowid: i64,
    /// Found among the rows waiting to be indexed (`backlog`), its snippet made already.
    waiting: bool,
    hit: SearchHit,
}

impl Scored {
    /// Whether `self` comes before `other` in the merged list.
    fn cmp(&self, other: &Scored, order: SearchOrder) -> std::cmp::Ordering {
        match order {
            SearchOrder::BestMatch => self.score.total_cmp(&other.score).then(self.order.cmp(&other.order)),
            SearchOrder::Newest => other.rowid.cmp(&self.rowid).then(self.order.cmp(&other.order)),
        }
        .then_with(|| self.hit.id.cmp(&other.hit.id))
    }
}

impl Store {
    /// Searches a neighbourhood's favours, items and products for the words typed, in the filter's
    /// order.
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
            if !sources.iter().any(|s| s.kind() == kind) {
                sources.push(source);
            }
        }
        // Products have no category: a category leaves them out.
        sources.retain(|source| filter.category.is_none() || source.category.is_some());
        self.read(|conn| {
            // Each kind's search table, and the table of its rows still waiting where a store that
            // cannot write could not index them.
            let waiting = backlog::before_search(conn)?;
            let mut tables: Vec<Table<'_>> = Vec::new();
            for source in sources {
                tables.push(Table { source, name: source.searched.fts.to_owned(), waiting: false });
                if let Some(kind) = waiting.iter().find(|k| k.kind == source.kind()) {
                    tables.push(Table { source, name: kind.waiting_table(), waiting: true });
                }
            }
            let scored = first_hits(conn, nid, &tables, &expression, filter, place, page)?;
            let mut shown = page.slice(scored);
            if filter.order == SearchOrder::BestMatch {
                add_snippets(conn, &expression, &mut shown)?;
            }
            Ok(shown.into_iter().map(|s| s.hit).collect())
        })
    }
}

/// A search table to query: a kind's, or the table of its rows waiting to be indexed.
struct Table<'s> {
    source: &'s Source,
    name: String,
    waiting: bool,
}

/// One table's query for the filter: its SQL and parameters. Rows come in the filter's order; best
/// match first stops at the page's end, newest first is read only as far as the page needs.
fn query_of(
    table: &Table<'_>,
    nid: &str,
    expression: &str,
    filter: &SearchFilter,
    within: Option<Place>,
    page: Page,
) -> (String, Vec<Value>) {
    // Best match first ranks every match and keeps a page: snippets are made after, for that page only
    // (`add_snippets`). Newest first reads only the page's matches, so it makes them as it goes.
    // The waiting rows are few, and `add_snippets` reads only the kinds' own tables: theirs are made here.
    let source = table.source;
    let (score, text) = match filter.order {
        SearchOrder::BestMatch if !table.waiting => (source.rank, "NULL"),
        SearchOrder::BestMatch => (source.rank, source.snippet.unwrap_or("NULL")),
        SearchOrder::Newest => ("0.0", source.snippet.unwrap_or("NULL")),
    };
    let mut sql = source
        .select
        .replace("{score}", score)
        .replace("{text}", text)
        .replace("{fts}", &table.name)
        .replace("{table}", super::rows::table_of(source.kind()));
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
    if let Some(place) = within {
        // Only the rows that can be close enough; the exact distance is checked as they are read.
        let rows = place.near.rows_within(place.within_m.map_or(0.0, f64::from) + HALF_STEP_M);
        sql.push_str(&format!(" AND {} BETWEEN ? AND ?", source.cell_row));
        values.push(Value::Integer(i64::from(*rows.start())));
        values.push(Value::Integer(i64::from(*rows.end())));
    }
    match filter.order {
        SearchOrder::BestMatch => sql.push_str(" ORDER BY score, e.id"),
        // The search table's own order, walked backwards: FTS5 reads matches in that order.
        SearchOrder::Newest => sql.push_str(&format!(" ORDER BY {}.rowid DESC", table.name)),
    }
    if within.is_none() {
        sql.push_str(" LIMIT ?");
        values.push(Value::Integer(i64::try_from(page.end()).unwrap_or(i64::MAX)));
    }
    (sql, values)
}

/// The next hit of one table's query, skipping those farther than the filter's distance.
fn next_hit(
    rows: &mut rusqlite::Rows<'_>,
    table: &Table<'_>,
    place: Option<Place>,
    within: Option<Place>,
) -> Result<Option<Scored>> {
    let context = "searching";
    let source = table.source;
    let order = SEARCHABLE.iter().position(|k| *k == source.kind()).unwrap_or(SEARCHABLE.len());
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
        let snippet = match source.kind() {
            EntityKind::Product => match stall {
                Some(stall) => format!("Sold by the {text} at {stall}"),
                None => format!("Sold by the {text}"),
            },
            _ => text,
        };
        return Ok(Some(Scored {
            score,
            order,
            rowid,
            waiting: table.waiting,
            hit: SearchHit { kind: source.kind(), id, title, snippet, category, distance_m },
        }));
    }
    Ok(None)
}

/// The first `offset + limit` hits in the filter's order, from the kinds' queries.
///
/// Best match first: each kind's best `offset + limit`, merged (the first of the merged list are
/// among the first of each kind). Newest first: the kinds' queries are read side by side, always
/// from the one whose next hit is newest, so that only the page's hits (and one more per kind) are
/// read, with their snippets.
fn first_hits(
    conn: &Connection,
    nid: &str,
    tables: &[Table<'_>],
    expression: &str,
    filter: &SearchFilter,
    place: Option<Place>,
    page: Page,
) -> Result<Vec<Scored>> {
    let context = "searching";
    let within = place.filter(|p| p.within_m.is_some());
    let mut statements = Vec::new();
    for table in tables {
        let (sql, values) = query_of(table, nid, expression, filter, within, page);
        statements.push((table, conn.prepare_cached(&sql).map_err(StoreError::sqlite(context))?, values));
    }
    let mut streams = Vec::new();
    for (table, statement, values) in &mut statements {
        let rows = statement
            .query(rusqlite::params_from_iter(values.iter()))
            .map_err(StoreError::sqlite(context))?;
        streams.push((*table, rows));
    }
    let mut found = Vec::new();
    match filter.order {
        SearchOrder::BestMatch => {
            for (table, rows) in &mut streams {
                while let Some(hit) = next_hit(rows, table, place, within)? {
                    found.push(hit);
                }
            }
            found.sort_by(|a, b| a.cmp(b, filter.order));
        }
        SearchOrder::Newest => {
            let mut heads = Vec::new();
            for (table, rows) in &mut streams {
                heads.push(next_hit(rows, table, place, within)?);
            }
            while found.len() < page.end() {
                let newest = heads
                    .iter()
                    .enumerate()
                    .filter_map(|(i, head)| head.as_ref().map(|hit| (i, hit)))
                    .min_by(|(_, a), (_, b)| a.cmp(b, filter.order))
                    .map(|(i, _)| i);
                let Some(i) = newest else { break };
                let (table, rows) = &mut streams[i];
                let next = next_hit(rows, table, place, within)?;
                found.extend(std::mem::replace(&mut heads[i], next));
            }
        }
    }
    Ok(found)
}

/// Fills in the snippets of the hits shown (favours and items; a product's is made already), one
/// query per kind. Made in the search itself, one was built for every match before the best were
/// picked, which cost far more than finding and ranking them.
fn add_snippets(conn: &Connection, expression: &str, shown: &mut [Scored]) -> Result<()> {
    let context = "searching";
    for source in [&FAVOURS, &ITEMS] {
        let Some(snippet) = source.snippet else { continue };
        let rowids: Vec<i64> =
            shown.iter().filter(|s| s.hit.kind == source.kind() && !s.waiting).map(|s| s.rowid).collect();
        let (Some(first), Some(last)) = (rowids.iter().min(), rowids.iter().max()) else { continue };
        // The range lets FTS5 skip the matches before and after the page's rows.
        let sql = format!(
            "SELECT rowid, {snippet} FROM {fts} WHERE {fts} MATCH ?1 AND rowid BETWEEN ?3 AND ?4 \
             AND +rowid IN (SELECT value FROM json_each(?2))",
            snippet = snippet.replace("{fts}", source.searched.fts),
            fts = source.searched.fts
        );
        let list = serde_json::to_string(&rowids).map_err(StoreError::data("search rows"))?;
        let mut stmt = conn.prepare_cached(&sql).map_err(StoreError::sqlite(context))?;
        let mut rows = stmt
            .query(rusqlite::params![expression, list, first, last])
            .map_err(StoreError::sqlite(context))?;
        while let Some(row) = rows.next().map_err(StoreError::sqlite(context))? {
            let rowid: i64 = row.get(0).map_err(StoreError::sqlite(context))?;
            let snippet: Option<String> = row.get(1).map_err(StoreError::sqlite(context))?;
            if let Some(hit) =
                shown.iter_mut().find(|s| s.hit.kind == source.kind() && s.rowid == rowid && !s.waiting)
            {
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
