//! Starting and stopping: `run` ends on its shutdown future; the binary starts, serves and stops on
//! SIGTERM over either database, and a start-up failure is one sentence on stderr with a non-zero exit
//! code (1 when something cannot be used or reached, 2 when the command line is wrong).

use crate::support::*;
use reqwest::StatusCode;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_quartier-server");

async fn graceful_shutdown_ends_run(db: Db) {
    let server = TestServer::start(db).await;
    let url = server.url("/health");
    assert_eq!(server.http.get(&url).send().await.unwrap().status(), StatusCode::OK);
    let http = server.http.clone();
    server.stop().await.expect("run ends cleanly");
    // Nothing listens any more.
    assert!(http.get(&url).send().await.is_err());
}

/// Runs the binary to its end; gives its exit code and stderr.
fn run_binary(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(BINARY)
        .args(args)
        .env_remove("QUARTIER_DATABASE")
        .env_remove("QUARTIER_DATA")
        .env_remove("QUARTIER_LISTEN")
        .env_remove("QUARTIER_METRICS_TOKEN")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// One line, `quartier-server: <sentence>`.
fn one_sentence(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr}");
    lines[0].strip_prefix("quartier-server: ").unwrap_or_else(|| panic!("{stderr}"))
}

/// Runs `serve` with a data folder of its own and `args`, for a start that must fail: gives its exit
/// code and stderr, having checked that the data folder was not made.
fn serve_failing(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut all = vec!["serve", "--data", data.to_str().unwrap(), "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let (code, stderr) = run_binary(&all);
    assert!(!data.exists(), "nothing was created: {stderr}");
    (code, stderr)
}

#[test]
fn a_metrics_token_too_short_is_refused_without_showing_it() {
    let (code, stderr) = serve_failing(&["--metrics-token", "hunter2"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(one_sentence(&stderr).contains("at least 16"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "the token was shown: {stderr}");
}

#[test]
fn database_urls_that_cannot_be_used_are_refused_before_anything_is_touched() {
    let serve = |url: &str| serve_failing(&["--database", url]);
    // Plain text to a remote host, TLS (not spoken), an unknown option, an unknown scheme.
    for (url, named) in [
        ("postgres://quartier:hunter2@db.example/quartier", "db.example"),
        ("postgres://quartier:hunter2@localhost/quartier?sslmode=require", "TLS"),
        ("postgres://quartier:hunter2@localhost/quartier?colour=blue", "colour"),
        ("mysql://quartier:hunter2@localhost/quartier", "\"mysql\""),
    ] {
        let (code, stderr) = serve(url);
        assert_eq!(code, Some(2), "{url}: {stderr}");
        let sentence = one_sentence(&stderr);
        assert!(sentence.contains(named), "{url}: {sentence}");
        assert!(!stderr.contains("hunter2"), "the password was shown: {stderr}");
    }
}

#[test]
fn an_unreachable_postgresql_is_one_clear_sentence() {
    // Nothing listens on port 1.
    let (code, stderr) = serve_failing(&["--database", "postgres://quartier:hunter2@127.0.0.1:1/quartier"]);
    assert_eq!(code, Some(1), "{stderr}");
    let sentence = one_sentence(&stderr);
    assert!(sentence.contains("cannot connect to PostgreSQL at quartier@127.0.0.1:1/quartier"), "{sentence}");
    assert!(
        sentence.contains("refused") && sentence.contains("check that the server is running"),
        "{sentence}"
    );
    assert!(!stderr.contains("hunter2"), "the password was shown: {stderr}");
}

async fn a_taken_port_is_one_clear_sentence(db: Db) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let database = blocking(|| TestDatabase::create(db));
    let mut args = vec![String::from("serve"), "--listen".into(), address.clone()];
    args.extend(database.serve_args());
    let (code, stderr) = run_binary(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, Some(1), "{stderr}");
    let sentence = one_sentence(&stderr);
    assert!(sentence.contains(&address) && sentence.contains("already in use"), "{sentence}");
}

/// SQLite only: PostgreSQL has no data folder.
#[test]
fn a_data_folder_that_cannot_be_made_is_one_clear_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let data = file.join("data");
    let (code, stderr) = run_binary(&["serve", "--data", data.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(1), "{stderr}");
    let sentence = one_sentence(&stderr);
    assert!(sentence.contains("cannot create the data folder") && sentence.contains("--data"), "{sentence}");

    // A database file that is not a database.
    let data = dir.path().join("broken");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("quartier-server.db"), vec![7_u8; 8192]).unwrap();
    let (code, stderr) = run_binary(&["serve", "--data", data.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(one_sentence(&stderr).contains("quartier-server.db"), "{stderr}");
}

async fn the_binary_serves_until_sigterm_and_keeps_its_data(db: Db) {
    let database = blocking(|| TestDatabase::create(db));
    let mut child = Command::new(BINARY)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(database.serve_args())
        .env_remove("QUARTIER_DATA")
        .env_remove("QUARTIER_DATABASE")
        .env("QUARTIER_METRICS_TOKEN", "scraper-token-0123456789abcdef")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The log says where it listens.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let started = Instant::now();
    let url = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "the server stopped before listening");
        if let Some(at) = line.find("listening on http://") {
            let rest = &line[at + "listening on ".len()..];
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no 'listening' line");
    };
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{url}/health")).send().await.unwrap().status(), StatusCode::OK);
    // The metrics token from the environment guards /metrics.
    let metrics = |token: &'static str| http.get(format!("{url}/metrics")).bearer_auth(token).send();
    assert_eq!(metrics("not-the-metrics-token").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(metrics("scraper-token-0123456789abcdef").await.unwrap().status(), StatusCode::OK);
    let registered = http
        .post(format!("{url}/v1/register"))
        .json(&quartier_core::sync::protocol::RegisterRequest {
            device_id: "d1".into(),
            person_id: "p1".into(),
            token: None,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a clean stop on SIGTERM");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest}");
    if let Some(file) = database.sqlite_file() {
        assert!(file.exists());
    }

    // The registration survived the restart: the same device cannot register again.
    let exists = blocking(|| {
        let backend = database.open();
        quartier_server::storage::Backend::read(&backend, |tx| tx.device_exists("d1")).unwrap()
    });
    assert!(exists);
}

on_both_backends!(
    graceful_shutdown_ends_run,
    a_taken_port_is_one_clear_sentence,
    the_binary_serves_until_sigterm_and_keeps_its_data,
);
