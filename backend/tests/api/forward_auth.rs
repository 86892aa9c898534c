//! Forward-auth without a proxy in front: the two check endpoints as a proxy would call them,
//! the return-URL rule over HTTP, and the session cookie's Domain. The same endpoints behind
//! real nginx and Caddy are in `proxies.rs`.

use std::time::Duration;

use diesel::prelude::*;
use latchkey::db::schema::{events, sessions};
use serde_json::Value;

use crate::helpers::{Options, TestApp, assert_problem, spawn_app, spawn_with, username};

const CHECK: &str = "/api/authz/forward-auth";
const NGINX_CHECK: &str = "/api/authz/auth-request";
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// A server as the forward-auth deployment runs it: a public URL, the test client's address as
/// the trusted proxy, and `fa.localhost` (the default from the cookie domain) as the hosts a
/// login may return to.
async fn behind_proxy() -> TestApp {
    spawn_with(
        Options::default()
            .arg("--public-url", "http://auth.fa.localhost:8080")
            .arg("--allowed-redirect-hosts", "fa.localhost")
            .arg("--trusted-proxies", "127.0.0.1"),
    )
    .await
}

/// A check as a proxy sends it for a request to `http://app.fa.localhost:8080{uri}`.
fn proxied(app: &TestApp, path: &str, method: &str, uri: &str) -> reqwest::RequestBuilder {
    app.client
        .get(app.url(path))
        .header("x-forwarded-method", method)
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-host", "app.fa.localhost:8080")
        .header("x-forwarded-uri", uri)
}

fn location(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned())
}

#[tokio::test]
async fn a_session_gets_200_with_the_user_headers_and_nothing_secret() {
    let app = spawn_app().await;
    let name = username("fa_ok");
    let user = app.signed_in(&name).await;
    for path in [CHECK, NGINX_CHECK] {
        for head in [false, true] {
            let request = if head {
                app.client.head(app.url(path))
            } else {
                app.client.get(app.url(path))
            };
            let res = request.send().await.expect("check");
            assert_eq!(res.status(), 200, "{path}");
            let headers = res.headers().clone();
            assert_eq!(headers["remote-user"], name.as_str());
            assert_eq!(headers["remote-user-id"], user["id"].to_string().as_str());
            assert!(!headers.contains_key("set-cookie"), "{path}: no cookie");
            assert_eq!(headers["cache-control"], "no-store");
            assert!(res.bytes().await.expect("body").is_empty(), "no body");
        }
    }
}

#[tokio::test]
async fn a_non_ascii_username_is_percent_encoded_in_remote_user() {
    let app = spawn_app().await;
    app.signed_in("Zoë_fa").await;
    let res = app.get(CHECK).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["remote-user"], "Zo%C3%AB_fa");
}

#[tokio::test]
async fn without_a_session_scripts_get_401_and_navigations_the_login_redirect() {
    let app = behind_proxy().await;
    let back = "http%3A%2F%2Fapp.fa.localhost%3A8080%2Freports%3Fweek%3D48%26sort%3Dasc";
    let login = format!("http://auth.fa.localhost:8080/login?rd={back}");

    // fetch/XHR: no text/html in Accept, or a Sec-Fetch-Mode other than navigate.
    for (accept, mode) in [
        ("*/*", None),
        ("application/json", None),
        (BROWSER_ACCEPT, Some("cors")),
    ] {
        let mut req =
            proxied(&app, CHECK, "GET", "/reports?week=48&sort=asc").header("accept", accept);
        if let Some(mode) = mode {
            req = req.header("sec-fetch-mode", mode);
        }
        let res = req.send().await.expect("check");
        assert_eq!(location(&res), None);
        assert_problem(res, 401, "not_authenticated").await;
    }

    // A page load: 302 to the login screen with the original URL, encoded.
    let res = proxied(&app, CHECK, "GET", "/reports?week=48&sort=asc")
        .header("accept", BROWSER_ACCEPT)
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .expect("check");
    assert_eq!(res.status(), 302);
    assert_eq!(location(&res).as_deref(), Some(login.as_str()));

    // After a form POST: 303, so the browser GETs the login screen instead of re-posting.
    let res = proxied(&app, CHECK, "POST", "/reports?week=48&sort=asc")
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .expect("check");
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res).as_deref(), Some(login.as_str()));
}

