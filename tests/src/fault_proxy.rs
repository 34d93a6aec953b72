//! A fault proxy: an HTTP/1.1-aware TCP proxy on `127.0.0.1:0` that stands between a device's
//! `SyncClient` and a real sync server, and mistreats the traffic the way a phone's network does.
//!
//! Each request is read whole from the client (request line, headers, `Content-Length` body), then a
//! seeded RNG draws at most one fault for it ([`Faults`] gives each one's probability):
//! - **drop**: never forwarded; the client sees a connection reset, or no answer until it gives up;
//! - **cut**: forwarded (the server commits), then the connection is reset with no answer;
//! - **truncate**: forwarded, then only a prefix of the answer is sent before the connection closes;
//! - **error**: forwarded, then `500` with an `ErrorBody` instead of the server's answer;
//! - **duplicate**: forwarded twice at once, on two connections; the client gets one of the answers;
//! - **reorder**: held until the next request (from any client) has been forwarded, then forwarded;
//! - **delay**: forwarded after a delay, and answered after another.
//!
//! Every connection carries one request (`Connection: close` both ways), so a fault never leaks into the
//! next request. Tests may also [`pause`](FaultProxy::pause) the next request of a path at a chosen
//! point (before it is forwarded, or after the server answered) to act at that exact moment, such as
//! killing the client. Everything is bounded: the size of a request and of an answer, every read and
//! write, every hold and delay, and the number of connections.
//!
//! Only loopback upstreams are accepted: the proxy is for tests on this machine.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio::time::timeout;

/// The largest request head, request body and answer the proxy takes.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 8 * 1024 * 1024;
/// How long any one read, write or upstream exchange may take.
const IO_LIMIT: Duration = Duration::from_secs(20);
/// The most connections one proxy serves in its life.
const MAX_CONNECTIONS: u64 = 1_000_000;
/// How long a paused request waits for the test to resume it.
const PAUSE_LIMIT: Duration = Duration::from_secs(15);

/// The probability of each fault, per request (their sum is at most 1; the rest pass untouched), and
/// how long delays and holds last.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Faults {
    pub drop: f64,
    pub cut: f64,
    pub truncate: f64,
    pub error: f64,
    pub duplicate: f64,
    pub reorder: f64,
    pub delay: f64,
    /// The longest delay, before forwarding and again before answering.
    pub max_delay: Duration,
    /// The longest a reordered request waits for the next one, and a dropped one for its client.
    pub max_hold: Duration,
    /// Not a fault: asks the server for pull pages of at most this many changes (a `limit` added to
    /// each pull's query), so that a pull takes many pages and faults fall between them.
    pub pull_page_limit: Option<u32>,
}

impl Faults {
    /// Every request passes.
    pub const NONE: Faults = Faults {
        drop: 0.0,
        cut: 0.0,
        truncate: 0.0,
        error: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        delay: 0.0,
        max_delay: Duration::ZERO,
        max_hold: Duration::ZERO,
        pull_page_limit: None,
    };

    /// Every fault now and then: about half of the requests are mistreated.
    pub fn mixed() -> Faults {
        Faults {
            drop: 0.07,
            cut: 0.07,
            truncate: 0.07,
            error: 0.06,
            duplicate: 0.08,
            reorder: 0.08,
            delay: 0.08,
            max_delay: Duration::from_millis(120),
            max_hold: Duration::from_millis(400),
            pull_page_limit: None,
        }
    }

    /// Only delays (every request, up to `max`): widens the windows in which something can happen.
    pub fn delays(max: Duration) -> Faults {
        Faults { delay: 1.0, max_delay: max, ..Faults::NONE }
    }

