//! One person at the terminal, with no server: everything is saved on the device.

use crate::support::*;
use tempfile::TempDir;

#[test]
fn a_neighbour_asks_a_favour_edits_it_and_cancels_it() {
    let home = TempDir::new().unwrap();
    let alice = found(&home, "alice", "Alice");
    let id = alice.create(&[
        "favour",
        "ask",
        "--title",
        "Water my plants",
        "--details",
        "Two pots on the balcony",
        "--category",
        "garden",
        "--on",
        "2030-06-01",
        "--from",
        "10:00",
        "--until",
        "12:00",
    ]);
    let listed = alice.say(&["favour", "list"]);
    assert!(
        listed.contains("Water my plants") && listed.contains("ask") && listed.contains("open"),
        "{listed}"
    );
    assert!(listed.contains(&id[id.len() - 8..]), "listings show the short id: {listed}");

    let short = &id[id.len() - 8..];
    alice.json(&["favour", "edit", short, "--title", "Water my tomatoes", "--category", "garden"]);
    let favours = alice.json(&["favour", "list"]);
    assert_eq!(favours[0]["favour"]["title"], "Water my tomatoes");
    assert_eq!(favours[0]["author_name"], "Alice");

    alice.json(&["favour", "cancel", short]);
    assert_eq!(
        alice.json(&["favour", "list"]).as_array().unwrap().len(),
        0,
        "cancelled favours are not open"
    );
    let mine = alice.json(&["favour", "list", "--mine"]);
    assert_eq!(mine[0]["favour"]["status"], "cancelled");
    let refused = alice.fails(3, &["favour", "cancel", short]);
    assert_eq!(refused["code"], "wrong_state");
    assert!(refused["message"].as_str().unwrap().contains("cancelled"), "{refused}");
}