#[tokio::test]
async fn the_nginx_check_never_redirects_and_names_the_login_in_location() {
    let app = behind_proxy().await;
    let res = proxied(&app, NGINX_CHECK, "GET", "/admin")
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .expect("check");
    assert_eq!(
        location(&res).as_deref(),
        Some("http://auth.fa.localhost:8080/login?rd=http%3A%2F%2Fapp.fa.localhost%3A8080%2Fadmin")
    );
    assert_problem(res, 401, "not_authenticated").await;

    let res = proxied(&app, NGINX_CHECK, "GET", "/admin")
        .header("accept", "application/json")
        .send()
        .await
        .expect("check");
    assert_eq!(location(&res), None, "a script's 401 names no login page");
    assert_problem(res, 401, "not_authenticated").await;
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let app = spawn_with(
        Options::default()
            .arg("--public-url", "http://auth.fa.localhost:8080")
            .arg("--allowed-redirect-hosts", "fa.localhost"),
    )
    .await;
    let res = proxied(&app, CHECK, "POST", "/reports")
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .expect("check");
    // No original URL and no original method: the plain login screen, 302.
    assert_eq!(res.status(), 302);
    assert_eq!(
        location(&res).as_deref(),
        Some("http://auth.fa.localhost:8080/login")
    );
}

#[tokio::test]
async fn an_original_url_off_the_allowed_hosts_is_left_out_of_the_redirect() {
    let app = behind_proxy().await;
    for (host, uri) in [
        ("evil.example", "/"),
        ("app.fa.localhost.evil.example", "/"),
        ("evilfa.localhost", "/"),
        ("app.fa.localhost@evil.example", "/"),
        ("app.fa.localhost", "//evil.example/"),
        ("app.fa.localhost", "/\\evil.example"),
    ] {
        let res = app
            .client
            .get(app.url(CHECK))
            .header("x-forwarded-proto", "http")
            .header("x-forwarded-host", host)
            .header("x-forwarded-uri", uri)
            .header("accept", BROWSER_ACCEPT)
            .send()
            .await
            .expect("check");
        assert_eq!(res.status(), 302, "{host}{uri}");
        assert_eq!(
            location(&res).as_deref(),
            Some("http://auth.fa.localhost:8080/login"),
            "{host}{uri}"
        );
    }
}

#[tokio::test]
async fn the_check_records_no_event_and_is_not_rate_limited() {
    let app = spawn_with(Options::default().arg("--rate-limit-per-minute", "3")).await;
    app.signed_in(&username("fa_quiet")).await;
    let count_events = || -> i64 {
        events::table
            .count()
            .get_result(&mut app.db())
            .expect("count")
    };
    let before = count_events();
    for _ in 0..20 {
        assert_eq!(app.get(CHECK).await.status(), 200);
        assert_eq!(app.get(NGINX_CHECK).await.status(), 200);
    }
    let stranger = app.fresh_client();
    for _ in 0..20 {
        let res = stranger.get(app.url(CHECK)).send().await.expect("check");
        assert_eq!(
            res.status(),
            401,
            "never 429: every check comes from the proxy"
        );
    }
    assert_eq!(count_events(), before, "no event per check");
    // The login limit itself is still there.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            app.login("nobody_here", "wrong password")
                .await
                .status()
                .as_u16(),
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn the_check_updates_last_seen_like_api_me() {
    let app = spawn_app().await;
    app.signed_in(&username("fa_seen")).await;
    let seen = || -> i64 {
        sessions::table
            .select(sessions::last_seen_at)
            .first(&mut app.db())
            .expect("row")
    };
    let before = seen();
    app.clock().advance(Duration::from_secs(61));
    assert_eq!(app.get(CHECK).await.status(), 200);
    let after = seen();
    assert!(
        after >= before + 61 && after <= app.clock().now(),
        "{before} then {after}"
    );
}

#[tokio::test]
async fn a_revoked_or_ended_session_fails_the_check_at_once() {
    let app = spawn_app().await;
    let name = username("fa_end");
    app.signed_in(&name).await;
    let cookie = app.cookie_header().expect("cookie");
    assert_eq!(app.get_with_cookie(CHECK, &cookie).await.status(), 200);

    // Revoked from another browser.
    let other = app.fresh_client();
    let res = other
        .post(app.url("/api/login"))
        .json(&serde_json::json!({"username": name, "password": crate::helpers::PASSWORD}))
        .send()
        .await
        .expect("login");
    let other_cookie = res.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let res = other
        .delete(app.url("/api/me/sessions"))
        .header("cookie", &other_cookie)
        .send()
        .await
        .expect("revoke others");
    assert_eq!(res.status(), 204);
    assert_eq!(app.get_with_cookie(CHECK, &cookie).await.status(), 401);
    assert_eq!(
        app.get_with_cookie(NGINX_CHECK, &cookie).await.status(),
        401
    );

    // Logged out.
    assert_eq!(
        app.get_with_cookie(CHECK, &other_cookie).await.status(),
        200
    );
    let res = other
        .post(app.url("/api/logout"))
        .header("cookie", &other_cookie)
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.get_with_cookie(CHECK, &other_cookie).await.status(),
        401
    );
}

