//! The device alone: a local write against plain rusqlite, the reads the apps make on a large replica,
//! a write seen by an observer, a cold open, and a rebase of a large pull with mutations pending.
//!
//! Each function takes a folder to work in and its sizes, and returns its figures with their baseline;
//! nothing here talks to a server (that is `sync.rs`). To add a device benchmark: a function here, a
//! row in `report.rs`, and a call in `lib.rs`.

use crate::data::{self, Counts, Generator, NID, Vocabulary};
use crate::measure::Samples;
use quartier_core::domain::{Cell, EntityKind, FavourStatus};
use quartier_core::store::{
    Durability, FavourFilter, Identity, Page, SearchFilter, SearchOrder, Store, StoreError, StoreOptions,
};
use quartier_core::sync::protocol::{Change, MAX_PULL_LIMIT, PullResponse};
use rusqlite::{Connection, params};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The person of every benchmark device: the neighbourhood's first member.
pub fn me() -> Identity {
    Identity { device_id: "bench-phone".into(), person_id: data::member_id(0) }
}

/// A store in `dir` acting as [`me`].
pub fn open_store(path: &Path, durability: Durability) -> std::result::Result<Store, StoreError> {
    Store::open(path, StoreOptions { durability, identity: Some(me()), ..StoreOptions::default() })
}

/// Writes a generated neighbourhood into the replica, `batch` entities per transaction.
pub fn seed_replica(store: &Store, counts: Counts, seed: u64) -> Result<()> {
    seed_replica_from(store, Generator::new(counts, seed))
}

/// Writes what `generator` makes into the replica, 50,000 entities per transaction.
fn seed_replica_from(store: &Store, mut generator: Generator) -> Result<()> {
    loop {
        let batch = generator.batch(50_000);
        if batch.is_empty() {
            return Ok(());
        }
        store.write_effects(&data::puts(batch))?;
    }
}

/// A plain rusqlite database with one table shaped like the store's first `favours` (its columns,
/// four list indexes): the baseline of a cold open.
fn plain_db(path: &Path, durability: Durability) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", if durability == Durability::Full { "FULL" } else { "NORMAL" })?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS favours (
            neighbourhood_id TEXT NOT NULL, id TEXT NOT NULL, author TEXT NOT NULL, kind TEXT NOT NULL,
            status TEXT NOT NULL, category TEXT NOT NULL, counterpart TEXT, cell_row INTEGER,
            cell_col INTEGER, created_at INTEGER NOT NULL, data TEXT NOT NULL, UNIQUE (neighbourhood_id, id));
         CREATE INDEX IF NOT EXISTS favours_by_status ON favours (neighbourhood_id, status, created_at);
         CREATE INDEX IF NOT EXISTS favours_by_place ON favours (neighbourhood_id, status, cell_row, cell_col);
         CREATE INDEX IF NOT EXISTS favours_by_author ON favours (neighbourhood_id, author);
         CREATE INDEX IF NOT EXISTS favours_by_counterpart ON favours (neighbourhood_id, counterpart);",
    )?;
    Ok(conn)
}

/// A plain rusqlite database with the store's own tables (`schema::upgrade_to`, nothing else of the
/// store): the baseline of a local write inserts a favour's row into its `favours` table, with the
/// same key and list indexes as the store's, and nothing more.
fn plain_like_the_store(path: &Path, durability: Durability) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", if durability == Durability::Full { "FULL" } else { "NORMAL" })?;
    quartier_core::store::schema::upgrade_to(&mut conn, quartier_core::store::schema::CURRENT_VERSION)?;
    Ok(conn)
}

/// Local write figures at one durability.
#[derive(Debug, Clone)]
pub struct LocalWrite {
    pub durability: Durability,
    pub quartier: Samples,
    pub baseline: Samples,
}