#[test]
fn a_neighbour_lends_an_item_and_sees_its_calendar() {
    let home = TempDir::new().unwrap();
    let alice = found(&home, "alice", "Alice");
    let drill = alice.create(&[
        "item",
        "add",
        "--title",
        "Perceuse Bosch",
        "--category",
        "diy",
        "--condition",
        "good",
        "--deposit",
        "20 €",
    ]);
    let items = alice.json(&["item", "list"]);
    assert_eq!(items[0]["item"]["title"], "Perceuse Bosch");
    assert!(alice.say(&["item", "calendar", &drill]).contains("Free"));
    // Search folds case and accents.
    let hits = alice.json(&["search", "perceuse"]);
    assert_eq!(hits[0]["id"], drill.as_str());
    assert_eq!(alice.json(&["search", "perc", "--newest"])[0]["id"], drill.as_str());
    // Borrowing your own drill is refused by the rules, with a reason code.
    let refused = alice.fails(3, &["loan", "request", &drill, "--from", "2030-06-01", "--to", "2030-06-02"]);
    assert_eq!(refused["code"], "forbidden");
    alice.json(&["item", "withdraw", &drill]);
    assert_eq!(alice.json(&["item", "list"]).as_array().unwrap().len(), 0);
    alice.json(&["item", "relist", &drill]);
    assert_eq!(alice.json(&["item", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn a_traders_day_at_the_stall() {
    let home = TempDir::new().unwrap();
    let tom = found(&home, "tom", "Tom");
    let stall = tom.create(&[
        "stall",
        "open",
        "--name",
        "Les Vergers de Tom",
        "--market",
        "Marché d'Aligre",
        "--days",
        "tue,sat,sun",
        "--hours",
        "07:30-13:30",
        "--place",
        "row B",
    ]);
    let radishes = tom.create(&[
        "product", "add", "--stall", &stall, "--name", "Radis", "--unit", "bunch", "--price", "1.50",
        "--stock", "12", "--today",
    ]);
    let pates = tom.create(&[
        "product",
        "add",
        "--stall",
        &stall,
        "--name",
        "Pâtes fraîches",
        "--unit",
        "kg",
        "--price",
        "8,90",
        "--stock",
        "5",
    ]);
    tom.json(&["product", "stock", &radishes, "-3"]);
    tom.json(&["product", "stock", &radishes, "+10"]);
    tom.json(&["product", "price", &radishes, "1.80"]);
    tom.json(&["product", "today", &pates, "on"]);
    let shown = tom.say(&["stall", "show", &stall]);
    assert!(shown.contains("Les Vergers de Tom") && shown.contains("tue,sat,sun 07:30-13:30"), "{shown}");
    assert!(shown.contains("Radis · 1.80 per bunch · 19 in stock · today"), "{shown}");
    assert!(shown.contains("Pâtes fraîches · 8.90 per kg · 5 in stock · today"), "{shown}");

    // The evening stocktake sets the count.
    tom.json(&["product", "count", &radishes, "4"]);
    let products = tom.json(&["product", "list", "--stall", &stall]);
    let radis = products.as_array().unwrap().iter().find(|p| p["name"] == "Radis").unwrap();
    assert_eq!(radis["stock"], 4);
    // Selling more than is left is refused, and changes nothing.
    let refused = tom.fails(3, &["product", "stock", &radishes, "-5"]);
    assert_eq!(refused["code"], "insufficient_stock");
    assert!(refused["message"].as_str().unwrap().contains("Only 4 bunch of Radis left"), "{refused}");
    // Search finds "pâtes" from "pates".
    let hits = tom.json(&["search", "pates", "--kind", "product"]);
    assert_eq!(hits[0]["id"], pates.as_str());
    // Nothing here is lost: everything waits in the outbox, in order.
    let outbox = tom.json(&["outbox"]);
    let names: Vec<&str> = outbox.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "neighbourhood.create",
            "stall.open",
            "product.add",
            "product.add",
            "product.adjust_stock",
            "product.adjust_stock",
            "product.set_price",
            "product.set_available_today",
            "product.stocktake",
        ]
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let home = TempDir::new().unwrap();
    let alice = found(&home, "alice", "Alice");
    let before = alice.json(&["outbox"]).as_array().unwrap().len();

    let empty = alice.fails(3, &["favour", "ask", "--title", "   "]);
    assert_eq!(empty["code"], "invalid");
    assert!(empty["message"].as_str().unwrap().contains("title is empty"), "{empty}");

    let stall = alice.create(&[
        "stall",
        "open",
        "--name",
        "Jams",
        "--market",
        "Aligre",
        "--days",
        "sat",
        "--hours",
        "08:00-12:00",
    ]);
    let negative = alice
        .fails(2, &["product", "add", "--stall", &stall, "--name", "Jam", "--unit", "jar", "--price", "-2"]);
    assert!(negative["message"].as_str().unwrap().contains("not a price"), "{negative}");
    let unknown = alice.fails(4, &["favour", "promise", "deadbeef"]);
    assert!(unknown["message"].as_str().unwrap().contains("no favour with id deadbeef"), "{unknown}");
    let bad_day = alice.fails(2, &["item", "add", "--title", "Ladder", "--condition", "shiny"]);
    assert_eq!(bad_day["code"], "usage");
    let bad_hours = alice
        .fails(2, &["stall", "open", "--name", "X", "--market", "Y", "--days", "sat", "--hours", "8h-12h"]);
    assert!(bad_hours["message"].as_str().unwrap().contains("08:00-13:00"), "{bad_hours}");
    let bad_place = alice.fails(2, &["favour", "ask", "--title", "Help", "--lat", "123", "--lon", "2"]);
    assert!(bad_place["message"].as_str().unwrap().contains("latitude"), "{bad_place}");

    // One stall was opened; nothing else was saved.
    assert_eq!(alice.json(&["outbox"]).as_array().unwrap().len(), before + 1);
}

#[test]
fn a_profile_in_no_neighbourhood_and_a_damaged_database_are_explained() {
    let home = TempDir::new().unwrap();
    let nobody = Person::new(&home, "nobody");
    let err = nobody.fails(6, &["favour", "list"]);
    assert!(err["message"].as_str().unwrap().contains("no neighbourhood"), "{err}");

    let broken = Person::new(&home, "broken");
    let dir = broken.home.join("profiles").join("broken");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("quartier.db"), b"not a database at all, just some words ".repeat(100)).unwrap();
    let err = broken.fails(5, &["whoami"]);
    assert_eq!(err["code"], "storage");
    assert!(err["message"].as_str().unwrap().contains("damaged"), "{err}");
    let human = broken.cmd(&["whoami"]).code(5).get_output().stderr.clone();
    assert!(
        String::from_utf8_lossy(&human).starts_with("quartier: the database file"),
        "people get a sentence on stderr"
    );
}

#[test]
fn invitations_print_a_code_and_settings_are_kept() {
    let home = TempDir::new().unwrap();
    let alice = found(&home, "alice", "Alice");
    let invitation = alice.json(&["invite", "--uses", "3", "--days", "7"]);
    let code = invitation["code"].as_str().unwrap();
    assert_eq!(code.len(), 19);
    let refused = alice.fails(3, &["invite", "--days", "45"]);
    assert!(refused["message"].as_str().unwrap().contains("30 days"), "{refused}");
    alice.json(&[
        "settings",
        "--utc-offset",
        "+01:00",
        "--quiet-hours",
        "22:00-07:00",
        "--daily-budget",
        "5",
    ]);
    let settings = alice.json(&["settings"]);
    assert_eq!(settings["utc_offset_minutes"], 60);
    assert_eq!(settings["quiet_start_min"], 22 * 60);
    assert_eq!(settings["daily_budget"], 5);
    let me = alice.json(&["whoami"]);
    assert_eq!(me["profile"], "alice");
    assert!(me["neighbourhood_id"].is_string());
}
