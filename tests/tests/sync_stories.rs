//! Neighbours act offline, then sync with a real server in various orders: every device converges to
//! the same state, the rules still hold, and nothing written is lost.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::store::{LoanFilter, Page};
use quartier_e2e::fixtures::{self, product, stall};
use quartier_e2e::{Device, TestServer};

/// Alice founds Aligre and invites Bob and Chloé, who join through the server.
async fn neighbourhood(server: &TestServer) -> (String, Device, Device, Device) {
    let alice = Device::new(server, "alice").await;
    let nid = quartier_core::store::new_id();
    alice.act(&nid, fixtures::neighbourhood("Aligre", "Alice")).unwrap();
    let invitation = alice.store.invite(&nid, 2, 86_400_000).unwrap();
    alice.sync().await;
    let bob = Device::new(server, "bob").await;
    let chloe = Device::new(server, "chloe").await;
    let joined = bob.client.join(&invitation.code, "Bob").await.unwrap();
    assert_eq!(
        (joined.neighbourhood_id.as_str(), joined.neighbourhood_name.as_str()),
        (nid.as_str(), "Aligre")
    );
    chloe.client.join(&invitation.code, "Chloé").await.unwrap();
    alice.sync().await;
    (nid, alice, bob, chloe)
}

/// Each device holds exactly what the server lets its person read of the neighbourhood.
fn assert_like_the_server(server: &TestServer, nid: &str, devices: &[&Device]) {
    for device in devices {
        let person = device.store.identity().person_id.clone();
        assert_eq!(
            device.replica(nid),
            server.visible_to(nid, &person),
            "{} differs from the server",
            device.name
        );
        assert_eq!(device.store.pending_count().unwrap(), 0, "{} still has changes to send", device.name);
    }
}

