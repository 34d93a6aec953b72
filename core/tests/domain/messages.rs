//! Messages in the thread of a favour, a loan or a pre-order, between the two people involved.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;

#[test]
fn a_favour_thread_opens_once_it_is_promised() {
    let mut h = Hood::new();
    h.ok(LEA, ask("f1", "Water my plants"));
    h.refuse(
        LEA,
        message("m1", ThreadKind::Favour, "f1", "Hello?"),
        Code::WrongState,
        &["\"Water my plants\"", "no thread yet"],
    );
    h.ok(BOB, FavourRef { id: "f1".into() });
    h.ok(LEA, message("m1", ThreadKind::Favour, "f1", "  I live at 12, rue de Cotte.\nSecond floor. "));
    h.ok(BOB, message("m2", ThreadKind::Favour, "f1", "See you Saturday."));
    let m = h.message("m1");
    assert_eq!(
        (m.author.as_str(), m.body.as_str(), m.sent_at),
        (LEA, "I live at 12, rue de Cotte.\nSecond floor.", T0)
    );
    assert_eq!(m.thread, ThreadRef { kind: ThreadKind::Favour, id: "f1".into() });
    h.refuse(
        CHLOE,
        message("m3", ThreadKind::Favour, "f1", "Me too"),
        Code::Forbidden,
        &["two neighbours involved"],
    );
    h.refuse(ZED, message("m3", ThreadKind::Favour, "f1", "Hi"), Code::NotMember, &["member"]);
}

#[test]
fn loan_and_pre_order_threads_are_between_their_two_parties() {
    let mut h = Hood::new();
    with_stall(&mut h);
    h.ok(BOB, item("drill", "Drill"));
    h.ok(LEA, loan("l1", "drill", 1, 2));
    h.ok(LEA, message("m1", ThreadKind::Loan, "l1", "Can I pick it up tonight?"));
    h.ok(BOB, message("m2", ThreadKind::Loan, "l1", "Yes, after 7."));
    h.refuse(CHLOE, message("m3", ThreadKind::Loan, "l1", "Hi"), Code::Forbidden, &["two neighbours"]);
    h.ok(CHLOE, order("o1", "stall-1", &[("apples", 2)]));
    h.ok(CHLOE, message("m3", ThreadKind::Order, "o1", "Ripe ones please."));
    h.ok(TOM, message("m4", ThreadKind::Order, "o1", "Of course."));
    h.refuse(LEA, message("m5", ThreadKind::Order, "o1", "Hi"), Code::Forbidden, &["two neighbours"]);
    // A message names its thread's kind: a loan id is not a pre-order.
    h.refuse(CHLOE, message("m5", ThreadKind::Order, "l1", "Hi"), Code::NotFound, &["The pre-order"]);
    h.refuse(CHLOE, message("m5", ThreadKind::Loan, "o1", "Hi"), Code::NotFound, &["The loan"]);
    h.refuse(CHLOE, message("m5", ThreadKind::Favour, "o1", "Hi"), Code::NotFound, &["The favour"]);
}

#[test]
fn a_message_is_new_and_says_something() {
    let mut h = Hood::new();
    h.ok(BOB, item("drill", "Drill"));
    h.ok(LEA, loan("l1", "drill", 1, 2));
    h.ok(LEA, message("m1", ThreadKind::Loan, "l1", "Hello"));
    h.refuse(BOB, message("m1", ThreadKind::Loan, "l1", "Hello"), Code::AlreadyExists, &["message", "m1"]);
    h.refuse(BOB, message("m 2", ThreadKind::Loan, "l1", "Hello"), Code::Invalid, &["message id"]);
    h.refuse(BOB, message("m2", ThreadKind::Loan, "l1", " \n "), Code::Invalid, &["empty"]);
    h.refuse(
        BOB,
        message("m2", ThreadKind::Loan, "l1", &"é".repeat(4_001)),
        Code::Invalid,
        &["message", "4000"],
    );
    h.refuse(BOB, message("m2", ThreadKind::Loan, "l1", "bell\u{7}"), Code::Invalid, &["message", "control"]);
    h.ok(BOB, message("m2", ThreadKind::Loan, "l1", &"é".repeat(4_000)));
}

#[test]
fn a_message_names_its_recipient_so_a_later_helper_cannot_read_it() {
    let mut h = Hood::new();
    h.ok(MONA, ask("f1", "Water my plants"));
    h.ok(LEA, FavourRef { id: "f1".into() });
    h.ok(MONA, message("m1", ThreadKind::Favour, "f1", "The key is under the mat, 12 rue d'Aligre"));
    assert_eq!(h.message("m1").recipient, LEA);
    h.ok(LEA, FavourWithdraw { id: "f1".into() });
    h.ok(BOB, FavourRef { id: "f1".into() });
    h.ok(BOB, message("m2", ThreadKind::Favour, "f1", "I'll come on Saturday"));
    assert_eq!(h.message("m2").recipient, MONA);
}
