//! Lending: items, and loans requested, approved or declined, handed over and returned.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;

fn approve(id: &str) -> LoanApprove {
    LoanApprove { id: id.into() }
}
fn decline(id: &str, reason: &str) -> LoanDecline {
    LoanDecline { id: id.into(), reason: reason.into() }
}
fn status(h: &Hood, id: &str) -> LoanStatus {
    h.loan(id).status
}

/// Bob lends his drill.
fn with_drill() -> Hood {
    let mut h = Hood::new();
    h.ok(BOB, item("drill", "Drill"));
    h
}

#[test]
fn items_are_added_and_edited_by_their_owner() {
    let mut h = with_drill();
    let drill = h.item("drill");
    assert_eq!((drill.owner.as_str(), drill.withdrawn, drill.condition), (BOB, false, Condition::Good));
    h.refuse(LEA, item("drill", "Saw"), Code::AlreadyExists, &["item", "drill"]);
    h.refuse(LEA, ItemAdd { category: "Tools".into(), ..item("saw", "Saw") }, Code::Invalid, &["category"]);
    h.refuse(
        LEA,
        ItemAdd { deposit_note: "x".repeat(121), ..item("saw", "Saw") },
        Code::Invalid,
        &["deposit note"],
    );
    h.refuse(
        LEA,
        ItemAdd { cell: Some(Cell { row: u32::MAX, col: 1 }), ..item("saw", "Saw") },
        Code::Invalid,
        &["place"],
    );
    h.refuse(ZED, item("saw", "Saw"), Code::NotMember, &["member"]);

    let edit = ItemEdit {
        id: "drill".into(),
        title: "Cordless drill".into(),
        description: "With two batteries.".into(),
        category: "tools".into(),
        condition: Condition::Worn,
        deposit_note: "20 €".into(),
    };
    h.refuse(LEA, edit.clone(), Code::Forbidden, &["owner", "\"Drill\""]);
    h.refuse(BOB, ItemEdit { id: "nope".into(), ..edit.clone() }, Code::NotFound, &["The item"]);
    h.refuse(BOB, ItemEdit { title: " ".into(), ..edit.clone() }, Code::Invalid, &["title"]);
    h.ok(BOB, edit);
    let drill = h.item("drill");
    assert_eq!(
        (drill.title.as_str(), drill.condition, drill.deposit_note.as_str()),
        ("Cordless drill", Condition::Worn, "20 €")
    );
}

#[test]
fn a_loan_goes_from_requested_to_returned() {
    let mut h = with_drill();
    h.ok(LEA, LoanRequest { note: "For shelves.".into(), ..loan("l1", "drill", 1, 3) });
    let l = h.loan("l1");
    assert_eq!((l.owner.as_str(), l.borrower.as_str(), l.status), (BOB, LEA, LoanStatus::Requested));
    assert_eq!((l.first_day, l.last_day, l.note.as_str()), (day(1), day(3), "For shelves."));
    h.refuse(LEA, LoanHandOver { id: "l1".into() }, Code::Forbidden, &["owner"]);
    h.refuse(BOB, LoanHandOver { id: "l1".into() }, Code::WrongState, &["still waiting", "handed over"]);
    h.refuse(LEA, approve("l1"), Code::Forbidden, &["owner of this loan"]);
    h.ok(BOB, approve("l1"));
    h.refuse(BOB, approve("l1"), Code::WrongState, &["already approved", "cannot be approved"]);
    h.refuse(BOB, LoanReturn { id: "l1".into() }, Code::WrongState, &["already approved", "returned"]);
    h.ok(BOB, LoanHandOver { id: "l1".into() });
    assert_eq!(status(&h, "l1"), LoanStatus::HandedOver);
    h.refuse(LEA, LoanCancel { id: "l1".into() }, Code::WrongState, &["already handed over", "cancelled"]);
    h.refuse(LEA, LoanReturn { id: "l1".into() }, Code::Forbidden, &["owner"]);
    h.ok(BOB, LoanReturn { id: "l1".into() });
    assert_eq!(status(&h, "l1"), LoanStatus::Returned);
    h.refuse(BOB, LoanReturn { id: "l1".into() }, Code::WrongState, &["already returned"]);
    // Returned, the days are free again.
    h.ok(CHLOE, loan("l2", "drill", 1, 3));
    h.ok(BOB, approve("l2"));
}

