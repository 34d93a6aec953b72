//! Lists: every filter, every order, pages, names (departed members included) and distances.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::store::{FavourFilter, ItemFilter, LoanFilter, OrderFilter, Page, StoreError};
use std::cmp::Reverse;

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn invalid(result: Result<impl std::fmt::Debug, StoreError>, words: &str) {
    match result {
        Err(StoreError::Invalid(message)) => assert!(message.contains(words), "{message}"),
        other => panic!("expected a refusal naming {words:?}, got {other:?}"),
    }
}

#[test]
fn neighbourhoods_are_listed_by_name() {
    let mut d = Device::new(MONA);
    d.found("bastille", MONA, "Mona");
    d.act(MONA, NeighbourhoodEdit { name: "Édouard-Vaillant".into(), description: String::new() });
    let names: Vec<String> = d.store.neighbourhoods().unwrap().into_iter().map(|n| n.name).collect();
    assert_eq!(names, ["Édouard-Vaillant", "Quartier aligre"]);
}

#[test]
fn members_are_listed_by_name_with_the_thanks_they_received() {
    let mut d = Device::new(MONA);
    d.join("emile", "Émile");
    // Bob does Léa's ask and is thanked; Chloé takes up Bob's offer and thanks him.
    d.act(LEA, ask("f1", "Water my plants"));
    d.act(BOB, FavourRef { id: "f1".into() });
    d.act(BOB, FavourComplete { id: "f1".into() });
    d.act(LEA, FavourThank { id: "f1".into(), note: "Merci !".into() });
    d.act(BOB, offer("f2", "I fix bikes"));
    d.act(CHLOE, FavourRef { id: "f2".into() });
    d.act(CHLOE, FavourComplete { id: "f2".into() });
    d.act(CHLOE, FavourThank { id: "f2".into(), note: String::new() });
    // Mona does Bob's ask: the thanks are Mona's, not Bob's.
    d.act(BOB, ask("f3", "Feed the cat"));
    d.act(MONA, FavourRef { id: "f3".into() });
    d.act(MONA, FavourComplete { id: "f3".into() });
    d.act(BOB, FavourThank { id: "f3".into(), note: String::new() });
    // Tom's help is done but not thanked yet.
    d.act(LEA, ask("f4", "Carry a sofa"));
    d.act(TOM, FavourRef { id: "f4".into() });
    d.act(TOM, FavourComplete { id: "f4".into() });

    let all = d.store.members(NID, Page::default()).unwrap();
    assert_eq!(id_of(&all), ids(&[BOB, CHLOE, "emile", LEA, MONA, TOM]));
    let thanks: Vec<(String, u32)> =
        all.iter().map(|v| (v.member.display_name.clone(), v.thanks_received)).collect();
    assert_eq!(
        thanks,
        [("Bob", 2), ("Chloé", 0), ("Émile", 0), ("Léa", 0), ("Mona", 1), ("Tom", 0)]
            .map(|(n, t)| (n.to_owned(), t))
    );
    assert_eq!(id_of(&d.store.members(NID, Page::new(2, 2)).unwrap()), ids(&["emile", LEA]));
    assert!(d.store.members(NID, Page::new(2, 6)).unwrap().is_empty());

    // A member who leaves is no longer listed, but is still shown, as a former member.
    d.act(CHLOE, MemberLeave {});
    assert!(!id_of(&d.store.members(NID, Page::default()).unwrap()).contains(&CHLOE.to_owned()));
    let chloe = d.store.member(NID, CHLOE).unwrap().unwrap();
    assert_eq!(chloe.member.display_name, "former member");
    assert_eq!(chloe.member.status, MemberStatus::Left);
    // Her thanks stand: the favour was Bob's, and stays.
    assert_eq!(d.store.member(NID, BOB).unwrap().unwrap().thanks_received, 2);
    assert_eq!(d.store.member(NID, "nobody").unwrap(), None);
    assert_eq!(d.store.member("elsewhere", BOB).unwrap(), None);
}

