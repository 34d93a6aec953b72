//! What crosses the boundary: records and enums the apps hold, converted from the core's views.
//!
//! They carry what a screen shows (names next to ids, days as `YYYY-MM-DD`, times in Unix milliseconds)
//! and nothing of the rules' bookkeeping (clock stamps, stock move logs). To show more of a view, add a
//! field here and fill it in the `From` conversion below it.

use quartier_core::domain as core;
use quartier_core::store;

/// Who this device is and whom it acts for.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Identity {
    /// The person using the device: their member id in every neighbourhood they join.
    pub person_id: String,
    /// The device's own id.
    pub device_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Neighbourhood {
    pub id: String,
    pub name: String,
    pub description: String,
}

impl From<core::Neighbourhood> for Neighbourhood {
    fn from(n: core::Neighbourhood) -> Neighbourhood {
        Neighbourhood { id: n.id, name: n.name, description: n.description }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum FavourKind {
    /// "Water my plants Saturday": the author needs help.
    Ask,
    /// "I can fix bikes": the author proposes help.
    Offer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum FavourStatus {
    Open,
    Promised,
    Done,
    Thanked,
    Cancelled,
}

/// When a favour is wanted or offered, in Unix milliseconds; `end_ms` is after `start_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct TimeWindow {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// A favour to ask or offer.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FavourDraft {
    pub title: String,
    /// A short word for grouping (`garden`, `diy`, `errands`): lower case, digits and dashes.
    pub category: String,
    #[uniffi(default = "")]
    pub details: String,
    #[uniffi(default = None)]
    pub window: Option<TimeWindow>,
}

/// A favour as the lists show it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Favour {
    pub id: String,
    pub neighbourhood_id: String,
    pub kind: FavourKind,
    pub status: FavourStatus,
    pub title: String,
    pub details: String,
    pub category: String,
    pub window: Option<TimeWindow>,
    pub author_id: String,
    pub author_name: String,
    /// The neighbour who promised to do an ask, or who took up an offer.
    pub counterpart_id: Option<String>,
    pub counterpart_name: Option<String>,
    pub thanks_note: Option<String>,
    pub created_at_ms: i64,
}

impl From<core::FavourKind> for FavourKind {
    fn from(kind: core::FavourKind) -> FavourKind {
        match kind {
            core::FavourKind::Ask => FavourKind::Ask,
            core::FavourKind::Offer => FavourKind::Offer,
        }
    }
}

impl From<core::FavourStatus> for FavourStatus {
    fn from(status: core::FavourStatus) -> FavourStatus {
        match status {
            core::FavourStatus::Open => FavourStatus::Open,
            core::FavourStatus::Promised => FavourStatus::Promised,
            core::FavourStatus::Done => FavourStatus::Done,
            core::FavourStatus::Thanked => FavourStatus::Thanked,
            core::FavourStatus::Cancelled => FavourStatus::Cancelled,
        }
    }
}

impl From<FavourStatus> for core::FavourStatus {
    fn from(status: FavourStatus) -> core::FavourStatus {
        match status {
            FavourStatus::Open => core::FavourStatus::Open,
            FavourStatus::Promised => core::FavourStatus::Promised,
            FavourStatus::Done => core::FavourStatus::Done,
            FavourStatus::Thanked => core::FavourStatus::Thanked,
            FavourStatus::Cancelled => core::FavourStatus::Cancelled,
        }
    }
}

impl From<store::FavourView> for Favour {
    fn from(view: store::FavourView) -> Favour {
        let f = view.favour;
        Favour {
            id: f.id,
            neighbourhood_id: f.neighbourhood_id,
            kind: f.kind.into(),
            status: f.status.into(),
            title: f.title,
            details: f.details,
            category: f.category,
            window: f.window.map(|w| TimeWindow { start_ms: w.start_ms, end_ms: w.end_ms }),
            author_id: f.author,
            author_name: view.author_name,
            counterpart_id: f.counterpart,
            counterpart_name: view.counterpart_name,
            thanks_note: f.thanks_note,
            created_at_ms: f.created_at,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Condition {
    New,
    Good,
    Fair,
    Worn,
}

impl From<Condition> for core::Condition {
    fn from(condition: Condition) -> core::Condition {
        match condition {
            Condition::New => core::Condition::New,
            Condition::Good => core::Condition::Good,
            Condition::Fair => core::Condition::Fair,
            Condition::Worn => core::Condition::Worn,
        }
    }
}

impl From<core::Condition> for Condition {
    fn from(condition: core::Condition) -> Condition {
        match condition {
            core::Condition::New => Condition::New,
            core::Condition::Good => Condition::Good,
            core::Condition::Fair => Condition::Fair,
            core::Condition::Worn => Condition::Worn,
        }
    }
}

/// An item to put up for lending.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ItemDraft {
    pub title: String,
    pub category: String,
    pub condition: Condition,
    #[uniffi(default = "")]
    pub description: String,
    /// What the owner asks as a deposit, in words ("a cheque of 50 €"); empty for none.
    #[uniffi(default = "")]
    pub deposit_note: String,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Item {
    pub id: String,
    pub neighbourhood_id: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub condition: Condition,
    pub deposit_note: String,
    pub owner_id: String,
    pub owner_name: String,
    /// The owner no longer lends it (it is kept for the history of its loans).
    pub withdrawn: bool,
    /// Handed over to a borrower and not back yet.
    pub lent_now: bool,
    pub created_at_ms: i64,
}

impl From<store::ItemView> for Item {
    fn from(view: store::ItemView) -> Item {
        let i = view.item;
        Item {
            id: i.id,
            neighbourhood_id: i.neighbourhood_id,
            title: i.title,
            description: i.description,
            category: i.category,
            condition: i.condition.into(),
            deposit_note: i.deposit_note,
            owner_id: i.owner,
            owner_name: view.owner_name,
            withdrawn: i.withdrawn,
            lent_now: view.lent_now,
            created_at_ms: i.created_at,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum LoanStatus {
    Requested,
    Approved,
    Declined,
    HandedOver,
    Returned,
    Cancelled,
}

impl From<core::LoanStatus> for LoanStatus {
    fn from(status: core::LoanStatus) -> LoanStatus {
        match status {
            core::LoanStatus::Requested => LoanStatus::Requested,
            core::LoanStatus::Approved => LoanStatus::Approved,
            core::LoanStatus::Declined => LoanStatus::Declined,
            core::LoanStatus::HandedOver => LoanStatus::HandedOver,
            core::LoanStatus::Returned => LoanStatus::Returned,
            core::LoanStatus::Cancelled => LoanStatus::Cancelled,
        }
    }
}

impl From<LoanStatus> for core::LoanStatus {
    fn from(status: LoanStatus) -> core::LoanStatus {
        match status {
            LoanStatus::Requested => core::LoanStatus::Requested,
            LoanStatus::Approved => core::LoanStatus::Approved,
            LoanStatus::Declined => core::LoanStatus::Declined,
            LoanStatus::HandedOver => core::LoanStatus::HandedOver,
            LoanStatus::Returned => core::LoanStatus::Returned,
            LoanStatus::Cancelled => core::LoanStatus::Cancelled,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Loan {
    pub id: String,
    pub neighbourhood_id: String,
    pub item_id: String,
    pub item_title: String,
    pub owner_id: String,
    pub owner_name: String,
    pub borrower_id: String,
    pub borrower_name: String,
    /// The first and last days, both included, as `YYYY-MM-DD`.
    pub first_day: String,
    pub last_day: String,
    pub status: LoanStatus,
    pub note: String,
    pub decline_reason: Option<String>,
    pub created_at_ms: i64,
}

impl From<store::LoanView> for Loan {
    fn from(view: store::LoanView) -> Loan {
        let l = view.loan;
        Loan {
            id: l.id,
            neighbourhood_id: l.neighbourhood_id,
            item_id: l.item_id,
            item_title: view.item_title,
            owner_id: l.owner,
            owner_name: view.owner_name,
            borrower_id: l.borrower,
            borrower_name: view.borrower_name,
            first_day: l.first_day.to_string(),
            last_day: l.last_day.to_string(),
            status: l.status.into(),
            note: l.note,
            decline_reason: l.decline_reason,
            created_at_ms: l.created_at,
        }
    }
}

/// A new invitation. The code is shown once, to pass on to the newcomer, and never stored.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Invitation {
    pub id: String,
    /// Sixteen characters in four groups (`K7QX-2M9D-HT4R-B8WZ`).
    pub code: String,
    pub expires_at_ms: i64,
    pub max_uses: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SearchKind {
    Favour,
    Item,
    Product,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SearchHit {
    pub kind: SearchKind,
    pub id: String,
    /// The favour's or item's title, or the product's name.
    pub title: String,
    /// The words found in context (`…` where cut); for a product, its unit and stall.
    pub snippet: String,
    pub category: Option<String>,
    pub distance_m: Option<u32>,
}

impl SearchHit {
    /// The hit, if it is of a kind the apps know (the core only searches these three).
    pub(crate) fn from_core(hit: store::SearchHit) -> Option<SearchHit> {
        let kind = match hit.kind {
            core::EntityKind::Favour => SearchKind::Favour,
            core::EntityKind::Item => SearchKind::Item,
            core::EntityKind::Product => SearchKind::Product,
            _ => return None,
        };
        Some(SearchHit {
            kind,
            id: hit.id,
            title: hit.title,
            snippet: hit.snippet,
            category: hit.category,
            distance_m: hit.distance_m,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum InboxKind {
    /// Someone asks to borrow my item (to do).
    LoanRequested,
    /// My request to borrow was approved or declined (news).
    LoanAnswered,
    /// What I borrow is due back today or tomorrow (to do).
    LoanDueSoon,
    /// A loan was not returned on its last day (to do).
    LoanOverdue,
    /// Someone promised to do my ask, or took up my offer (news).
    FavourTakenUp,
    /// Someone thanked me for a favour I did (news).
    FavourThanked,
    /// A pre-order at my stall waits for an answer (to do).
    OrderPlaced,
    /// My pre-order is ready for pickup (to do).
    OrderReady,
    /// My pre-order was declined (news).
    OrderDeclined,
    /// The other party wrote in one of my threads (news).
    NewMessage,
    /// A change I made offline could not stand, and why (to do).
    Rejected,
}

impl From<store::InboxKind> for InboxKind {
    fn from(kind: store::InboxKind) -> InboxKind {
        match kind {
            store::InboxKind::LoanRequested => InboxKind::LoanRequested,
            store::InboxKind::LoanAnswered => InboxKind::LoanAnswered,
            store::InboxKind::LoanDueSoon => InboxKind::LoanDueSoon,
            store::InboxKind::LoanOverdue => InboxKind::LoanOverdue,
            store::InboxKind::FavourTakenUp => InboxKind::FavourTakenUp,
            store::InboxKind::FavourThanked => InboxKind::FavourThanked,
            store::InboxKind::OrderPlaced => InboxKind::OrderPlaced,
            store::InboxKind::OrderReady => InboxKind::OrderReady,
            store::InboxKind::OrderDeclined => InboxKind::OrderDeclined,
            store::InboxKind::NewMessage => InboxKind::NewMessage,
            store::InboxKind::Rejected => InboxKind::Rejected,
        }
    }
}

/// Something that concerns the device's person.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct InboxEntry {
    /// Stable for as long as its cause lasts: notify an entry once, by its key.
    pub key: String,
    pub kind: InboxKind,
    pub title: String,
    pub body: String,
    /// What to open: `favour`, `loan`, `order`…, and its id.
    pub subject_kind: String,
    pub subject_id: String,
    /// When it happened or became due, in Unix milliseconds.
    pub at_ms: i64,
}

impl From<store::InboxEntry> for InboxEntry {
    fn from(entry: store::InboxEntry) -> InboxEntry {
        InboxEntry {
            key: entry.key,
            kind: entry.kind.into(),
            title: entry.title,
            body: entry.body,
            subject_kind: entry.subject.kind.as_str().to_owned(),
            subject_id: entry.subject.id,
            at_ms: entry.at,
        }
    }
}

/// What the apps show about sync.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatus {
    /// Changes saved on the device and not yet answered by the server.
    pub pending: u64,
    /// When a round last completed, in Unix milliseconds.
    pub last_success_ms: Option<i64>,
    /// Why the last round failed, if it did.
    pub last_error: Option<String>,
    pub syncing: bool,
}

impl From<quartier_core::sync::SyncStatus> for SyncStatus {
    fn from(s: quartier_core::sync::SyncStatus) -> SyncStatus {
        SyncStatus {
            pending: s.pending,
            last_success_ms: s.last_success_ms,
            last_error: s.last_error,
            syncing: s.syncing,
        }
    }
}

/// A change of this device's that the server refused; it was rolled back, and the inbox says why.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RejectedChange {
    pub seq: u64,
    /// The operation (`loan.request`, `product.adjust_stock`, …).
    pub name: String,
    pub code: String,
    pub reason: String,
}

/// What one sync round did.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    pub pushed: u64,
    pub pulled: u64,
    pub rejected: Vec<RejectedChange>,
    /// False when the time budget ran out first: call again to finish.
    pub complete: bool,
}

impl From<quartier_core::sync::SyncReport> for SyncReport {
    fn from(r: quartier_core::sync::SyncReport) -> SyncReport {
        SyncReport {
            pushed: r.pushed as u64,
            pulled: r.pulled as u64,
            rejected: r
                .rejected
                .into_iter()
                .map(|x| RejectedChange { seq: x.seq, name: x.name, code: x.code, reason: x.message })
                .collect(),
            complete: r.complete,
        }
    }
}

/// The neighbourhood joined with an invitation code.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct JoinedNeighbourhood {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    Member,
    Trader,
    Moderator,
}

impl From<core::Role> for Role {
    fn from(role: core::Role) -> Role {
        match role {
            core::Role::Member => Role::Member,
            core::Role::Trader => Role::Trader,
            core::Role::Moderator => Role::Moderator,
        }
    }
}

impl From<Role> for core::Role {
    fn from(role: Role) -> core::Role {
        match role {
            Role::Member => core::Role::Member,
            Role::Trader => core::Role::Trader,
            Role::Moderator => core::Role::Moderator,
        }
    }
}

/// A member of a neighbourhood, with the thanks they received (counted, never scored).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Member {
    pub id: String,
    pub neighbourhood_id: String,
    pub display_name: String,
    pub bio: String,
    pub skills: Vec<String>,
    pub role: Role,
    /// Still a member (not left, not removed).
    pub active: bool,
    pub thanks_received: u32,
    pub joined_at_ms: i64,
}

impl From<store::MemberView> for Member {
    fn from(view: store::MemberView) -> Member {
        let m = view.member;
        Member {
            id: m.id,
            neighbourhood_id: m.neighbourhood_id,
            display_name: m.display_name,
            bio: m.bio,
            skills: m.skills,
            role: m.role.into(),
            active: m.status == core::MemberStatus::Active,
            thanks_received: view.thanks_received,
            joined_at_ms: m.joined_at,
        }
    }
}

/// A period an item is promised or lent for: the loan calendar shows these as taken.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct BookedPeriod {
    pub loan_id: String,
    pub borrower_id: String,
    /// `YYYY-MM-DD`, both included.
    pub first_day: String,
    pub last_day: String,
    pub status: LoanStatus,
}

impl From<core::Loan> for BookedPeriod {
    fn from(l: core::Loan) -> BookedPeriod {
        BookedPeriod {
            loan_id: l.id,
            borrower_id: l.borrower,
            first_day: l.first_day.to_string(),
            last_day: l.last_day.to_string(),
            status: l.status.into(),
        }
    }
}

/// A trader's stall to open, or its new details.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct StallDraft {
    pub name: String,
    /// The market it stands at ("Marché d'Aligre").
    pub market: String,
    /// Market days, 1 = Monday … 7 = Sunday.
    pub days: Vec<u32>,
    /// Opening and closing time, in minutes after midnight, local time.
    pub opens_min: u16,
    pub closes_min: u16,
    /// Where at the market ("row B, by the fountain").
    #[uniffi(default = "")]
    pub place: String,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Stall {
    pub id: String,
    pub neighbourhood_id: String,
    pub owner_id: String,
    pub owner_name: String,
    pub name: String,
    pub market: String,
    /// Market days, 1 = Monday … 7 = Sunday.
    pub days: Vec<u32>,
    pub opens_min: u16,
    pub closes_min: u16,
    pub place: String,
}

impl From<store::StallView> for Stall {
    fn from(view: store::StallView) -> Stall {
        let s = view.stall;
        Stall {
            id: s.id,
            neighbourhood_id: s.neighbourhood_id,
            owner_id: s.owner,
            owner_name: view.owner_name,
            name: s.name,
            market: s.market,
            days: s.days.into_iter().map(u32::from).collect(),
            opens_min: s.opens_min,
            closes_min: s.closes_min,
            place: s.place,
        }
    }
}

/// A product to add to a stall.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ProductDraft {
    pub name: String,
    /// The unit the price is for ("kg", "bunch", "piece").
    pub unit: String,
    pub price_cents: i64,
    #[uniffi(default = 0)]
    pub stock: i64,
    #[uniffi(default = true)]
    pub available_today: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Product {
    pub id: String,
    pub stall_id: String,
    pub name: String,
    pub unit: String,
    pub price_cents: i64,
    /// What is physically at the stall.
    pub stock: i64,
    /// What confirmed pre-orders hold back; `stock - reserved` can still be sold.
    pub reserved: i64,
    pub available_today: bool,
    pub removed: bool,
}

impl From<core::Product> for Product {
    fn from(p: core::Product) -> Product {
        Product {
            id: p.id,
            stall_id: p.stall_id,
            name: p.name,
            unit: p.unit,
            price_cents: p.price_cents,
            stock: p.stock,
            reserved: p.reserved,
            available_today: p.available_today,
            removed: p.removed,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum OrderStatus {
    Placed,
    Confirmed,
    Ready,
    Collected,
    Declined,
    Cancelled,
}

impl From<core::OrderStatus> for OrderStatus {
    fn from(status: core::OrderStatus) -> OrderStatus {
        match status {
            core::OrderStatus::Placed => OrderStatus::Placed,
            core::OrderStatus::Confirmed => OrderStatus::Confirmed,
            core::OrderStatus::Ready => OrderStatus::Ready,
            core::OrderStatus::Collected => OrderStatus::Collected,
            core::OrderStatus::Declined => OrderStatus::Declined,
            core::OrderStatus::Cancelled => OrderStatus::Cancelled,
        }
    }
}

impl From<OrderStatus> for core::OrderStatus {
    fn from(status: OrderStatus) -> core::OrderStatus {
        match status {
            OrderStatus::Placed => core::OrderStatus::Placed,
            OrderStatus::Confirmed => core::OrderStatus::Confirmed,
            OrderStatus::Ready => core::OrderStatus::Ready,
            OrderStatus::Collected => core::OrderStatus::Collected,
            OrderStatus::Declined => core::OrderStatus::Declined,
            OrderStatus::Cancelled => core::OrderStatus::Cancelled,
        }
    }
}

/// So many units of one product, in a pre-order to place.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct OrderLineDraft {
    pub product_id: String,
    pub quantity: i64,
}

/// One line of a pre-order, with what the product is and its price now (paid at pickup).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct OrderLine {
    pub product_id: String,
    pub name: String,
    pub unit: String,
    pub quantity: i64,
    pub price_cents: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Order {
    pub id: String,
    pub neighbourhood_id: String,
    pub stall_id: String,
    pub stall_name: String,
    pub trader_id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub lines: Vec<OrderLine>,
    pub total_cents: i64,
    /// `YYYY-MM-DD`, if the customer chose one.
    pub pickup_day: Option<String>,
    pub note: String,
    pub status: OrderStatus,
    pub decline_reason: Option<String>,
    pub created_at_ms: i64,
}

impl From<store::OrderView> for Order {
    fn from(view: store::OrderView) -> Order {
        let o = view.order;
        Order {
            id: o.id,
            neighbourhood_id: o.neighbourhood_id,
            stall_id: o.stall_id,
            stall_name: view.stall_name,
            trader_id: o.trader,
            customer_id: o.customer,
            customer_name: view.customer_name,
            lines: view
                .lines
                .into_iter()
                .map(|l| OrderLine {
                    product_id: l.product_id,
                    name: l.name,
                    unit: l.unit,
                    quantity: l.quantity,
                    price_cents: l.price_cents,
                })
                .collect(),
            total_cents: view.total_cents,
            pickup_day: o.pickup_day.map(|d| d.to_string()),
            note: o.note,
            status: o.status.into(),
            decline_reason: o.decline_reason,
            created_at_ms: o.created_at,
        }
    }
}

/// What a message thread is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ThreadKind {
    Favour,
    Loan,
    Order,
}

impl From<ThreadKind> for core::ThreadKind {
    fn from(kind: ThreadKind) -> core::ThreadKind {
        match kind {
            ThreadKind::Favour => core::ThreadKind::Favour,
            ThreadKind::Loan => core::ThreadKind::Loan,
            ThreadKind::Order => core::ThreadKind::Order,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Message {
    pub id: String,
    pub author_id: String,
    pub author_name: String,
    pub recipient_id: String,
    pub body: String,
    pub sent_at_ms: i64,
}

impl From<store::MessageView> for Message {
    fn from(view: store::MessageView) -> Message {
        let m = view.message;
        Message {
            id: m.id,
            author_id: m.author,
            author_name: view.author_name,
            recipient_id: m.recipient,
            body: m.body,
            sent_at_ms: m.sent_at,
        }
    }
}

/// A change of this device's that the server refused after it was saved offline: it was rolled back,
/// and stays here until the person has read why and dismisses it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Rejection {
    /// The number to give `dismiss_rejection`.
    pub seq: u64,
    pub title: String,
    /// Why, in a sentence ("The drill was lent to Léa in the meantime.").
    pub reason: String,
    pub at_ms: i64,
}

/// When and how much to notify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Record)]
pub struct NotifySettings {
    /// The person's offset from UTC, in minutes (Paris in winter: 60).
    pub utc_offset_minutes: i32,
    /// Quiet hours, in minutes after local midnight; they may wrap midnight (22:00–07:00 is 1320–420).
    #[uniffi(default = 1320)]
    pub quiet_start_min: u16,
    #[uniffi(default = 420)]
    pub quiet_end_min: u16,
    /// The most notifications per local day.
    #[uniffi(default = 5)]
    pub daily_budget: u32,
}
