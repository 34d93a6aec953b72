//! The inbox: what concerns the device's person, computed on the device from the replica, and the
//! notifications it may raise without flooding them.
//!
//! Two sorts of entries. *To do* entries last as long as their cause: a loan request on my item, a
//! pre-order waiting at my stall, a loan due back or overdue, my pre-order ready, a change of mine the
//! server refused. *News* entries (a loan answered, a favour taken up or thanked, a pre-order declined,
//! a message) are shown for [`NEWS_DAYS`] days after they happened. Each entry has a stable key that
//! names its cause (`loan-due:<loan id>:<last day>`), so it can be notified once and only once.
//!
//! [`Store::notifications_due`] picks what to notify now: entries never notified before (the
//! `inbox_seen` table), nothing during quiet hours, at most a daily budget per local day, the most
//! pressing first.
//!
//! To add a kind of entry: add an [`InboxKind`], give it a priority, and write its entries in
//! `entries` (a query against the person's own rows, with plain sentences that name the thing and the
//! person).

use super::Store;
use super::error::{Result, StoreError};
use super::queries::{Names, Stored, fetch, load};
use super::rows::tag;
use crate::domain::*;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashSet};

/// News entries stay in the inbox this many days.
pub const NEWS_DAYS: i64 = 7;
const DAY_MS: i64 = 86_400_000;
/// Messages are shown up to this many characters, then cut with "…".
const MESSAGE_PREVIEW_CHARS: usize = 160;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InboxKind {
    /// Someone asks to borrow my item (to do).
    LoanRequested,
    /// My request to borrow was approved, or declined with its reason (news).
    LoanAnswered,
    /// What I borrow is due back today or tomorrow (to do).
    LoanDueSoon,
    /// A loan was not returned on its last day: told to the borrower and to the owner (to do).
    LoanOverdue,
    /// Someone promised to do my ask, or took up my offer (news).
    FavourTakenUp,
    /// Someone thanked me for a favour I did (news).
    FavourThanked,
    /// A pre-order at my stall waits for me to confirm or decline it (to do).
    OrderPlaced,
    /// My pre-order is ready for pickup (to do).
    OrderReady,
    /// My pre-order was declined (news).
    OrderDeclined,
    /// The other party wrote in one of my threads (news; one entry per thread, for its latest message).
    NewMessage,
    /// A change I made offline could not stand, and why (to do, until dismissed).
    Rejected,
}

impl InboxKind {
    /// The stable prefix of the keys of this kind's entries.
    pub fn as_str(self) -> &'static str {
        match self {
            InboxKind::LoanRequested => "loan-requested",
            InboxKind::LoanAnswered => "loan-answered",
            InboxKind::LoanDueSoon => "loan-due",
            InboxKind::LoanOverdue => "loan-overdue",
            InboxKind::FavourTakenUp => "favour-taken-up",
            InboxKind::FavourThanked => "favour-thanked",
            InboxKind::OrderPlaced => "order-placed",
            InboxKind::OrderReady => "order-ready",
            InboxKind::OrderDeclined => "order-declined",
            InboxKind::NewMessage => "message",
            InboxKind::Rejected => "rejected",
        }
    }

    /// Which notifications go first when the budget is short (lower first): overdue, due soon, ready,
    /// requests, then the rest.
    pub fn priority(self) -> u8 {
        match self {
            InboxKind::LoanOverdue => 0,
            InboxKind::LoanDueSoon => 1,
            InboxKind::OrderReady => 2,
            InboxKind::LoanRequested | InboxKind::OrderPlaced => 3,
            _ => 4,
        }
    }
}

/// One thing that concerns me.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxEntry {
    /// Stable for as long as the cause lasts, and never reused for another: `kind:ids…`.
    pub key: String,
    pub kind: InboxKind,
    pub title: String,
    pub body: String,
    /// What to open: the loan, favour or pre-order (for a message, the one its thread is about).
    pub subject: EntityKey,
    /// When it happened or became due, in Unix milliseconds.
    pub at: i64,
}

