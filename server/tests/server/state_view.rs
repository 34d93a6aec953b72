//! The server's state agrees with the reference `MemoryState`.
//!
//! A random-ish history (a fixed seed per run, so a failure replays) of six neighbours and a stranger
//! is applied through the server, each mutation pushed from its author's phone, and to a
//! `MemoryState` with the same rules. After every mutation the server's outcome must be the
//! reference's (applied, or rejected with the same code and sentence); now and then the server's
//! `StateView` is asked every question the rules ask and must answer exactly as the reference does;
//! and every member's replica, pulled in small pages from its cursor, must equal what the reference
//! holds that they may read.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::sync::protocol::Outcome;
use quartier_server::sync::view::TxView;
use reqwest::StatusCode;
use std::collections::{BTreeMap, BTreeSet};

const NID: &str = "hood-sv";
const PEOPLE: [&str; 6] = ["ana", "ben", "cleo", "dan", "eva", "fred"];
const STRANGER: &str = "zed";
const CODE_SV: &str = "sv code one";

/// xorshift64*: small, and the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
    fn pick<'a, T>(&mut self, list: &'a [T]) -> Option<&'a T> {
        (!list.is_empty()).then(|| &list[self.below(list.len())])
    }
}

/// The operations drawn, the common ones several times.
const KINDS: &[&str] = &[
    "favour.post",
    "favour.post",
    "favour.promise",
    "favour.promise",
    "favour.withdraw",
    "favour.complete",
    "favour.complete",
    "favour.thank",
    "favour.cancel",
    "item.add",
    "item.add",
    "item.withdraw",
    "item.relist",
    "loan.request",
    "loan.request",
    "loan.request",
    "loan.approve",
    "loan.approve",
    "loan.decline",
    "loan.cancel",
    "loan.hand_over",
    "loan.return",
    "stall.open",
    "product.add",
    "product.add",
    "product.adjust_stock",
    "order.place",
    "order.place",
    "order.place",
    "order.confirm",
    "order.confirm",
    "order.ready",
    "order.collect",
    "order.decline",
    "order.cancel",
    "message.send",
    "message.send",
    "message.send",
    "invitation.create",
    "member.join",
    "member.join",
    "member.update_profile",
    "member.set_role",
    "member.leave",
    "member.remove",
];

struct World {
    server: TestServer,
    phones: BTreeMap<String, Phone>,
    state: MemoryState,
    /// Each person's replica, pulled from its cursor.
    replicas: BTreeMap<String, Replica>,
    /// Every id ever used, to ask the server about things that exist, were deleted, or never were.
    ids: BTreeSet<(EntityKind, String)>,
    fresh: usize,
    /// Per operation: applied, rejected.
    counts: BTreeMap<&'static str, (usize, usize)>,
}

impl World {
    async fn new(db: Db) -> World {
        let server = TestServer::start(db).await;
        let mut phones = BTreeMap::new();
        for person in PEOPLE.iter().chain([&STRANGER]) {
            phones.insert(person.to_string(), server.register(person).await);
        }
        World {
            server,
            phones,
            state: MemoryState::new(),
            replicas: BTreeMap::new(),
            ids: BTreeSet::new(),
            fresh: 0,
            counts: BTreeMap::new(),
        }
    }

    fn fresh(&mut self, kind: EntityKind, prefix: &str) -> String {
        self.fresh += 1;
        let id = format!("{prefix}{}", self.fresh);
        self.ids.insert((kind, id.clone()));
        id
    }