#[tokio::test]
async fn the_return_url_endpoint_applies_the_one_rule() {
    let app = behind_proxy().await;
    let ask = |rd: Option<&'static str>| {
        let app = &app;
        async move {
            let query = match rd {
                Some(rd) => {
                    let rd: String = url::form_urlencoded::byte_serialize(rd.as_bytes()).collect();
                    format!("?rd={rd}")
                }
                None => String::new(),
            };
            let res = app.get(&format!("/api/authz/return-url{query}")).await;
            assert_eq!(res.status(), 200);
            let body: Value = res.json().await.expect("json");
            body["url"].as_str().map(str::to_owned)
        }
    };
    assert_eq!(
        ask(Some("http://app.fa.localhost:8080/a?b=1&c=2#d"))
            .await
            .as_deref(),
        Some("http://app.fa.localhost:8080/a?b=1&c=2#d")
    );
    assert_eq!(
        ask(Some("HTTP://App.FA.localhost/")).await.as_deref(),
        Some("http://app.fa.localhost/")
    );
    for attack in [
        "http://evil.example/",
        "//app.fa.localhost/",
        "/\\evil.example",
        "http://app.fa.localhost@evil.example/",
        "http://evil.example\\@app.fa.localhost/",
        "http://evilfa.localhost/",
        "http://app.fa.localhost./",
        "http://app%2efa.localhost/",
        "javascript:alert(1)",
        "http://app.fa.localhost\t/",
    ] {
        assert_eq!(ask(Some(attack)).await, None, "{attack}");
    }
    assert_eq!(ask(None).await, None);
    // A query that is not UTF-8 is no return URL, not an error.
    let res = app.get("/api/authz/return-url?rd=%ff%fe&rd=x").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["url"], Value::Null);
}

