//! A sync server in a process of its own (`src/bin/server_process.rs`) that a test can stop — gracefully
//! (it lets the calls under way finish) or abruptly (SIGKILL, in the middle of whatever it was doing)
//! — and start again on the same database and the same address, while devices go on syncing with it.
//!
//! [`ServerProcess::view`] is a [`TestServer`] opened on the same database in the test's own process:
//! make [`Device`](crate::Device)s with it, and look at what the server holds with its read helpers.
//! Its own HTTP side is not used: its `url` is the process's.

use crate::{PostgresDatabase, TestDb, TestServer, blocking};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use tempfile::TempDir;

/// A server process on a database that outlives it.
#[derive(Debug)]
pub struct ServerProcess {
    /// The same database, opened in the test's process; its `url` is the process's.
    pub view: TestServer,
    program: &'static str,
    kind: &'static str,
    place: String,
    address: String,
    child: Option<Child>,
}

impl ServerProcess {
    /// A new database (a SQLite file, or a database of its own on PostgreSQL) and a server process on it.
    /// `program` is `env!("CARGO_BIN_EXE_server-process")`, which only tests see.
    pub async fn start(db: TestDb, program: &'static str) -> ServerProcess {
        let dir = TempDir::new().unwrap();
        let (kind, place, backend, postgres): (_, _, quartier_server::AnyBackend, _) = match db {
            TestDb::Sqlite => {
                let file = dir.path().join("server.db");
                let backend = quartier_server::SqliteBackend::open(&file).unwrap().into();
                ("sqlite", file.display().to_string(), backend, None)
            }
            TestDb::Postgres => blocking(|| {
                let (database, url) = PostgresDatabase::create();
                let parsed = quartier_server::PostgresUrl::parse(&url).unwrap();
                let backend = quartier_server::PostgresBackend::open_with(&parsed, 2).unwrap().into();
                ("postgres", url, backend, Some(database))
            }),
        };
        let server = quartier_server::Server::new(backend, quartier_server::Config::default());
        let view = TestServer { url: String::new(), server, stop: None, _dir: dir, _postgres: postgres };
        let mut process =
            ServerProcess { view, program, kind, place, address: "127.0.0.1:0".to_owned(), child: None };
        process.restart().await;
        process
    }

    pub fn url(&self) -> &str {
        &self.view.url
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the process again on the same database and address (the first time: any free port).
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "the server process is already running");
        let (program, kind, place, address) =
            (self.program, self.kind, self.place.clone(), self.address.clone());
        let (child, url) = blocking(move || {
            let mut child = Command::new(program)
                .args([kind, &place, &address])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            let mut line = String::new();
            let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
            stdout.read_line(&mut line).unwrap();
            let url = line
                .trim()
                .strip_prefix("listening ")
                .unwrap_or_else(|| panic!("server-process said {line:?}"));
            (child, url.to_owned())
        });
        self.address = url.trim_start_matches("http://").to_owned();
        self.view.url = url;
        self.child = Some(child);
    }

    /// Stops it gracefully: it stops taking calls and finishes those under way.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("the server process is not running");
        drop(child.stdin.take());
        let status = blocking(move || child.wait().unwrap());
        assert!(status.success(), "the server process failed when stopped: {status}");
    }

    /// Kills it with SIGKILL, in the middle of whatever it was doing.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("the server process is not running");
        child.kill().unwrap();
        blocking(move || child.wait().unwrap());
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