/// `n` favours posted through `Store::mutate` (rules, replica, outbox, commit), interleaved with `n`
/// plain rusqlite inserts of the same favour's row, each committed on its own.
pub fn local_write(dir: &Path, n: usize, durability: Durability) -> Result<LocalWrite> {
    let tag = if durability == Durability::Full { "full" } else { "normal" };
    let store = open_store(&dir.join(format!("write-{tag}.db")), durability)?;
    seed_replica(&store, Counts { members: 50, favours: 0, items: 0, products: 0 }, 1)?;
    let mut plain = plain_like_the_store(&dir.join(format!("plain-{tag}.db")), durability)?;
    let (mut quartier, mut baseline) = (Samples::new(), Samples::new());
    let cell = data::home();
    for i in 0..n {
        let id = format!("lw{i:07}");
        let applied = quartier.time(|| store.mutate(NID, data::favour_post(&id, "Water my plants", cell)))?;
        let quartier_core::domain::Effect::Put { entity: quartier_core::domain::Entity::Favour(favour) } =
            &applied.effects[0]
        else {
            return Err("a favour post did not write a favour".into());
        };
        let json = serde_json::to_string(&applied.effects[0])?;
        baseline.time(|| -> Result<()> {
            let tx = plain.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "INSERT INTO favours (neighbourhood, id, author, kind, status, category, counterpart, \
                 cell_row, cell_col, created_at, data) VALUES (1, ?, ?, 'ask', 'open', ?, NULL, ?, ?, ?, ?)",
            )?
            .execute(params![
                favour.id,
                favour.author,
                favour.category,
                cell.row,
                cell.col,
                favour.created_at,
                json
            ])?;
            tx.commit()?;
            Ok(())
        })?;
    }
    Ok(LocalWrite { durability, quartier, baseline })
}

/// Read figures on a large replica.
#[derive(Debug, Clone)]
pub struct Reads {
    pub counts: Counts,
    pub nearest: Samples,
    pub nearest_baseline: Samples,
    /// Searches of the suite's narrow vocabulary (the worst case: see [`Vocabulary::Narrow`]).
    pub search: Searches,
    /// The same searches on a replica of the same size written in a long-tailed vocabulary.
    pub search_long_tail: Searches,
    /// From the call to `mutate` to the observer holding the new result.
    pub observed: Samples,
    /// The same writes with nobody watching.
    pub observed_baseline: Samples,
    /// `observed` and its baseline on the same store at synchronous=NORMAL.
    pub observed_normal: Samples,
    pub observed_normal_baseline: Samples,
}

/// Full-text searches of one word, each order with its plain-FTS5 baseline.
#[derive(Debug, Clone, Default)]
pub struct Searches {
    /// Best match first (the default).
    pub best: Samples,
    pub best_baseline: Samples,
    pub newest: Samples,
    pub newest_baseline: Samples,
    /// How many texts (favours, items and products) hold each word searched: how much each search
    /// had to go through.
    pub matches: Vec<usize>,
}

impl Searches {
    /// The median of [`Searches::matches`].
    pub fn median_matches(&self) -> usize {
        let mut sorted = self.matches.clone();
        sorted.sort_unstable();
        sorted.get(sorted.len().saturating_sub(1) / 2).copied().unwrap_or(0)
    }
}

