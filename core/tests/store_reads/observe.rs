//! Watched queries: the first result at once, one call per relevant change, none for other kinds or
//! unchanged results, errors reported without a panic, safe from several threads, stopped by drop.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::store::{FavourFilter, Page, Store, StoreError, Watch};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The titles of the open favours in the garden, newest first.
fn garden(store: &Store) -> Result<Vec<String>, StoreError> {
    let filter = FavourFilter {
        status: Some(FavourStatus::Open),
        category: Some("garden".into()),
        ..FavourFilter::default()
    };
    Ok(store.favours(NID, &filter, Page::default())?.into_iter().map(|v| v.favour.title).collect())
}

/// Records what a watch delivers.
fn recorder<T: Send + 'static>() -> (Arc<Mutex<Vec<T>>>, impl Fn(T) + Send + Sync + 'static) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    (seen, move |value| sink.lock().unwrap().push(value))
}

fn taken<T: Clone>(seen: &Arc<Mutex<Vec<T>>>) -> Vec<T> {
    seen.lock().unwrap().clone()
}

#[test]
fn a_watch_fires_at_once_then_once_per_change_of_its_result() {
    let mut d = Device::new(MONA);
    d.act(LEA, ask("f1", "Water my plants"));
    let (seen, on_change) = recorder();
    let watch = d.store.watch(&[EntityKind::Favour], garden, on_change).unwrap();
    assert_eq!(taken(&seen), [vec!["Water my plants".to_owned()]]);

    // A relevant change, by this phone's person or arriving from another: one call each.
    d.later(HOUR);
    d.act(MONA, ask("f2", "Prune the hedge"));
    d.act(BOB, FavourRef { id: "f1".into() });
    assert_eq!(
        taken(&seen),
        [
            vec!["Water my plants".to_owned()],
            vec!["Prune the hedge".to_owned(), "Water my plants".to_owned()],
            vec!["Prune the hedge".to_owned()],
        ]
    );

    // Other kinds do not re-run it; favours that leave the result as it was do not call it.
    d.act(MONA, item("drill", "Perceuse", "tools", None));
    d.act(LEA, offer("f3", "I fix bikes"));
    d.act(
        MONA,
        FavourEdit {
            id: "f2".into(),
            title: "Prune the hedge".into(),
            details: "Saturday".into(),
            category: "garden".into(),
            window: None,
        },
    );
    assert_eq!(taken(&seen).len(), 3);

    // Dropped, it stops.
    drop(watch);
    d.act(CHLOE, ask("f4", "Rake the leaves"));
    assert_eq!(taken(&seen).len(), 3);
}

#[test]
fn a_watch_only_reruns_for_the_kinds_it_names() {
    let mut d = Device::new(MONA);
    let runs = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&runs);
    let query = move |store: &Store| {
        *counter.lock().unwrap() += 1;
        garden(store)
    };
    let (seen, on_change) = recorder();
    let _watch = d.store.watch(&[EntityKind::Favour, EntityKind::Member], query, on_change).unwrap();
    d.act(MONA, item("drill", "Perceuse", "tools", None));
    d.act(TOM, stall("primeur", "Primeur Tom", None));
    assert_eq!(*runs.lock().unwrap(), 1, "items and stalls are not watched");
    d.join("emile", "Émile");
    assert_eq!(*runs.lock().unwrap(), 2, "members are");
    assert_eq!(taken(&seen).len(), 1, "and the result did not change");
}

#[test]
fn errors_are_reported_and_the_watch_goes_on() {
    let mut d = Device::new(MONA);
    let failing = Arc::new(AtomicBool::new(false));
    let fail = Arc::clone(&failing);
    let query = move |store: &Store| {
        if fail.load(Ordering::SeqCst) {
            Err(StoreError::Invalid("the query failed on purpose".into()))
        } else {
            garden(store)
        }
    };
    let (seen, on_change) = recorder();
    let (errors, on_error) = recorder::<String>();
    let _watch = d
        .store
        .watch_with_errors(&[EntityKind::Favour], query, on_change, move |e: StoreError| {
            on_error(e.to_string())
        })
        .unwrap();
    failing.store(true, Ordering::SeqCst);
    d.act(LEA, ask("f1", "Water my plants"));
    assert_eq!(taken(&errors), ["the query failed on purpose"]);
    assert_eq!(taken(&seen).len(), 1);
    failing.store(false, Ordering::SeqCst);
    d.act(LEA, ask("f2", "Prune the hedge"));
    assert_eq!(taken(&seen).last().unwrap().len(), 2);

    // Without an error callback, errors are logged and nothing panics.
    let fail = Arc::clone(&failing);
    let logged = move |store: &Store| {
        if fail.load(Ordering::SeqCst) { Err(StoreError::NotFound("gone".into())) } else { garden(store) }
    };
    let _quiet = d.store.watch(&[EntityKind::Favour], logged, |_| {}).unwrap();
    failing.store(true, Ordering::SeqCst);
    d.act(LEA, ask("f3", "Mow the lawn"));

    // A first run that fails is returned, and nothing is watched.
    let broken = d.store.watch(
        &[EntityKind::Favour],
        |_: &Store| Err::<u32, _>(StoreError::NotFound("x".into())),
        |_| {},
    );
    assert!(matches!(broken, Err(StoreError::NotFound(_))));
    let nothing = d.store.watch(&[], garden, |_| {});
    assert!(matches!(nothing, Err(StoreError::Invalid(_))));
}

#[test]
fn on_change_may_write_to_the_store() {
    let d = Device::new(MONA);
    let store = Arc::clone(&d.store);
    let count = |store: &Store| garden(store).map(|titles| titles.len());
    let (seen, record) = recorder();
    // Each new favour makes the watcher post the next one, up to five: a commit inside `on_change`.
    let _watch = d
        .store
        .watch(&[EntityKind::Favour], count, move |n: usize| {
            record(n);
            if n < 5 {
                store.mutate(NID, ask(&format!("f{n}"), &format!("Favour {n}"))).unwrap();
            }
        })
        .unwrap();
    assert_eq!(taken(&seen), [0, 1, 2, 3, 4, 5]);
}

#[test]
fn commits_from_several_threads_reach_the_watch_in_order() {
    let d = Device::new(MONA);
    let (seen, on_change) = recorder();
    let count = |store: &Store| {
        let all = FavourFilter::default();
        store.favours(NID, &all, Page::new(200, 0)).map(|favours| favours.len())
    };
    let watch: Watch = d.store.watch(&[EntityKind::Favour], count, on_change).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&d.store);
            std::thread::spawn(move || {
                for n in 0..25 {
                    store.mutate(NID, ask(&format!("t{t}-{n}"), "Water my plants")).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let seen = taken(&seen);
    assert_eq!(seen.first(), Some(&0));
    assert_eq!(seen.last(), Some(&100), "the last result is the final state");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "each result newer than the one before: {seen:?}");
    drop(watch);
}
