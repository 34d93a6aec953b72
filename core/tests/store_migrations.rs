//! Migrations: a database made by every older released schema, with data in it, upgrades to the
//! current schema without losing anything, and ends up with the same schema as a fresh database.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use quartier_core::domain::mutation::{FavourPost, NeighbourhoodCreate};
use quartier_core::domain::{Entity, EntityKey, EntityKind, FavourKind, FavourStatus};
use quartier_core::store::schema::{self, CURRENT_VERSION};
use quartier_core::store::{Identity, Page, SearchFilter, SearchOrder, Store, StoreError, StoreOptions};
use rusqlite::Connection;
use tempfile::TempDir;

/// The schema as SQLite describes it, comparable between two databases, with the search tables'
/// settings (rows of their `_config` tables).
fn schema_of(conn: &Connection) -> Vec<(String, String, String)> {
    let mut stmt = conn
        .prepare(
            "SELECT type, name, coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'
             UNION ALL SELECT 'setting', 'favours_fts', k || ' = ' || v FROM favours_fts_config
             UNION ALL SELECT 'setting', 'items_fts', k || ' = ' || v FROM items_fts_config
             UNION ALL SELECT 'setting', 'products_fts', k || ' = ' || v FROM products_fts_config
             UNION ALL SELECT 'setting', 'search_folded', count(*) || ' row' FROM search_folded
             ORDER BY 1, 2, 3",
        )
        .unwrap();
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A database brought up to date by the migrations has, to the letter, the schema of a new one (made
/// from `schema.sql`): else, the objects that differ.
fn assert_fresh_schema(upgraded: &Connection, fresh: &Connection, from: &str) {
    let (upgraded, fresh) = (schema_of(upgraded), schema_of(fresh));
    let only = |a: &[(String, String, String)], b: &[(String, String, String)]| -> Vec<String> {
        a.iter().filter(|x| !b.contains(x)).map(|(t, n, sql)| format!("{t} {n}: {sql}")).collect()
    };
    let (migrated, written) = (only(&upgraded, &fresh), only(&fresh, &upgraded));
    assert!(
        migrated.is_empty() && written.is_empty(),
        "upgraded from {from}, the schema differs from core/src/store/schema.sql (which must say what the \
         migrations make).\nMade by the migrations only:\n{}\nIn schema.sql only:\n{}",
        migrated.join("\n"),
        written.join("\n")
    );
}

/// A database made by a store opened on an empty file in `dir` (`fresh.db`): the schema every upgrade
/// must end at.
fn fresh_database(dir: &TempDir) -> Connection {
    let path = dir.path().join("fresh.db");
    drop(Store::open(&path, StoreOptions::default()).unwrap());
    Connection::open(&path).unwrap()
}

/// Rows exactly as version 1 of Quartier wrote them: a neighbourhood, its founder, an open favour
/// with its search entry, and a mutation waiting in the outbox.
fn fill_version_1(conn: &Connection) {
    conn.execute_batch(
        r#"
        INSERT INTO meta (key, value) VALUES ('device_id', 'phone-1'), ('person_id', 'alice');
        INSERT INTO neighbourhoods (neighbourhood_id, id, name, data) VALUES ('n1', 'n1', 'Aligre',
          '{"kind":"neighbourhood","data":{"id":"n1","name":"Aligre","description":"","cell":null,"created_by":"alice","created_at":1700000000000,"updated":"0000018bcfe5680000000000000000aa"}}');
        INSERT INTO members (neighbourhood_id, id, display_name, role, status, data) VALUES ('n1', 'alice', 'Alice', 'moderator', 'active',
          '{"kind":"member","data":{"neighbourhood_id":"n1","id":"alice","display_name":"Alice","bio":"","skills":[],"cell":null,"role":"moderator","status":"active","invited_by":null,"joined_at":1700000000000,"updated":"0000018bcfe5680000000000000000aa"}}');
        INSERT INTO favours (neighbourhood_id, id, author, kind, status, category, counterpart, cell_row, cell_col, created_at, data)
          VALUES ('n1', 'f1', 'alice', 'ask', 'open', 'cooking', NULL, NULL, NULL, 1700000000001,
          '{"kind":"favour","data":{"neighbourhood_id":"n1","id":"f1","author":"alice","kind":"ask","title":"Des pâtes pour ce soir","details":"","category":"cooking","window":null,"cell":null,"status":"open","counterpart":null,"thanks_note":null,"created_at":1700000000001,"updated":"0000018bcfe5680100000000000000aa"}}');
        INSERT INTO favours_fts (rowid, title, details, category) VALUES ((SELECT rowid FROM favours WHERE id = 'f1'), 'Des pâtes pour ce soir', '', 'cooking');
        INSERT INTO outbox (seq, neighbourhood_id, name, hlc, mutation, created_at) VALUES (2, 'n1', 'favour.post', '0000018bcfe5680100000000000000aa',
          '{"neighbourhood_id":"n1","author":"alice","device_id":"phone-1","seq":2,"hlc":"0000018bcfe5680100000000000000aa","name":"favour.post","args":{"id":"f1","kind":"ask","title":"Des pâtes pour ce soir","details":"","category":"cooking","window":null,"cell":null}}', 1700000000001);
        "#,
    )
    .unwrap();
}

#[test]
fn a_version_1_database_with_data_upgrades_and_keeps_it() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("old.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        schema::upgrade_to(&mut conn, 1).unwrap();
        assert_eq!(schema::version(&conn).unwrap(), 1);
        fill_version_1(&conn);
    }

    let store = Store::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(store.identity(), &Identity { device_id: "phone-1".into(), person_id: "alice".into() });
    let favour = store.get(&EntityKey::new("n1", EntityKind::Favour, "f1")).unwrap();
    match favour {
        Some(Entity::Favour(f)) => {
            assert_eq!(f.title, "Des pâtes pour ce soir");
            assert_eq!(f.status, FavourStatus::Open);
        }
        other => panic!("the favour was lost: {other:?}"),
    }
    // Its search entry was made again from its row (version 9): found in either order.
    for order in [SearchOrder::BestMatch, SearchOrder::Newest] {
        let filter = SearchFilter { order, ..SearchFilter::default() };
        let hits = store.search("n1", "pates", &filter, Page::default()).unwrap();
        assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["f1"], "{order:?}");
    }
    let outbox = store.outbox().unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].seq, 2);

    // The upgraded database keeps working: numbering continues after the old outbox.
    let next = store
        .mutate(
            "n1",
            FavourPost {
                id: "f2".into(),
                kind: FavourKind::Offer,
                title: "I can fix bikes".into(),
                details: String::new(),
                category: "diy".into(),
                window: None,
                cell: None,
            },
        )
        .unwrap();
    assert_eq!(next.mutation.seq, 3);
    assert!(next.mutation.hlc > outbox[0].hlc);
    drop(store);

    // And its schema is the one a fresh database gets.
    let upgraded = Connection::open(&path).unwrap();
    let fresh = fresh_database(&dir);
    assert_eq!(schema::version(&upgraded).unwrap(), CURRENT_VERSION);
    assert_fresh_schema(&upgraded, &fresh, "v1");
}

