//! Neighbours at the terminal, each with their own profile, syncing through a real server.

use crate::support::*;
use quartier_e2e::TestServer;
use serde_json::Value;
use tempfile::TempDir;

/// A running server and the runtime that serves it, for the length of a test.
pub(crate) struct Hub {
    server: TestServer,
    _runtime: tokio::runtime::Runtime,
}

impl Hub {
    pub(crate) fn start() -> Hub {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let server = runtime.block_on(TestServer::start());
        Hub { server, _runtime: runtime }
    }

    pub(crate) fn register(&self, person: &Person) {
        person.json(&["register", "--server", &self.server.url]);
    }
}

/// Alice founds the neighbourhood and invites; Bob (and Tom, whom Alice makes a trader) join.
pub(crate) fn neighbourhood(hub: &Hub, home: &TempDir) -> (Person, Person, Person) {
    let alice = found(home, "alice", "Alice");
    hub.register(&alice);
    let code = alice.json(&["invite", "--uses", "2"])["code"].as_str().unwrap().to_owned();
    alice.json(&["sync"]);
    let bob = Person::new(home, "bob");
    let tom = Person::new(home, "tom");
    for (person, name) in [(&bob, "Bob"), (&tom, "Tom")] {
        hub.register(person);
        let joined = person.json(&["join", &code, "--name", name]);
        assert_eq!(joined["neighbourhood_name"], "Aligre");
    }
    alice.json(&["sync"]);
    let tom_id = tom.json(&["whoami"])["person_id"].as_str().unwrap().to_owned();
    alice.json(&["member", "role", &tom_id, "trader"]);
    alice.json(&["sync"]);
    tom.json(&["sync"]);
    (alice, bob, tom)
}

pub(crate) fn find<'a>(list: &'a Value, key: &str, field: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|v| v[key][field] == value)
        .unwrap_or_else(|| panic!("no {key} with {field} = {value} in {list}"))
}

#[test]
fn a_neighbour_asks_a_favour_and_another_promises_it() {
    let hub = Hub::start();
    let home = TempDir::new().unwrap();
    let (alice, bob, _tom) = neighbourhood(&hub, &home);

    let water = alice.create(&["favour", "ask", "--title", "Water my plants", "--category", "garden"]);
    let said = alice.say(&["sync"]);
    assert!(said.starts_with("Sent 1 change(s)"), "{said}");
    bob.json(&["sync"]);
    let open = bob.say(&["favour", "list"]);
    assert!(open.contains("Water my plants") && open.contains("by Alice"), "{open}");
    bob.json(&["favour", "promise", &water]);
    bob.json(&["sync"]);
    alice.json(&["sync"]);

    let mine = alice.json(&["favour", "list", "--mine"]);
    let favour = find(&mine, "favour", "id", &water);
    assert_eq!(favour["favour"]["status"], "promised");
    assert_eq!(favour["counterpart_name"], "Bob");
    let inbox = alice.say(&["inbox"]);
    assert!(inbox.contains("Bob"), "Alice is told who took her favour up: {inbox}");

    bob.json(&["message", "--favour", &water, "I'll come at ten"]);
    bob.json(&["favour", "done", &water]);
    bob.json(&["sync"]);
    alice.json(&["sync"]);
    assert!(alice.say(&["thread", "--favour", &water]).contains("Bob: I'll come at ten"));
    alice.json(&["favour", "thank", &water, "--note", "Merci !"]);
    alice.json(&["sync"]);
    bob.json(&["sync"]);
    let bob_id = bob.json(&["whoami"])["person_id"].as_str().unwrap().to_owned();
    let profile = bob.json(&["profile", "show", &bob_id]);
    assert_eq!(profile["thanks_received"], 1);
}

#[test]
fn a_loan_from_request_to_return() {
    let hub = Hub::start();
    let home = TempDir::new().unwrap();
    let (alice, bob, _tom) = neighbourhood(&hub, &home);
    let drill =
        alice.create(&["item", "add", "--title", "Perceuse", "--category", "diy", "--deposit", "20 €"]);
    alice.json(&["sync"]);
    bob.json(&["sync"]);
    let loan = bob.create(&[
        "loan",
        "request",
        &drill,
        "--from",
        "tomorrow",
        "--to",
        "tomorrow",
        "--note",
        "For shelves",
    ]);
    bob.json(&["sync"]);
    alice.json(&["sync"]);
    assert!(alice.say(&["inbox"]).contains("Perceuse"), "the owner is told of the request");
    // Bob may not approve his own request: only the owner decides.
    assert_eq!(bob.fails(3, &["loan", "approve", &loan])["code"], "forbidden");
    for step in ["approve", "hand-over", "return"] {
        alice.json(&["loan", step, &loan]);
    }
    alice.json(&["sync"]);
    bob.json(&["sync"]);
    let loans = bob.json(&["loan", "list", "--borrowing"]);
    assert_eq!(find(&loans, "loan", "id", &loan)["loan"]["status"], "returned");
    assert_eq!(bob.json(&["outbox"]).as_array().unwrap().len(), 0);
}

