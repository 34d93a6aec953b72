//! Mutations: every change anyone makes, as a named operation with typed arguments.
//!
//! A mutation is what a device saves in its outbox and pushes, and what the server applies with the same
//! rules. Its name (`loan.request`) is its version: once devices in the field send a name, its arguments
//! never change meaning. To change an operation, add a new name (`loan.request.v2`) and keep the old one.
//!
//! To add an operation: write its argument struct here (with `deny_unknown_fields`, so that a field the
//! rules do not know cannot slip in), add a line to the `ops!` list, and a rule in the feature's module.

use super::cell::Cell;
use super::day::Day;
use super::hlc::Hlc;
use super::model::{Condition, FavourKind, Id, OrderLine, Role, ThreadRef, TimeWindow};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One change, as written by its author on one device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "WireMutation")]
pub struct Mutation {
    pub neighbourhood_id: Id,
    /// The member who acts. On the server this comes from the device's token, never from the payload.
    pub author: Id,
    pub device_id: Id,
    /// Per-device sequence number, from 1, without gaps: the server applies each one once.
    pub seq: u64,
    pub hlc: Hlc,
    #[serde(flatten)]
    pub op: Op,
}

/// The wire form of a mutation, read strictly: a field the rules do not know is refused, at the top
/// as in the arguments (`#[serde(flatten)]` alone would drop it silently). The arguments are kept as
/// the JSON they came in and read once the name says their type (`Op::from_parts`): serde's own
/// reading of a tagged enum buffered them in a generic form first, which cost time on every push the
/// server reads and some 210 KB of machine code in the mobile library.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireMutation {
    neighbourhood_id: Id,
    author: Id,
    device_id: Id,
    seq: u64,
    hlc: Hlc,
    name: String,
    #[serde(default)]
    args: Option<Box<RawValue>>,
}

impl TryFrom<WireMutation> for Mutation {
    type Error = serde_json::Error;
    fn try_from(wire: WireMutation) -> Result<Mutation, serde_json::Error> {
        let op = Op::from_parts(&wire.name, wire.args.as_deref().map_or("null", RawValue::get))?;
        Ok(Mutation {
            neighbourhood_id: wire.neighbourhood_id,
            author: wire.author,
            device_id: wire.device_id,
            seq: wire.seq,
            hlc: wire.hlc,
            op,
        })
    }
}

