//! Input at the limits through the binding's surface (what Kotlin and Swift call): huge text, numbers
//! at the limits of their types and days out of range come back as typed errors with a sentence,
//! never a panic, and nothing is saved.

#![allow(clippy::unwrap_used)]

use quartier_ffi::{FavourDraft, ItemDraft, Quartier, QuartierError};

#[test]
fn values_past_their_limits_are_typed_errors() {
    let dir = tempfile::TempDir::new().unwrap();
    let q = Quartier::open(dir.path().join("q.db").display().to_string()).unwrap();
    let nid = q.create_neighbourhood("Aligre".into(), String::new(), "Alice".into()).unwrap();
    let item = q
        .add_item(
            nid.clone(),
            ItemDraft {
                title: "Drill".into(),
                category: "tools".into(),
                condition: quartier_ffi::Condition::Good,
                description: String::new(),
                deposit_note: String::new(),
            },
        )
        .unwrap();
    let before = q.outbox_count().unwrap();
    let huge = FavourDraft {
        title: "x".repeat(100_000),
        category: "garden".into(),
        details: String::new(),
        window: None,
    };
    let refusals = [
        q.ask_favour(nid.clone(), huge).map(|_| ()),
        q.invite(nid.clone(), u32::MAX, 7).map(|_| ()),
        q.invite(nid.clone(), 1, u32::MAX).map(|_| ()),
        q.request_loan(nid.clone(), item.clone(), "9999-12-31".into(), "9999-12-31".into(), String::new())
            .map(|_| ()),
        q.request_loan(nid.clone(), item.clone(), "2026-02-30".into(), "2026-03-01".into(), String::new())
            .map(|_| ()),
        q.request_loan(nid.clone(), item, "tomorrow".into(), "tomorrow".into(), "n".repeat(1 << 20))
            .map(|_| ()),
        q.favours(nid.clone(), None, u32::MAX, u32::MAX).map(|_| ()),
    ];
    for (i, refusal) in refusals.into_iter().enumerate() {
        match refusal {
            Err(QuartierError::Refused { reason, .. } | QuartierError::Invalid { reason }) => {
                assert!(reason.len() > 10, "case {i}: {reason}");
            }
            other => panic!("case {i}: expected a typed refusal, got {other:?}"),
        }
    }
    assert_eq!(q.outbox_count().unwrap(), before, "nothing was saved");
}
