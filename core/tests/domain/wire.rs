//! Mutations on the wire: every name round-trips, and nothing the rules do not know gets in.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// One example of every operation.
fn every_op() -> Vec<Op> {
    let id = |s: &str| s.to_owned();
    vec![
        NeighbourhoodCreate { name: id("Aligre"), description: id(""), cell: None, display_name: id("Mona") }
            .into(),
        NeighbourhoodEdit { name: id("Aligre"), description: id("") }.into(),
        InvitationCreate { id: id("i"), code_hash: hash_code("c"), expires_at: T0 + DAY_MS, max_uses: 1 }
            .into(),
        InvitationRevoke { id: id("i") }.into(),
        join("i", "c", "Zed").into(),
        MemberUpdateProfile { display_name: id("Léa"), bio: id(""), skills: vec![], cell: None }.into(),
        MemberSetRole { member_id: id(LEA), role: Role::Trader }.into(),
        MemberLeave {}.into(),
        MemberRemove { member_id: id(LEA) }.into(),
        ask("f", "Water my plants").into(),
        FavourEdit { id: id("f"), title: id("t"), details: id(""), category: id("garden"), window: None }
            .into(),
        FavourRef { id: id("f") }.into(),
        FavourWithdraw { id: id("f") }.into(),
        FavourComplete { id: id("f") }.into(),
        FavourThank { id: id("f"), note: id("") }.into(),
        FavourCancel { id: id("f") }.into(),
        item("d", "Drill").into(),
        ItemEdit {
            id: id("d"),
            title: id("Drill"),
            description: id(""),
            category: id("tools"),
            condition: Condition::Fair,
            deposit_note: id(""),
        }
        .into(),
        ItemWithdraw { id: id("d") }.into(),
        ItemRelist { id: id("d") }.into(),
        loan("l", "d", 1, 2).into(),
        LoanApprove { id: id("l") }.into(),
        LoanDecline { id: id("l"), reason: id("") }.into(),
        LoanCancel { id: id("l") }.into(),
        LoanHandOver { id: id("l") }.into(),
        LoanReturn { id: id("l") }.into(),
        stall("s", "Stall").into(),
        StallEdit(stall("s", "Stall")).into(),
        product("p", "s", "apples", 1).into(),
        ProductEdit { id: id("p"), name: id("apples"), unit: id("kg") }.into(),
        ProductSetPrice { id: id("p"), price_cents: 1 }.into(),
        ProductSetAvailableToday { id: id("p"), available: true }.into(),
        ProductAdjustStock { id: id("p"), delta: 1 }.into(),
        ProductStocktake { id: id("p"), count: 1 }.into(),
        ProductRemove { id: id("p") }.into(),
        order("o", "s", &[("p", 1)]).into(),
        OrderConfirm { id: id("o") }.into(),
        OrderDecline { id: id("o"), reason: id("") }.into(),
        OrderReady { id: id("o") }.into(),
        OrderCollect { id: id("o") }.into(),
        OrderCancel { id: id("o") }.into(),
        message("m", ThreadKind::Loan, "l", "Hello").into(),
    ]
}

fn wire(op: Op) -> Value {
    let m = Hood::empty().mutation(LEA, op);
    serde_json::to_value(&m).expect("a mutation serialises")
}

#[test]
fn every_name_round_trips() {
    let ops = every_op();
    let names: BTreeSet<&str> = ops.iter().map(Op::name).collect();
    assert_eq!(names, Op::NAMES.iter().copied().collect(), "every_op() misses a name");
    for op in ops {
        let json = wire(op.clone());
        assert_eq!(json["name"], op.name());
        let back: Mutation = serde_json::from_value(json).unwrap();
        assert_eq!(back.op, op);
    }
}

#[test]
fn unknown_or_forged_arguments_are_refused() {
    for op in every_op() {
        let name = op.name();
        let mut json = wire(op);
        for forged in ["owner", "author", "status", "reserved", "role"] {
            let mut forged_json = json.clone();
            forged_json["args"][forged] = json!("mona");
            let parsed = serde_json::from_value::<Mutation>(forged_json);
            assert!(parsed.is_err(), "{name} accepted a forged {forged:?}");
        }
        json["args"] = json!({});
        if name != "member.leave" {
            assert!(serde_json::from_value::<Mutation>(json).is_err(), "{name} accepted no arguments");
        }
    }
}

#[test]
fn unknown_names_values_and_nested_fields_are_refused() {
    let mut json = wire(MemberSetRole { member_id: LEA.into(), role: Role::Trader }.into());
    json["args"]["role"] = json!("admin");
    assert!(serde_json::from_value::<Mutation>(json.clone()).is_err());
    json["name"] = json!("member.promote");
    assert!(serde_json::from_value::<Mutation>(json).is_err());

    let mut json = wire(order("o", "s", &[("p", 1)]).into());
    json["args"]["lines"][0]["price_cents"] = json!(0);
    assert!(serde_json::from_value::<Mutation>(json).is_err(), "a forged price in an order line");

    let mut json = wire(message("m", ThreadKind::Loan, "l", "Hi").into());
    json["args"]["thread"]["owner"] = json!(MONA);
    assert!(serde_json::from_value::<Mutation>(json.clone()).is_err(), "a forged field in a thread");
    json["args"]["thread"] = json!({"kind": "neighbourhood", "id": "l"});
    assert!(serde_json::from_value::<Mutation>(json).is_err(), "a thread on something that has none");

    let mut json = wire(loan("l", "d", 1, 2).into());
    json["args"]["first_day"] = json!("2026-02-30");
    assert!(serde_json::from_value::<Mutation>(json.clone()).is_err());
    json["args"]["first_day"] = json!("1999-12-31");
    assert!(serde_json::from_value::<Mutation>(json.clone()).is_err());
    json["hlc"] = json!("not a stamp");
    assert!(serde_json::from_value::<Mutation>(json).is_err());
}
