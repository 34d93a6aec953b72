//! Neighbourhoods are sealed from each other: an id from one means nothing in another.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;

const OTHER: &str = "belleville";

/// Aligre as usual, and Belleville, founded by Bob, where Léa and Yann live too, with one of each thing.
fn two_hoods() -> Hood {
    let mut h = Hood::new();
    h.found(OTHER, BOB, "Bob");
    h.invite(BOB, "b-inv", "lilac", 5);
    h.join(LEA, "b-inv", "lilac", "Léa");
    h.join("yann", "b-inv", "lilac", "Yann");
    h.ok(BOB, ask("b-fav", "Walk my dog"));
    h.ok(LEA, FavourRef { id: "b-fav".into() });
    h.ok(BOB, item("b-item", "Ladder"));
    h.ok(LEA, loan("b-loan", "b-item", 1, 2));
    h.ok(BOB, stall("b-stall", "Bob's honey"));
    h.ok(BOB, product("b-prod", "b-stall", "honey", 10));
    h.ok(LEA, order("b-order", "b-stall", &[("b-prod", 1)]));
    h.ok(BOB, OrderConfirm { id: "b-order".into() });
    h.ok(LEA, message("b-msg", ThreadKind::Loan, "b-loan", "Thanks Bob"));
    h.nid = NID.into();
    with_stall(&mut h);
    h
}

#[test]
fn an_id_from_another_neighbourhood_is_not_found() {
    let mut h = two_hoods();
    let nf = Code::NotFound;
    h.refuse(CHLOE, FavourRef { id: "b-fav".into() }, nf, &["The favour"]);
    h.refuse(BOB, FavourCancel { id: "b-fav".into() }, nf, &["The favour"]);
    h.refuse(CHLOE, loan("l1", "b-item", 1, 2), nf, &["The item"]);
    h.refuse(BOB, ItemWithdraw { id: "b-item".into() }, nf, &["The item"]);
    h.refuse(BOB, LoanApprove { id: "b-loan".into() }, nf, &["The loan"]);
    h.refuse(LEA, LoanCancel { id: "b-loan".into() }, nf, &["The loan"]);
    h.refuse(BOB, StallEdit(stall("b-stall", "x")), nf, &["The stall"]);
    h.refuse(LEA, order("o1", "b-stall", &[("b-prod", 1)]), nf, &["The stall"]);
    h.refuse(LEA, order("o1", "stall-1", &[("b-prod", 1)]), nf, &["The product"]);
    h.refuse(BOB, ProductSetPrice { id: "b-prod".into(), price_cents: 1 }, nf, &["The product"]);
    h.refuse(BOB, OrderCollect { id: "b-order".into() }, nf, &["The pre-order"]);
    h.refuse(LEA, OrderCancel { id: "b-order".into() }, nf, &["The pre-order"]);
    h.refuse(LEA, message("m1", ThreadKind::Loan, "b-loan", "Hi"), nf, &["The loan"]);
    h.refuse(LEA, message("m1", ThreadKind::Favour, "b-fav", "Hi"), nf, &["The favour"]);
    h.refuse(LEA, message("m1", ThreadKind::Order, "b-order", "Hi"), nf, &["The pre-order"]);
    h.refuse(BOB, InvitationRevoke { id: "b-inv".into() }, nf, &["The invitation"]);
    h.refuse(ZED, join("b-inv", "lilac", "Zed"), Code::InvitationUnusable, &["does not exist"]);
}

#[test]
fn membership_and_roles_are_per_neighbourhood() {
    let mut h = two_hoods();
    h.refuse("yann", ask("f1", "Help"), Code::NotMember, &["not a member"]);
    // Bob moderates Belleville but is a plain member in Aligre.
    h.refuse(
        BOB,
        MemberSetRole { member_id: LEA.into(), role: Role::Trader },
        Code::Forbidden,
        &["moderator"],
    );
    h.refuse(BOB, MemberRemove { member_id: "yann".into() }, Code::Forbidden, &["moderator"]);
    h.refuse(BOB, stall("s1", "Bob's honey"), Code::Forbidden, &["traders"]);
    h.refuse(MONA, MemberRemove { member_id: "yann".into() }, Code::NotFound, &["That member"]);
    // Ids are the device's choice, and only need to be new within the neighbourhood.
    h.ok(CHLOE, ask("b-fav", "Water my plants"));
    assert_eq!(h.favour("b-fav").author, CHLOE);
}

#[test]
fn leaving_one_neighbourhood_leaves_the_others_untouched() {
    let mut h = two_hoods();
    let belleville_before: Vec<Entity> =
        h.state.entities().filter(|e| e.key().neighbourhood_id == OTHER).cloned().collect();
    h.ok(LEA, MemberLeave {});
    h.ok(MONA, MemberRemove { member_id: BOB.into() });
    let belleville_after: Vec<Entity> =
        h.state.entities().filter(|e| e.key().neighbourhood_id == OTHER).cloned().collect();
    assert_eq!(belleville_after, belleville_before);
    h.nid = OTHER.into();
    assert_eq!(h.product("b-prod").reserved, 1);
    assert_eq!(h.member(LEA).status, MemberStatus::Active);
}
