//! The inbox: an entry of every kind, in plain sentences naming the thing and the person; news that
//! expires; and notifications with quiet hours, a daily budget and nothing said twice.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::store::{InboxEntry, InboxKind, NotifySettings, StoreError};
use std::collections::BTreeSet;

fn inbox(d: &Device, utc_offset_minutes: i32) -> Vec<InboxEntry> {
    d.store.inbox(NID, d.now, utc_offset_minutes).unwrap()
}

fn of_kind(entries: &[InboxEntry], kind: InboxKind) -> Vec<&InboxEntry> {
    entries.iter().filter(|e| e.kind == kind).collect()
}

fn only(entries: &[InboxEntry], kind: InboxKind) -> InboxEntry {
    match of_kind(entries, kind).as_slice() {
        [one] => (*one).clone(),
        other => panic!("expected one {kind:?} entry, got {other:#?}"),
    }
}

fn keys(entries: &[InboxEntry]) -> Vec<String> {
    entries.iter().map(|e| e.key.clone()).collect()
}

fn loan_key(id: &str) -> EntityKey {
    EntityKey::new(NID, EntityKind::Loan, id)
}

/// Bob's phone: Léa asks for his ladder; he asked for Mona's drill (lent to Léa instead), Chloé's
/// tent (approved) and Tom's saw (handed over, due back tomorrow).
fn borrower_device() -> Device {
    let mut d = Device::new(BOB);
    d.act(BOB, item("ladder", "Échelle", "tools", None));
    let mut request = loan("l-ladder", "ladder", 1, 2);
    request.note = "Pour repeindre le plafond.".into();
    d.act(LEA, request);
    d.act(MONA, item("drill", "Perceuse", "tools", None));
    d.act(BOB, loan("l-bob", "drill", 3, 4));
    d.act(LEA, loan("l-lea", "drill", 4, 6));
    d.act(MONA, LoanApprove { id: "l-lea".into() });
    d.act(CHLOE, item("tent", "Tente", "camping", None));
    d.act(BOB, loan("l-tent", "tent", 10, 12));
    d.act(CHLOE, LoanApprove { id: "l-tent".into() });
    d.act(TOM, item("saw", "Scie", "tools", None));
    d.act(BOB, loan("l-saw", "saw", 0, 1));
    d.act(TOM, LoanApprove { id: "l-saw".into() });
    d.act(TOM, LoanHandOver { id: "l-saw".into() });
    d
}