#[test]
fn pages_of_a_wrong_size_are_refused() {
    let d = Device::new(MONA);
    invalid(d.store.members(NID, Page::new(0, 0)), "1 to 200");
    invalid(d.store.favours(NID, &FavourFilter::default(), Page::new(201, 0)), "1 to 200");
    assert_eq!(Page::default(), Page::new(50, 0));
    assert_eq!(d.store.members(NID, Page::new(200, 0)).unwrap().len(), 5);
}

/// Léa, Bob and Tom's favours, one an hour, with their states.
fn favours_device() -> Device {
    let mut d = Device::new(MONA);
    let posts = [
        (LEA, favour("a1", FavourKind::Ask, "Water my plants", "garden", Some(near_home(0, 0)))),
        (BOB, favour("o1", FavourKind::Offer, "I fix bikes", "repairs", Some(near_home(2, 0)))),
        (TOM, favour("a2", FavourKind::Ask, "Prune the hedge", "garden", Some(near_home(0, 1)))),
        (LEA, favour("o2", FavourKind::Offer, "Guitar lessons", "lessons", None)),
        (BOB, favour("a3", FavourKind::Ask, "Help me move", "moving", Some(near_home(-6, 0)))),
        (TOM, favour("a4", FavourKind::Ask, "Mow the lawn", "garden", Some(near_home(0, 0)))),
    ];
    for (who, post) in posts {
        d.act(who, post);
        d.later(HOUR);
    }
    d.act(BOB, FavourRef { id: "a1".into() }); // Bob will water Léa's plants
    d.act(LEA, FavourRef { id: "o1".into() }); // Léa takes up Bob's offer
    d.act(TOM, FavourCancel { id: "a2".into() });
    d.act(CHLOE, FavourRef { id: "a4".into() });
    d.act(CHLOE, FavourComplete { id: "a4".into() });
    d
}

fn favour_ids(d: &Device, filter: FavourFilter, page: Page) -> Vec<String> {
    id_of(&d.store.favours(NID, &filter, page).unwrap())
}

#[test]
fn favours_are_filtered_and_newest_first() {
    let d = favours_device();
    let all = FavourFilter::default();
    assert_eq!(favour_ids(&d, all.clone(), Page::default()), ids(&["a4", "a3", "o2", "a2", "o1", "a1"]));
    assert_eq!(favour_ids(&d, all.clone(), Page::new(2, 1)), ids(&["a3", "o2"]));
    let open = FavourFilter { status: Some(FavourStatus::Open), ..all.clone() };
    assert_eq!(favour_ids(&d, open, Page::default()), ids(&["a3", "o2"]));
    let promised = FavourFilter { status: Some(FavourStatus::Promised), ..all.clone() };
    assert_eq!(favour_ids(&d, promised, Page::default()), ids(&["o1", "a1"]));
    let offers = FavourFilter { kind: Some(FavourKind::Offer), ..all.clone() };
    assert_eq!(favour_ids(&d, offers, Page::default()), ids(&["o2", "o1"]));
    let garden = FavourFilter { category: Some("garden".into()), ..all.clone() };
    assert_eq!(favour_ids(&d, garden.clone(), Page::default()), ids(&["a4", "a2", "a1"]));
    let toms_garden = FavourFilter { author: Some(TOM.into()), ..garden };
    assert_eq!(favour_ids(&d, toms_garden, Page::default()), ids(&["a4", "a2"]));
    // Léa wrote a1 and o2, and took up o1.
    let lea = FavourFilter { involving: Some(LEA.into()), ..all.clone() };
    assert_eq!(favour_ids(&d, lea.clone(), Page::default()), ids(&["o2", "o1", "a1"]));
    let lea_asks = FavourFilter { kind: Some(FavourKind::Ask), ..lea };
    assert_eq!(favour_ids(&d, lea_asks, Page::default()), ids(&["a1"]));
    let nobody = FavourFilter { author: Some("zed".into()), ..all };
    assert!(favour_ids(&d, nobody, Page::default()).is_empty());
}