fn favour(id: &str, kind: FavourKind, title: &str) -> FavourPost {
    FavourPost {
        id: id.into(),
        kind,
        title: title.into(),
        details: String::new(),
        category: "garden".into(),
        window: None,
        cell: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_neighbours_act_offline_and_converge_in_any_order() {
    let server = TestServer::start().await;
    let (nid, alice, bob, chloe) = neighbourhood(&server).await;

    alice.act(&nid, favour("water", FavourKind::Ask, "Water my plants on Saturday")).unwrap();
    bob.act(&nid, favour("bikes", FavourKind::Offer, "I can fix bikes")).unwrap();
    chloe
        .act(
            &nid,
            ItemAdd {
                id: "ladder".into(),
                title: "Échelle 3 m".into(),
                description: String::new(),
                category: "diy".into(),
                condition: Condition::Good,
                deposit_note: String::new(),
                cell: None,
            },
        )
        .unwrap();
    for device in [&chloe, &alice, &bob, &chloe, &alice] {
        device.sync().await;
    }
    // Bob promises Alice's ask, Chloé takes up Bob's offer, each offline; then they sync the other way round.
    bob.act(&nid, FavourRef { id: "water".into() }).unwrap();
    chloe.act(&nid, FavourRef { id: "bikes".into() }).unwrap();
    for device in [&bob, &chloe, &alice, &bob, &chloe] {
        device.sync().await;
    }
    let reference = alice.shared_replica(&nid);
    assert_eq!(bob.shared_replica(&nid), reference);
    assert_eq!(chloe.shared_replica(&nid), reference);
    let water = reference.iter().find_map(|e| match e {
        Entity::Favour(f) if f.id == "water" => Some(f.clone()),
        _ => None,
    });
    let water = water.unwrap();
    assert_eq!((water.status, water.counterpart.as_deref()), (FavourStatus::Promised, Some("bob")));
    for device in [&alice, &bob, &chloe] {
        assert_eq!(device.store.pending_count().unwrap(), 0, "{} still has changes to send", device.name);
    }

    // A thread is between its two parties: Chloé never receives what Alice and Bob say.
    alice
        .act(
            &nid,
            MessageSend {
                id: "m1".into(),
                thread: ThreadRef { kind: ThreadKind::Favour, id: "water".into() },
                body: "The key is under the mat".into(),
            },
        )
        .unwrap();
    for device in [&alice, &bob, &chloe] {
        device.sync().await;
    }
    let has_message =
        |d: &Device| d.replica(&nid).iter().any(|e| matches!(e, Entity::Message(m) if m.id == "m1"));
    assert!(has_message(&alice) && has_message(&bob));
    assert!(!has_message(&chloe), "a message reached someone outside its thread");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_neighbours_ask_for_the_same_drill_on_the_same_days() {
    let server = TestServer::start().await;
    let (nid, alice, bob, chloe) = neighbourhood(&server).await;
    alice
        .act(
            &nid,
            ItemAdd {
                id: "drill".into(),
                title: "Perceuse".into(),
                description: String::new(),
                category: "diy".into(),
                condition: Condition::Good,
                deposit_note: String::new(),
                cell: None,
            },
        )
        .unwrap();
    alice.sync().await;
    bob.sync().await;
    chloe.sync().await;

    let today = Day::of_instant(alice.store.now_ms(), 0);
    let request = |id: &str| LoanRequest {
        id: id.into(),
        item_id: "drill".into(),
        first_day: today.plus_days(5),
        last_day: today.plus_days(6),
        note: String::new(),
    };
    // Both ask offline for the same weekend; both requests stand until the owner decides.
    bob.act(&nid, request("bob-loan")).unwrap();
    chloe.act(&nid, request("chloe-loan")).unwrap();
    chloe.sync().await;
    bob.sync().await;
    alice.sync().await;
    alice.act(&nid, LoanApprove { id: "bob-loan".into() }).unwrap();
    // The owner cannot approve the other one too: refused at once, on her phone.
    let refused = alice.act(&nid, LoanApprove { id: "chloe-loan".into() }).unwrap_err();
    assert!(
        refused.to_string().contains("no longer") || refused.to_string().contains("cannot be approved"),
        "{refused}"
    );
    alice.sync().await;
    chloe.sync().await;
    bob.sync().await;

    let chloes = chloe
        .store
        .loans(&nid, &LoanFilter { borrower: Some("chloe".into()), ..LoanFilter::default() }, Page::default())
        .unwrap();
    assert_eq!(chloes[0].loan.status, LoanStatus::Declined);
    assert_eq!(chloes[0].loan.decline_reason.as_deref(), Some("Perceuse was lent to Bob in the meantime."));
    let inbox = chloe.store.inbox(&nid, chloe.store.now_ms(), 0).unwrap();
    assert!(inbox.iter().any(|e| e.body.contains("lent to Bob in the meantime")), "{inbox:?}");
    let bobs = bob.store.loan_calendar(&nid, "drill").unwrap();
    assert_eq!(bobs.len(), 1);
    assert_eq!(bobs[0].borrower, "bob");
    assert_eq!(alice.shared_replica(&nid), chloe.shared_replica(&nid));
    assert_eq!(alice.shared_replica(&nid), bob.shared_replica(&nid));
    assert_like_the_server(&server, &nid, &[&alice, &bob, &chloe]);
}

/// Tom the trader keeps a stall with his phone and his tablet; Bob is a customer.
async fn market(server: &TestServer) -> (String, Device, Device, Device) {
    let (nid, alice, bob, _chloe) = neighbourhood(server).await;
    let tom = Device::new(server, "tom").await;
    let invitation = alice.store.invite(&nid, 1, 86_400_000).unwrap();
    alice.sync().await;
    tom.client.join(&invitation.code, "Tom").await.unwrap();
    alice.sync().await;
    alice.act(&nid, MemberSetRole { member_id: "tom".into(), role: Role::Trader }).unwrap();
    alice.sync().await;
    tom.sync().await;
    tom.act(&nid, stall("stall", "Les Vergers de Tom")).unwrap();
    tom.act(&nid, product("radish", "stall", "Radis", 3)).unwrap();
    tom.sync().await;
    let tablet = tom.link("tom-tablet").await;
    tablet.sync().await;
    bob.sync().await;
    (nid, tom, tablet, bob)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_radishes_sold_on_the_phone_while_the_tablet_confirms_a_pre_order() {
    let server = TestServer::start().await;
    let (nid, phone, tablet, bob) = market(&server).await;
    assert_eq!(tablet.product(&nid, "radish").stock, 3, "the tablet has the stall through its link");
    bob.act(
        &nid,
        OrderPlace {
            id: "bobs-order".into(),
            stall_id: "stall".into(),
            lines: vec![OrderLine { product_id: "radish".into(), quantity: 1 }],
            pickup_day: None,
            note: String::new(),
        },
    )
    .unwrap();
    bob.sync().await;
    tablet.sync().await;
    // At the stall, with no signal: the phone sells the last three bunches; the tablet confirms
    // Bob's pre-order for one of them. Each is right on its own device.
    phone.act(&nid, ProductAdjustStock { id: "radish".into(), delta: -3 }).unwrap();
    tablet.act(&nid, OrderConfirm { id: "bobs-order".into() }).unwrap();
    assert_eq!(phone.product(&nid, "radish").stock, 0);
    assert_eq!(tablet.product(&nid, "radish").reserved, 1);
    // The tablet reaches the server first: the reservation stands, and the phone's sale cannot.
    tablet.sync().await;
    let report = phone.sync().await;
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert_eq!(report.rejected[0].code, "insufficient_stock");
    assert!(report.rejected[0].message.contains("reserved for pre-orders"), "{:?}", report.rejected[0]);
    let inbox = phone.store.inbox(&nid, phone.store.now_ms(), 0).unwrap();
    assert!(inbox.iter().any(|e| e.kind.as_str() == "rejected"), "the trader is told: {inbox:?}");
    tablet.sync().await;
    bob.sync().await;
    for device in [&phone, &tablet, &bob] {
        let p = device.product(&nid, "radish");
        assert_eq!((p.stock, p.reserved), (3, 1), "{} sees no overselling", device.name);
    }
    assert_eq!(phone.shared_replica(&nid), tablet.shared_replica(&nid));
    assert_eq!(phone.shared_replica(&nid), bob.shared_replica(&nid));
    assert_like_the_server(&server, &nid, &[&phone, &tablet, &bob]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_changed_on_both_devices_keeps_the_newest_whatever_reaches_the_server_first() {
    let server = TestServer::start().await;
    let (nid, phone, tablet, bob) = market(&server).await;
    tablet.act(&nid, ProductSetPrice { id: "radish".into(), price_cents: 180 }).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    phone.act(&nid, ProductSetPrice { id: "radish".into(), price_cents: 200 }).unwrap();
    // Stock moves on both devices add up, whatever the order.
    phone.act(&nid, ProductAdjustStock { id: "radish".into(), delta: 10 }).unwrap();
    tablet.act(&nid, ProductAdjustStock { id: "radish".into(), delta: -2 }).unwrap();
    phone.sync().await;
    tablet.sync().await;
    phone.sync().await;
    bob.sync().await;
    for device in [&phone, &tablet, &bob] {
        let p = device.product(&nid, "radish");
        assert_eq!((p.price_cents, p.stock), (200, 11), "{}: the newest price, and 3 + 10 - 2", device.name);
    }
    assert_like_the_server(&server, &nid, &[&phone, &tablet, &bob]);
}

/// The same story, with the older price reaching the server first this time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_changed_on_both_devices_keeps_the_newest_when_the_older_arrives_first() {
    let server = TestServer::start().await;
    let (nid, phone, tablet, bob) = market(&server).await;
    tablet.act(&nid, ProductSetPrice { id: "radish".into(), price_cents: 180 }).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    phone.act(&nid, ProductSetPrice { id: "radish".into(), price_cents: 200 }).unwrap();
    tablet.sync().await;
    assert_eq!(bob.product(&nid, "radish").price_cents, 150, "Bob has not synced yet");
    bob.sync().await;
    assert_eq!(bob.product(&nid, "radish").price_cents, 180, "the tablet's price, for now");
    phone.sync().await;
    tablet.sync().await;
    bob.sync().await;
    for device in [&phone, &tablet, &bob] {
        assert_eq!(device.product(&nid, "radish").price_cents, 200, "{}: the newest price", device.name);
    }
    assert_like_the_server(&server, &nid, &[&phone, &tablet, &bob]);
}

/// Three neighbours act offline, two of them taking up the same favour, then sync in each of the six
/// orders (on a server of its own each time): every device ends exactly like the server, the first
/// to reach it gets the favour, and the other is told, with nothing else lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_device_ends_like_the_server_whatever_order_they_sync_in() {
    for order in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
        let server = TestServer::start().await;
        let (nid, alice, bob, chloe) = neighbourhood(&server).await;
        alice.act(&nid, favour("water", FavourKind::Ask, "Water my plants on Saturday")).unwrap();
        alice.sync().await;
        bob.sync().await;
        chloe.sync().await;
        // Offline, all three.
        bob.act(&nid, FavourRef { id: "water".into() }).unwrap();
        chloe.act(&nid, FavourRef { id: "water".into() }).unwrap();
        chloe.act(&nid, favour("bikes", FavourKind::Offer, "I can fix bikes")).unwrap();
        alice.act(&nid, favour("cat", FavourKind::Ask, "Feed my cat")).unwrap();
        bob.act(&nid, FavourRef { id: "cat".into() }).unwrap_err(); // not on Bob's device yet
        let devices = [&alice, &bob, &chloe];
        for _ in 0..2 {
            for &i in &order {
                devices[i].sync().await;
            }
        }
        assert_like_the_server(&server, &nid, &devices);
        let first = if order.iter().position(|&i| i == 1) < order.iter().position(|&i| i == 2) {
            "bob"
        } else {
            "chloe"
        };
        let water = alice.replica(&nid).into_iter().find_map(|e| match e {
            Entity::Favour(f) if f.id == "water" => Some(f),
            _ => None,
        });
        assert_eq!(water.unwrap().counterpart.as_deref(), Some(first), "order {order:?}");
        let (winner, loser) = if first == "bob" { (&bob, &chloe) } else { (&chloe, &bob) };
        assert!(winner.rejected().is_empty(), "order {order:?}");
        assert_eq!(loser.rejected().len(), 1, "order {order:?}: the other is told");
        let kept: Vec<String> = alice
            .shared_replica(&nid)
            .iter()
            .filter(|e| e.key().kind == EntityKind::Favour)
            .map(|e| e.key().id)
            .collect();
        assert_eq!(kept, ["bikes", "cat", "water"], "order {order:?}: nothing else lost");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_leaves_has_their_content_removed_on_every_device() {
    let server = TestServer::start().await;
    let (nid, alice, bob, chloe) = neighbourhood(&server).await;
    bob.act(&nid, favour("bikes", FavourKind::Offer, "I can fix bikes")).unwrap();
    bob.sync().await;
    alice.sync().await;
    chloe.sync().await;
    assert!(chloe.shared_replica(&nid).iter().any(|e| matches!(e, Entity::Favour(f) if f.id == "bikes")));
    bob.act(&nid, MemberLeave {}).unwrap();
    bob.sync().await;
    alice.sync().await;
    chloe.sync().await;
    for device in [&alice, &chloe] {
        assert!(
            !device.shared_replica(&nid).iter().any(|e| matches!(e, Entity::Favour(f) if f.id == "bikes")),
            "{} still has Bob's favour",
            device.name
        );
    }
    // Bob's own device forgets the neighbourhood: the server no longer lets him read it.
    assert!(bob.replica(&nid).is_empty(), "{:?}", bob.replica(&nid));
}
