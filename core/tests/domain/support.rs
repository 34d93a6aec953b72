//! A neighbourhood to test in: people, their devices, and mutations made the way a device makes them.
//!
//! `Hood::new()` is founded by Mona (moderator); Léa, Bob and Chloé join on her invitation, and so does
//! Tom, whom Mona then makes a trader. Every person acts from their phone unless a test names another
//! device; each device has its own sequence numbers and its own hybrid logical clock, ticked at `now`
//! after observing every stamp applied so far (as a device that has pulled), unless made `offline_on`.

use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use std::collections::BTreeMap;

/// Monday 2 March 2026, 09:00 UTC: the devices' clocks and the applier's, unless a test moves `now`.
pub const T0: i64 = 1_772_442_000_000;
pub const HOUR: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR;

pub const NID: &str = "aligre";
pub const MONA: &str = "mona";
pub const LEA: &str = "lea";
pub const BOB: &str = "bob";
pub const CHLOE: &str = "chloe";
pub const TOM: &str = "tom";
/// Not a member of anything.
pub const ZED: &str = "zed";

pub const CODE: &str = "plum tree 42";

/// The day `offset` days after the day of `T0` (UTC).
pub fn day(offset: i32) -> Day {
    Day::of_instant(T0, 0).plus_days(offset)
}

#[derive(Debug, Clone)]
pub struct Hood {
    pub state: MemoryState,
    /// The neighbourhood the next mutations are made in.
    pub nid: String,
    /// The wall clock of every device, and of the applier.
    pub now: i64,
    /// Per device: the last sequence number used, and its clock.
    devices: BTreeMap<String, (u64, HlcClock)>,
    /// The newest stamp of an applied mutation.
    seen: Hlc,
}

impl Hood {
    /// Nothing yet: no neighbourhood, no one.
    pub fn empty() -> Hood {
        Hood {
            state: MemoryState::new(),
            nid: NID.into(),
            now: T0,
            devices: BTreeMap::new(),
            seen: Hlc::ZERO,
        }
    }

    /// Mona's neighbourhood with Léa, Bob, Chloé, and Tom the trader.
    pub fn new() -> Hood {
        let mut h = Hood::empty();
        h.found(NID, MONA, "Mona");
        h.invite(MONA, "inv-1", CODE, 10);
        for (who, name) in [(LEA, "Léa"), (BOB, "Bob"), (CHLOE, "Chloé"), (TOM, "Tom")] {
            h.join(who, "inv-1", CODE, name);
        }
        h.ok(MONA, MemberSetRole { member_id: TOM.into(), role: Role::Trader });
        h
    }

    /// Founds a neighbourhood and makes the next mutations in it.
    pub fn found(&mut self, nid: &str, founder: &str, display_name: &str) {
        self.nid = nid.into();
        let create = NeighbourhoodCreate {
            name: format!("Quartier {nid}"),
            description: String::new(),
            cell: None,
            display_name: display_name.into(),
        };
        self.ok(founder, create);
    }

    pub fn invite(&mut self, by: &str, id: &str, code: &str, max_uses: u32) {
        let expires_at = self.now + 7 * DAY_MS;
        self.ok(by, InvitationCreate { id: id.into(), code_hash: hash_code(code), expires_at, max_uses });
    }

    pub fn join(&mut self, who: &str, invitation: &str, code: &str, name: &str) {
        self.ok(who, join(invitation, code, name));
    }

    /// The next mutation of `author` on one of their devices, which has synced everything applied so
    /// far: its clock has seen every stamp in the state, as a device's does when it pulls.
    pub fn mutation_on(&mut self, author: &str, device: &str, op: impl Into<Op>) -> Mutation {
        let seen = self.seen;
        self.make(author, device, op.into(), Some(seen))
    }

    /// The next mutation of `author` on a device that has not synced for a while: its clock has seen
    /// only its own stamps.
    pub fn offline_on(&mut self, author: &str, device: &str, op: impl Into<Op>) -> Mutation {
        self.make(author, device, op.into(), None)
    }

    fn make(&mut self, author: &str, device: &str, op: Op, seen: Option<Hlc>) -> Mutation {
        let (seq, clock) = self.devices.entry(device.into()).or_insert_with(|| (0, HlcClock::new(device)));
        *seq += 1;
        if let Some(seen) = seen {
            clock.observe(seen);
        }
        let wall = u64::try_from(self.now).expect("time after 1970");
        Mutation {
            neighbourhood_id: self.nid.clone(),
            author: author.into(),
            device_id: device.into(),
            seq: *seq,
            hlc: clock.tick(wall),
            op,
        }
    }

    /// The next mutation of `author` on their phone.
    pub fn mutation(&mut self, author: &str, op: impl Into<Op>) -> Mutation {
        let phone = format!("{author}-phone");
        self.mutation_on(author, &phone, op)
    }

    pub fn apply(&mut self, m: &Mutation) -> Result<Vec<Effect>, ApplyError> {
        let effects = self.state.apply(m, self.now)?;
        self.seen = self.seen.max(m.hlc);
        Ok(effects)
    }

    /// Applies a mutation that must be accepted.
    pub fn ok(&mut self, author: &str, op: impl Into<Op>) -> Vec<Effect> {
        let m = self.mutation(author, op);
        self.ok_m(&m)
    }

    pub fn ok_m(&mut self, m: &Mutation) -> Vec<Effect> {
        match self.apply(m) {
            Ok(effects) => effects,
            Err(e) => panic!("{} by {} was refused: {e}", m.op.name(), m.author),
        }
    }

