//! What only the PostgreSQL backend has: its migrations (a `schema_version` table, several server
//! processes upgrading one database at once), its text order whatever the database's locale, and its
//! writes on tokio's blocking pool (a panicking one answered as on SQLite's writer thread). These
//! need `QUARTIER_TEST_POSTGRES` like the PostgreSQL half of the suite.

use crate::support::*;
use quartier_core::domain::EntityKind;
use quartier_core::sync::protocol::Outcome;
use quartier_server::storage::postgres::{CURRENT_VERSION, upgrade_to};
use quartier_server::storage::{Backend, StorageError};
use quartier_server::{PostgresBackend, PostgresUrl};

fn schema_versions(database: &PostgresDatabase) -> Vec<i32> {
    database
        .client()
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[test]
fn migrations_run_once_even_from_several_processes_and_a_newer_database_is_refused() {
    let database = PostgresDatabase::create();
    let url = PostgresUrl::parse(&database.url).unwrap();
    // Four servers start at once on a fresh database: one upgrades it, the others wait and find it done.
    std::thread::scope(|scope| {
        let opening: Vec<_> = (0..4).map(|_| scope.spawn(|| PostgresBackend::open(&url))).collect();
        for open in opening {
            open.join().unwrap().unwrap();
        }
    });
    let every: Vec<i32> = (1..=i32::try_from(CURRENT_VERSION).unwrap()).collect();
    assert_eq!(schema_versions(&database), every, "each migration once");
    // Every table is keyed by neighbourhood first where it holds a neighbourhood's data.
    let keys: Vec<(String, String)> = database
        .client()
        .query(
            "SELECT c.relname::text, a.attname::text FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indrelid \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] \
             WHERE i.indisprimary AND c.relname IN ('neighbourhoods', 'entities') ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("entities".into(), "neighbourhood_id".into()),
            ("neighbourhoods".into(), "neighbourhood_id".into())
        ]
    );

    // Opening again runs nothing.
    PostgresBackend::open(&url).unwrap();
    assert_eq!(schema_versions(&database), every);

    // A database a newer server upgraded is refused, and left as it is.
    let newer = i32::try_from(CURRENT_VERSION + 1).unwrap();
    database.client().execute("INSERT INTO schema_version (version) VALUES ($1)", &[&newer]).unwrap();
    let error = PostgresBackend::open(&url).unwrap_err();
    assert!(matches!(error, StorageError::NewerSchema { .. }), "{error}");
    assert!(error.to_string().contains("newer quartier-server"), "{error}");
    assert_eq!(schema_versions(&database).len(), every.len() + 1);
}

/// A database made at schema `version`, with `rows` written into it, and a backend over it, which
/// upgrades it to the current version as a server starting on it does.
fn upgraded_from(version: u32, rows: &str) -> (PostgresDatabase, PostgresBackend) {
    let database = PostgresDatabase::create();
    upgrade_to(&mut database.client(), version).unwrap();
    database.client().batch_execute(rows).unwrap();
    let backend = PostgresBackend::open(&PostgresUrl::parse(&database.url).unwrap()).unwrap();
    (database, backend)
}

/// Migration 3 (link deadlines): a device from before has none, so it keeps working.
#[test]
fn devices_from_before_link_deadlines_have_none() {
    let (_database, backend) = upgraded_from(
        2,
        "INSERT INTO devices (device_id, person_id, token_hash, created_at, last_seq) \
             VALUES ('d1', 'p1', 'h1', 0, 0)",
    );
    let device = backend.read(|tx| tx.device_by_token_hash("h1")).unwrap().unwrap();
    assert_eq!((device.device_id.as_str(), device.claim_by), ("d1", None));
}

/// Migration 4 (outcome times): the answers recorded before have no time, so they go as soon as their
/// device says it has stored them; those recorded since stay until they are old enough.
#[test]
fn outcomes_from_before_their_times_go_once_their_device_has_stored_them() {
    let (_database, backend) = upgraded_from(
        3,
        "INSERT INTO devices (device_id, person_id, token_hash, created_at, last_seq) VALUES ('d1', 'p1', 'h1', 0, 2); \
             INSERT INTO outcomes (device_id, seq, neighbourhood_id, outcome, hlc) \
             VALUES ('d1', 1, 'n1', '{\"status\":\"applied\"}', 's1'), ('d1', 2, 'n1', '{\"status\":\"applied\"}', 's2')",
    );
    let forgotten = backend
        .write(|tx| {
            tx.record_outcome("d1", 3, "n1", &Outcome::Applied, "s3", 1_000)?;
            tx.forget_outcomes("d1", 3, 1_000)
        })
        .unwrap();
    assert_eq!(forgotten, 2);
    let kept =
        backend.read(|tx| (1..=3).map(|seq| tx.outcome("d1", seq)).collect::<Result<Vec<_>, _>>()).unwrap();
    assert_eq!(kept, [None, None, Some(Outcome::Applied)]);
    assert_eq!(backend.write(|tx| tx.forget_outcomes("d1", 3, 1_001)).unwrap(), 1);
}

