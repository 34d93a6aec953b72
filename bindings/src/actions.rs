//! What people do after posting something: the life of favours, loans and pre-orders, the market
//! stalls and their products, message threads, members, and the refused changes of the inbox.
//!
//! Each method is one named mutation of the core (`favour.promise`, `loan.approve`, …) or one query,
//! converted and nothing more: the rules (who may, in which state, never below zero stock) live in
//! `quartier_core::domain` and answer a `QuartierError::Refused` with a stable code. To add an action,
//! add its mutation to the core, then a method here that builds it inside `act`.

use crate::error::{QuartierError, guard};
use crate::observe::poke_all;
use crate::quartier::{Quartier, day};
use crate::records::*;
use quartier_core::domain::mutation as m;
use quartier_core::domain::{self as core, Op};
use quartier_core::store::{self as store, OrderFilter, Page, new_id};

impl Quartier {
    /// Saves one change in a neighbourhood (and its outbox).
    fn act(&self, nid: &str, op: impl Into<Op>) -> Result<(), QuartierError> {
        guard(|| {
            self.store.mutate(nid, op)?;
            Ok(())
        })
    }

    /// Saves one change that creates something under a new id, and returns the id.
    fn create(
        &self,
        nid: &str,
        op: impl FnOnce(String) -> Result<Op, QuartierError>,
    ) -> Result<String, QuartierError> {
        guard(|| {
            let id = new_id();
            self.store.mutate(nid, op(id.clone())?)?;
            Ok(id)
        })
    }
}

