//! quartier-server: the sync server of Quartier.
//!
//! Devices push their mutations, which the server applies once each with the same rules the devices
//! ran (`quartier_core::domain`), and pull the confirmed changes of their neighbourhoods in pages. The
//! wire protocol is `quartier_core::sync::protocol`, shared with the device's client.
//!
//! Layout, from the edge inwards:
//! - `main.rs`: the command line (`quartier-server serve`);
//! - [`run`]: serves a [`Server`] on an already-bound listener until a shutdown future resolves, so
//!   that tests bind `127.0.0.1:0` and talk to a real server;
//! - `http/`: routes, extractors, the middleware (limits, compression, metrics, rate limits);
//! - [`sync`]: the calls of the protocol, generic over the storage backend and free of HTTP;
//! - [`storage`]: the [`Backend`](storage::Backend) and [`Tx`](storage::Tx) traits, SQLite and
//!   PostgreSQL, and [`AnyBackend`] (either, chosen at start-up);
//! - [`error`], [`metrics`], [`rate_limit`], [`clock`], [`config`].

pub mod clock;
pub mod config;
pub mod error;
pub mod fuzz;
mod http;
pub mod metrics;
pub mod rate_limit;
pub mod storage;
pub mod sync;

pub use config::Config;
pub use http::COMPRESS_ABOVE;
pub use storage::AnyBackend;
pub use storage::postgres::{PostgresBackend, PostgresUrl};
pub use storage::sqlite::SqliteBackend;

use clock::Clock;
use error::Error;
use metrics::Metrics;
use rate_limit::Limiter;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use storage::Backend;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Everything a call needs, shared by all of them: the database, the settings, the clock, the metrics
/// and the rate limits. Cheap to clone.
#[derive(Debug)]
pub struct Server<B> {
    inner: Arc<Inner<B>>,
}

impl<B> Clone for Server<B> {
    fn clone(&self) -> Server<B> {
        Server { inner: Arc::clone(&self.inner) }
    }
}

#[derive(Debug)]
pub(crate) struct Inner<B> {
    pub(crate) backend: B,
    pub(crate) config: Config,
    pub(crate) clock: Arc<Clock>,
    pub(crate) metrics: Metrics,
    pub(crate) register_limit: Limiter,
    pub(crate) join_limit: Limiter,
    /// Turns for [`Server::blocking`]: as many as the backend has connections.
    calls: Arc<Semaphore>,
}

impl<B: Backend> Server<B> {
    pub fn new(backend: B, config: Config) -> Server<B> {
        let inner = Inner {
            calls: Arc::new(Semaphore::new(backend.calls_at_once().max(1))),
            backend,
            clock: Arc::new(Clock::new(config.now)),
            metrics: Metrics::new(),
            register_limit: Limiter::new(config.onboarding_limit),
            join_limit: Limiter::new(config.onboarding_limit),
            config,
        };
        Server { inner: Arc::new(inner) }
    }

    pub fn backend(&self) -> &B {
        &self.inner.backend
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Runs blocking work (transactions) on the blocking pool, off the threads that serve requests,
    /// at most [`Backend::calls_at_once`] at a time: the others wait for a turn without holding a
    /// thread. (Unbounded, a load of 1,000 devices had SQLite open and close a read connection for
    /// most calls, compiling each statement again on it: a quarter of the server's time.)
    pub(crate) async fn blocking<R, F>(&self, work: F) -> Result<R, Error>
    where
        F: FnOnce(&Inner<B>) -> Result<R, Error> + Send + 'static,
        R: Send + 'static,
    {
        let turn =
            Arc::clone(&self.inner.calls).acquire_owned().await.map_err(|e| Error::Task(e.to_string()))?;
        let inner = Arc::clone(&self.inner);
        // The turn is given back when the work ends, even if the call was dropped meanwhile.
        tokio::task::spawn_blocking(move || {
            let answer = work(&inner);
            drop(turn);
            answer
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))?
    }
}

/// Serves `server` on `listener` until `shutdown` resolves, then lets the calls under way finish.
pub async fn run<B: Backend>(
    listener: TcpListener,
    server: Server<B>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = http::router(server.clone());
    // Rate-limit tables forget the addresses that have been quiet, once a minute.
    let janitor = tokio::spawn(async move {
        let mut every_minute = tokio::time::interval(Duration::from_secs(60));
        loop {
            every_minute.tick().await;
            server.inner.register_limit.forget_idle();
            server.inner.join_limit.forget_idle();
        }
    });
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    janitor.abort();
    served
}

#[cfg(test)]
mod tests {
    use super::{Config, Server, SqliteBackend};
    use crate::storage::Backend;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Many calls at once take turns on the backend's connections: no more run at once than it has,
    /// and SQLite opens no more read connections than it keeps (unbounded, most calls of a load of
    /// 1,000 devices opened one, compiled their statements on it and closed it).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blocking_calls_take_turns_on_the_connections() {
        let dir = tempfile::tempdir().unwrap();
        let server =
            Server::new(SqliteBackend::open(&dir.path().join("turns.db")).unwrap(), Config::default());
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let calls: Vec<_> = (0..64)
            .map(|_| {
                let (server, running, most) = (server.clone(), Arc::clone(&running), Arc::clone(&most));
                tokio::spawn(async move {
                    server
                        .blocking(move |inner| {
                            Ok(inner.backend.read(|tx| {
                                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                                most.fetch_max(now, Ordering::SeqCst);
                                std::thread::sleep(Duration::from_millis(5));
                                running.fetch_sub(1, Ordering::SeqCst);
                                tx.neighbourhood_version("nowhere")
                            })?)
                        })
                        .await
                })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap().unwrap(), None);
        }
        let at_once = server.backend().calls_at_once();
        assert!(most.load(Ordering::SeqCst) <= at_once, "{} ran at once", most.load(Ordering::SeqCst));
        assert!(server.backend().readers_opened() <= at_once, "{} opened", server.backend().readers_opened());
    }
}
