//! Logs for the apps: `tracing` events of the core, filtered here, handed to the shell's [`LogSink`]
//! (Logcat on Android, `os_log` on iOS).
//!
//! A global `tracing` subscriber is installed at the first [`set_log_sink`]; later calls only change
//! the sink and the level. Events of Quartier's own crates are passed at the chosen level; those of
//! the libraries below it (HTTP, TLS) only from warnings up, so that a debug level stays readable.

use crate::error::{QuartierError, shielded};
use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// One log line.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct LogRecord {
    pub level: LogLevel,
    /// Where it comes from: the Rust module (`quartier_core::sync::client`).
    pub target: String,
    /// The message, followed by its fields (`saved locally name=favour.post seq=2`).
    pub message: String,
}

/// Receives the core's log lines, on the thread that logged them. What it throws is dropped (there is
/// nowhere left to log it).
#[uniffi::export(foreign)]
pub trait LogSink: Send + Sync {
    fn log(&self, record: LogRecord) -> Result<(), QuartierError>;
}

static SINK: RwLock<Option<Arc<dyn LogSink>>> = RwLock::new(None);
/// The most detailed level passed for Quartier's own crates; `NONE` when no sink is set.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(NONE);
const NONE: u8 = 0;
static INSTALLED: OnceLock<bool> = OnceLock::new();

thread_local! {
    /// Set while a sink runs, so that a sink calling into the core cannot loop.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

fn rank(level: Level) -> u8 {
    match level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

fn rank_of(level: LogLevel) -> u8 {
    match level {
        LogLevel::Error => 1,
        LogLevel::Warn => 2,
        LogLevel::Info => 3,
        LogLevel::Debug => 4,
        LogLevel::Trace => 5,
    }
}

fn level_of(level: Level) -> LogLevel {
    match level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        Level::TRACE => LogLevel::Trace,
    }
}

fn passes(metadata: &Metadata<'_>) -> bool {
    let max = MAX_LEVEL.load(Ordering::Relaxed);
    let ours = metadata.target().starts_with("quartier");
    let limit = if ours { max } else { max.min(rank(Level::WARN)) };
    rank(*metadata.level()) <= limit
}

/// Sends the core's log lines to `sink`, up to `max_level` for Quartier's own code. Replaces the
/// previous sink. Fails if the process already has another `tracing` subscriber.
#[uniffi::export]
pub fn set_log_sink(sink: Arc<dyn LogSink>, max_level: LogLevel) -> Result<(), QuartierError> {
    let installed = *INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(Forward);
        tracing::subscriber::set_global_default(subscriber).is_ok()
    });
    if !installed {
        return Err(QuartierError::invalid(
            "another tracing subscriber is installed in this process, so Quartier's logs cannot be sent",
        ));
    }
    *SINK.write().unwrap_or_else(|p| p.into_inner()) = Some(sink);
    MAX_LEVEL.store(rank_of(max_level), Ordering::Relaxed);
    Ok(())
}

/// Stops sending log lines.
#[uniffi::export]
pub fn remove_log_sink() {
    MAX_LEVEL.store(NONE, Ordering::Relaxed);
    SINK.write().unwrap_or_else(|p| p.into_inner()).take();
}

struct Forward;

impl<S: Subscriber> Layer<S> for Forward {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        // The level can change at any time: ask `enabled` at every event (an atomic load).
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        passes(metadata)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if !passes(event.metadata()) || IN_SINK.with(Cell::get) {
            return;
        }
        let Some(sink) = SINK.read().unwrap_or_else(|p| p.into_inner()).clone() else { return };
        let mut text = Text::default();
        event.record(&mut text);
        let record = LogRecord {
            level: level_of(*event.metadata().level()),
            target: event.metadata().target().to_owned(),
            message: text.message + &text.fields,
        };
        IN_SINK.with(|flag| flag.set(true));
        // The sink's own failure is logged from inside it, so the guard above drops that line.
        shielded("log sink", || sink.log(record));
        IN_SINK.with(|flag| flag.set(false));
    }
}

/// An event's message, then its other fields as ` key=value`.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Lines(Mutex<Vec<LogRecord>>);

    impl LogSink for Lines {
        fn log(&self, record: LogRecord) -> Result<(), QuartierError> {
            self.0.lock().unwrap().push(record);
            Ok(())
        }
    }

    // One test: the subscriber and the sink are global to the process. Other tests log at the same time,
    // so only the lines of this test's targets are looked at.
    #[test]
    fn events_are_filtered_and_forwarded() {
        const OURS: &str = "quartier_ffi::logging::test";
        let lines = Arc::new(Lines::default());
        let mine = || -> Vec<LogRecord> {
            let all = lines.0.lock().unwrap().clone();
            all.into_iter()
                .filter(|r| [OURS, "hyper::client", "rustls"].contains(&r.target.as_str()))
                .collect()
        };
        set_log_sink(lines.clone(), LogLevel::Info).unwrap();
        tracing::info!(target: OURS, seq = 3, "saved {}", "locally");
        tracing::debug!(target: OURS, "too detailed");
        tracing::info!(target: "hyper::client", "not ours and below warnings");
        tracing::warn!(target: "rustls", "not ours but a warning");
        assert_eq!(
            mine(),
            vec![
                LogRecord {
                    level: LogLevel::Info,
                    target: OURS.into(),
                    message: "saved locally seq=3".into()
                },
                LogRecord {
                    level: LogLevel::Warn,
                    target: "rustls".into(),
                    message: "not ours but a warning".into()
                },
            ]
        );
        remove_log_sink();
        tracing::error!(target: OURS, "after removal");
        assert_eq!(mine().len(), 2);
    }
}