/// 50 nearest open favours around random cells, and full-text searches of one word, over a replica
/// holding `counts`; then writes seen by an observer of the nearest-favours list; then the same
/// searches on a second replica of the same size written in the long-tailed vocabulary.
pub fn reads(dir: &Path, counts: Counts, queries: usize) -> Result<Reads> {
    let store = Arc::new(open_store(&dir.join("reads.db"), Durability::Full)?);
    seed_replica(&store, counts, 2)?;
    let mut picker = Generator::new(counts, 99);
    let (mut nearest, mut nearest_baseline) = (Samples::new(), Samples::new());
    let page = Page::new(50, 0);
    let number: i64 = store.read(|conn| {
        conn.query_row("SELECT number FROM neighbourhood_numbers WHERE id = ?", [NID], |row| row.get(0))
            .map_err(StoreError::sqlite("baseline"))
    })?;
    for _ in 0..queries {
        let cell = picker.cell();
        let filter =
            FavourFilter { status: Some(FavourStatus::Open), near: Some(cell), ..FavourFilter::default() };
        let found = nearest.time(|| store.favours(NID, &filter, page))?;
        if counts.favours >= 1000 && found.len() != 50 {
            return Err(format!("the nearest favours gave {} instead of 50", found.len()).into());
        }
        // Baseline: the same 50 rows read by plain SQL from the same table by its place index, in one
        // box around the cell, without ranking (the neighbourhood by its number, known beforehand).
        nearest_baseline.time(|| {
            store.read(|conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT data FROM favours WHERE neighbourhood = ? AND status = 'open' \
                         AND cell_row BETWEEN ? AND ? AND cell_col BETWEEN ? AND ? LIMIT 50",
                    )
                    .map_err(StoreError::sqlite("baseline"))?;
                let rows: Vec<String> = stmt
                    .query_map(params![number, cell.row - 3, cell.row + 3, cell.col - 3, cell.col + 3], |r| {
                        r.get(0)
                    })
                    .and_then(Iterator::collect)
                    .map_err(StoreError::sqlite("baseline"))?;
                let parsed: Vec<serde_json::Value> =
                    rows.iter().filter_map(|r| serde_json::from_str(r).ok()).collect();
                Ok(parsed.len())
            })
        })?;
    }
    let search = searches(&store, &mut picker, queries, counts.favours >= 1000)?;
    let (observed, observed_baseline) = observed_writes(&store, "f", queries.min(200))?;
    // The same store at synchronous=NORMAL (what Android and Core Data use with WAL): the write's
    // commit no longer waits for the disk, so what is left is the observer's own work.
    store.read(|conn| {
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(StoreError::sqlite("synchronous"))
    })?;
    let (observed_normal, observed_normal_baseline) = observed_writes(&store, "n", queries.min(200))?;
    drop(store);

    let long_tail = open_store(&dir.join("reads-long-tail.db"), Durability::Full)?;
    seed_replica_from(&long_tail, Generator::new(counts, 2).with_vocabulary(Vocabulary::LongTailed))?;
    let mut picker = Generator::new(counts, 99).with_vocabulary(Vocabulary::LongTailed);
    // Rare words are in fewer than 50 open things: a search finds as many as hold the word.
    let search_long_tail = searches(&long_tail, &mut picker, queries, false)?;
    Ok(Reads {
        counts,
        nearest,
        nearest_baseline,
        search,
        search_long_tail,
        observed,
        observed_baseline,
        observed_normal,
        observed_normal_baseline,
    })
}

/// `queries` searches of a word `picker` draws, best match first and newest first, each timed with its
/// baseline; each must find 50 hits if `full` (the words are in thousands of texts), else as many as
/// the open things holding the word, up to 50.
fn searches(store: &Store, picker: &mut Generator, queries: usize, full: bool) -> Result<Searches> {
    let mut s = Searches::default();
    let page = Page::new(50, 0);
    let best = SearchFilter::default();
    let newest = SearchFilter { order: SearchOrder::Newest, ..SearchFilter::default() };
    for _ in 0..queries {
        let word = picker.word();
        let found = s.best.time(|| store.search(NID, word, &best, page))?;
        let found_newest = s.newest.time(|| store.search(NID, word, &newest, page))?;
        let (matches, open) = count_matches(store, word)?;
        let expected = if full { 50 } else { open.min(50) };
        if found.len() != expected || found_newest.len() != expected {
            return Err(format!(
                "searching {word:?} gave {} and {} hits; {open} open things hold it, so {expected} were expected",
                found.len(),
                found_newest.len()
            )
            .into());
        }
        s.matches.push(matches);
        // Baselines: plain FTS5 over the same three search tables with the same query (the word as
        // the start of a word, as typed text is searched), 50 rows of each read with their entity's
        // data, in the same order: ranked by bm25, or the tables' order backwards.
        s.best_baseline.time(|| plain_search(store, word, "ORDER BY bm25({fts})"))?;
        s.newest_baseline.time(|| plain_search(store, word, "ORDER BY f.rowid DESC"))?;
    }
    Ok(s)
}

