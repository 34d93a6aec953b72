//! The read side of the store: what the apps' lists and detail screens show.
//!
//! Every query is a method on [`Store`] that runs inside one `Store::read` (so it sees one consistent
//! state), pages with [`Page`], and returns *views*: the entity as the rules hold it, next to what a
//! screen displays with it — the names of the people (a departed member's entity keeps the name
//! "former member") and a distance. Distances are only ever [`Cell::distance_m`] between two cells:
//! rounded, from coarse cells, never from anything finer.
//!
//! Filters become `?` parameters; the SQL text is assembled only from constant column names, so user
//! text cannot change a statement and `prepare_cached` keeps one statement per shape of filter.
//!
//! "Nearest first" lists ([`Store::favours`], [`Store::items`]) never scan a whole table: they read a
//! band of latitude rows around the place through the `(neighbourhood, status, cell_row, cell_col)`
//! indexes, widen it until the page is certainly inside, and measure exact (rounded) distances in Rust.
//!
//! To add a query: write a method in an `impl Store` block (here, or in a new file for a new feature),
//! read entities with `load` or `newest`, names with `Names`, and add any index it needs in a new
//! migration (`schema.rs`).

use super::Store;
use super::error::{Result, StoreError};
use super::rows::{IN_NEIGHBOURHOOD, tag};
use crate::domain::cell::DISTANCE_STEP_M;
use crate::domain::*;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::cmp::Reverse;
use std::collections::HashMap;

/// The most entries one page may hold.
pub const MAX_PAGE_LIMIT: u32 = 200;

/// Which slice of a list to read: `limit` entries (1 to [`MAX_PAGE_LIMIT`]) after skipping `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Page {
    pub limit: u32,
    pub offset: u32,
}

impl Default for Page {
    /// The first 50 entries.
    fn default() -> Page {
        Page { limit: 50, offset: 0 }
    }
}

impl Page {
    pub fn new(limit: u32, offset: u32) -> Page {
        Page { limit, offset }
    }

    /// The page after this one, of the same size.
    pub fn next(self) -> Page {
        Page { offset: self.offset.saturating_add(self.limit), ..self }
    }

    /// The page, if its size is one the store serves.
    pub fn checked(self) -> Result<Page> {
        if (1..=MAX_PAGE_LIMIT).contains(&self.limit) {
            Ok(self)
        } else {
            Err(StoreError::Invalid(format!(
                "A page holds from 1 to {MAX_PAGE_LIMIT} entries, so a page of {} cannot be read; ask for \
                 fewer and read the next page after.",
                self.limit
            )))
        }
    }

    /// How many entries must be ranked to serve this page.
    pub(super) fn end(self) -> usize {
        self.offset as usize + self.limit as usize
    }

    pub(super) fn slice<T>(self, ranked: Vec<T>) -> Vec<T> {
        ranked.into_iter().skip(self.offset as usize).take(self.limit as usize).collect()
    }
}

// ---------------------------------------------------------------------------------------------------
// Views and filters
// ---------------------------------------------------------------------------------------------------

/// A member, with the thanks they received (the neighbourhood's only reputation: counted, not scored).
#[derive(Clone, Debug, PartialEq)]
pub struct MemberView {
    pub member: Member,
    /// Thanked favours in which this member was the helper ([`Favour::helper`]).
    pub thanks_received: u32,
}

/// Which favours to list. The default lists every favour, newest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FavourFilter {
    pub status: Option<FavourStatus>,
    pub kind: Option<FavourKind>,
    pub category: Option<String>,
    /// Favours written by this member.
    pub author: Option<String>,
    /// Favours this member wrote or took up.
    pub involving: Option<String>,
    /// Nearest first from this cell (ties newest first); only favours with a place are listed.
    pub near: Option<Cell>,
    /// With `near`: only favours at most this far, as the distance is shown (rounded).
    pub within_m: Option<u32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FavourView {
    pub favour: Favour,
    pub author_name: String,
    pub counterpart_name: Option<String>,
    /// From the filter's `near` cell, when one was given.
    pub distance_m: Option<u32>,
}

/// Which items to list. The default lists the items lent at the moment (not withdrawn), newest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ItemFilter {
    pub category: Option<String>,
    pub owner: Option<String>,
    /// Nearest first from this cell (ties newest first); only items with a place are listed.
    pub near: Option<Cell>,
    /// With `near`: only items at most this far, as the distance is shown (rounded).
    pub within_m: Option<u32>,
    /// Also the items their owners no longer lend.
    pub include_withdrawn: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ItemView {
    pub item: Item,
    pub owner_name: String,
    /// From the filter's `near` cell, when one was given.
    pub distance_m: Option<u32>,
    /// Handed over to a borrower and not back yet.
    pub lent_now: bool,
}

/// Which loans to list. The default lists every loan, latest first day first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoanFilter {
    pub owner: Option<String>,
    pub borrower: Option<String>,
    pub item_id: Option<String>,
    pub status: Option<LoanStatus>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LoanView {
    pub loan: Loan,
    pub item_title: String,
    pub owner_name: String,
    pub borrower_name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StallView {
    pub stall: Stall,
    pub owner_name: String,
}

/// Which pre-orders to list. The default lists every pre-order, newest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OrderFilter {
    pub customer: Option<String>,
    pub stall_id: Option<String>,
    pub status: Option<OrderStatus>,
}

