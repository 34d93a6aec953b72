//! The market: stalls, products (last-writer-wins fields, stock moves, stocktakes) and pre-orders.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;

fn price(id: &str, cents: i64) -> ProductSetPrice {
    ProductSetPrice { id: id.into(), price_cents: cents }
}
fn adjust(id: &str, delta: i64) -> ProductAdjustStock {
    ProductAdjustStock { id: id.into(), delta }
}
fn stocktake(id: &str, count: i64) -> ProductStocktake {
    ProductStocktake { id: id.into(), count }
}
fn confirm(id: &str) -> OrderConfirm {
    OrderConfirm { id: id.into() }
}
fn stock(h: &Hood, id: &str) -> (i64, i64) {
    let p = h.product(id);
    (p.stock, p.reserved)
}
fn status(h: &Hood, id: &str) -> OrderStatus {
    h.order(id).status
}

fn market() -> Hood {
    let mut h = Hood::new();
    with_stall(&mut h);
    h
}

#[test]
fn only_traders_open_stalls() {
    let mut h = Hood::new();
    h.refuse(LEA, stall("s1", "Léa's jams"), Code::Forbidden, &["traders", "moderator"]);
    h.refuse(ZED, stall("s1", "Zed's"), Code::NotMember, &["member"]);
    h.ok(TOM, StallOpen { days: vec![7, 2, 2, 6], ..stall("s1", "Les Vergers de Tom") });
    let s = h.stall("s1");
    assert_eq!(
        (s.owner.as_str(), s.days.as_slice(), s.name.as_str()),
        (TOM, &[2, 6, 7][..], "Les Vergers de Tom")
    );
    h.refuse(TOM, stall("s1", "Again"), Code::AlreadyExists, &["stall", "s1"]);
    h.ok(MONA, MemberSetRole { member_id: LEA.into(), role: Role::Trader });
    h.ok(LEA, stall("s2", "Léa's jams"));
}

#[test]
fn a_stall_has_market_days_and_opening_hours() {
    let mut h = Hood::new();
    let s = || stall("s1", "Les Vergers de Tom");
    for days in [vec![], vec![0], vec![8], vec![1, 9]] {
        h.refuse(TOM, StallOpen { days, ..s() }, Code::Invalid, &["Market days", "1 (Monday) to 7 (Sunday)"]);
    }
    h.refuse(
        TOM,
        StallOpen { opens_min: 600, closes_min: 600, ..s() },
        Code::Invalid,
        &["close after it opens"],
    );
    h.refuse(
        TOM,
        StallOpen { opens_min: 600, closes_min: 1441, ..s() },
        Code::Invalid,
        &["close after it opens"],
    );
    h.refuse(TOM, StallOpen { name: "".into(), ..s() }, Code::Invalid, &["stall name"]);
    h.refuse(TOM, StallOpen { market: "a\nb".into(), ..s() }, Code::Invalid, &["market"]);
    h.refuse(TOM, StallOpen { place: "p".repeat(121), ..s() }, Code::Invalid, &["place"]);
    h.refuse(TOM, StallOpen { cell: Some(Cell { row: u32::MAX, col: 0 }), ..s() }, Code::Invalid, &["place"]);
    h.ok(TOM, StallOpen { opens_min: 0, closes_min: 1440, days: vec![1], ..s() });
}

#[test]
fn only_its_trader_edits_a_stall() {
    let mut h = market();
    let edit =
        StallEdit(StallOpen { place: "row C".into(), days: vec![6], ..stall("stall-1", "Tom's orchard") });
    h.refuse(LEA, edit.clone(), Code::Forbidden, &["Les Vergers de Tom"]);
    h.refuse(TOM, StallEdit(stall("s9", "x")), Code::NotFound, &["The stall"]);
    h.refuse(TOM, StallEdit(StallOpen { days: vec![], ..edit.0.clone() }), Code::Invalid, &["Market days"]);
    h.ok(TOM, edit);
    let s = h.stall("stall-1");
    assert_eq!((s.name.as_str(), s.place.as_str(), s.days.as_slice()), ("Tom's orchard", "row C", &[6][..]));
}