    /// Makes `op` on `person`'s phone, applies it to the reference and pushes it: the outcomes agree.
    async fn step(&mut self, person: &str, op: Op) -> bool {
        let name = op.name();
        let phone = self.phones.get_mut(person).unwrap();
        let m = phone.mutation(NID, op);
        let expected = match self.state.apply(&m, now_ms()) {
            Ok(_) => Outcome::Applied,
            Err(ApplyError::Rejected(r)) => Outcome::Rejected { code: r.code, message: r.message },
            Err(ApplyError::View(e)) => panic!("the reference failed: {e}"),
        };
        let phone = &self.phones[person];
        let results = self.server.push_ok(phone, std::slice::from_ref(&m)).await;
        assert_eq!(results[0].outcome, expected, "{name} by {person} (seq {})", m.seq);
        let applied = expected == Outcome::Applied;
        let count = self.counts.entry(name).or_default();
        if applied {
            count.0 += 1;
        } else {
            count.1 += 1;
        }
        applied
    }

    fn entities(&self) -> impl Iterator<Item = &Entity> {
        self.state.entities().filter(|e| e.key().neighbourhood_id == NID)
    }

    fn member(&self, id: &str) -> Option<Member> {
        match self.state.get(&EntityKey::new(NID, EntityKind::Member, id)).unwrap() {
            Some(Entity::Member(m)) => Some(m),
            _ => None,
        }
    }

    fn active(&self, id: &str) -> bool {
        self.member(id).is_some_and(|m| m.status == MemberStatus::Active)
    }

    /// The server's `StateView` answers every question as the reference does.
    fn compare_views(&self) {
        let people: Vec<&str> = PEOPLE.iter().copied().chain([STRANGER]).collect();
        let mut keys: BTreeSet<EntityKey> = self.entities().map(Entity::key).collect();
        keys.extend(self.ids.iter().map(|(kind, id)| EntityKey::new(NID, *kind, id)));
        keys.extend(people.iter().map(|p| EntityKey::new(NID, EntityKind::Member, p)));
        keys.insert(EntityKey::new(NID, EntityKind::Neighbourhood, NID));
        let reference: &(dyn StateView + Sync) = &self.state;
        self.server.read(|tx| {
            let server = TxView(tx);
            for key in &keys {
                assert_eq!(server.get(key).unwrap(), reference.get(key).unwrap(), "get {key:?}");
            }
            for (kind, id) in &self.ids {
                match kind {
                    EntityKind::Item => assert_eq!(
                        server.open_loans_of_item(NID, id).unwrap(),
                        reference.open_loans_of_item(NID, id).unwrap(),
                        "open loans of {id}"
                    ),
                    EntityKind::Stall => assert_eq!(
                        server.open_orders_of_stall(NID, id).unwrap(),
                        reference.open_orders_of_stall(NID, id).unwrap(),
                        "open orders of {id}"
                    ),
                    _ => {}
                }
            }
            for person in &people {
                assert_eq!(
                    server.favours_taken_up_by(NID, person).unwrap(),
                    reference.favours_taken_up_by(NID, person).unwrap(),
                    "favours taken up by {person}"
                );
                assert_eq!(
                    server.keys_of_member(NID, person).unwrap(),
                    reference.keys_of_member(NID, person).unwrap(),
                    "keys of {person}"
                );
            }
            Ok(())
        });
    }

    /// Every active member's replica, pulled in small pages from its cursor, holds what the reference
    /// holds that they may read; everyone else is refused.
    async fn compare_replicas(&mut self) {
        for person in PEOPLE.iter().copied().chain([STRANGER]) {
            let phone = &self.phones[person];
            if !self.active(person) {
                let response = self.server.pull(phone, NID, 0, None).await;
                assert_eq!(response.status(), StatusCode::FORBIDDEN, "{person} pulls");
                continue;
            }
            let replica = self.replicas.entry(person.to_owned()).or_insert_with(|| Replica::new(NID));
            self.server.catch_up(phone, replica, Some(7)).await;
            let expected: BTreeMap<EntityKey, Entity> = self
                .state
                .entities()
                .filter(|e| e.key().neighbourhood_id == NID)
                .filter(|e| match e {
                    Entity::Message(m) => m.author == person || m.recipient == person,
                    _ => true,
                })
                .map(|e| (e.key(), e.clone()))
                .collect();
            assert_eq!(replica.entities, expected, "what {person} pulled");
        }
    }