macro_rules! ops {
    ($( $(#[$doc:meta])* $variant:ident($args:ident) = $name:literal, )*) => {
        /// The operations, by name. See each argument struct for what it does. Read from JSON as part
        /// of a `Mutation` (or by `Op::from_parts`).
        #[derive(Clone, Debug, PartialEq, Serialize)]
        #[serde(tag = "name", content = "args")]
        pub enum Op {
            $( $(#[$doc])* #[serde(rename = $name)] $variant($args), )*
        }

        impl Op {
            /// Every name the rules accept.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// The operation's name, as sent over the wire.
            pub fn name(&self) -> &'static str {
                match self { $( Op::$variant(_) => $name, )* }
            }

            /// The operation named `name`, its arguments read from the JSON `args` (strictly: a
            /// field its struct does not know is refused). An unknown name is refused with the list
            /// of those the rules accept.
            pub fn from_parts(name: &str, args: &str) -> Result<Op, serde_json::Error> {
                match name {
                    $( $name => serde_json::from_str::<$args>(args).map(Op::$variant), )*
                    other => Err(<serde_json::Error as serde::de::Error>::unknown_variant(other, Op::NAMES)),
                }
            }
        }

        $( impl From<$args> for Op { fn from(args: $args) -> Op { Op::$variant(args) } } )*
    };
}

ops! {
    NeighbourhoodCreate(NeighbourhoodCreate) = "neighbourhood.create",
    NeighbourhoodEdit(NeighbourhoodEdit) = "neighbourhood.edit",
    InvitationCreate(InvitationCreate) = "invitation.create",
    InvitationRevoke(InvitationRevoke) = "invitation.revoke",
    MemberJoin(MemberJoin) = "member.join",
    MemberUpdateProfile(MemberUpdateProfile) = "member.update_profile",
    MemberSetRole(MemberSetRole) = "member.set_role",
    MemberLeave(MemberLeave) = "member.leave",
    MemberRemove(MemberRemove) = "member.remove",
    FavourPost(FavourPost) = "favour.post",
    FavourEdit(FavourEdit) = "favour.edit",
    FavourPromise(FavourRef) = "favour.promise",
    FavourWithdraw(FavourWithdraw) = "favour.withdraw",
    FavourComplete(FavourComplete) = "favour.complete",
    FavourThank(FavourThank) = "favour.thank",
    FavourCancel(FavourCancel) = "favour.cancel",
    ItemAdd(ItemAdd) = "item.add",
    ItemEdit(ItemEdit) = "item.edit",
    ItemWithdraw(ItemWithdraw) = "item.withdraw",
    ItemRelist(ItemRelist) = "item.relist",
    LoanRequest(LoanRequest) = "loan.request",
    LoanApprove(LoanApprove) = "loan.approve",
    LoanDecline(LoanDecline) = "loan.decline",
    LoanCancel(LoanCancel) = "loan.cancel",
    LoanHandOver(LoanHandOver) = "loan.hand_over",
    LoanReturn(LoanReturn) = "loan.return",
    StallOpen(StallOpen) = "stall.open",
    StallEdit(StallEdit) = "stall.edit",
    ProductAdd(ProductAdd) = "product.add",
    ProductEdit(ProductEdit) = "product.edit",
    ProductSetPrice(ProductSetPrice) = "product.set_price",
    ProductSetAvailableToday(ProductSetAvailableToday) = "product.set_available_today",
    ProductAdjustStock(ProductAdjustStock) = "product.adjust_stock",
    ProductStocktake(ProductStocktake) = "product.stocktake",
    ProductRemove(ProductRemove) = "product.remove",
    OrderPlace(OrderPlace) = "order.place",
    OrderConfirm(OrderConfirm) = "order.confirm",
    OrderDecline(OrderDecline) = "order.decline",
    OrderReady(OrderReady) = "order.ready",
    OrderCollect(OrderCollect) = "order.collect",
    OrderCancel(OrderCancel) = "order.cancel",
    MessageSend(MessageSend) = "message.send",
}

/// Declares argument structs that carry only the id of the thing they act on.
macro_rules! id_args {
    ($( $(#[$doc:meta])* $name:ident ),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name { pub id: Id }
    )*};
}

id_args! {
    /// Withdraws an invitation that has not been used up (its creator or a moderator).
    InvitationRevoke,
    /// A neighbour says "I'll do it" to an ask, or "yes please" to an offer.
    FavourRef,
    /// The counterpart steps back from a promised favour; it is open again.
    FavourWithdraw,
    /// Either party marks a promised favour as done.
    FavourComplete,
    /// The author cancels an open or promised favour.
    FavourCancel,
    /// The owner stops lending an item (its history stays).
    ItemWithdraw,
    /// The owner lends a withdrawn item again.
    ItemRelist,
    /// The owner approves a requested loan; overlapping requests are declined.
    LoanApprove,
    /// The borrower cancels a loan not yet handed over.
    LoanCancel,
    /// The owner hands the item over.
    LoanHandOver,
    /// The owner confirms the item came back.
    LoanReturn,
    /// The trader takes a placed pre-order; its stock is reserved.
    OrderConfirm,
    /// The trader says a confirmed pre-order is ready for pickup.
    OrderReady,
    /// The trader hands a ready pre-order over; its stock leaves the stall.
    OrderCollect,
    /// The customer cancels a pre-order not yet collected; reserved stock is released.
    OrderCancel,
    /// The trader removes a product from the stall.
    ProductRemove,
}

/// Starts a neighbourhood; its author becomes its first member and moderator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeighbourhoodCreate {
    pub name: String,
    pub description: String,
    pub cell: Option<Cell>,
    /// The founder's display name in it.
    pub display_name: String,
}

/// A moderator renames or redescribes the neighbourhood.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeighbourhoodEdit {
    pub name: String,
    pub description: String,
}

/// A member invites someone: the device draws a code, shows it to the member and sends only its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationCreate {
    pub id: Id,
    pub code_hash: String,
    pub expires_at: i64,
    pub max_uses: u32,
}

/// A newcomer redeems an invitation with its code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberJoin {
    pub invitation_id: Id,
    pub code: String,
    pub display_name: String,
}

/// A member rewrites their own profile (the whole of it: the newest version wins).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberUpdateProfile {
    pub display_name: String,
    pub bio: String,
    pub skills: Vec<String>,
    pub cell: Option<Cell>,
}

/// A moderator makes a member a trader, a moderator, or a plain member again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSetRole {
    pub member_id: Id,
    pub role: Role,
}

/// A member leaves: their content is removed everywhere.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberLeave {}

/// A moderator removes a member: their content is removed everywhere.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRemove {
    pub member_id: Id,
}

/// A member asks for a favour or offers one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FavourPost {
    pub id: Id,
    pub kind: FavourKind,
    pub title: String,
    pub details: String,
    pub category: String,
    pub window: Option<TimeWindow>,
    pub cell: Option<Cell>,
}

/// The author rewrites an open favour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FavourEdit {
    pub id: Id,
    pub title: String,
    pub details: String,
    pub category: String,
    pub window: Option<TimeWindow>,
}

/// The one who received the favour thanks the one who did it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FavourThank {
    pub id: Id,
    pub note: String,
}

/// A member puts an item up for lending.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemAdd {
    pub id: Id,
    pub title: String,
    pub description: String,
    pub category: String,
    pub condition: Condition,
    pub deposit_note: String,
    pub cell: Option<Cell>,
}

/// The owner rewrites an item's description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemEdit {
    pub id: Id,
    pub title: String,
    pub description: String,
    pub category: String,
    pub condition: Condition,
    pub deposit_note: String,
}

/// A member asks to borrow an item from a first day to a last day, both included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoanRequest {
    pub id: Id,
    pub item_id: Id,
    pub first_day: Day,
    pub last_day: Day,
    pub note: String,
}

