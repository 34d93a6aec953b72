//! Favours: asks and offers, from open to thanked, or cancelled.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;

fn promise(id: &str) -> FavourRef {
    FavourRef { id: id.into() }
}
fn withdraw(id: &str) -> FavourWithdraw {
    FavourWithdraw { id: id.into() }
}
fn complete(id: &str) -> FavourComplete {
    FavourComplete { id: id.into() }
}
fn thank(id: &str, note: &str) -> FavourThank {
    FavourThank { id: id.into(), note: note.into() }
}
fn cancel(id: &str) -> FavourCancel {
    FavourCancel { id: id.into() }
}

fn status(h: &Hood, id: &str) -> FavourStatus {
    h.favour(id).status
}

#[test]
fn an_ask_goes_from_open_to_thanked() {
    let mut h = Hood::new();
    let window = TimeWindow { start_ms: T0 + DAY_MS, end_ms: T0 + DAY_MS + 2 * HOUR };
    h.ok(LEA, FavourPost { window: Some(window), ..ask("f1", "  Water my plants ") });
    let f = h.favour("f1");
    assert_eq!(
        (f.title.as_str(), f.author.as_str(), f.status, f.counterpart.as_deref()),
        ("Water my plants", LEA, FavourStatus::Open, None)
    );
    assert_eq!((f.window, f.created_at, f.neighbourhood_id.as_str()), (Some(window), T0, NID));
    assert_eq!(f.helper(), None);

    h.ok(BOB, promise("f1"));
    let f = h.favour("f1");
    assert_eq!(
        (f.status, f.counterpart.as_deref(), f.helper(), f.beneficiary()),
        (FavourStatus::Promised, Some(BOB), Some(BOB), Some(LEA))
    );
    h.ok(BOB, complete("f1"));
    assert_eq!(status(&h, "f1"), FavourStatus::Done);
    h.ok(LEA, thank("f1", "Thank you, Bob!"));
    let f = h.favour("f1");
    assert_eq!((f.status, f.thanks_note.as_deref()), (FavourStatus::Thanked, Some("Thank you, Bob!")));
}

#[test]
fn an_offer_is_taken_up_and_thanked_by_who_took_it() {
    let mut h = Hood::new();
    h.ok(BOB, offer("f1", "I can fix bikes"));
    assert_eq!(h.favour("f1").helper(), Some(BOB));
    assert_eq!(h.favour("f1").beneficiary(), None);
    h.refuse(BOB, thank("f1", ""), Code::Forbidden, &["received"]);
    h.refuse(LEA, thank("f1", ""), Code::Forbidden, &["received"]);
    h.ok(LEA, promise("f1"));
    assert_eq!(h.favour("f1").beneficiary(), Some(LEA));
    h.ok(LEA, complete("f1")); // either party may mark it done
    h.refuse(BOB, thank("f1", ""), Code::Forbidden, &["received"]);
    h.ok(LEA, thank("f1", "  "));
    let f = h.favour("f1");
    assert_eq!((f.status, f.thanks_note), (FavourStatus::Thanked, None));
}

#[test]
fn posting_checks_the_arguments() {
    let mut h = Hood::new();
    let window = |start_ms, end_ms| Some(TimeWindow { start_ms, end_ms });
    let post = |window| FavourPost { window, ..ask("f1", "Water my plants") };
    h.refuse(LEA, post(window(T0, T0)), Code::Invalid, &["time window", "end after"]);
    h.refuse(LEA, post(window(T0, T0 - 1)), Code::Invalid, &["time window"]);
    h.refuse(LEA, post(window(T0, T0 + 90 * DAY_MS + 1)), Code::Invalid, &["90 days"]);
    h.refuse(LEA, post(window(-HOUR, HOUR)), Code::Invalid, &["1970"]);
    h.refuse(
        LEA,
        FavourPost { category: "Garden".into(), ..ask("f1", "x") },
        Code::Invalid,
        &["category", "Garden"],
    );
    h.refuse(LEA, ask("f1", ""), Code::Invalid, &["title"]);
    h.refuse(LEA, ask("f1", &"a".repeat(121)), Code::Invalid, &["title", "121", "120"]);
    h.refuse(LEA, FavourPost { details: "\u{0}".into(), ..ask("f1", "x") }, Code::Invalid, &["details"]);
    h.refuse(
        LEA,
        FavourPost { cell: Some(Cell { row: u32::MAX, col: 0 }), ..ask("f1", "x") },
        Code::Invalid,
        &["place"],
    );
    h.refuse(LEA, ask("", "x"), Code::Invalid, &["favour id"]);
    h.refuse(ZED, ask("f1", "x"), Code::NotMember, &["invitation"]);
    h.ok(LEA, post(window(T0, T0 + 90 * DAY_MS)));
    h.refuse(BOB, ask("f1", "Mine"), Code::AlreadyExists, &["favour", "f1"]);
}