    /// One random step: who, what, on what.
    fn plan(&mut self, rng: &mut Rng) -> (String, Op) {
        // Mostly an active member; now and then anyone, the stranger included.
        let active: Vec<&str> = PEOPLE.iter().copied().filter(|p| self.active(p)).collect();
        let anyone = match rng.below(20) {
            0 => STRANGER,
            1..=3 => *rng.pick(&PEOPLE).unwrap(),
            _ => rng.pick(&active).copied().unwrap_or(PEOPLE[0]),
        }
        .to_owned();
        let kind = *rng.pick(KINDS).unwrap();
        // One step in five is made by anyone, to meet the refusals; otherwise by whom the rules expect.
        let faithful = rng.below(5) != 0;
        let by = |natural: Option<&str>| match natural {
            Some(person) if faithful => person.to_owned(),
            _ => anyone.clone(),
        };
        let entities: Vec<Entity> = self.entities().cloned().collect();
        macro_rules! of {
            ($variant:ident) => {
                entities
                    .iter()
                    .filter_map(|e| if let Entity::$variant(x) = e { Some(x) } else { None })
                    .collect::<Vec<_>>()
            };
        }
        let favours = of!(Favour);
        let items = of!(Item);
        let loans = of!(Loan);
        let stalls = of!(Stall);
        let products = of!(Product);
        let orders = of!(Order);
        let members = of!(Member);
        // Mostly something in a state that allows the step.
        fn ready<'a, T>(rng: &mut Rng, list: &[&'a T], ok: impl Fn(&T) -> bool) -> Option<&'a T> {
            let fit: Vec<&T> = list.iter().copied().filter(|t| ok(t)).collect();
            if rng.below(4) != 0 && !fit.is_empty() {
                rng.pick(&fit).copied()
            } else {
                rng.pick(list).copied()
            }
        }
        let today = Day::of_instant(now_ms(), 0);
        match kind {
            "favour.post" => {
                let id = self.fresh(EntityKind::Favour, "f");
                let mut post = ask(&id, "Water my plants");
                if rng.below(2) == 0 {
                    post.kind = FavourKind::Offer;
                }
                (anyone, post.into())
            }
            "favour.promise" => {
                let f = ready(rng, &favours, |f| f.status == FavourStatus::Open);
                (anyone, FavourRef { id: f.map_or("f0".into(), |f| f.id.clone()) }.into())
            }
            "favour.withdraw" | "favour.complete" | "favour.thank" | "favour.cancel" => {
                let wanted = if kind == "favour.thank" { FavourStatus::Done } else { FavourStatus::Promised };
                let f = ready(rng, &favours, |f| f.status == wanted);
                let id = f.map_or("f0".into(), |f| f.id.clone());
                let natural = f.and_then(|f| match kind {
                    "favour.withdraw" => f.counterpart.as_deref(),
                    "favour.complete" if rng.below(2) == 0 => Some(f.author.as_str()),
                    "favour.complete" => f.counterpart.as_deref(),
                    "favour.thank" => f.beneficiary(),
                    _ => Some(f.author.as_str()),
                });
                let op: Op = match kind {
                    "favour.withdraw" => FavourWithdraw { id }.into(),
                    "favour.complete" => FavourComplete { id }.into(),
                    "favour.thank" => FavourThank { id, note: "Merci !".into() }.into(),
                    _ => FavourCancel { id }.into(),
                };
                (by(natural), op)
            }
            "item.add" => {
                let id = self.fresh(EntityKind::Item, "i");
                (anyone, item(&id, "Drill").into())
            }
            "item.withdraw" | "item.relist" => {
                let i = ready(rng, &items, |i| i.withdrawn == (kind == "item.relist"));
                let id = i.map_or("i0".into(), |i| i.id.clone());
                let op: Op = if kind == "item.withdraw" {
                    ItemWithdraw { id }.into()
                } else {
                    ItemRelist { id }.into()
                };
                (by(i.map(|i| i.owner.as_str())), op)
            }
            "loan.request" => {
                let id = self.fresh(EntityKind::Loan, "l");
                let i = ready(rng, &items, |i| !i.withdrawn);
                let first = today.plus_days(i32::try_from(rng.below(10)).unwrap());
                let last = first.plus_days(i32::try_from(rng.below(4)).unwrap());
                let request = LoanRequest {
                    id,
                    item_id: i.map_or("i0".into(), |i| i.id.clone()),
                    first_day: first,
                    last_day: last,
                    note: String::new(),
                };
                (anyone, request.into())
            }
            "loan.approve" | "loan.decline" | "loan.cancel" | "loan.hand_over" | "loan.return" => {
                let wanted = match kind {
                    "loan.hand_over" => LoanStatus::Approved,
                    "loan.return" => LoanStatus::HandedOver,
                    _ => LoanStatus::Requested,
                };
                let l = ready(rng, &loans, |l| l.status == wanted);
                let id = l.map_or("l0".into(), |l| l.id.clone());
                let natural =
                    l.map(|l| if kind == "loan.cancel" { l.borrower.as_str() } else { l.owner.as_str() });
                let op: Op = match kind {
                    "loan.approve" => LoanApprove { id }.into(),
                    "loan.decline" => LoanDecline { id, reason: "Not this week.".into() }.into(),
                    "loan.cancel" => LoanCancel { id }.into(),
                    "loan.hand_over" => LoanHandOver { id }.into(),
                    _ => LoanReturn { id }.into(),
                };
                (by(natural), op)
            }
            "stall.open" => {
                let id = self.fresh(EntityKind::Stall, "s");
                let traders: Vec<&str> =
                    members.iter().filter(|m| m.role != Role::Member).map(|m| m.id.as_str()).collect();
                let open = StallOpen {
                    id,
                    name: "Les Vergers".into(),
                    market: "Marché d'Aligre".into(),
                    days: vec![2, 6],
                    opens_min: 420,
                    closes_min: 780,
                    place: "row B".into(),
                    cell: None,
                };
                (by(rng.pick(&traders).copied()), open.into())
            }
            "product.add" => {
                let id = self.fresh(EntityKind::Product, "p");
                let s = rng.pick(&stalls).copied();
                let add = ProductAdd {
                    id,
                    stall_id: s.map_or("s0".into(), |s| s.id.clone()),
                    name: "apples".into(),
                    unit: "kg".into(),
                    price_cents: 350,
                    stock: i64::try_from(rng.below(20)).unwrap(),
                    available_today: true,
                };
                (by(s.map(|s| s.owner.as_str())), add.into())
            }
            "product.adjust_stock" => {
                let p = rng.pick(&products).copied();
                let delta = i64::try_from(rng.below(11)).unwrap() - 5;
                let op = ProductAdjustStock { id: p.map_or("p0".into(), |p| p.id.clone()), delta };
                (by(p.map(|p| p.owner.as_str())), op.into())
            }
            "order.place" => {
                let id = self.fresh(EntityKind::Order, "o");
                let s = rng.pick(&stalls).copied();
                let stall_id = s.map_or("s0".into(), |s| s.id.clone());
                let on_stall: Vec<&Product> =
                    products.iter().copied().filter(|p| p.stall_id == stall_id).collect();
                let product = rng.pick(&on_stall).map_or("p0".into(), |p| p.id.clone());
                let quantity = 1 + i64::try_from(rng.below(4)).unwrap();
                let place = OrderPlace {
                    id,
                    stall_id,
                    lines: vec![OrderLine { product_id: product, quantity }],
                    pickup_day: Some(today.plus_days(1)),
                    note: String::new(),
                };
                (anyone, place.into())
            }
            "order.confirm" | "order.ready" | "order.collect" | "order.decline" | "order.cancel" => {
                let o = match kind {
                    "order.confirm" | "order.decline" => {
                        ready(rng, &orders, |o| o.status == OrderStatus::Placed)
                    }
                    "order.ready" => ready(rng, &orders, |o| o.status == OrderStatus::Confirmed),
                    "order.collect" => ready(rng, &orders, |o| o.status == OrderStatus::Ready),
                    _ => ready(rng, &orders, |o| {
                        !matches!(o.status, OrderStatus::Collected | OrderStatus::Cancelled)
                    }),
                };
                let id = o.map_or("o0".into(), |o| o.id.clone());
                let natural =
                    o.map(|o| if kind == "order.cancel" { o.customer.as_str() } else { o.trader.as_str() });
                let op: Op = match kind {
                    "order.confirm" => OrderConfirm { id }.into(),
                    "order.ready" => OrderReady { id }.into(),
                    "order.collect" => OrderCollect { id }.into(),
                    "order.decline" => OrderDecline { id, reason: String::new() }.into(),
                    _ => OrderCancel { id }.into(),
                };
                (by(natural), op)
            }
            "message.send" => {
                let id = self.fresh(EntityKind::Message, "m");
                let (thread, parties): (ThreadRef, Option<[String; 2]>) = match rng.below(3) {
                    0 => {
                        let f = ready(rng, &favours, |f| f.counterpart.is_some());
                        let parties = f.and_then(|f| Some([f.author.clone(), f.counterpart.clone()?]));
                        (
                            ThreadRef {
                                kind: ThreadKind::Favour,
                                id: f.map_or("f0".into(), |f| f.id.clone()),
                            },
                            parties,
                        )
                    }
                    1 => {
                        let l = rng.pick(&loans).copied();
                        let parties = l.map(|l| [l.owner.clone(), l.borrower.clone()]);
                        (
                            ThreadRef { kind: ThreadKind::Loan, id: l.map_or("l0".into(), |l| l.id.clone()) },
                            parties,
                        )
                    }
                    _ => {
                        let o = rng.pick(&orders).copied();
                        let parties = o.map(|o| [o.trader.clone(), o.customer.clone()]);
                        (
                            ThreadRef {
                                kind: ThreadKind::Order,
                                id: o.map_or("o0".into(), |o| o.id.clone()),
                            },
                            parties,
                        )
                    }
                };
                let side = rng.below(2);
                let author = by(parties.as_ref().map(|p| p[side].as_str()));
                (author, MessageSend { id, thread, body: "See you at 6.".into() }.into())
            }
            "invitation.create" => {
                let id = self.fresh(EntityKind::Invitation, "v");
                (anyone, invitation(&id, &format!("code {id}"), 3).into())
            }
            "member.join" => {
                let outside: Vec<&str> =
                    PEOPLE.iter().copied().chain([STRANGER]).filter(|p| !self.active(p)).collect();
                let who = rng.pick(&outside).map_or(anyone.clone(), |p| (*p).to_owned());
                (
                    who,
                    MemberJoin {
                        invitation_id: "inv-sv".into(),
                        code: CODE_SV.into(),
                        display_name: "Again".into(),
                    }
                    .into(),
                )
            }
            "member.update_profile" => {
                let profile = MemberUpdateProfile {
                    display_name: format!("Neighbour {}", rng.below(100)),
                    bio: String::new(),
                    skills: vec!["bikes".into()],
                    cell: None,
                };
                (anyone, profile.into())
            }
            "member.set_role" => {
                let moderators: Vec<&str> = members
                    .iter()
                    .filter(|m| m.role == Role::Moderator && m.status == MemberStatus::Active)
                    .map(|m| m.id.as_str())
                    .collect();
                let role = [Role::Member, Role::Trader, Role::Moderator][rng.below(3)];
                let member_id = (*rng.pick(&PEOPLE).unwrap()).to_owned();
                (by(rng.pick(&moderators).copied()), MemberSetRole { member_id, role }.into())
            }
            "member.leave" => (anyone, MemberLeave {}.into()),
            _ => {
                let moderators: Vec<&str> = members
                    .iter()
                    .filter(|m| m.role == Role::Moderator && m.status == MemberStatus::Active)
                    .map(|m| m.id.as_str())
                    .collect();
                let member_id = (*rng.pick(&PEOPLE).unwrap()).to_owned();
                (by(rng.pick(&moderators).copied()), MemberRemove { member_id }.into())
            }
        }
    }
}

