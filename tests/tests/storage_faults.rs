//! Disk and I/O errors on the device: a full disk, read-only storage and a database locked by another
//! connection. Each reaches the caller as its own [`StoreError`] variant with a sentence that says what
//! to do; nothing is reported saved that was not (the database is opened again and checked); and work
//! resumes when the fault clears.
//!
//! The full disk and the read-only storage are a real small filesystem (tmpfs, [`SmallDisk`]) where
//! this machine lets the test mount one (as root); elsewhere the same faults are injected inside SQLite
//! and the test says so. The CLI's exit codes and the Kotlin and Swift exceptions for the same faults
//! are tested in `cli/tests/cli/storage_faults.rs`, `android/src/test/.../StorageFaultsTest.kt` and
//! `ios/Tests/QuartierTests/StorageFaultsTests.swift`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test that cannot unwrap has failed

use quartier_core::domain::mutation::FavourPost;
use quartier_core::domain::{EntityKey, EntityKind, FavourKind};
use quartier_core::store::queries::MAX_PAGE_LIMIT;
use quartier_core::store::{Applied, Page, SearchFilter, Store, StoreError, StoreOptions};
use quartier_e2e::disk::{self, SmallDisk};
use quartier_e2e::fixtures::neighbourhood;
use std::path::Path;

const NID: &str = "aligre";

fn open(path: &Path) -> Store {
    Store::open(path.join("quartier.db"), StoreOptions::default()).unwrap()
}

fn found(store: &Store) {
    store.mutate(NID, neighbourhood("Aligre", "Alice")).unwrap();
}

/// Asks favour `n`, with a long text so that each one needs room of its own.
fn ask(store: &Store, n: usize) -> Result<Applied, StoreError> {
    store.mutate(
        NID,
        FavourPost {
            id: format!("favour-{n}"),
            kind: FavourKind::Ask,
            title: format!("Favour {n}"),
            details: format!("{n} ").repeat(1 + 1_900 / (n.to_string().len() + 1)),
            category: "garden".into(),
            window: None,
            cell: None,
        },
    )
}

fn has_favour(store: &Store, n: usize) -> bool {
    store.get(&EntityKey::new(NID, EntityKind::Favour, &format!("favour-{n}"))).unwrap().is_some()
}

/// Opened again: intact, with favours `0..saved` and their outbox entries, and not favour `failed`.
fn check_saved(path: &Path, saved: usize, failed: usize) {
    let store = open(path);
    let integrity: String = store
        .read(|conn| Ok(conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap()))
        .unwrap();
    assert_eq!(integrity, "ok");
    for n in 0..saved {
        assert!(has_favour(&store, n), "favour {n} was reported saved but is not there");
    }
    assert!(!has_favour(&store, failed), "favour {failed} was refused but is there");
    // The founding and each saved favour wait in the outbox, and nothing else.
    assert_eq!(store.pending_count().unwrap(), u64::try_from(saved).unwrap() + 1);
}

fn mount_or_say(size_kib: u64, fault: &str) -> Option<SmallDisk> {
    match SmallDisk::mount(size_kib) {
        Ok(disk) => Some(disk),
        Err(why) => {
            eprintln!("{fault}: cannot mount a small filesystem ({why}); injecting the fault inside SQLite");
            None
        }
    }
}