#[test]
fn favours_show_the_names_of_both_people_even_after_one_leaves() {
    let mut d = favours_device();
    let views = d.store.favours(NID, &FavourFilter::default(), Page::default()).unwrap();
    let a1 = views.iter().find(|v| v.favour.id == "a1").unwrap();
    assert_eq!((a1.author_name.as_str(), a1.counterpart_name.as_deref()), ("Léa", Some("Bob")));
    assert_eq!(a1.distance_m, None, "no place, no distance");
    let a3 = views.iter().find(|v| v.favour.id == "a3").unwrap();
    assert_eq!((a3.author_name.as_str(), a3.counterpart_name.as_deref()), ("Bob", None));

    // Chloé leaves: where she helped she is now a former member.
    let a4 = views.iter().find(|v| v.favour.id == "a4").unwrap();
    assert_eq!((a4.author_name.as_str(), a4.counterpart_name.as_deref()), ("Tom", Some("Chloé")));
    d.act(CHLOE, MemberLeave {});
    let views = d.store.favours(NID, &FavourFilter::default(), Page::default()).unwrap();
    let a4 = views.iter().find(|v| v.favour.id == "a4").unwrap();
    assert_eq!((a4.author_name.as_str(), a4.counterpart_name.as_deref()), ("Tom", Some("former member")));
    // Bob leaves: his favours go with him.
    d.act(BOB, MemberLeave {});
    let views = d.store.favours(NID, &FavourFilter::default(), Page::default()).unwrap();
    assert_eq!(id_of(&views), ids(&["a4", "o2", "a2", "a1"]));
}

#[test]
fn favours_near_a_place_come_nearest_first_then_newest() {
    let d = favours_device();
    let near = FavourFilter { near: Some(home()), ..FavourFilter::default() };
    let views = d.store.favours(NID, &near, Page::default()).unwrap();
    let shown: Vec<(String, Option<u32>)> =
        views.iter().map(|v| (v.favour.id.clone(), v.distance_m)).collect();
    // a4 and a1 are in the home cell (a4 newer), a2 one cell east, o1 two bands north, a3 six south;
    // o2 has no place and is left out.
    let expected = [
        ("a4", 0),
        ("a1", 0),
        ("a2", home().distance_m(near_home(0, 1))),
        ("o1", home().distance_m(near_home(2, 0))),
        ("a3", home().distance_m(near_home(-6, 0))),
    ];
    assert_eq!(shown, expected.map(|(id, m)| (id.to_owned(), Some(m))));
    assert!(expected.windows(2).all(|w| w[0].1 <= w[1].1), "{expected:?}");
    assert_eq!((expected[2].1, expected[3].1, expected[4].1), (1_000, 1_500, 5_000));
    let within = FavourFilter { within_m: Some(1_500), ..near.clone() };
    assert_eq!(favour_ids(&d, within, Page::default()), ids(&["a4", "a1", "a2", "o1"]));
    let within = FavourFilter { within_m: Some(0), ..near.clone() };
    assert_eq!(favour_ids(&d, within, Page::default()), ids(&["a4", "a1"]));
    let garden_near = FavourFilter { category: Some("garden".into()), ..near.clone() };
    assert_eq!(favour_ids(&d, garden_near, Page::new(2, 1)), ids(&["a1", "a2"]));
    let open_near = FavourFilter { status: Some(FavourStatus::Open), ..near.clone() };
    assert_eq!(favour_ids(&d, open_near, Page::default()), ids(&["a3"]));
    let involving = FavourFilter { involving: Some(CHLOE.into()), ..near };
    assert_eq!(favour_ids(&d, involving, Page::default()), ids(&["a4"]));

    let lost = FavourFilter { within_m: Some(1_000), ..FavourFilter::default() };
    invalid(d.store.favours(NID, &lost, Page::default()), "near");
    let off_grid = FavourFilter { near: Some(Cell { row: u32::MAX, col: 0 }), ..FavourFilter::default() };
    invalid(d.store.favours(NID, &off_grid, Page::default()), "not on the grid");
}