async fn history(db: Db, seed: u64, steps: usize) -> World {
    let mut world = World::new(db).await;
    let mut rng = Rng(seed);
    // Ana founds the neighbourhood; everyone else joins on her invitation; Ben and Cléo trade, Dan
    // moderates with her.
    assert!(world.step("ana", found("Hood", "Ana").into()).await);
    world.ids.insert((EntityKind::Invitation, "inv-sv".into()));
    assert!(world.step("ana", invitation("inv-sv", CODE_SV, 50).into()).await);
    for person in &PEOPLE[1..] {
        let join = MemberJoin {
            invitation_id: "inv-sv".into(),
            code: CODE_SV.into(),
            display_name: person.to_string(),
        };
        assert!(world.step(person, join.into()).await);
    }
    for (person, role) in [("ben", Role::Trader), ("cleo", Role::Trader), ("dan", Role::Moderator)] {
        assert!(world.step("ana", MemberSetRole { member_id: person.into(), role }.into()).await);
    }
    prologue(&mut world).await;
    world.compare_views();
    world.compare_replicas().await;
    for i in 1..=steps {
        let (person, op) = world.plan(&mut rng);
        world.step(&person, op).await;
        if i % 60 == 0 {
            world.compare_views();
            world.compare_replicas().await;
        }
    }
    world.compare_views();
    world.compare_replicas().await;
    world
}