#[test]
fn loans_bring_requests_answers_and_reminders() {
    let mut d = borrower_device();
    d.later(HOUR);
    let entries = inbox(&d, 0);
    let kinds: Vec<InboxKind> = entries.iter().map(|e| e.kind).collect();
    assert_eq!(kinds.len(), 4, "{entries:#?}");

    let request = only(&entries, InboxKind::LoanRequested);
    assert_eq!(request.key, "loan-requested:l-ladder");
    assert_eq!(request.title, "Léa would like to borrow “Échelle”");
    assert_eq!(
        request.body,
        "Léa asks to borrow it from 2026-03-03 to 2026-03-04. “Pour repeindre le plafond.” Approve or decline the request."
    );
    assert_eq!(request.subject, loan_key("l-ladder"));

    let answers = of_kind(&entries, InboxKind::LoanAnswered);
    let declined = answers.iter().find(|e| e.subject == loan_key("l-bob")).unwrap();
    assert_eq!(declined.key, "loan-answered:l-bob:declined");
    assert_eq!(declined.title, "Mona cannot lend you “Perceuse”");
    assert_eq!(
        declined.body,
        "Perceuse was lent to Léa in the meantime. You asked for it from 2026-03-05 to 2026-03-06."
    );
    let approved = answers.iter().find(|e| e.subject == loan_key("l-tent")).unwrap();
    assert_eq!(approved.key, "loan-answered:l-tent:approved");
    assert_eq!(approved.title, "Chloé will lend you “Tente”");
    assert!(approved.body.contains("from 2026-03-12 to 2026-03-14") && approved.body.contains("Chloé"));

    let due = only(&entries, InboxKind::LoanDueSoon);
    assert_eq!(due.key, "loan-due:l-saw:2026-03-03");
    assert_eq!(due.title, "“Scie” is due back tomorrow");
    assert_eq!(due.body, "Please return it to Tom by the end of 2026-03-03.");

    // Newest first.
    assert!(entries.windows(2).all(|w| w[0].at >= w[1].at), "{entries:#?}");
    // Keys stay the same from one reading to the next.
    assert_eq!(keys(&inbox(&d, 0)), keys(&entries));

    // Bob lends his ladder: the request is answered, so it leaves the inbox.
    d.act(BOB, LoanApprove { id: "l-ladder".into() });
    d.act(BOB, LoanHandOver { id: "l-ladder".into() });
    assert!(of_kind(&inbox(&d, 0), InboxKind::LoanRequested).is_empty());

    // At 23:00 UTC the saw is due tomorrow in London, but already today two hours east.
    d.now = day(1).start_ms(0) - HOUR;
    assert_eq!(only(&inbox(&d, 0), InboxKind::LoanDueSoon).title, "“Scie” is due back tomorrow");
    let east = only(&inbox(&d, 120), InboxKind::LoanDueSoon);
    assert_eq!(east.title, "“Scie” is due back today");
    assert_eq!(east.key, due.key, "the same reminder, not a new one");

    // The day after its last day, the saw is overdue; the ladder is due back today.
    d.now = T0 + 2 * DAY_MS;
    let entries = inbox(&d, 0);
    let overdue = only(&entries, InboxKind::LoanOverdue);
    assert_eq!(overdue.key, "loan-overdue:l-saw:2026-03-03");
    assert_eq!(overdue.title, "“Scie” is overdue");
    assert_eq!(
        overdue.body,
        "It was due back to Tom on 2026-03-03. Please return it, or write to Tom in the loan's thread."
    );
    assert!(of_kind(&entries, InboxKind::LoanDueSoon).is_empty());

    // A day later Léa has not brought the ladder back: Bob, its owner, is told too.
    d.now = T0 + 3 * DAY_MS;
    let entries = inbox(&d, 0);
    let overdue = of_kind(&entries, InboxKind::LoanOverdue);
    let ladder = overdue.iter().find(|e| e.subject == loan_key("l-ladder")).unwrap();
    assert_eq!(ladder.title, "Léa has not returned “Échelle” yet");
    assert!(ladder.body.contains("2026-03-04") && ladder.body.contains("Léa"), "{}", ladder.body);
    assert_eq!(overdue.len(), 2);

    // Answers are news: after a week they are gone; reminders stay while they hold.
    d.now = T0 + 8 * DAY_MS;
    let entries = inbox(&d, 0);
    assert!(of_kind(&entries, InboxKind::LoanAnswered).is_empty(), "{entries:#?}");
    assert_eq!(of_kind(&entries, InboxKind::LoanOverdue).len(), 2);
    d.act(BOB, LoanReturn { id: "l-ladder".into() });
    d.act(TOM, LoanReturn { id: "l-saw".into() });
    assert!(inbox(&d, 0).is_empty());
}

