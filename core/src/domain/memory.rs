//! An in-memory replica: the rules' [`StateView`] over a map, with the effects written back.
//!
//! It is the reference that the stores must agree with, and what the rule tests and property tests
//! run on. It is not for production data: nothing in it survives the process.

use super::*;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryState {
    entities: BTreeMap<EntityKey, Entity>,
}

impl MemoryState {
    pub fn new() -> MemoryState {
        MemoryState::default()
    }

    /// Applies a mutation: its effects are written if the rules accept it, and nothing changes if not.
    pub fn apply(&mut self, m: &Mutation, now_ms: i64) -> Result<Vec<Effect>, ApplyError> {
        let effects = apply(self, m, now_ms)?;
        self.write(&effects);
        Ok(effects)
    }

    pub fn write(&mut self, effects: &[Effect]) {
        for effect in effects {
            match effect {
                Effect::Put { entity } => {
                    self.entities.insert(entity.key(), entity.clone());
                }
                Effect::Delete { key } => {
                    self.entities.remove(key);
                }
            }
        }
    }

    pub fn entities(&self) -> impl Iterator<Item = &Entity> {
        self.entities.values()
    }

    pub fn len(&self) -> usize {
        self.entities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    fn of_kind(&self, nid: &str, kind: EntityKind) -> impl Iterator<Item = &Entity> {
        let nid = nid.to_owned();
        self.entities.iter().filter(move |(k, _)| k.kind == kind && k.neighbourhood_id == nid).map(|(_, e)| e)
    }
}

impl StateView for MemoryState {
    fn get(&self, key: &EntityKey) -> Result<Option<Entity>, ViewError> {
        Ok(self.entities.get(key).cloned())
    }

    fn open_loans_of_item(&self, nid: &str, item_id: &str) -> Result<Vec<Loan>, ViewError> {
        Ok(self
            .of_kind(nid, EntityKind::Loan)
            .filter_map(|e| match e {
                Entity::Loan(l)
                    if l.item_id == item_id
                        && matches!(
                            l.status,
                            LoanStatus::Requested | LoanStatus::Approved | LoanStatus::HandedOver
                        ) =>
                {
                    Some(l.clone())
                }
                _ => None,
            })
            .collect())
    }

    fn open_orders_of_stall(&self, nid: &str, stall_id: &str) -> Result<Vec<Order>, ViewError> {
        Ok(self
            .of_kind(nid, EntityKind::Order)
            .filter_map(|e| match e {
                Entity::Order(o)
                    if o.stall_id == stall_id
                        && matches!(
                            o.status,
                            OrderStatus::Placed | OrderStatus::Confirmed | OrderStatus::Ready
                        ) =>
                {
                    Some(o.clone())
                }
                _ => None,
            })
            .collect())
    }

    fn favours_taken_up_by(&self, nid: &str, member_id: &str) -> Result<Vec<Favour>, ViewError> {
        Ok(self
            .of_kind(nid, EntityKind::Favour)
            .filter_map(|e| match e {
                Entity::Favour(f)
                    if f.status == FavourStatus::Promised && f.counterpart.as_deref() == Some(member_id) =>
                {
                    Some(f.clone())
                }
                _ => None,
            })
            .collect())
    }

    fn keys_of_member(&self, nid: &str, member_id: &str) -> Result<Vec<EntityKey>, ViewError> {
        let mut keys = std::collections::BTreeSet::new();
        let mut threads = std::collections::HashSet::new();
        for (key, entity) in self.entities.range(..).filter(|(k, _)| k.neighbourhood_id == nid) {
            let theirs = match entity {
                Entity::Favour(f) => f.author == member_id,
                Entity::Item(i) => i.owner == member_id,
                Entity::Loan(l) => l.owner == member_id || l.borrower == member_id,
                Entity::Stall(s) => s.owner == member_id,
                Entity::Product(p) => p.owner == member_id,
                Entity::Order(o) => o.customer == member_id || o.trader == member_id,
                Entity::Invitation(i) => i.created_by == member_id,
                Entity::Message(m) => m.author == member_id,
                Entity::Neighbourhood(_) | Entity::Member(_) => false,
            };
            if theirs {
                keys.insert(key.clone());
                // Ids are only unique per kind: a thread is known by the kind of thing it is on, too.
                let thread = match key.kind {
                    EntityKind::Favour => Some(ThreadKind::Favour),
                    EntityKind::Loan => Some(ThreadKind::Loan),
                    EntityKind::Order => Some(ThreadKind::Order),
                    _ => None,
                };
                if let Some(kind) = thread {
                    threads.insert(ThreadRef { kind, id: key.id.clone() });
                }
            }
        }
        for (key, entity) in &self.entities {
            if let Entity::Message(m) = entity {
                if key.neighbourhood_id == nid && threads.contains(&m.thread) {
                    keys.insert(key.clone());
                }
            }
        }
        Ok(keys.into_iter().collect())
    }
}
