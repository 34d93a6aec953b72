//! The things of a neighbourhood, as every replica holds them.
//!
//! Each entity belongs to one neighbourhood and is keyed by `(neighbourhood_id, kind, id)`. Entities are
//! only ever produced by the rules in this module's siblings, from a mutation, so a device and the
//! server that apply the same mutations to the same state hold equal entities. Times are Unix
//! milliseconds taken from the mutation's clock stamp; `updated` is the stamp of the last change.
//!
//! To add a kind of thing: add its struct here, a variant to [`Entity`] and [`EntityKind`] (the
//! compiler then asks for its line in `EntityData`, which reads an entity's JSON), and a table to the
//! store (`store/schema.rs`).

use super::cell::Cell;
use super::day::Day;
use super::hlc::Hlc;
use serde::{Deserialize, Serialize};

/// Ids are chosen by the device that creates the thing (UUIDv7 text), so it can be used offline at once.
pub type Id = String;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Neighbourhood {
    pub id: Id,
    pub name: String,
    pub description: String,
    pub cell: Option<Cell>,
    pub created_by: Id,
    pub created_at: i64,
    pub updated: Hlc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Trader,
    Moderator,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    Active,
    Left,
    Removed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub neighbourhood_id: Id,
    /// The person's id; the same person has the same id in every neighbourhood they join.
    pub id: Id,
    pub display_name: String,
    pub bio: String,
    pub skills: Vec<String>,
    pub cell: Option<Cell>,
    pub role: Role,
    pub status: MemberStatus,
    /// Who co-opted them; `None` for the founder of the neighbourhood.
    pub invited_by: Option<Id>,
    /// The invitation they joined by (`None` for the founder, and for members recorded before it was
    /// kept): a join retried with it, after its answer was lost, is recognised and changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<Id>,
    pub joined_at: i64,
    /// The stamp of the last profile edit: profile edits are last-writer-wins among themselves, apart
    /// from role changes.
    #[serde(default)]
    pub profile_hlc: Hlc,
    pub updated: Hlc,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    pub neighbourhood_id: Id,
    pub id: Id,
    pub created_by: Id,
    /// SHA-256 of the code, in hex. The code itself is only known to the inviter and the newcomer.
    pub code_hash: String,
    pub expires_at: i64,
    pub max_uses: u32,
    pub uses: u32,
    pub revoked: bool,
    pub created_at: i64,
    pub updated: Hlc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FavourKind {
    /// "Water my plants Saturday": the author needs help.
    Ask,
    /// "I can fix bikes": the author proposes help.
    Offer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FavourStatus {
    Open,
    Promised,
    Done,
    Thanked,
    Cancelled,
}

/// When a favour is wanted or offered, in Unix milliseconds; `end_ms` is after `start_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    pub start_ms: i64,
    pub end_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Favour {
    pub neighbourhood_id: Id,
    pub id: Id,
    pub author: Id,
    pub kind: FavourKind,
    pub title: String,
    pub details: String,
    pub category: String,
    pub window: Option<TimeWindow>,
    pub cell: Option<Cell>,
    pub status: FavourStatus,
    /// The neighbour who promised to do an ask, or who took up an offer.
    pub counterpart: Option<Id>,
    pub thanks_note: Option<String>,
    pub created_at: i64,
    pub updated: Hlc,
}

impl Favour {
    /// Who does the favour: the counterpart of an ask, the author of an offer.
    pub fn helper(&self) -> Option<&str> {
        match self.kind {
            FavourKind::Ask => self.counterpart.as_deref(),
            FavourKind::Offer => Some(&self.author),
        }
    }
    /// Who receives the favour (and may thank): the author of an ask, the counterpart of an offer.
    pub fn beneficiary(&self) -> Option<&str> {
        match self.kind {
            FavourKind::Ask => Some(&self.author),
            FavourKind::Offer => self.counterpart.as_deref(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    New,
    Good,
    Fair,
    Worn,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub neighbourhood_id: Id,
    pub id: Id,
    pub owner: Id,
    pub title: String,
    pub description: String,
    pub category: String,
    pub condition: Condition,
    /// What the owner asks as a deposit, in words ("a cheque of 50 €", "none").
    pub deposit_note: String,
    pub cell: Option<Cell>,
    /// Withdrawn items are kept for the history of their loans but take no new requests.
    pub withdrawn: bool,
    pub created_at: i64,
    pub updated: Hlc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoanStatus {
    Requested,
    Approved,
    Declined,
    HandedOver,
    Returned,
    Cancelled,
}

impl LoanStatus {
    /// Approved and handed-over loans hold the item's calendar.
    pub fn holds_calendar(self) -> bool {
        matches!(self, LoanStatus::Approved | LoanStatus::HandedOver)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Loan {
    pub neighbourhood_id: Id,
    pub id: Id,
    pub item_id: Id,
    /// The item's owner at the time of the request: the authority on this loan.
    pub owner: Id,
    pub borrower: Id,
    /// The first and last days of the loan, both included.
    pub first_day: Day,
    pub last_day: Day,
    pub status: LoanStatus,
    pub note: String,
    pub decline_reason: Option<String>,
    pub created_at: i64,
    pub updated: Hlc,
}

impl Loan {
    pub fn overlaps(&self, first_day: Day, last_day: Day) -> bool {
        self.first_day <= last_day && first_day <= self.last_day
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stall {
    pub neighbourhood_id: Id,
    pub id: Id,
    pub owner: Id,
    pub name: String,
    /// The market it stands at ("Marché d'Aligre").
    pub market: String,
    /// Market days, 1 = Monday … 7 = Sunday, ascending and without repeats.
    pub days: Vec<u8>,
    /// Opening and closing time, in minutes after midnight, local time.
    pub opens_min: u16,
    pub closes_min: u16,
    /// Where at the market ("row B, by the fountain").
    pub place: String,
    pub cell: Option<Cell>,
    pub created_at: i64,
    pub updated: Hlc,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub neighbourhood_id: Id,
    pub id: Id,
    pub stall_id: Id,
    pub owner: Id,
    pub name: String,
    /// The unit the price is for ("kg", "bunch", "piece").
    pub unit: String,
    pub price_cents: i64,
    /// What is physically at the stall. Never below zero, and never below `reserved`.
    pub stock: i64,
    /// What confirmed pre-orders hold back for pickup.
    pub reserved: i64,
    pub available_today: bool,
    pub removed: bool,
    /// Last-writer-wins stamps: the newest stamp of each field's last change.
    pub details_hlc: Hlc,
    pub price_hlc: Hlc,
    pub available_hlc: Hlc,
    /// The stamp of the last stocktake: stock moves stamped before it were already counted.
    pub stocktake_hlc: Hlc,
    /// The stock moves stamped after the last stocktake, oldest first (at most [`Product::MAX_MOVES`]),
    /// so that a stocktake reaching the server after moves made later still counts them.
    #[serde(default)]
    pub moves: Vec<StockMove>,
    pub created_at: i64,
    pub updated: Hlc,
}

/// One stock move (sold, restocked, handed over for a pre-order), by its stamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockMove {
    pub hlc: Hlc,
    pub delta: i64,
}

impl Product {
    /// How many stock moves a product remembers after its last stocktake.
    pub const MAX_MOVES: usize = 200;

    /// What can still be sold or promised: stock not held by confirmed pre-orders.
    pub fn free_stock(&self) -> i64 {
        self.stock - self.reserved
    }

    /// Records a move made after the last stocktake, keeping the log in stamp order and bounded.
    pub fn record_move(&mut self, hlc: Hlc, delta: i64) {
        let at = self.moves.partition_point(|m| m.hlc <= hlc);
        self.moves.insert(at, StockMove { hlc, delta });
        if self.moves.len() > Product::MAX_MOVES {
            self.moves.remove(0);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Placed,
    Confirmed,
    Ready,
    Collected,
    Declined,
    Cancelled,
}

impl OrderStatus {
    /// Confirmed and ready orders hold their products' stock.
    pub fn reserves_stock(self) -> bool {
        matches!(self, OrderStatus::Confirmed | OrderStatus::Ready)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    pub product_id: Id,
    pub quantity: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub neighbourhood_id: Id,
    pub id: Id,
    pub stall_id: Id,
    pub trader: Id,
    pub customer: Id,
    pub lines: Vec<OrderLine>,
    pub pickup_day: Option<Day>,
    pub note: String,
    pub status: OrderStatus,
    pub decline_reason: Option<String>,
    pub created_at: i64,
    pub updated: Hlc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadKind {
    Favour,
    Loan,
    Order,
}

/// The favour, loan or order a message is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadRef {
    pub kind: ThreadKind,
    pub id: Id,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub neighbourhood_id: Id,
    pub id: Id,
    pub thread: ThreadRef,
    pub author: Id,
    /// The other party when it was written: only the two of them may ever read it, even if the thread
    /// later changes hands (a favour taken up by someone else).
    pub recipient: Id,
    pub body: String,
    pub sent_at: i64,
    pub updated: Hlc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Neighbourhood,
    Member,
    Invitation,
    Favour,
    Item,
    Loan,
    Stall,
    Product,
    Order,
    Message,
}

impl EntityKind {
    pub const ALL: [EntityKind; 10] = [
        EntityKind::Neighbourhood,
        EntityKind::Member,
        EntityKind::Invitation,
        EntityKind::Favour,
        EntityKind::Item,
        EntityKind::Loan,
        EntityKind::Stall,
        EntityKind::Product,
        EntityKind::Order,
        EntityKind::Message,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Neighbourhood => "neighbourhood",
            EntityKind::Member => "member",
            EntityKind::Invitation => "invitation",
            EntityKind::Favour => "favour",
            EntityKind::Item => "item",
            EntityKind::Loan => "loan",
            EntityKind::Stall => "stall",
            EntityKind::Product => "product",
            EntityKind::Order => "order",
            EntityKind::Message => "message",
        }
    }

    pub fn parse(text: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Where an entity lives: neighbourhood first (so that a distributed database can shard by it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityKey {
    pub neighbourhood_id: Id,
    pub kind: EntityKind,
    pub id: Id,
}

impl EntityKey {
    pub fn new(neighbourhood_id: &str, kind: EntityKind, id: &str) -> EntityKey {
        EntityKey { neighbourhood_id: neighbourhood_id.to_owned(), kind, id: id.to_owned() }
    }
}

/// Any entity, tagged with its kind: `{"kind": "favour", "data": {…}}` in JSON (read by hand, below).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Entity {
    Neighbourhood(Neighbourhood),
    Member(Member),
    Invitation(Invitation),
    Favour(Favour),
    Item(Item),
    Loan(Loan),
    Stall(Stall),
    Product(Product),
    Order(Order),
    Message(Message),
}

impl Entity {
    /// The stamp of the entity's last change.
    pub fn updated(&self) -> Hlc {
        match self {
            Entity::Neighbourhood(e) => e.updated,
            Entity::Member(e) => e.updated,
            Entity::Invitation(e) => e.updated,
            Entity::Favour(e) => e.updated,
            Entity::Item(e) => e.updated,
            Entity::Loan(e) => e.updated,
            Entity::Stall(e) => e.updated,
            Entity::Product(e) => e.updated,
            Entity::Order(e) => e.updated,
            Entity::Message(e) => e.updated,
        }
    }

    pub fn key(&self) -> EntityKey {
        let (nid, kind, id) = match self {
            Entity::Neighbourhood(e) => (&e.id, EntityKind::Neighbourhood, &e.id),
            Entity::Member(e) => (&e.neighbourhood_id, EntityKind::Member, &e.id),
            Entity::Invitation(e) => (&e.neighbourhood_id, EntityKind::Invitation, &e.id),
            Entity::Favour(e) => (&e.neighbourhood_id, EntityKind::Favour, &e.id),
            Entity::Item(e) => (&e.neighbourhood_id, EntityKind::Item, &e.id),
            Entity::Loan(e) => (&e.neighbourhood_id, EntityKind::Loan, &e.id),
            Entity::Stall(e) => (&e.neighbourhood_id, EntityKind::Stall, &e.id),
            Entity::Product(e) => (&e.neighbourhood_id, EntityKind::Product, &e.id),
            Entity::Order(e) => (&e.neighbourhood_id, EntityKind::Order, &e.id),
            Entity::Message(e) => (&e.neighbourhood_id, EntityKind::Message, &e.id),
        };
        EntityKey::new(nid, kind, id)
    }
}

/// What applying a mutation does to the state: entities written whole, or removed.
// Puts are the common case and deletes rare, so the size difference costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Effect {
    Put { entity: Entity },
    Delete { key: EntityKey },
}

impl Effect {
    pub fn key(&self) -> EntityKey {
        match self {
            Effect::Put { entity } => entity.key(),
            Effect::Delete { key } => key.clone(),
        }
    }
}

/// Reads an entity's JSON, `{"kind": …, "data": …}`, as serde's derive for an adjacently tagged enum
/// would (other keys ignored, the two in either order), in far less machine code: the derive also
/// compiles, for every kind, a reading of `data` from serde's generic buffer for when it comes
/// before `kind`, which weighed 350 KB of the mobile library. Here `data` before `kind` is kept as
/// its JSON text and read once the kind is known, so only JSON can carry an entity (which is all
/// Quartier uses; `serde_json::from_value` cannot, as `Value` keeps `data` before `kind`).
impl<'de> Deserialize<'de> for Entity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Entity, D::Error> {
        deserializer.deserialize_struct("Entity", &["kind", "data"], EntityVisitor)
    }
}

struct EntityVisitor;

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum EntityField {
    Kind,
    Data,
    #[serde(other)]
    Other,
}

/// Reads `data` as the struct of one kind.
struct EntityData(EntityKind);

impl<'de> serde::de::DeserializeSeed<'de> for EntityData {
    type Value = Entity;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Entity, D::Error> {
        Ok(match self.0 {
            EntityKind::Neighbourhood => Entity::Neighbourhood(Deserialize::deserialize(d)?),
            EntityKind::Member => Entity::Member(Deserialize::deserialize(d)?),
            EntityKind::Invitation => Entity::Invitation(Deserialize::deserialize(d)?),
            EntityKind::Favour => Entity::Favour(Deserialize::deserialize(d)?),
            EntityKind::Item => Entity::Item(Deserialize::deserialize(d)?),
            EntityKind::Loan => Entity::Loan(Deserialize::deserialize(d)?),
            EntityKind::Stall => Entity::Stall(Deserialize::deserialize(d)?),
            EntityKind::Product => Entity::Product(Deserialize::deserialize(d)?),
            EntityKind::Order => Entity::Order(Deserialize::deserialize(d)?),
            EntityKind::Message => Entity::Message(Deserialize::deserialize(d)?),
        })
    }
}

impl<'de> serde::de::Visitor<'de> for EntityVisitor {
    type Value = Entity;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an entity: {\"kind\": …, \"data\": …}")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Entity, A::Error> {
        use serde::de::Error;
        let mut kind = None;
        let mut entity = None;
        let mut early: Option<Box<serde_json::value::RawValue>> = None;
        while let Some(field) = map.next_key()? {
            match field {
                EntityField::Kind if kind.is_some() => return Err(A::Error::duplicate_field("kind")),
                EntityField::Kind => kind = Some(map.next_value::<EntityKind>()?),
                EntityField::Data if entity.is_some() || early.is_some() => {
                    return Err(A::Error::duplicate_field("data"));
                }
                EntityField::Data => match kind {
                    Some(kind) => entity = Some(map.next_value_seed(EntityData(kind))?),
                    None => early = Some(map.next_value()?),
                },
                EntityField::Other => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        let kind = kind.ok_or_else(|| A::Error::missing_field("kind"))?;
        match (entity, early) {
            (Some(entity), _) => Ok(entity),
            (None, Some(data)) => {
                let mut reader = serde_json::Deserializer::from_str(data.get());
                serde::de::DeserializeSeed::deserialize(EntityData(kind), &mut reader)
                    .map_err(A::Error::custom)
            }
            (None, None) => Err(A::Error::missing_field("data")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neighbourhood() -> Entity {
        Entity::Neighbourhood(Neighbourhood {
            id: "n1".into(),
            name: "Rue des Lilas".into(),
            description: String::new(),
            cell: None,
            created_by: "alice".into(),
            created_at: 1,
            updated: Hlc::new(1, 0, 2),
        })
    }

    #[test]
    fn an_entity_reads_back_with_its_keys_in_either_order_and_others_ignored() {
        let entity = neighbourhood();
        let text = serde_json::to_string(&entity).unwrap();
        assert!(text.starts_with(r#"{"kind":"neighbourhood","data":{"#), "{text}");
        assert_eq!(serde_json::from_str::<Entity>(&text).unwrap(), entity);

        let data = serde_json::to_string(&serde_json::to_value(&entity).unwrap()["data"]).unwrap();
        let reordered =
            format!(r#"{{"note":[1,{{"x":2}}],"data":{data},"kind":"neighbourhood","more":null}}"#);
        assert_eq!(serde_json::from_str::<Entity>(&reordered).unwrap(), entity);
        assert_eq!(serde_json::from_slice::<Entity>(reordered.as_bytes()).unwrap(), entity);
    }

    #[test]
    fn a_malformed_entity_says_what_is_wrong() {
        let data = r#"{"id":"n1","name":"x","description":"","cell":null,"created_by":"a","created_at":1,
            "updated":"00000000000000000000000000000001"}"#;
        let error = |text: String| serde_json::from_str::<Entity>(&text).unwrap_err().to_string();
        assert!(error(format!(r#"{{"data":{data}}}"#)).contains("missing field `kind`"));
        assert!(error(r#"{"kind":"favour"}"#.to_owned()).contains("missing field `data`"));
        assert!(
            error(format!(r#"{{"kind":"member","kind":"member","data":{data}}}"#))
                .contains("duplicate field `kind`")
        );
        assert!(
            error(format!(r#"{{"kind":"neighbourhood","data":{data},"data":{data}}}"#))
                .contains("duplicate field `data`")
        );
        assert!(
            error(format!(r#"{{"kind":"spaceship","data":{data}}}"#)).contains("unknown variant `spaceship`")
        );
        // The data is read as the kind says, whichever comes first.
        assert!(error(format!(r#"{{"kind":"member","data":{data}}}"#)).contains("missing field"));
        assert!(error(format!(r#"{{"data":{data},"kind":"member"}}"#)).contains("missing field"));
        assert!(
            error(r#"{"data":{"id":1},"kind":"neighbourhood"}"#.to_owned())
                .contains("invalid type: integer `1`")
        );
    }
}
