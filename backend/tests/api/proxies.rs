//! Forward-auth behind the real proxies: Debian's nginx and Caddy (installed by `scripts/test`),
//! each started by the test on a free loopback port with the configuration the README tells
//! users to copy (`deploy/forward-auth/nginx.conf`, `deploy/forward-auth/Caddyfile`, the
//! placeholders filled), in front of a real Latchkey server and a small upstream app that echoes
//! the headers it receives. Hosts are `app.fa.localhost` and `auth.fa.localhost` (the client
//! resolves them to 127.0.0.1, as browsers resolve `*.localhost`), the cookie domain
//! `fa.localhost`.
//!
//! Without nginx or Caddy these tests say so loudly and pass, except in CI (`CI=true`), where a
//! missing proxy is a failure.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, TestApp, spawn_with, username};

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Nginx,
    Caddy,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Nginx => "nginx",
            Self::Caddy => "caddy",
        }
    }

    fn binary(self) -> Option<PathBuf> {
        let candidates: &[&str] = match self {
            Self::Nginx => &["/usr/sbin/nginx", "/usr/bin/nginx"],
            Self::Caddy => &["/usr/bin/caddy", "/usr/local/bin/caddy"],
        };
        candidates
            .iter()
            .map(PathBuf::from)
            .find(|path| path.is_file())
    }
}

