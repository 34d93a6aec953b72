//! The store's write path against a real SQLite file: a mutation and its outbox entry are saved
//! together or not at all, refusals change nothing, and bad files give clear errors.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use quartier_core::domain::mutation::{FavourPost, NeighbourhoodCreate, ProductAdjustStock};
use quartier_core::domain::{Code, EntityKey, EntityKind, FavourKind, Op};
use quartier_core::store::{Durability, Identity, Store, StoreError, StoreOptions};
use tempfile::TempDir;

fn open(dir: &TempDir) -> Store {
    Store::open(dir.path().join("quartier.db"), StoreOptions::default()).unwrap()
}

fn found(store: &Store, nid: &str) -> String {
    let applied = store
        .mutate(
            nid,
            NeighbourhoodCreate {
                name: "Quartier d'Aligre".into(),
                description: String::new(),
                cell: None,
                display_name: "Alice".into(),
            },
        )
        .unwrap();
    applied.mutation.author
}

fn ask(id: &str, title: &str) -> Op {
    FavourPost {
        id: id.into(),
        kind: FavourKind::Ask,
        title: title.into(),
        details: String::new(),
        category: "garden".into(),
        window: None,
        cell: None,
    }
    .into()
}

#[test]
fn a_mutation_and_its_outbox_entry_are_saved_together() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    found(&store, "n1");
    let applied = store.mutate("n1", ask("f1", "Water my plants")).unwrap();
    assert_eq!(applied.mutation.seq, 2);
    let outbox = store.outbox().unwrap();
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[1], applied.mutation);
    assert!(store.get(&EntityKey::new("n1", EntityKind::Favour, "f1")).unwrap().is_some());

    // Reopening finds both, and numbering and the clock carry on from where they were.
    drop(store);
    let store = open(&dir);
    assert_eq!(store.outbox().unwrap().len(), 2);
    let next = store.mutate("n1", ask("f2", "Feed the cat")).unwrap();
    assert_eq!(next.mutation.seq, 3);
    assert!(next.mutation.hlc > applied.mutation.hlc);
}

#[test]
fn a_refused_mutation_writes_nothing_and_uses_no_number() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    found(&store, "n1");
    let err = store.mutate("n1", ask("f1", "   ")).unwrap_err();
    match err {
        StoreError::Rejected(rejection) => {
            assert_eq!(rejection.code, Code::Invalid);
            assert!(rejection.message.contains("title"), "{}", rejection.message);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let err = store.mutate("n1", ProductAdjustStock { id: "nope".into(), delta: -3 }).unwrap_err();
    assert!(matches!(err, StoreError::Rejected(ref r) if r.code == Code::NotFound), "{err:?}");
    assert_eq!(store.outbox().unwrap().len(), 1);
    assert!(store.get(&EntityKey::new("n1", EntityKind::Favour, "f1")).unwrap().is_none());
    assert_eq!(store.mutate("n1", ask("f1", "Water my plants")).unwrap().mutation.seq, 2);
}

#[test]
fn acting_in_a_neighbourhood_one_is_not_in_is_refused() {
    let dir = TempDir::new().unwrap();
    let store = open(&dir);
    let err = store.mutate("elsewhere", ask("f1", "Water my plants")).unwrap_err();
    assert!(matches!(err, StoreError::Rejected(ref r) if r.code == Code::NotMember), "{err:?}");
    assert_eq!(store.pending_count().unwrap(), 0);
}

#[test]
fn the_identity_is_kept_across_openings() {
    let dir = TempDir::new().unwrap();
    let identity = Identity { device_id: "phone".into(), person_id: "alice".into() };
    let options = StoreOptions { identity: Some(identity.clone()), ..StoreOptions::default() };
    let store = Store::open(dir.path().join("q.db"), options).unwrap();
    assert_eq!(store.identity(), &identity);
    drop(store);
    let reopened = Store::open(dir.path().join("q.db"), StoreOptions::default()).unwrap();
    assert_eq!(reopened.identity(), &identity);
}

#[test]
fn a_file_that_is_not_a_database_gives_a_clear_error_and_is_left_alone() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("quartier.db");
    let garbage = b"this is a shopping list, not a database; ".repeat(200);
    std::fs::write(&path, &garbage).unwrap();
    let err = Store::open(&path, StoreOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("quartier.db") && text.contains("damaged"), "{text}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}

#[test]
fn a_missing_folder_gives_a_clear_error() {
    let dir = TempDir::new().unwrap();
    let err = Store::open(dir.path().join("no/such/folder/q.db"), StoreOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::CannotOpen { .. }), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn a_read_only_database_refuses_writes_clearly_and_changes_nothing() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("quartier.db");
    {
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        found(&store, "n1");
    }
    let store = Store::open(&path, StoreOptions { read_only: true, ..StoreOptions::default() }).unwrap();
    let err = store.mutate("n1", ask("f1", "Water my plants")).unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot be written"), "{err}");
    assert_eq!(store.pending_count().unwrap(), 1);
    assert!(store.get(&EntityKey::new("n1", EntityKind::Favour, "f1")).unwrap().is_none());
}

#[test]
fn a_database_locked_by_another_connection_gives_a_clear_error_and_resumes() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("quartier.db");
    let store =
        Store::open(&path, StoreOptions { durability: Durability::Normal, ..StoreOptions::default() })
            .unwrap();
    found(&store, "n1");
    let other = rusqlite::Connection::open(&path).unwrap();
    other.busy_timeout(std::time::Duration::from_millis(1)).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    // The store waits up to its busy timeout (5 s), then says who is in the way.
    let err = store.mutate("n1", ask("f1", "Water my plants")).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    other.execute_batch("ROLLBACK").unwrap();
    store.mutate("n1", ask("f1", "Water my plants")).unwrap();
    assert_eq!(store.pending_count().unwrap(), 2);
}