#[test]
fn only_its_trader_adds_products_to_a_stall() {
    let mut h = market();
    let p = h.product("apples");
    assert_eq!(
        (p.stall_id.as_str(), p.owner.as_str(), p.stock, p.reserved, p.price_cents),
        ("stall-1", TOM, 20, 0, 350)
    );
    h.refuse(LEA, product("plums", "stall-1", "plums", 5), Code::Forbidden, &["Les Vergers de Tom"]);
    h.refuse(TOM, product("plums", "s9", "plums", 5), Code::NotFound, &["The stall"]);
    h.refuse(TOM, product("apples", "stall-1", "plums", 5), Code::AlreadyExists, &["product", "apples"]);
    h.refuse(TOM, product("plums", "stall-1", "plums", -1), Code::Invalid, &["stock", "not -1"]);
    h.refuse(TOM, product("plums", "stall-1", "plums", 1_000_000_001), Code::Invalid, &["stock"]);
    h.refuse(
        TOM,
        ProductAdd { price_cents: -5, ..product("plums", "stall-1", "plums", 5) },
        Code::Invalid,
        &["price"],
    );
    h.refuse(
        TOM,
        ProductAdd { price_cents: 100_000_001, ..product("plums", "stall-1", "p", 5) },
        Code::Invalid,
        &["price"],
    );
    h.refuse(
        TOM,
        ProductAdd { unit: "Kilo".into(), ..product("plums", "stall-1", "plums", 5) },
        Code::Invalid,
        &["unit"],
    );
    h.refuse(TOM, product("plums", "stall-1", "", 5), Code::Invalid, &["product name"]);
}

#[test]
fn only_its_trader_changes_a_product_still_on_the_stall() {
    let mut h = market();
    h.refuse(LEA, price("apples", 400), Code::Forbidden, &["apples"]);
    h.refuse(LEA, adjust("apples", 1), Code::Forbidden, &["apples"]);
    h.refuse(LEA, stocktake("apples", 1), Code::Forbidden, &["apples"]);
    h.refuse(LEA, ProductRemove { id: "apples".into() }, Code::Forbidden, &["apples"]);
    h.refuse(TOM, price("plums", 400), Code::NotFound, &["The product"]);
    h.refuse(TOM, price("apples", -1), Code::Invalid, &["price"]);
    let rename =
        |name: &str, unit: &str| ProductEdit { id: "apples".into(), name: name.into(), unit: unit.into() };
    h.refuse(TOM, rename(" ", "kg"), Code::Invalid, &["product name"]);
    h.refuse(TOM, rename("Apples", "kilo gram"), Code::Invalid, &["unit"]);
    h.refuse(LEA, rename("Apples", "kg"), Code::Forbidden, &["apples"]);
    h.refuse(
        LEA,
        ProductSetAvailableToday { id: "apples".into(), available: false },
        Code::Forbidden,
        &["apples"],
    );
    h.ok(TOM, ProductRemove { id: "apples".into() });
    let p = h.product("apples");
    assert!(p.removed && !p.available_today);
    let edit = ProductEdit { id: "apples".into(), name: "Apples".into(), unit: "kg".into() };
    let available = ProductSetAvailableToday { id: "apples".into(), available: true };
    h.refuse(TOM, price("apples", 400), Code::WrongState, &["apples", "removed"]);
    h.refuse(TOM, edit, Code::WrongState, &["apples", "removed"]);
    h.refuse(TOM, available, Code::WrongState, &["apples", "removed"]);
    h.refuse(TOM, adjust("apples", 1), Code::WrongState, &["apples", "removed"]);
    h.refuse(TOM, stocktake("apples", 1), Code::WrongState, &["apples", "removed"]);
    h.refuse(TOM, ProductRemove { id: "apples".into() }, Code::WrongState, &["apples", "removed"]);
    h.refuse(
        LEA,
        order("o1", "stall-1", &[("apples", 1)]),
        Code::NotFound,
        &["apples", "Les Vergers de Tom"],
    );
}

