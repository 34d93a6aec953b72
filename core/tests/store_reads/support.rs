//! A phone's replica to read from: a real SQLite file in a temporary folder, holding Mona's
//! neighbourhood with Léa, Bob, Chloé, and Tom the trader.
//!
//! A `Store` acts only as its own person. What the others do is applied to a `MemoryState` that
//! mirrors the replica, and the effects are written with `Store::write_effects`, as sync will do.
//! `Device::act` picks the right way from who acts.

use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::store::{Durability, Identity, Store, StoreOptions};
use std::collections::BTreeMap;
use std::sync::Arc;
use tempfile::TempDir;

/// Monday 2 March 2026, 09:00 UTC.
pub const T0: i64 = 1_772_442_000_000;
pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY_MS: i64 = 24 * HOUR;

pub const NID: &str = "aligre";
pub const MONA: &str = "mona";
pub const LEA: &str = "lea";
pub const BOB: &str = "bob";
pub const CHLOE: &str = "chloe";
pub const TOM: &str = "tom";
pub const CODE: &str = "plum tree 42";

thread_local! {
    /// The store's clock on this thread: `Device::act` sets it before the store's own mutations.
    static NOW: std::cell::Cell<i64> = const { std::cell::Cell::new(T0) };
}

fn store_clock() -> i64 {
    NOW.with(std::cell::Cell::get)
}

/// The day `offset` days after the day of `T0` (UTC).
pub fn day(offset: i32) -> Day {
    Day::of_instant(T0, 0).plus_days(offset)
}

/// A cell in Paris 11e, where the neighbourhood lives.
pub fn home() -> Cell {
    Cell::from_coordinates(48.8590, 2.3800).expect("on earth")
}

/// The cell about `north` × 800 m north and `east` × 800 m east of [`home`] (one cell a step).
pub fn near_home(north: i32, east: i32) -> Cell {
    let (lat, lon) = home().centre();
    let step_deg = 800.0 / 111_195.08;
    let lat = lat + f64::from(north) * step_deg;
    let lon = lon + f64::from(east) * step_deg / lat.to_radians().cos();
    Cell::from_coordinates(lat, lon).expect("on earth")
}

pub struct Device {
    /// Keeps the database's folder while the phone lives.
    _dir: TempDir,
    pub store: Arc<Store>,
    /// What the replica holds, as the rules' own in-memory replica.
    pub state: MemoryState,
    /// The person this phone belongs to.
    pub me: String,
    /// The neighbourhood the next mutations are made in.
    pub nid: String,
    /// The wall clock of every device.
    pub now: i64,
    /// Other people's phones: last sequence number and clock.
    phones: BTreeMap<String, (u64, HlcClock)>,
}

impl Device {
    /// `me`'s phone, with Mona's neighbourhood in it.
    pub fn new(me: &str) -> Device {
        let mut d = Device::empty(me);
        d.found(NID, MONA, "Mona");
        d.act(
            MONA,
            InvitationCreate {
                id: "inv".into(),
                code_hash: hash_code(CODE),
                expires_at: d.now + 7 * DAY_MS,
                max_uses: 20,
            },
        );
        for (who, name) in [(LEA, "Léa"), (BOB, "Bob"), (CHLOE, "Chloé"), (TOM, "Tom")] {
            d.join(who, name);
        }
        d.act(MONA, MemberSetRole { member_id: TOM.into(), role: Role::Trader });
        d
    }

    /// `me`'s phone, holding nothing yet.
    pub fn empty(me: &str) -> Device {
        let dir = TempDir::new().expect("a temporary folder");
        let options = StoreOptions {
            durability: Durability::Normal,
            identity: Some(Identity { device_id: format!("{me}-phone"), person_id: me.into() }),
            now: store_clock,
            ..StoreOptions::default()
        };
        let store = Store::open(dir.path().join("quartier.db"), options).expect("the store opens");
        Device {
            _dir: dir,
            store: Arc::new(store),
            state: MemoryState::new(),
            me: me.into(),
            nid: NID.into(),
            now: T0,
            phones: BTreeMap::new(),
        }
    }

    /// Founds a neighbourhood and makes the next mutations in it.
    pub fn found(&mut self, nid: &str, founder: &str, display_name: &str) {
        self.nid = nid.into();
        let name = format!("Quartier {nid}");
        self.act(
            founder,
            NeighbourhoodCreate {
                name,
                description: String::new(),
                cell: None,
                display_name: display_name.into(),
            },
        );
    }

    /// Someone joins with Mona's invitation.
    pub fn join(&mut self, who: &str, name: &str) {
        self.act(
            who,
            MemberJoin { invitation_id: "inv".into(), code: CODE.into(), display_name: name.into() },
        );
    }

    /// `who` does something now, and it reaches this replica: through the store if `who` is this
    /// phone's person, else from their own phone.
    pub fn act(&mut self, who: &str, op: impl Into<Op>) -> Vec<Effect> {
        let op = op.into();
        if who == self.me {
            NOW.with(|clock| clock.set(self.now));
            let name = op.name();
            let applied = self
                .store
                .mutate(&self.nid, op)
                .unwrap_or_else(|e| panic!("{name} by {who} was refused: {e}"));
            self.state.write(&applied.effects);
            applied.effects
        } else {
            let effects = self.elsewhere(who, op);
            self.store.write_effects(&effects).expect("the replica takes the effects");
            effects
        }
    }