    fn draw(&self, rng: &mut StdRng) -> Fault {
        let roll: f64 = rng.random();
        let ms = |rng: &mut StdRng, max: Duration| {
            Duration::from_millis(rng.random_range(0..=u64::try_from(max.as_millis()).unwrap_or(u64::MAX)))
        };
        let mut edge = 0.0;
        let mut next = |p: f64| {
            edge += p;
            roll < edge
        };
        if next(self.drop) {
            Fault::Drop { reset: rng.random_bool(0.5) }
        } else if next(self.cut) {
            Fault::Cut
        } else if next(self.truncate) {
            Fault::Truncate { keep: rng.random() }
        } else if next(self.error) {
            Fault::Error
        } else if next(self.duplicate) {
            Fault::Duplicate { answer_second: rng.random_bool(0.5) }
        } else if next(self.reorder) {
            Fault::Reorder
        } else if next(self.delay) {
            Fault::Delay { before: ms(rng, self.max_delay), after: ms(rng, self.max_delay) }
        } else {
            Fault::Pass
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    Pass,
    Drop {
        reset: bool,
    },
    Cut,
    /// `keep` is the fraction of the answer sent (at least one byte, never all of it).
    Truncate {
        keep: f64,
    },
    Error,
    Duplicate {
        answer_second: bool,
    },
    Reorder,
    Delay {
        before: Duration,
        after: Duration,
    },
}

/// What the proxy did, counted since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Requests read from clients.
    pub requests: u64,
    /// Requests the server received (a duplicate counts twice).
    pub forwarded: u64,
    pub passed: u64,
    pub dropped: u64,
    pub cut: u64,
    pub truncated: u64,
    pub errors: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub delayed: u64,
    /// Not a fault: requests whose body came gzip-compressed (`Content-Encoding: gzip`).
    pub gzipped: u64,
}

impl FaultStats {
    /// How many requests got a fault.
    pub fn faulted(&self) -> u64 {
        self.dropped
            + self.cut
            + self.truncated
            + self.errors
            + self.duplicated
            + self.reordered
            + self.delayed
    }
}

impl std::ops::AddAssign for FaultStats {
    fn add_assign(&mut self, other: FaultStats) {
        self.requests += other.requests;
        self.forwarded += other.forwarded;
        self.passed += other.passed;
        self.dropped += other.dropped;
        self.cut += other.cut;
        self.truncated += other.truncated;
        self.errors += other.errors;
        self.duplicated += other.duplicated;
        self.reordered += other.reordered;
        self.delayed += other.delayed;
        self.gzipped += other.gzipped;
    }
}

impl fmt::Display for FaultStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} requests ({} gzipped), {} forwarded: {} passed, {} dropped, {} cut, {} truncated, {} errors, {} duplicated, {} reordered, {} delayed",
            self.requests,
            self.gzipped,
            self.forwarded,
            self.passed,
            self.dropped,
            self.cut,
            self.truncated,
            self.errors,
            self.duplicated,
            self.reordered,
            self.delayed
        )
    }
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    forwarded: AtomicU64,
    passed: AtomicU64,
    dropped: AtomicU64,
    cut: AtomicU64,
    truncated: AtomicU64,
    errors: AtomicU64,
    duplicated: AtomicU64,
    reordered: AtomicU64,
    delayed: AtomicU64,
    gzipped: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Where a paused request waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PausePoint {
    /// Read from the client, not yet forwarded: the server has not seen it.
    BeforeForward,
    /// Forwarded and answered by the server (its transaction committed), not yet answered to the client.
    BeforeAnswer,
}

/// How a paused request goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// As if nothing happened (the client may be gone by then).
    Go,
    /// Closed at once: never forwarded, or never answered.
    Close,
}

/// A pause armed with [`FaultProxy::pause`]: `reached` fires when a request is held at the point, and
/// the request waits until `resume` is sent (or dropped, which means [`Resume::Go`]), for at most
/// 15 seconds.
#[derive(Debug)]
pub struct Pause {
    pub reached: oneshot::Receiver<()>,
    pub resume: oneshot::Sender<Resume>,
}