#[test]
fn price_name_and_availability_are_last_writer_wins_by_clock_not_by_arrival() {
    let mut h = market();
    // Tom edits on his tablet, then a minute later on his phone; the phone syncs first.
    let tablet_price = h.mutation_on(TOM, "tom-tablet", price("apples", 300));
    let tablet_name = h.mutation_on(
        TOM,
        "tom-tablet",
        ProductEdit { id: "apples".into(), name: "Reinettes".into(), unit: "kg".into() },
    );
    let tablet_off =
        h.mutation_on(TOM, "tom-tablet", ProductSetAvailableToday { id: "apples".into(), available: false });
    h.later(60_000);
    h.ok(TOM, price("apples", 420));
    h.ok(TOM, ProductEdit { id: "apples".into(), name: "Golden apples".into(), unit: "piece".into() });
    h.ok(TOM, ProductSetAvailableToday { id: "apples".into(), available: true });
    let newest = h.product("apples");
    for m in [&tablet_price, &tablet_name, &tablet_off] {
        assert_eq!(h.ok_m(m), vec![], "{} from the past changed something", m.op.name());
    }
    assert_eq!(h.product("apples"), newest);
    assert_eq!(
        (newest.price_cents, newest.name.as_str(), newest.unit.as_str(), newest.available_today),
        (420, "Golden apples", "piece", true)
    );

    // In the other order, the same end.
    let mut other = market();
    let (p1, p2) = (other.mutation_on(TOM, "tom-tablet", price("apples", 300)), {
        other.later(60_000);
        other.mutation(TOM, price("apples", 420))
    });
    other.ok_m(&p1);
    other.ok_m(&p2);
    assert_eq!(other.product("apples").price_cents, 420);
}

#[test]
fn stock_moves_from_several_devices_add_up() {
    let mut h = market();
    let sold = h.mutation_on(TOM, "tom-phone", adjust("apples", -3));
    let restocked = h.mutation_on(TOM, "tom-tablet", adjust("apples", 10));
    h.ok_m(&restocked);
    h.ok_m(&sold);
    assert_eq!(stock(&h, "apples"), (27, 0));
    h.refuse(TOM, adjust("apples", 0), Code::Invalid, &["0"]);
    h.refuse(TOM, adjust("apples", -28), Code::InsufficientStock, &["Only 27 kg of apples left", "not 28"]);
    h.refuse(TOM, adjust("apples", 1_000_000_001), Code::Invalid, &["stock move"]);
    h.refuse(TOM, adjust("apples", 1_000_000_000), Code::Invalid, &["stock"]);
    h.ok(TOM, adjust("apples", -27));
    assert_eq!(stock(&h, "apples"), (0, 0));
    h.refuse(TOM, adjust("apples", -1), Code::InsufficientStock, &["Only 0 kg of apples"]);
}

#[test]
fn a_stocktake_sets_the_count_and_earlier_moves_are_taken_as_counted() {
    let mut h = market();
    let early_sale = h.mutation_on(TOM, "tom-phone", adjust("apples", -2));
    let older_count = h.mutation_on(TOM, "tom-laptop", stocktake("apples", 40));
    h.later(1_000);
    let count = h.mutation_on(TOM, "tom-tablet", stocktake("apples", 15));
    h.later(1_000);
    let late_sale = h.mutation_on(TOM, "tom-phone", adjust("apples", -1));
    h.ok_m(&count);
    assert_eq!(stock(&h, "apples"), (15, 0));
    assert_eq!(h.ok_m(&early_sale), vec![], "a move before the count is already counted");
    assert_eq!(h.ok_m(&older_count), vec![], "an older count does not undo a newer one");
    h.ok_m(&late_sale);
    assert_eq!(stock(&h, "apples"), (14, 0));
    h.refuse(TOM, stocktake("apples", -1), Code::Invalid, &["counted stock"]);
}

