//! Heap allocations per request, counted by a global allocator around the system's: the real
//! server (`Application::build`, the same middleware stack, the same logging as `latchkey serve`)
//! on a loopback port over a temporary SQLite database, driven by a client in this process that
//! allocates nothing while it measures (one keep-alive connection, requests built beforehand,
//! responses read into a fixed buffer). Every allocation counted is therefore the server's.
//!
//! `cargo bench --bench allocations` prints one Markdown row per route: allocations and bytes
//! per request, the fewest of three rounds (a background task of the server, like the metrics'
//! upkeep, can allocate during a round; it cannot make a round smaller). It is run by hand and its
//! rows are copied into `docs/BENCHMARKS.md` ("Allocations per request"); CI only compiles it
//! (`cargo clippy --all-targets`). `ALLOC_REQUESTS` sets the requests per round (default 2,000).

// A counting allocator is an `unsafe impl GlobalAlloc`; this measuring program is the only place
// in the workspace that needs `unsafe`, and it only forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use clap::Parser as _;
use latchkey::cli::Cli;
use latchkey::config::LogFormat;
use latchkey::startup::Application;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
/// `ALLOC_TRACE=1`: the stack of every allocation of one request per route, on stderr.
static TRACING: AtomicBool = AtomicBool::new(false);

thread_local! {
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

fn count(size: usize) {
    ALLOCATIONS.fetch_add(1, Relaxed);
    BYTES.fetch_add(size as u64, Relaxed);
    if TRACING.load(Relaxed) && !IN_TRACE.with(|t| t.replace(true)) {
        let trace = std::backtrace::Backtrace::force_capture();
        let frames: Vec<String> = trace
            .to_string()
            .lines()
            .filter(|l| {
                l.trim_start()
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit())
            })
            .map(|l| l.split_once(": ").map_or(l, |(_, f)| f).to_owned())
            .filter(|f| {
                !f.starts_with("std::")
                    && !f.starts_with("core::")
                    && !f.starts_with("alloc::")
                    && !f.contains("allocations::")
            })
            .take(6)
            .collect();
        eprintln!("ALLOC {size} B\n    {}", frames.join("\n    "));
        IN_TRACE.with(|t| t.set(false));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size.saturating_sub(layout.size()));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const PASSWORD: &str = "correct horse battery staple";

fn main() {
    let requests: u64 = std::env::var("ALLOC_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("latchkey.db");
    let args = [
        "latchkey",
        "--bind",
        "127.0.0.1:0",
        "--database-url",
        db.to_str().expect("a UTF-8 path"),
        "--pbkdf2-iterations",
        "1000",
        "--rate-limit-per-minute",
        "0",
        "--max-connections-per-client",
        "0",
    ];
    let settings = Cli::try_parse_from(args).expect("settings").settings;
    // As `latchkey serve` logs by default: a JSON line per request, on stderr.
    latchkey::telemetry::init(Some(LogFormat::Json), settings.log_filter.as_deref());
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build(settings)
                .await
                .expect("the server starts");
            port_tx.send(app.port()).expect("port");
            app.serve().await.expect("the server runs");
        });
    });
    let port = port_rx.recv().expect("the server's port");
    let mut client = Client::connect(port);

    let body = format!(r#"{{"username":"alloc","password":"{PASSWORD}"}}"#);
    let (status, _) = client.exchange(&post("/api/register", &body));
    assert_eq!(status, 201, "registration");
    let (status, cookie) = client.exchange(&post("/api/login", &body));
    assert_eq!(status, 200, "login");
    let cookie = cookie.expect("a session cookie");

    println!("| request | allocations per request | bytes allocated per request |");
    println!("|---|---|---|");
    for (label, path, cookie) in [
        ("GET /favicon.svg (static)", "/favicon.svg", None),
        ("GET /api/health", "/api/health", None),
        ("GET /api/me with a session", "/api/me", Some(&cookie)),
        (
            "GET /api/authz/forward-auth with a session",
            "/api/authz/forward-auth",
            Some(&cookie),
        ),
        ("GET /api/me without a session (401)", "/api/me", None),
    ] {
        let request = get(path, cookie.map(String::as_str));
        let (allocations, bytes) = client.measure(&request, requests);
        println!("| {label} | {allocations:.1} | {bytes:.0} B |");
    }
}

fn get(path: &str, cookie: Option<&str>) -> Vec<u8> {
    let cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: alloc-bench\r\nAccept: */*\r\n{cookie}\r\n"
    )
    .into_bytes()
}

fn post(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One keep-alive connection; reading a response allocates nothing.
struct Client {
    stream: TcpStream,
    buf: Box<[u8; 65536]>,
}

impl Client {
    fn connect(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream,
            buf: Box::new([0; 65536]),
        }
    }

    /// Sends `request` `n` times after a warm-up, three rounds; the fewest allocations and bytes
    /// per request.
    fn measure(&mut self, request: &[u8], n: u64) -> (f64, f64) {
        for _ in 0..200 {
            self.send(request);
        }
        if std::env::var_os("ALLOC_TRACE").is_some() {
            eprintln!(
                "ALLOC TRACE BEGIN {}",
                String::from_utf8_lossy(
                    &request[..request.iter().position(|&b| b == b'\r').unwrap_or(0)]
                )
            );
            TRACING.store(true, Relaxed);
            self.send(request);
            TRACING.store(false, Relaxed);
            eprintln!("ALLOC TRACE END");
        }
        let mut best = (f64::MAX, f64::MAX);
        for _ in 0..3 {
            let (a0, b0) = (ALLOCATIONS.load(Relaxed), BYTES.load(Relaxed));
            for _ in 0..n {
                self.send(request);
            }
            let (a1, b1) = (ALLOCATIONS.load(Relaxed), BYTES.load(Relaxed));
            best.0 = best.0.min((a1 - a0) as f64 / n as f64);
            best.1 = best.1.min((b1 - b0) as f64 / n as f64);
        }
        best
    }

    /// Sends one request and reads its whole response; the status.
    fn send(&mut self, request: &[u8]) -> u16 {
        self.stream.write_all(request).expect("write");
        let (status, _) = self.read_response(false);
        assert!(status < 500, "the server answered {status}");
        status
    }

    /// Sends one request; the status and the session cookie it set, if any (allocates: only
    /// for the set-up).
    fn exchange(&mut self, request: &[u8]) -> (u16, Option<String>) {
        self.stream.write_all(request).expect("write");
        self.read_response(true)
    }

    fn read_response(&mut self, want_cookie: bool) -> (u16, Option<String>) {
        let mut filled = 0;
        let head_end = loop {
            let read = self.stream.read(&mut self.buf[filled..]).expect("read");
            assert!(read > 0, "the server closed the connection");
            filled += read;
            if let Some(end) = find(&self.buf[..filled], b"\r\n\r\n") {
                break end + 4;
            }
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).expect("an ASCII head");
        let status: u16 = head[9..12].parse().expect("a status");
        let mut length = 0;
        let mut cookie = None;
        for line in head.split("\r\n") {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().expect("a length");
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                panic!("a chunked response: this client reads only Content-Length");
            } else if want_cookie
                && name.eq_ignore_ascii_case("set-cookie")
                && value.starts_with("latchkey_session=")
            {
                cookie = value.split(';').next().map(str::to_owned);
            }
        }
        let total = head_end + length;
        while filled < total {
            let read = self.stream.read(&mut self.buf[filled..]).expect("read");
            assert!(read > 0, "the server closed the connection");
            filled += read;
        }
        (status, cookie)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