    /// Someone else does something on their phone; it reaches the mirror only, until `sync`.
    pub fn elsewhere(&mut self, who: &str, op: impl Into<Op>) -> Vec<Effect> {
        assert_ne!(who, self.me, "this phone's person acts through the store");
        let (seq, clock) =
            self.phones.entry(who.to_owned()).or_insert_with(|| (0, HlcClock::new(&format!("{who}-phone"))));
        *seq += 1;
        let m = Mutation {
            neighbourhood_id: self.nid.clone(),
            author: who.into(),
            device_id: format!("{who}-phone"),
            seq: *seq,
            hlc: clock.tick(u64::try_from(self.now).expect("after 1970")),
            op: op.into(),
        };
        self.state.apply(&m, self.now).unwrap_or_else(|e| panic!("{} by {who} was refused: {e}", m.op.name()))
    }

    pub fn later(&mut self, ms: i64) {
        self.now += ms;
    }

    /// The entities of one kind in the current neighbourhood, as the mirror holds them.
    pub fn mirror<T>(&self, pick: impl Fn(&Entity) -> Option<&T>) -> Vec<T>
    where
        T: Clone,
    {
        self.state.entities().filter_map(pick).cloned().collect()
    }
}

// Arguments, with plausible defaults for what a test does not care about.

pub fn favour(id: &str, kind: FavourKind, title: &str, category: &str, cell: Option<Cell>) -> FavourPost {
    FavourPost {
        id: id.into(),
        kind,
        title: title.into(),
        details: String::new(),
        category: category.into(),
        window: None,
        cell,
    }
}

pub fn ask(id: &str, title: &str) -> FavourPost {
    favour(id, FavourKind::Ask, title, "garden", None)
}

pub fn offer(id: &str, title: &str) -> FavourPost {
    favour(id, FavourKind::Offer, title, "repairs", None)
}

pub fn item(id: &str, title: &str, category: &str, cell: Option<Cell>) -> ItemAdd {
    ItemAdd {
        id: id.into(),
        title: title.into(),
        description: String::new(),
        category: category.into(),
        condition: Condition::Good,
        deposit_note: "none".into(),
        cell,
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

pub fn stall(id: &str, name: &str, cell: Option<Cell>) -> StallOpen {
    StallOpen {
        id: id.into(),
        name: name.into(),
        market: "Marché d'Aligre".into(),
        days: vec![2, 6, 7],
        opens_min: 7 * 60,
        closes_min: 13 * 60,
        place: "row B, by the fountain".into(),
        cell,
    }
}

pub fn product(id: &str, stall_id: &str, name: &str, unit: &str, price_cents: i64) -> ProductAdd {
    ProductAdd {
        id: id.into(),
        stall_id: stall_id.into(),
        name: name.into(),
        unit: unit.into(),
        price_cents,
        stock: 100,
        available_today: true,
    }
}

pub fn order(id: &str, stall_id: &str, lines: &[(&str, i64)], pickup: Option<i32>) -> OrderPlace {
    OrderPlace {
        id: id.into(),
        stall_id: stall_id.into(),
        lines: lines.iter().map(|(p, q)| OrderLine { product_id: (*p).into(), quantity: *q }).collect(),
        pickup_day: pickup.map(day),
        note: String::new(),
    }
}

pub fn message(id: &str, kind: ThreadKind, thread: &str, body: &str) -> MessageSend {
    MessageSend { id: id.into(), thread: ThreadRef { kind, id: thread.into() }, body: body.into() }
}

pub fn id_of<T: HasId>(views: &[T]) -> Vec<String> {
    views.iter().map(|v| v.id().to_owned()).collect()
}

/// What lists are compared by.
pub trait HasId {
    fn id(&self) -> &str;
}

impl HasId for quartier_core::store::FavourView {
    fn id(&self) -> &str {
        &self.favour.id
    }
}
impl HasId for quartier_core::store::ItemView {
    fn id(&self) -> &str {
        &self.item.id
    }
}
impl HasId for quartier_core::store::LoanView {
    fn id(&self) -> &str {
        &self.loan.id
    }
}
impl HasId for quartier_core::store::OrderView {
    fn id(&self) -> &str {
        &self.order.id
    }
}
impl HasId for quartier_core::store::MemberView {
    fn id(&self) -> &str {
        &self.member.id
    }
}
impl HasId for quartier_core::store::MessageView {
    fn id(&self) -> &str {
        &self.message.id
    }
}
impl HasId for quartier_core::store::SearchHit {
    fn id(&self) -> &str {
        &self.id
    }
}
impl HasId for Loan {
    fn id(&self) -> &str {
        &self.id
    }
}
impl HasId for Product {
    fn id(&self) -> &str {
        &self.id
    }
}

/// A small deterministic random source (xorshift), so a failure can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + i64::try_from(self.below(u64::try_from(hi - lo + 1).expect("lo <= hi"))).expect("small")
    }

    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::try_from(self.below(from.len() as u64)).expect("small")]
    }
}