impl InboxEntry {
    /// For a [`InboxKind::Rejected`] entry, the number to give [`Store::dismiss_rejected`].
    pub fn rejected_seq(&self) -> Option<u64> {
        match self.kind {
            InboxKind::Rejected => self.key.strip_prefix("rejected:")?.parse().ok(),
            _ => None,
        }
    }
}

/// When and how much to notify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotifySettings {
    /// The person's offset from UTC, in minutes (Paris in winter: 60).
    pub utc_offset_minutes: i32,
    /// Quiet hours, in minutes after local midnight; they may wrap midnight (22:00–07:00 is 1320–420).
    /// Equal start and end mean no quiet hours.
    pub quiet_start_min: u16,
    pub quiet_end_min: u16,
    /// The most notifications per local day.
    pub daily_budget: u32,
}

impl Default for NotifySettings {
    /// UTC, quiet from 22:00 to 07:00, five a day.
    fn default() -> NotifySettings {
        NotifySettings {
            utc_offset_minutes: 0,
            quiet_start_min: 22 * 60,
            quiet_end_min: 7 * 60,
            daily_budget: 5,
        }
    }
}

/// Offsets on earth run from UTC-12 to UTC+14; anything beyond ±18 h is a mistake.
fn check_offset(minutes: i32) -> Result<()> {
    if (-18 * 60..=18 * 60).contains(&minutes) {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "A UTC offset of {minutes} minutes is not possible; give it in minutes, between -1080 and 1080."
        )))
    }
}

impl NotifySettings {
    fn check(&self) -> Result<()> {
        check_offset(self.utc_offset_minutes)?;
        if self.quiet_start_min > 24 * 60 || self.quiet_end_min > 24 * 60 {
            return Err(StoreError::Invalid(format!(
                "Quiet hours are given in minutes after midnight, from 0 to 1440, not {} to {}.",
                self.quiet_start_min, self.quiet_end_min
            )));
        }
        Ok(())
    }

    /// Whether `now_ms` falls within the quiet hours, in the person's local time.
    pub fn is_quiet(&self, now_ms: i64) -> bool {
        let local_ms = now_ms.saturating_add(i64::from(self.utc_offset_minutes) * 60_000);
        let minute = local_ms.rem_euclid(DAY_MS) / 60_000;
        let (start, end) = (i64::from(self.quiet_start_min) % 1440, i64::from(self.quiet_end_min) % 1440);
        if start <= end { start <= minute && minute < end } else { minute >= start || minute < end }
    }
}

impl Store {
    /// What concerns this device's person in a neighbourhood, newest first. `now_ms` and the UTC offset
    /// decide what is due, overdue, and still news.
    pub fn inbox(&self, nid: &str, now_ms: i64, utc_offset_minutes: i32) -> Result<Vec<InboxEntry>> {
        check_offset(utc_offset_minutes)?;
        let me = self.identity().person_id.clone();
        self.read(|conn| entries(conn, nid, &me, now_ms, utc_offset_minutes))
    }