#[test]
fn a_traders_day_with_a_pre_order() {
    let hub = Hub::start();
    let home = TempDir::new().unwrap();
    let (_alice, bob, tom) = neighbourhood(&hub, &home);
    let stall = tom.create(&[
        "stall",
        "open",
        "--name",
        "Les Vergers de Tom",
        "--market",
        "Aligre",
        "--days",
        "sat",
        "--hours",
        "08:00-13:00",
    ]);
    let radishes = tom.create(&[
        "product", "add", "--stall", &stall, "--name", "Radis", "--unit", "bunch", "--price", "1.50",
        "--stock", "10", "--today",
    ]);
    tom.json(&["sync"]);
    bob.json(&["sync"]);
    let line = format!("{radishes}:3");
    let order = bob.create(&["order", "place", "--stall", &stall, "--line", &line, "--pickup", "tomorrow"]);
    bob.json(&["sync"]);
    tom.json(&["sync"]);
    let pending = tom.json(&["order", "list", "--stall", &stall]);
    assert_eq!(find(&pending, "order", "id", &order)["order"]["status"], "placed");
    // Sold at the stall meanwhile; the pre-order is confirmed, which reserves its 3 bunches.
    tom.json(&["product", "stock", &radishes, "-5"]);
    tom.json(&["order", "confirm", &order]);
    let refused = tom.fails(3, &["product", "stock", &radishes, "-3"]);
    assert_eq!(refused["code"], "insufficient_stock");
    tom.json(&["order", "ready", &order]);
    tom.json(&["sync"]);
    bob.json(&["sync"]);
    assert!(bob.say(&["inbox"]).contains("ready"), "Bob is told his pre-order is ready");
    tom.json(&["order", "collect", &order]);
    tom.json(&["sync"]);
    bob.json(&["sync"]);
    let mine = bob.json(&["order", "list"]);
    let collected = find(&mine, "order", "id", &order);
    assert_eq!(collected["order"]["status"], "collected");
    assert_eq!(collected["total_cents"], 450);
    let products = tom.json(&["product", "list", "--stall", &stall]);
    assert_eq!(products[0]["stock"], 2);
    assert_eq!(products[0]["reserved"], 0);
}

#[test]
fn sync_problems_are_explained() {
    let home = TempDir::new().unwrap();
    let alice = found(&home, "alice", "Alice");
    let unregistered = alice.fails(6, &["sync"]);
    assert!(unregistered["message"].as_str().unwrap().contains("register"), "{unregistered}");
    let insecure = alice.fails(2, &["register", "--server", "http://sync.example.org"]);
    assert!(insecure["message"].as_str().unwrap().contains("https://"), "{insecure}");
    // Nothing listens on this port: the client says so, and what was saved stays saved.
    let offline = alice.fails(7, &["register", "--server", "http://127.0.0.1:9"]);
    assert!(offline["message"].as_str().unwrap().contains("cannot be reached"), "{offline}");
    assert_eq!(alice.json(&["outbox"]).as_array().unwrap().len(), 1);
}

#[test]
fn a_trader_pairs_a_tablet_and_both_run_the_stall() {
    let hub = Hub::start();
    let home = TempDir::new().unwrap();
    let (_alice, bob, tom) = neighbourhood(&hub, &home);
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
        "20",
    ]);
    tom.json(&["sync"]);
    let link = tom.json(&["link-device"])["link"].as_str().unwrap().to_owned();
    let tablet = Person::new(&home, "tom-tablet");
    tablet.json(&["pair", &link]);
    assert_eq!(tablet.json(&["whoami"])["person_id"], tom.json(&["whoami"])["person_id"]);
    // Both devices sell offline; the moves add up once both have synced.
    tablet.json(&["product", "stock", &apples, "-4"]);
    tom.json(&["product", "stock", &apples, "-1"]);
    tablet.json(&["sync"]);
    tom.json(&["sync"]);
    tablet.json(&["sync"]);
    bob.json(&["sync"]);
    for person in [&tom, &tablet, &bob] {
        assert_eq!(
            person.json(&["product", "list", "--stall", &stall])[0]["stock"],
            15,
            "{}",
            person.profile
        );
    }
    // Tom sees both devices, and takes the tablet off his account (sold): its syncs are refused.
    let devices = tom.json(&["devices"]);
    let devices = devices.as_array().unwrap();
    assert_eq!(devices.len(), 2, "{devices:?}");
    assert_eq!(devices[0]["this_device"], true);
    let tablet_id = devices[1]["device_id"].as_str().unwrap().to_owned();
    tom.json(&["remove-device", &tablet_id]);
    let refused = tablet.fails(6, &["sync"]);
    assert_eq!(refused["code"], "not_set_up");
    assert!(refused["message"].as_str().unwrap().contains("taken off its account"), "{refused}");
    assert_eq!(tom.json(&["devices"]).as_array().unwrap().len(), 1);
    // His last device stays.
    let tom_id = devices[0]["device_id"].as_str().unwrap().to_owned();
    assert_eq!(tom.fails(7, &["remove-device", &tom_id])["code"], "network");
    // A profile that has data of its own cannot be paired over.
    assert_eq!(bob.fails(2, &["pair", &link])["code"], "usage");
    assert_eq!(tablet.fails(2, &["pair", "not-a-link"])["code"], "usage");
}
