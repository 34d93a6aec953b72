//! Search: accents and case fold, words match by their start, typed text cannot inject FTS5 syntax,
//! filters, ranking, newest first and pages.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::store::{Page, SearchFilter, SearchHit, SearchOrder, StoreError};

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

/// FTS5's own check of each search table against its rows of text: nothing left behind, nothing
/// written twice.
fn assert_search_tables_intact(d: &Device) {
    d.store
        .read(|conn| {
            for fts in ["favours_fts", "items_fts", "products_fts"] {
                conn.execute(&format!("INSERT INTO {fts} ({fts}) VALUES ('integrity-check')"), [])
                    .unwrap_or_else(|e| panic!("{fts}: {e}"));
            }
            Ok(())
        })
        .unwrap();
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
fn newest_first_goes_by_creation_time_across_kinds_whatever_order_things_arrived_in() {
    let mut d = Device::new(MONA);
    // Bob asks on his phone first; it reaches this replica last.
    let early = d.elsewhere(BOB, favour("early", FavourKind::Ask, "Une perceuse ?", "tools", None));
    d.later(60_000);
    d.act(MONA, item("drill", "Perceuse Bosch", "tools", Some(home())));
    d.later(60_000);
    d.act(TOM, stall("primeur", "Primeur Tom", Some(near_home(0, 2))));
    d.act(TOM, product("perch", "primeur", "Perches du lac", "kg", 1500));
    d.later(60_000);
    // Three things in the same second: favours before items, each kind the last stored first.
    d.act(BOB, item("makita", "Perceuse Makita", "tools", Some(home())));
    d.act(LEA, favour("late", FavourKind::Offer, "Je prête ma perceuse", "tools", Some(near_home(1, 0))));
    d.act(CHLOE, favour("later", FavourKind::Offer, "Perceuse et escabeau", "tools", Some(near_home(0, 1))));
    d.store.write_effects(&early).unwrap();

    let newest = SearchFilter { order: SearchOrder::Newest, ..SearchFilter::default() };
    let all = d.store.search(NID, "per", &newest, Page::new(50, 0)).unwrap();
    assert_eq!(id_of(&all), ["later", "late", "makita", "perch", "drill", "early"]);
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

    // An edit keeps the thing where its creation puts it, found once, by its new words only.
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
    d.act(TOM, ProductRemove { id: "perch".into() });
    let edited = d.store.search(NID, "per", &newest, Page::new(50, 0)).unwrap();
    assert_eq!(id_of(&edited), ["later", "late", "makita", "drill", "early"]);
    assert_eq!(edited[3].title, "Perceuse Bosch 18V");
    assert_search_tables_intact(&d);
}

#[test]
fn migration_8_rebuilds_every_search_entry_from_the_rows() {
    let d = corpus();
    let words = ["perc", "pates", "velo", "basilic", "tools", "ponceuse", "kg", "p"];
    let all = |d: &Device| -> Vec<Vec<SearchHit>> {
        let mut hits = Vec::new();
        for order in [SearchOrder::BestMatch, SearchOrder::Newest] {
            for word in words {
                let filter = SearchFilter { order, open_only: false, ..SearchFilter::default() };
                hits.push(d.store.search(NID, word, &filter, Page::new(50, 0)).unwrap());
            }
        }
        hits
    };
    let before = all(&d);
    assert!(before.iter().filter(|hits| !hits.is_empty()).count() >= 12, "{before:?}");
    // What the migration does to a database of version 7: the search tables made again from the rows.
    d.store
        .read(|conn| {
            conn.execute_batch(quartier_core::store::schema::MIGRATIONS[7]).unwrap();
            Ok(())
        })
        .unwrap();
    assert_eq!(all(&d), before);
}