    /// The inbox entries to notify now, the most pressing first, and records them so that none is
    /// notified twice. Nothing during quiet hours; at most `daily_budget` a local day, counting what was
    /// already notified that day (in any neighbourhood).
    pub fn notifications_due(
        &self,
        nid: &str,
        now_ms: i64,
        settings: &NotifySettings,
    ) -> Result<Vec<InboxEntry>> {
        settings.check()?;
        if settings.is_quiet(now_ms) {
            return Ok(Vec::new());
        }
        let me = self.identity().person_id.clone();
        let offset = settings.utc_offset_minutes;
        self.read(|conn| {
            // Immediate: the choice and its record are one step, even against another process (a
            // background notifier) on the same file.
            let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
                .map_err(StoreError::sqlite("starting to pick notifications"))?;
            let today = Day::of_instant(now_ms, offset);
            let shown_today: i64 = tx
                .prepare_cached("SELECT count(*) FROM inbox_seen WHERE shown_at >= ? AND shown_at < ?")
                .and_then(|mut stmt| {
                    stmt.query_row(
                        params![today.start_ms(offset), today.plus_days(1).start_ms(offset)],
                        |row| row.get(0),
                    )
                })
                .map_err(StoreError::sqlite("counting today's notifications"))?;
            let left = i64::from(settings.daily_budget).saturating_sub(shown_today).max(0);
            let mut due = Vec::new();
            // The statements borrow the transaction: they end with this block, before the commit.
            if left > 0 {
                let mut seen = tx
                    .prepare_cached("SELECT 1 FROM inbox_seen WHERE entry_key = ?")
                    .map_err(StoreError::sqlite("reading past notifications"))?;
                for entry in entries(&tx, nid, &me, now_ms, offset)? {
                    let notified = seen
                        .query_row([&entry.key], |_| Ok(()))
                        .optional()
                        .map_err(StoreError::sqlite("reading past notifications"))?;
                    if notified.is_none() {
                        due.push(entry);
                    }
                }
                due.sort_by(|a, b| {
                    (a.kind.priority(), Reverse(a.at), &a.key).cmp(&(
                        b.kind.priority(),
                        Reverse(b.at),
                        &b.key,
                    ))
                });
                due.truncate(usize::try_from(left).unwrap_or(usize::MAX));
                let mut record = tx
                    .prepare_cached("INSERT OR IGNORE INTO inbox_seen (entry_key, shown_at) VALUES (?, ?)")
                    .map_err(StoreError::sqlite("recording notifications"))?;
                for entry in &due {
                    record
                        .execute(params![entry.key, now_ms])
                        .map_err(StoreError::sqlite("recording notifications"))?;
                }
            }
            tx.commit().map_err(StoreError::sqlite("recording notifications"))?;
            Ok(due)
        })
    }

    /// Takes a refused change out of the inbox once the person has read why (its number is in the
    /// entry's key: [`InboxEntry::rejected_seq`]).
    pub fn dismiss_rejected(&self, seq: u64) -> Result<()> {
        let changed = self.read(|conn| {
            conn.prepare_cached("UPDATE rejected SET dismissed = 1 WHERE seq = ?")
                .and_then(|mut stmt| stmt.execute([i64::try_from(seq).unwrap_or(i64::MAX)]))
                .map_err(StoreError::sqlite("dismissing a refused change"))
        })?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!(
                "There is no refused change number {seq} to dismiss; it may have been dismissed on another screen."
            )));
        }
        Ok(())
    }
}

fn wall_ms(stamp: Hlc) -> i64 {
    i64::try_from(stamp.wall_ms()).unwrap_or(i64::MAX)
}

fn key(kind: InboxKind, parts: &[&str]) -> String {
    let mut key = String::from(kind.as_str());
    for part in parts {
        key.push(':');
        key.push_str(part);
    }
    key
}

/// "on 2026-03-07" or "from 2026-03-07 to 2026-03-08".
fn period(first: Day, last: Day) -> String {
    if first == last { format!("on {first}") } else { format!("from {first} to {last}") }
}

/// The text with its first letter in capitals (an item's name may start a sentence).
fn capitalised(text: String) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if first.is_lowercase() => first.to_uppercase().chain(chars).collect(),
        _ => text,
    }
}

fn preview(text: &str) -> String {
    let mut chars = text.chars();
    let mut cut: String = chars.by_ref().take(MESSAGE_PREVIEW_CHARS).collect();
    if chars.next().is_some() {
        cut.push('…');
    }
    cut
}

/// Reads the entities of a statement over (neighbourhood, person).
fn mine<T: Stored>(conn: &Connection, sql: &str, nid: &str, me: &str) -> Result<Vec<T>> {
    load(conn, sql, params![nid, me])
}