/// One line of a pre-order, with what the product is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderLineView {
    pub product_id: String,
    pub name: String,
    pub unit: String,
    pub quantity: i64,
    /// The product's price per unit as the stall sets it now: a pre-order is paid at pickup.
    pub price_cents: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OrderView {
    pub order: Order,
    pub stall_name: String,
    pub customer_name: String,
    pub lines: Vec<OrderLineView>,
    /// The sum of quantity × price per unit of the lines.
    pub total_cents: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MessageView {
    pub message: Message,
    pub author_name: String,
}

// ---------------------------------------------------------------------------------------------------
// The queries
// ---------------------------------------------------------------------------------------------------

impl Store {
    /// The neighbourhoods this device holds a replica of, by name.
    pub fn neighbourhoods(&self) -> Result<Vec<Neighbourhood>> {
        self.read(|conn| {
            let mut all: Vec<Neighbourhood> = load(conn, "SELECT data FROM neighbourhoods", [])?;
            all.sort_by_cached_key(|n| (sort_key(&n.name), n.id.clone()));
            Ok(all)
        })
    }

    /// The ids of a neighbourhood's things of `kind` that are `end` or end with it, at most `limit`, the
    /// one that is `end` first: for people who type the last characters of an id as a list shows it.
    /// `end` is compared as it is (no wildcards).
    pub fn ids_ending_with(
        &self,
        nid: &str,
        kind: EntityKind,
        end: &str,
        limit: usize,
    ) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT id FROM {} WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) \
             AND substr(id, -length(?2)) = ?2 ORDER BY id = ?2 DESC, id LIMIT ?3",
            super::rows::table_of(kind)
        );
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql).map_err(StoreError::sqlite("finding an id"))?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            stmt.query_map(params![nid, end, limit], |row| row.get::<_, String>(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(StoreError::sqlite("finding an id"))
        })
    }

    /// The active members of a neighbourhood, by name (accents and case aside).
    pub fn members(&self, nid: &str, page: Page) -> Result<Vec<MemberView>> {
        let page = page.checked()?;
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, display_name FROM members WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND status = 'active'",
                )
                .map_err(StoreError::sqlite("listing the members"))?;
            let mut ranked = stmt
                .query_map([nid], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(StoreError::sqlite("listing the members"))?;
            ranked.sort_by_cached_key(|(id, name)| (sort_key(name), id.clone()));
            let mut views = Vec::with_capacity(page.limit as usize);
            for (id, _) in page.slice(ranked) {
                if let Some(view) = member_view(conn, nid, &id)? {
                    views.push(view);
                }
            }
            Ok(views)
        })
    }

    /// One member, whatever their status (a departed member is shown as "former member").
    pub fn member(&self, nid: &str, id: &str) -> Result<Option<MemberView>> {
        self.read(|conn| member_view(conn, nid, id))
    }

    /// Favours, newest first, or nearest first when the filter gives a place.
    pub fn favours(&self, nid: &str, filter: &FavourFilter, page: Page) -> Result<Vec<FavourView>> {
        let page = page.checked()?;
        let place = Place::of(filter.near, filter.within_m)?;
        self.read(|conn| {
            let mut w = match &filter.involving {
                Some(who) => Where::involving(nid, who),
                None => Where::new(nid),
            };
            w.eq_opt("kind", filter.kind.as_ref().map(tag));
            w.eq_opt("category", filter.category.clone());
            w.eq_opt("author", filter.author.clone());
            let found: Vec<(Favour, Option<u32>)> = match place {
                Some(place) => {
                    let statuses = match filter.status {
                        Some(status) => vec![tag(&status)],
                        None => FAVOUR_STATUSES.iter().map(tag).collect(),
                    };
                    nearest(conn, &Located::FAVOURS, statuses, &w, place, page)?
                }
                None => {
                    w.eq_opt("status", filter.status.as_ref().map(tag));
                    newest(conn, "favours", &w, page)?.into_iter().map(|f| (f, None)).collect()
                }
            };
            let mut names = Names::new(conn, nid);
            found
                .into_iter()
                .map(|(favour, distance_m)| {
                    Ok(FavourView {
                        author_name: names.of(&favour.author)?,
                        counterpart_name: favour.counterpart.as_deref().map(|c| names.of(c)).transpose()?,
                        distance_m,
                        favour,
                    })
                })
                .collect()
        })
    }

    /// Items, newest first, or nearest first when the filter gives a place.
    pub fn items(&self, nid: &str, filter: &ItemFilter, page: Page) -> Result<Vec<ItemView>> {
        let page = page.checked()?;
        let place = Place::of(filter.near, filter.within_m)?;
        let withdrawn: Vec<i64> = if filter.include_withdrawn { vec![0, 1] } else { vec![0] };
        self.read(|conn| {
            let mut w = Where::new(nid);
            w.eq_opt("category", filter.category.clone());
            w.eq_opt("owner", filter.owner.clone());
            let found: Vec<(Item, Option<u32>)> = match place {
                Some(place) => nearest(conn, &Located::ITEMS, withdrawn, &w, place, page)?,
                None => {
                    if !filter.include_withdrawn {
                        w.add("withdrawn = 0", Vec::<Value>::new());
                    }
                    newest(conn, "items", &w, page)?.into_iter().map(|i| (i, None)).collect()
                }
            };
            let mut names = Names::new(conn, nid);
            found
                .into_iter()
                .map(|(item, distance_m)| {
                    Ok(ItemView {
                        owner_name: names.of(&item.owner)?,
                        distance_m,
                        lent_now: lent_now(conn, nid, &item.id)?,
                        item,
                    })
                })
                .collect()
        })
    }

    /// The loans that hold an item's calendar (approved or handed over), by first day.
    pub fn loan_calendar(&self, nid: &str, item_id: &str) -> Result<Vec<Loan>> {
        self.read(|conn| {
            load(
                conn,
                "SELECT data FROM loans WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND item_id = ? \
                 AND status IN ('approved', 'handed_over') ORDER BY first_day, id",
                params![nid, item_id],
            )
        })
    }

    /// Loans, the latest first day first.
    pub fn loans(&self, nid: &str, filter: &LoanFilter, page: Page) -> Result<Vec<LoanView>> {
        let page = page.checked()?;
        self.read(|conn| {
            let mut w = Where::new(nid);
            w.eq_opt("owner", filter.owner.clone());
            w.eq_opt("borrower", filter.borrower.clone());
            w.eq_opt("item_id", filter.item_id.clone());
            w.eq_opt("status", filter.status.as_ref().map(tag));
            let sql = format!(
                "SELECT data FROM loans WHERE {} ORDER BY first_day DESC, id DESC LIMIT ? OFFSET ?",
                w.sql
            );
            let loans: Vec<Loan> = load(conn, &sql, params_from_iter(w.paged(page)))?;
            let mut names = Names::new(conn, nid);
            let mut titles: HashMap<String, String> = HashMap::new();
            loans
                .into_iter()
                .map(|loan| {
                    let item_title = match titles.get(&loan.item_id) {
                        Some(title) => title.clone(),
                        None => {
                            let title = fetch::<Item>(conn, nid, &loan.item_id)?
                                .map_or_else(|| REMOVED_ITEM.to_owned(), |item| item.title);
                            titles.insert(loan.item_id.clone(), title.clone());
                            title
                        }
                    };
                    Ok(LoanView {
                        item_title,
                        owner_name: names.of(&loan.owner)?,
                        borrower_name: names.of(&loan.borrower)?,
                        loan,
                    })
                })
                .collect()
        })
    }

    /// The market's stalls, by name (accents and case aside).
    pub fn stalls(&self, nid: &str, page: Page) -> Result<Vec<StallView>> {
        let page = page.checked()?;
        self.read(|conn| {
            // A neighbourhood has a few stalls, not thousands: sorting them here keeps names with
            // accents in their place, which SQLite's collations do not.
            let mut all: Vec<Stall> =
                load(conn, "SELECT data FROM stalls WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?)", [nid])?;
            all.sort_by_cached_key(|s| (sort_key(&s.name), s.id.clone()));
            let mut names = Names::new(conn, nid);
            page.slice(all)
                .into_iter()
                .map(|stall| Ok(StallView { owner_name: names.of(&stall.owner)?, stall }))
                .collect()
        })
    }

    /// The products of a stall, by name (accents and case aside); removed ones only if asked.
    pub fn products(&self, nid: &str, stall_id: &str, include_removed: bool) -> Result<Vec<Product>> {
        self.read(|conn| {
            let mut all: Vec<Product> = load(
                conn,
                "SELECT data FROM products WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND stall_id = ? \
                 AND removed IN (0, ?)",
                params![nid, stall_id, include_removed],
            )?;
            all.sort_by_cached_key(|p| (sort_key(&p.name), p.id.clone()));
            Ok(all)
        })
    }

    /// The pre-orders a stall still has to hand over (placed, confirmed, ready), by pickup day (those
    /// without one last), then in the order they were placed.
    pub fn pending_orders(&self, nid: &str, stall_id: &str) -> Result<Vec<OrderView>> {
        self.read(|conn| {
            let orders: Vec<Order> = load(
                conn,
                "SELECT data FROM orders WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND stall_id = ? \
                 AND status IN ('placed', 'confirmed', 'ready') \
                 ORDER BY pickup_day IS NULL, pickup_day, created_at, id",
                params![nid, stall_id],
            )?;
            order_views(conn, nid, orders)
        })
    }

    /// Pre-orders, newest first.
    pub fn orders(&self, nid: &str, filter: &OrderFilter, page: Page) -> Result<Vec<OrderView>> {
        let page = page.checked()?;
        self.read(|conn| {
            let mut w = Where::new(nid);
            w.eq_opt("customer", filter.customer.clone());
            w.eq_opt("stall_id", filter.stall_id.clone());
            w.eq_opt("status", filter.status.as_ref().map(tag));
            let sql = format!(
                "SELECT data FROM orders WHERE {} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                w.sql
            );
            let orders: Vec<Order> = load(conn, &sql, params_from_iter(w.paged(page)))?;
            order_views(conn, nid, orders)
        })
    }

    /// The messages of a thread, oldest first.
    pub fn thread(&self, nid: &str, thread: &ThreadRef, page: Page) -> Result<Vec<MessageView>> {
        let page = page.checked()?;
        self.read(|conn| {
            let messages: Vec<Message> = load(
                conn,
                "SELECT data FROM messages WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND thread_id = ? AND thread_kind = ? \
                 ORDER BY sent_at, id LIMIT ? OFFSET ?",
                params![nid, thread.id, tag(&thread.kind), page.limit, page.offset],
            )?;
            let mut names = Names::new(conn, nid);
            messages
                .into_iter()
                .map(|message| Ok(MessageView { author_name: names.of(&message.author)?, message }))
                .collect()
        })
    }
}

