//! `server-process`: the sync server in a process of its own, for the server restart test
//! (`tests/server_restarts.rs`, through [`quartier_e2e::server_process`]).
//!
//! `server-process sqlite FILE LISTEN` or `server-process postgres URL LISTEN` opens the database (the
//! same library and settings as `quartier-server serve`), listens on `LISTEN` (retrying for a few
//! seconds while the address is still taken by a server just stopped), prints `listening URL`, and
//! serves until its standard input closes: then it stops gracefully, letting the calls under way finish,
//! and exits with 0. The test stops it abruptly with SIGKILL instead. It never serves for more than
//! five minutes.

use quartier_server::{AnyBackend, Config, PostgresBackend, PostgresUrl, Server, SqliteBackend};
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn open(kind: &str, place: &str) -> Result<AnyBackend, String> {
    match kind {
        "sqlite" => SqliteBackend::open(Path::new(place)).map(Into::into).map_err(|e| e.to_string()),
        "postgres" => {
            let url = PostgresUrl::parse(place).map_err(|e| e.to_string())?;
            PostgresBackend::open_with(&url, 4).map(Into::into).map_err(|e| e.to_string())
        }
        other => Err(format!("unknown database kind {other:?} (sqlite or postgres)")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, place, listen] = args.as_slice() else {
        eprintln!("usage: server-process (sqlite FILE | postgres URL) LISTEN");
        return ExitCode::from(2);
    };
    // Opened before the runtime starts: the PostgreSQL client runs one of its own.
    let result = open(kind, place).and_then(|backend| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(serve(backend, listen))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server-process: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(backend: AnyBackend, listen: &str) -> Result<(), String> {
    let started = Instant::now();
    let listener = loop {
        match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => break listener,
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && started.elapsed() < Duration::from_secs(10) =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(format!("cannot listen on {listen}: {e}")),
        }
    };
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening http://{address}");
    let server = Server::new(backend, Config::default());
    let (closed, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        let _ = closed.send(());
    });
    let shutdown = async move {
        let _ = tokio::time::timeout(Duration::from_secs(300), stdin_closed).await;
    };
    quartier_server::run(listener, server, shutdown).await.map_err(|e| e.to_string())
}