/// Everything that concerns `me`, newest first.
fn entries(conn: &Connection, nid: &str, me: &str, now_ms: i64, offset: i32) -> Result<Vec<InboxEntry>> {
    let mut out = Vec::new();
    let mut names = Names::new(conn, nid);
    let mut things = Things::new(conn, nid);
    let today = Day::of_instant(now_ms, offset);
    let is_news = |at: i64| now_ms.saturating_sub(at) <= NEWS_DAYS * DAY_MS;

    // Loans of my items.
    for loan in mine::<Loan>(
        conn,
        "SELECT data FROM loans WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND owner = ? AND status IN ('requested', 'handed_over')",
        nid,
        me,
    )? {
        let item = things.item(&loan.item_id)?;
        let borrower = names.of(&loan.borrower)?;
        let subject = EntityKey::new(nid, EntityKind::Loan, &loan.id);
        if loan.status == LoanStatus::Requested {
            let mut body = format!("{borrower} asks to borrow it {}.", period(loan.first_day, loan.last_day));
            if !loan.note.is_empty() {
                body.push_str(&format!(" “{}”", loan.note));
            }
            body.push_str(" Approve or decline the request.");
            out.push(InboxEntry {
                key: key(InboxKind::LoanRequested, &[&loan.id]),
                kind: InboxKind::LoanRequested,
                title: format!("{borrower} would like to borrow {item}"),
                body,
                subject,
                at: loan.created_at,
            });
        } else if loan.last_day < today {
            out.push(InboxEntry {
                key: key(InboxKind::LoanOverdue, &[&loan.id, &loan.last_day.to_string()]),
                kind: InboxKind::LoanOverdue,
                title: format!("{borrower} has not returned {item} yet"),
                body: format!(
                    "It was due back on {}. You can write to {borrower} in the loan's thread, and mark it \
                     returned once you have it.",
                    loan.last_day
                ),
                subject,
                at: loan.last_day.plus_days(1).start_ms(offset),
            });
        }
    }

    // Loans I asked for.
    for loan in mine::<Loan>(
        conn,
        "SELECT data FROM loans WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND borrower = ? \
         AND status IN ('approved', 'declined', 'handed_over')",
        nid,
        me,
    )? {
        let item = things.item(&loan.item_id)?;
        let owner = names.of(&loan.owner)?;
        let subject = EntityKey::new(nid, EntityKind::Loan, &loan.id);
        match loan.status {
            LoanStatus::Approved | LoanStatus::Declined if is_news(wall_ms(loan.updated)) => {
                let approved = loan.status == LoanStatus::Approved;
                let (title, body) = if approved {
                    (
                        format!("{owner} will lend you {item}"),
                        format!(
                            "Your request is approved, {}. Agree on the hand-over with {owner} in the loan's thread.",
                            period(loan.first_day, loan.last_day)
                        ),
                    )
                } else {
                    let why = match &loan.decline_reason {
                        Some(reason) => reason.clone(),
                        None => format!("{owner} declined your request."),
                    };
                    (
                        format!("{owner} cannot lend you {item}"),
                        format!("{why} You asked for it {}.", period(loan.first_day, loan.last_day)),
                    )
                };
                out.push(InboxEntry {
                    key: key(InboxKind::LoanAnswered, &[&loan.id, &tag(&loan.status)]),
                    kind: InboxKind::LoanAnswered,
                    title,
                    body,
                    subject,
                    at: wall_ms(loan.updated),
                });
            }
            LoanStatus::HandedOver if loan.last_day < today => out.push(InboxEntry {
                key: key(InboxKind::LoanOverdue, &[&loan.id, &loan.last_day.to_string()]),
                kind: InboxKind::LoanOverdue,
                title: capitalised(format!("{item} is overdue")),
                body: format!(
                    "It was due back to {owner} on {}. Please return it, or write to {owner} in the loan's thread.",
                    loan.last_day
                ),
                subject,
                at: loan.last_day.plus_days(1).start_ms(offset),
            }),
            LoanStatus::HandedOver if today.days_until(loan.last_day) <= 1 => {
                let when = if loan.last_day == today { "today" } else { "tomorrow" };
                out.push(InboxEntry {
                    key: key(InboxKind::LoanDueSoon, &[&loan.id, &loan.last_day.to_string()]),
                    kind: InboxKind::LoanDueSoon,
                    title: capitalised(format!("{item} is due back {when}")),
                    body: format!("Please return it to {owner} by the end of {}.", loan.last_day),
                    subject,
                    at: loan.last_day.plus_days(-1).start_ms(offset).max(wall_ms(loan.updated)),
                });
            }
            _ => {}
        }
    }

    // My favours that someone took up.
    for favour in mine::<Favour>(
        conn,
        "SELECT data FROM favours WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND author = ? AND status = 'promised'",
        nid,
        me,
    )? {
        let Some(counterpart) = favour.counterpart.as_deref() else { continue };
        if !is_news(wall_ms(favour.updated)) {
            continue;
        }
        let who = names.of(counterpart)?;
        let title = match favour.kind {
            FavourKind::Ask => format!("{who} will help: {}", favour.title),
            FavourKind::Offer => format!("{who} took up your offer: {}", favour.title),
        };
        out.push(InboxEntry {
            key: key(InboxKind::FavourTakenUp, &[&favour.id, counterpart]),
            kind: InboxKind::FavourTakenUp,
            title,
            body: format!(
                "Agree on the details with {who} in the favour's thread, and mark it done once it is."
            ),
            subject: EntityKey::new(nid, EntityKind::Favour, &favour.id),
            at: wall_ms(favour.updated),
        });
    }

    // Favours I did and was thanked for.
    for favour in mine::<Favour>(
        conn,
        "SELECT data FROM favours WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) AND counterpart = ?2 AND kind = 'ask' \
           AND status = 'thanked' \
         UNION ALL SELECT data FROM favours WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) AND author = ?2 AND kind = 'offer' \
           AND status = 'thanked'",
        nid,
        me,
    )? {
        if !is_news(wall_ms(favour.updated)) {
            continue;
        }
        let Some(beneficiary) = favour.beneficiary() else { continue };
        let who = names.of(beneficiary)?;
        let body = match &favour.thanks_note {
            Some(note) => format!("“{note}”"),
            None => format!("{who} marked “{}” as done and thanked you.", favour.title),
        };
        out.push(InboxEntry {
            key: key(InboxKind::FavourThanked, &[&favour.id]),
            kind: InboxKind::FavourThanked,
            title: format!("{who} thanked you for “{}”", favour.title),
            body,
            subject: EntityKey::new(nid, EntityKind::Favour, &favour.id),
            at: wall_ms(favour.updated),
        });
    }

    // Pre-orders waiting at my stalls.
    for order in mine::<Order>(
        conn,
        "SELECT data FROM orders WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND trader = ? AND status = 'placed'",
        nid,
        me,
    )? {
        let customer = names.of(&order.customer)?;
        let stall = things.stall(&order.stall_id)?;
        let mut lines = Vec::with_capacity(order.lines.len());
        for line in &order.lines {
            lines.push(things.order_line(&line.product_id, line.quantity)?);
        }
        let pickup = order.pickup_day.map_or_else(String::new, |d| format!(", to pick up on {d}"));
        out.push(InboxEntry {
            key: key(InboxKind::OrderPlaced, &[&order.id]),
            kind: InboxKind::OrderPlaced,
            title: format!("{customer} pre-ordered at {}", stall.name),
            body: format!("{}{pickup}. Confirm or decline it.", lines.join(", ")),
            subject: EntityKey::new(nid, EntityKind::Order, &order.id),
            at: order.created_at,
        });
    }

    // My pre-orders, ready or declined.
    for order in mine::<Order>(
        conn,
        "SELECT data FROM orders WHERE neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?) AND customer = ? AND status IN ('ready', 'declined')",
        nid,
        me,
    )? {
        let stall = things.stall(&order.stall_id)?;
        let subject = EntityKey::new(nid, EntityKind::Order, &order.id);
        if order.status == OrderStatus::Ready {
            let place = if stall.place.is_empty() { String::new() } else { format!(", {}", stall.place) };
            out.push(InboxEntry {
                key: key(InboxKind::OrderReady, &[&order.id]),
                kind: InboxKind::OrderReady,
                title: format!("Your pre-order at {} is ready", stall.name),
                body: format!("Pick it up at {}{place}.", stall.market),
                subject,
                at: wall_ms(order.updated),
            });
        } else if is_news(wall_ms(order.updated)) {
            let body = match &order.decline_reason {
                Some(reason) => format!("{reason} Nothing is reserved for you."),
                None => String::from("The trader could not take it; nothing is reserved for you."),
            };
            out.push(InboxEntry {
                key: key(InboxKind::OrderDeclined, &[&order.id]),
                kind: InboxKind::OrderDeclined,
                title: format!("{} declined your pre-order", stall.name),
                body,
                subject,
                at: wall_ms(order.updated),
            });
        }
    }

    // New messages to me in my threads: one entry per thread, for its latest message. (A message
    // names its recipient; one written before a favour changed hands is not for the new counterpart.)
    let recent: Vec<Message> = load(
        conn,
        "SELECT m.data FROM messages m WHERE m.neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) AND m.sent_at >= ?3 AND m.author <> ?2 \
         AND CASE m.thread_kind \
           WHEN 'favour' THEN EXISTS (SELECT 1 FROM favours f WHERE f.neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) \
             AND f.id = m.thread_id AND (f.author = ?2 OR f.counterpart = ?2)) \
           WHEN 'loan' THEN EXISTS (SELECT 1 FROM loans l WHERE l.neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) \
             AND l.id = m.thread_id AND (l.owner = ?2 OR l.borrower = ?2)) \
           WHEN 'order' THEN EXISTS (SELECT 1 FROM orders o WHERE o.neighbourhood = (SELECT number FROM neighbourhood_numbers WHERE id = ?1) \
             AND o.id = m.thread_id AND (o.trader = ?2 OR o.customer = ?2)) \
           ELSE 0 END \
         AND coalesce(json_extract(m.data, '$.data.recipient') = ?2, 1) \
         ORDER BY m.sent_at DESC, m.id DESC",
        params![nid, me, now_ms.saturating_sub(NEWS_DAYS * DAY_MS)],
    )?;
    let mut latest: BTreeMap<(String, String), (Message, usize)> = BTreeMap::new();
    for message in recent {
        let thread = (tag(&message.thread.kind), message.thread.id.clone());
        latest.entry(thread).and_modify(|(_, count)| *count += 1).or_insert((message, 1));
    }
    for ((kind, thread_id), (message, count)) in latest {
        let who = names.of(&message.author)?;
        let (about, subject) = things.thread(&message.thread)?;
        let title = if count > 1 {
            format!("{who} wrote {count} messages about {about}")
        } else {
            format!("{who} wrote about {about}")
        };
        out.push(InboxEntry {
            key: key(InboxKind::NewMessage, &[&kind, &thread_id, &message.id]),
            kind: InboxKind::NewMessage,
            title,
            body: preview(&message.body),
            subject,
            at: message.sent_at,
        });
    }

    // Changes of mine the server refused, until dismissed.
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, name, mutation, message, rejected_at FROM rejected \
             WHERE neighbourhood_id = ? AND dismissed = 0",
        )
        .map_err(StoreError::sqlite("reading refused changes"))?;
    let rejected = stmt
        .query_map([nid], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(StoreError::sqlite("reading refused changes"))?;
    for (seq, name, mutation, message, rejected_at) in rejected {
        out.push(InboxEntry {
            key: key(InboxKind::Rejected, &[&seq.to_string()]),
            kind: InboxKind::Rejected,
            title: format!("{} could not go through", describe(&name)),
            body: message,
            subject: subject_of(nid, &name, &mutation),
            at: rejected_at,
        });
    }

    out.sort_by(|a, b| (Reverse(a.at), &a.key).cmp(&(Reverse(b.at), &b.key)));
    let mut keys = HashSet::new();
    out.retain(|e| keys.insert(e.key.clone()));
    Ok(out)
}