#[derive(Debug)]
struct ArmedPause {
    path_prefix: String,
    point: PausePoint,
    reached: oneshot::Sender<()>,
    resume: oneshot::Receiver<Resume>,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    faults: Faults,
    rng: Mutex<StdRng>,
    counters: Counters,
    /// Reordered requests waiting for the next forward.
    held: Mutex<Vec<oneshot::Sender<()>>>,
    pauses: Mutex<Vec<ArmedPause>>,
    /// Connections being served.
    in_flight: AtomicU64,
    /// The last faults drawn, for the message of a failing test.
    log: Mutex<std::collections::VecDeque<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running fault proxy; it stops, with every connection it serves, when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, to give to a `SyncClient`.
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`), drawing its faults from `seed`.
    pub async fn start(upstream: &str, seed: u64, faults: Faults) -> std::io::Result<FaultProxy> {
        let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, why);
        let address = upstream
            .strip_prefix("http://")
            .ok_or_else(|| invalid(format!("{upstream} is not http://HOST:PORT")))?;
        let upstream: SocketAddr =
            address.trim_end_matches('/').parse().map_err(|e| invalid(format!("{upstream}: {e}")))?;
        if !upstream.ip().is_loopback() {
            return Err(invalid(format!(
                "{upstream} is not on this machine; the proxy is for loopback only"
            )));
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            upstream,
            faults,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            counters: Counters::default(),
            held: Mutex::new(Vec::new()),
            pauses: Mutex::new(Vec::new()),
            in_flight: AtomicU64::new(0),
            log: Mutex::new(std::collections::VecDeque::new()),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(FaultProxy { url, shared, task })
    }

    /// What the proxy did so far.
    pub fn stats(&self) -> FaultStats {
        let c = &self.shared.counters;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        FaultStats {
            requests: get(&c.requests),
            forwarded: get(&c.forwarded),
            passed: get(&c.passed),
            dropped: get(&c.dropped),
            cut: get(&c.cut),
            truncated: get(&c.truncated),
            errors: get(&c.errors),
            duplicated: get(&c.duplicated),
            reordered: get(&c.reordered),
            delayed: get(&c.delayed),
            gzipped: get(&c.gzipped),
        }
    }

    /// The last faults drawn (at most 100), oldest first: `POST /v1/push: Cut`.
    pub fn recent(&self) -> Vec<String> {
        lock(&self.shared.log).iter().cloned().collect()
    }

    /// Holds the next request whose path starts with `path_prefix` at `point`, instead of drawing a
    /// fault for it.
    pub fn pause(&self, path_prefix: &str, point: PausePoint) -> Pause {
        let (reached_tx, reached) = oneshot::channel();
        let (resume, resume_rx) = oneshot::channel();
        lock(&self.shared.pauses).push(ArmedPause {
            path_prefix: path_prefix.to_owned(),
            point,
            reached: reached_tx,
            resume: resume_rx,
        });
        Pause { reached, resume }
    }

    /// Forgets the pauses no request has reached yet.
    pub fn disarm(&self) {
        lock(&self.shared.pauses).clear();
    }

    /// Waits until no connection is being served (held, delayed and paused requests have gone on),
    /// for at most `limit`; says whether it got there.
    pub async fn settle(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.shared.in_flight.load(Ordering::SeqCst) > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        true
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Dropped with this task when the proxy is: every connection ends with it.
    let mut connections = JoinSet::new();
    for _ in 0..MAX_CONNECTIONS {
        let Ok((client, _)) = listener.accept().await else {
            // Out of file descriptors, say: give the connections under way time to end.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        while connections.try_join_next().is_some() {}
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let shared = shared.clone();
        connections.spawn(async move {
            serve(client, &shared).await;
            shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// A request as read from the client.
struct Request {
    /// `POST /v1/push`, for logs and pauses.
    method: String,
    path: String,
    /// The request line and headers, without `Connection`, each ending with CRLF.
    head: String,
    body: Vec<u8>,
    /// Whether the body is gzip-compressed.
    gzip: bool,
}

impl Request {
    /// Asks for pull pages of at most `limit` changes (fewer if the client asked for fewer).
    fn limit_pull_pages(&mut self, limit: u32) {
        if self.method != "GET" || !self.path.contains("/pull?") {
            return;
        }
        let (route, query) = self.path.split_once('?').unwrap_or((&self.path, ""));
        let mut asked = None;
        let mut pairs: Vec<&str> = query
            .split('&')
            .filter(|pair| match pair.strip_prefix("limit=") {
                Some(n) => {
                    asked = n.parse::<u32>().ok();
                    false
                }
                None => !pair.is_empty(),
            })
            .collect();
        let limit = format!("limit={}", asked.map_or(limit, |asked| asked.min(limit)));
        pairs.push(&limit);
        let path = format!("{route}?{}", pairs.join("&"));
        self.head = self.head.replacen(&format!(" {} ", self.path), &format!(" {path} "), 1);
        self.path = path;
    }

    /// The bytes to send upstream: the same request, on a connection closed after it.
    fn bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.head.len() + self.body.len() + 24);
        bytes.extend_from_slice(self.head.as_bytes());
        bytes.extend_from_slice(b"connection: close\r\n\r\n");
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

fn io_error(why: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, why.into())
}

/// Reads one request; `None` if the client closed the connection before sending one.
async fn read_request(client: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(io_error("request head too large"));
        }
        let mut chunk = [0_u8; 4096];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return if buf.is_empty() { Ok(None) } else { Err(io_error("request cut short")) };
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let text = std::str::from_utf8(&buf[..head_end]).map_err(|_| io_error("request head is not UTF-8"))?;
    let mut lines = text.split("\r\n").filter(|line| !line.is_empty());
    let request_line = lines.next().ok_or_else(|| io_error("no request line"))?;
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut head = format!("{request_line}\r\n");
    let mut length = 0_usize;
    let mut gzip = false;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or_else(|| io_error("malformed header"))?;
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "connection" | "keep-alive" => continue,
            "transfer-encoding" => return Err(io_error("chunked requests are not supported")),
            "content-encoding" => gzip = value.trim().eq_ignore_ascii_case("gzip"),
            "content-length" => {
                length = value.trim().parse().map_err(|_| io_error("bad Content-Length"))?;
                if length > MAX_BODY {
                    return Err(io_error("request body too large"));
                }
            }
            _ => {}
        }
        head.push_str(line);
        head.push_str("\r\n");
    }
    let mut body = buf[head_end..].to_vec();
    if body.len() < length {
        let start = body.len();
        body.resize(length, 0);
        client.read_exact(&mut body[start..]).await?;
    }
    body.truncate(length);
    Ok(Some(Request { method, path, head, body, gzip }))
}

async fn serve(mut client: TcpStream, shared: &Shared) {
    let mut request = match timeout(IO_LIMIT, read_request(&mut client)).await {
        Ok(Ok(Some(request))) => request,
        _ => return,
    };
    if let Some(limit) = shared.faults.pull_page_limit {
        request.limit_pull_pages(limit);
    }
    bump(&shared.counters.requests);
    if request.gzip {
        bump(&shared.counters.gzipped);
    }
    if let Some(pause) = shared.take_pause(&request.path) {
        serve_paused(client, shared, &request, pause).await;
        return;
    }
    let fault = shared.faults.draw(&mut lock(&shared.rng));
    {
        let mut log = lock(&shared.log);
        if log.len() >= 100 {
            log.pop_front();
        }
        log.push_back(format!("{} {}: {fault:?}", request.method, request.path));
    }
    let c = &shared.counters;
    match fault {
        Fault::Pass => {
            bump(&c.passed);
            if let Ok(answer) = shared.forward(&request).await {
                answer_with(&mut client, &answer).await;
            }
        }
        Fault::Drop { reset } => {
            bump(&c.dropped);
            if reset {
                reset_connection(client);
            } else {
                // No answer: wait for the client to give up (it closes), within a bound.
                let mut sink = [0_u8; 256];
                let _ = timeout(shared.faults.max_hold, async {
                    while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
                })
                .await;
            }
        }
        Fault::Cut => {
            bump(&c.cut);
            let _ = shared.forward(&request).await;
            reset_connection(client);
        }
        Fault::Truncate { keep } => {
            bump(&c.truncated);
            if let Ok(answer) = shared.forward(&request).await {
                let len = answer.len();
                if len > 1 {
                    // At least one byte, never the whole answer.
                    let cut = ((len as f64 * keep) as usize).clamp(1, len - 1);
                    let _ = timeout(IO_LIMIT, client.write_all(&answer[..cut])).await;
                }
            }
            let _ = timeout(IO_LIMIT, client.shutdown()).await;
        }
        Fault::Error => {
            bump(&c.errors);
            if shared.forward(&request).await.is_ok() {
                let body = r#"{"error":{"code":"internal","message":"The fault proxy answered 500 after the server answered."}}"#;
                let answer = format!(
                    "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                answer_with(&mut client, answer.as_bytes()).await;
            }
        }
        Fault::Duplicate { answer_second } => {
            bump(&c.duplicated);
            let (first, second) = tokio::join!(shared.forward(&request), shared.forward(&request));
            let answer = if answer_second { second } else { first };
            if let Ok(answer) = answer {
                answer_with(&mut client, &answer).await;
            }
        }
        Fault::Reorder => {
            bump(&c.reordered);
            let (release, released) = oneshot::channel();
            lock(&shared.held).push(release);
            let _ = timeout(shared.faults.max_hold, released).await;
            if let Ok(answer) = shared.forward(&request).await {
                answer_with(&mut client, &answer).await;
            }
        }
        Fault::Delay { before, after } => {
            bump(&c.delayed);
            tokio::time::sleep(before).await;
            if let Ok(answer) = shared.forward(&request).await {
                tokio::time::sleep(after).await;
                answer_with(&mut client, &answer).await;
            }
        }
    }
}

/// A request held for the test at its pause point.
async fn serve_paused(mut client: TcpStream, shared: &Shared, request: &Request, pause: ArmedPause) {
    let ArmedPause { point, reached, resume, .. } = pause;
    let wait = || async move {
        let _ = reached.send(());
        timeout(PAUSE_LIMIT, resume).await.ok().and_then(Result::ok).unwrap_or(Resume::Go)
    };
    match point {
        PausePoint::BeforeForward => {
            if wait().await == Resume::Close {
                reset_connection(client);
                return;
            }
            if let Ok(answer) = shared.forward(request).await {
                answer_with(&mut client, &answer).await;
            }
        }
        PausePoint::BeforeAnswer => {
            let Ok(answer) = shared.forward(request).await else { return };
            if wait().await == Resume::Close {
                reset_connection(client);
                return;
            }
            answer_with(&mut client, &answer).await;
        }
    }
}

impl Shared {
    fn take_pause(&self, path: &str) -> Option<ArmedPause> {
        let mut pauses = lock(&self.pauses);
        let at = pauses.iter().position(|p| path.starts_with(&p.path_prefix))?;
        Some(pauses.remove(at))
    }

    /// Sends the request to the server on a fresh connection and reads its whole answer; then lets
    /// the reordered requests go.
    async fn forward(&self, request: &Request) -> std::io::Result<Vec<u8>> {
        let exchange = async {
            let mut server = TcpStream::connect(self.upstream).await?;
            server.write_all(&request.bytes()).await?;
            bump(&self.counters.forwarded);
            let mut answer = Vec::new();
            (&mut server).take(MAX_BODY as u64 + 1).read_to_end(&mut answer).await?;
            if answer.len() > MAX_BODY {
                return Err(io_error("answer too large"));
            }
            Ok(answer)
        };
        let answer = timeout(IO_LIMIT, exchange)
            .await
            .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "upstream too slow")));
        for release in lock(&self.held).drain(..) {
            let _ = release.send(());
        }
        answer
    }
}

async fn answer_with(client: &mut TcpStream, answer: &[u8]) {
    let _ = timeout(IO_LIMIT, async {
        client.write_all(answer).await?;
        client.shutdown().await
    })
    .await;
}

/// Closes with a reset (RST), not a clean end: the client sees "connection reset".
fn reset_connection(client: TcpStream) {
    let _ = client.set_zero_linger();
    drop(client);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_probabilities_and_the_seed() {
        let faults = Faults::mixed();
        let draws = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..2_000).map(|_| faults.draw(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7), "one seed, one sequence");
        assert_ne!(draws(7), draws(8));
        let all = draws(7);
        let passed = all.iter().filter(|f| **f == Fault::Pass).count();
        // About half pass (1 - 0.51): far from all, far from none.
        assert!((800..1_200).contains(&passed), "{passed} of 2000 passed");
        for kind in [
            |f: &Fault| matches!(f, Fault::Drop { .. }),
            |f: &Fault| matches!(f, Fault::Cut),
            |f: &Fault| matches!(f, Fault::Truncate { .. }),
            |f: &Fault| matches!(f, Fault::Error),
            |f: &Fault| matches!(f, Fault::Duplicate { .. }),
            |f: &Fault| matches!(f, Fault::Reorder),
            |f: &Fault| matches!(f, Fault::Delay { .. }),
        ] {
            let n = all.iter().filter(|f| kind(f)).count();
            assert!((60..260).contains(&n), "{n} of 2000");
        }
        let mut rng = StdRng::seed_from_u64(1);
        assert!((0..100).all(|_| Faults::NONE.draw(&mut rng) == Fault::Pass));
    }
}
