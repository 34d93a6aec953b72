//! Privacy on the server, on both backends: no coordinate finer than a coarse cell in the schema, in
//! what is stored, or in what is sent; every `cell` is a `{row, col}` pair and nothing else.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;

/// Field names that would carry a place finer than a cell.
const PLACE_WORDS: [&str; 8] = ["lat", "lon", "lng", "latitude", "longitude", "coord", "geo", "address"];

fn is_place_word(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    PLACE_WORDS.iter().any(|word| name == *word || name.contains("coord") || name.starts_with("lat"))
        || name.starts_with("lon")
        || name.ends_with("_lat")
        || name.ends_with("_lon")
}

/// Walks a JSON value: no key names a place, no number is fractional, every `cell` is `{row, col}`.
pub fn assert_no_coordinates(value: &serde_json::Value, at: &str) {
    match value {
        serde_json::Value::Number(n) => {
            assert!(n.is_i64() || n.is_u64(), "{at}: the number {n} is not a whole number");
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                assert_no_coordinates(item, &format!("{at}[{i}]"));
            }
        }
        serde_json::Value::Object(object) => {
            for (key, inner) in object {
                assert!(!is_place_word(key), "{at}.{key}: a field that names a place");
                if key == "cell" && !inner.is_null() {
                    let keys: Vec<&String> = inner.as_object().unwrap().keys().collect();
                    assert_eq!(keys, ["col", "row"], "{at}.cell");
                }
                assert_no_coordinates(inner, &format!("{at}.{key}"));
            }
        }
        _ => {}
    }
}

/// A spot in the Aligre market, to five decimals (about a metre).
const HOME: (f64, f64) = (48.84937, 2.37812);

async fn nothing_finer_than_a_cell_is_stored_or_sent(db: Db) {
    let server = TestServer::start(db).await;
    let mut h = hood(&server).await;
    let cell = Some(Cell::from_coordinates(HOME.0, HOME.1).unwrap());
    let profile =
        MemberUpdateProfile { display_name: "Léa".into(), bio: "plants".into(), skills: vec![], cell };
    server.act(&mut h.lea, &h.nid, profile).await;
    server.act(&mut h.lea, &h.nid, ItemAdd { cell, ..item("drill", "Drill") }).await;
    server.act(&mut h.lea, &h.nid, FavourPost { cell, ..ask("plants", "Water my plants") }).await;
    server.act(&mut h.tom, &h.nid, StallOpen { cell, ..stall("stall", "Greens") }).await;

    // What is sent: every page a member pulls.
    let response = server.pull(&h.bob, &h.nid, 0, None).await;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let page: serde_json::Value = response.json().await.unwrap();
    let cells = page.to_string().matches("\"cell\":{").count();
    assert!(cells >= 4, "the profile, item, favour and stall carry their cell: {page}");
    assert_no_coordinates(&page, "pull");

    // What is stored: no column for a coordinate or a fraction, and not the coordinate's digits.
    let schema = blocking(|| server.database.float_or_place_columns());
    assert!(schema.is_empty(), "columns that could hold a coordinate: {schema:?}");
    let stored = blocking(|| server.database.stored_bytes());
    let text = String::from_utf8_lossy(&stored);
    for digits in ["48.849", "2.378", "4884937", "237812"] {
        assert!(!text.contains(digits), "the database holds {digits}");
    }
    assert!(text.contains("Drill"), "the scan reads the stored rows");
}

/// What a member who left had written is gone from the database's files once the log is checkpointed:
/// its rows' old bytes are overwritten where they lay (SQLite's `secure_delete`), not only unlisted.
async fn what_a_member_who_left_wrote_is_not_left_in_the_files(db: Db) {
    let server = TestServer::start(db).await;
    let h = hood(&server).await;
    let mut lea = h.lea;
    let favour =
        FavourPost { details: "Near the Zanzibar kiosk".into(), ..ask("f-lea", "Water my quokka plants") };
    server.act(&mut lea, &h.nid, favour).await;
    server.act(&mut lea, &h.nid, item("drill", "Wombat drill")).await;
    let words = ["Zanzibar", "quokka", "Wombat"];
    let stored = blocking(|| server.database.stored_bytes());
    let text = String::from_utf8_lossy(&stored);
    assert!(words.iter().all(|word| text.contains(word)), "the scan reads what is stored");

    server.act(&mut lea, &h.nid, MemberLeave {}).await;
    blocking(|| server.database.checkpoint());
    let stored = blocking(|| server.database.stored_bytes());
    let text = String::from_utf8_lossy(&stored);
    for word in words {
        assert!(!text.contains(word), "the database still holds {word:?}");
    }
}

on_both_backends!(
    nothing_finer_than_a_cell_is_stored_or_sent,
    what_a_member_who_left_wrote_is_not_left_in_the_files,
);