fn member_view(conn: &Connection, nid: &str, id: &str) -> Result<Option<MemberView>> {
    let Some(member) = fetch::<Member>(conn, nid, id)? else { return Ok(None) };
    let thanks: i64 = conn
        .prepare_cached(
            "SELECT (SELECT count(*) FROM favours WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) AND counterpart = ?2 \
                     AND kind = 'ask' AND status = 'thanked') \
                  + (SELECT count(*) FROM favours WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) AND author = ?2 \
                     AND kind = 'offer' AND status = 'thanked')",
        )
        .and_then(|mut stmt| stmt.query_row(params![nid, id], |row| row.get(0)))
        .map_err(StoreError::sqlite("counting thanks"))?;
    Ok(Some(MemberView { member, thanks_received: u32::try_from(thanks).unwrap_or(u32::MAX) }))
}

fn lent_now(conn: &Connection, nid: &str, item_id: &str) -> Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM loans WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND item_id = ? \
         AND status = 'handed_over')",
    )
    .and_then(|mut stmt| stmt.query_row(params![nid, item_id], |row| row.get(0)))
    .map_err(StoreError::sqlite("reading an item's loans"))
}

/// What is shown for an item that is no longer in the replica.
const REMOVED_ITEM: &str = "an item that was removed";
/// What is shown for a product that is no longer in the replica.
const REMOVED_PRODUCT: &str = "a product that was removed";
/// What is shown for a stall that is no longer in the replica.
const REMOVED_STALL: &str = "a stall that closed";

