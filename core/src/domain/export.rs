//! What a member wrote, gathered for export (the right to take one's data along).
//!
//! "What they wrote" is every entity whose author field names them: their member profile, the
//! invitations they made (without the code's hash, which only serves to check a code), their favours,
//! the items they lend, the loans they asked for, their stalls and those stalls' products, the
//! pre-orders they placed, and their messages. Things others wrote about them (a loan of their item
//! that a neighbour asked for, an order at their stall, a reply in their thread) are the others' and
//! are not exported. Pure: the device's store calls [`written_by`] on its replica
//! (`Store::export`), so the export is what the device holds, pending changes included.
//!
//! To extend: a new entity kind gets a list here and an arm in [`written_by`]; bump [`FORMAT`] when a
//! field's meaning changes (readers key on it).

use super::model::*;
use serde::{Deserialize, Serialize};

/// The export's format name and version.
pub const FORMAT: &str = "quartier.export.v1";

/// An invitation as exported: everything but the code's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedInvitation {
    pub id: Id,
    pub expires_at: i64,
    pub max_uses: u32,
    pub uses: u32,
    pub revoked: bool,
    pub created_at: i64,
}

/// Everything one member wrote in one neighbourhood.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberExport {
    pub format: String,
    pub neighbourhood_id: Id,
    pub neighbourhood_name: String,
    pub member_id: Id,
    pub exported_at_ms: i64,
    /// Their profile; `None` when the replica does not hold them (they never joined, or were forgotten).
    pub profile: Option<Member>,
    pub invitations: Vec<ExportedInvitation>,
    pub favours: Vec<Favour>,
    pub items: Vec<Item>,
    pub loans: Vec<Loan>,
    pub stalls: Vec<Stall>,
    pub products: Vec<Product>,
    pub orders: Vec<Order>,
    pub messages: Vec<Message>,
}

/// What `member_id` wrote among `entities` (a replica of neighbourhood `neighbourhood_id`).
pub fn written_by<'a>(
    entities: impl IntoIterator<Item = &'a Entity>,
    neighbourhood_id: &str,
    member_id: &str,
    now_ms: i64,
) -> MemberExport {
    let mut export = MemberExport {
        format: FORMAT.to_owned(),
        neighbourhood_id: neighbourhood_id.to_owned(),
        neighbourhood_name: String::new(),
        member_id: member_id.to_owned(),
        exported_at_ms: now_ms,
        profile: None,
        invitations: Vec::new(),
        favours: Vec::new(),
        items: Vec::new(),
        loans: Vec::new(),
        stalls: Vec::new(),
        products: Vec::new(),
        orders: Vec::new(),
        messages: Vec::new(),
    };
    let mine = |id: &str| id == member_id;
    for entity in entities {
        if entity.key().neighbourhood_id != neighbourhood_id {
            continue;
        }
        match entity {
            Entity::Neighbourhood(n) => export.neighbourhood_name.clone_from(&n.name),
            Entity::Member(m) if mine(&m.id) => export.profile = Some(m.clone()),
            Entity::Invitation(i) if mine(&i.created_by) => export.invitations.push(ExportedInvitation {
                id: i.id.clone(),
                expires_at: i.expires_at,
                max_uses: i.max_uses,
                uses: i.uses,
                revoked: i.revoked,
                created_at: i.created_at,
            }),
            Entity::Favour(f) if mine(&f.author) => export.favours.push(f.clone()),
            Entity::Item(i) if mine(&i.owner) => export.items.push(i.clone()),
            Entity::Loan(l) if mine(&l.borrower) => export.loans.push(l.clone()),
            Entity::Stall(s) if mine(&s.owner) => export.stalls.push(s.clone()),
            Entity::Product(p) if mine(&p.owner) => export.products.push(p.clone()),
            Entity::Order(o) if mine(&o.customer) => export.orders.push(o.clone()),
            Entity::Message(m) if mine(&m.author) => export.messages.push(m.clone()),
            _ => {}
        }
    }
    export
}
