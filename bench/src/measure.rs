//! Measuring: timings and their summaries, peak resident memory, and the machine the run is on.
//!
//! Timings are summarised by their median and percentiles (nearest rank); a figure is only ever shown
//! next to a baseline measured in the same run, so a slow or busy machine moves both.

use std::time::{Duration, Instant};

/// A set of timings of one operation.
#[derive(Clone, Debug, Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn new() -> Samples {
        Samples(Vec::new())
    }

    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    /// Times `f` once and keeps the timing.
    pub fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let value = f();
        self.0.push(start.elapsed());
        value
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `p`-th percentile (0–100), nearest rank; zero when empty.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    pub fn median(&self) -> Duration {
        self.percentile(50.0)
    }

    pub fn total(&self) -> Duration {
        self.0.iter().sum()
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }
}

/// Milliseconds, for reports.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Microseconds, for reports.
pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// This process's peak resident memory so far, in bytes (`VmHWM`; Linux only, `None` elsewhere).
pub fn peak_rss_bytes() -> Option<u64> {
    proc_status_kb("VmHWM").map(|kb| kb * 1024)
}

/// The CPU time this process has used so far, all its threads, user and system (`/proc/self/stat`;
/// Linux only, `None` elsewhere).
pub fn process_cpu_time() -> Option<Duration> {
    stat_cpu_time(&std::fs::read_to_string("/proc/self/stat").ok()?).map(|(_, cpu)| cpu)
}

/// The CPU time used so far by this process's live threads named `name` (`/proc/self/task`; Linux
/// only, `None` elsewhere). A thread that has ended is no longer counted.
pub fn threads_cpu_time(name: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let Ok(stat) = std::fs::read_to_string(task.ok()?.path().join("stat")) else { continue };
        if let Some((comm, cpu)) = stat_cpu_time(&stat) {
            if comm == name {
                total += cpu;
            }
        }
    }
    Some(total)
}

/// The command name and the user and system time of a `stat` file of `/proc`, whose unit is the
/// kernel's user clock tick, 1/100 s on Linux.
fn stat_cpu_time(stat: &str) -> Option<(&str, Duration)> {
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let (head, rest) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1;
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
    let mut fields = rest.split_whitespace();
    let user: u64 = fields.nth(11)?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((comm, Duration::from_millis((user + system) * 10)))
}

fn proc_status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The machine the run is on, in one line per fact.
#[derive(Clone, Debug)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory: String,
    pub os: String,
}

impl Machine {
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| std::env::consts::ARCH.to_owned(), |(_, v)| v.trim().to_owned());
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or_else(|| "unknown".to_owned(), |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0));
        let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let distro = release
            .lines()
            .find(|l| l.starts_with("PRETTY_NAME="))
            .map_or("unknown", |l| l.trim_start_matches("PRETTY_NAME=").trim_matches('"'));
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let os = format!("{distro}, Linux {}", kernel.trim());
        Machine { cpu, cores, memory, os }
    }
}

/// Now, UTC, as `YYYY-MM-DD HH:MM UTC`.
pub fn now_utc() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::now_utc().format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::stat_cpu_time;
    use std::time::Duration;

    #[test]
    fn a_stat_line_gives_its_name_and_cpu_time_even_with_a_parenthesis_in_the_name() {
        let stat = "1920 (bench (x) y) R 1916 1916 1557 0 -1 4194304 136 0 0 0 250 17 0 0 20 0 1 0 182991";
        assert_eq!(stat_cpu_time(stat), Some(("bench (x) y", Duration::from_millis(2_670))));
        assert_eq!(stat_cpu_time("1920 (cut short) R 1"), None);
    }
}
