//! Property tests: random histories from several people on several devices, in two neighbourhoods.
//!
//! Whatever the history, the invariants hold after every mutation, a refused mutation changes nothing,
//! every effect stays in the mutation's neighbourhood, replaying the accepted mutations gives the same
//! state, and last-writer-wins fields end at the newest stamp whatever order the edits arrive in.

use crate::support::*;
use proptest::prelude::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use std::collections::BTreeMap;

/// Panics unless the state keeps every invariant of the domain.
pub fn assert_invariants(state: &MemoryState) {
    let mut reserved_by_orders: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    let mut calendars: BTreeMap<(&str, &str), Vec<&Loan>> = BTreeMap::new();
    for entity in state.entities() {
        match entity {
            Entity::Order(o) if o.status.reserves_stock() => {
                for line in &o.lines {
                    *reserved_by_orders.entry((&o.neighbourhood_id, &line.product_id)).or_default() +=
                        line.quantity;
                }
            }
            Entity::Loan(l) if l.status.holds_calendar() => {
                calendars.entry((&l.neighbourhood_id, &l.item_id)).or_default().push(l);
            }
            Entity::Favour(f)
                if matches!(
                    f.status,
                    FavourStatus::Promised | FavourStatus::Done | FavourStatus::Thanked
                ) =>
            {
                let counterpart = f.counterpart.as_deref();
                assert!(
                    counterpart.is_some_and(|c| c != f.author),
                    "favour {} is {:?} with counterpart {counterpart:?}",
                    f.id,
                    f.status
                );
            }
            _ => {}
        }
    }
    for entity in state.entities() {
        if let Entity::Product(p) = entity {
            assert!(
                0 <= p.reserved && p.reserved <= p.stock,
                "product {}: stock {} reserved {}",
                p.id,
                p.stock,
                p.reserved
            );
            let held = reserved_by_orders.remove(&(p.neighbourhood_id.as_str(), p.id.as_str())).unwrap_or(0);
            assert_eq!(
                p.reserved, held,
                "product {} reserves {} but its orders hold {held}",
                p.id, p.reserved
            );
        }
    }
    assert!(
        reserved_by_orders.is_empty(),
        "orders hold stock of products that are gone: {reserved_by_orders:?}"
    );
    for ((_, item), loans) in calendars {
        for (i, a) in loans.iter().enumerate() {
            for b in &loans[i + 1..] {
                assert!(
                    !a.overlaps(b.first_day, b.last_day),
                    "loans {} and {} of {item} overlap",
                    a.id,
                    b.id
                );
            }
        }
    }
}

const PEOPLE: [&str; 7] = [MONA, LEA, BOB, CHLOE, TOM, ZED, "yann"];
/// Who acts, when anyone may: mostly members, now and then a stranger.
const WHO: [&str; 12] = [MONA, MONA, LEA, LEA, BOB, BOB, CHLOE, CHLOE, TOM, TOM, ZED, "yann"];
const BELLEVILLE: &str = "belleville";

/// Aligre with Tom's stall, Chloé a trader too, and a few favours, loans and pre-orders under way;
/// Belleville, founded by Bob with Léa, Chloé and Tom, with a stall and an item.
fn start() -> Hood {
    let mut h = Hood::new();
    with_stall(&mut h);
    h.ok(MONA, MemberSetRole { member_id: CHLOE.into(), role: Role::Trader });
    h.ok(LEA, ask("f-lea", "Water my plants"));
    h.ok(BOB, ask("f-bob", "Feed my cat"));
    h.ok(CHLOE, FavourRef { id: "f-bob".into() });
    h.ok(CHLOE, offer("f-chloe", "Bike repairs"));
    h.ok(BOB, item("drill", "Drill"));
    h.ok(LEA, item("ladder", "Ladder"));
    h.ok(LEA, loan("l-lea", "drill", 1, 3));
    h.ok(CHLOE, loan("l-chloe", "ladder", 2, 4));
    h.ok(LEA, LoanApprove { id: "l-chloe".into() });
    h.ok(LEA, order("o-lea", "stall-1", &[("apples", 2)]));
    h.ok(BOB, order("o-bob", "stall-1", &[("pears", 3), ("apples", 1)]));
    h.ok(TOM, OrderConfirm { id: "o-bob".into() });

    h.found(BELLEVILLE, BOB, "Bob");
    h.invite(BOB, "inv-1", CODE, 10);
    for (who, name) in [(LEA, "Léa"), (CHLOE, "Chloé"), (TOM, "Tom")] {
        h.join(who, "inv-1", CODE, name);
    }
    h.ok(BOB, MemberSetRole { member_id: TOM.into(), role: Role::Trader });
    h.ok(BOB, stall("b-stall", "Bob's honey"));
    h.ok(BOB, product("honey", "b-stall", "honey", 10));
    h.ok(LEA, item("b-item", "Tent"));
    h.ok(CHLOE, ask("b-fav", "Walk my dog"));
    h
}