pub(super) fn order_views(conn: &Connection, nid: &str, orders: Vec<Order>) -> Result<Vec<OrderView>> {
    let mut names = Names::new(conn, nid);
    let mut stalls: HashMap<String, String> = HashMap::new();
    let mut products: HashMap<String, Option<Product>> = HashMap::new();
    let mut views = Vec::with_capacity(orders.len());
    for order in orders {
        let stall_name = match stalls.get(&order.stall_id) {
            Some(name) => name.clone(),
            None => {
                let name = fetch::<Stall>(conn, nid, &order.stall_id)?
                    .map_or_else(|| REMOVED_STALL.to_owned(), |s| s.name);
                stalls.insert(order.stall_id.clone(), name.clone());
                name
            }
        };
        let mut lines = Vec::with_capacity(order.lines.len());
        for line in &order.lines {
            if !products.contains_key(&line.product_id) {
                products.insert(line.product_id.clone(), fetch::<Product>(conn, nid, &line.product_id)?);
            }
            let product = products.get(&line.product_id).and_then(Option::as_ref);
            lines.push(OrderLineView {
                product_id: line.product_id.clone(),
                name: product.map_or_else(|| REMOVED_PRODUCT.to_owned(), |p| p.name.clone()),
                unit: product.map_or_else(String::new, |p| p.unit.clone()),
                quantity: line.quantity,
                price_cents: product.map_or(0, |p| p.price_cents),
            });
        }
        let total_cents =
            lines.iter().fold(0_i64, |sum, l| sum.saturating_add(l.quantity.saturating_mul(l.price_cents)));
        views.push(OrderView {
            customer_name: names.of(&order.customer)?,
            stall_name,
            lines,
            total_cents,
            order,
        });
    }
    Ok(views)
}

// ---------------------------------------------------------------------------------------------------
// Helpers shared by the read side
// ---------------------------------------------------------------------------------------------------

/// An entity kind whose rows can be read back as its own type.
pub(super) trait Stored: DeserializeOwned {
    const KIND: EntityKind;
}

macro_rules! stored {
    ($($ty:ident),*) => {$(
        impl Stored for $ty { const KIND: EntityKind = EntityKind::$ty; }
    )*};
}
stored!(Neighbourhood, Member, Invitation, Favour, Item, Loan, Stall, Product, Order, Message);

/// The JSON of the `data` column: the entity, tagged with its kind (as `Entity` serialises).
#[derive(Deserialize)]
struct Tagged<T> {
    kind: EntityKind,
    data: T,
}

/// Reads one `data` column as an entity of type `T`.
pub(super) fn decode<T: Stored>(json: &str) -> Result<T> {
    let what = T::KIND.as_str();
    let tagged: Tagged<T> = serde_json::from_str(json).map_err(StoreError::data(what))?;
    if tagged.kind != T::KIND {
        let source = <serde_json::Error as serde::de::Error>::custom(format!(
            "the row holds a {} instead",
            tagged.kind.as_str()
        ));
        return Err(StoreError::Data { what, source });
    }
    Ok(tagged.data)
}

/// Reads the entities of a `SELECT data …`.
pub(super) fn load<T: Stored>(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<T>> {
    let context = "reading the local state";
    let mut stmt = conn.prepare_cached(sql).map_err(StoreError::sqlite(context))?;
    let rows = stmt.query_map(params, |row| row.get::<_, String>(0)).map_err(StoreError::sqlite(context))?;
    rows.map(|row| decode(&row.map_err(StoreError::sqlite(context))?)).collect()
}

/// One entity of type `T`, if the replica holds it.
pub(super) fn fetch<T: Stored>(conn: &Connection, nid: &str, id: &str) -> Result<Option<T>> {
    let sql =
        format!("SELECT data FROM {} WHERE {IN_NEIGHBOURHOOD} AND id = ?", super::rows::table_of(T::KIND));
    let json: Option<String> = conn
        .prepare_cached(&sql)
        .and_then(|mut stmt| stmt.query_row(params![nid, id], |row| row.get(0)).optional())
        .map_err(StoreError::sqlite("reading the local state"))?;
    json.as_deref().map(decode).transpose()
}

/// What is shown for a person the replica does not know (yet).
pub(super) const UNKNOWN_NAME: &str = "a neighbour";

/// People's display names, looked up once per query.
pub(super) struct Names<'c> {
    conn: &'c Connection,
    nid: &'c str,
    known: HashMap<String, String>,
}

impl<'c> Names<'c> {
    pub(super) fn new(conn: &'c Connection, nid: &'c str) -> Names<'c> {
        Names { conn, nid, known: HashMap::new() }
    }

    /// The member's display name; a departed member's entity carries "former member".
    pub(super) fn of(&mut self, id: &str) -> Result<String> {
        if let Some(name) = self.known.get(id) {
            return Ok(name.clone());
        }
        let name: Option<String> = self
            .conn
            .prepare_cached("SELECT display_name FROM members WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND id = ?")
            .and_then(|mut stmt| stmt.query_row(params![self.nid, id], |row| row.get(0)).optional())
            .map_err(StoreError::sqlite("reading a member's name"))?;
        let name = name.unwrap_or_else(|| UNKNOWN_NAME.to_owned());
        self.known.insert(id.to_owned(), name.clone());
        Ok(name)
    }
}

/// The conditions of a `WHERE`, always within one neighbourhood. Column names are constants; every
/// value is a parameter.
pub(super) struct Where {
    pub(super) sql: String,
    pub(super) values: Vec<Value>,
}

impl Where {
    pub(super) fn new(nid: &str) -> Where {
        Where { sql: String::from(IN_NEIGHBOURHOOD), values: vec![Value::Text(nid.to_owned())] }
    }

    /// The favours a member wrote or took up. Written as the union of two index look-ups: as
    /// `author = ? OR counterpart = ?`, SQLite would rather walk the whole neighbourhood newest first.
    pub(super) fn involving(nid: &str, who: &str) -> Where {
        Where {
            sql: String::from(
                "favours.rowid IN (SELECT rowid FROM favours WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND author = ? \
                 UNION SELECT rowid FROM favours WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND counterpart = ?)",
            ),
            values: [nid, who, nid, who].map(|v| Value::Text(v.to_owned())).into(),
        }
    }

    pub(super) fn eq_opt(&mut self, column: &'static str, value: Option<String>) {
        if let Some(value) = value {
            self.add_column(column, Value::Text(value));
        }
    }