fn stall_open(id: String, draft: StallDraft) -> Result<m::StallOpen, QuartierError> {
    let days = draft
        .days
        .iter()
        .map(|&d| {
            u8::try_from(d).map_err(|_| {
                QuartierError::invalid(format!(
                    "{d} is not a market day; give days as 1 (Monday) to 7 (Sunday)."
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(m::StallOpen {
        id,
        name: draft.name,
        market: draft.market,
        days,
        opens_min: draft.opens_min,
        closes_min: draft.closes_min,
        place: draft.place,
        cell: None,
    })
}

#[uniffi::export]
impl Quartier {
    // ----- favours -------------------------------------------------------------------------------

    /// "I'll do it" to an ask, or "yes please" to an offer.
    pub fn promise_favour(&self, neighbourhood_id: String, favour_id: String) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::FavourPromise(m::FavourRef { id: favour_id }))
    }

    /// The neighbour who promised steps back; the favour is open again.
    pub fn withdraw_from_favour(
        &self,
        neighbourhood_id: String,
        favour_id: String,
    ) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::FavourWithdraw(m::FavourWithdraw { id: favour_id }))
    }

    /// Either party marks a promised favour as done.
    pub fn complete_favour(&self, neighbourhood_id: String, favour_id: String) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::FavourComplete(m::FavourComplete { id: favour_id }))
    }

    /// The one who was helped thanks the one who helped (the neighbourhood's only reputation).
    #[uniffi::method(default(note = ""))]
    pub fn thank_favour(
        &self,
        neighbourhood_id: String,
        favour_id: String,
        note: String,
    ) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, m::FavourThank { id: favour_id, note })
    }

    /// The author cancels an open or promised favour.
    pub fn cancel_favour(&self, neighbourhood_id: String, favour_id: String) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::FavourCancel(m::FavourCancel { id: favour_id }))
    }

    /// The author rewrites an open favour.
    pub fn edit_favour(
        &self,
        neighbourhood_id: String,
        favour_id: String,
        draft: FavourDraft,
    ) -> Result<(), QuartierError> {
        let window = draft.window.map(|w| core::TimeWindow { start_ms: w.start_ms, end_ms: w.end_ms });
        let op = m::FavourEdit {
            id: favour_id,
            title: draft.title,
            details: draft.details,
            category: draft.category,
            window,
        };
        self.act(&neighbourhood_id, op)
    }

    // ----- items and loans -----------------------------------------------------------------------

    /// The owner rewrites an item's description.
    pub fn edit_item(
        &self,
        neighbourhood_id: String,
        item_id: String,
        draft: ItemDraft,
    ) -> Result<(), QuartierError> {
        let op = m::ItemEdit {
            id: item_id,
            title: draft.title,
            description: draft.description,
            category: draft.category,
            condition: draft.condition.into(),
            deposit_note: draft.deposit_note,
        };
        self.act(&neighbourhood_id, op)
    }

    /// The owner stops lending an item (its history stays).
    pub fn withdraw_item(&self, neighbourhood_id: String, item_id: String) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::ItemWithdraw(m::ItemWithdraw { id: item_id }))
    }

    /// The owner lends a withdrawn item again.
    pub fn relist_item(&self, neighbourhood_id: String, item_id: String) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::ItemRelist(m::ItemRelist { id: item_id }))
    }

    /// The owner approves a requested loan; requests overlapping it are declined.
    pub fn approve_loan(&self, neighbourhood_id: String, loan_id: String) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::LoanApprove(m::LoanApprove { id: loan_id }))
    }

    /// The owner declines a requested loan, with a word of why (or none).
    #[uniffi::method(default(reason = ""))]
    pub fn decline_loan(
        &self,
        neighbourhood_id: String,
        loan_id: String,
        reason: String,
    ) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, m::LoanDecline { id: loan_id, reason })
    }

    /// The borrower cancels a loan not yet handed over.
    pub fn cancel_loan(&self, neighbourhood_id: String, loan_id: String) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::LoanCancel(m::LoanCancel { id: loan_id }))
    }

    /// The owner hands the item over to the borrower.
    pub fn hand_over_loan(&self, neighbourhood_id: String, loan_id: String) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::LoanHandOver(m::LoanHandOver { id: loan_id }))
    }

    /// The owner confirms the item came back.
    pub fn return_loan(&self, neighbourhood_id: String, loan_id: String) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::LoanReturn(m::LoanReturn { id: loan_id }))
    }

    /// The periods an item is promised or lent for, by first day: a request must avoid them.
    pub fn loan_calendar(
        &self,
        neighbourhood_id: String,
        item_id: String,
    ) -> Result<Vec<BookedPeriod>, QuartierError> {
        guard(|| {
            let loans = self.store.loan_calendar(&neighbourhood_id, &item_id)?;
            Ok(loans.into_iter().map(BookedPeriod::from).collect())
        })
    }

    // ----- the neighbourhood itself --------------------------------------------------------------

    /// A moderator renames or redescribes the neighbourhood (both are replaced).
    pub fn edit_neighbourhood(
        &self,
        neighbourhood_id: String,
        name: String,
        description: String,
    ) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, m::NeighbourhoodEdit { name, description })
    }

    /// The person leaves the neighbourhood: what they wrote there is removed for everyone. The
    /// neighbourhood itself leaves this device at the next sync, once the server has taken the leave
    /// (it then answers that the person is no longer a member, and the replica is forgotten).
    pub fn leave_neighbourhood(&self, neighbourhood_id: String) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, m::MemberLeave {})
    }

    // ----- members and invitations ---------------------------------------------------------------

    /// The members of a neighbourhood, by name.
    #[uniffi::method(default(limit = 50, offset = 0))]
    pub fn members(
        &self,
        neighbourhood_id: String,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Member>, QuartierError> {
        guard(|| {
            let views = self.store.members(&neighbourhood_id, Page::new(limit, offset))?;
            Ok(views.into_iter().map(Member::from).collect())
        })
    }

    /// A moderator makes a member a trader (who may open a stall), a moderator, or a member again.
    pub fn set_role(
        &self,
        neighbourhood_id: String,
        member_id: String,
        role: Role,
    ) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, m::MemberSetRole { member_id, role: role.into() })
    }

    /// Withdraws an invitation that has not been used up.
    pub fn revoke_invitation(
        &self,
        neighbourhood_id: String,
        invitation_id: String,
    ) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::InvitationRevoke(m::InvitationRevoke { id: invitation_id }))
    }

    // ----- the market ----------------------------------------------------------------------------

    /// A trader (or a moderator) opens a stall. Returns its id.
    pub fn open_stall(&self, neighbourhood_id: String, draft: StallDraft) -> Result<String, QuartierError> {
        self.create(&neighbourhood_id, |id| Ok(stall_open(id, draft)?.into()))
    }

    /// The trader rewrites the stall's details.
    pub fn edit_stall(
        &self,
        neighbourhood_id: String,
        stall_id: String,
        draft: StallDraft,
    ) -> Result<(), QuartierError> {
        guard(|| self.act(&neighbourhood_id, m::StallEdit(stall_open(stall_id, draft)?)))
    }

    /// The market's stalls, by name.
    #[uniffi::method(default(limit = 50, offset = 0))]
    pub fn stalls(
        &self,
        neighbourhood_id: String,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Stall>, QuartierError> {
        guard(|| {
            let views = self.store.stalls(&neighbourhood_id, Page::new(limit, offset))?;
            Ok(views.into_iter().map(Stall::from).collect())
        })
    }

    /// The trader adds a product to their stall. Returns its id.
    pub fn add_product(
        &self,
        neighbourhood_id: String,
        stall_id: String,
        draft: ProductDraft,
    ) -> Result<String, QuartierError> {
        self.create(&neighbourhood_id, |id| {
            Ok(m::ProductAdd {
                id,
                stall_id,
                name: draft.name,
                unit: draft.unit,
                price_cents: draft.price_cents,
                stock: draft.stock,
                available_today: draft.available_today,
            }
            .into())
        })
    }

    /// A stall's products, by name; removed ones only if asked.
    #[uniffi::method(default(include_removed = false))]
    pub fn products(
        &self,
        neighbourhood_id: String,
        stall_id: String,
        include_removed: bool,
    ) -> Result<Vec<Product>, QuartierError> {
        guard(|| {
            let products = self.store.products(&neighbourhood_id, &stall_id, include_removed)?;
            Ok(products.into_iter().map(Product::from).collect())
        })
    }

    /// The trader renames a product or changes its unit.
    pub fn edit_product(
        &self,
        neighbourhood_id: String,
        product_id: String,
        name: String,
        unit: String,
    ) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, m::ProductEdit { id: product_id, name, unit })
    }

    /// A new price per unit, in cents (the newest change wins across the trader's devices).
    pub fn set_price(
        &self,
        neighbourhood_id: String,
        product_id: String,
        price_cents: i64,
    ) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, m::ProductSetPrice { id: product_id, price_cents })
    }

    /// Whether the product is on the stall today.
    pub fn set_available_today(
        &self,
        neighbourhood_id: String,
        product_id: String,
        available: bool,
    ) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, m::ProductSetAvailableToday { id: product_id, available })
    }

    /// Stock moved: sold (negative) or restocked (positive). Moves from several devices add up, and
    /// the stock never goes below zero.
    pub fn adjust_stock(
        &self,
        neighbourhood_id: String,
        product_id: String,
        delta: i64,
    ) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, m::ProductAdjustStock { id: product_id, delta })
    }

    /// The trader counted the stock: it is set to `count`.
    pub fn stocktake(
        &self,
        neighbourhood_id: String,
        product_id: String,
        count: i64,
    ) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, m::ProductStocktake { id: product_id, count })
    }

    /// The trader removes a product from the stall.
    pub fn remove_product(&self, neighbourhood_id: String, product_id: String) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::ProductRemove(m::ProductRemove { id: product_id }))
    }

    // ----- pre-orders ----------------------------------------------------------------------------

    /// Pre-orders products of one stall for pickup, on `pickup_day` (`YYYY-MM-DD`) or whenever.
    /// Returns the order's id.
    #[uniffi::method(default(pickup_day = None, note = ""))]
    pub fn place_order(
        &self,
        neighbourhood_id: String,
        stall_id: String,
        lines: Vec<OrderLineDraft>,
        pickup_day: Option<String>,
        note: String,
    ) -> Result<String, QuartierError> {
        self.create(&neighbourhood_id, |id| {
            let pickup_day = pickup_day.as_deref().map(day).transpose()?;
            let lines = lines
                .into_iter()
                .map(|l| core::OrderLine { product_id: l.product_id, quantity: l.quantity })
                .collect();
            Ok(m::OrderPlace { id, stall_id, lines, pickup_day, note }.into())
        })
    }

    /// The trader takes a placed pre-order; its stock is reserved.
    pub fn confirm_order(&self, neighbourhood_id: String, order_id: String) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::OrderConfirm(m::OrderConfirm { id: order_id }))
    }

    /// The trader declines a placed or confirmed pre-order, with a word of why (or none).
    #[uniffi::method(default(reason = ""))]
    pub fn decline_order(
        &self,
        neighbourhood_id: String,
        order_id: String,
        reason: String,
    ) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, m::OrderDecline { id: order_id, reason })
    }

    /// The trader says a confirmed pre-order is ready for pickup.
    pub fn order_ready(&self, neighbourhood_id: String, order_id: String) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::OrderReady(m::OrderReady { id: order_id }))
    }

    /// The trader hands a ready pre-order over; its stock leaves the stall.
    pub fn collect_order(&self, neighbourhood_id: String, order_id: String) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::OrderCollect(m::OrderCollect { id: order_id }))
    }

    /// The customer cancels a pre-order not yet collected.
    pub fn cancel_order(&self, neighbourhood_id: String, order_id: String) -> Result<(), QuartierError> {
        self.act(&neighbourhood_id, Op::OrderCancel(m::OrderCancel { id: order_id }))
    }

    /// Pre-orders, newest first: of one stall, with one status, or only this person's own.
    #[uniffi::method(default(stall_id = None, status = None, mine = false, limit = 50, offset = 0))]
    pub fn orders(
        &self,
        neighbourhood_id: String,
        stall_id: Option<String>,
        status: Option<OrderStatus>,
        mine: bool,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Order>, QuartierError> {
        guard(|| {
            let customer = mine.then(|| self.store.identity().person_id.clone());
            let filter = OrderFilter { customer, stall_id, status: status.map(Into::into) };
            let views = self.store.orders(&neighbourhood_id, &filter, Page::new(limit, offset))?;
            Ok(views.into_iter().map(Order::from).collect())
        })
    }

    /// What a stall still has to hand over (placed, confirmed, ready), by pickup day.
    pub fn pending_orders(
        &self,
        neighbourhood_id: String,
        stall_id: String,
    ) -> Result<Vec<Order>, QuartierError> {
        guard(|| {
            let views = self.store.pending_orders(&neighbourhood_id, &stall_id)?;
            Ok(views.into_iter().map(Order::from).collect())
        })
    }

    // ----- messages ------------------------------------------------------------------------------

    /// Writes in the thread of a favour, a loan or an order (only the people involved may). Returns
    /// the message's id.
    pub fn send_message(
        &self,
        neighbourhood_id: String,
        kind: ThreadKind,
        subject_id: String,
        body: String,
    ) -> Result<String, QuartierError> {
        self.create(&neighbourhood_id, |id| {
            let thread = core::ThreadRef { kind: kind.into(), id: subject_id };
            Ok(m::MessageSend { id, thread, body }.into())
        })
    }

    /// The messages of a thread, oldest first.
    #[uniffi::method(default(limit = 100, offset = 0))]
    pub fn thread(
        &self,
        neighbourhood_id: String,
        kind: ThreadKind,
        subject_id: String,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Message>, QuartierError> {
        guard(|| {
            let thread = core::ThreadRef { kind: kind.into(), id: subject_id };
            let views = self.store.thread(&neighbourhood_id, &thread, Page::new(limit, offset))?;
            Ok(views.into_iter().map(Message::from).collect())
        })
    }

    // ----- the inbox -----------------------------------------------------------------------------

    /// The changes made on this device that the server refused, newest first, until dismissed.
    pub fn rejections(&self, neighbourhood_id: String) -> Result<Vec<Rejection>, QuartierError> {
        guard(|| {
            let entries = self.store.inbox(&neighbourhood_id, self.store.now_ms(), 0)?;
            Ok(entries
                .into_iter()
                .filter_map(|e| {
                    let seq = e.rejected_seq()?;
                    Some(Rejection { seq, title: e.title, reason: e.body, at_ms: e.at })
                })
                .collect())
        })
    }

    /// Takes a refused change out of the inbox once the person has read why.
    pub fn dismiss_rejection(&self, seq: u64) -> Result<(), QuartierError> {
        guard(|| {
            self.store.dismiss_rejected(seq)?;
            poke_all(&self.inbox_relays);
            Ok(())
        })
    }

    /// The inbox entries to notify now, the most pressing first, each once: none in quiet hours, and
    /// at most the daily budget.
    pub fn notifications_due(
        &self,
        neighbourhood_id: String,
        settings: NotifySettings,
    ) -> Result<Vec<InboxEntry>, QuartierError> {
        guard(|| {
            let settings = store::NotifySettings {
                utc_offset_minutes: settings.utc_offset_minutes,
                quiet_start_min: settings.quiet_start_min,
                quiet_end_min: settings.quiet_end_min,
                daily_budget: settings.daily_budget,
            };
            let due = self.store.notifications_due(&neighbourhood_id, self.store.now_ms(), &settings)?;
            Ok(due.into_iter().map(InboxEntry::from).collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{ChangeObserver, Topic, diagnostics};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Count(AtomicU32);

    impl ChangeObserver for Count {
        fn on_change(&self) -> Result<(), QuartierError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    #[test]
    fn a_stall_its_products_and_their_stock_follow_the_rules_and_are_observed() {
        let dir = tempfile::TempDir::new().unwrap();
        let q = Quartier::open(dir.path().join("q.db").display().to_string()).unwrap();
        let nid = q.create_neighbourhood("Aligre".into(), String::new(), "Tom".into()).unwrap();
        let changes = Arc::new(Count(AtomicU32::new(0)));
        let before = diagnostics().live_observations;
        let sub = q.observe_changes(vec![Topic::Products], changes.clone()).unwrap();
        assert!(diagnostics().live_observations > before);

        let draft = StallDraft {
            name: "Tom's vegetables".into(),
            market: "Marché d'Aligre".into(),
            days: vec![2, 6],
            opens_min: 7 * 60,
            closes_min: 13 * 60,
            place: "row B".into(),
        };
        let stall = q.open_stall(nid.clone(), draft).unwrap();
        assert_eq!(changes.0.load(Ordering::SeqCst), 0, "a stall is not a product");
        let radish = ProductDraft {
            name: "Radishes".into(),
            unit: "bunch".into(),
            price_cents: 150,
            stock: 5,
            available_today: true,
        };
        let id = q.add_product(nid.clone(), stall.clone(), radish).unwrap();
        q.set_price(nid.clone(), id.clone(), 180).unwrap();
        q.adjust_stock(nid.clone(), id.clone(), -2).unwrap();
        match q.adjust_stock(nid.clone(), id.clone(), -10) {
            Err(QuartierError::Refused { code, .. }) => assert_eq!(code, "insufficient_stock"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        q.stocktake(nid.clone(), id.clone(), 12).unwrap();
        let products = q.products(nid.clone(), stall.clone(), false).unwrap();
        assert_eq!(products.len(), 1);
        assert_eq!((products[0].price_cents, products[0].stock), (180, 12));
        assert_eq!(changes.0.load(Ordering::SeqCst), 4);
        assert_eq!(q.stalls(nid.clone(), 50, 0).unwrap()[0].owner_name, "Tom");

        sub.cancel();
        q.remove_product(nid.clone(), id).unwrap();
        assert_eq!(changes.0.load(Ordering::SeqCst), 4, "nothing after cancel");
        assert!(q.products(nid, stall, false).unwrap().is_empty());
        assert!(!sub.is_active());
    }

    #[test]
    fn editing_a_neighbourhood_is_told_to_its_observers_and_leaving_empties_the_member_list() {
        let dir = tempfile::TempDir::new().unwrap();
        let q = Quartier::open(dir.path().join("q.db").display().to_string()).unwrap();
        let changes = Arc::new(Count(AtomicU32::new(0)));
        let sub = q.observe_changes(vec![Topic::Neighbourhoods], changes.clone()).unwrap();
        let nid = q.create_neighbourhood("Aligre".into(), String::new(), "Tom".into()).unwrap();
        assert_eq!(changes.0.load(Ordering::SeqCst), 1);

        q.edit_neighbourhood(nid.clone(), "Aligre-Cotte".into(), "Around the market".into()).unwrap();
        assert_eq!(changes.0.load(Ordering::SeqCst), 2);
        let listed = q.neighbourhoods().unwrap();
        assert_eq!(
            listed.iter().map(|n| (n.name.as_str(), n.description.as_str())).collect::<Vec<_>>(),
            [("Aligre-Cotte", "Around the market")]
        );
        match q.edit_neighbourhood(nid.clone(), " ".into(), String::new()) {
            Err(QuartierError::Refused { code, .. }) => assert_eq!(code, "invalid"),
            other => panic!("expected a refusal, got {other:?}"),
        }

        // Leaving is a change of the member; the replica goes when the server has taken it.
        q.leave_neighbourhood(nid.clone()).unwrap();
        assert!(q.members(nid.clone(), 50, 0).unwrap().is_empty());
        assert_eq!(changes.0.load(Ordering::SeqCst), 2);
        assert_eq!(q.neighbourhoods().unwrap().len(), 1);
        sub.cancel();
    }

    #[test]
    fn observing_nothing_is_invalid() {
        let dir = tempfile::TempDir::new().unwrap();
        let q = Quartier::open(dir.path().join("q.db").display().to_string()).unwrap();
        let result = q.observe_changes(vec![], Arc::new(Count(AtomicU32::new(0))));
        assert!(matches!(result, Err(QuartierError::Invalid { .. })), "{result:?}");
    }
}
