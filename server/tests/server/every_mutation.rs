//! The authorization matrix over every mutation name: six roles (a stranger, a member, the trader and
//! the moderator of Aligre, a member of Belleville only, a member removed from Aligre) × every name of
//! `Op::NAMES`, each acting on things of their own per role (Bob's favours and items, Chloé's loans and
//! pre-orders, Tom's stall), every cell asserted. Then mass assignment: server-managed fields set by a
//! client are refused with a 400 that names them.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::sync::protocol::Outcome;
use reqwest::StatusCode;

const ROLES: [&str; 6] = ["stranger", "member", "trader", "moderator", "member of B", "removed"];

/// The expected outcome of each name for each role of [`ROLES`]: `ok` (applied) or a reason code.
const EXPECTED: &[(&str, [&str; 6])] = &[
    ("neighbourhood.create", ["ok", "ok", "ok", "ok", "ok", "ok"]),
    ("neighbourhood.edit", ["not_member", "forbidden", "forbidden", "ok", "not_member", "not_member"]),
    ("invitation.create", ["not_member", "ok", "ok", "ok", "not_member", "not_member"]),
    ("invitation.revoke", ["not_member", "forbidden", "forbidden", "ok", "not_member", "not_member"]),
    ("member.update_profile", ["not_member", "ok", "ok", "ok", "not_member", "not_member"]),
    ("member.set_role", ["not_member", "forbidden", "forbidden", "ok", "not_member", "not_member"]),
    ("member.remove", ["not_member", "forbidden", "forbidden", "ok", "not_member", "not_member"]),
    ("favour.post", ["not_member", "ok", "ok", "ok", "not_member", "not_member"]),
    ("favour.edit", ["not_member", "forbidden", "forbidden", "forbidden", "not_member", "not_member"]),
    ("favour.promise", ["not_member", "ok", "ok", "ok", "not_member", "not_member"]),
    ("favour.withdraw", ["not_member", "forbidden", "forbidden", "forbidden", "not_member", "not_member"]),
    ("favour.complete", ["not_member", "forbidden", "forbidden", "forbidden", "not_member", "not_member"]),
    ("favour.thank", ["not_member", "forbidden", "forbidden", "forbidden", "not_member", "not_member"]),
    ("favour.cancel", ["not_member", "forbidden", "forbidden", "forbidden", "not_member", "not_member"]),
    ("item.add", ["not_member", "ok", "ok", "ok", "not_member", "not_member"]),
    ("item.edit", ["not_member", "forbidden", "forbidden", "forbidden", "not_member", "not_member"]),
    ("item.withdraw", ["not_member", "forbidden", "forbidden", "forbidden", "not_member", "not_member"]),
    ("item.relist", ["not_member", "forbidden", "forbidden", "forbidden", "not_member", "not_member"]),
    ("loan.request", ["not_member", "ok", "ok", "ok", "not_member", "not_member"]),
    ("loan.approve", ["not_member", "forbidden", "forbidden", "forbidden", "not_member", "not_member"]),
    ("loan.decline", ["not_member", "forbidden", "forbidden", "forbidden", "not_member", "not_member"]),
    ("loan.cancel", ["not_member", "forbidden", "forbidden", "forbidden", "not_member", "not_member"]),
    ("loan.hand_over", ["not_member", "forbidden", "forbidden", "forbidden", "not_member", "not_member"]),
    ("loan.return", ["not_member", "forbidden", "forbidden", "forbidden", "not_member", "not_member"]),
    ("stall.open", ["not_member", "forbidden", "ok", "ok", "not_member", "not_member"]),
    ("stall.edit", ["not_member", "forbidden", "ok", "forbidden", "not_member", "not_member"]),
    ("product.add", ["not_member", "forbidden", "ok", "forbidden", "not_member", "not_member"]),
    ("product.edit", ["not_member", "forbidden", "ok", "forbidden", "not_member", "not_member"]),
    ("product.set_price", ["not_member", "forbidden", "ok", "forbidden", "not_member", "not_member"]),
    (
        "product.set_available_today",
        ["not_member", "forbidden", "ok", "forbidden", "not_member", "not_member"],
    ),
    ("product.adjust_stock", ["not_member", "forbidden", "ok", "forbidden", "not_member", "not_member"]),
    ("product.stocktake", ["not_member", "forbidden", "ok", "forbidden", "not_member", "not_member"]),
    ("product.remove", ["not_member", "forbidden", "ok", "forbidden", "not_member", "not_member"]),
    ("order.place", ["not_member", "ok", "forbidden", "ok", "not_member", "not_member"]),
    ("order.confirm", ["not_member", "forbidden", "ok", "forbidden", "not_member", "not_member"]),
    ("order.decline", ["not_member", "forbidden", "ok", "forbidden", "not_member", "not_member"]),
    ("order.ready", ["not_member", "forbidden", "ok", "forbidden", "not_member", "not_member"]),
    ("order.collect", ["not_member", "forbidden", "ok", "forbidden", "not_member", "not_member"]),
    ("order.cancel", ["not_member", "forbidden", "forbidden", "forbidden", "not_member", "not_member"]),
    ("message.send", ["not_member", "forbidden", "forbidden", "forbidden", "not_member", "not_member"]),
    // Near the end, as it makes outsiders members (they know a code).
    ("member.join", ["ok", "already_exists", "already_exists", "already_exists", "ok", "forbidden"]),
    // Last, once every role has had every other row (a trader who leaves takes the stalls along): it
    // ends the role's membership. Outsiders who joined above are members by now.
    ("member.leave", ["ok", "ok", "ok", "ok", "ok", "not_member"]),
];