#[test]
fn stock_never_goes_below_what_is_reserved() {
    let mut h = market();
    h.ok(LEA, order("o1", "stall-1", &[("apples", 15)]));
    h.ok(TOM, confirm("o1"));
    assert_eq!(stock(&h, "apples"), (20, 15));
    h.refuse(
        TOM,
        adjust("apples", -6),
        Code::InsufficientStock,
        &["Only 5 kg of apples can go", "15 of the 20", "reserved"],
    );
    h.refuse(
        TOM,
        stocktake("apples", 14),
        Code::InsufficientStock,
        &["counted 14", "15 are reserved", "decline"],
    );
    h.refuse(TOM, ProductRemove { id: "apples".into() }, Code::WrongState, &["15 kg of apples", "reserved"]);
    h.ok(TOM, adjust("apples", -5));
    h.ok(TOM, stocktake("apples", 15));
    assert_eq!(stock(&h, "apples"), (15, 15));
    h.refuse(CHLOE, order("o2", "stall-1", &[("apples", 1)]), Code::InsufficientStock, &["apples"]);
}

#[test]
fn placing_a_pre_order_checks_its_lines_but_reserves_nothing() {
    let mut h = market();
    h.ok(TOM, stall("stall-2", "Tom's flowers"));
    h.ok(TOM, product("tulips", "stall-2", "tulips", 50));
    let place = |lines: &[(&str, i64)]| order("o1", "stall-1", lines);
    h.refuse(TOM, place(&[("apples", 1)]), Code::Forbidden, &["your own stall"]);
    h.refuse(LEA, order("o1", "s9", &[("apples", 1)]), Code::NotFound, &["The stall"]);
    h.refuse(LEA, place(&[]), Code::Invalid, &["1 to 50 products"]);
    let many: Vec<(String, i64)> = (0..51).map(|i| (format!("p{i}"), 1)).collect();
    let many: Vec<(&str, i64)> = many.iter().map(|(p, q)| (p.as_str(), *q)).collect();
    h.refuse(LEA, place(&many), Code::Invalid, &["1 to 50 products"]);
    h.refuse(LEA, place(&[("apples", 1), ("pears", 1), ("apples", 2)]), Code::Invalid, &["once", "add up"]);
    h.refuse(LEA, place(&[("plums", 1)]), Code::NotFound, &["The product"]);
    h.refuse(LEA, place(&[("tulips", 1)]), Code::NotFound, &["tulips", "Les Vergers de Tom"]);
    h.refuse(LEA, place(&[("apples", 0)]), Code::Invalid, &["quantity of apples"]);
    h.refuse(LEA, place(&[("apples", 10_001)]), Code::Invalid, &["quantity of apples"]);
    h.refuse(LEA, place(&[("apples", 21)]), Code::InsufficientStock, &["Only 20 kg of apples left, not 21"]);
    let past = OrderPlace { pickup_day: Some(day(-2)), ..place(&[("apples", 1)]) };
    h.refuse(LEA, past, Code::Invalid, &["pickup day", &day(-2).to_string(), "past"]);
    h.refuse(LEA, OrderPlace { note: "\u{0}".into(), ..place(&[("apples", 1)]) }, Code::Invalid, &["note"]);
    h.refuse(ZED, place(&[("apples", 1)]), Code::NotMember, &["member"]);

    h.ok(LEA, OrderPlace { pickup_day: None, ..place(&[("apples", 20), ("pears", 2)]) });
    let o = h.order("o1");
    assert_eq!(
        (o.trader.as_str(), o.customer.as_str(), o.status, o.lines.len()),
        (TOM, LEA, OrderStatus::Placed, 2)
    );
    assert_eq!(stock(&h, "apples"), (20, 0));
    h.refuse(CHLOE, order("o1", "stall-1", &[("pears", 1)]), Code::AlreadyExists, &["order", "o1"]);
    // Placed orders may promise more than there is; confirming is what counts.
    h.ok(CHLOE, order("o2", "stall-1", &[("apples", 20)]));
}

