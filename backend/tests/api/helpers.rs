//! `spawn_app` and `TestApp`: a real server on a real port over a temporary database, and a
//! cookie-keeping HTTP client.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser as _;
use latchkey::cli::Cli;
use latchkey::startup::Application;
use reqwest::cookie::{CookieStore as _, Jar};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple";
/// A fixed cookie key so that a restarted server accepts the same cookies.
pub const SECRET_KEY: &str = "bGF0Y2hrZXktdGVzdC1zZWNyZXQta2V5LWF0LWxlYXN0LTY0LWJ5dGVzLWxvbmctLS0tLS0tLS0tLS0tLS0tLS0tLS0tLS0tLQ==";

pub struct TestApp {
    pub address: String,
    pub clock: latchkey::clock::Clock,
    /// The server's use cases (for work no endpoint starts, like the periodic cleanup).
    pub accounts: latchkey::accounts::Accounts,
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    pub database: Arc<TestDatabase>,
    pub handle: actix_web::dev::ServerHandle,
    pub args: Vec<String>,
}

/// The database of one test: a SQLite file in a temporary directory, or, when
/// `LATCHKEY_TEST_DATABASE_URL` names a PostgreSQL server, a database of its own there, dropped
/// when the test ends.
pub enum TestDatabase {
    Sqlite {
        /// Kept for its `Drop`, which removes the directory.
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl TestDatabase {
    pub fn create() -> Self {
        match std::env::var("LATCHKEY_TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => Self::create_postgres(&admin_url),
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("latchkey.db");
                Self::Sqlite { _dir: dir, path }
            }
        }
    }

    fn create_postgres(admin_url: &str) -> Self {
        use diesel::{Connection as _, RunQueryDsl as _};
        let mut admin = diesel::PgConnection::establish(admin_url)
            .unwrap_or_else(|e| panic!("LATCHKEY_TEST_DATABASE_URL is not reachable: {e}"));
        let name = format!("latchkey_test_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create the test database");
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url, |(base, _)| base);
        Self::Postgres {
            admin_url: admin_url.to_owned(),
            url: format!("{base}/{name}"),
            name,
        }
    }

    pub fn url(&self) -> String {
        match self {
            Self::Sqlite { path, .. } => path.to_string_lossy().into_owned(),
            Self::Postgres { url, .. } => url.clone(),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres { .. })
    }