/// The nearest-first search, which reads only a band of rows and widens it, gives exactly what sorting
/// every favour by distance gives, for many places, filters and pages.
#[test]
fn nearest_first_agrees_with_measuring_every_favour() {
    let mut d = Device::new(MONA);
    let mut rng = Rng::new(0x5eed_cafe);
    let people = [LEA, BOB, CHLOE, TOM];
    let categories = ["garden", "repairs", "moving"];
    let lyon = Cell::from_coordinates(45.7640, 4.8357).unwrap();
    let mut effects = Vec::new();
    for n in 0..3_000 {
        let cell = match rng.below(100) {
            0..=4 => None,
            5..=9 => Some(Cell { row: lyon.row + rng.below(5) as u32, col: lyon.col + rng.below(5) as u32 }),
            // A dense centre and a sparse ring up to 25 km away, so bands must widen.
            10..=69 => Some(near_home(rng.between(-4, 4) as i32, rng.between(-4, 4) as i32)),
            _ => Some(near_home(rng.between(-30, 30) as i32, rng.between(-30, 30) as i32)),
        };
        let kind = if rng.below(3) == 0 { FavourKind::Offer } else { FavourKind::Ask };
        let author = rng.pick(&people);
        let id = format!("f{n:04}");
        d.now = T0 + rng.between(0, 30 * DAY_MS);
        let title = format!("Favour {n}");
        effects.extend(d.elsewhere(author, favour(&id, kind, &title, rng.pick(&categories), cell)));
        if rng.below(4) == 0 {
            let helper = people.iter().find(|p| **p != author).unwrap();
            effects.extend(d.elsewhere(helper, FavourRef { id: id.clone() }));
        }
    }
    d.store.write_effects(&effects).unwrap();
    let favours: Vec<Favour> = d.mirror(|e| match e {
        Entity::Favour(f) => Some(f),
        _ => None,
    });
    assert_eq!(favours.len(), 3_000);

    let brute = |near: Cell, filter: &FavourFilter, page: Page| -> Vec<(String, u32)> {
        let mut all: Vec<(u32, Reverse<i64>, Reverse<String>)> = favours
            .iter()
            .filter(|f| filter.status.is_none_or(|s| f.status == s))
            .filter(|f| filter.kind.is_none_or(|k| f.kind == k))
            .filter(|f| filter.category.as_ref().is_none_or(|c| &f.category == c))
            .filter_map(|f| {
                f.cell.map(|cell| (near.distance_m(cell), Reverse(f.created_at), Reverse(f.id.clone())))
            })
            .filter(|(d, _, _)| filter.within_m.is_none_or(|w| *d <= w))
            .collect();
        all.sort();
        all.into_iter()
            .skip(page.offset as usize)
            .take(page.limit as usize)
            .map(|(d, _, Reverse(id))| (id, d))
            .collect()
    };
    let marseille = Cell::from_coordinates(43.2965, 5.3698).unwrap();
    let places = [home(), near_home(12, -7), near_home(-30, 30), near_home(100, 0), lyon, marseille];
    let filters = [
        FavourFilter::default(),
        FavourFilter { within_m: Some(1_000), ..FavourFilter::default() },
        FavourFilter { within_m: Some(6_000), ..FavourFilter::default() },
        FavourFilter { status: Some(FavourStatus::Open), ..FavourFilter::default() },
        FavourFilter {
            kind: Some(FavourKind::Offer),
            category: Some("garden".into()),
            within_m: Some(20_000),
            ..FavourFilter::default()
        },
    ];
    let pages =
        [Page::default(), Page::new(7, 0), Page::new(50, 50), Page::new(200, 400), Page::new(10, 2_840)];
    let mut compared = 0;
    for near in places {
        for filter in &filters {
            for page in pages {
                let filter = FavourFilter { near: Some(near), ..filter.clone() };
                let got: Vec<(String, u32)> = d
                    .store
                    .favours(NID, &filter, page)
                    .unwrap()
                    .into_iter()
                    .map(|v| (v.favour.id, v.distance_m.unwrap()))
                    .collect();
                let expected = brute(near, &filter, page);
                assert_eq!(got, expected, "near {near}, {filter:?}, {page:?}");
                compared += got.len();
            }
        }
    }
    assert!(compared > 3_000, "the comparison should cover many favours, not {compared}");
}

