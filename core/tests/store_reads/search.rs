//! Search: accents and case fold, words match by their start, typed text cannot inject FTS5 syntax,
//! filters, ranking, newest first and pages.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::store::backlog::FOLD_AT;
use quartier_core::store::{Page, SearchFilter, SearchHit, SearchOrder, Store, StoreError, StoreOptions};

/// Mona's replica: items, favours and a stall's products that speak of drills and pasta, and a
/// drill in another neighbourhood.
fn corpus() -> Device {
    let mut d = Device::new(MONA);
    let with = |mut add: ItemAdd, description: &str| {
        add.description = description.into();
        add
    };
    d.act(
        MONA,
        with(item("drill", "Perceuse Bosch", "tools", Some(home())), "Perceuse à percussion, avec mèches."),
    );
    d.act(
        BOB,
        with(
            item("percolator", "Percolateur", "kitchen", Some(near_home(4, 0))),
            "Pour le café du dimanche.",
        ),
    );
    d.act(
        LEA,
        with(
            item("sander", "Ponceuse", "tools", None),
            "Une ponceuse orbitale, bien utile après la perceuse et avant la peinture.",
        ),
    );
    d.act(BOB, with(item("makita", "Perceuse Makita", "tools", Some(home())), "Sans batterie."));
    d.act(BOB, ItemWithdraw { id: "makita".into() });
    let mut pasta =
        favour("pasta", FavourKind::Ask, "Des pâtes pour ce soir", "cooking", Some(near_home(1, 0)));
    pasta.details = "Il me manque des pâtes fraîches, et du basilic.".into();
    d.act(LEA, pasta);
    let mut bikes = favour("bikes", FavourKind::Offer, "Réparer un vélo", "repairs", Some(near_home(0, 1)));
    bikes.details = "Je répare les vélos, et même les perceuses.".into();
    d.act(CHLOE, bikes);
    d.act(LEA, favour("lend", FavourKind::Ask, "Qui me prête une perceuse ?", "tools", None));
    d.act(LEA, FavourCancel { id: "lend".into() });
    d.act(TOM, stall("primeur", "Primeur Tom", Some(near_home(0, 2))));
    d.act(TOM, product("fresh-pasta", "primeur", "Pâtes fraîches", "kg", 900));
    d.act(TOM, product("basil", "primeur", "Basilic", "bunch", 200));
    d.act(TOM, ProductRemove { id: "basil".into() });
    d.found("bastille", MONA, "Mona");
    d.act(MONA, item("bastille-drill", "Perceuse de la Bastille", "tools", Some(home())));
    d.nid = NID.into();
    d
}

