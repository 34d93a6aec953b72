//! `quartier-server`: the command line of the sync server.
//!
//! `quartier-server serve` opens (or creates) the SQLite database in the data folder, or connects to
//! the PostgreSQL database of `--database postgres://…`, listens, and serves until SIGTERM or Ctrl-C,
//! letting the calls under way finish. A start-up failure is one sentence on stderr and a non-zero
//! exit code. To add a setting: a flag (with its `QUARTIER_*` variable) in [`ServeArgs`], copied into
//! the library's `Config`.

use clap::{Args, Parser, Subcommand};
use quartier_server::config::MetricsToken;
use quartier_server::rate_limit::RateLimit;
use quartier_server::storage::sqlite::FILE_NAME;
use quartier_server::{AnyBackend, Config, PostgresBackend, PostgresUrl, Server, SqliteBackend};
use std::io::{ErrorKind, IsTerminal};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

const EXIT_CODES: &str = "Exit codes: 0 stopped cleanly (SIGTERM or Ctrl-C); 1 could not start or stopped on a \
failure (the address is taken, the data folder cannot be written, the database cannot be used or \
reached); 2 the command line is wrong (including a database URL that cannot be used as it is). \
Logs go to stderr; set RUST_LOG (for example RUST_LOG=debug) to see more.";

#[derive(Debug, Parser)]
#[command(name = "quartier-server", version, about = "The sync server of Quartier.", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the sync protocol until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The folder of the database file (quartier-server.db), created if missing.
    #[arg(long, env = "QUARTIER_DATA", default_value = "./quartier-data")]
    data: PathBuf,

    /// The address and port to listen on. Put a reverse proxy with TLS in front of it.
    #[arg(long, env = "QUARTIER_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,

    /// A database URL instead of the file in --data: `sqlite:PATH`, or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (through a Unix socket or loopback only, without
    /// TLS: add `sslmode=disable` for another host on a private network).
    #[arg(long, env = "QUARTIER_DATABASE", hide_env_values = true)]
    database: Option<String>,

    /// How many registrations, and how many joins, one client address may make per minute.
    #[arg(long, env = "QUARTIER_RATE_PER_MINUTE", default_value_t = RateLimit::default().per_minute)]
    rate_per_minute: NonZeroU32,

    /// How many registrations, and how many joins, one client address may make at once before the
    /// per-minute rate applies.
    #[arg(long, env = "QUARTIER_RATE_BURST", default_value_t = RateLimit::default().burst)]
    rate_burst: NonZeroU32,

    /// Behind a reverse proxy: the header whose last address is the client's (e.g. X-Forwarded-For).
    /// Without it, the peer's address is the client's.
    #[arg(long, env = "QUARTIER_CLIENT_IP_HEADER")]
    client_ip_header: Option<axum::http::HeaderName>,

    /// When set, /metrics answers only a scraper that sends this token (Authorization: Bearer); at
    /// least 16 characters. Prefer the variable: a command line can be read by other users.
    #[arg(long, env = "QUARTIER_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,

    /// The largest request body taken, in bytes, before and after decompression.
    #[arg(long, env = "QUARTIER_MAX_BODY_BYTES", default_value_t = quartier_server::config::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
}