#[test]
fn a_full_disk_is_reported_saves_nothing_and_writing_resumes_when_space_is_freed() {
    let small = mount_or_say(4096, "full disk");
    let fallback = tempfile::TempDir::new().unwrap();
    let path = small.as_ref().map_or(fallback.path(), SmallDisk::path).to_path_buf();
    let store = open(&path);
    found(&store);
    match &small {
        Some(small) => small.fill(),
        None => disk::full_inside_sqlite(&store, None),
    }

    // Writes go on while the free pages and the log last; then one is refused, as a full disk.
    let mut saved = 0;
    let error = loop {
        assert!(saved < 2_000, "2000 favours saved on a full disk");
        match ask(&store, saved) {
            Ok(_) => saved += 1,
            Err(error) => break error,
        }
    };
    assert!(matches!(error, StoreError::DiskFull { .. }), "not reported as a full disk: {error:?}");
    let message = error.to_string();
    assert!(message.contains("full") && message.contains("free some space"), "{message}");
    // Still full: refused again, and reading still works.
    assert!(matches!(ask(&store, saved), Err(StoreError::DiskFull { .. })));
    assert!(has_favour(&store, saved.saturating_sub(1)) || saved == 0);
    assert!(!has_favour(&store, saved));
    // Searching too, the last favours included: their words wait to be indexed and the index cannot
    // grow, so the search finds them apart.
    let found = store.search(NID, "favour", &SearchFilter::default(), Page::new(MAX_PAGE_LIMIT, 0)).unwrap();
    assert_eq!(found.len(), saved.min(MAX_PAGE_LIMIT as usize), "a search on a full disk");
    if saved > 0 {
        let last =
            store.search(NID, &format!("favour {}", saved - 1), &SearchFilter::default(), Page::default());
        assert!(last.unwrap().iter().any(|hit| hit.id == format!("favour-{}", saved - 1)));
    }

    match &small {
        Some(small) => small.free(),
        None => disk::full_inside_sqlite(&store, Some(1 << 30)),
    }
    ask(&store, saved).expect("writing resumes once there is room");
    drop(store);
    check_saved(&path, saved + 1, saved + 1);
}

#[test]
fn read_only_storage_is_reported_saves_nothing_and_writing_resumes_when_writable() {
    let small = mount_or_say(8192, "read-only storage");
    let fallback = tempfile::TempDir::new().unwrap();
    let path = small.as_ref().map_or(fallback.path(), SmallDisk::path).to_path_buf();
    let store = open(&path);
    found(&store);
    ask(&store, 0).unwrap();

    if let Some(small) = &small {
        // The storage turns read-only while the app is closed (a filesystem cannot be remounted under
        // files open for writing): opening says so, naming the file.
        drop(store);
        small.set_read_only(true);
        let error = Store::open(path.join("quartier.db"), StoreOptions::default()).unwrap_err();
        assert!(
            matches!(error, StoreError::ReadOnly { .. }),
            "opening on read-only storage is not reported as read-only: {error:?}"
        );
        assert!(error.to_string().contains(&path.display().to_string()), "the file is not named: {error}");
        assert!(error.to_string().contains("cannot be written"), "{error}");
        small.set_read_only(false);
    } else {
        drop(store);
    }

    // The file stops being writable under an open store (injected inside SQLite: the storage of an open
    // file cannot be made read-only here): a write is refused as read-only, reads go on.
    let store = open(&path);
    disk::read_only_inside_sqlite(&store, true);
    let error = ask(&store, 1).unwrap_err();
    assert!(matches!(error, StoreError::ReadOnly { .. }), "not reported as read-only: {error:?}");
    assert!(error.to_string().contains("cannot be written"), "{error}");
    assert!(has_favour(&store, 0) && !has_favour(&store, 1), "reads go on, and nothing was saved");
    // A search goes on too (it cannot index what waits: it answers from what is indexed).
    store
        .search(NID, "favour", &SearchFilter::default(), Page::default())
        .expect("searching read-only storage");

    disk::read_only_inside_sqlite(&store, false);
    ask(&store, 1).expect("writing resumes once the storage is writable");
    drop(store);
    check_saved(&path, 2, 2);
}

#[test]
fn a_database_locked_by_another_connection_is_reported_and_writing_resumes_when_released() {
    let dir = tempfile::TempDir::new().unwrap();
    let store = open(dir.path());
    found(&store);
    ask(&store, 0).unwrap();

    // Another program holds the write lock for longer than the store waits (its busy timeout).
    let other = disk::WriteLock::take(&dir.path().join("quartier.db"));
    let error = ask(&store, 1).unwrap_err();
    assert!(matches!(error, StoreError::Locked { .. }), "not reported as locked: {error:?}");
    assert!(error.to_string().contains("locked by another program"), "{error}");
    assert!(has_favour(&store, 0) && !has_favour(&store, 1), "reads go on, and nothing was saved");
    // A search goes on too (it cannot index what waits: it answers from what is indexed).
    store
        .search(NID, "favour", &SearchFilter::default(), Page::default())
        .expect("searching read-only storage");

    drop(other);
    ask(&store, 1).expect("writing resumes once the lock is released");
    drop(store);
    check_saved(dir.path(), 2, 2);
}