/// The `Set-Cookie` of a login on `app`, as text.
async fn login_cookie(app: &TestApp) -> String {
    let name = username("fa_domain");
    assert_eq!(
        app.register(&name, crate::helpers::PASSWORD).await.status(),
        201
    );
    let res = app
        .fresh_client()
        .post(app.url("/api/login"))
        .json(&serde_json::json!({"username": name, "password": crate::helpers::PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 200);
    res.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

#[tokio::test]
async fn a_cookie_domain_sends_the_cookie_to_subdomains_with_the_secure_prefix() {
    let secure = spawn_with(
        Options::default()
            .arg("--public-url", "https://auth.example.com")
            .arg("--cookie-domain", "example.com"),
    )
    .await;
    let cookie = login_cookie(&secure).await;
    assert!(cookie.starts_with("__Secure-latchkey_session="), "{cookie}");
    assert!(cookie.contains("; Domain=example.com"), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("; HttpOnly"), "{cookie}");

    let plain = spawn_with(
        Options::default()
            .arg("--cookie-secure", "false")
            .arg("--cookie-domain", "fa.localhost"),
    )
    .await;
    let cookie = login_cookie(&plain).await;
    assert!(cookie.starts_with("latchkey_session="), "{cookie}");
    assert!(cookie.contains("; Domain=fa.localhost"), "{cookie}");

    let host_only =
        spawn_with(Options::default().arg("--public-url", "https://auth.example.com")).await;
    let cookie = login_cookie(&host_only).await;
    assert!(cookie.starts_with("__Host-latchkey_session="), "{cookie}");
    assert!(!cookie.contains("Domain="), "{cookie}");
}

#[tokio::test]
async fn logout_expires_the_cookie_on_its_domain() {
    let app = spawn_with(
        Options::default()
            .arg("--cookie-secure", "false")
            .arg("--cookie-domain", "fa.localhost"),
    )
    .await;
    let set = login_cookie(&app).await;
    let pair = set.split(';').next().expect("pair").to_owned();
    let res = app
        .fresh_client()
        .post(app.url("/api/logout"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), 204);
    let removal = res.headers()["set-cookie"].to_str().expect("ascii");
    assert!(removal.starts_with("latchkey_session=;"), "{removal}");
    assert!(removal.contains("Domain=fa.localhost"), "{removal}");
    assert!(removal.contains("Max-Age=0"), "{removal}");
}

#[tokio::test]
async fn a_cookie_domain_that_does_not_cover_the_public_url_stops_start_up() {
    use clap::Parser as _;
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("l.db");
    let cli = latchkey::cli::Cli::try_parse_from([
        "latchkey",
        "--bind",
        "127.0.0.1:0",
        "--database-url",
        db.to_str().expect("utf-8"),
        "--public-url",
        "https://auth.example.com",
        "--cookie-domain",
        "example.org",
    ])
    .expect("each setting is valid alone");
    let error = match latchkey::startup::Application::build(cli.settings).await {
        Ok(_) => panic!("the server started with a cookie domain browsers would refuse"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("LATCHKEY_COOKIE_DOMAIN"), "{error}");
}

#[test]
fn the_readme_shows_the_deploy_files_the_tests_run() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |path: &str| {
        std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let readme = read("README.md");
    for path in [
        "deploy/forward-auth/nginx.conf",
        "deploy/forward-auth/Caddyfile",
    ] {
        assert!(
            readme.contains(&read(path)),
            "README's \"Protect another app\" must show {path} as it is"
        );
    }
}

#[tokio::test]
async fn a_protected_apps_page_may_post_to_latchkey_only_when_its_origin_is_allowed() {
    // The cookie reaches app.example.com, but its pages are another origin: same-site, not
    // same-origin. Unsafe requests from them pass only when LATCHKEY_ALLOWED_ORIGINS names them.
    let logout_from_app = |app: &TestApp, cookie: String| {
        let request = app
            .fresh_client()
            .post(app.url("/api/logout"))
            .header("cookie", cookie)
            .header("origin", "https://app.example.com")
            .header("sec-fetch-site", "same-site");
        async move { request.send().await.expect("logout") }
    };
    let pair = |set: String| set.split(';').next().expect("pair").to_owned();

    let strict = spawn_with(
        Options::default()
            .arg("--public-url", "https://auth.example.com")
            .arg("--cookie-domain", "example.com"),
    )
    .await;
    let cookie = pair(login_cookie(&strict).await);
    let res = logout_from_app(&strict, cookie.clone()).await;
    assert_problem(res, 403, "cross_origin_request").await;
    assert_eq!(strict.get_with_cookie(CHECK, &cookie).await.status(), 200);

    let allowing = spawn_with(
        Options::default()
            .arg("--public-url", "https://auth.example.com")
            .arg("--cookie-domain", "example.com")
            .arg("--allowed-origins", "https://app.example.com"),
    )
    .await;
    let cookie = pair(login_cookie(&allowing).await);
    assert_eq!(
        logout_from_app(&allowing, cookie.clone()).await.status(),
        204
    );
    assert_eq!(allowing.get_with_cookie(CHECK, &cookie).await.status(), 401);
}