    fn add_column(&mut self, column: &'static str, value: Value) {
        self.sql.push_str(" AND ");
        self.sql.push_str(column);
        self.sql.push_str(" = ?");
        self.values.push(value);
    }

    pub(super) fn add<V: Into<Value>>(
        &mut self,
        condition: &'static str,
        values: impl IntoIterator<Item = V>,
    ) {
        self.sql.push_str(" AND ");
        self.sql.push_str(condition);
        self.values.extend(values.into_iter().map(Into::into));
    }

    /// The values, followed by a page's `LIMIT ? OFFSET ?`.
    fn paged(&self, page: Page) -> Vec<Value> {
        let mut values = self.values.clone();
        values.push(Value::Integer(i64::from(page.limit)));
        values.push(Value::Integer(i64::from(page.offset)));
        values
    }
}

/// Entities of a table, newest first.
pub(super) fn newest<T: Stored>(
    conn: &Connection,
    table: &'static str,
    w: &Where,
    page: Page,
) -> Result<Vec<T>> {
    let sql = format!(
        "SELECT data FROM {table} WHERE {} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        w.sql
    );
    load(conn, &sql, params_from_iter(w.paged(page)))
}

/// Every status a favour can have: a place search names them so that the
/// `(neighbourhood, status, cell_row, cell_col)` index applies. (A unit test fails if a status is
/// added to the domain and not here.)
const FAVOUR_STATUSES: [FavourStatus; 5] = [
    FavourStatus::Open,
    FavourStatus::Promised,
    FavourStatus::Done,
    FavourStatus::Thanked,
    FavourStatus::Cancelled,
];

/// Where a list is measured from, and how far it reaches.
#[derive(Clone, Copy, Debug)]
pub(super) struct Place {
    pub(super) near: Cell,
    pub(super) within_m: Option<u32>,
}

impl Place {
    pub(super) fn of(near: Option<Cell>, within_m: Option<u32>) -> Result<Option<Place>> {
        match (near, within_m) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(StoreError::Invalid(
                "A distance limit needs a place to measure from: give `near` as well as `within_m`.".into(),
            )),
            (Some(near), within_m) if near.is_valid() => Ok(Some(Place { near, within_m })),
            (Some(near), _) => Err(StoreError::Invalid(format!(
                "The cell {near} is not on the grid; draw it from a location."
            ))),
        }
    }

    /// Whether a shown distance is within the limit.
    pub(super) fn reaches(self, distance_m: u32) -> bool {
        self.within_m.is_none_or(|w| distance_m <= w)
    }
}

/// Half the rounding step: a shown distance `d` is a centre distance below `d + HALF_STEP_M`.
pub(super) const HALF_STEP_M: f64 = DISTANCE_STEP_M as f64 / 2.0;
/// The first band searched around a place.
const FIRST_RADIUS_M: f64 = 2_000.0;
/// At most this many cells of a band are counted one by one, nearest first; a band of more is counted
/// by spans of columns (one seek a row instead of one a cell).
const CELLS_ONE_BY_ONE: usize = 1024;
/// More than half the earth's circumference: a band this wide holds every row of the grid.
pub(super) const WHOLE_EARTH_M: f64 = 20_100_000.0;

/// A table searched by place: the column its place index starts with after the neighbourhood.
pub(super) struct Located {
    table: &'static str,
    state_column: &'static str,
}

impl Located {
    const FAVOURS: Located = Located { table: "favours", state_column: "status" };
    const ITEMS: Located = Located { table: "items", state_column: "withdrawn" };

    /// How many candidates each cell of a band holds: cell_row, cell_col and a count. The band is
    /// either the rows of a range (`cell_row BETWEEN ? AND ?`, after the filter's values), or, when
    /// `narrow`, spans of columns row by row (a JSON array of `[row, first column, last column]`, the
    /// first value), which the place index seeks to one by one.
    pub(super) fn band_sql(&self, w: &Where, states: usize, narrow: bool) -> String {
        let select = "cell_row, cell_col, count(*)";
        let group = " GROUP BY cell_row, cell_col";
        if narrow {
            self.spans_sql(select, w, states) + group
        } else {
            format!(
                "SELECT {select} FROM {} WHERE {} AND {} IN ({}) AND cell_row BETWEEN ? AND ?{group}",
                self.table,
                w.sql,
                self.state_column,
                vec!["?"; states].join(", ")
            )
        }
    }

    /// How many candidates each of some cells holds (a JSON array of `[row, column]`, the last value),
    /// one row per cell in the array's order: SQLite counts a cell only when its row is stepped to, so
    /// the nearest cells can be counted first and the rest left uncounted.
    fn count_sql(&self, w: &Where, states: usize) -> String {
        format!(
            "SELECT (SELECT count(*) FROM {} WHERE {} AND {} IN ({}) \
             AND cell_row = cell.value ->> 0 AND cell_col = cell.value ->> 1) FROM json_each(?) AS cell",
            self.table,
            w.sql,
            self.state_column,
            vec!["?"; states].join(", ")
        )
    }

    /// The candidates of some spans of cells (a JSON array of `[row, first column, last column]`, the
    /// first value): rowid, creation time, id, cell_row and cell_col.
    fn cells_sql(&self, w: &Where, states: usize) -> String {
        let t = self.table;
        self.spans_sql(&format!("{t}.rowid, created_at, {t}.id, cell_row, cell_col"), w, states)
    }

    /// `select` of the rows in some spans of cells, the spans (`json_each`) sought one by one in the
    /// place index. The filter's columns are the table's own (`json_each` has an `id` and a `rowid`
    /// too, which the selected columns qualify).
    fn spans_sql(&self, select: &str, w: &Where, states: usize) -> String {
        format!(
            "SELECT {select} FROM json_each(?) AS span CROSS JOIN {} WHERE {} AND {} IN ({}) \
             AND cell_row = span.value ->> 0 AND cell_col BETWEEN span.value ->> 1 AND span.value ->> 2",
            self.table,
            w.sql,
            self.state_column,
            vec!["?"; states].join(", ")
        )
    }
}