/// Mona's drill and sander, Léa's ladder, Bob's tent; loans of the drill.
fn lending_device() -> Device {
    let mut d = Device::new(MONA);
    d.act(MONA, item("drill", "Perceuse Bosch", "tools", Some(home())));
    d.later(HOUR);
    d.act(LEA, item("ladder", "Échelle", "tools", Some(near_home(3, 0))));
    d.later(HOUR);
    d.act(BOB, item("tent", "Tente 4 places", "camping", Some(near_home(1, 1))));
    d.later(HOUR);
    d.act(MONA, item("sander", "Ponceuse", "tools", None));
    d.later(HOUR);
    d.act(BOB, ItemWithdraw { id: "tent".into() });
    d.act(BOB, loan("l-bob", "drill", 3, 4));
    d.act(LEA, loan("l-lea", "drill", 4, 6));
    d.act(CHLOE, loan("l-chloe", "drill", 10, 12));
    d.act(LEA, loan("l-sander", "sander", 1, 2));
    d.act(MONA, LoanApprove { id: "l-lea".into() }); // declines Bob's: the days overlap
    d.act(MONA, LoanApprove { id: "l-chloe".into() });
    d.act(MONA, LoanHandOver { id: "l-lea".into() });
    d
}

fn item_ids(d: &Device, filter: ItemFilter) -> Vec<String> {
    id_of(&d.store.items(NID, &filter, Page::default()).unwrap())
}

#[test]
fn items_are_filtered_newest_first_with_whether_they_are_lent_now() {
    let d = lending_device();
    let all = ItemFilter::default();
    let views = d.store.items(NID, &all, Page::default()).unwrap();
    assert_eq!(id_of(&views), ids(&["sander", "ladder", "drill"]), "withdrawn items are left out");
    let lent: Vec<(String, bool, String)> =
        views.iter().map(|v| (v.item.id.clone(), v.lent_now, v.owner_name.clone())).collect();
    assert_eq!(
        lent,
        [("sander", false, "Mona"), ("ladder", false, "Léa"), ("drill", true, "Mona")].map(|(i, l, o)| (
            i.to_owned(),
            l,
            o.to_owned()
        ))
    );
    let with_withdrawn = ItemFilter { include_withdrawn: true, ..all.clone() };
    assert_eq!(item_ids(&d, with_withdrawn.clone()), ids(&["sander", "tent", "ladder", "drill"]));
    let camping = ItemFilter { category: Some("camping".into()), ..with_withdrawn };
    assert_eq!(item_ids(&d, camping), ids(&["tent"]));
    let monas = ItemFilter { owner: Some(MONA.into()), ..all.clone() };
    assert_eq!(item_ids(&d, monas), ids(&["sander", "drill"]));
    let page = d.store.items(NID, &all, Page::new(1, 1)).unwrap();
    assert_eq!(id_of(&page), ids(&["ladder"]));

    let near = ItemFilter { near: Some(near_home(3, 0)), ..all.clone() };
    let views = d.store.items(NID, &near, Page::default()).unwrap();
    let shown: Vec<(String, Option<u32>)> = views.iter().map(|v| (v.item.id.clone(), v.distance_m)).collect();
    assert_eq!(shown, [("ladder".to_owned(), Some(0)), ("drill".to_owned(), Some(2_500))]);
    let near_all = ItemFilter { include_withdrawn: true, ..near.clone() };
    assert_eq!(item_ids(&d, near_all), ids(&["ladder", "tent", "drill"]));
    let close = ItemFilter { within_m: Some(2_000), ..near };
    assert_eq!(item_ids(&d, close), ids(&["ladder"]));
    invalid(d.store.items(NID, &ItemFilter { within_m: Some(5), ..all }, Page::default()), "near");
}