#[test]
fn every_older_version_upgrades_to_the_fresh_schema() {
    let dir = TempDir::new().unwrap();
    let fresh = fresh_database(&dir);
    for version in 1..CURRENT_VERSION {
        let path = dir.path().join(format!("v{version}.db"));
        {
            // Version 1's rows fit the tables up to version 10; from 11 on (rows name their
            // neighbourhood by a number) they are written at version 1 and migrated up to `version`.
            let mut conn = Connection::open(&path).unwrap();
            schema::upgrade_to(&mut conn, version.min(10)).unwrap();
            fill_version_1(&conn);
            schema::upgrade_to(&mut conn, version).unwrap();
        }
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        assert!(store.get(&EntityKey::new("n1", EntityKind::Favour, "f1")).unwrap().is_some(), "v{version}");
        let found = store.search("n1", "pates", &SearchFilter::default(), Page::default()).unwrap();
        assert_eq!(found.len(), 1, "v{version}: {found:?}");
        drop(store);
        assert_fresh_schema(&Connection::open(&path).unwrap(), &fresh, &format!("v{version}"));
    }
}

#[test]
fn version_9_numbers_favours_items_and_products_in_the_order_of_their_creation() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("v8.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        schema::upgrade_to(&mut conn, 8).unwrap();
        fill_version_1(&conn);
        // Stored after f1 but created before it; an item and products in between; a removed product.
        conn.execute_batch(
            r#"
            INSERT INTO favours (neighbourhood_id, id, author, kind, status, category, counterpart, cell_row, cell_col, created_at, data)
              SELECT 'n1', 'f0', 'alice', 'ask', 'open', 'cooking', NULL, NULL, NULL, 1600000000000,
                json_set(data, '$.data.id', 'f0', '$.data.title', 'Des pâtes au pesto', '$.data.created_at', 1600000000000)
              FROM favours WHERE id = 'f1';
            INSERT INTO items (neighbourhood_id, id, owner, category, withdrawn, cell_row, cell_col, created_at, data)
              VALUES ('n1', 'pot', 'alice', 'kitchen', 0, NULL, NULL, 1650000000000,
                '{"kind":"item","data":{"id":"pot","title":"Pot à pâtes","description":"Le grand","category":"kitchen"}}');
            INSERT INTO products (neighbourhood_id, id, stall_id, owner, removed, available_today, price_cents, created_at, data)
              VALUES ('n1', 'fresh', 's1', 'alice', 0, 1, 900, 1800000000000,
                '{"kind":"product","data":{"id":"fresh","name":"Pâtes fraîches","unit":"kg"}}'),
              ('n1', 'dry', 's1', 'alice', 1, 1, 300, 1750000000000,
                '{"kind":"product","data":{"id":"dry","name":"Pâtes sèches","unit":"kg"}}');
            "#,
        )
        .unwrap();
    }
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    let newest = SearchFilter { order: SearchOrder::Newest, open_only: false, ..SearchFilter::default() };
    let ids = |hits: Vec<quartier_core::store::SearchHit>| hits.into_iter().map(|h| h.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.search("n1", "pates", &newest, Page::default()).unwrap()),
        ["fresh", "f1", "pot", "f0"]
    );
    store
        .read(|conn| {
            for fts in ["favours_fts", "items_fts", "products_fts"] {
                conn.execute(&format!("INSERT INTO {fts} ({fts}, rank) VALUES ('integrity-check', 1)"), [])
                    .unwrap_or_else(|e| panic!("{fts}: {e}"));
            }
            let rows: Vec<i64> = conn
                .prepare("SELECT rowid FROM favours UNION ALL SELECT rowid FROM items UNION ALL SELECT rowid FROM products ORDER BY 1")
                .unwrap()
                .query_map([], |row| row.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(rows, [1, 2, 3, 4, 5]);
            Ok(())
        })
        .unwrap();
    // What is posted next comes first.
    let post = FavourPost {
        id: "f2".into(),
        kind: FavourKind::Ask,
        title: "Encore des pâtes".into(),
        details: String::new(),
        category: "cooking".into(),
        window: None,
        cell: None,
    };
    store.mutate("n1", post).unwrap();
    assert_eq!(ids(store.search("n1", "pates", &newest, Page::new(2, 0)).unwrap()), ["f2", "fresh"]);
}