/// Why the server did not start or stopped: a sentence, and the exit code.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn start(message: String) -> Failure {
        Failure { code: 1, message }
    }
    fn usage(message: String) -> Failure {
        Failure { code: 2, message }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let Command::Serve(args) = cli.command;
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::start(format!("cannot start the runtime: {e}")))
        .and_then(|runtime| runtime.block_on(serve(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("quartier-server: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// Where the database is: read from `--database` or `--data` before anything is touched.
enum Database {
    /// The SQLite file in the data folder, which is created if missing.
    InDataFolder(PathBuf),
    /// A SQLite file named by `sqlite:PATH`.
    File(PathBuf),
    /// A PostgreSQL database named by `postgres://…`.
    Postgres(Box<PostgresUrl>),
}

fn database(args: &ServeArgs) -> Result<Database, Failure> {
    match args.database.as_deref() {
        None => Ok(Database::InDataFolder(args.data.clone())),
        Some(url) if PostgresUrl::is_postgres(url) => PostgresUrl::parse(url)
            .map(|url| Database::Postgres(Box::new(url)))
            .map_err(|e| Failure::usage(e.to_string())),
        Some(url) if url.starts_with("sqlite:") => {
            let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
            if path.is_empty() {
                return Err(Failure::usage(String::from(
                    "the database URL sqlite: names no file; give sqlite:PATH",
                )));
            }
            Ok(Database::File(PathBuf::from(path)))
        }
        // The URL may hold a password: show its scheme only.
        Some(url) => Err(Failure::usage(format!(
            "the database URL scheme {:?} is not known; give sqlite:PATH or postgres://…, or leave out --database to use --data",
            url.split(':').next().unwrap_or_default()
        ))),
    }
}

/// Opens the database, creating the data folder if needed; gives how to name it in the log.
async fn open(database: Database) -> Result<(String, AnyBackend), Failure> {
    let path = match database {
        Database::InDataFolder(data) => {
            std::fs::create_dir_all(&data).map_err(|e| {
                Failure::start(format!(
                    "cannot create the data folder {} ({e}); choose a writable folder with --data or QUARTIER_DATA",
                    data.display()
                ))
            })?;
            data.join(FILE_NAME)
        }
        Database::File(path) => path,
        Database::Postgres(url) => {
            // The client blocks: connect off the runtime's threads.
            let target = url.target().to_owned();
            let backend = tokio::task::spawn_blocking(move || PostgresBackend::open(&url))
                .await
                .map_err(|e| Failure::start(format!("cannot start: connecting to PostgreSQL failed ({e})")))?
                .map_err(|e| Failure::start(format!("cannot start: {e}")))?;
            return Ok((format!("postgres://{target}"), backend.into()));
        }
    };
    let backend = SqliteBackend::open(&path).map_err(|e| Failure::start(format!("cannot start: {e}")))?;
    Ok((path.display().to_string(), backend.into()))
}

async fn serve(args: ServeArgs) -> Result<(), Failure> {
    // Check the command line, then take the address, then touch the disk: a failure leaves nothing behind.
    let database = database(&args)?;
    // Checked here rather than by clap, whose refusal would show the token.
    let metrics_token = args
        .metrics_token
        .as_deref()
        .map(MetricsToken::new)
        .transpose()
        .map_err(|e| Failure::usage(format!("--metrics-token (QUARTIER_METRICS_TOKEN): {e}")))?;
    let listener = tokio::net::TcpListener::bind(&args.listen).await.map_err(|e| {
        Failure::start(match e.kind() {
            ErrorKind::AddrInUse => format!(
                "cannot listen on {}: the address is already in use; stop the other server or choose another address with --listen",
                args.listen
            ),
            ErrorKind::PermissionDenied => format!(
                "cannot listen on {}: permission denied (ports below 1024 need privileges); choose another port with --listen",
                args.listen
            ),
            _ => format!("cannot listen on {} ({e}); check the address given with --listen", args.listen),
        })
    })?;
    let (shown, backend) = open(database).await?;
    let address = listener
        .local_addr()
        .map_err(|e| Failure::start(format!("cannot read the address listened on: {e}")))?;
    let config = Config {
        max_body_bytes: args.max_body_bytes,
        onboarding_limit: RateLimit { per_minute: args.rate_per_minute, burst: args.rate_burst },
        client_ip_header: args.client_ip_header,
        metrics_token,
        ..Config::default()
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        database = %shown,
        "quartier-server listening on http://{address}"
    );
    let server = Server::new(backend, config);
    quartier_server::run(listener, server, shutdown_signal())
        .await
        .map_err(|e| Failure::start(format!("stopped serving on {address}: {e}")))?;
    tracing::info!("quartier-server stopped");
    Ok(())
}

/// Resolves at SIGTERM (how service managers stop a server) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing the calls under way");
}
