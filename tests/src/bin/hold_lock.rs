//! `hold-lock DATABASE`: another program holding a Quartier database's write lock, for the storage
//! fault tests of the Kotlin and Swift shells (`android/.../StorageFaultsTest.kt`,
//! `ios/Tests/QuartierTests/StorageFaultsTests.swift`), which have no SQLite of their own to take it.
//!
//! It opens the database, begins an exclusive transaction, prints `locked`, and keeps the lock until
//! its standard input closes (or a line arrives), then rolls back and exits. It never holds it for more
//! than 60 seconds, whatever its parent does.

use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: hold-lock DATABASE");
        return ExitCode::from(2);
    };
    let conn = match rusqlite::Connection::open(&path) {
        Ok(conn) => conn,
        Err(e) => {
            eprintln!("hold-lock: cannot open {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) =
        conn.busy_timeout(Duration::from_secs(5)).and_then(|()| conn.execute_batch("BEGIN EXCLUSIVE"))
    {
        eprintln!("hold-lock: cannot lock {path}: {e}");
        return ExitCode::FAILURE;
    }
    println!("locked");
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(60));
        eprintln!("hold-lock: released after 60 seconds");
        std::process::exit(1);
    });
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    let _ = conn.execute_batch("ROLLBACK");
    ExitCode::SUCCESS
}
