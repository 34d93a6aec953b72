//! The columns each backend keeps beside an entity's JSON: what the rules' queries filter on, and who
//! may read it. One function, [`index_of`], decides them for every backend.
//!
//! The columns mirror the reference `MemoryState` exactly:
//! - `status`: the lifecycle state of favours, loans and orders (`open_*` and `favours_taken_up_by`);
//! - `parent`: what a thing hangs off: the item of a loan, the stall of an order, the thread of a
//!   message (`open_*`, and the messages in a departing member's threads);
//! - `owner`, `co_owner`: the members whose content it is, removed when they leave or are removed
//!   (`keys_of_member`): a loan belongs to its owner and its borrower, an order to its customer and its
//!   trader, everything else to its one author or owner;
//! - `counterpart`: who took a favour up (`favours_taken_up_by`);
//! - `readers`: the only two members who may pull it, or `None` for every active member. Messages are
//!   private to their author and recipient, and so are their tombstones.
//!
//! To add a kind: give it an arm here, and check the queries in the backends still cover it. To make a
//! kind private, give it `readers`.

use quartier_core::domain::{Entity, EntityKind};
use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntityIndex<'e> {
    pub status: Option<String>,
    /// The kind (as in `EntityKind::as_str`) and id of the thing this one hangs off.
    pub parent: Option<(&'static str, &'e str)>,
    pub owner: Option<&'e str>,
    pub co_owner: Option<&'e str>,
    pub counterpart: Option<&'e str>,
    pub readers: Option<[&'e str; 2]>,
}

/// The text form of a unit enum (`"handed_over"`), as serde writes it.
pub fn tag<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        _ => String::new(),
    }
}

pub fn index_of(entity: &Entity) -> EntityIndex<'_> {
    let none = EntityIndex::default();
    match entity {
        Entity::Neighbourhood(_) | Entity::Member(_) => none,
        Entity::Invitation(i) => EntityIndex { owner: Some(&i.created_by), ..none },
        Entity::Favour(f) => EntityIndex {
            status: Some(tag(&f.status)),
            owner: Some(&f.author),
            counterpart: f.counterpart.as_deref(),
            ..none
        },
        Entity::Item(i) => EntityIndex { owner: Some(&i.owner), ..none },
        Entity::Loan(l) => EntityIndex {
            status: Some(tag(&l.status)),
            parent: Some((EntityKind::Item.as_str(), &l.item_id)),
            owner: Some(&l.owner),
            co_owner: Some(&l.borrower),
            ..none
        },
        Entity::Stall(s) => EntityIndex { owner: Some(&s.owner), ..none },
        Entity::Product(p) => EntityIndex { owner: Some(&p.owner), ..none },
        Entity::Order(o) => EntityIndex {
            status: Some(tag(&o.status)),
            parent: Some((EntityKind::Stall.as_str(), &o.stall_id)),
            owner: Some(&o.customer),
            co_owner: Some(&o.trader),
            ..none
        },
        Entity::Message(m) => EntityIndex {
            // Thread kinds are named like the entity kinds they point to.
            parent: Some((thread_kind(m.thread.kind), &m.thread.id)),
            owner: Some(&m.author),
            readers: Some([&m.author, &m.recipient]),
            ..none
        },
    }
}

fn thread_kind(kind: quartier_core::domain::ThreadKind) -> &'static str {
    use quartier_core::domain::ThreadKind;
    match kind {
        ThreadKind::Favour => EntityKind::Favour.as_str(),
        ThreadKind::Loan => EntityKind::Loan.as_str(),
        ThreadKind::Order => EntityKind::Order.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quartier_core::domain::{Hlc, Message, ThreadKind, ThreadRef};

    #[test]
    fn messages_are_private_to_their_two_people() {
        let message = Entity::Message(Message {
            neighbourhood_id: "n".into(),
            id: "m".into(),
            thread: ThreadRef { kind: ThreadKind::Loan, id: "l".into() },
            author: "lea".into(),
            recipient: "bob".into(),
            body: "The drill is ready.".into(),
            sent_at: 0,
            updated: Hlc::ZERO,
        });
        let index = index_of(&message);
        assert_eq!(index.readers, Some(["lea", "bob"]));
        assert_eq!(index.parent, Some(("loan", "l")));
        // A message belongs to its author only: the recipient's leaving does not remove it.
        assert_eq!((index.owner, index.co_owner), (Some("lea"), None));
    }
}