#[test]
fn confirming_reserves_and_collecting_takes_the_stock() {
    let mut h = market();
    h.ok(LEA, order("o1", "stall-1", &[("apples", 3), ("pears", 2)]));
    h.ok(CHLOE, order("o2", "stall-1", &[("apples", 18)]));
    h.refuse(LEA, confirm("o1"), Code::Forbidden, &["trader of this pre-order"]);
    h.refuse(TOM, confirm("o9"), Code::NotFound, &["The pre-order"]);
    h.refuse(TOM, OrderReady { id: "o1".into() }, Code::WrongState, &["not confirmed yet", "made ready"]);
    h.refuse(TOM, OrderCollect { id: "o1".into() }, Code::WrongState, &["not confirmed yet", "handed over"]);
    h.ok(TOM, confirm("o1"));
    assert_eq!((stock(&h, "apples"), stock(&h, "pears")), ((20, 3), (12, 2)));
    h.refuse(TOM, confirm("o1"), Code::WrongState, &["confirmed but not ready yet", "confirmed"]);
    h.refuse(TOM, confirm("o2"), Code::InsufficientStock, &["Only 17 kg of apples can go", "3 of the 20"]);
    assert_eq!(status(&h, "o2"), OrderStatus::Placed);

    h.ok(TOM, OrderReady { id: "o1".into() });
    h.refuse(TOM, OrderReady { id: "o1".into() }, Code::WrongState, &["already ready"]);
    h.refuse(LEA, OrderCollect { id: "o1".into() }, Code::Forbidden, &["trader"]);
    h.ok(TOM, OrderCollect { id: "o1".into() });
    assert_eq!((stock(&h, "apples"), stock(&h, "pears")), ((17, 0), (10, 0)));
    assert_eq!(status(&h, "o1"), OrderStatus::Collected);
    h.refuse(TOM, OrderCollect { id: "o1".into() }, Code::WrongState, &["already collected"]);
    // A confirmed order can also be handed over without being marked ready first.
    h.ok(CHLOE, order("o3", "stall-1", &[("pears", 4)]));
    h.ok(TOM, confirm("o3"));
    h.ok(TOM, OrderCollect { id: "o3".into() });
    assert_eq!(stock(&h, "pears"), (6, 0));
    crate::properties::assert_invariants(&h.state);
}