/// One random step: in which neighbourhood, who, on which device, what, with which numbers, how much later.
type Step = (u8, usize, u8, usize, usize, usize, i64, i64);

fn step() -> impl Strategy<Value = Step> {
    (0..4u8, 0..WHO.len(), 0..2u8, 0..KINDS.len(), 0..64usize, 0..64usize, 0..40i64, 0..90i64)
}

/// The operations to draw from; the common ones several times, leaving and removal once.
const KINDS: &[&str] = &[
    "favour.post",
    "favour.post",
    "favour.edit",
    "favour.promise",
    "favour.promise",
    "favour.withdraw",
    "favour.complete",
    "favour.complete",
    "favour.thank",
    "favour.cancel",
    "item.add",
    "item.add",
    "item.edit",
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
    "stall.edit",
    "product.add",
    "product.add",
    "product.edit",
    "product.set_price",
    "product.set_available_today",
    "product.adjust_stock",
    "product.adjust_stock",
    "product.stocktake",
    "product.remove",
    "order.place",
    "order.place",
    "order.place",
    "order.confirm",
    "order.confirm",
    "order.decline",
    "order.ready",
    "order.collect",
    "order.collect",
    "order.cancel",
    "message.send",
    "message.send",
    "invitation.create",
    "invitation.revoke",
    "member.join",
    "member.join",
    "member.update_profile",
    "member.set_role",
    "member.leave",
    "member.remove",
    "neighbourhood.edit",
];

/// What a neighbourhood holds, for steps to act on.
#[derive(Default)]
struct Held<'a> {
    favours: Vec<&'a Favour>,
    items: Vec<&'a Item>,
    loans: Vec<&'a Loan>,
    stalls: Vec<&'a Stall>,
    products: Vec<&'a Product>,
    orders: Vec<&'a Order>,
    invitations: Vec<&'a Invitation>,
    moderators: Vec<&'a str>,
}

impl<'a> Held<'a> {
    fn of(state: &'a MemoryState, nid: &str) -> Held<'a> {
        let mut held = Held::default();
        for entity in state.entities().filter(|e| e.key().neighbourhood_id == nid) {
            match entity {
                Entity::Favour(f) => held.favours.push(f),
                Entity::Item(i) => held.items.push(i),
                Entity::Loan(l) => held.loans.push(l),
                Entity::Stall(s) => held.stalls.push(s),
                Entity::Product(p) => held.products.push(p),
                Entity::Order(o) => held.orders.push(o),
                Entity::Invitation(i) => held.invitations.push(i),
                Entity::Member(m) if m.role == Role::Moderator && m.status == MemberStatus::Active => {
                    held.moderators.push(&m.id)
                }
                _ => {}
            }
        }
        held
    }
}

fn nth<T>(list: &[T], i: usize) -> Option<&T> {
    (!list.is_empty()).then(|| &list[i % list.len()])
}

/// The `i`th of the things in a state that allows the step, if any, else the `i`th of all.
fn nth_ready<'a, T>(list: &[&'a T], i: usize, ready: impl Fn(&T) -> bool) -> Option<&'a T> {
    let ready: Vec<&T> = list.iter().copied().filter(|t| ready(t)).collect();
    nth(&ready, i).or_else(|| nth(list, i)).copied()
}