#[test]
fn an_items_calendar_holds_its_approved_and_handed_over_loans_by_first_day() {
    let mut d = lending_device();
    d.act(CHLOE, loan("l-later", "drill", 20, 21)); // requested only: not on the calendar
    assert_eq!(id_of(&d.store.loan_calendar(NID, "drill").unwrap()), ids(&["l-lea", "l-chloe"]));
    d.act(MONA, LoanReturn { id: "l-lea".into() });
    assert_eq!(id_of(&d.store.loan_calendar(NID, "drill").unwrap()), ids(&["l-chloe"]));
    assert!(d.store.loan_calendar(NID, "ladder").unwrap().is_empty());
}

#[test]
fn loans_are_filtered_latest_first_with_the_item_and_both_names() {
    let d = lending_device();
    let loans = |filter: LoanFilter| id_of(&d.store.loans(NID, &filter, Page::default()).unwrap());
    assert_eq!(loans(LoanFilter::default()), ids(&["l-chloe", "l-lea", "l-bob", "l-sander"]));
    assert_eq!(loans(LoanFilter { owner: Some(MONA.into()), ..LoanFilter::default() }).len(), 4);
    assert_eq!(
        loans(LoanFilter { borrower: Some(LEA.into()), ..LoanFilter::default() }),
        ids(&["l-lea", "l-sander"])
    );
    assert_eq!(
        loans(LoanFilter { item_id: Some("sander".into()), ..LoanFilter::default() }),
        ids(&["l-sander"])
    );
    let declined = LoanFilter { status: Some(LoanStatus::Declined), ..LoanFilter::default() };
    assert_eq!(loans(declined), ids(&["l-bob"]));
    let leas_drill = LoanFilter {
        borrower: Some(LEA.into()),
        item_id: Some("drill".into()),
        status: Some(LoanStatus::HandedOver),
        ..LoanFilter::default()
    };
    assert_eq!(loans(leas_drill), ids(&["l-lea"]));
    assert!(loans(LoanFilter { owner: Some(BOB.into()), ..LoanFilter::default() }).is_empty());

    let page = d.store.loans(NID, &LoanFilter::default(), Page::new(1, 2)).unwrap();
    assert_eq!(id_of(&page), ids(&["l-bob"]));
    let view = &page[0];
    assert_eq!(
        (view.item_title.as_str(), view.owner_name.as_str(), view.borrower_name.as_str()),
        ("Perceuse Bosch", "Mona", "Bob")
    );
    assert_eq!(view.loan.decline_reason.as_deref(), Some("Perceuse Bosch was lent to Léa in the meantime."));
}

/// Tom's greengrocer's and Mona's cheese stall, their products, and pre-orders.
fn market_device() -> Device {
    let mut d = Device::new(MONA);
    d.act(TOM, stall("primeur", "Primeur Tom", Some(near_home(0, 2))));
    d.act(MONA, stall("fromages", "Fromagerie Mona", None));
    d.act(TOM, stall("epicerie", "Épicerie du marché", None));
    d.act(TOM, product("tomates", "primeur", "Tomates", "kg", 350));
    d.act(TOM, product("radis", "primeur", "Radis", "bunch", 150));
    d.act(TOM, product("echalotes", "primeur", "échalotes", "kg", 600));
    d.act(TOM, product("basilic", "primeur", "Basilic", "bunch", 200));
    d.act(TOM, ProductRemove { id: "basilic".into() });
    d.act(MONA, product("comte", "fromages", "Comté", "kg", 2_400));
    d
}