#[test]
fn version_10_keeps_apart_only_the_confirmed_state_of_what_the_device_changed() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("v9.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        schema::upgrade_to(&mut conn, 9).unwrap();
        fill_version_1(&conn);
        // As version 9 left a synced device: every pulled entity in `base` too. f0 was pulled, then
        // edited here and the edit applied by the server (settling); f1 is posted here, not pushed yet.
        conn.execute_batch(
            r#"
            INSERT INTO favours (neighbourhood_id, id, author, kind, status, category, counterpart, cell_row, cell_col, created_at, data)
              SELECT 'n1', 'f0', 'alice', 'ask', 'open', 'cooking', NULL, NULL, NULL, 1600000000000,
                json_set(data, '$.data.id', 'f0', '$.data.title', 'Edited here', '$.data.created_at', 1600000000000)
              FROM favours WHERE id = 'f1';
            INSERT INTO base (neighbourhood_id, kind, id, version, data)
              SELECT 'n1', 'neighbourhood', 'n1', 1, data FROM neighbourhoods
              UNION ALL SELECT 'n1', 'member', 'alice', 2, data FROM members
              UNION ALL SELECT 'n1', 'favour', 'f0', 3, json_set(data, '$.data.title', 'As pulled') FROM favours WHERE id = 'f0';
            INSERT INTO settling (neighbourhood_id, kind, id) VALUES ('n1', 'favour', 'f0');
            UPDATE outbox SET touched = '[{"neighbourhood_id":"n1","kind":"favour","id":"f1"}]' WHERE seq = 2;
            "#,
        )
        .unwrap();
    }
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    let kept = |store: &Store| {
        store
            .read(|conn| {
                let mut stmt = conn
                    .prepare("SELECT kind, id, json_extract(data, '$.data.title') FROM confirmed ORDER BY id")
                    .unwrap();
                let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?))).unwrap();
                Ok(rows.map(Result::unwrap).collect::<Vec<(String, String, Option<String>)>>())
            })
            .unwrap()
    };
    assert_eq!(
        kept(&store),
        [("favour".into(), "f0".into(), Some("As pulled".into())), ("favour".into(), "f1".into(), None)],
        "the settling favour as pulled, the pending post as one the server has not"
    );
    // Refused, the post is rolled back to the server's state (no such favour); the settling edit stays.
    let refused = quartier_core::sync::protocol::MutationResult {
        seq: 2,
        outcome: quartier_core::sync::protocol::Outcome::Rejected {
            code: quartier_core::domain::Code::NotMember,
            message: "no".into(),
        },
    };
    store.acknowledge(&[refused]).unwrap();
    assert_eq!(store.get(&EntityKey::new("n1", EntityKind::Favour, "f1")).unwrap(), None);
    match store.get(&EntityKey::new("n1", EntityKind::Favour, "f0")).unwrap() {
        Some(Entity::Favour(f)) => assert_eq!(f.title, "Edited here"),
        other => panic!("{other:?}"),
    }
    assert_eq!(kept(&store), [("favour".into(), "f0".into(), Some("As pulled".into()))]);
}