/// Who does a step, and what: mostly on something the neighbourhood holds and by the person the rules
/// expect (its owner, its trader…), sometimes by anyone, sometimes on an id that is not there.
fn plan(h: &Hood, step: &Step) -> (String, Op) {
    let &(_, who, _, kind, a, b, n, _) = step;
    let held = Held::of(&h.state, &h.nid);
    let anyone = WHO[who].to_owned();
    // One step in five is made by anyone, to meet the refusals.
    let by = |natural: Option<&str>| match natural {
        Some(person) if b % 5 != 0 => person.to_owned(),
        _ => anyone.clone(),
    };
    let fresh = |prefix: &str| format!("{prefix}{}", a % 8);
    let name = KINDS[kind];
    // Mostly something in a state that allows the step, so that long chains (promised, done, thanked)
    // are reached; the rest of the time anything, to meet the refusals.
    let choose = |b: usize| b % 3 != 0;
    let favour = match name {
        "favour.complete" | "favour.withdraw" if choose(b) => {
            nth_ready(&held.favours, a, |f| f.status == FavourStatus::Promised)
        }
        "favour.thank" if choose(b) => nth_ready(&held.favours, a, |f| f.status == FavourStatus::Done),
        _ => nth(&held.favours, a).copied(),
    };
    let favour_id = favour.map_or_else(|| fresh("f"), |f| f.id.clone());
    let item_ = match name {
        "item.relist" if choose(b) => nth_ready(&held.items, a, |i| i.withdrawn),
        _ => nth(&held.items, a).copied(),
    };
    let item_id = item_.map_or_else(|| fresh("i"), |i| i.id.clone());
    let loan_ = match name {
        "loan.approve" | "loan.decline" if choose(b) => {
            nth_ready(&held.loans, a, |l| l.status == LoanStatus::Requested)
        }
        "loan.hand_over" if choose(b) => nth_ready(&held.loans, a, |l| l.status == LoanStatus::Approved),
        "loan.return" if choose(b) => nth_ready(&held.loans, a, |l| l.status == LoanStatus::HandedOver),
        _ => nth(&held.loans, a).copied(),
    };
    let loan_id = loan_.map_or_else(|| fresh("l"), |l| l.id.clone());
    let stall_ = nth(&held.stalls, a).copied();
    let stall_id = stall_.map_or_else(|| fresh("s"), |s| s.id.clone());
    let product_ = nth(&held.products, a).copied();
    let product_id = product_.map_or_else(|| fresh("p"), |p| p.id.clone());
    let order_ = match name {
        "order.confirm" if choose(b) => nth_ready(&held.orders, a, |o| o.status == OrderStatus::Placed),
        "order.ready" | "order.collect" if choose(b) => {
            nth_ready(&held.orders, a, |o| o.status.reserves_stock())
        }
        _ => nth(&held.orders, a).copied(),
    };
    let order_id = order_.map_or_else(|| fresh("o"), |o| o.id.clone());
    let invitation = nth(&held.invitations, a).copied();
    let moderator = nth(&held.moderators, b).copied();
    match name {
        "favour.post" if b % 2 == 0 => (anyone, ask(&fresh("f"), "Water my plants").into()),
        "favour.post" => (anyone, offer(&fresh("f"), "Bike repairs").into()),
        "favour.edit" => {
            let edit = FavourEdit {
                id: favour_id,
                title: format!("Favour {n}"),
                details: String::new(),
                category: "garden".into(),
                window: None,
            };
            (by(favour.map(|f| f.author.as_str())), edit.into())
        }
        "favour.promise" => (anyone, FavourRef { id: favour_id }.into()),
        "favour.withdraw" => {
            (by(favour.and_then(|f| f.counterpart.as_deref())), FavourWithdraw { id: favour_id }.into())
        }
        "favour.complete" => {
            let party = favour
                .and_then(|f| if n % 2 == 0 { Some(f.author.as_str()) } else { f.counterpart.as_deref() });
            (by(party), FavourComplete { id: favour_id }.into())
        }
        "favour.thank" => (
            by(favour.and_then(|f| f.beneficiary())),
            FavourThank { id: favour_id, note: "Merci".into() }.into(),
        ),
        "favour.cancel" => (by(favour.map(|f| f.author.as_str())), FavourCancel { id: favour_id }.into()),
        "item.add" => (anyone, item(&fresh("i"), "Drill").into()),
        "item.edit" => {
            let edit = ItemEdit {
                id: item_id,
                title: format!("Drill {n}"),
                description: String::new(),
                category: "tools".into(),
                condition: Condition::Fair,
                deposit_note: String::new(),
            };
            (by(item_.map(|i| i.owner.as_str())), edit.into())
        }
        "item.withdraw" => (by(item_.map(|i| i.owner.as_str())), ItemWithdraw { id: item_id }.into()),
        "item.relist" => (by(item_.map(|i| i.owner.as_str())), ItemRelist { id: item_id }.into()),
        "loan.request" => {
            let first = (n % 12) as i32 - 1;
            let today = Day::of_instant(h.now, 0).days_since_epoch() - day(0).days_since_epoch();
            (anyone, loan(&fresh("l"), &item_id, today + first, today + first + (b % 5) as i32).into())
        }
        "loan.approve" => (by(loan_.map(|l| l.owner.as_str())), LoanApprove { id: loan_id }.into()),
        "loan.decline" => {
            (by(loan_.map(|l| l.owner.as_str())), LoanDecline { id: loan_id, reason: String::new() }.into())
        }
        "loan.cancel" => (by(loan_.map(|l| l.borrower.as_str())), LoanCancel { id: loan_id }.into()),
        "loan.hand_over" => (by(loan_.map(|l| l.owner.as_str())), LoanHandOver { id: loan_id }.into()),
        "loan.return" => (by(loan_.map(|l| l.owner.as_str())), LoanReturn { id: loan_id }.into()),
        "stall.open" => (anyone, stall(&fresh("s"), "A stall").into()),
        "stall.edit" => {
            (by(stall_.map(|s| s.owner.as_str())), StallEdit(stall(&stall_id, "A renamed stall")).into())
        }
        "product.add" => {
            let trader = stall_.map(|s| s.owner.as_str());
            (by(trader), product(&fresh("p"), &stall_id, "fruit", n % 30).into())
        }
        _ if name.starts_with("product.") => {
            let op: Op = match name {
                "product.edit" => {
                    ProductEdit { id: product_id, name: format!("fruit {n}"), unit: "kg".into() }.into()
                }
                "product.set_price" => ProductSetPrice { id: product_id, price_cents: n * 10 }.into(),
                "product.set_available_today" => {
                    ProductSetAvailableToday { id: product_id, available: n % 2 == 0 }.into()
                }
                "product.adjust_stock" => ProductAdjustStock { id: product_id, delta: n % 15 - 7 }.into(),
                "product.stocktake" => ProductStocktake { id: product_id, count: n % 25 }.into(),
                _ => ProductRemove { id: product_id }.into(),
            };
            (by(product_.map(|p| p.owner.as_str())), op)
        }
        "order.place" => {
            let on_stall: Vec<&str> =
                held.products.iter().filter(|p| p.stall_id == stall_id).map(|p| p.id.as_str()).collect();
            let mut lines = vec![(nth(&on_stall, b).copied().unwrap_or("p0"), 1 + n % 6)];
            if b % 3 == 0 {
                lines.push((nth(&on_stall, b + 1).copied().unwrap_or("p1"), 1 + (a % 4) as i64));
            }
            (anyone, order(&fresh("o"), &stall_id, &lines).into())
        }
        "order.cancel" => (by(order_.map(|o| o.customer.as_str())), OrderCancel { id: order_id }.into()),
        _ if name.starts_with("order.") => {
            let op: Op = match name {
                "order.confirm" => OrderConfirm { id: order_id }.into(),
                "order.decline" => OrderDecline { id: order_id, reason: String::new() }.into(),
                "order.ready" => OrderReady { id: order_id }.into(),
                _ => OrderCollect { id: order_id }.into(),
            };
            (by(order_.map(|o| o.trader.as_str())), op)
        }
        "message.send" => {
            let (thread, parties) = match b % 3 {
                0 => (
                    (ThreadKind::Favour, favour_id),
                    favour.map(|f| [f.author.as_str(), f.counterpart.as_deref().unwrap_or("")]),
                ),
                1 => ((ThreadKind::Loan, loan_id), loan_.map(|l| [l.owner.as_str(), l.borrower.as_str()])),
                _ => {
                    ((ThreadKind::Order, order_id), order_.map(|o| [o.trader.as_str(), o.customer.as_str()]))
                }
            };
            let author = by(parties.map(|p| p[n as usize % 2]));
            (author, message(&fresh("m"), thread.0, &thread.1, "Hello").into())
        }
        "invitation.create" => {
            let id = fresh("v");
            let create = InvitationCreate {
                code_hash: hash_code(&format!("code-{id}")),
                id,
                expires_at: h.now + (1 + n % 3) * DAY_MS,
                max_uses: 1 + (b % 3) as u32,
            };
            (anyone, create.into())
        }
        "invitation.revoke" => {
            let id = invitation.map_or_else(|| fresh("v"), |i| i.id.clone());
            (by(invitation.map(|i| i.created_by.as_str())), InvitationRevoke { id }.into())
        }
        "member.join" => {
            let id = invitation.map_or_else(|| fresh("v"), |i| i.id.clone());
            let code = match id.as_str() {
                _ if b % 7 == 0 => "wrong".to_owned(),
                "inv-1" => CODE.to_owned(),
                _ => format!("code-{id}"),
            };
            (anyone, join(&id, &code, "Newcomer").into())
        }
        "member.update_profile" => {
            let profile = MemberUpdateProfile {
                display_name: format!("Neighbour {n}"),
                bio: String::new(),
                skills: vec!["bikes".into()],
                cell: None,
            };
            (anyone, profile.into())
        }
        "member.set_role" => {
            let role = [Role::Member, Role::Trader, Role::Moderator][n as usize % 3];
            (by(moderator), MemberSetRole { member_id: PEOPLE[a % PEOPLE.len()].into(), role }.into())
        }
        "member.leave" => (anyone, MemberLeave {}.into()),
        "member.remove" => {
            (by(moderator), MemberRemove { member_id: PEOPLE[a % PEOPLE.len()].into() }.into())
        }
        "neighbourhood.edit" => (
            by(moderator),
            NeighbourhoodEdit { name: format!("Quartier {n}"), description: String::new() }.into(),
        ),
        other => unreachable!("no operation {other}"),
    }
}