#[test]
fn stalls_and_their_products_are_listed_by_name() {
    let d = market_device();
    let stalls = d.store.stalls(NID, Page::default()).unwrap();
    let names: Vec<(&str, &str)> =
        stalls.iter().map(|s| (s.stall.name.as_str(), s.owner_name.as_str())).collect();
    assert_eq!(names, [("Épicerie du marché", "Tom"), ("Fromagerie Mona", "Mona"), ("Primeur Tom", "Tom")]);
    let second: Vec<String> =
        d.store.stalls(NID, Page::new(1, 1)).unwrap().into_iter().map(|s| s.stall.id).collect();
    assert_eq!(second, ["fromages"]);

    assert_eq!(
        id_of(&d.store.products(NID, "primeur", false).unwrap()),
        ids(&["echalotes", "radis", "tomates"])
    );
    assert_eq!(
        id_of(&d.store.products(NID, "primeur", true).unwrap()),
        ids(&["basilic", "echalotes", "radis", "tomates"])
    );
    assert!(d.store.products(NID, "epicerie", true).unwrap().is_empty());
}

#[test]
fn pre_orders_are_listed_with_their_lines_names_and_totals() {
    let mut d = market_device();
    d.act(LEA, order("o-lea", "primeur", &[("tomates", 2), ("radis", 1)], Some(3)));
    d.later(MINUTE);
    d.act(BOB, order("o-bob", "primeur", &[("echalotes", 1)], Some(2)));
    d.later(MINUTE);
    d.act(CHLOE, order("o-chloe", "primeur", &[("radis", 3)], None));
    d.later(MINUTE);
    d.act(BOB, order("o-bob2", "primeur", &[("tomates", 1)], Some(3)));
    d.later(MINUTE);
    d.act(LEA, order("o-lea2", "primeur", &[("radis", 1)], Some(1)));
    d.later(MINUTE);
    d.act(BOB, order("o-cheese", "fromages", &[("comte", 1)], Some(1)));
    d.act(TOM, OrderConfirm { id: "o-bob".into() });
    d.act(TOM, OrderReady { id: "o-bob".into() });
    d.act(TOM, OrderDecline { id: "o-lea2".into(), reason: "No radishes this week.".into() });

    // To hand over: by pickup day, then in the order they were placed; no pickup day last.
    let pending = d.store.pending_orders(NID, "primeur").unwrap();
    assert_eq!(id_of(&pending), ids(&["o-bob", "o-lea", "o-bob2", "o-chloe"]));
    let lea = &pending[1];
    assert_eq!((lea.stall_name.as_str(), lea.customer_name.as_str()), ("Primeur Tom", "Léa"));
    let lines: Vec<(&str, &str, &str, i64, i64)> = lea
        .lines
        .iter()
        .map(|l| (l.product_id.as_str(), l.name.as_str(), l.unit.as_str(), l.quantity, l.price_cents))
        .collect();
    assert_eq!(lines, [("tomates", "Tomates", "kg", 2, 350), ("radis", "Radis", "bunch", 1, 150)]);
    assert_eq!(lea.total_cents, 2 * 350 + 150);

    let orders = |filter: OrderFilter, page: Page| id_of(&d.store.orders(NID, &filter, page).unwrap());
    let all = OrderFilter::default();
    assert_eq!(
        orders(all.clone(), Page::default()),
        ids(&["o-cheese", "o-lea2", "o-bob2", "o-chloe", "o-bob", "o-lea"])
    );
    assert_eq!(orders(all.clone(), Page::new(2, 1)), ids(&["o-lea2", "o-bob2"]));
    let bobs = OrderFilter { customer: Some(BOB.into()), ..all.clone() };
    assert_eq!(orders(bobs.clone(), Page::default()), ids(&["o-cheese", "o-bob2", "o-bob"]));
    let bobs_at_tom = OrderFilter { stall_id: Some("primeur".into()), ..bobs };
    assert_eq!(orders(bobs_at_tom, Page::default()), ids(&["o-bob2", "o-bob"]));
    let ready = OrderFilter { status: Some(OrderStatus::Ready), ..all.clone() };
    assert_eq!(orders(ready, Page::default()), ids(&["o-bob"]));
    let declined = OrderFilter { status: Some(OrderStatus::Declined), ..all };
    let views = d.store.orders(NID, &declined, Page::default()).unwrap();
    assert_eq!(views[0].order.decline_reason.as_deref(), Some("No radishes this week."));
    let cheese = d
        .store
        .orders(
            NID,
            &OrderFilter { stall_id: Some("fromages".into()), ..OrderFilter::default() },
            Page::default(),
        )
        .unwrap();
    assert_eq!((cheese[0].stall_name.as_str(), cheese[0].total_cents), ("Fromagerie Mona", 2_400));
}