    /// The SQLite file's directory (where the generated secret key lives).
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match self {
            Self::Sqlite { path, .. } => Some(path),
            Self::Postgres { .. } => None,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Self::Postgres {
            admin_url, name, ..
        } = self
        {
            use diesel::{Connection as _, RunQueryDsl as _};
            if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

/// Options for a test server: extra command-line flags.
#[derive(Default, Clone)]
pub struct Options {
    pub args: Vec<String>,
    /// Reuse another app's database (and, on SQLite, its generated secret key file).
    pub database: Option<Arc<TestDatabase>>,
}

impl Options {
    pub fn arg(mut self, flag: &str, value: &str) -> Self {
        self.args.push(flag.to_owned());
        self.args.push(value.to_owned());
        self
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

pub async fn spawn_with(options: Options) -> TestApp {
    let database = options
        .database
        .clone()
        .unwrap_or_else(|| Arc::new(TestDatabase::create()));
    let mut args: Vec<String> = [
        "latchkey",
        "--bind",
        "127.0.0.1:0",
        "--pbkdf2-iterations",
        "1000",
        "--rate-limit-per-minute",
        "0",
        "--hash-threads",
        "2",
        "--db-pool-size",
        "4",
        "--log-format",
        "json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push("--database-url".into());
    args.push(database.url());
    if database.is_postgres() {
        // PostgreSQL deployments must share a configured key.
        args.push("--secret-key".into());
        args.push(SECRET_KEY.into());
    }
    args.extend(options.args.iter().cloned());
    let cli = Cli::try_parse_from(&args).expect("test settings parse");
    let app = Application::build(cli.settings)
        .await
        .expect("the application starts");
    let port = app.port();
    let handle = app.handle();
    let clock = app.state().accounts.clock().clone();
    let accounts = app.state().accounts.clone();
    tokio::spawn(app.serve());
    let jar = Arc::new(Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        clock,
        accounts,
        client,
        jar,
        database,
        handle,
        args: options.args,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        content_type: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// A GET from a client without a cookie jar, sending exactly `cookie`.
    pub async fn get_with_cookie(&self, path: &str, cookie: impl AsRef<str>) -> reqwest::Response {
        self.fresh_client()
            .get(self.url(path))
            .header("cookie", cookie.as_ref())
            .send()
            .await
            .expect("request")
    }

    pub async fn register(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/register",
            &json!({"username": username, "password": password}),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/login",
            &json!({"username": username, "password": password}),
        )
        .await
    }

    pub async fn logout(&self) -> reqwest::Response {
        self.client
            .post(self.url("/api/logout"))
            .send()
            .await
            .expect("request")
    }

    /// Registers and logs in; returns the user.
    pub async fn signed_in(&self, username: &str) -> Value {
        assert_eq!(self.register(username, PASSWORD).await.status(), 201);
        let res = self.login(username, PASSWORD).await;
        assert_eq!(res.status(), 200);
        res.json().await.expect("json")
    }

    /// The session cookie as the client would send it (`name=value`), if any.
    pub fn cookie_header(&self) -> Option<String> {
        let url = self.address.parse().expect("url");
        self.jar
            .cookies(&url)
            .map(|v| v.to_str().expect("ascii").to_owned())
    }

    /// A second client with no cookies.
    pub fn fresh_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// A restart: stop this server and start another on the same directory, same flags and a
    /// fixed secret key.
    pub async fn restart(self) -> TestApp {
        self.handle.stop(true).await;
        spawn_with(Options {
            args: self.args.clone(),
            database: Some(self.database.clone()),
        })
        .await
    }

    /// A connection to the test database, for looking at what is stored.
    pub fn db(&self) -> latchkey::db::PooledConn {
        let settings = latchkey::config::Settings::from_args([
            "latchkey",
            "--database-url",
            &self.database.url(),
            "--db-pool-size",
            "1",
        ])
        .expect("settings");
        latchkey::db::build_pool(&settings)
            .expect("pool")
            .get()
            .expect("connection")
    }

    /// The server's clock: tests move it forward instead of sleeping.
    pub fn clock(&self) -> &latchkey::clock::Clock {
        &self.clock
    }
}

/// Waits until the server at `base` reports `busy` hashing threads on `/metrics` (a hash job has
/// started): synchronisation on the server's own state, not a guess of how long a start takes.
pub async fn wait_for_busy_hash_threads(base: &str, busy: u32) {
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let wanted = format!("latchkey_hash_threads_busy {busy}");
    loop {
        let text = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        if text.lines().any(|l| l == wanted) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {wanted} within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The events of the signed-in user once `ready` holds for them: a failed login's event is
/// recorded just after its answer (so that it costs no time an unknown name would not), so a
/// test that wants to see it waits for it; at most 10 s.
pub async fn events_when(app: &TestApp, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let events: Vec<Value> = app.get("/api/me/events").await.json().await.expect("json");
        if ready(&events) || std::time::Instant::now() >= deadline {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Inserts a user with a given stored hash straight into the database (imported or legacy
/// hashes), as the Flask import would.
pub fn insert_user(conn: &mut latchkey::db::Conn, name: &str, hash: &str) {
    latchkey::db::users::insert(
        conn,
        &latchkey::db::users::NewUser {
            username: name,
            username_key: &name.to_lowercase(),
            username_skeleton: None,
            password_hash: hash,
            created_at: 0,
            updated_at: 0,
        },
    )
    .expect("insert a user");
}

/// Asserts a problem+json response and returns its body.
pub async fn assert_problem(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status for {code}");
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        content_type, "application/problem+json",
        "content type for {code}"
    );
    assert!(res.headers().contains_key("x-request-id"));
    let body: Value = res.json().await.expect("problem body is JSON");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert_eq!(body["type"], format!("urn:latchkey:problem:{code}"));
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// The field error codes of a validation problem, as (field, code) pairs.
pub fn field_errors(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .expect("errors list")
        .iter()
        .map(|e| {
            (
                e["field"].as_str().expect("field").to_owned(),
                e["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect()
}

/// A unique-enough username for tests sharing nothing but a machine.
/// The median of timing samples (the upper one of an even count).
pub fn median<T: Copy + PartialOrd>(mut samples: Vec<T>) -> T {
    samples.sort_by(|a, b| a.partial_cmp(b).expect("samples are comparable (no NaN)"));
    samples[samples.len() / 2]
}

pub fn username(prefix: &str) -> String {
    let n: u32 = rand_suffix();
    format!("{prefix}{n}")
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The real binary running as a separate process, with its log lines collected.
pub struct BinaryServer {
    pub child: std::process::Child,
    pub address: String,
    pub logs: Arc<std::sync::Mutex<Vec<String>>>,
    /// Kept alive while the server runs on it.
    _database: Arc<TestDatabase>,
}

impl BinaryServer {
    /// Starts `latchkey serve` on port 0 over a temporary database with JSON logs; `envs` adds
    /// settings.
    pub fn start(envs: &[(&str, &str)]) -> Self {
        Self::start_on(Arc::new(TestDatabase::create()), envs)
    }

    /// Starts a server on an existing test database (several instances, one database).
    pub fn start_on(database: Arc<TestDatabase>, envs: &[(&str, &str)]) -> Self {
        use std::io::BufRead as _;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"));
        for (key, _) in std::env::vars() {
            if key.starts_with("LATCHKEY_") || key == "DATABASE_URL" {
                cmd.env_remove(key);
            }
        }
        cmd.env("LATCHKEY_BIND", "127.0.0.1:0")
            .env("DATABASE_URL", database.url())
            .env("LATCHKEY_SECRET_KEY", SECRET_KEY)
            .env("LATCHKEY_PBKDF2_ITERATIONS", "1000")
            .env("LATCHKEY_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .envs(envs.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("the binary starts");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("latchkey listening") {
                    let v: Value = serde_json::from_str(&line).expect("json log line");
                    let _ = port_tx.send(v["port"].as_u64().expect("port"));
                }
                sink.lock().expect("lock").push(line);
            }
        });
        let port = port_rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no port; logs: {:?}", logs.lock().expect("lock")));
        Self {
            child,
            address: format!("http://127.0.0.1:{port}"),
            logs,
            _database: database,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// The JSON log lines, once `ready` holds for them (the log arrives through a pipe and a
    /// reader thread, a little after the response); at most 10 s.
    pub async fn log_lines_when(&self, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let lines = self.log_lines();
            if ready(&lines) || std::time::Instant::now() >= deadline {
                return lines;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// The JSON log lines so far.
    pub fn log_lines(&self) -> Vec<Value> {
        self.logs
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    pub fn raw_logs(&self) -> String {
        self.logs.lock().expect("lock").join("\n")
    }
}

impl Drop for BinaryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends every (url, username) registration at once and asserts the race's outcome: exactly one
/// 201 and a 409 for every other request, nothing else.
pub async fn assert_one_registration_wins(attempts: Vec<(String, String)>) {
    let total = attempts.len();
    let tasks: Vec<_> = attempts
        .into_iter()
        .map(|(url, name)| {
            tokio::spawn(async move {
                reqwest::Client::new()
                    .post(url)
                    .json(&json!({"username": name, "password": PASSWORD}))
                    .send()
                    .await
                    .expect("request")
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("join"));
    }
    let created = statuses.iter().filter(|s| **s == 201).count();
    let conflicts = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((created, conflicts), (1, total - 1), "{statuses:?}");
}

/// A database fault on demand: while it lives, every `operation` (`INSERT` or `DELETE`) on
/// `table` fails inside the database, on SQLite and PostgreSQL alike, so that a test can make
/// the *last* write of a use case fail and look for anything the earlier writes left behind.
pub struct ForcedFailure<'a> {
    app: &'a TestApp,
    name: String,
    table: String,
}

impl<'a> ForcedFailure<'a> {
    pub fn on(app: &'a TestApp, operation: &str, table: &str) -> Self {
        use diesel::RunQueryDsl as _;
        let name = format!("latchkey_test_fail_{}_{table}", operation.to_lowercase());
        let sql = if app.database.is_postgres() {
            format!(
                "CREATE OR REPLACE FUNCTION latchkey_test_fail() RETURNS trigger AS $$ \
                 BEGIN RAISE EXCEPTION 'forced failure'; END $$ LANGUAGE plpgsql; \
                 CREATE TRIGGER {name} BEFORE {operation} ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION latchkey_test_fail();"
            )
        } else {
            format!(
                "CREATE TRIGGER {name} BEFORE {operation} ON {table} \
                 BEGIN SELECT RAISE(ABORT, 'forced failure'); END;"
            )
        };
        diesel::connection::SimpleConnection::batch_execute(&mut *app.db(), &sql)
            .expect("create the failing trigger");
        let _ = diesel::sql_query("SELECT 1").execute(&mut *app.db());
        Self {
            app,
            name,
            table: table.to_owned(),
        }
    }
}

impl Drop for ForcedFailure<'_> {
    fn drop(&mut self) {
        let sql = if self.app.database.is_postgres() {
            format!("DROP TRIGGER {} ON {}", self.name, self.table)
        } else {
            format!("DROP TRIGGER {}", self.name)
        };
        diesel::connection::SimpleConnection::batch_execute(&mut *self.app.db(), &sql)
            .expect("drop the failing trigger");
    }
}