#[test]
fn a_request_is_for_someone_elses_listed_item_within_a_season_from_today() {
    let mut h = with_drill();
    h.refuse(BOB, loan("l1", "drill", 1, 2), Code::Forbidden, &["your own item"]);
    h.refuse(LEA, loan("l1", "saw", 1, 2), Code::NotFound, &["The item"]);
    h.refuse(LEA, loan("l1", "drill", 3, 2), Code::Invalid, &["last day", "first day"]);
    h.refuse(LEA, loan("l1", "drill", 1, 93), Code::Invalid, &["92 days", "not 93"]);
    // T0 is 09:00 UTC: somewhere (UTC-12) it is still yesterday, but the day before is past everywhere.
    h.refuse(LEA, loan("l1", "drill", -2, 2), Code::Invalid, &["past", &day(-2).to_string()]);
    h.refuse(
        LEA,
        LoanRequest { note: "\u{1b}[31m".into(), ..loan("l1", "drill", 1, 2) },
        Code::Invalid,
        &["note"],
    );
    h.refuse(ZED, loan("l1", "drill", 1, 2), Code::NotMember, &["member"]);
    h.ok(LEA, loan("l1", "drill", -1, 90));
    h.refuse(CHLOE, loan("l1", "drill", 100, 101), Code::AlreadyExists, &["loan", "l1"]);
}

#[test]
fn a_borrower_asks_once_for_the_same_days() {
    let mut h = with_drill();
    h.ok(LEA, loan("l1", "drill", 1, 3));
    h.refuse(LEA, loan("l2", "drill", 3, 5), Code::AlreadyExists, &["already asked"]);
    h.ok(LEA, loan("l2", "drill", 4, 5));
    // Others may ask for the same days while nothing is approved.
    h.ok(CHLOE, loan("l3", "drill", 2, 2));
}

#[test]
fn a_request_overlapping_an_approved_loan_is_refused() {
    let mut h = with_drill();
    h.ok(LEA, loan("l1", "drill", 2, 4));
    h.ok(BOB, approve("l1"));
    for (first, last) in [(4, 6), (0, 2), (3, 3), (1, 5)] {
        let r =
            h.refuse(CHLOE, loan("l2", "drill", first, last), Code::Overlap, &["\"Drill\"", "other days"]);
        assert!(r.message.contains(&format!("from {} to {}", day(2), day(4))), "{}", r.message);
    }
    h.ok(CHLOE, loan("l2", "drill", 5, 6));
    h.ok(CHLOE, loan("l3", "drill", 0, 1));
    h.ok(BOB, LoanHandOver { id: "l1".into() });
    h.refuse(CHLOE, loan("l4", "drill", 4, 4), Code::Overlap, &["already lent"]);
}

#[test]
fn approving_declines_the_overlapping_requests_and_says_to_whom_it_went() {
    let mut h = with_drill();
    h.ok(LEA, loan("lea", "drill", 2, 4));
    h.ok(CHLOE, loan("chloe", "drill", 4, 8));
    h.ok(MONA, loan("mona", "drill", 5, 6));
    h.ok(TOM, loan("tom", "drill", 0, 2));
    let effects = h.ok(BOB, approve("lea"));
    assert_eq!(effects.len(), 3, "two declines and the approval");
    assert_eq!(status(&h, "lea"), LoanStatus::Approved);
    for declined in ["chloe", "tom"] {
        let l = h.loan(declined);
        assert_eq!(l.status, LoanStatus::Declined);
        assert_eq!(l.decline_reason.as_deref(), Some("Drill was lent to Léa in the meantime."));
    }
    assert_eq!(status(&h, "mona"), LoanStatus::Requested);
    h.ok(BOB, approve("mona"));
    h.refuse(BOB, approve("chloe"), Code::WrongState, &["declined", "approved"]);
    crate::properties::assert_invariants(&h.state);
}