#[test]
fn a_thread_reads_oldest_first_with_its_authors_names() {
    let mut d = lending_device();
    let drill = |id: &str, body: &str| message(id, ThreadKind::Loan, "l-lea", body);
    d.act(LEA, drill("m1", "Bonjour ! Je passe quand ?"));
    d.later(MINUTE);
    d.act(MONA, drill("m2", "Demain 18 h, 12 rue d'Aligre."));
    d.later(MINUTE);
    d.act(LEA, drill("m3", "Parfait, merci."));
    d.later(MINUTE);
    d.act(CHLOE, message("m4", ThreadKind::Loan, "l-chloe", "Another thread"));
    let thread = ThreadRef { kind: ThreadKind::Loan, id: "l-lea".into() };
    let views = d.store.thread(NID, &thread, Page::default()).unwrap();
    assert_eq!(id_of(&views), ids(&["m1", "m2", "m3"]));
    let authors: Vec<&str> = views.iter().map(|v| v.author_name.as_str()).collect();
    assert_eq!(authors, ["Léa", "Mona", "Léa"]);
    assert_eq!(id_of(&d.store.thread(NID, &thread, Page::new(2, 1)).unwrap()), ids(&["m2", "m3"]));
    let wrong_kind = ThreadRef { kind: ThreadKind::Favour, id: "l-lea".into() };
    assert!(d.store.thread(NID, &wrong_kind, Page::default()).unwrap().is_empty());
}

#[test]
fn an_id_is_found_by_its_last_characters_in_its_neighbourhood_only() {
    let mut d = Device::new(MONA);
    d.act(LEA, ask("f-3a9c41", "Water my plants"));
    d.act(LEA, ask("f-77a9c41", "Feed the cat"));
    d.act(LEA, ask("a9c41", "Carry a sofa"));
    d.found("bastille", MONA, "Mona");
    let found = |end: &str| d.store.ids_ending_with(NID, EntityKind::Favour, end, 10).unwrap();
    // The one that is what was typed first, then the others by id.
    assert_eq!(found("a9c41"), ids(&["a9c41", "f-3a9c41", "f-77a9c41"]));
    assert_eq!(found("7a9c41"), ids(&["f-77a9c41"]));
    // Typed characters are compared as they are: no wildcards.
    assert_eq!(found("%41"), ids(&[]));
    assert_eq!(found("_9c41"), ids(&[]));
    assert_eq!(d.store.ids_ending_with(NID, EntityKind::Favour, "c41", 2).unwrap().len(), 2);
    assert_eq!(d.store.ids_ending_with(NID, EntityKind::Item, "a9c41", 10).unwrap(), ids(&[]));
    assert_eq!(d.store.ids_ending_with("bastille", EntityKind::Favour, "a9c41", 10).unwrap(), ids(&[]));
}