#[test]
fn favours_bring_promises_and_thanks() {
    let mut d = Device::new(LEA);
    d.act(LEA, ask("a1", "Arroser mes plantes"));
    d.act(LEA, offer("o1", "Cours de guitare"));
    d.act(TOM, ask("a2", "Porter un canapé"));
    d.act(MONA, ask("a3", "Garder le chat"));
    d.later(HOUR);
    d.act(BOB, FavourRef { id: "a1".into() });
    d.act(CHLOE, FavourRef { id: "o1".into() });
    d.act(LEA, FavourRef { id: "a2".into() });
    d.act(LEA, FavourComplete { id: "a2".into() });
    d.act(TOM, FavourThank { id: "a2".into(), note: "Merci Léa, quelle force !".into() });
    d.act(BOB, FavourRef { id: "a3".into() });
    d.act(BOB, FavourComplete { id: "a3".into() });
    d.act(MONA, FavourThank { id: "a3".into(), note: String::new() });

    let entries = inbox(&d, 0);
    let taken = of_kind(&entries, InboxKind::FavourTakenUp);
    let titles: BTreeSet<&str> = taken.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(
        titles,
        BTreeSet::from(["Bob will help: Arroser mes plantes", "Chloé took up your offer: Cours de guitare"])
    );
    let a1 = taken.iter().find(|e| e.key == "favour-taken-up:a1:bob").unwrap();
    assert_eq!(a1.subject, EntityKey::new(NID, EntityKind::Favour, "a1"));
    assert!(a1.body.contains("Bob"), "{}", a1.body);
    let thanked = only(&entries, InboxKind::FavourThanked);
    assert_eq!(thanked.key, "favour-thanked:a2");
    assert_eq!(thanked.title, "Tom thanked you for “Porter un canapé”");
    assert_eq!(thanked.body, "“Merci Léa, quelle force !”");
    assert_eq!(entries.len(), 3, "Mona's thanks to Bob are not Léa's business: {entries:#?}");

    // Chloé's lesson is done and thanked (Léa was the helper of her own offer); Bob steps back.
    d.act(CHLOE, FavourComplete { id: "o1".into() });
    d.act(CHLOE, FavourThank { id: "o1".into(), note: String::new() });
    d.act(BOB, FavourWithdraw { id: "a1".into() });
    let entries = inbox(&d, 0);
    assert!(of_kind(&entries, InboxKind::FavourTakenUp).is_empty(), "{entries:#?}");
    let thanks = of_kind(&entries, InboxKind::FavourThanked);
    let o1 = thanks.iter().find(|e| e.key == "favour-thanked:o1").unwrap();
    assert_eq!(o1.title, "Chloé thanked you for “Cours de guitare”");
    assert!(o1.body.contains("Chloé"), "{}", o1.body);

    d.later(8 * DAY_MS);
    assert!(inbox(&d, 0).is_empty(), "thanks are news, and news expires");
}

fn market(me: &str) -> Device {
    let mut d = Device::new(me);
    d.act(TOM, stall("primeur", "Primeur Tom", None));
    d.act(TOM, product("tomates", "primeur", "Tomates", "kg", 350));
    d.act(TOM, product("radis", "primeur", "Radis", "bunch", 150));
    d
}

#[test]
fn pre_orders_bring_requests_to_the_trader_and_news_to_the_customer() {
    let mut tom = market(TOM);
    tom.act(LEA, order("o1", "primeur", &[("tomates", 2), ("radis", 1)], Some(2)));
    let placed = only(&inbox(&tom, 0), InboxKind::OrderPlaced);
    assert_eq!(placed.key, "order-placed:o1");
    assert_eq!(placed.title, "Léa pre-ordered at Primeur Tom");
    assert_eq!(
        placed.body,
        "Tomates (2 kg), Radis (1 bunch), to pick up on 2026-03-04. Confirm or decline it."
    );
    assert_eq!(placed.subject, EntityKey::new(NID, EntityKind::Order, "o1"));
    tom.act(TOM, OrderConfirm { id: "o1".into() });
    assert!(inbox(&tom, 0).is_empty());

    let mut lea = market(LEA);
    lea.act(LEA, order("o1", "primeur", &[("tomates", 2)], Some(2)));
    lea.act(LEA, order("o2", "primeur", &[("radis", 5)], None));
    assert!(inbox(&lea, 0).is_empty(), "nothing has happened to Léa's pre-orders yet");
    lea.later(HOUR);
    lea.act(TOM, OrderConfirm { id: "o1".into() });
    lea.act(TOM, OrderReady { id: "o1".into() });
    lea.act(TOM, OrderDecline { id: "o2".into(), reason: "Plus de radis cette semaine.".into() });
    let entries = inbox(&lea, 0);
    let ready = only(&entries, InboxKind::OrderReady);
    assert_eq!(
        (ready.key.as_str(), ready.title.as_str()),
        ("order-ready:o1", "Your pre-order at Primeur Tom is ready")
    );
    assert_eq!(ready.body, "Pick it up at Marché d'Aligre, row B, by the fountain.");
    let declined = only(&entries, InboxKind::OrderDeclined);
    assert_eq!(declined.title, "Primeur Tom declined your pre-order");
    assert_eq!(declined.body, "Plus de radis cette semaine. Nothing is reserved for you.");
    lea.act(TOM, OrderCollect { id: "o1".into() });
    assert!(of_kind(&inbox(&lea, 0), InboxKind::OrderReady).is_empty());
}