/// The proxy's binary, or `None` (outside CI) after a loud notice that the test did not run.
fn binary_or_skip(kind: Kind) -> Option<PathBuf> {
    let found = kind.binary();
    if found.is_none() {
        let name = kind.name();
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is not installed: CI must run the forward-auth tests (scripts/test installs it)"
        );
        eprintln!(
            "\n########################################################################\n\
             # SKIPPED: forward-auth behind {name}: {name} is not installed\n\
             # (apt-get install -y {name}, or run scripts/test, which installs it)\n\
             ########################################################################\n"
        );
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn repo_file(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The upstream app: answers every request with the method, the URI and the headers it got, as
/// JSON, and counts the requests that reached it.
struct Upstream {
    port: u16,
    hits: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

async fn echo(req: HttpRequest, hits: web::Data<AtomicUsize>) -> HttpResponse {
    hits.fetch_add(1, Ordering::SeqCst);
    let mut headers: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in req.headers() {
        headers
            .entry(name.as_str().to_owned())
            .or_default()
            .push(value.to_str().unwrap_or("(not ascii)").to_owned());
    }
    HttpResponse::Ok().json(json!({
        "method": req.method().as_str(),
        "uri": req.uri().to_string(),
        "headers": headers,
    }))
}

impl Upstream {
    fn start() -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let data = web::Data::from(hits.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(echo))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("bind the upstream");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { port, hits, handle }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A running proxy process; stopped (SIGTERM, by its PID, then waited for) when dropped.
struct Proxy {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Proxy {
    /// Starts `kind` on `port`, guarding the upstream on `app_port` with Latchkey on
    /// `latchkey_port`, from the deploy file with its placeholders filled.
    fn start(kind: Kind, binary: &Path, port: u16, app_port: u16, latchkey_port: u16) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let child = match kind {
            Kind::Nginx => {
                let site = fill(
                    &repo_file("deploy/forward-auth/nginx.conf"),
                    &[
                        ("${APP_LISTEN}", format!("127.0.0.1:{port}")),
                        ("${AUTH_LISTEN}", format!("127.0.0.1:{port}")),
                        ("${APP_HOST}", "app.fa.localhost".into()),
                        ("${APP_UPSTREAM}", format!("http://127.0.0.1:{app_port}")),
                        ("${AUTH_HOST}", "auth.fa.localhost".into()),
                        (
                            "${LATCHKEY_UPSTREAM}",
                            format!("http://127.0.0.1:{latchkey_port}"),
                        ),
                    ],
                );
                let d = dir.path().display();
                std::fs::write(dir.path().join("site.conf"), site).expect("write");
                // The frame a distribution's nginx.conf would give, confined to the temp dir.
                let main = format!(
                    "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
                     events {{ worker_connections 256; }}\n\
                     http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  \
                     proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
                     uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
                     include {d}/site.conf;\n}}\n"
                );
                std::fs::write(dir.path().join("nginx.conf"), main).expect("write");
                Command::new(binary)
                    .arg("-e")
                    .arg(dir.path().join("error.log"))
                    .arg("-p")
                    .arg(dir.path())
                    .arg("-c")
                    .arg(dir.path().join("nginx.conf"))
                    .args(["-g", "daemon off;"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("nginx starts")
            }
            Kind::Caddy => {
                // Global options for a test: no admin port, no certificates, loopback only.
                let file = format!(
                    "{{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}}\n\n{}",
                    repo_file("deploy/forward-auth/Caddyfile")
                );
                std::fs::write(dir.path().join("Caddyfile"), file).expect("write");
                let log = std::fs::File::create(dir.path().join("error.log")).expect("log");
                Command::new(binary)
                    .args(["run", "--adapter", "caddyfile", "--config"])
                    .arg(dir.path().join("Caddyfile"))
                    .env("HOME", dir.path())
                    .env("XDG_DATA_HOME", dir.path().join("data"))
                    .env("XDG_CONFIG_HOME", dir.path().join("config"))
                    .env("APP_SITE", format!("http://app.fa.localhost:{port}"))
                    .env("APP_UPSTREAM", format!("127.0.0.1:{app_port}"))
                    .env("AUTH_SITE", format!("http://auth.fa.localhost:{port}"))
                    .env("LATCHKEY_UPSTREAM", format!("127.0.0.1:{latchkey_port}"))
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .expect("caddy starts")
            }
        };
        Self { child, dir, port }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // SIGTERM so that nginx's master stops its worker too (a SIGKILL would orphan it).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fill(template: &str, values: &[(&str, String)]) -> String {
    let filled = values
        .iter()
        .fold(template.to_owned(), |text, (name, value)| {
            text.replace(name, value)
        });
    let unfilled = filled
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .find(|line| line.contains("${"));
    assert_eq!(unfilled, None, "a placeholder is left unfilled");
    filled
}

/// Everything one test needs: Latchkey, the upstream, the proxy, and an HTTP client that
/// resolves the test hosts to the proxy and keeps no cookies (the tests handle them, to see
/// exactly what is sent).
struct Stack {
    /// Kept running for the test.
    _latchkey: TestApp,
    upstream: Upstream,
    proxy: Proxy,
    client: reqwest::Client,
}

impl Stack {
    async fn start(kind: Kind) -> Option<Self> {
        let binary = binary_or_skip(kind)?;
        let port = free_port();
        let latchkey = spawn_with(
            Options::default()
                .arg("--public-url", &format!("http://auth.fa.localhost:{port}"))
                .arg("--cookie-domain", "fa.localhost")
                .arg("--cookie-secure", "false")
                .arg("--trusted-proxies", "127.0.0.1"),
        )
        .await;
        let latchkey_port: u16 = latchkey
            .address
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port");
        let upstream = Upstream::start();
        let proxy = Proxy::start(kind, &binary, port, upstream.port, latchkey_port);
        let at: SocketAddr = ([127, 0, 0, 1], port).into();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve("app.fa.localhost", at)
            .resolve("auth.fa.localhost", at)
            .build()
            .expect("client");
        let stack = Self {
            _latchkey: latchkey,
            upstream,
            proxy,
            client,
        };
        stack.wait_until_ready(kind).await;
        Some(stack)
    }

    /// Until Latchkey answers through the proxy (the configuration is loaded).
    async fn wait_until_ready(&self, kind: Kind) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let res = self.client.get(self.auth("/api/health")).send().await;
            if res.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not come up: {}",
                kind.name(),
                self.proxy.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn app(&self, path: &str) -> String {
        format!("http://app.fa.localhost:{}{path}", self.proxy.port)
    }

    fn auth(&self, path: &str) -> String {
        format!("http://auth.fa.localhost:{}{path}", self.proxy.port)
    }

    /// Registers and logs in through the proxy, as the SPA does; returns the cookie pair to
    /// send and the user.
    async fn log_in(&self, name: &str) -> (String, Value) {
        let res = self
            .client
            .post(self.auth("/api/register"))
            .json(&json!({"username": name, "password": PASSWORD}))
            .send()
            .await
            .expect("register");
        assert_eq!(res.status(), 201);
        self.log_in_again(name).await
    }

    async fn log_in_again(&self, name: &str) -> (String, Value) {
        let res = self
            .client
            .post(self.auth("/api/login"))
            .json(&json!({"username": name, "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(res.status(), 200);
        let set = res.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(
            set.contains("Domain=fa.localhost"),
            "the cookie reaches app.fa.localhost: {set}"
        );
        let pair = set.split(';').next().expect("pair").to_owned();
        (pair, res.json().await.expect("user"))
    }

    /// A page load of the app, as a browser sends it, with `cookie` if any.
    async fn visit(&self, method: &str, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let method: reqwest::Method = method.parse().expect("method");
        let mut req = self
            .client
            .request(method.clone(), self.app(path))
            .header("accept", BROWSER_ACCEPT)
            .header("sec-fetch-mode", "navigate")
            // Forged: the app must see Latchkey's answer, never these.
            .header("remote-user", "admin")
            .header("remote-user-id", "1");
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        if method != reqwest::Method::GET {
            // As a form sends it (nginx passes a body-less POST on without a length).
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body("note=hello");
        }
        req.send().await.expect("visit")
    }
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .unwrap_or_else(|| panic!("a Location on {}", res.status()))
        .to_str()
        .expect("ascii")
        .to_owned()
}

/// The `rd` parameter of a login URL, decoded.
fn rd_of(login: &str) -> Option<String> {
    let query = login.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "rd")
        .map(|(_, v)| v.into_owned())
}

/// The whole journey behind one proxy.
async fn journey(kind: Kind) {
    let Some(stack) = Stack::start(kind).await else {
        return;
    };
    let name = kind.name();
    let page = "/reports/week?n=48&sort=desc";
    let original = stack.app(page);

    // 1. A page load without a session ends on Latchkey's login screen, carrying the URL.
    let res = stack.visit("GET", page, None).await;
    assert_eq!(res.status(), 302, "{name}");
    let login = location(&res);
    assert!(
        login.starts_with(&stack.auth("/login?rd=")),
        "{name}: {login}"
    );
    assert_eq!(rd_of(&login).as_deref(), Some(original.as_str()), "{name}");
    let screen = stack.client.get(&login).send().await.expect("login screen");
    assert_eq!(screen.status(), 200, "{name}");
    assert!(
        screen
            .text()
            .await
            .expect("html")
            .contains("<title>Latchkey</title>"),
        "{name}: the SPA's login screen"
    );

    // 2. A script's call without a session gets 401, not the login page.
    let res = stack
        .client
        .get(stack.app("/api/data"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("fetch");
    assert_eq!(res.status(), 401, "{name}");
    assert!(res.headers().get("location").is_none(), "{name}");
    // A form POST without a session is sent to log in too (Caddy: 303, so no re-POST).
    let res = stack.visit("POST", "/form", None).await;
    let expected = if kind == Kind::Caddy { 303 } else { 302 };
    assert_eq!(res.status(), expected, "{name}");
    assert_eq!(
        stack.upstream.hits(),
        0,
        "{name}: nothing reached the app yet"
    );

    // 3. Logging in: the login screen's return URL round-trips through the server's rule.
    let user_name = username("fa_proxy");
    let (cookie, user) = stack.log_in(&user_name).await;
    let vetted: Value = stack
        .client
        .get(stack.auth(&format!(
            "/api/authz/return-url?rd={}",
            url::form_urlencoded::byte_serialize(original.as_bytes()).collect::<String>()
        )))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("return url")
        .json()
        .await
        .expect("json");
    assert_eq!(vetted["url"], original.as_str(), "{name}");

    // 4. Back at the original URL: the app gets the request and Latchkey's user, whatever the
    //    client claimed.
    let res = stack.visit("GET", page, Some(&cookie)).await;
    assert_eq!(res.status(), 200, "{name}");
    let seen: Value = res.json().await.expect("echo");
    assert_eq!(seen["uri"], page, "{name}");
    assert_eq!(seen["headers"]["remote-user"], json!([user_name]), "{name}");
    assert_eq!(
        seen["headers"]["remote-user-id"],
        json!([user["id"].to_string()]),
        "{name}"
    );
    let res = stack.visit("POST", "/form", Some(&cookie)).await;
    assert_eq!(res.status(), 200, "{name}: other methods pass too");
    let seen: Value = res.json().await.expect("echo");
    assert_eq!(seen["method"], "POST", "{name}");
    assert_eq!(seen["headers"]["remote-user"], json!([user_name]), "{name}");

    // 5. Revoked from another browser: the app is closed at once.
    let (other, _) = stack.log_in_again(&user_name).await;
    let res = stack
        .client
        .delete(stack.auth("/api/me/sessions"))
        .header("cookie", &other)
        .send()
        .await
        .expect("revoke others");
    assert_eq!(res.status(), 204, "{name}");
    let hits = stack.upstream.hits();
    let res = stack.visit("GET", page, Some(&cookie)).await;
    assert_eq!(res.status(), 302, "{name}: revoked");
    assert_eq!(stack.upstream.hits(), hits, "{name}");

    // 6. Logged out: closed at once too.
    assert_eq!(stack.visit("GET", page, Some(&other)).await.status(), 200);
    let res = stack
        .client
        .post(stack.auth("/api/logout"))
        .header("cookie", &other)
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), 204, "{name}");
    let res = stack.visit("GET", page, Some(&other)).await;
    assert_eq!(res.status(), 302, "{name}: logged out");
    let res = stack
        .client
        .get(stack.app("/api/data"))
        .header("accept", "application/json")
        .header("cookie", &other)
        .send()
        .await
        .expect("fetch");
    assert_eq!(res.status(), 401, "{name}");

    stack.upstream.handle.stop(false).await;
}

#[tokio::test]
async fn behind_nginx_only_a_session_reaches_the_app() {
    journey(Kind::Nginx).await;
}

#[tokio::test]
async fn behind_caddy_only_a_session_reaches_the_app() {
    journey(Kind::Caddy).await;
}

#[tokio::test]
async fn nginx_keeps_its_check_internal() {
    let Some(stack) = Stack::start(Kind::Nginx).await else {
        return;
    };
    let res = stack
        .client
        .get(stack.app("/.latchkey/check"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("get");
    // `internal`: not served to clients at all.
    assert_eq!(res.status(), 404);
    assert_eq!(stack.upstream.hits(), 0);
}