/// What a refused change was, in words, from its operation's name.
fn describe(name: &str) -> String {
    let what = match name {
        "loan.request" => "Your request to borrow",
        "loan.approve" => "Your approval of a loan",
        "loan.decline" => "Your answer to a loan request",
        "loan.cancel" => "Your cancellation of a loan",
        "loan.hand_over" | "loan.return" => "Your update of a loan",
        "favour.post" => "Your new favour",
        "favour.promise" => "Your promise to help",
        "favour.thank" => "Your thanks",
        "order.place" => "Your pre-order",
        "order.cancel" => "Your cancellation of a pre-order",
        "message.send" => "Your message",
        "member.join" => "Joining the neighbourhood",
        other => {
            let kind = other.split('.').next().unwrap_or("neighbourhood").replace('_', " ");
            let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
            return format!("A change you made to {article} {kind}");
        }
    };
    what.to_owned()
}

/// What a refused mutation was about, read from its saved form (so that names sent by older versions
/// are understood too): the kind is the start of its name, the id its `id` or `member_id` argument.
fn subject_of(nid: &str, name: &str, mutation: &str) -> EntityKey {
    let kind = name.split('.').next().and_then(EntityKind::parse).unwrap_or(EntityKind::Neighbourhood);
    let json: serde_json::Value = serde_json::from_str(mutation).unwrap_or_default();
    let arg = |field: &str| json["args"][field].as_str().map(str::to_owned);
    let id = match kind {
        EntityKind::Neighbourhood => Some(nid.to_owned()),
        EntityKind::Member => arg("member_id").or_else(|| json["author"].as_str().map(str::to_owned)),
        _ => arg("id"),
    };
    match id {
        Some(id) => EntityKey::new(nid, kind, &id),
        None => EntityKey::new(nid, EntityKind::Neighbourhood, nid),
    }
}

