//! `export_json` through the binding's Rust surface (the same function the Kotlin and Swift shells
//! call): what the person wrote, as JSON; an unknown neighbourhood is a typed `NotFound`.

#![allow(clippy::unwrap_used)]

use quartier_ffi::{FavourDraft, Quartier, QuartierError};

#[test]
fn export_gives_what_the_person_wrote_as_json() {
    let dir = tempfile::TempDir::new().unwrap();
    let q = Quartier::open(dir.path().join("q.db").display().to_string()).unwrap();
    let nid = q.create_neighbourhood("Aligre".into(), String::new(), "Alice".into()).unwrap();
    let draft = FavourDraft {
        title: "Water my plants".into(),
        category: "garden".into(),
        details: String::new(),
        window: None,
    };
    let favour = q.ask_favour(nid.clone(), draft).unwrap();
    let json: serde_json::Value = serde_json::from_str(&q.export_json(nid.clone()).unwrap()).unwrap();
    assert_eq!(json["format"], "quartier.export.v1");
    assert_eq!(json["neighbourhood_id"], nid.as_str());
    assert_eq!(json["member_id"], q.identity().person_id.as_str());
    assert_eq!(json["profile"]["display_name"], "Alice");
    assert_eq!(json["favours"][0]["id"], favour.as_str());
    assert_eq!(json["favours"][0]["title"], "Water my plants");

    match q.export_json("nowhere".into()) {
        Err(QuartierError::NotFound { reason }) => assert!(reason.contains("nowhere"), "{reason}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
}
