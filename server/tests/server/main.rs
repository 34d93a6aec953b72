//! quartier-server's tests: a real server on `127.0.0.1:0` over a real database, talked to over HTTP.
//! One binary, so it compiles once.
//!
//! Every test runs twice, once on SQLite and once on PostgreSQL (`on_both_backends!`): `sqlite::` and
//! `postgres::` in its name. The PostgreSQL half needs a server: `QUARTIER_TEST_POSTGRES`, a URL of a
//! PostgreSQL where the tests may create databases (`eval "$(bash scripts/postgres.sh)"` starts one);
//! without it those tests fail and say so.
//!
//! `support` starts servers, makes a database per test and makes phones; `sync` covers register, push,
//! pull and join, privacy, paging, concurrent writers and several servers over one database;
//! `authorization` the roles × actions matrix; `limits` malformed requests, sizes, rate limits,
//! compression, health and metrics; `lifecycle` start-up failures and shutdown; `state_view` checks the
//! server's state against the reference `MemoryState` over random histories; `postgresql` what only
//! PostgreSQL has (its migrations, several processes upgrading one database).

#![allow(clippy::unwrap_used)]

/// Runs each named test, an `async fn(Db)` of the module, on both backends: as
/// `<module>::sqlite::<name>` and `<module>::postgres::<name>`. A test left out of the list is never
/// called, which the dead-code lint refuses.
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(crate::support::Db::Sqlite).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(crate::support::Db::Postgres).await
                }
            )+
        }
    };
}

/// Starts a server (on `$db`, registration and joining not rate-limited) whose clock the test moves:
/// `(its time in Unix ms, set to now, the server)`. A macro so that each test has clocks of its own
/// (`Config::now` is a plain `fn`), one per back end: the two variants of a test run at the same time.
macro_rules! server_with_clock {
    ($db:expr) => {{
        static CLOCKS: [std::sync::atomic::AtomicI64; 2] =
            [std::sync::atomic::AtomicI64::new(0), std::sync::atomic::AtomicI64::new(0)];
        let db = $db;
        let (clock, now): (&'static std::sync::atomic::AtomicI64, fn() -> i64) = match db {
            crate::support::Db::Sqlite => {
                (&CLOCKS[0], || CLOCKS[0].load(std::sync::atomic::Ordering::SeqCst))
            }
            crate::support::Db::Postgres => {
                (&CLOCKS[1], || CLOCKS[1].load(std::sync::atomic::Ordering::SeqCst))
            }
        };
        clock.store(crate::support::now_ms(), std::sync::atomic::Ordering::SeqCst);
        let config = quartier_server::Config {
            now,
            onboarding_limit: crate::support::generous(),
            ..quartier_server::Config::default()
        };
        (clock, crate::support::TestServer::start_with(db, config).await)
    }};
}

mod authorization;
mod bad_input;
mod every_mutation;
mod fuzz;
mod lifecycle;
mod limits;
mod postgresql;
mod privacy;
mod state_view;
mod support;
mod sync;