/// Applies a random history and checks every step; returns the start and the accepted mutations.
fn run(steps: &[Step]) -> (MemoryState, Vec<(Mutation, i64)>, MemoryState) {
    let mut h = start();
    let initial = h.state.clone();
    let mut accepted = Vec::new();
    for step in steps {
        let &(hood, _, device, _, _, _, _, minutes) = step;
        h.later(minutes * 60_000);
        h.nid = if hood == 3 { BELLEVILLE } else { NID }.into();
        let (author, op) = plan(&h, step);
        // Phones are always in sync; tablets stay offline and only know their own clock.
        let m = if device == 0 {
            h.mutation_on(&author, &format!("{author}-phone"), op)
        } else {
            h.offline_on(&author, &format!("{author}-tablet"), op)
        };
        let before = h.state.clone();
        match h.apply(&m) {
            Ok(effects) => {
                for effect in &effects {
                    assert_eq!(
                        effect.key().neighbourhood_id,
                        m.neighbourhood_id,
                        "{} wrote outside",
                        m.op.name()
                    );
                }
                accepted.push((m, h.now));
            }
            Err(ApplyError::Rejected(r)) => {
                assert_eq!(h.state, before, "a refused {} changed the state", m.op.name());
                assert!(r.message.ends_with('.'), "not a sentence: {}", r.message);
            }
            Err(e) => panic!("the memory state failed: {e}"),
        }
        assert_invariants(&h.state);
    }
    (initial, accepted, h.state)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_histories_keep_the_invariants_and_replay_identically(
        steps in prop::collection::vec(step(), 1..60)
    ) {
        let (initial, accepted, end) = run(&steps);
        let mut replica = initial;
        for (m, now) in &accepted {
            prop_assert!(replica.apply(m, *now).is_ok(), "{} was accepted once, refused on replay", m.op.name());
        }
        prop_assert_eq!(replica, end);
    }
}