#[test]
fn messages_from_the_other_party_show_once_per_thread() {
    let mut d = Device::new(BOB);
    d.act(MONA, item("drill", "Perceuse", "tools", None));
    d.act(BOB, loan("l1", "drill", 2, 3));
    d.act(LEA, loan("l2", "drill", 5, 6));
    d.act(CHLOE, ask("f1", "Monter une étagère"));
    d.act(BOB, FavourRef { id: "f1".into() });
    d.later(HOUR);
    d.act(MONA, message("m1", ThreadKind::Loan, "l1", "Bonjour Bob !"));
    d.later(MINUTE);
    d.act(MONA, message("m2", ThreadKind::Loan, "l1", "Passe samedi matin, 12 rue d'Aligre."));
    d.later(MINUTE);
    d.act(BOB, message("m3", ThreadKind::Loan, "l1", "Merci, à samedi."));
    d.act(MONA, message("m4", ThreadKind::Loan, "l2", "Léa, c'est d'accord."));
    d.later(MINUTE);
    let long = "Il faudrait des chevilles de 8 mm. ".repeat(10);
    d.act(CHLOE, message("m5", ThreadKind::Favour, "f1", &long));

    let entries = inbox(&d, 0);
    let messages = of_kind(&entries, InboxKind::NewMessage);
    assert_eq!(messages.len(), 2, "{messages:#?}");
    let loan = messages.iter().find(|e| e.subject == loan_key("l1")).unwrap();
    assert_eq!(loan.key, "message:loan:l1:m2");
    assert_eq!(loan.title, "Mona wrote 2 messages about the loan of “Perceuse”");
    assert_eq!(loan.body, "Passe samedi matin, 12 rue d'Aligre.");
    let favour =
        messages.iter().find(|e| e.subject == EntityKey::new(NID, EntityKind::Favour, "f1")).unwrap();
    assert_eq!(favour.title, "Chloé wrote about “Monter une étagère”");
    assert!(favour.body.ends_with('…') && favour.body.chars().count() == 161, "{}", favour.body);
    assert_eq!(entries[0].key, favour.key, "the newest first");

    // A new message makes a new entry (to be notified), replacing the old one.
    d.later(MINUTE);
    d.act(MONA, message("m6", ThreadKind::Loan, "l1", "Et prends les mèches."));
    let messages = inbox(&d, 0);
    assert!(messages.iter().any(|e| e.key == "message:loan:l1:m6"));
    assert!(!messages.iter().any(|e| e.key == "message:loan:l1:m2"));

    d.later(8 * DAY_MS);
    assert!(of_kind(&inbox(&d, 0), InboxKind::NewMessage).is_empty());
}