/// Cells as a JSON array of `[row, column]`, for [`Located::count_sql`].
fn cells_json(cells: impl IntoIterator<Item = (u32, u32)>) -> Value {
    let mut json = String::from("[");
    for (row, col) in cells {
        if json.len() > 1 {
            json.push(',');
        }
        json.push_str(&format!("[{row},{col}]"));
    }
    json.push(']');
    Value::Text(json)
}

/// Spans of cells as a JSON array of `[row, first column, last column]`, for [`Located::spans_sql`].
fn spans_json(spans: impl IntoIterator<Item = (u32, u32, u32)>) -> Value {
    let mut json = String::from("[");
    for (row, first, last) in spans {
        if json.len() > 1 {
            json.push(',');
        }
        json.push_str(&format!("[{row},{first},{last}]"));
    }
    json.push(']');
    Value::Text(json)
}

/// The cell of a row's `cell_row` and `cell_col`, if it has one.
pub(super) fn cell_of(row: Option<i64>, col: Option<i64>) -> Option<Cell> {
    Some(Cell { row: u32::try_from(row?).ok()?, col: u32::try_from(col?).ok()? })
}

/// A page of a table nearest first from a place, ties newest first.
///
/// Every cell outside `near.rows_within(r)` and `near.cols_within(r)` is more than `r` away, so once
/// the band holds as many rows whose shown distance `d` satisfies `d + HALF_STEP_M <= r` as the page
/// needs, no row outside it can come before them: the band is widened (×4) until then, or until it
/// reaches as far as the filter does.
///
/// The band is counted cell by cell from the place index alone (SQLite counts; a distance is measured
/// once per cell), then only the cells up to the distance of the page's last entry are read for their
/// rows' creation time and id, to order ties, and only the page's rows are read whole.
fn nearest<T: Stored, S: Into<Value>>(
    conn: &Connection,
    located: &Located,
    states: Vec<S>,
    w: &Where,
    place: Place,
    page: Page,
) -> Result<Vec<(T, Option<u32>)>> {
    let context = "searching by place";
    let states: Vec<Value> = states.into_iter().map(Into::into).collect();
    let reach_m = place.within_m.map_or(WHOLE_EARTH_M, |w| f64::from(w) + HALF_STEP_M).min(WHOLE_EARTH_M);
    let mut radius = FIRST_RADIUS_M.min(reach_m);
    // The cells counted so far, nearest first: distance, cell, how many candidates. Each round adds
    // the cells whose shown distance is certain within its radius and were not certain before, all
    // further than those of the rounds before.
    let mut counted: Vec<(u32, Cell, usize)> = Vec::new();
    let mut before: Option<f64> = None;
    let cutoff = loop {
        let complete = radius >= reach_m;
        let certain = |distance: u32| {
            (complete || f64::from(distance) + HALF_STEP_M <= radius)
                && place.reaches(distance)
                && before.is_none_or(|r| f64::from(distance) + HALF_STEP_M > r)
        };
        let rows = place.near.rows_within(radius);
        // Sought span by span while the band is a few hundred rows at most; beyond, read row by row.
        let narrow = rows.end() - rows.start() < 256;
        let spans = if narrow { place.near.spans_within(radius) } else { Vec::new() };
        let spanned: u32 = spans.iter().map(|(_, cols)| cols.end() - cols.start() + 1).sum();
        let mut cells: Vec<(u32, Cell)> = Vec::new();
        let mut one_by_one = narrow && spanned as usize <= 4 * CELLS_ONE_BY_ONE;
        if one_by_one {
            for (row, cols) in &spans {
                for col in cols.clone() {
                    let cell = Cell { row: *row, col };
                    let distance = place.near.distance_m(cell);
                    if certain(distance) {
                        cells.push((distance, cell));
                    }
                }
            }
            cells.sort_unstable();
        }
        let start = counted.len();
        one_by_one &= cells.len() <= CELLS_ONE_BY_ONE;
        if one_by_one {
            // Nearest first, one cell at a time, until the page is full and its last distance is
            // passed: the cells further away are not counted.
            let values =
                bound(None, w, &states, [cells_json(cells.iter().map(|(_, cell)| (cell.row, cell.col)))]);
            let mut count = conn
                .prepare_cached(&located.count_sql(w, states.len()))
                .map_err(StoreError::sqlite(context))?;
            let mut counts = count.query(params_from_iter(values)).map_err(StoreError::sqlite(context))?;
            let mut total: usize = counted.iter().map(|&(_, _, n)| n).sum();
            let mut last = None;
            for &(distance, cell) in &cells {
                if last.is_some_and(|last| distance > last) {
                    break;
                }
                let Some(row) = counts.next().map_err(StoreError::sqlite(context))? else { break };
                let n = row.get::<_, i64>(0).map_err(StoreError::sqlite(context))?;
                let n = usize::try_from(n).unwrap_or(0);
                total += n;
                counted.push((distance, cell, n));
                if last.is_none() && total >= page.end() {
                    last = Some(distance);
                }
            }
        } else {
            // Too many cells to count one by one: SQLite counts the band's candidates by cell.
            let values = if narrow {
                let spans = spans_json(spans.iter().map(|(row, cols)| (*row, *cols.start(), *cols.end())));
                bound(Some(spans), w, &states, [])
            } else {
                let band = [rows.start(), rows.end()].map(|row| Value::Integer(i64::from(*row)));
                bound(None, w, &states, band)
            };
            let mut band = conn
                .prepare_cached(&located.band_sql(w, states.len(), narrow))
                .map_err(StoreError::sqlite(context))?;
            let mut cursor = band.query(params_from_iter(values)).map_err(StoreError::sqlite(context))?;
            while let Some(row) = cursor.next().map_err(StoreError::sqlite(context))? {
                let read = |row: &rusqlite::Row<'_>| -> rusqlite::Result<_> {
                    Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)?))
                };
                let (cell_row, cell_col, count) = read(row).map_err(StoreError::sqlite(context))?;
                let Some(cell) = cell_of(cell_row, cell_col) else { continue };
                let distance = place.near.distance_m(cell);
                if certain(distance) {
                    counted.push((distance, cell, usize::try_from(count).unwrap_or(0)));
                }
            }
            counted[start..].sort_unstable();
        }
        // The distance of the page's last entry: every row of a cell at most this far is a candidate.
        let mut so_far = 0;
        if let Some(&(distance, _, _)) = counted.iter().find(|&&(_, _, count)| {
            so_far += count;
            so_far >= page.end()
        }) {
            break distance;
        }
        if complete {
            break u32::MAX;
        }
        before = Some(radius);
        radius = (radius * 4.0).min(reach_m);
    };
    counted.retain(|&(distance, _, count)| distance <= cutoff && count > 0);
    let ranked = page.slice(candidates(conn, located, &states, w, counted)?);
    let data = whole_rows(conn, located.table, ranked.iter().map(|r| r.3))?;
    ranked
        .into_iter()
        .zip(data)
        .map(|((distance, _, _, _), json)| {
            let json =
                json.ok_or_else(|| StoreError::sqlite(context)(rusqlite::Error::QueryReturnedNoRows))?;
            Ok((decode(&json)?, Some(distance)))
        })
        .collect()
}