/// One edit of apples on one of Tom's devices, `offset_ms` after `T0`.
type Edit = (usize, i64, i64);

fn edits() -> impl Strategy<Value = (Vec<Edit>, Vec<usize>)> {
    prop::collection::vec((0..3usize, 0..5_000i64, 0..1_000i64), 1..8).prop_flat_map(|edits| {
        let order: Vec<usize> = (0..edits.len()).collect();
        (Just(edits), Just(order).prop_shuffle())
    })
}

/// The mutations for `edits`, made on Tom's devices at their times, and applied in `order`.
fn apply_edits(edits: &[Edit], order: &[usize], op: impl Fn(i64) -> Op) -> (Hood, Vec<Mutation>) {
    let mut h = Hood::new();
    with_stall(&mut h);
    let mut made: Vec<(i64, usize)> = edits.iter().enumerate().map(|(i, e)| (e.1, i)).collect();
    made.sort();
    let mut mutations = vec![None; edits.len()];
    for (offset, i) in made {
        let (device, _, value) = edits[i];
        h.now = T0 + HOUR + offset;
        mutations[i] = Some(h.mutation_on(TOM, &format!("tom-{device}"), op(value)));
    }
    let mutations: Vec<Mutation> = mutations.into_iter().map(Option::unwrap).collect();
    for &i in order {
        h.ok_m(&mutations[i]);
    }
    (h, mutations)
}

