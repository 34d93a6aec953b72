//! The domain: Quartier's rules, in pure Rust, with no I/O.
//!
//! [`apply`] takes a [`Mutation`] and a read-only [`StateView`] of the replica it applies to, checks who
//! may do it and whether the rules allow it, and returns the [`Effect`]s to write — or a [`Rejection`]
//! with a reason code and a sentence for the person. The device runs it at once (optimistically) and the
//! server runs it again on arrival (authoritatively); the store of each is an adapter behind
//! `StateView`. Nothing here reads a clock, a file or the network, so the same inputs always give the
//! same effects, which is what lets every replica converge.
//!
//! One module per feature: `members` (neighbourhoods, invitations, roles), `favours`, `lending`,
//! `market` (stalls, products, pre-orders) and `messages`. To add an operation, see `mutation.rs`.

pub mod cell;
pub mod day;
pub mod export;
mod favours;
pub mod hlc;
mod lending;
mod market;
mod members;
pub mod memory;
mod messages;
pub mod model;
pub mod mutation;
pub mod rejection;
pub mod validate;

pub use cell::Cell;
pub use day::Day;
pub use hlc::{Hlc, HlcClock};
pub use members::{hash_code, normalise_code};
pub use memory::MemoryState;
pub use model::*;
pub use mutation::{Mutation, Op};
pub use rejection::{Code, Rejection};

/// A failure of the storage behind a [`StateView`]: not a rule, but the replica could not be read.
#[derive(Debug, thiserror::Error)]
#[error("could not read the local state: {0}")]
pub struct ViewError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// What the rules may read of a replica. Implemented by the device's store and by the server's.
pub trait StateView {
    /// The entity with this key, if the replica holds it.
    fn get(&self, key: &EntityKey) -> Result<Option<Entity>, ViewError>;
    /// The loans of an item that hold or may hold its calendar (requested, approved, handed over).
    fn open_loans_of_item(&self, neighbourhood_id: &str, item_id: &str) -> Result<Vec<Loan>, ViewError>;
    /// The orders of a stall that are placed, confirmed or ready.
    fn open_orders_of_stall(&self, neighbourhood_id: &str, stall_id: &str) -> Result<Vec<Order>, ViewError>;
    /// The favours a member has promised (or taken up) and not yet done.
    fn favours_taken_up_by(&self, neighbourhood_id: &str, member_id: &str) -> Result<Vec<Favour>, ViewError>;
    /// The keys of everything a member wrote or owns in a neighbourhood, and of what hangs off it, for
    /// leaving and removal: their favours, items and the loans of those items, their loans, stalls,
    /// products, pre-orders (placed by them or at their stalls), invitations, messages, and the messages
    /// in threads on any of these. Not their member entity.
    fn keys_of_member(&self, neighbourhood_id: &str, member_id: &str) -> Result<Vec<EntityKey>, ViewError>;
}

/// Why [`apply`] produced no effects.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    View(#[from] ViewError),
}

/// Applies one mutation to a replica: the effects to write, or why it cannot stand.
///
/// `now_ms` is the applier's clock, used only where the answer must not depend on the author's clock
/// (an invitation's expiry). Everything the effects record is taken from the mutation itself.
pub fn apply(view: &dyn StateView, m: &Mutation, now_ms: i64) -> Result<Vec<Effect>, ApplyError> {
    let ctx = Ctx { view, m, now_ms };
    validate::new_id("neighbourhood", &m.neighbourhood_id)?;
    validate::new_id("author", &m.author)?;
    match &m.op {
        Op::NeighbourhoodCreate(a) => members::create_neighbourhood(&ctx, a),
        Op::NeighbourhoodEdit(a) => members::edit_neighbourhood(&ctx, a),
        Op::InvitationCreate(a) => members::create_invitation(&ctx, a),
        Op::InvitationRevoke(a) => members::revoke_invitation(&ctx, a),
        Op::MemberJoin(a) => members::join(&ctx, a),
        Op::MemberUpdateProfile(a) => members::update_profile(&ctx, a),
        Op::MemberSetRole(a) => members::set_role(&ctx, a),
        Op::MemberLeave(_) => members::leave(&ctx),
        Op::MemberRemove(a) => members::remove(&ctx, a),
        Op::FavourPost(a) => favours::post(&ctx, a),
        Op::FavourEdit(a) => favours::edit(&ctx, a),
        Op::FavourPromise(a) => favours::promise(&ctx, &a.id),
        Op::FavourWithdraw(a) => favours::withdraw(&ctx, &a.id),
        Op::FavourComplete(a) => favours::complete(&ctx, &a.id),
        Op::FavourThank(a) => favours::thank(&ctx, a),
        Op::FavourCancel(a) => favours::cancel(&ctx, &a.id),
        Op::ItemAdd(a) => lending::add_item(&ctx, a),
        Op::ItemEdit(a) => lending::edit_item(&ctx, a),
        Op::ItemWithdraw(a) => lending::set_withdrawn(&ctx, &a.id, true),
        Op::ItemRelist(a) => lending::set_withdrawn(&ctx, &a.id, false),
        Op::LoanRequest(a) => lending::request(&ctx, a),
        Op::LoanApprove(a) => lending::approve(&ctx, &a.id),
        Op::LoanDecline(a) => lending::decline(&ctx, a),
        Op::LoanCancel(a) => lending::cancel(&ctx, &a.id),
        Op::LoanHandOver(a) => lending::hand_over(&ctx, &a.id),
        Op::LoanReturn(a) => lending::give_back(&ctx, &a.id),
        Op::StallOpen(a) => market::open_stall(&ctx, a),
        Op::StallEdit(a) => market::edit_stall(&ctx, &a.0),
        Op::ProductAdd(a) => market::add_product(&ctx, a),
        Op::ProductEdit(a) => market::edit_product(&ctx, a),
        Op::ProductSetPrice(a) => market::set_price(&ctx, a),
        Op::ProductSetAvailableToday(a) => market::set_available_today(&ctx, a),
        Op::ProductAdjustStock(a) => market::adjust_stock(&ctx, a),
        Op::ProductStocktake(a) => market::stocktake(&ctx, a),
        Op::ProductRemove(a) => market::remove_product(&ctx, &a.id),
        Op::OrderPlace(a) => market::place_order(&ctx, a),
        Op::OrderConfirm(a) => market::confirm_order(&ctx, &a.id),
        Op::OrderDecline(a) => market::decline_order(&ctx, a),
        Op::OrderReady(a) => market::order_ready(&ctx, &a.id),
        Op::OrderCollect(a) => market::collect_order(&ctx, &a.id),
        Op::OrderCancel(a) => market::cancel_order(&ctx, &a.id),
        Op::MessageSend(a) => messages::send(&ctx, a),
    }
}

