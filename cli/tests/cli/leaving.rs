//! A member takes their data along (`quartier export`) and leaves: what they wrote is removed on the
//! server and on every device after sync, and what others wrote around it is settled as
//! SECURITY.md ("Leaving") says: loans of their items go, their pre-orders give their stock back.

use crate::support::*;
use crate::together::{Hub, find, neighbourhood};
use serde_json::Value;
use tempfile::TempDir;

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array().unwrap().iter().map(|v| v[key]["id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn a_member_exports_what_they_wrote_then_leaves_and_it_is_removed_everywhere() {
    let hub = Hub::start();
    let home = TempDir::new().unwrap();
    let (alice, bob, tom) = neighbourhood(&hub, &home);
    let bob_id = bob.json(&["whoami"])["person_id"].as_str().unwrap().to_owned();

    // Tom's stall; Bob's favour, ladder, message and pre-order; Alice's favour, loan of the ladder and
    // her answer in Bob's thread.
    let stall = tom.create(&[
        "stall",
        "open",
        "--name",
        "Vergers",
        "--market",
        "Aligre",
        "--days",
        "sat",
        "--hours",
        "08:00-13:00",
    ]);
    let apples = tom.create(&[
        "product", "add", "--stall", &stall, "--name", "Pommes", "--unit", "kg", "--price", "3", "--stock",
        "10",
    ]);
    tom.json(&["sync"]);
    bob.json(&["sync"]);
    let favour = bob.create(&["favour", "ask", "--title", "Feed my cat", "--category", "pets"]);
    let ladder = bob.create(&["item", "add", "--title", "Echelle", "--category", "diy"]);
    let line = format!("{apples}:3");
    let order = bob.create(&["order", "place", "--stall", &stall, "--line", &line, "--pickup", "tomorrow"]);
    bob.json(&["sync"]);
    alice.json(&["sync"]);
    let hers = alice.create(&["favour", "ask", "--title", "Water my plants", "--category", "garden"]);
    let loan = alice.create(&["loan", "request", &ladder, "--from", "tomorrow", "--to", "tomorrow"]);
    alice.json(&["favour", "promise", &favour]);
    alice.json(&["sync"]);
    bob.json(&["sync"]);
    bob.json(&["message", "--favour", &favour, "Twice a day please"]);
    bob.json(&["sync"]);
    alice.json(&["sync"]);
    alice.json(&["message", "--favour", &favour, "I can do mornings"]);
    alice.json(&["sync"]);
    tom.json(&["sync"]);
    tom.json(&["order", "confirm", &order]);
    tom.json(&["sync"]);
    bob.json(&["sync"]);

    // The export: what Bob wrote, and nothing that others wrote.
    let out = bob.cmd(&["export"]).success().get_output().stdout.clone();
    let export: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(export["format"], "quartier.export.v1");
    assert_eq!(export["neighbourhood_name"], "Aligre");
    assert_eq!(export["member_id"], bob_id.as_str());
    assert_eq!(export["profile"]["display_name"], "Bob");
    let of = |list: &str| -> Vec<String> {
        export[list].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(of("favours"), vec![favour.clone()]);
    assert_eq!(of("items"), vec![ladder.clone()]);
    assert_eq!(of("orders"), vec![order.clone()]);
    assert_eq!(of("loans"), Vec::<String>::new(), "Alice's request for the ladder is hers");
    let messages = export["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["body"], "Twice a day please");
    assert!(!String::from_utf8_lossy(&out).contains("code_hash"), "no invitation secret in an export");

    // Leaving needs a confirmation, then removes Bob's content here and, after sync, everywhere.
    bob.fails(2, &["member", "leave"]);
    bob.json(&["member", "leave", "--yes"]);
    bob.json(&["sync"]);
    for person in [&alice, &tom] {
        person.json(&["sync"]);
        let favours = ids(&person.json(&["favour", "list"]), "favour");
        assert!(!favours.contains(&favour) && favours.contains(&hers), "{}: {favours:?}", person.profile);
        assert!(!ids(&person.json(&["item", "list"]), "item").contains(&ladder), "{}", person.profile);
        // The thread on his favour went with it, Alice's answer in it included.
        person.fails(4, &["thread", "--favour", &favour]);
    }
    // The loan of his ladder went with it; the apples his confirmed pre-order held are back on sale.
    let borrowing = alice.json(&["loan", "list", "--borrowing"]);
    assert!(!ids(&borrowing, "loan").contains(&loan), "{borrowing}");
    assert!(!ids(&tom.json(&["order", "list", "--stall", &stall]), "order").contains(&order));
    let products = tom.json(&["product", "list", "--stall", &stall]);
    let pommes = products.as_array().unwrap().iter().find(|p| p["id"] == apples.as_str()).unwrap();
    assert_eq!((pommes["stock"].as_i64(), pommes["reserved"].as_i64()), (Some(10), Some(0)), "{pommes}");
    // Bob is no longer listed, and his profile is gone (the domain keeps a "former member" tombstone).
    let members = alice.json(&["member", "list"]);
    assert!(!ids(&members, "member").contains(&bob_id), "{members}");
    find(&members, "member", "display_name", "Alice");

    // The server holds none of it either: a newcomer who pulls everything from scratch sees none of it.
    let code = alice.json(&["invite"])["code"].as_str().unwrap().to_owned();
    alice.json(&["sync"]);
    let chloe = Person::new(&home, "chloe");
    hub.register(&chloe);
    chloe.json(&["join", &code, "--name", "Chloé"]);
    chloe.json(&["sync"]);
    assert_eq!(ids(&chloe.json(&["favour", "list"]), "favour"), vec![hers]);
    assert!(!ids(&chloe.json(&["item", "list"]), "item").contains(&ladder));
}