#[test]
fn approving_over_an_approved_loan_is_refused() {
    // A replica can hold a request that overlaps an approved loan (it arrived before the approval).
    let mut h = with_drill();
    h.ok(LEA, loan("lea", "drill", 2, 4));
    h.ok(CHLOE, loan("chloe", "drill", 3, 3));
    let waiting = h.loan("chloe");
    h.ok(BOB, approve("lea"));
    h.state.write(&[Effect::Put { entity: Entity::Loan(waiting) }]);
    let from_to = format!("from {} to {}", day(2), day(4));
    h.refuse(BOB, approve("chloe"), Code::Overlap, &["\"Drill\"", &from_to, "overlap"]);
}

#[test]
fn the_owner_declines_a_request_with_an_optional_reason() {
    let mut h = with_drill();
    h.ok(LEA, loan("l1", "drill", 1, 2));
    h.ok(CHLOE, loan("l2", "drill", 1, 2));
    h.refuse(LEA, decline("l1", ""), Code::Forbidden, &["owner"]);
    h.refuse(BOB, decline("l9", ""), Code::NotFound, &["The loan"]);
    h.refuse(BOB, decline("l1", &"x".repeat(121)), Code::Invalid, &["reason"]);
    h.ok(BOB, decline("l1", "I need it that weekend."));
    h.ok(BOB, decline("l2", " "));
    assert_eq!(h.loan("l1").decline_reason.as_deref(), Some("I need it that weekend."));
    assert_eq!((status(&h, "l2"), h.loan("l2").decline_reason), (LoanStatus::Declined, None));
    h.refuse(BOB, decline("l1", ""), Code::WrongState, &["declined"]);
    h.ok(LEA, loan("l3", "drill", 1, 2));
    h.ok(BOB, approve("l3"));
    h.refuse(BOB, decline("l3", ""), Code::WrongState, &["already approved", "declined"]);
}

#[test]
fn the_borrower_cancels_until_it_is_handed_over() {
    let mut h = with_drill();
    h.ok(LEA, loan("l1", "drill", 1, 2));
    h.refuse(BOB, LoanCancel { id: "l1".into() }, Code::Forbidden, &["borrower"]);
    h.ok(LEA, LoanCancel { id: "l1".into() });
    h.refuse(LEA, LoanCancel { id: "l1".into() }, Code::WrongState, &["cancelled"]);
    h.ok(LEA, loan("l2", "drill", 1, 2));
    h.ok(BOB, approve("l2"));
    h.ok(LEA, LoanCancel { id: "l2".into() });
    assert_eq!(status(&h, "l2"), LoanStatus::Cancelled);
    h.refuse(BOB, LoanHandOver { id: "l2".into() }, Code::WrongState, &["cancelled", "handed over"]);
    // The calendar is free again.
    h.ok(CHLOE, loan("l3", "drill", 1, 2));
    h.ok(BOB, approve("l3"));
}

#[test]
fn a_withdrawn_item_takes_no_requests_and_its_waiting_ones_are_declined() {
    let mut h = with_drill();
    h.ok(LEA, loan("l1", "drill", 1, 2));
    h.ok(CHLOE, loan("l2", "drill", 5, 6));
    h.ok(BOB, approve("l2"));
    h.refuse(LEA, ItemWithdraw { id: "drill".into() }, Code::Forbidden, &["owner", "\"Drill\""]);
    h.refuse(
        BOB,
        ItemRelist { id: "drill".into() },
        Code::WrongState,
        &["\"Drill\" is already up for lending"],
    );
    h.ok(BOB, ItemWithdraw { id: "drill".into() });
    assert!(h.item("drill").withdrawn);
    let l1 = h.loan("l1");
    assert_eq!(
        (l1.status, l1.decline_reason.as_deref()),
        (LoanStatus::Declined, Some("Drill is no longer lent."))
    );
    assert_eq!(status(&h, "l2"), LoanStatus::Approved, "approved loans stand");
    h.refuse(BOB, ItemWithdraw { id: "drill".into() }, Code::WrongState, &["\"Drill\"", "already withdrawn"]);
    h.refuse(MONA, loan("l3", "drill", 10, 11), Code::WrongState, &["\"Drill\"", "not lent"]);
    h.ok(BOB, ItemRelist { id: "drill".into() });
    h.ok(MONA, loan("l3", "drill", 10, 11));
}