/// What the inbox says of a stall.
#[derive(Clone)]
struct StallWords {
    name: String,
    market: String,
    place: String,
}

/// Items, stalls and products looked up once while the inbox is built.
struct Things<'c> {
    conn: &'c Connection,
    nid: &'c str,
    items: BTreeMap<String, String>,
    stalls: BTreeMap<String, StallWords>,
    products: BTreeMap<String, Option<Product>>,
}

impl<'c> Things<'c> {
    fn new(conn: &'c Connection, nid: &'c str) -> Things<'c> {
        Things { conn, nid, items: BTreeMap::new(), stalls: BTreeMap::new(), products: BTreeMap::new() }
    }

    /// An item's title, quoted ("an item" if the replica lost it).
    fn item(&mut self, id: &str) -> Result<String> {
        if let Some(title) = self.items.get(id) {
            return Ok(title.clone());
        }
        let title = fetch::<Item>(self.conn, self.nid, id)?
            .map_or_else(|| "an item".to_owned(), |i| format!("“{}”", i.title));
        self.items.insert(id.to_owned(), title.clone());
        Ok(title)
    }

    fn stall(&mut self, id: &str) -> Result<StallWords> {
        if let Some(stall) = self.stalls.get(id) {
            return Ok(stall.clone());
        }
        let stall = match fetch::<Stall>(self.conn, self.nid, id)? {
            Some(s) => StallWords { name: s.name, market: s.market, place: s.place },
            None => StallWords { name: "a stall".into(), market: "the market".into(), place: String::new() },
        };
        self.stalls.insert(id.to_owned(), stall.clone());
        Ok(stall)
    }

    /// "Tomatoes (2 kg)".
    fn order_line(&mut self, product_id: &str, quantity: i64) -> Result<String> {
        if !self.products.contains_key(product_id) {
            let product = fetch::<Product>(self.conn, self.nid, product_id)?;
            self.products.insert(product_id.to_owned(), product);
        }
        Ok(match self.products.get(product_id).and_then(Option::as_ref) {
            Some(p) => format!("{} ({quantity} {})", p.name, p.unit),
            None => format!("a product that was removed ({quantity})"),
        })
    }

    /// What a thread is about, in words, and the key of that thing.
    fn thread(&mut self, thread: &ThreadRef) -> Result<(String, EntityKey)> {
        let nid = self.nid;
        Ok(match thread.kind {
            ThreadKind::Favour => {
                let title = fetch::<Favour>(self.conn, nid, &thread.id)?
                    .map_or_else(|| "a favour".to_owned(), |f| format!("“{}”", f.title));
                (title, EntityKey::new(nid, EntityKind::Favour, &thread.id))
            }
            ThreadKind::Loan => {
                let item = match fetch::<Loan>(self.conn, nid, &thread.id)? {
                    Some(loan) => format!("the loan of {}", self.item(&loan.item_id)?),
                    None => "a loan".to_owned(),
                };
                (item, EntityKey::new(nid, EntityKind::Loan, &thread.id))
            }
            ThreadKind::Order => {
                let about = match fetch::<Order>(self.conn, nid, &thread.id)? {
                    Some(order) => format!("the pre-order at {}", self.stall(&order.stall_id)?.name),
                    None => "a pre-order".to_owned(),
                };
                (about, EntityKey::new(nid, EntityKind::Order, &thread.id))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet(start: u16, end: u16) -> NotifySettings {
        NotifySettings { utc_offset_minutes: 60, quiet_start_min: start, quiet_end_min: end, daily_budget: 5 }
    }

    #[test]
    fn quiet_hours_may_wrap_midnight_and_follow_the_offset() {
        let midnight_utc: i64 = 1_772_409_600_000; // 2026-03-02 00:00 UTC
        let at = |local_h: i64, local_m: i64| midnight_utc + (local_h - 1) * 3_600_000 + local_m * 60_000;
        let night = quiet(22 * 60, 7 * 60);
        assert!(night.is_quiet(at(23, 0)));
        assert!(night.is_quiet(at(22, 0)));
        assert!(night.is_quiet(at(0, 30)));
        assert!(night.is_quiet(at(6, 59)));
        assert!(!night.is_quiet(at(7, 0)));
        assert!(!night.is_quiet(at(21, 59)));
        let lunch = quiet(12 * 60, 14 * 60);
        assert!(lunch.is_quiet(at(13, 0)) && !lunch.is_quiet(at(14, 0)) && !lunch.is_quiet(at(11, 0)));
        assert!(!quiet(600, 600).is_quiet(at(10, 0)));
    }

    #[test]
    fn refused_changes_name_what_they_were_about() {
        let m = r#"{"neighbourhood_id":"n","author":"bob","args":{"id":"l1","item_id":"i1"}}"#;
        assert_eq!(subject_of("n", "loan.request", m), EntityKey::new("n", EntityKind::Loan, "l1"));
        let leave = r#"{"author":"bob","args":{}}"#;
        assert_eq!(subject_of("n", "member.leave", leave), EntityKey::new("n", EntityKind::Member, "bob"));
        assert_eq!(
            subject_of("n", "mystery", "not json"),
            EntityKey::new("n", EntityKind::Neighbourhood, "n")
        );
        assert_eq!(describe("loan.request"), "Your request to borrow");
        assert_eq!(describe("product.set_price"), "A change you made to a product");
        assert_eq!(describe("invitation.revoke"), "A change you made to an invitation");
        assert_eq!(capitalised("an item is due".into()), "An item is due");
        assert_eq!(capitalised("“Scie” is due".into()), "“Scie” is due");
    }
}