/// What every rule needs: the replica, the mutation and the applier's clock, with typed look-ups.
struct Ctx<'a> {
    view: &'a dyn StateView,
    m: &'a Mutation,
    now_ms: i64,
}

type Outcome = Result<Vec<Effect>, ApplyError>;

macro_rules! getter {
    ($fn:ident, $kind:ident, $ty:ident, $what:literal) => {
        /// The entity of this kind in the mutation's neighbourhood, or a "not found" refusal.
        fn $fn(&self, id: &str) -> Result<$ty, ApplyError> {
            match self.find(EntityKind::$kind, id)? {
                Some(Entity::$kind(e)) => Ok(e),
                _ => Err(Rejection::not_found($what).into()),
            }
        }
    };
}

impl Ctx<'_> {
    fn nid(&self) -> &str {
        &self.m.neighbourhood_id
    }

    /// When the mutation was made, as its author's device saw it.
    fn at(&self) -> i64 {
        i64::try_from(self.m.hlc.wall_ms()).unwrap_or(i64::MAX)
    }

    fn find(&self, kind: EntityKind, id: &str) -> Result<Option<Entity>, ViewError> {
        self.view.get(&EntityKey::new(self.nid(), kind, id))
    }

    /// Refuses a new id that is malformed or already taken.
    fn fresh_id(&self, kind: EntityKind, id: &str) -> Result<(), ApplyError> {
        validate::new_id(kind.as_str(), id)?;
        if self.find(kind, id)?.is_some() {
            return Err(Rejection::new(
                Code::AlreadyExists,
                format!("A {} with id {id} exists already; use a new id.", kind.as_str()),
            )
            .into());
        }
        Ok(())
    }

    getter!(neighbourhood_entity, Neighbourhood, Neighbourhood, "The neighbourhood");
    getter!(invitation, Invitation, Invitation, "The invitation");
    getter!(favour, Favour, Favour, "The favour");
    getter!(item, Item, Item, "The item");
    getter!(loan, Loan, Loan, "The loan");
    getter!(stall, Stall, Stall, "The stall");
    getter!(product, Product, Product, "The product");
    getter!(order, Order, Order, "The pre-order");

    fn member(&self, id: &str) -> Result<Option<Member>, ApplyError> {
        match self.find(EntityKind::Member, id)? {
            Some(Entity::Member(member)) => Ok(Some(member)),
            _ => Ok(None),
        }
    }

    /// The author, who must be an active member of the neighbourhood.
    fn actor(&self) -> Result<Member, ApplyError> {
        match self.member(&self.m.author)? {
            Some(member) if member.status == MemberStatus::Active => Ok(member),
            Some(_) => {
                Err(Rejection::new(Code::NotMember, "You are no longer a member of this neighbourhood.")
                    .into())
            }
            None => Err(Rejection::new(
                Code::NotMember,
                "You are not a member of this neighbourhood; ask a neighbour for an invitation.",
            )
            .into()),
        }
    }

    /// An active member other than the author (for promises, removals…).
    fn active_member(&self, id: &str) -> Result<Member, ApplyError> {
        match self.member(id)? {
            Some(member) if member.status == MemberStatus::Active => Ok(member),
            _ => Err(Rejection::not_found("That member").into()),
        }
    }

    fn is_author(&self, id: &str) -> bool {
        self.m.author == id
    }
}

fn put(entity: impl Into<Entity>) -> Effect {
    Effect::Put { entity: entity.into() }
}

macro_rules! into_entity {
    ($($ty:ident),*) => {$(
        impl From<$ty> for Entity { fn from(e: $ty) -> Entity { Entity::$ty(e) } }
    )*};
}
into_entity!(Neighbourhood, Member, Invitation, Favour, Item, Loan, Stall, Product, Order, Message);