#[test]
fn declining_or_cancelling_releases_what_was_reserved() {
    let mut h = market();
    for (id, who) in [("o1", LEA), ("o2", CHLOE), ("o3", BOB), ("o4", MONA)] {
        h.ok(who, order(id, "stall-1", &[("apples", 2)]));
    }
    h.ok(TOM, confirm("o2"));
    h.ok(TOM, confirm("o3"));
    h.ok(TOM, confirm("o4"));
    h.ok(TOM, OrderReady { id: "o4".into() });
    assert_eq!(stock(&h, "apples"), (20, 6));

    let decline = |id: &str, reason: &str| OrderDecline { id: id.into(), reason: reason.into() };
    h.refuse(LEA, decline("o1", ""), Code::Forbidden, &["trader"]);
    h.refuse(TOM, decline("o1", &"x".repeat(121)), Code::Invalid, &["reason"]);
    h.ok(TOM, decline("o1", "No more apples this week."));
    assert_eq!(h.order("o1").decline_reason.as_deref(), Some("No more apples this week."));
    assert_eq!(stock(&h, "apples"), (20, 6), "a placed order held nothing");
    h.ok(TOM, decline("o2", ""));
    assert_eq!((status(&h, "o2"), h.order("o2").decline_reason), (OrderStatus::Declined, None));
    assert_eq!(stock(&h, "apples"), (20, 4));
    h.refuse(TOM, decline("o2", ""), Code::WrongState, &["declined"]);
    h.refuse(LEA, OrderCancel { id: "o2".into() }, Code::Forbidden, &["customer"]);
    h.refuse(CHLOE, OrderCancel { id: "o2".into() }, Code::WrongState, &["declined", "cancelled"]);

    h.refuse(TOM, OrderCancel { id: "o3".into() }, Code::Forbidden, &["customer of this pre-order"]);
    h.ok(BOB, OrderCancel { id: "o3".into() });
    h.ok(MONA, OrderCancel { id: "o4".into() });
    assert_eq!(stock(&h, "apples"), (20, 0));
    h.refuse(MONA, OrderCancel { id: "o4".into() }, Code::WrongState, &["cancelled"]);
    h.refuse(TOM, decline("o4", ""), Code::WrongState, &["cancelled", "declined"]);

    h.ok(LEA, order("o5", "stall-1", &[("apples", 1)]));
    h.ok(LEA, OrderCancel { id: "o5".into() });
    h.ok(LEA, order("o6", "stall-1", &[("apples", 1)]));
    h.ok(TOM, confirm("o6"));
    h.ok(TOM, OrderCollect { id: "o6".into() });
    h.refuse(LEA, OrderCancel { id: "o6".into() }, Code::WrongState, &["already collected"]);
    h.refuse(TOM, decline("o6", ""), Code::WrongState, &["already collected"]);
    crate::properties::assert_invariants(&h.state);
}

#[test]
fn a_stocktake_synced_late_still_counts_the_moves_made_after_it() {
    let mut h = market();
    // The tablet counts 15 apples, offline; afterwards the phone sells 2 and syncs first.
    h.later(1_000);
    let count = h.offline_on(TOM, "tom-tablet", stocktake("apples", 15));
    h.later(1_000);
    let sale = h.mutation_on(TOM, "tom-phone", adjust("apples", -2));
    h.ok_m(&sale);
    assert_eq!(stock(&h, "apples"), (18, 0));
    h.ok_m(&count);
    assert_eq!(stock(&h, "apples"), (13, 0), "the count, less what was sold after it");
    assert!(h.product("apples").moves.iter().all(|m| m.hlc > count.hlc));
}

#[test]
fn goods_handed_over_before_a_stocktake_are_not_taken_twice() {
    let mut h = market();
    h.ok(LEA, order("o1", "stall-1", &[("apples", 4)]));
    h.ok(TOM, confirm("o1"));
    let collect = h.mutation_on(TOM, "tom-phone", OrderCollect { id: "o1".into() });
    h.later(1_000);
    // Counted after the handover, on the tablet, which syncs first: 16 apples left on the stall.
    let count = h.offline_on(TOM, "tom-tablet", stocktake("apples", 16));
    h.ok_m(&count);
    assert_eq!(stock(&h, "apples"), (16, 4));
    h.ok_m(&collect);
    assert_eq!(stock(&h, "apples"), (16, 0), "the 4 handed over were already out of the count");
    assert_eq!(status(&h, "o1"), OrderStatus::Collected);
}

#[test]
fn a_pre_order_of_a_removed_product_cannot_be_confirmed() {
    let mut h = market();
    h.ok(LEA, order("o1", "stall-1", &[("apples", 2)]));
    h.ok(TOM, ProductRemove { id: "apples".into() });
    h.refuse(TOM, confirm("o1"), Code::WrongState, &["apples", "removed", "decline"]);
    h.ok(TOM, OrderDecline { id: "o1".into(), reason: "No more apples this season".into() });
}