/// How many texts hold a word starting with `word` (favours, items and products on sale), and how many
/// of those a search finds (favours open, items not withdrawn), untimed.
fn count_matches(store: &Store, word: &str) -> std::result::Result<(usize, usize), StoreError> {
    let prefix = format!("\"{word}\"*");
    store.read(|conn| {
        let (mut all, mut found) = (0, 0);
        for (fts, table, open) in [
            ("favours_fts", "favours", "e.status = 'open'"),
            ("items_fts", "items", "e.withdrawn = 0"),
            ("products_fts", "products", "e.removed = 0"),
        ] {
            let (n, open): (i64, i64) = conn
                .query_row(
                    &format!(
                        "SELECT count(*), count(*) FILTER (WHERE {open}) FROM {fts} f \
                         CROSS JOIN {table} e ON e.rowid = f.rowid WHERE {fts} MATCH ?"
                    ),
                    [&prefix],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(StoreError::sqlite("counting matches"))?;
            all += usize::try_from(n).unwrap_or(0);
            found += usize::try_from(open).unwrap_or(0);
        }
        Ok((all, found))
    })
}

/// Plain FTS5: 50 favours, 50 items and 50 products with a word starting with `word`, in `order`
/// (`{fts}` standing for each search table), their data read.
fn plain_search(store: &Store, word: &str, order: &str) -> std::result::Result<usize, StoreError> {
    let prefix = format!("\"{word}\"*");
    store.read(|conn| {
        let mut n = 0;
        for (fts, table) in [("favours_fts", "favours"), ("items_fts", "items"), ("products_fts", "products")]
        {
            let sql = format!(
                "SELECT e.data FROM {fts} f CROSS JOIN {table} e ON e.rowid = f.rowid \
                 WHERE {fts} MATCH ? {} LIMIT 50",
                order.replace("{fts}", fts)
            );
            let mut stmt = conn.prepare_cached(&sql).map_err(StoreError::sqlite("baseline"))?;
            let rows: Vec<String> = stmt
                .query_map([&prefix], |r| r.get(0))
                .and_then(Iterator::collect)
                .map_err(StoreError::sqlite("baseline"))?;
            n += rows.iter().filter_map(|r| serde_json::from_str::<serde_json::Value>(r).ok()).count();
        }
        Ok(n)
    })
}

/// Writes a favour at home `n` times with an observer of the 50 nearest open favours around home, and
/// `n` times with nobody watching; each write must reach the observer before `mutate` returns. The
/// favours' ids start with `prefix`, which must sort after the prefix of any earlier call on `store`.
fn observed_writes(store: &Arc<Store>, prefix: &str, n: usize) -> Result<(Samples, Samples)> {
    let seen: Arc<Mutex<Option<(Instant, String)>>> = Arc::new(Mutex::new(None));
    let filter = FavourFilter {
        status: Some(FavourStatus::Open),
        near: Some(data::home()),
        ..FavourFilter::default()
    };
    let sink = seen.clone();
    let watch = store.watch(
        &[EntityKind::Favour],
        move |s: &Store| s.favours(NID, &filter, Page::new(50, 0)),
        move |list| {
            let first = list.first().map(|v| v.favour.id.clone()).unwrap_or_default();
            *sink.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), first));
        },
    )?;
    let mut observed = Samples::new();
    for i in 0..n {
        // The phase's prefix first: a favour stored in the same millisecond as the last one of the
        // phase before (the list's order is then by id, newest first) must still sort after it.
        let id = format!("{prefix}ob{i:06}");
        let start = Instant::now();
        store.mutate(NID, data::favour_post(&id, "Feed the cat", data::home()))?;
        let (at, first) =
            seen.lock().unwrap_or_else(|p| p.into_inner()).take().ok_or("the observer saw nothing")?;
        if first != id {
            return Err(format!("the observer's first favour is {first}, not the new {id}").into());
        }
        observed.push(at.duration_since(start));
    }
    drop(watch);
    let mut baseline = Samples::new();
    for i in 0..n {
        let id = format!("{prefix}ub{i:06}");
        baseline.time(|| store.mutate(NID, data::favour_post(&id, "Feed the cat", data::home())))?;
    }
    Ok((observed, baseline))
}