fn day(offset: i64) -> Day {
    Day::of_instant(now_ms() + offset * DAY_MS, 0)
}

fn open_ask(id: &str) -> FavourPost {
    ask(id, "Feed the cat")
}

/// The operation named `name` for role suffix `r`, on that role's fixtures.
fn op_for(name: &str, r: &str) -> Op {
    let id = |what: &str| format!("{what}-{r}");
    let s = String::from;
    match name {
        "neighbourhood.create" => found("Elsewhere", "Someone").into(),
        "neighbourhood.edit" => NeighbourhoodEdit { name: s("Aligre!"), description: s("") }.into(),
        "invitation.create" => invitation(&id("new-inv"), "fig 7", 2).into(),
        "invitation.revoke" => InvitationRevoke { id: id("inv") }.into(),
        "member.join" => {
            MemberJoin { invitation_id: id("inv-join"), code: id("join code"), display_name: s("X") }.into()
        }
        "member.update_profile" => {
            MemberUpdateProfile { display_name: s("Me"), bio: s(""), skills: vec![], cell: None }.into()
        }
        "member.set_role" => MemberSetRole { member_id: id("victim"), role: Role::Trader }.into(),
        "member.remove" => MemberRemove { member_id: id("victim") }.into(),
        "member.leave" => MemberLeave {}.into(),
        "favour.post" => open_ask(&id("new-fav")).into(),
        "favour.edit" => FavourEdit {
            id: id("fav-edit"),
            title: s("Mine now"),
            details: s(""),
            category: s("garden"),
            window: None,
        }
        .into(),
        "favour.promise" => FavourRef { id: id("fav-promise") }.into(),
        "favour.withdraw" => FavourWithdraw { id: id("fav-promised") }.into(),
        "favour.complete" => FavourComplete { id: id("fav-promised") }.into(),
        "favour.thank" => FavourThank { id: id("fav-done"), note: s("thanks") }.into(),
        "favour.cancel" => FavourCancel { id: id("fav-cancel") }.into(),
        "item.add" => item(&id("new-item"), "Ladder").into(),
        "item.edit" => ItemEdit {
            id: id("item"),
            title: s("Mine"),
            description: s(""),
            category: s("tools"),
            condition: Condition::Worn,
            deposit_note: s(""),
        }
        .into(),
        "item.withdraw" => ItemWithdraw { id: id("item") }.into(),
        "item.relist" => ItemRelist { id: id("item-withdrawn") }.into(),
        "loan.request" => LoanRequest {
            id: id("new-loan"),
            item_id: id("item"),
            first_day: day(20),
            last_day: day(21),
            note: s(""),
        }
        .into(),
        "loan.approve" => LoanApprove { id: id("loan-requested") }.into(),
        "loan.decline" => LoanDecline { id: id("loan-requested"), reason: s("no") }.into(),
        "loan.cancel" => LoanCancel { id: id("loan-requested") }.into(),
        "loan.hand_over" => LoanHandOver { id: id("loan-approved") }.into(),
        "loan.return" => LoanReturn { id: id("loan-handed") }.into(),
        "stall.open" => stall(&id("new-stall")).into(),
        "stall.edit" => StallEdit(stall(&id("stall"))).into(),
        "product.add" => product(&id("new-product"), &id("stall")).into(),
        "product.edit" => ProductEdit { id: id("product"), name: s("Pears"), unit: s("kg") }.into(),
        "product.set_price" => ProductSetPrice { id: id("product"), price_cents: 1 }.into(),
        "product.set_available_today" => {
            ProductSetAvailableToday { id: id("product"), available: false }.into()
        }
        "product.adjust_stock" => ProductAdjustStock { id: id("product"), delta: -1 }.into(),
        "product.stocktake" => ProductStocktake { id: id("product"), count: 50 }.into(),
        "product.remove" => ProductRemove { id: id("product-spare") }.into(),
        "order.place" => order(&id("new-order"), &id("stall"), &id("product")).into(),
        "order.confirm" => OrderConfirm { id: id("order-placed") }.into(),
        "order.decline" => OrderDecline { id: id("order-placed"), reason: s("closed") }.into(),
        "order.ready" => OrderReady { id: id("order-confirmed") }.into(),
        "order.collect" => OrderCollect { id: id("order-ready") }.into(),
        "order.cancel" => OrderCancel { id: id("order-placed") }.into(),
        "message.send" => {
            message(&id("new-msg"), ThreadKind::Favour, &id("fav-promised"), "Let me in").into()
        }
        other => panic!("no operation in the matrix for {other}: add it"),
    }
}