/// The owner declines a requested loan, with an optional word of why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoanDecline {
    pub id: Id,
    pub reason: String,
}

/// A trader opens a stall at a market.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StallOpen {
    pub id: Id,
    pub name: String,
    pub market: String,
    pub days: Vec<u8>,
    pub opens_min: u16,
    pub closes_min: u16,
    pub place: String,
    pub cell: Option<Cell>,
}

/// The trader rewrites the stall's details (the same fields as when opening it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StallEdit(pub StallOpen);

/// The trader adds a product to their stall.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductAdd {
    pub id: Id,
    pub stall_id: Id,
    pub name: String,
    pub unit: String,
    pub price_cents: i64,
    pub stock: i64,
    pub available_today: bool,
}

/// The trader renames a product or changes its unit (the newest change wins).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductEdit {
    pub id: Id,
    pub name: String,
    pub unit: String,
}

/// The trader changes a price (the newest change wins, whichever device reaches the server first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductSetPrice {
    pub id: Id,
    pub price_cents: i64,
}

/// The trader says whether a product is on the stall today (the newest change wins).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductSetAvailableToday {
    pub id: Id,
    pub available: bool,
}

/// Stock moved: sold (negative) or restocked (positive). Moves from several devices add up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductAdjustStock {
    pub id: Id,
    pub delta: i64,
}

/// The trader counted the stock: it is set to the count, and earlier moves are taken as counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductStocktake {
    pub id: Id,
    pub count: i64,
}

/// A member pre-orders products of one stall for pickup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderPlace {
    pub id: Id,
    pub stall_id: Id,
    pub lines: Vec<OrderLine>,
    pub pickup_day: Option<Day>,
    pub note: String,
}

/// The trader declines a placed or confirmed pre-order, with an optional word of why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderDecline {
    pub id: Id,
    pub reason: String,
}

/// One of the people involved in a favour, a loan or an order writes in its thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSend {
    pub id: Id,
    pub thread: ThreadRef,
    pub body: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_is_name_and_args() {
        let m = Mutation {
            neighbourhood_id: "n1".into(),
            author: "alice".into(),
            device_id: "d1".into(),
            seq: 7,
            hlc: Hlc::new(1, 0, 2),
            op: Op::ProductSetPrice(ProductSetPrice { id: "p1".into(), price_cents: 250 }),
        };
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["name"], "product.set_price");
        assert_eq!(json["args"]["price_cents"], 250);
        assert_eq!(serde_json::from_str::<Mutation>(&json.to_string()).unwrap(), m);
    }

    #[test]
    fn unknown_names_and_fields_are_refused() {
        let unknown = r#"{"neighbourhood_id":"n","author":"a","device_id":"d","seq":1,
            "hlc":"00000000000000000000000000000001","name":"loan.steal","args":{"id":"x"}}"#;
        assert!(serde_json::from_str::<Mutation>(unknown).is_err());
        let extra = r#"{"neighbourhood_id":"n","author":"a","device_id":"d","seq":1,
            "hlc":"00000000000000000000000000000001","name":"loan.approve","args":{"id":"x","owner":"me"}}"#;
        assert!(serde_json::from_str::<Mutation>(extra).is_err());
        let forged = r#"{"neighbourhood_id":"n","author":"a","device_id":"d","seq":1,"server_version":9,
            "hlc":"00000000000000000000000000000001","name":"loan.approve","args":{"id":"x"}}"#;
        assert!(serde_json::from_str::<Mutation>(forged).is_err());
    }

    #[test]
    fn arguments_read_by_the_name_whichever_comes_first() {
        let m = r#"{"args":{"id":"p1","price_cents":250},"neighbourhood_id":"n","author":"a","device_id":"d",
            "seq":1,"hlc":"00000000000000000000000000000001","name":"product.set_price"}"#;
        let m = serde_json::from_str::<Mutation>(m).unwrap();
        assert_eq!(m.op, Op::ProductSetPrice(ProductSetPrice { id: "p1".into(), price_cents: 250 }));

        let error = |name: &str, args: &str| Op::from_parts(name, args).unwrap_err().to_string();
        let unknown = error("loan.steal", r#"{"id":"x"}"#);
        assert!(
            unknown.contains("unknown variant `loan.steal`") && unknown.contains("`loan.request`"),
            "{unknown}"
        );
        assert!(error("loan.approve", "null").contains("invalid type: null"));
        assert!(error("loan.approve", r#"{"id":"x","owner":"me"}"#).contains("unknown field `owner`"));
        let missing = r#"{"neighbourhood_id":"n","author":"a","device_id":"d","seq":1,
            "hlc":"00000000000000000000000000000001","name":"loan.approve"}"#;
        let missing = serde_json::from_str::<Mutation>(missing).unwrap_err().to_string();
        assert!(missing.contains("invalid type: null, expected struct"), "{missing}");
    }

    #[test]
    fn names_are_unique() {
        let mut names = Op::NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Op::NAMES.len());
    }
}
