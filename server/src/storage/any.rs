//! [`AnyBackend`]: the backend chosen at start-up, SQLite or PostgreSQL, behind one type, so that the
//! command line and the tests build one kind of [`Server`](crate::Server) whatever the database.
//!
//! Each call goes to the backend inside; a new backend is one more variant and one more arm in each
//! method.

use super::postgres::PostgresBackend;
use super::sqlite::SqliteBackend;
use super::{Backend, StorageError, Tx};
use std::future::Future;
use std::pin::Pin;

#[derive(Debug)]
pub enum AnyBackend {
    Sqlite(SqliteBackend),
    Postgres(PostgresBackend),
}

impl From<SqliteBackend> for AnyBackend {
    fn from(backend: SqliteBackend) -> AnyBackend {
        AnyBackend::Sqlite(backend)
    }
}

impl From<PostgresBackend> for AnyBackend {
    fn from(backend: PostgresBackend) -> AnyBackend {
        AnyBackend::Postgres(backend)
    }
}

impl Backend for AnyBackend {
    fn write<R, E>(&self, work: impl FnOnce(&dyn Tx) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StorageError>,
    {
        match self {
            AnyBackend::Sqlite(backend) => backend.write(work),
            AnyBackend::Postgres(backend) => backend.write(work),
        }
    }

    fn write_owned<R, E, W>(&self, work: W) -> impl Future<Output = Result<R, E>> + Send + 'static
    where
        W: FnOnce(&dyn Tx) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let written: Pin<Box<dyn Future<Output = Result<R, E>> + Send>> = match self {
            AnyBackend::Sqlite(backend) => Box::pin(backend.write_owned(work)),
            AnyBackend::Postgres(backend) => Box::pin(backend.write_owned(work)),
        };
        written
    }

    fn read<R, E>(&self, work: impl FnOnce(&dyn Tx) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StorageError>,
    {
        match self {
            AnyBackend::Sqlite(backend) => backend.read(work),
            AnyBackend::Postgres(backend) => backend.read(work),
        }
    }

    fn health(&self) -> Result<(), StorageError> {
        match self {
            AnyBackend::Sqlite(backend) => backend.health(),
            AnyBackend::Postgres(backend) => backend.health(),
        }
    }

    fn calls_at_once(&self) -> usize {
        match self {
            AnyBackend::Sqlite(backend) => backend.calls_at_once(),
            AnyBackend::Postgres(backend) => backend.calls_at_once(),
        }
    }
}