/// The parameters of a located query: the values that go before the filter's (`first`), the filter's
/// and the states', then `last`, in the order of the query's placeholders.
fn bound(
    first: Option<Value>,
    w: &Where,
    states: &[Value],
    last: impl IntoIterator<Item = Value>,
) -> Vec<Value> {
    first.into_iter().chain(w.values.iter().cloned()).chain(states.iter().cloned()).chain(last).collect()
}

/// One candidate of a nearest-first list: its distance, then newest and id first (ties), and its row.
type Candidate = (u32, Reverse<i64>, Reverse<String>, i64);

/// The candidates in the `counted` cells (distance, cell, count), in one statement, in list order.
fn candidates(
    conn: &Connection,
    located: &Located,
    states: &[Value],
    w: &Where,
    mut counted: Vec<(u32, Cell, usize)>,
) -> Result<Vec<Candidate>> {
    let context = "searching by place";
    let mut ranked = Vec::new();
    if counted.is_empty() {
        return Ok(ranked);
    }
    let spans = spans_json(counted.iter().map(|(_, cell, _)| (cell.row, cell.col, cell.col)));
    let values = bound(Some(spans), w, states, []);
    let mut of_cells =
        conn.prepare_cached(&located.cells_sql(w, states.len())).map_err(StoreError::sqlite(context))?;
    let mut rows = of_cells.query(params_from_iter(values)).map_err(StoreError::sqlite(context))?;
    counted.sort_unstable_by_key(|&(_, cell, _)| cell);
    while let Some(row) = rows.next().map_err(StoreError::sqlite(context))? {
        let read = |row: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, i64, String, _, _)> {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
        };
        let (rowid, created_at, id, cell_row, cell_col) = read(row).map_err(StoreError::sqlite(context))?;
        let Some(cell) = cell_of(cell_row, cell_col) else { continue };
        let Ok(at) = counted.binary_search_by_key(&cell, |&(_, cell, _)| cell) else { continue };
        ranked.push((counted[at].0, Reverse(created_at), Reverse(id), rowid));
    }
    ranked.sort_unstable();
    Ok(ranked)
}

