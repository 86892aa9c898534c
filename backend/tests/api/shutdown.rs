//! Graceful shutdown of the real binary: on SIGTERM or SIGINT it stops accepting connections,
//! lets the requests in flight finish, and exits 0. Signals are sent with `kill(1)` (the crate
//! denies unsafe code, so no `libc::kill`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::admin_cli::{latchkey, run, stdout};
use crate::helpers::PASSWORD;

struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Server {
    /// The server's JSON log lines so far.
    fn log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("server.log"))
            .expect("log")
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The log line with this message.
    fn logged(&self, message: &str) -> serde_json::Value {
        let log = self.log();
        log.iter()
            .find(|l| l["message"] == message)
            .cloned()
            .unwrap_or_else(|| panic!("no {message:?} in {log:#?}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only when a test failed half-way: never leave the process behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Starts the binary with `iterations` and waits until it answers /api/health.
async fn start(iterations: u32) -> Server {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let mut cmd = latchkey(dir.path().join("latchkey.db"));
    cmd.args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--pbkdf2-iterations", &iterations.to_string()])
        .args(["--hash-threads", "1", "--rate-limit-per-minute", "0"])
        .args(["--log-format", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("server.log")).expect("log file"));
    let child = cmd.spawn().expect("the server starts");
    let server = Server { child, port, dir };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let res = client
            .get(format!("http://127.0.0.1:{port}/api/health"))
            .send()
            .await;
        if res.is_ok_and(|r| r.status() == 200) {
            return server;
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn signal(server: &Server, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &server.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Waits for the process to exit; its exit code.
async fn exit_code(server: &mut Server, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            return status.code();
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_flight_finish_and_exits_0() {
    // A work factor that makes one hash take about a second on this machine, measured by the same
    // binary: the request is surely still running when the signal arrives, and even a busy
    // machine finishes it within the server's bounded shutdown (10 s).
    let mut calibrate = latchkey(std::path::Path::new("unused.db"));
    calibrate.args(["calibrate", "--target-ms", "1000"]);
    let iterations: u32 = stdout(&run(calibrate, None))
        .trim()
        .parse()
        .expect("a count");
    let mut server = start(iterations).await;
    let url = format!("http://127.0.0.1:{}/api/register", server.port);

    let started = Instant::now();
    let in_flight = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&json!({"username": "slowpoke", "password": PASSWORD}))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    crate::helpers::wait_for_busy_hash_threads(&format!("http://127.0.0.1:{}", server.port), 1)
        .await;
    assert!(
        !in_flight.is_finished(),
        "the request is still being served"
    );
    signal(&server, "TERM");

    // New connections are refused at once, while the old request goes on.
    let deadline = Instant::now() + Duration::from_secs(3);
    while std::net::TcpStream::connect(("127.0.0.1", server.port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting connections after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !in_flight.is_finished(),
        "refused before the slow request finished"
    );

    let status = match in_flight.await.expect("join") {
        Ok(status) => status,
        Err(e) => panic!("the response did not arrive: {e:?}"),
    };
    assert_eq!(status, 201, "the request in flight completed");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        exit_code(&mut server, Duration::from_secs(15)).await,
        Some(0)
    );
    // The log says what the shutdown did: one request was in flight, and it was drained.
    let stopping =
        server.logged("shutting down: no new connections, finishing the requests in flight");
    assert_eq!(stopping["signal"], "SIGTERM");
    assert_eq!(stopping["in_flight"], 1);
    let stopped = server.logged("latchkey stopped");
    assert_eq!(stopped["drained"], 1);
    assert_eq!(stopped["abandoned"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_an_idle_server_with_exit_0() {
    let mut server = start(1000).await;
    signal(&server, "INT");
    assert_eq!(
        exit_code(&mut server, Duration::from_secs(15)).await,
        Some(0)
    );
    let stopping =
        server.logged("shutting down: no new connections, finishing the requests in flight");
    assert_eq!(stopping["signal"], "SIGINT");
    assert_eq!(stopping["in_flight"], 0);
    assert_eq!(server.logged("latchkey stopped")["drained"], 0);
}