    /// Applies a mutation that must be refused with `code`, with a sentence naming each of `words`,
    /// and leave the state exactly as it was.
    pub fn refuse(&mut self, author: &str, op: impl Into<Op>, code: Code, words: &[&str]) -> Rejection {
        let m = self.mutation(author, op);
        self.refuse_m(&m, code, words)
    }

    pub fn refuse_m(&mut self, m: &Mutation, code: Code, words: &[&str]) -> Rejection {
        let before = self.state.clone();
        let rejection = match self.apply(m) {
            Ok(_) => panic!("{} by {} was accepted, expected {code}", m.op.name(), m.author),
            Err(ApplyError::Rejected(r)) => r,
            Err(e) => panic!("{} by {} failed to read the state: {e}", m.op.name(), m.author),
        };
        assert_eq!(self.state, before, "a refused {} changed the state", m.op.name());
        assert_rejection(&rejection, code, words);
        rejection
    }

    pub fn get(&self, kind: EntityKind, id: &str) -> Option<Entity> {
        self.state.get(&EntityKey::new(&self.nid, kind, id)).expect("memory never fails")
    }

    pub fn later(&mut self, ms: i64) {
        self.now += ms;
    }
}

impl Default for Hood {
    fn default() -> Hood {
        Hood::new()
    }
}

macro_rules! getters {
    ($($fn:ident: $kind:ident),*) => {
        impl Hood {$(
            /// The entity with this id in the current neighbourhood; panics if there is none.
            pub fn $fn(&self, id: &str) -> $kind {
                match self.get(EntityKind::$kind, id) {
                    Some(Entity::$kind(e)) => e,
                    other => panic!("no {} {id}: {other:?}", stringify!($fn)),
                }
            }
        )*}
    };
}
getters!(member: Member, invitation: Invitation, favour: Favour, item: Item, loan: Loan,
    stall: Stall, product: Product, order: Order, message: Message);

/// A refusal with this code, whose message is a sentence naming each of `words`.
pub fn assert_rejection(r: &Rejection, code: Code, words: &[&str]) {
    assert_eq!(r.code, code, "unexpected refusal: {}", r.message);
    // A sentence, though it may start with a name as its author wrote it ("apples was removed…").
    let first = r.message.chars().next().unwrap_or(' ');
    let starts_with_a_name = words.iter().any(|w| r.message.starts_with(w));
    assert!(!first.is_lowercase() || starts_with_a_name, "not a sentence: {}", r.message);
    assert!(r.message.ends_with('.'), "not a sentence: {}", r.message);
    for word in words {
        assert!(r.message.contains(word), "{:?} does not name {word:?}", r.message);
    }
}

// Arguments, with plausible defaults for what a test does not care about.

pub fn join(invitation: &str, code: &str, name: &str) -> MemberJoin {
    MemberJoin { invitation_id: invitation.into(), code: code.into(), display_name: name.into() }
}

pub fn ask(id: &str, title: &str) -> FavourPost {
    FavourPost {
        id: id.into(),
        kind: FavourKind::Ask,
        title: title.into(),
        details: String::new(),
        category: "garden".into(),
        window: None,
        cell: None,
    }
}

pub fn offer(id: &str, title: &str) -> FavourPost {
    FavourPost { kind: FavourKind::Offer, category: "repairs".into(), ..ask(id, title) }
}

pub fn item(id: &str, title: &str) -> ItemAdd {
    ItemAdd {
        id: id.into(),
        title: title.into(),
        description: String::new(),
        category: "tools".into(),
        condition: Condition::Good,
        deposit_note: "none".into(),
        cell: None,
    }
}

/// A loan of `item` from `first` to `last`, in days after the day of `T0`.
pub fn loan(id: &str, item: &str, first: i32, last: i32) -> LoanRequest {
    LoanRequest {
        id: id.into(),
        item_id: item.into(),
        first_day: day(first),
        last_day: day(last),
        note: String::new(),
    }
}

pub fn stall(id: &str, name: &str) -> StallOpen {
    StallOpen {
        id: id.into(),
        name: name.into(),
        market: "Marché d'Aligre".into(),
        days: vec![2, 6, 7],
        opens_min: 7 * 60,
        closes_min: 13 * 60 + 30,
        place: "row B, by the fountain".into(),
        cell: None,
    }
}

pub fn product(id: &str, stall: &str, name: &str, stock: i64) -> ProductAdd {
    ProductAdd {
        id: id.into(),
        stall_id: stall.into(),
        name: name.into(),
        unit: "kg".into(),
        price_cents: 350,
        stock,
        available_today: true,
    }
}

pub fn order(id: &str, stall: &str, lines: &[(&str, i64)]) -> OrderPlace {
    OrderPlace {
        id: id.into(),
        stall_id: stall.into(),
        lines: lines.iter().map(|(p, q)| OrderLine { product_id: (*p).into(), quantity: *q }).collect(),
        pickup_day: Some(day(1)),
        note: String::new(),
    }
}

pub fn message(id: &str, kind: ThreadKind, thread: &str, body: &str) -> MessageSend {
    MessageSend { id: id.into(), thread: ThreadRef { kind, id: thread.into() }, body: body.into() }
}

/// Tom's stall "Les Vergers de Tom" with 20 kg of apples and 12 kg of pears.
pub fn with_stall(h: &mut Hood) {
    h.ok(TOM, stall("stall-1", "Les Vergers de Tom"));
    h.ok(TOM, product("apples", "stall-1", "apples", 20));
    h.ok(TOM, product("pears", "stall-1", "pears", 12));
}