fn newest(mutations: &[Mutation]) -> usize {
    (0..mutations.len()).max_by_key(|&i| mutations[i].hlc).expect("at least one edit")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn prices_end_at_the_newest_stamp_whatever_the_arrival_order((edits, order) in edits()) {
        let set_price = |cents| Op::from(ProductSetPrice { id: "apples".into(), price_cents: cents });
        let (h, mutations) = apply_edits(&edits, &order, set_price);
        let (in_order, _) = apply_edits(&edits, &(0..edits.len()).collect::<Vec<_>>(), set_price);
        let product = h.product("apples");
        prop_assert_eq!(product.price_cents, edits[newest(&mutations)].2);
        prop_assert_eq!(product.price_hlc, mutations[newest(&mutations)].hlc);
        prop_assert_eq!(h.state, in_order.state);
    }

    #[test]
    fn names_and_availability_end_at_the_newest_stamp((edits, order) in edits()) {
        let rename = |n| Op::from(ProductEdit { id: "apples".into(), name: format!("apples {n}"), unit: "kg".into() });
        let (h, mutations) = apply_edits(&edits, &order, rename);
        prop_assert_eq!(h.product("apples").name, format!("apples {}", edits[newest(&mutations)].2));
        let available = |n: i64| Op::from(ProductSetAvailableToday { id: "apples".into(), available: n % 2 == 0 });
        let (h, mutations) = apply_edits(&edits, &order, available);
        prop_assert_eq!(h.product("apples").available_today, edits[newest(&mutations)].2 % 2 == 0);
    }

    #[test]
    fn stock_moves_add_up_whatever_the_arrival_order((edits, order) in edits()) {
        // Moves of -20..=19 (never 0), from a stock of 200: none can be refused.
        let delta = |n: i64| n % 40 - 20 + i64::from(n % 40 >= 20);
        let stocked = |n: i64| if n < 0 { Op::from(ProductStocktake { id: "apples".into(), count: 200 }) } else {
            Op::from(ProductAdjustStock { id: "apples".into(), delta: delta(n) })
        };
        let mut with_count = vec![(0, 0, -1)];
        with_count.extend(edits.iter().map(|&(d, t, v)| (d, t + 1, v)));
        let mut all_order = vec![0];
        all_order.extend(order.iter().map(|i| i + 1));
        let (h, _) = apply_edits(&with_count, &all_order, stocked);
        let sum: i64 = edits.iter().map(|e| delta(e.2)).sum();
        prop_assert_eq!(h.product("apples").stock, 200 + sum);
    }
}

/// The random histories are only worth something if they reach every operation and every refusal.
#[test]
fn random_histories_reach_every_operation_and_every_refusal() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut accepted = std::collections::BTreeSet::new();
    let mut refused = std::collections::BTreeSet::new();
    for _ in 0..128 {
        let steps = prop::collection::vec(step(), 1..60).new_tree(&mut runner).unwrap().current();
        let mut h = start();
        for step in &steps {
            let &(hood, _, _, _, _, _, _, minutes) = step;
            h.later(minutes * 60_000);
            h.nid = if hood == 3 { BELLEVILLE } else { NID }.into();
            let (author, op) = plan(&h, step);
            let m = h.mutation(&author, op);
            match h.apply(&m) {
                Ok(_) => accepted.insert(m.op.name()),
                Err(ApplyError::Rejected(r)) => refused.insert(r.code.as_str()),
                Err(e) => panic!("{e}"),
            };
        }
    }
    let never: Vec<&str> = Op::NAMES.iter().filter(|name| !accepted.contains(*name)).copied().collect();
    assert!(never.iter().all(|name| *name == "neighbourhood.create"), "never accepted: {never:?}");
    assert_eq!(refused.len(), 9, "refusals met: {refused:?}");
}