fn stall(id: &str) -> StallOpen {
    StallOpen {
        id: id.into(),
        name: "Greens".into(),
        market: "Aligre".into(),
        days: vec![6],
        opens_min: 480,
        closes_min: 780,
        place: "north row".into(),
        cell: None,
    }
}

fn product(id: &str, stall: &str) -> ProductAdd {
    ProductAdd {
        id: id.into(),
        stall_id: stall.into(),
        name: "Apples".into(),
        unit: "kg".into(),
        price_cents: 300,
        stock: 100,
        available_today: true,
    }
}

fn order(id: &str, stall: &str, product: &str) -> OrderPlace {
    OrderPlace {
        id: id.into(),
        stall_id: stall.into(),
        lines: vec![OrderLine { product_id: product.into(), quantity: 1 }],
        pickup_day: Some(day(3)),
        note: String::new(),
    }
}

async fn every_mutation_name_by_every_role(db: Db) {
    let server = TestServer::start(db).await;
    let mut h = hood(&server).await;
    let aligre = h.nid.clone();
    let mut chloe = server.register("chloe").await;
    server.join(&chloe, CODE, "Chloé").await;

    // Outsiders: Rémi (removed), Béa (Belleville only), Zed (nothing).
    let remi = server.register("remi").await;
    server.join(&remi, CODE, "Rémi").await;
    server.act(&mut h.mona, &aligre, MemberRemove { member_id: "remi".into() }).await;
    let mut yves = server.register("yves").await;
    server.act(&mut yves, "belleville", found("Belleville", "Yves")).await;
    server.act(&mut yves, "belleville", invitation("inv-b", "belleville code", 5)).await;
    let bea = server.register("bea").await;
    server.join(&bea, "belleville code", "Béa").await;
    let zed = server.register("zed").await;

    let names: Vec<&str> = EXPECTED.iter().map(|(name, _)| *name).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    let mut all = Op::NAMES.to_vec();
    all.sort_unstable();
    assert_eq!(sorted, all, "the matrix has a row for every mutation name, once");

    // Fixtures, per role: Bob's, Chloé's and Tom's things for the role to act on.
    for r in 0..ROLES.len() {
        let id = |what: &str| format!("{what}-{r}");
        let bob = &mut h.bob;
        server.act(bob, &aligre, invitation(&id("inv"), &id("bob code"), 1)).await;
        server.act(bob, &aligre, invitation(&id("inv-join"), &id("join code"), 10)).await;
        for favour in ["fav-edit", "fav-promise", "fav-cancel", "fav-promised", "fav-done"] {
            server.act(bob, &aligre, open_ask(&id(favour))).await;
        }
        for favour in ["fav-promised", "fav-done"] {
            server.act(&mut chloe, &aligre, FavourRef { id: id(favour) }).await;
        }
        server.act(bob, &aligre, FavourComplete { id: id("fav-done") }).await;
        server.act(bob, &aligre, item(&id("item"), "Drill")).await;
        server.act(bob, &aligre, item(&id("item-withdrawn"), "Saw")).await;
        server.act(bob, &aligre, ItemWithdraw { id: id("item-withdrawn") }).await;
        for (loan, first) in [("loan-requested", 1), ("loan-approved", 4), ("loan-handed", 7)] {
            let request = LoanRequest {
                id: id(loan),
                item_id: id("item"),
                first_day: day(first),
                last_day: day(first + 1),
                note: String::new(),
            };
            server.act(&mut chloe, &aligre, request).await;
        }
        for loan in ["loan-approved", "loan-handed"] {
            server.act(bob, &aligre, LoanApprove { id: id(loan) }).await;
        }
        server.act(bob, &aligre, LoanHandOver { id: id("loan-handed") }).await;
        let tom = &mut h.tom;
        server.act(tom, &aligre, stall(&id("stall"))).await;
        server.act(tom, &aligre, product(&id("product"), &id("stall"))).await;
        server.act(tom, &aligre, product(&id("product-spare"), &id("stall"))).await;
        for o in ["order-placed", "order-confirmed", "order-ready"] {
            server.act(&mut chloe, &aligre, order(&id(o), &id("stall"), &id("product"))).await;
        }
        for o in ["order-confirmed", "order-ready"] {
            server.act(tom, &aligre, OrderConfirm { id: id(o) }).await;
        }
        server.act(tom, &aligre, OrderReady { id: id("order-ready") }).await;
        // A member the role may try to promote or remove.
        let victim = server.register(&id("victim")).await;
        server.join(&victim, &id("join code"), "Victim").await;
    }

    // (Made after the fixtures: a phone's copy must carry on its sequence numbers.)
    let phones = [zed, h.lea.clone(), h.tom.clone(), h.mona.clone(), bea, remi];
    // Every cell: the role's phone pushes the name's mutation; the outcome must be the expected one.
    let mut wrong = Vec::new();
    let (leave, others) = EXPECTED.split_last().unwrap();
    assert_eq!(leave.0, "member.leave");
    let mut phones: Vec<Phone> = phones.into_iter().collect();
    let cells = (0..ROLES.len())
        .flat_map(|r| others.iter().map(move |row| (r, row)))
        .chain((0..ROLES.len()).map(|r| (r, leave)));
    for (r, (name, expected)) in cells {
        let phone = &mut phones[r];
        {
            let nid = if *name == "neighbourhood.create" { format!("elsewhere-{r}") } else { aligre.clone() };
            let m = phone.mutation(&nid, op_for(name, &r.to_string()));
            let results = server.push_ok(phone, std::slice::from_ref(&m)).await;
            let got = match &results[0].outcome {
                Outcome::Applied => "ok".to_owned(),
                Outcome::Rejected { code, message } => {
                    assert!(message.len() > 10, "{name} by {}: {message:?}", ROLES[r]);
                    code.as_str().to_owned()
                }
            };
            if got != expected[r] {
                wrong.push(format!("{name} by {}: expected {}, got {got}", ROLES[r], expected[r]));
            }
        }
    }
    assert!(wrong.is_empty(), "{} cells differ:\n{}", wrong.len(), wrong.join("\n"));
}