#[test]
fn version_12_builds_the_counterpart_index_a_large_pull_put_off_as_the_partial_one() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("v11.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        schema::upgrade_to(&mut conn, 11).unwrap();
        // A large pull put the index off and kept its SQL, and it could not be built again before the
        // upgrade (a full disk, say).
        conn.execute_batch(
            "DROP INDEX favours_by_counterpart_time;
             INSERT INTO meta (key, value) VALUES ('deferred index favours_by_counterpart_time',
               'CREATE INDEX favours_by_counterpart_time ON favours (neighbourhood, counterpart, created_at)');",
        )
        .unwrap();
        schema::upgrade_to(&mut conn, 12).unwrap();
    }
    drop(Store::open(&path, StoreOptions::default()).unwrap());
    let upgraded = Connection::open(&path).unwrap();
    assert_fresh_schema(&upgraded, &fresh_database(&dir), "v11");
    // Nothing is left to build (building it again would fail at every opening and every sync).
    let waiting: i64 = upgraded
        .query_row("SELECT count(*) FROM meta WHERE key LIKE 'deferred index %'", [], |row| row.get(0))
        .unwrap();
    assert_eq!(waiting, 0);
}

#[test]
fn version_11_names_each_rows_neighbourhood_by_a_number_of_this_device() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("v10.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        schema::upgrade_to(&mut conn, 10).unwrap();
        fill_version_1(&conn);
        // The same person in a second neighbourhood, with a favour of the same id there.
        conn.execute_batch(
            r#"
            INSERT INTO neighbourhoods (neighbourhood_id, id, name, data)
              SELECT 'n2', 'n2', 'Belleville', json_set(data, '$.data.id', 'n2', '$.data.name', 'Belleville') FROM neighbourhoods;
            INSERT INTO members (neighbourhood_id, id, display_name, role, status, data)
              SELECT 'n2', id, display_name, role, status, json_set(data, '$.data.neighbourhood_id', 'n2') FROM members;
            INSERT INTO favours (neighbourhood_id, id, author, kind, status, category, counterpart, cell_row, cell_col, created_at, data)
              SELECT 'n2', 'f1', author, kind, status, category, counterpart, cell_row, cell_col, created_at,
                json_set(data, '$.data.neighbourhood_id', 'n2', '$.data.title', 'Des pâtes à Belleville')
              FROM favours WHERE id = 'f1';
            "#,
        )
        .unwrap();
    }
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    let numbers = |store: &Store| {
        store
            .read(|conn| {
                let mut stmt =
                    conn.prepare("SELECT id, number FROM neighbourhood_numbers ORDER BY number").unwrap();
                let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap();
                Ok(rows.map(Result::unwrap).collect::<Vec<(String, i64)>>())
            })
            .unwrap()
    };
    assert_eq!(numbers(&store), [("n1".to_owned(), 1), ("n2".to_owned(), 2)]);
    let title =
        |store: &Store, nid: &str| match store.get(&EntityKey::new(nid, EntityKind::Favour, "f1")).unwrap() {
            Some(Entity::Favour(f)) => Some(f.title),
            None => None,
            other => panic!("{other:?}"),
        };
    assert_eq!(title(&store, "n1").as_deref(), Some("Des pâtes pour ce soir"));
    assert_eq!(title(&store, "n2").as_deref(), Some("Des pâtes à Belleville"));
    let found = |store: &Store, nid: &str| {
        let hits = store.search(nid, "pates", &SearchFilter::default(), Page::default()).unwrap();
        hits.into_iter().map(|h| h.title).collect::<Vec<_>>()
    };
    assert_eq!(found(&store, "n1"), ["Des pâtes pour ce soir"]);
    assert_eq!(found(&store, "n2"), ["Des pâtes à Belleville"]);
    assert_eq!(store.members("n2", Page::default()).unwrap().len(), 1);
    // Leaving one neighbourhood takes its rows and its number, and nothing of the other.
    store.forget("n2").unwrap();
    assert_eq!(numbers(&store), [("n1".to_owned(), 1)]);
    assert_eq!(title(&store, "n2"), None);
    assert_eq!(found(&store, "n2"), Vec::<String>::new());
    assert_eq!(title(&store, "n1").as_deref(), Some("Des pâtes pour ce soir"));
    // A neighbourhood met next gets a number of its own with its first row.
    let founded = NeighbourhoodCreate {
        name: "Ménilmontant".into(),
        description: String::new(),
        cell: None,
        display_name: "Alice".into(),
    };
    store.mutate("n3", founded).unwrap();
    assert_eq!(numbers(&store), [("n1".to_owned(), 1), ("n3".to_owned(), 2)]);
    assert_eq!(store.members("n3", Page::default()).unwrap().len(), 1);
}

#[test]
fn a_database_from_a_newer_quartier_is_refused_untouched() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("new.db");
    {
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        store
            .mutate(
                "n1",
                NeighbourhoodCreate {
                    name: "Aligre".into(),
                    description: String::new(),
                    cell: None,
                    display_name: "A".into(),
                },
            )
            .unwrap();
    }
    Connection::open(&path).unwrap().pragma_update(None, "user_version", CURRENT_VERSION + 1).unwrap();
    let err = Store::open(&path, StoreOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::NewerSchema { .. }), "{err:?}");
    assert!(err.to_string().contains("update the app"), "{err}");
    let conn = Connection::open(&path).unwrap();
    assert_eq!(schema::version(&conn).unwrap(), CURRENT_VERSION + 1);
    let count: i64 = conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0)).unwrap();
    assert_eq!(count, 1);
}