/// What the sync client will write when the server refuses one of this phone's mutations.
fn refused(d: &Device, seq: i64, nid: &str, name: &str, args: &str, message: &str, dismissed: bool) {
    let mutation = format!(r#"{{"neighbourhood_id":"{nid}","author":"bob","name":"{name}","args":{args}}}"#);
    d.store
        .read(|conn| {
            conn.execute(
                "INSERT INTO rejected (seq, neighbourhood_id, name, mutation, code, message, rejected_at, dismissed) \
                 VALUES (?, ?, ?, ?, 'overlap', ?, ?, ?)",
                rusqlite::params![seq, nid, name, mutation, message, d.now, dismissed],
            )
            .unwrap();
            Ok(())
        })
        .unwrap();
}

#[test]
fn refused_changes_stay_until_dismissed() {
    let d = Device::new(BOB);
    let why = "The drill was lent to Léa in the meantime; choose other days.";
    refused(&d, 7, NID, "loan.request", r#"{"id":"l9","item_id":"drill"}"#, why, false);
    refused(&d, 8, NID, "favour.promise", r#"{"id":"f1"}"#, "Already promised.", true);
    refused(&d, 9, "elsewhere", "loan.request", r#"{"id":"l10"}"#, "Elsewhere.", false);
    let entries = inbox(&d, 0);
    let rejected = only(&entries, InboxKind::Rejected);
    assert_eq!(rejected.key, "rejected:7");
    assert_eq!(rejected.rejected_seq(), Some(7));
    assert_eq!(rejected.title, "Your request to borrow could not go through");
    assert_eq!(rejected.body, why);
    assert_eq!(rejected.subject, loan_key("l9"));
    assert_eq!(entries.len(), 1);

    d.store.dismiss_rejected(7).unwrap();
    assert!(inbox(&d, 0).is_empty());
    match d.store.dismiss_rejected(99) {
        Err(StoreError::NotFound(message)) => assert!(message.contains("99"), "{message}"),
        other => panic!("expected not found, got {other:?}"),
    }
    assert!(matches!(d.store.inbox(NID, T0, 24 * 60), Err(StoreError::Invalid(_))));
}

fn settings(quiet_start_min: u16, quiet_end_min: u16, daily_budget: u32) -> NotifySettings {
    NotifySettings { utc_offset_minutes: 60, quiet_start_min, quiet_end_min, daily_budget }
}

/// Local time (UTC+1) on the day of `T0` plus `days`.
fn local(days: i64, hour: i64, minute: i64) -> i64 {
    day(0).start_ms(60) + days * DAY_MS + hour * HOUR + minute * MINUTE
}

#[test]
fn quiet_hours_wrapping_midnight_hold_notifications_back() {
    let mut d = Device::new(BOB);
    d.act(BOB, item("ladder", "Échelle", "tools", None));
    d.act(LEA, loan("l1", "ladder", 2, 3));
    let night = settings(22 * 60, 7 * 60, 10);
    for (days, hour, minute) in [(0, 23, 30), (1, 0, 0), (1, 3, 15), (1, 6, 59)] {
        let due = d.store.notifications_due(NID, local(days, hour, minute), &night).unwrap();
        assert!(due.is_empty(), "{hour}:{minute} is quiet: {due:#?}");
    }
    let due = d.store.notifications_due(NID, local(1, 7, 0), &night).unwrap();
    assert_eq!(keys(&due), ["loan-requested:l1"]);
    assert!(d.store.notifications_due(NID, local(1, 7, 1), &night).unwrap().is_empty(), "not twice");
    // Quiet in the afternoon only, for a night worker.
    d.act(CHLOE, loan("l2", "ladder", 5, 6));
    let day_sleeper = settings(13 * 60, 21 * 60, 10);
    assert!(d.store.notifications_due(NID, local(1, 13, 0), &day_sleeper).unwrap().is_empty());
    assert_eq!(
        keys(&d.store.notifications_due(NID, local(1, 22, 0), &day_sleeper).unwrap()),
        ["loan-requested:l2"]
    );

    let wrong = NotifySettings { quiet_start_min: 1_500, ..night };
    assert!(matches!(d.store.notifications_due(NID, local(1, 12, 0), &wrong), Err(StoreError::Invalid(_))));
}

#[test]
fn the_daily_budget_spreads_notifications_over_local_days_most_pressing_first() {
    let mut d = Device::new(BOB);
    // Tom's saw, due back yesterday by the time we look; Chloé's tent, due back tomorrow.
    d.act(TOM, item("saw", "Scie", "tools", None));
    d.act(BOB, loan("l-saw", "saw", 0, 1));
    d.act(TOM, LoanApprove { id: "l-saw".into() });
    d.act(TOM, LoanHandOver { id: "l-saw".into() });
    d.act(CHLOE, item("tent", "Tente", "camping", None));
    d.act(BOB, loan("l-tent", "tent", 2, 3));
    d.act(CHLOE, LoanApprove { id: "l-tent".into() });
    d.act(MONA, item("drill", "Perceuse", "tools", None));
    d.act(BOB, loan("l-drill", "drill", 20, 21));
    d.act(MONA, LoanApprove { id: "l-drill".into() });
    d.now = T0 + 2 * DAY_MS;
    d.act(CHLOE, LoanHandOver { id: "l-tent".into() });
    d.act(TOM, stall("primeur", "Primeur Tom", None));
    d.act(TOM, product("tomates", "primeur", "Tomates", "kg", 350));
    d.act(BOB, order("o1", "primeur", &[("tomates", 1)], None));
    d.act(TOM, OrderConfirm { id: "o1".into() });
    d.act(TOM, OrderReady { id: "o1".into() });
    d.act(BOB, item("ladder", "Échelle", "tools", None));
    d.act(LEA, loan("l-ladder", "ladder", 5, 6));
    d.act(BOB, ask("f1", "Monter une étagère"));
    d.act(CHLOE, FavourRef { id: "f1".into() });
    d.later(MINUTE);
    d.act(CHLOE, message("m1", ThreadKind::Favour, "f1", "Samedi ?"));

    let all = d.store.inbox(NID, local(2, 10, 0), 60).unwrap();
    let kinds: BTreeSet<InboxKind> = all.iter().map(|e| e.kind).collect();
    assert_eq!(all.len(), 7, "{all:#?}");
    assert_eq!(kinds.len(), 7);

    let budget = settings(0, 0, 2);
    let mut told = Vec::new();
    let mut pick = |d: &Device, at: i64| -> Vec<InboxKind> {
        let due = d.store.notifications_due(NID, at, &budget).unwrap();
        told.extend(keys(&due));
        due.iter().map(|e| e.kind).collect()
    };
    // Day 1 (local): the two most pressing, then nothing more that day, even late in the evening.
    assert_eq!(pick(&d, local(2, 10, 0)), [InboxKind::LoanOverdue, InboxKind::LoanDueSoon]);
    assert!(pick(&d, local(2, 15, 0)).is_empty());
    assert!(pick(&d, local(2, 23, 59)).is_empty());
    // Half past midnight local is still 23:30 UTC, but it is a new local day with a new budget.
    assert_eq!(pick(&d, local(3, 0, 30)), [InboxKind::OrderReady, InboxKind::LoanRequested]);
    assert!(pick(&d, local(3, 9, 0)).is_empty(), "the tent, due today, was told already");
    d.act(CHLOE, LoanReturn { id: "l-tent".into() });
    // Then the rest, newest first.
    assert_eq!(pick(&d, local(4, 9, 0)), [InboxKind::NewMessage, InboxKind::FavourTakenUp]);
    assert_eq!(pick(&d, local(5, 9, 0)), [InboxKind::LoanAnswered]);
    assert!(pick(&d, local(6, 9, 0)).is_empty());

    // Nothing was told twice, and everything was told.
    let unique: BTreeSet<&String> = told.iter().collect();
    assert_eq!(unique.len(), told.len(), "{told:?}");
    assert_eq!(unique, keys(&all).iter().collect::<BTreeSet<_>>());

    let none = settings(0, 0, 0);
    d.act(CHLOE, message("m2", ThreadKind::Favour, "f1", "Ou dimanche ?"));
    assert!(
        d.store.notifications_due(NID, local(7, 9, 0), &none).unwrap().is_empty(),
        "a budget of 0 says nothing"
    );
    assert_eq!(
        keys(&d.store.notifications_due(NID, local(7, 9, 0), &budget).unwrap()),
        ["message:favour:f1:m2"]
    );
}