/// Cold opens: a new database opened (created, migrated), and its first query.
#[derive(Debug, Clone)]
pub struct ColdOpen {
    pub quartier: Samples,
    /// Plain rusqlite: open, WAL, one table created, one query.
    pub baseline: Samples,
}

pub fn cold_open(dir: &Path, n: usize) -> Result<ColdOpen> {
    let (mut quartier, mut baseline) = (Samples::new(), Samples::new());
    for i in 0..n {
        quartier.time(|| -> Result<()> {
            let store = open_store(&dir.join(format!("cold-{i}.db")), Durability::Full)?;
            store.favours(NID, &FavourFilter::default(), Page::default())?;
            Ok(())
        })?;
        baseline.time(|| -> Result<()> {
            let conn = plain_db(&dir.join(format!("cold-plain-{i}.db")), Durability::Full)?;
            let n: i64 = conn.query_row("SELECT count(*) FROM favours", [], |r| r.get(0))?;
            assert_eq!(n, 0);
            Ok(())
        })?;
    }
    Ok(ColdOpen { quartier, baseline })
}

/// A pull of many changes applied page by page, with or without mutations pending.
#[derive(Debug, Clone)]
pub struct Rebase {
    pub incoming: usize,
    pub pending: usize,
    /// The whole pull (every page, then the rebase), with `pending` mutations waiting.
    pub with_pending: Duration,
    /// The same pull on a device with nothing pending.
    pub without_pending: Duration,
}

/// The pages a server would send for a generated neighbourhood: versions 1, 2, … one entity each.
fn pages(counts: Counts, seed: u64, first_version: u64, page_size: usize) -> Vec<PullResponse> {
    let mut generator = Generator::new(counts, seed);
    let mut version = first_version;
    let mut pages = Vec::new();
    loop {
        let batch = generator.batch(page_size);
        if batch.is_empty() {
            break;
        }
        let changes = data::puts(batch)
            .into_iter()
            .map(|effect| {
                version += 1;
                Change { version, effect }
            })
            .collect();
        pages.push(PullResponse { changes, cursor: version, checkpoint: 0, more: true, answered_seq: None });
    }
    for page in &mut pages {
        page.checkpoint = version;
    }
    if let Some(last) = pages.last_mut() {
        last.more = false;
    }
    pages
}

pub fn rebase(dir: &Path, incoming: usize, pending: usize) -> Result<Rebase> {
    let members = 1000;
    let town = Counts { members, favours: 0, items: 0, products: 0 };
    // The incoming changes are new favours by the other members, after the town itself.
    let later = Counts { members, favours: incoming, items: 0, products: 0 };
    let incoming_pages: Vec<PullResponse> = pages(later, 5, 0, MAX_PULL_LIMIT as usize)
        .into_iter()
        .map(|mut page| {
            page.changes.retain(|c| c.effect.key().kind == EntityKind::Favour);
            page
        })
        .filter(|page| !page.changes.is_empty() || !page.more)
        .collect();
    let mut timings = Vec::new();
    for (name, pending) in [("with", pending), ("without", 0)] {
        let store = open_store(&dir.join(format!("rebase-{name}.db")), Durability::Full)?;
        for page in pages(town, 5, 0, 5000) {
            store.apply_pulled(NID, &page)?;
        }
        let cell = Cell { row: data::home().row, col: data::home().col };
        for i in 0..pending {
            store.mutate(NID, data::favour_post(&format!("mine{i:05}"), "Borrow a ladder", cell))?;
        }
        let start = Instant::now();
        for page in &incoming_pages {
            store.apply_pulled(NID, page)?;
        }
        timings.push(start.elapsed());
        if store.pending_count()? != pending as u64 {
            return Err("the pending mutations did not survive the rebase".into());
        }
    }
    Ok(Rebase { incoming, pending, with_pending: timings[0], without_pending: timings[1] })
}