/// Migration 5 (device removal): devices from before are on their accounts.
#[test]
fn devices_from_before_removal_are_in_use() {
    let (_database, backend) = upgraded_from(
        4,
        "INSERT INTO devices (device_id, person_id, token_hash, created_at, last_seq) \
             VALUES ('d1', 'p1', 'h1', 0, 0)",
    );
    let device = backend.read(|tx| tx.device_by_token_hash("h1")).unwrap().unwrap();
    assert_eq!((device.device_id.as_str(), device.removed_at), ("d1", None));
    assert_eq!(backend.read(|tx| tx.person_devices("p1")).unwrap().len(), 1);
}

/// Lists come in byte order of their ids (Rust's `String` order, as `MemoryState` and SQLite give them)
/// even in a database whose own order is a language's, where `_c` < `a` < `B` < `Z`.
#[tokio::test]
async fn lists_come_in_byte_order_whatever_the_databases_locale() {
    let database = blocking(|| {
        PostgresDatabase::create_with(
            "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'",
        )
    });
    let ordered_by_language: bool =
        blocking(|| database.client().query_one("SELECT '_c' < 'a' AND 'a' < 'B'", &[]).unwrap().get(0));
    assert!(ordered_by_language, "the database orders text the way a language does");
    let server = TestServer::start_on(TestDatabase::Postgres(database)).await;
    let h = hood(&server).await;
    let (mut lea, mut bob) = (h.lea, h.bob);
    server.act(&mut lea, &h.nid, item("drill", "Drill")).await;
    let today = quartier_core::domain::Day::of_instant(now_ms(), 0);
    let ids = ["l-a", "l-B", "l-_c", "l-Z"];
    for (i, id) in ids.iter().enumerate() {
        let day = today.plus_days(i32::try_from(i).unwrap() + 1);
        let request = quartier_core::domain::mutation::LoanRequest {
            id: (*id).into(),
            item_id: "drill".into(),
            first_day: day,
            last_day: day,
            note: String::new(),
        };
        server.act(&mut bob, &h.nid, request).await;
    }
    let listed: Vec<String> = server
        .read(|tx| Ok(tx.open_loans_of_item(&h.nid, "drill")?.into_iter().map(|loan| loan.id).collect()));
    let mut expected: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(expected, ["l-B", "l-Z", "l-_c", "l-a"]);
    // Bob leaves: one version with his loans' tombstones, pulled in kind and id order.
    server.act(&mut bob, &h.nid, quartier_core::domain::mutation::MemberLeave {}).await;
    let page = server.pull_page(&h.tom, &h.nid, 0, None).await;
    let last = page.changes.last().unwrap().version;
    let keys: Vec<(EntityKind, String)> = page
        .changes
        .iter()
        .filter(|c| c.version == last)
        .map(|c| {
            let key = c.effect.key();
            (key.kind, key.id)
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
    assert_eq!(keys, sorted);
    assert!(keys.len() > ids.len(), "{keys:?}");
}

/// A write that panics on the blocking pool is rolled back and answered with the panic's message, in
/// the same words as on SQLite's writer thread, and the next write goes on.
#[tokio::test]
async fn a_panicking_write_is_rolled_back_and_answered_as_on_sqlite() {
    let database = blocking(PostgresDatabase::create);
    let backend = blocking(|| PostgresBackend::open(&PostgresUrl::parse(&database.url).unwrap()).unwrap());
    let error = backend
        .write_owned(|tx| -> Result<(), StorageError> {
            tx.set_neighbourhood_version("c", 1)?;
            panic!("a bug in the middle of a write");
        })
        .await
        .unwrap_err();
    let text = format!(
        "{error}: {}",
        std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default()
    );
    assert!(
        text.contains("the write panicked (a bug in the middle of a write); its changes were rolled back"),
        "{text}"
    );
    backend.write_owned(|tx| tx.set_neighbourhood_version("d", 1)).await.unwrap();
    let versions = blocking(|| {
        backend.read(|tx| {
            Ok::<_, StorageError>((tx.neighbourhood_version("c")?, tx.neighbourhood_version("d")?))
        })
    });
    assert_eq!(versions.unwrap(), (None, Some(1)));
    blocking(move || drop(backend));
}