/// Fields the server manages (owners, statuses, counters, versions), set by a client in a mutation's
/// arguments or envelope: refused as a whole push, with a 400 naming the field; nothing applied.
async fn server_managed_fields_set_by_a_client_are_refused(db: Db) {
    let server = TestServer::start(db).await;
    let mut h = hood(&server).await;
    let aligre = h.nid.clone();
    server.act(&mut h.bob, &aligre, item("drill", "Drill")).await;
    let cases: [(&str, Op, &str, serde_json::Value); 7] = [
        ("item.add", item("mine", "Ladder").into(), "owner", "mona".into()),
        ("favour.post", ask("f", "Help").into(), "status", "done".into()),
        ("favour.post", ask("f", "Help").into(), "author", "mona".into()),
        ("product.add", product("p", "s").into(), "reserved", 5.into()),
        ("invitation.create", invitation("i", "code", 1).into(), "uses", 0.into()),
        ("loan.approve", LoanApprove { id: "x".into() }.into(), "owner", "lea".into()),
        (
            "member.set_role",
            MemberSetRole { member_id: "lea".into(), role: Role::Moderator }.into(),
            "updated",
            1.into(),
        ),
    ];
    for (name, op, field, value) in cases {
        let m = h.lea.mutation(&aligre, op);
        let mut wire = serde_json::to_value(&m).unwrap();
        wire["args"][field] = value;
        let response = server
            .http
            .post(server.url("/v1/push"))
            .bearer_auth(&h.lea.token)
            .json(&serde_json::json!({ "mutations": [wire] }))
            .send()
            .await
            .unwrap();
        let message = expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        assert!(message.contains(field), "{name} with {field}: {message}");
        h.lea.seq -= 1; // refused whole: the sequence number is still free
    }
    // In the envelope: a server version or an applied flag.
    for field in ["server_version", "applied", "owner"] {
        let m = h.lea.mutation(&aligre, ask("g", "Help"));
        let mut wire = serde_json::to_value(&m).unwrap();
        wire[field] = 1.into();
        let response = server
            .http
            .post(server.url("/v1/push"))
            .bearer_auth(&h.lea.token)
            .json(&serde_json::json!({ "mutations": [wire] }))
            .send()
            .await
            .unwrap();
        let message = expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        assert!(message.contains(field), "envelope {field}: {message}");
        h.lea.seq -= 1;
    }
    // Nothing got in: Léa's next mutation is still her first after joining, and the drill is Bob's.
    let results = server.push_ok(&h.lea, &[h.lea.clone().mutation(&aligre, ask("h", "Help"))]).await;
    assert_eq!(results[0].outcome, Outcome::Applied);
    let replica = server.replica(&h.mona, &aligre).await;
    match replica.get(EntityKind::Item, "drill") {
        Some(Entity::Item(drill)) => assert_eq!(drill.owner, "bob"),
        other => panic!("{other:?}"),
    }
    assert!(!replica.has(EntityKind::Item, "mine"));
}

on_both_backends!(every_mutation_name_by_every_role, server_managed_fields_set_by_a_client_are_refused);