#[test]
fn only_the_author_edits_an_open_favour() {
    let mut h = Hood::new();
    h.ok(LEA, ask("f1", "Water my plants"));
    let edit = FavourEdit {
        id: "f1".into(),
        title: "Water my tomatoes".into(),
        details: "Twice a day.".into(),
        category: "garden".into(),
        window: None,
    };
    h.refuse(BOB, edit.clone(), Code::Forbidden, &["author"]);
    h.refuse(LEA, FavourEdit { id: "f9".into(), ..edit.clone() }, Code::NotFound, &["The favour"]);
    h.refuse(LEA, FavourEdit { category: "".into(), ..edit.clone() }, Code::Invalid, &["category"]);
    let backwards = Some(TimeWindow { start_ms: T0, end_ms: T0 - HOUR });
    h.refuse(LEA, FavourEdit { window: backwards, ..edit.clone() }, Code::Invalid, &["time window"]);
    h.ok(LEA, edit.clone());
    assert_eq!(h.favour("f1").details, "Twice a day.");
    h.ok(BOB, promise("f1"));
    h.refuse(LEA, edit, Code::WrongState, &["\"Water my tomatoes\"", "already promised", "changed"]);
}

#[test]
fn who_may_promise() {
    let mut h = Hood::new();
    h.ok(LEA, ask("f1", "Water my plants"));
    h.refuse(LEA, promise("f1"), Code::Forbidden, &["your own favour"]);
    h.refuse(BOB, promise("f9"), Code::NotFound, &["The favour"]);
    h.refuse(ZED, promise("f1"), Code::NotMember, &["member"]);
    h.ok(BOB, promise("f1"));
    h.refuse(
        CHLOE,
        promise("f1"),
        Code::WrongState,
        &["\"Water my plants\"", "already promised", "cannot be promised"],
    );
    h.refuse(BOB, promise("f1"), Code::WrongState, &["already promised"]);
}

#[test]
fn only_the_counterpart_steps_back_from_a_promise() {
    let mut h = Hood::new();
    h.ok(LEA, ask("f1", "Water my plants"));
    h.refuse(BOB, withdraw("f1"), Code::Forbidden, &["took up"]);
    h.ok(BOB, promise("f1"));
    h.refuse(LEA, withdraw("f1"), Code::Forbidden, &["took up"]);
    h.refuse(CHLOE, withdraw("f1"), Code::Forbidden, &["took up"]);
    h.ok(BOB, withdraw("f1"));
    let f = h.favour("f1");
    assert_eq!((f.status, f.counterpart), (FavourStatus::Open, None));
    h.ok(CHLOE, promise("f1"));
    h.ok(CHLOE, complete("f1"));
    h.refuse(CHLOE, withdraw("f1"), Code::WrongState, &["already done", "given back"]);
}

#[test]
fn only_the_two_involved_mark_a_promised_favour_done() {
    let mut h = Hood::new();
    h.ok(LEA, ask("f1", "Water my plants"));
    h.refuse(LEA, complete("f1"), Code::WrongState, &["still open", "marked as done"]);
    h.ok(BOB, promise("f1"));
    h.refuse(CHLOE, complete("f1"), Code::Forbidden, &["two neighbours involved"]);
    h.ok(LEA, complete("f1"));
    h.refuse(BOB, complete("f1"), Code::WrongState, &["already done"]);
}

#[test]
fn only_the_beneficiary_thanks_once_it_is_done() {
    let mut h = Hood::new();
    h.ok(LEA, ask("f1", "Water my plants"));
    h.refuse(LEA, thank("f1", ""), Code::WrongState, &["still open", "thanked"]);
    h.ok(BOB, promise("f1"));
    h.refuse(LEA, thank("f1", ""), Code::WrongState, &["already promised"]);
    h.ok(BOB, complete("f1"));
    h.refuse(BOB, thank("f1", "me!"), Code::Forbidden, &["received"]);
    h.refuse(CHLOE, thank("f1", ""), Code::Forbidden, &["received"]);
    h.refuse(LEA, thank("f1", "\u{7}"), Code::Invalid, &["thank-you note"]);
    h.ok(LEA, thank("f1", "Merci"));
    h.refuse(LEA, thank("f1", "again"), Code::WrongState, &["already done and thanked"]);
}

#[test]
fn only_the_author_cancels_an_open_or_promised_favour() {
    let mut h = Hood::new();
    for id in ["f1", "f2", "f3"] {
        h.ok(LEA, ask(id, "Water my plants"));
    }
    h.refuse(BOB, cancel("f1"), Code::Forbidden, &["author"]);
    h.ok(LEA, cancel("f1"));
    h.refuse(LEA, cancel("f1"), Code::WrongState, &["cancelled"]);
    h.refuse(BOB, promise("f1"), Code::WrongState, &["cancelled", "promised"]);
    h.ok(BOB, promise("f2"));
    h.refuse(BOB, cancel("f2"), Code::Forbidden, &["author"]);
    h.ok(LEA, cancel("f2"));
    assert_eq!(status(&h, "f2"), FavourStatus::Cancelled);
    h.ok(BOB, promise("f3"));
    h.ok(BOB, complete("f3"));
    h.refuse(LEA, cancel("f3"), Code::WrongState, &["already done", "cancelled"]);
}