/// The `data` of these rows of `table`, in their order (`None` for a row no longer there), in one
/// statement: each statement on its own is a read transaction.
fn whole_rows(
    conn: &Connection,
    table: &str,
    rowids: impl Iterator<Item = i64>,
) -> Result<Vec<Option<String>>> {
    let context = "searching by place";
    let rowids: Vec<i64> = rowids.collect();
    let mut data: Vec<Option<String>> = vec![None; rowids.len()];
    if rowids.is_empty() {
        return Ok(data);
    }
    let list = format!("[{}]", rowids.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
    let mut whole = conn
        .prepare_cached(&format!(
            "SELECT rowids.key, {table}.data FROM json_each(?) AS rowids CROSS JOIN {table} \
             WHERE {table}.rowid = rowids.value"
        ))
        .map_err(StoreError::sqlite(context))?;
    let mut rows = whole.query([list]).map_err(StoreError::sqlite(context))?;
    while let Some(row) = rows.next().map_err(StoreError::sqlite(context))? {
        let at: i64 = row.get(0).map_err(StoreError::sqlite(context))?;
        if let Some(slot) = usize::try_from(at).ok().and_then(|at| data.get_mut(at)) {
            *slot = Some(row.get(1).map_err(StoreError::sqlite(context))?);
        }
    }
    Ok(data)
}

/// A key that sorts names as people expect: case and the accents of Latin letters aside, so that
/// "Émile" comes between "Denise" and "Fanny" (SQLite's collations only fold ASCII).
pub(super) fn sort_key(text: &str) -> String {
    let mut key = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let plain = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
            'ç' | 'ć' | 'ĉ' | 'č' => "c",
            'ď' | 'đ' => "d",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
            'ğ' => "g",
            'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
            'ł' => "l",
            'ñ' | 'ń' | 'ň' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
            'ř' => "r",
            'ś' | 'š' | 'ş' => "s",
            'ť' | 'ţ' => "t",
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
            'ý' | 'ÿ' => "y",
            'ź' | 'ż' | 'ž' => "z",
            'æ' => "ae",
            'œ' => "oe",
            'ß' => "ss",
            // Combining accents (text in decomposed form).
            '\u{300}'..='\u{36f}' => "",
            other => {
                key.push(other);
                continue;
            }
        };
        key.push_str(plain);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    #[test]
    fn every_favour_status_is_searched_by_place() {
        // Adding a status to the domain breaks this match: add it to FAVOUR_STATUSES too.
        for status in FAVOUR_STATUSES {
            match status {
                FavourStatus::Open
                | FavourStatus::Promised
                | FavourStatus::Done
                | FavourStatus::Thanked
                | FavourStatus::Cancelled => {}
            }
        }
        let mut tags: Vec<String> = FAVOUR_STATUSES.iter().map(tag).collect();
        tags.dedup();
        assert_eq!(tags.len(), 5);
    }

    #[test]
    fn names_sort_as_people_expect() {
        let mut names = vec!["Zoé", "émile", "Denise", "Éloïse", "fanny", "Chloé", "Œdipe"];
        names.sort_by_key(|n| sort_key(n));
        assert_eq!(names, ["Chloé", "Denise", "Éloïse", "émile", "fanny", "Œdipe", "Zoé"]);
        assert_eq!(sort_key("Le\u{301}a"), sort_key("Léa"));
    }

    #[test]
    fn pages_out_of_range_are_refused_with_a_sentence() {
        assert!(Page::default().checked().is_ok());
        assert!(Page::new(200, 10_000).checked().is_ok());
        for limit in [0, 201] {
            let err = Page::new(limit, 0).checked().unwrap_err();
            assert!(matches!(err, StoreError::Invalid(ref m) if m.contains("1 to 200")), "{err}");
        }
        assert_eq!(Page::new(20, 40).next(), Page::new(20, 60));
    }

    fn plan(store: &Store, sql: &str, values: usize) -> String {
        store
            .read(|conn| {
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                let values = (0..values).map(|i| Value::Text(format!("v{i}")));
                let rows = stmt.query_map(params_from_iter(values), |row| row.get::<_, String>(3)).unwrap();
                Ok(rows.map(Result::unwrap).collect::<Vec<_>>().join("\n"))
            })
            .unwrap()
    }

    /// A person's favours, items and pre-orders are found through their own index, not by walking the
    /// neighbourhood's list newest first.
    #[test]
    fn lists_of_one_person_use_their_index() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = Store::open(dir.path().join("q.db"), StoreOptions::default()).unwrap();
        let page = Page::default();
        let mut author = Where::new("n");
        author.eq_opt("author", Some("bob".into()));
        let involving = Where::involving("n", "bob");
        let mut owner = Where::new("n");
        owner.eq_opt("owner", Some("bob".into()));
        owner.add("withdrawn = 0", Vec::<Value>::new());
        let mut any_owner = Where::new("n");
        any_owner.eq_opt("owner", Some("bob".into()));
        let mut customer = Where::new("n");
        customer.eq_opt("customer", Some("bob".into()));
        for (table, w, index) in [
            ("favours", author, "INDEX favours_by_author_time"),
            ("favours", involving, "INTEGER PRIMARY KEY"),
            ("items", owner, "INDEX items_by_owner_time"),
            ("items", any_owner, "INDEX items_by_owner_time"),
            ("orders", customer, "INDEX orders_by_customer_time"),
        ] {
            let sql = format!(
                "SELECT data FROM {table} WHERE {} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                w.sql
            );
            let plan = plan(&store, &sql, w.paged(page).len());
            assert!(plan.contains(index), "{sql}\n{plan}");
            assert!(!plan.contains("_by_time"), "{sql}\n{plan}");
        }
    }

    /// The nearest-first search reads a band of rows through the place index, for every filter shape
    /// the apps use, and never scans the table; with no other filter it reads the index alone.
    #[test]
    fn the_place_search_uses_the_place_index() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = Store::open(dir.path().join("q.db"), StoreOptions::default()).unwrap();
        let category = |c: &str| {
            let mut w = Where::new("n");
            w.eq_opt("category", Some(c.into()));
            w
        };
        let garden = {
            let mut w = Where::new("n");
            w.eq_opt("kind", Some("ask".into()));
            w.eq_opt("category", Some("garden".into()));
            w
        };
        let shapes: Vec<(&Located, Where, usize, &str)> = vec![
            (&Located::FAVOURS, Where::new("n"), 5, "COVERING INDEX favours_by_place"),
            (&Located::FAVOURS, Where::new("n"), 1, "COVERING INDEX favours_by_place"),
            (&Located::ITEMS, Where::new("n"), 1, "COVERING INDEX items_by_place"),
            (&Located::ITEMS, Where::new("n"), 2, "COVERING INDEX items_by_place"),
            (&Located::FAVOURS, garden, 5, "INDEX favours_by_category_place"),
            (&Located::FAVOURS, category("garden"), 1, "COVERING INDEX favours_by_category_place"),
            (&Located::ITEMS, category("tools"), 1, "COVERING INDEX items_by_category_place"),
        ];
        for (located, w, states, index, narrow) in
            shapes.iter().flat_map(|(l, w, s, i)| [false, true].map(|narrow| (*l, w, *s, *i, narrow)))
        {
            // The band's counts, and the candidates of the cells up to the page's last distance.
            let cells_sql = narrow.then(|| located.cells_sql(w, states));
            for (sql, cells) in
                [(located.band_sql(w, states, narrow), false)].into_iter().chain(cells_sql.map(|s| (s, true)))
            {
                let plan: Vec<String> = store
                    .read(|conn| {
                        let mut values = Vec::new();
                        if narrow {
                            values.push(spans_json([(10, 20, 30), (11, 21, 31)]));
                        }
                        values.extend(w.values.iter().cloned());
                        values.extend((0..states).map(|i| Value::Text(format!("s{i}"))));
                        if !narrow {
                            values.extend([Value::Integer(10), Value::Integer(20)]);
                        }
                        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                        let rows =
                            stmt.query_map(params_from_iter(values), |row| row.get::<_, String>(3)).unwrap();
                        Ok(rows.map(Result::unwrap).collect())
                    })
                    .unwrap();
                let plan = plan.join("\n");
                assert!(
                    plan.contains(index.trim_start_matches(if cells { "COVERING " } else { "" })),
                    "{sql}\n{plan}"
                );
                if narrow {
                    // Each span of the band is looked up: its row, then its columns.
                    assert!(plan.contains("SCAN span"), "{sql}\n{plan}");
                    assert!(plan.contains("cell_row=? AND cell_col>? AND cell_col<?"), "{sql}\n{plan}");
                    assert!(!plan.contains(&format!("SCAN {}", located.table)), "{sql}\n{plan}");
                } else {
                    assert!(plan.contains("cell_row>? AND cell_row<?"), "{sql}\n{plan}");
                    assert!(!plan.contains("SCAN"), "{sql}\n{plan}");
                }
            }
        }
    }
}