fn search(d: &Device, text: &str, filter: &SearchFilter) -> Vec<SearchHit> {
    d.store.search(NID, text, filter, Page::default()).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn found(d: &Device, text: &str) -> Vec<String> {
    let mut ids = id_of(&search(d, text, &SearchFilter::default()));
    ids.sort();
    ids
}

/// FTS5's own check of each search table against the rows it indexes (rank 1: its content view): nothing
/// left behind, nothing missing, nothing written twice. A search first indexes what waits.
fn assert_search_tables_intact(d: &Device) {
    d.store.search(NID, "a", &SearchFilter::default(), Page::default()).unwrap();
    assert_eq!(waiting(&d.store), 0, "a search indexes every row waiting");
    d.store
        .read(|conn| {
            for fts in ["favours_fts", "items_fts", "products_fts"] {
                conn.execute(&format!("INSERT INTO {fts} ({fts}, rank) VALUES ('integrity-check', 1)"), [])
                    .unwrap_or_else(|e| panic!("{fts}: {e}"));
            }
            Ok(())
        })
        .unwrap();
}

/// How many rows wait to be indexed for search.
fn waiting(store: &Store) -> i64 {
    store.read(quartier_core::store::backlog::waiting_count).unwrap()
}

/// A store opened read-only on `d`'s database, as an app extension would.
fn read_only(d: &Device) -> Store {
    Store::open(d.store.path(), StoreOptions { read_only: true, ..StoreOptions::default() }).unwrap()
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    ids.sort();
    ids
}

#[test]
fn case_and_accents_do_not_matter_and_words_match_by_their_start() {
    let d = corpus();
    let drills = sorted(&["drill", "sander", "bikes"]);
    assert_eq!(found(&d, "perceuse"), drills);
    assert_eq!(found(&d, "PERCEUSE"), drills);
    assert_eq!(found(&d, "Perceuse"), drills);
    assert_eq!(found(&d, "pates"), sorted(&["pasta", "fresh-pasta"]));
    assert_eq!(found(&d, "pâtes"), sorted(&["pasta", "fresh-pasta"]));
    assert_eq!(found(&d, "PÂTES fraiches"), sorted(&["pasta", "fresh-pasta"]));
    assert_eq!(found(&d, "perc"), sorted(&["drill", "percolator", "sander", "bikes"]));
    assert_eq!(found(&d, "velo"), sorted(&["bikes"]));
    assert_eq!(found(&d, "perceuse bosch"), sorted(&["drill"]), "every word must match");
    assert!(found(&d, "tronçonneuse").is_empty());
}

#[test]
fn hits_are_ranked_and_describe_themselves() {
    let d = corpus();
    let hits = search(&d, "perceuse", &SearchFilter::default());
    // In the title first; only in a description or the details after.
    assert_eq!(hits[0].id, "drill");
    let drill = &hits[0];
    assert_eq!(drill.kind, EntityKind::Item);
    assert_eq!(drill.title, "Perceuse Bosch");
    assert_eq!(drill.category.as_deref(), Some("tools"));
    assert!(drill.snippet.contains("percussion"), "{}", drill.snippet);
    assert_eq!(drill.distance_m, None, "no place asked, no distance");
    let sander = hits.iter().find(|h| h.id == "sander").unwrap();
    assert!(sander.snippet.contains("perceuse"), "{}", sander.snippet);

    let pasta = search(&d, "pates", &SearchFilter::default());
    let product = pasta.iter().find(|h| h.kind == EntityKind::Product).unwrap();
    assert_eq!(
        (product.id.as_str(), product.title.as_str(), product.snippet.as_str(), product.category.as_deref()),
        ("fresh-pasta", "Pâtes fraîches", "Sold by the kg at Primeur Tom", None)
    );
    let favour = pasta.iter().find(|h| h.kind == EntityKind::Favour).unwrap();
    assert_eq!(
        (favour.title.as_str(), favour.category.as_deref()),
        ("Des pâtes pour ce soir", Some("cooking"))
    );
}

#[test]
fn typed_text_cannot_inject_search_syntax() {
    let d = corpus();
    // Each of these would mean something else to FTS5 (or be an error); here each is just words.
    assert!(found(&d, "perc NOT bosch").is_empty(), "NOT is a word to find, not an operator");
    assert!(found(&d, "perceuse OR pâtes").is_empty(), "OR is a word to find, not an operator");
    assert!(found(&d, "title:perceuse").is_empty(), "no column filter");
    assert!(found(&d, "NEAR(perceuse bosch)").is_empty());
    assert_eq!(found(&d, "^perceuse"), found(&d, "perceuse"));
    assert_eq!(found(&d, "\"perceuse\""), found(&d, "perceuse"));
    assert_eq!(found(&d, "perceuse*"), found(&d, "perceuse"));
    for hostile in [
        "\"a\" OR b* NEAR(",
        "perceuse\"",
        "{perceuse bosch}",
        "bosch)",
        "a AND",
        "'; DROP TABLE items; --",
        "perceuse \u{0} bosch",
        "« pâtes »",
    ] {
        d.store
            .search(NID, hostile, &SearchFilter::default(), Page::default())
            .unwrap_or_else(|e| panic!("{hostile:?}: {e}"));
    }
    assert_eq!(found(&d, "« pâtes »"), sorted(&["pasta", "fresh-pasta"]));
    assert_eq!(found(&d, "perceuse"), sorted(&["drill", "sander", "bikes"]), "nothing was dropped");
    for nothing in ["-", "", "   ", "\"\"", "*", "( )", "…"] {
        match d.store.search(NID, nothing, &SearchFilter::default(), Page::default()) {
            Err(StoreError::Invalid(message)) => assert!(message.contains("type a word"), "{message}"),
            other => panic!("{nothing:?} should ask for a word, got {other:?}"),
        }
    }
}

#[test]
fn kinds_category_openness_and_distance_filter_the_hits() {
    let d = corpus();
    let only = |kinds: &[EntityKind]| SearchFilter { kinds: kinds.to_vec(), ..SearchFilter::default() };
    assert_eq!(sorted_ids(search(&d, "perceuse", &only(&[EntityKind::Item]))), sorted(&["drill", "sander"]));
    assert_eq!(sorted_ids(search(&d, "perceuse", &only(&[EntityKind::Favour]))), sorted(&["bikes"]));
    assert_eq!(sorted_ids(search(&d, "pates", &only(&[EntityKind::Product]))), sorted(&["fresh-pasta"]));
    assert_eq!(
        sorted_ids(search(
            &d,
            "pates",
            &only(&[EntityKind::Product, EntityKind::Favour, EntityKind::Product])
        )),
        sorted(&["pasta", "fresh-pasta"])
    );
    match d.store.search(NID, "bob", &only(&[EntityKind::Member]), Page::default()) {
        Err(StoreError::Invalid(message)) => {
            assert!(message.contains("favours, items and products"), "{message}")
        }
        other => panic!("members cannot be searched, got {other:?}"),
    }

    let tools = SearchFilter { category: Some("tools".into()), ..SearchFilter::default() };
    assert_eq!(sorted_ids(search(&d, "perceuse", &tools)), sorted(&["drill", "sander"]));
    assert!(search(&d, "pates", &tools).is_empty(), "products have no category");

    let everything = SearchFilter { open_only: false, ..SearchFilter::default() };
    assert_eq!(
        sorted_ids(search(&d, "perceuse", &everything)),
        sorted(&["drill", "sander", "bikes", "makita", "lend"])
    );
    assert!(
        search(&d, "basilic", &everything).iter().all(|h| h.id != "basil"),
        "removed products are never found"
    );

    // Distances from home: the drill is in the home cell, the bikes favour a cell east, the stall two.
    let near = SearchFilter { near: Some(home()), ..SearchFilter::default() };
    let hits = search(&d, "perceuse", &near);
    let distance = |id: &str| hits.iter().find(|h| h.id == id).unwrap().distance_m;
    assert_eq!(distance("drill"), Some(0));
    assert_eq!(distance("bikes"), Some(home().distance_m(near_home(0, 1))));
    assert_eq!(distance("sander"), None, "no place, no distance");
    let pasta = search(&d, "pates", &near);
    let product = pasta.iter().find(|h| h.id == "fresh-pasta").unwrap();
    assert_eq!(
        product.distance_m,
        Some(home().distance_m(near_home(0, 2))),
        "a product is where its stall is"
    );

    let bikes_m = home().distance_m(near_home(0, 1));
    let within = SearchFilter { within_m: Some(bikes_m), ..near.clone() };
    assert_eq!(sorted_ids(search(&d, "perc", &within)), sorted(&["drill", "bikes"]));
    let within = SearchFilter { within_m: Some(0), ..near };
    assert_eq!(sorted_ids(search(&d, "perc", &within)), sorted(&["drill"]));
    let lost = SearchFilter { within_m: Some(1_000), ..SearchFilter::default() };
    assert!(matches!(d.store.search(NID, "perc", &lost, Page::default()), Err(StoreError::Invalid(_))));
}

fn sorted_ids(hits: Vec<SearchHit>) -> Vec<String> {
    let mut ids = id_of(&hits);
    ids.sort();
    ids
}

#[test]
fn pages_split_one_ranking_across_kinds() {
    let d = corpus();
    let all = d.store.search(NID, "p", &SearchFilter::default(), Page::new(200, 0)).unwrap();
    assert!(all.len() >= 6, "{all:?}");
    assert!(
        all.iter().any(|h| h.kind == EntityKind::Product) && all.iter().any(|h| h.kind == EntityKind::Favour)
    );
    let mut paged = Vec::new();
    for offset in (0..all.len() + 3).step_by(3) {
        paged
            .extend(d.store.search(NID, "p", &SearchFilter::default(), Page::new(3, offset as u32)).unwrap());
    }
    assert_eq!(paged, all);
    assert!(matches!(
        d.store.search(NID, "p", &SearchFilter::default(), Page::new(0, 0)),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn search_stays_in_its_neighbourhood_and_follows_edits() {
    let mut d = corpus();
    assert!(found(&d, "bastille").is_empty());
    let there = d.store.search("bastille", "perceuse", &SearchFilter::default(), Page::default()).unwrap();
    assert_eq!(id_of(&there), ["bastille-drill"]);

    d.act(
        MONA,
        ItemEdit {
            id: "drill".into(),
            title: "Visseuse Bosch".into(),
            description: String::new(),
            category: "tools".into(),
            condition: Condition::Good,
            deposit_note: "none".into(),
        },
    );
    assert_eq!(found(&d, "perceuse"), sorted(&["sander", "bikes"]));
    assert_eq!(found(&d, "visseuse"), sorted(&["drill"]));
    d.act(TOM, ProductRemove { id: "fresh-pasta".into() });
    assert_eq!(found(&d, "pates"), sorted(&["pasta"]));
    // Each search index holds exactly its rows' words: an entry is taken out only for a row that had
    // one (an edit), never left behind, never written twice.
    assert_search_tables_intact(&d);
}

#[test]
fn newest_first_goes_by_the_order_things_were_stored_across_kinds() {
    let mut d = Device::new(MONA);
    // Bob asks on his phone first; it reaches this replica last, so it is the newest here.
    let early = d.elsewhere(BOB, favour("early", FavourKind::Ask, "Une perceuse ?", "tools", None));
    d.later(60_000);
    d.act(MONA, item("drill", "Perceuse Bosch", "tools", Some(home())));
    d.act(TOM, stall("primeur", "Primeur Tom", Some(near_home(0, 2))));
    d.act(TOM, product("perch", "primeur", "Perches du lac", "kg", 1500));
    d.act(BOB, item("makita", "Perceuse Makita", "tools", Some(home())));
    d.act(LEA, favour("late", FavourKind::Offer, "Je prête ma perceuse", "tools", Some(near_home(1, 0))));
    d.act(CHLOE, favour("later", FavourKind::Offer, "Perceuse et escabeau", "tools", Some(near_home(0, 1))));
    d.store.write_effects(&early).unwrap();

    let newest = SearchFilter { order: SearchOrder::Newest, ..SearchFilter::default() };
    let all = d.store.search(NID, "per", &newest, Page::new(50, 0)).unwrap();
    assert_eq!(id_of(&all), ["early", "later", "late", "makita", "perch", "drill"]);
    // Pages cut the same list, however small.
    for size in 1..=4 {
        let mut paged = Vec::new();
        for offset in (0..all.len() + size).step_by(size) {
            paged.extend(d.store.search(NID, "per", &newest, Page::new(size as u32, offset as u32)).unwrap());
        }
        assert_eq!(paged, all, "pages of {size}");
    }
    // The same things as best match first, in another order.
    assert_eq!(sorted_ids(all.clone()), sorted_ids(search(&d, "per", &SearchFilter::default())));

    // Close to home: the first ones close enough, the page cut there.
    let near = SearchFilter { near: Some(home()), within_m: Some(1_000), ..newest.clone() };
    assert_eq!(
        id_of(&d.store.search(NID, "per", &near, Page::new(50, 0)).unwrap()),
        ["later", "late", "makita", "drill"]
    );
    assert_eq!(id_of(&d.store.search(NID, "per", &near, Page::new(2, 1)).unwrap()), ["late", "makita"]);
    // Filters apply as for best match.
    let items = SearchFilter { kinds: vec![EntityKind::Item], ..newest.clone() };
    assert_eq!(
        id_of(&d.store.search(NID, "perceuse", &items, Page::new(50, 0)).unwrap()),
        ["makita", "drill"]
    );

    // An edit keeps the thing where it was, found once, by its new words only; a removed product
    // leaves the list, and comes back to its place when it is on sale again.
    d.act(
        MONA,
        ItemEdit {
            id: "drill".into(),
            title: "Perceuse Bosch 18V".into(),
            description: String::new(),
            category: "tools".into(),
            condition: Condition::Good,
            deposit_note: "none".into(),
        },
    );
    d.act(LEA, FavourCancel { id: "late".into() });
    d.act(TOM, ProductRemove { id: "perch".into() });
    let edited = d.store.search(NID, "per", &newest, Page::new(50, 0)).unwrap();
    assert_eq!(id_of(&edited), ["early", "later", "makita", "drill"]);
    assert_eq!(edited[3].title, "Perceuse Bosch 18V");
    let everything = SearchFilter { open_only: false, ..newest.clone() };
    assert_eq!(
        id_of(&d.store.search(NID, "per", &everything, Page::new(50, 0)).unwrap()),
        ["early", "later", "late", "makita", "drill"]
    );
    // Something new goes first.
    d.act(LEA, favour("newest", FavourKind::Ask, "Perche à linge", "home", None));
    assert_eq!(id_of(&d.store.search(NID, "per", &newest, Page::new(1, 0)).unwrap()), ["newest"]);
    assert_search_tables_intact(&d);
}

#[test]
fn leaving_a_neighbourhood_takes_its_search_entries_with_it() {
    let d = corpus();
    d.store.forget("bastille").unwrap();
    assert_search_tables_intact(&d);
    let mut d = d;
    // Rows are numbered after the largest left: a new thing cannot take an entry left behind.
    d.found("bastille", MONA, "Mona");
    d.act(MONA, item("bastille-saw", "Scie sauteuse", "tools", None));
    let hits = d.store.search("bastille", "perc", &SearchFilter::default(), Page::default()).unwrap();
    assert_eq!(hits, []);
    let hits = d.store.search("bastille", "scie", &SearchFilter::default(), Page::default()).unwrap();
    assert_eq!(id_of(&hits), ["bastille-saw"]);
    assert_search_tables_intact(&d);
    // The neighbourhood searched before is untouched.
    assert_eq!(found(&d, "perceuse"), sorted(&["drill", "sander", "bikes"]));
}

#[test]
fn search_survives_vacuum() {
    let d = corpus();
    d.store.forget("bastille").unwrap();
    let before = search(&d, "per", &SearchFilter { order: SearchOrder::Newest, ..SearchFilter::default() });
    d.store
        .read(|conn| {
            conn.execute_batch("VACUUM").unwrap();
            Ok(())
        })
        .unwrap();
    assert_eq!(
        search(&d, "per", &SearchFilter { order: SearchOrder::Newest, ..SearchFilter::default() }),
        before
    );
    assert_search_tables_intact(&d);
}

#[test]
fn new_texts_wait_until_a_search_or_a_full_backlog_and_a_store_that_cannot_write_finds_them_too() {
    let mut d = Device::new(MONA);
    assert_search_tables_intact(&d);
    for i in 0..5 {
        let mut post = favour(&format!("f{i}"), FavourKind::Ask, &format!("Perceuse {i}"), "tools", None);
        post.details = "Pour percer le mur du salon, samedi.".into();
        d.act(MONA, post);
    }
    assert_eq!(waiting(&d.store), 5);

    // A read-only store cannot index them: it searches them apart, in either order, with snippets.
    let extension = read_only(&d);
    let newest = SearchFilter { order: SearchOrder::Newest, ..SearchFilter::default() };
    let apart = extension.search(NID, "perc", &newest, Page::default()).unwrap();
    assert_eq!(id_of(&apart), ["f4", "f3", "f2", "f1", "f0"]);
    let best = extension.search(NID, "mur", &SearchFilter::default(), Page::default()).unwrap();
    assert_eq!(best.len(), 5);
    assert!(best.iter().all(|hit| hit.snippet.contains("mur")), "{best:?}");
    assert_eq!(waiting(&d.store), 5);

    // The app's store indexes them before it searches, and finds the same.
    assert_eq!(d.store.search(NID, "perc", &newest, Page::default()).unwrap(), apart);
    assert_eq!(waiting(&d.store), 0);
    assert_eq!(extension.search(NID, "perc", &newest, Page::default()).unwrap(), apart);

    // A write that leaves FOLD_AT rows waiting indexes them itself.
    for i in 5..5 + FOLD_AT - 1 {
        d.act(MONA, favour(&format!("f{i}"), FavourKind::Ask, "Une échelle", "tools", None));
    }
    assert_eq!(waiting(&d.store), FOLD_AT as i64 - 1);
    d.act(BOB, item("ladder", "Échelle", "tools", None));
    assert_eq!(waiting(&d.store), 0);
    // A change that leaves the words as they were does not touch the index.
    d.act(MONA, FavourCancel { id: "f5".into() });
    assert_eq!(waiting(&d.store), 0);
    assert_search_tables_intact(&d);
}

/// Words of the random test: plain ASCII, so that its own matching is FTS5's.
const WORDS: [&str; 10] =
    ["drill", "ladder", "pasta", "garden", "bread", "honey", "guitar", "lamp", "tent", "boots"];

/// What a search with `open_only: false` must find for a word start, from the mirror: the favours,
/// items and products on sale with a word starting so.
fn expected(d: &Device, start: &str) -> Vec<String> {
    let has = |texts: &[&str]| texts.iter().flat_map(|t| t.split_whitespace()).any(|w| w.starts_with(start));
    let mut ids: Vec<String> = Vec::new();
    ids.extend(
        d.mirror(|e| if let Entity::Favour(f) = e { Some(f) } else { None })
            .into_iter()
            .filter(|f| has(&[&f.title, &f.details, &f.category]))
            .map(|f| f.id),
    );
    ids.extend(
        d.mirror(|e| if let Entity::Item(i) = e { Some(i) } else { None })
            .into_iter()
            .filter(|i| has(&[&i.title, &i.description, &i.category]))
            .map(|i| i.id),
    );
    ids.extend(
        d.mirror(|e| if let Entity::Product(p) = e { Some(p) } else { None })
            .into_iter()
            .filter(|p| !p.removed && has(&[&p.name, &p.unit]))
            .map(|p| p.id),
    );
    ids.sort();
    ids
}

#[test]
fn random_writes_edits_and_deletes_keep_every_search_right() {
    let mut d = Device::new(MONA);
    d.act(TOM, stall("primeur", "Primeur Tom", None));
    let mut rng = Rng::new(0x5eed);
    let words = |rng: &mut Rng, n: usize| (0..n).map(|_| rng.pick(&WORDS)).collect::<Vec<_>>().join(" ");
    let (mut favours, mut items, mut products) =
        (Vec::<String>::new(), Vec::<String>::new(), Vec::<String>::new());
    let mut extension = None;
    for step in 0..600 {
        let id = format!("x{step}");
        match rng.below(10) {
            0 => {
                let mut post = favour(&id, FavourKind::Offer, &words(&mut rng, 2), "misc", None);
                post.details = words(&mut rng, 3);
                d.act(MONA, post);
                favours.push(id);
            }
            1 if !favours.is_empty() => {
                let id = favours[rng.below(favours.len() as u64) as usize].clone();
                let open = d
                    .mirror(|e| if let Entity::Favour(f) = e { Some(f) } else { None })
                    .iter()
                    .any(|f| f.id == id && f.status == FavourStatus::Open);
                if open {
                    let (title, details) = (words(&mut rng, 2), words(&mut rng, 1));
                    d.act(
                        MONA,
                        FavourEdit { id: id.clone(), title, details, category: "misc".into(), window: None },
                    );
                    if rng.below(2) == 0 {
                        d.act(MONA, FavourCancel { id });
                    }
                }
            }
            2 => {
                let mut add = item(&id, &words(&mut rng, 2), "misc", None);
                add.description = words(&mut rng, 2);
                d.act(BOB, add);
                items.push(id);
            }
            3 if !items.is_empty() => {
                let id = items[rng.below(items.len() as u64) as usize].clone();
                let edit = ItemEdit {
                    id,
                    title: words(&mut rng, 1),
                    description: words(&mut rng, 2),
                    category: "misc".into(),
                    condition: Condition::Good,
                    deposit_note: "none".into(),
                };
                d.act(BOB, edit);
            }
            4 => {
                d.act(TOM, product(&id, "primeur", &words(&mut rng, 2), "kg", 100));
                products.push(id);
            }
            5 if !products.is_empty() => {
                let at = rng.below(products.len() as u64) as usize;
                if rng.below(2) == 0 {
                    let id = products[at].clone();
                    d.act(TOM, ProductEdit { id, name: words(&mut rng, 2), unit: "kg".into() });
                } else {
                    // Removed, it stays a row, never found again.
                    d.act(TOM, ProductRemove { id: products.swap_remove(at) });
                }
            }
            6 => {
                // A row taken out, as a rebase or a pull of a tombstone does.
                let (kind, list) = match rng.below(3) {
                    0 => (EntityKind::Favour, &mut favours),
                    1 => (EntityKind::Item, &mut items),
                    _ => (EntityKind::Product, &mut products),
                };
                if !list.is_empty() {
                    let id = list.swap_remove(rng.below(list.len() as u64) as usize);
                    let effects = vec![Effect::Delete { key: EntityKey::new(NID, kind, &id) }];
                    d.store.write_effects(&effects).unwrap();
                    d.state.write(&effects);
                }
            }
            7 => {
                // An app extension searching while the app writes: it never indexes, always finds.
                let store = extension.get_or_insert_with(|| read_only(&d));
                let start = &rng.pick(&WORDS)[..3];
                let filter = SearchFilter { open_only: false, ..SearchFilter::default() };
                let found = store.search(NID, start, &filter, Page::new(200, 0)).unwrap();
                assert_eq!(sorted_ids(found), expected(&d, start), "step {step}, read-only, {start:?}");
            }
            _ => {
                let start = &rng.pick(&WORDS)[..3];
                let order = if rng.below(2) == 0 { SearchOrder::Newest } else { SearchOrder::BestMatch };
                let filter = SearchFilter { open_only: false, order, ..SearchFilter::default() };
                let found = d.store.search(NID, start, &filter, Page::new(200, 0)).unwrap();
                assert_eq!(sorted_ids(found), expected(&d, start), "step {step}, {order:?}, {start:?}");
            }
        }
    }
    let left = favours.len() + items.len() + products.len();
    assert!(left > 50, "only {left} things were left to search");
    assert_search_tables_intact(&d);
}

#[test]
fn two_stores_on_one_database_number_what_they_store_in_turn() {
    let mut d = Device::new(MONA);
    // The app and, say, its background sync, each with a store of its own on the same file.
    let other = Store::open(d.store.path(), StoreOptions::default()).unwrap();
    d.act(MONA, favour("first", FavourKind::Ask, "Une perceuse ?", "tools", None));
    let item = d.elsewhere(BOB, item("drill", "Perceuse Bosch", "tools", None));
    other.write_effects(&item).unwrap();
    d.act(MONA, favour("third", FavourKind::Ask, "Perceuse à percussion", "tools", None));
    let opened = d.elsewhere(TOM, stall("primeur", "Primeur Tom", None));
    other.write_effects(&opened).unwrap();
    let added = d.elsewhere(TOM, product("perch", "primeur", "Perches du lac", "kg", 1500));
    other.write_effects(&added).unwrap();

    let newest = SearchFilter { order: SearchOrder::Newest, ..SearchFilter::default() };
    for store in [&*d.store, &other] {
        let hits = store.search(NID, "per", &newest, Page::default()).unwrap();
        assert_eq!(id_of(&hits), ["perch", "third", "drill", "first"]);
    }
    assert_search_tables_intact(&d);
}

#[test]
fn a_new_thing_is_numbered_above_the_last_fold_even_when_the_newest_rows_are_gone() {
    let mut d = Device::new(MONA);
    d.act(MONA, favour("a", FavourKind::Ask, "Une perceuse ?", "tools", None));
    d.act(MONA, favour("b", FavourKind::Ask, "Une autre perceuse ?", "tools", None));
    assert_search_tables_intact(&d);
    // Both taken out (as a rebase or a pull does): the largest row left is below the last fold's.
    let gone: Vec<Effect> = ["a", "b"]
        .iter()
        .map(|id| Effect::Delete { key: EntityKey::new(NID, EntityKind::Favour, id) })
        .collect();
    d.store.write_effects(&gone).unwrap();
    d.state.write(&gone);
    d.act(MONA, favour("c", FavourKind::Ask, "Perceuse, encore", "tools", None));
    assert_eq!(waiting(&d.store), 1, "the new favour waits to be indexed");
    assert_eq!(id_of(&search(&d, "perc", &SearchFilter::default())), ["c"]);
    assert_search_tables_intact(&d);
}

/// A statement is compiled once and kept: the store's cache takes it back after each use (clearing its
/// values), and a plan that could depend on a bound value (`LIMIT ?`, as searches and lists have) was
/// compiled again at every next use — a third of the time of a search that finds a few hundred things.
#[test]
fn cached_statements_are_not_compiled_again_at_each_use() {
    let d = corpus();
    d.store
        .read(|conn| {
            let statements = [
                // A search's shape: the search table, its kind's rows, the page's end.
                "SELECT e.id, bm25(items_fts) AS score FROM items_fts CROSS JOIN items e \
                 ON e.rowid = items_fts.rowid WHERE items_fts MATCH ?1 AND e.withdrawn = 0 \
                 ORDER BY score, e.id LIMIT ?2",
                // A list's: newest first, a page of it.
                "SELECT data FROM items WHERE owner = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET 0",
            ];
            for sql in statements {
                for text in ["\"perc\"*", "\"ponceuse\"*", "\"perc\"*"] {
                    let mut stmt = conn.prepare_cached(sql).unwrap();
                    let found = stmt.query_map(rusqlite::params![text, 50], |_| Ok(())).unwrap().count();
                    assert!(found <= 50);
                }
                let stmt = conn.prepare_cached(sql).unwrap();
                assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0, "{sql}");
            }
            Ok(())
        })
        .unwrap();
}