/// Every chain the rules know, once, so that each history starts from a state where loans hold
/// calendars, orders reserve stock, favours are promised, threads have messages, and departures take
/// content along.
async fn prologue(world: &mut World) {
    let today = Day::of_instant(now_ms(), 0);
    let loan = |id: &str, item: &str, first: i32, last: i32| LoanRequest {
        id: id.into(),
        item_id: item.into(),
        first_day: today.plus_days(first),
        last_day: today.plus_days(last),
        note: String::new(),
    };
    let order = |id: &str, quantity: i64| OrderPlace {
        id: id.into(),
        stall_id: "s-ben".into(),
        lines: vec![OrderLine { product_id: "p-apples".into(), quantity }],
        pickup_day: Some(today.plus_days(1)),
        note: String::new(),
    };
    let stall = StallOpen {
        id: "s-ben".into(),
        name: "Les Vergers de Ben".into(),
        market: "Marché d'Aligre".into(),
        days: vec![2, 6],
        opens_min: 420,
        closes_min: 780,
        place: "row B".into(),
        cell: None,
    };
    let apples = ProductAdd {
        id: "p-apples".into(),
        stall_id: "s-ben".into(),
        name: "apples".into(),
        unit: "kg".into(),
        price_cents: 350,
        stock: 10,
        available_today: true,
    };
    let script: Vec<(&str, Op)> = vec![
        ("ben", stall.into()),
        ("ben", apples.into()),
        ("eva", item("i-drill", "Drill").into()),
        ("fred", loan("l-fred", "i-drill", 1, 2).into()),
        ("eva", LoanApprove { id: "l-fred".into() }.into()),
        ("eva", LoanHandOver { id: "l-fred".into() }.into()),
        ("fred", message("m-loan", ThreadKind::Loan, "l-fred", "Thanks for the drill.").into()),
        ("eva", LoanReturn { id: "l-fred".into() }.into()),
        ("cleo", loan("l-cleo", "i-drill", 5, 6).into()),
        ("fred", loan("l-fred2", "i-drill", 6, 7).into()),
        // Approving Fred's declines Cléo's overlapping request.
        ("eva", LoanApprove { id: "l-fred2".into() }.into()),
        ("eva", item("i-ladder", "Ladder").into()),
        ("dan", loan("l-dan", "i-ladder", 1, 1).into()),
        // Withdrawing the ladder declines Dan's request.
        ("eva", ItemWithdraw { id: "i-ladder".into() }.into()),
        ("dan", order("o-dan", 2).into()),
        ("ben", OrderConfirm { id: "o-dan".into() }.into()),
        ("dan", message("m-order", ThreadKind::Order, "o-dan", "Can I come at noon?").into()),
        ("ben", OrderReady { id: "o-dan".into() }.into()),
        ("ben", OrderCollect { id: "o-dan".into() }.into()),
        ("fred", order("o-fred", 3).into()),
        ("ben", OrderConfirm { id: "o-fred".into() }.into()),
        ("ana", ask("f-ana", "Water my plants").into()),
        ("cleo", FavourRef { id: "f-ana".into() }.into()),
        ("ana", message("m-fav", ThreadKind::Favour, "f-ana", "The key is under the mat.").into()),
        ("cleo", message("m-fav2", ThreadKind::Favour, "f-ana", "Got it.").into()),
        ("cleo", FavourComplete { id: "f-ana".into() }.into()),
        ("ana", FavourThank { id: "f-ana".into(), note: "Merci !".into() }.into()),
        ("eva", ask("f-eva", "Feed my cat").into()),
        ("fred", FavourRef { id: "f-eva".into() }.into()),
        ("fred", message("m-fav3", ThreadKind::Favour, "f-eva", "On my way.").into()),
        // Fred leaves: his promise is open again, his order gives its apples back, his loans and
        // messages go.
        ("fred", MemberLeave {}.into()),
        // Ana removes Dan: his order and its thread go.
        ("ana", MemberRemove { member_id: "dan".into() }.into()),
        (
            "fred",
            MemberJoin { invitation_id: "inv-sv".into(), code: CODE_SV.into(), display_name: "Fred".into() }
                .into(),
        ),
    ];
    for (person, op) in script {
        let name = op.name();
        assert!(world.step(person, op).await, "{name} by {person} in the prologue");
    }
    // A removed member cannot come back.
    let back =
        MemberJoin { invitation_id: "inv-sv".into(), code: CODE_SV.into(), display_name: "Dan".into() };
    assert!(!world.step("dan", back.into()).await);
    world.counts.clear();
}

async fn the_servers_state_agrees_with_memory_state(db: Db) {
    let mut totals: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    for seed in [0x5eed_0001_u64, 0x9e37_79b9_7f4a_7c15] {
        let world = history(db, seed, 300).await;
        for (name, (applied, rejected)) in world.counts {
            let total = totals.entry(name).or_default();
            total.0 += applied;
            total.1 += rejected;
        }
    }
    // The random steps went beyond the prologue: many applied, many refused, of every kind.
    let (all_applied, all_rejected): (usize, usize) =
        totals.values().fold((0, 0), |(a, r), (x, y)| (a + x, r + y));
    assert!(
        all_applied >= 150 && all_rejected >= 150,
        "{all_applied} applied, {all_rejected} rejected: {totals:?}"
    );
    let applied_kinds = totals.values().filter(|(applied, _)| *applied > 0).count();
    assert!(applied_kinds >= 25, "only {applied_kinds} kinds of mutation applied: {totals:?}");
}

on_both_backends!(the_servers_state_agrees_with_memory_state,);
