//! The contract's CSRF, brute-force and enumeration clauses, and the authentication log.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{
    BinaryServer, Options, PASSWORD, assert_problem, median, spawn_app, spawn_with, username,
};

async fn post_with(
    app: &crate::helpers::TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(path))
        .json(&json!({"username": "nobody_at_all", "password": PASSWORD}));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request")
}

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("integer seconds")
}

#[tokio::test]
async fn cross_site_and_foreign_origin_posts_are_refused() {
    let app = spawn_app().await;
    let host_origin = app.address.clone();
    for path in ["/api/login", "/api/register", "/api/logout"] {
        for headers in [
            vec![("sec-fetch-site", "cross-site")],
            vec![
                ("sec-fetch-site", "same-site"),
                ("origin", "http://evil.localhost"),
            ],
            vec![("origin", "https://evil.example")],
            vec![("origin", "null")],
        ] {
            let res = post_with(&app, path, &headers).await;
            assert_problem(res, 403, "cross_origin_request").await;
        }
    }
    // Same-origin browser requests and header-less clients pass (401: no such user).
    for headers in [
        vec![
            ("sec-fetch-site", "same-origin"),
            ("origin", host_origin.as_str()),
        ],
        vec![("sec-fetch-site", "none")],
        vec![("origin", host_origin.as_str())],
        vec![],
    ] {
        let res = post_with(&app, "/api/login", &headers).await;
        assert_problem(res, 401, "invalid_credentials").await;
    }
    // Safe methods are never refused.
    let res = app
        .client
        .get(app.url("/api/health"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_cross_site_logout_cannot_end_a_session() {
    let app = spawn_app().await;
    app.signed_in(&username("csrf")).await;
    let res = app
        .client
        .post(app.url("/api/logout"))
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("request");
    assert_problem(res, 403, "cross_origin_request").await;
    assert_eq!(app.get("/api/me").await.status(), 200, "still logged in");
}

#[tokio::test]
async fn allowed_origins_and_the_public_url_define_who_may_post() {
    let app = spawn_with(
        Options::default()
            .arg("--public-url", "https://auth.example.com")
            .arg("--cookie-secure", "false")
            .arg("--allowed-origins", "https://app.example.com"),
    )
    .await;
    let ok = post_with(
        &app,
        "/api/login",
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://app.example.com"),
        ],
    )
    .await;
    assert_problem(ok, 401, "invalid_credentials").await;
    let ok = post_with(
        &app,
        "/api/login",
        &[("origin", "https://auth.example.com")],
    )
    .await;
    assert_problem(ok, 401, "invalid_credentials").await;
    // With a public URL, the Host header no longer defines the own origin.
    let host_origin = app.address.clone();
    let refused = post_with(&app, "/api/login", &[("origin", host_origin.as_str())]).await;
    assert_problem(refused, 403, "cross_origin_request").await;
    let refused = post_with(
        &app,
        "/api/login",
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://other.example.com"),
        ],
    )
    .await;
    assert_problem(refused, 403, "cross_origin_request").await;
}

#[tokio::test]
async fn the_client_rate_limit_answers_429_with_retry_after() {
    let app = spawn_with(Options::default().arg("--rate-limit-per-minute", "3")).await;
    for _ in 0..3 {
        assert_eq!(app.login("nobody", PASSWORD).await.status(), 401);
    }
    let res = app.login("nobody", PASSWORD).await;
    let wait = retry_after(&res);
    assert!(
        (1..=20).contains(&wait),
        "about 20 s for one token at 3/min: {wait}"
    );
    assert_problem(res, 429, "rate_limited").await;
    // Register shares the client's budget; the username_taken disclosure is rate limited.
    let res = app.register(&username("limited"), PASSWORD).await;
    assert_problem(res, 429, "rate_limited").await;
    // Other endpoints are not limited.
    assert_eq!(app.get("/api/health").await.status(), 200);
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let behind_proxy = spawn_with(
        Options::default()
            .arg("--rate-limit-per-minute", "1")
            .arg("--trusted-proxies", "127.0.0.1/32,::1"),
    )
    .await;
    for client in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        let res = post_with(&behind_proxy, "/api/login", &[("x-forwarded-for", client)]).await;
        assert_eq!(res.status(), 401, "{client} has its own bucket");
    }
    let res = post_with(
        &behind_proxy,
        "/api/login",
        &[("x-forwarded-for", "203.0.113.1")],
    )
    .await;
    assert_problem(res, 429, "rate_limited").await;

    let direct = spawn_with(Options::default().arg("--rate-limit-per-minute", "1")).await;
    let res = post_with(&direct, "/api/login", &[("x-forwarded-for", "203.0.113.1")]).await;
    assert_eq!(res.status(), 401);
    let res = post_with(&direct, "/api/login", &[("x-forwarded-for", "203.0.113.2")]).await;
    assert_problem(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn the_account_throttle_grows_and_a_success_resets_it() {
    let app = spawn_with(Options::default().arg("--login-throttle-after", "3")).await;
    let name = username("throttled");
    app.register(&name, PASSWORD).await;
    for _ in 0..3 {
        assert_problem(
            app.login(&name, "wrong password 1").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    // Locked: even the right password is refused, with the same body for any spelling of the name.
    let res = app.login(&name.to_uppercase(), PASSWORD).await;
    assert_eq!(retry_after(&res), 2);
    assert_problem(res, 429, "too_many_attempts").await;
    // Just before the end of the lock it still holds; then it is over.
    app.clock().advance(Duration::from_millis(1900));
    assert_problem(app.login(&name, PASSWORD).await, 429, "too_many_attempts").await;
    app.clock().advance(Duration::from_millis(150));
    // One more failure doubles the lock.
    assert_problem(
        app.login(&name, "wrong password 2").await,
        401,
        "invalid_credentials",
    )
    .await;
    let res = app.login(&name, PASSWORD).await;
    assert_eq!(retry_after(&res), 4);
    assert_problem(res, 429, "too_many_attempts").await;
    app.clock().advance(Duration::from_millis(4050));
    // A success resets the streak: the next failure is a plain 401 again.
    assert_eq!(app.login(&name, PASSWORD).await.status(), 200);
    for _ in 0..2 {
        assert_problem(
            app.login(&name, "wrong password 3").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    assert_eq!(app.login(&name, PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn unknown_usernames_are_throttled_like_real_ones() {
    let app = spawn_with(Options::default().arg("--login-throttle-after", "2")).await;
    for _ in 0..2 {
        assert_problem(
            app.login("ghost_user", PASSWORD).await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    let res = app.login("GHOST_USER", PASSWORD).await;
    assert_eq!(retry_after(&res), 2);
    assert_problem(res, 429, "too_many_attempts").await;
    // Another name is unaffected.
    assert_problem(
        app.login("other_ghost", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn a_throttled_attempt_computes_no_hash() {
    // One hashing thread with no waiting room and a slow hash: while a registration occupies
    // the thread, any request that needs a hash gets 503. A locked login still gets 429, so it
    // never asked for one.
    let app = spawn_with(
        Options::default()
            .arg("--login-throttle-after", "1")
            .arg("--hash-threads", "1")
            .arg("--hash-queue", "0")
            .arg("--pbkdf2-iterations", "10000000"),
    )
    .await;
    // Lock the name for minutes straight in the shared table, as repeated failures would.
    // Ten failures, each made just as the previous lock ran out, the last 100 s ago.
    use latchkey::db::throttles::{Attempt, begin_attempt, lock_secs};
    let mut conn = app.db();
    let mut at = latchkey::clock::Clock::system().now() - 1122;
    for _ in 0..10 {
        match begin_attempt(&mut conn, "locked_name", at * 1000, 1).expect("attempt") {
            Attempt::Allowed { failures } => at += lock_secs(failures, 1),
            Attempt::Locked { .. } => panic!("each attempt comes after the lock"),
        }
    }
    let slow = {
        let client = app.fresh_client();
        let url = app.url("/api/register");
        tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"username": "slow_one", "password": PASSWORD}))
                .send()
                .await
                .expect("request")
                .status()
        })
    };
    crate::helpers::wait_for_busy_hash_threads(&app.address, 1).await;
    let control = app.login("someone_else", PASSWORD).await;
    assert_problem(control, 503, "server_busy").await;
    let locked = app.login("Locked_Name", PASSWORD).await;
    assert!(retry_after(&locked) > 60);
    assert_problem(locked, 429, "too_many_attempts").await;
    assert_eq!(slow.await.expect("join"), 201);
}

#[tokio::test]
async fn unknown_and_wrong_password_logins_take_the_same_time() {
    // The default work factor, so that the hash dominates; no throttle or rate limit.
    let app = spawn_with(
        Options::default()
            .arg("--pbkdf2-iterations", "1000000")
            .arg("--login-throttle-after", "0"),
    )
    .await;
    let name = username("timing");
    assert_eq!(app.register(&name, PASSWORD).await.status(), 201);
    // Back-to-back pairs, alternating which goes first, compared pair by pair: a burst of load
    // from the tests running beside this one slows both halves of a pair, so the median of the
    // pairs' ratios stays near 1 where a ratio of two medians could drift.
    let (mut wrong, mut unknown, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut bodies = Vec::new();
    for i in 0..9 {
        let mut pair = [Duration::ZERO; 2];
        let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let user = if which == 0 {
                name.as_str()
            } else {
                "no_such_account"
            };
            let started = Instant::now();
            let res = app.login(user, &format!("wrong password {i}")).await;
            pair[which] = started.elapsed();
            assert_eq!(res.status(), 401);
            bodies.push(res.text().await.expect("body"));
        }
        wrong.push(pair[0]);
        unknown.push(pair[1]);
        ratios.push(pair[0].as_secs_f64() / pair[1].as_secs_f64());
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "identical bodies");
    let ratio = median(ratios.clone());
    let (w, u) = (median(wrong), median(unknown));
    assert!(
        (0.75..=1.33).contains(&ratio),
        "median ratio of wrong-password to unknown-user pairs {ratio:.2} \
         (medians {w:?} and {u:?}; ratios {ratios:.2?})"
    );
    assert!(
        u > Duration::from_millis(20),
        "the unknown path really hashes: {u:?}"
    );
}

#[tokio::test]
async fn https_public_url_brings_hsts_and_secure_host_cookies() {
    let app = spawn_with(Options::default().arg("--public-url", "https://auth.example.com")).await;
    let name = username("hsts");
    app.register(&name, PASSWORD).await;
    let res = app.login(&name, PASSWORD).await;
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    let cookie = res.headers()["set-cookie"].to_str().expect("ascii");
    assert!(
        cookie.starts_with("__Host-latchkey_session=") && cookie.contains("Secure"),
        "{cookie}"
    );
}

#[tokio::test]
async fn every_authentication_attempt_is_logged_without_secrets() {
    let server = BinaryServer::start(&[
        ("LATCHKEY_LOGIN_THROTTLE_AFTER", "2"),
        ("LATCHKEY_RATE_LIMIT_PER_MINUTE", "0"),
    ]);
    let client = reqwest::Client::new();
    let canary = "Canary-Password-7f3a9!";
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(server.url(path))
            .header("x-request-id", "audit-test-1")
            .json(&body)
            .send()
    };
    assert_eq!(
        post(
            "/api/register",
            json!({"username": "audited", "password": canary})
        )
        .await
        .expect("req")
        .status(),
        201
    );
    let ok = post(
        "/api/login",
        json!({"username": "Audited", "password": canary}),
    )
    .await
    .expect("req");
    assert_eq!(ok.status(), 200);
    let cookie = ok.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(
        post(
            "/api/login",
            json!({"username": "audited", "password": "nope"})
        )
        .await
        .expect("req")
        .status(),
        401
    );
    assert_eq!(
        post(
            "/api/login",
            json!({"username": "ghost", "password": canary})
        )
        .await
        .expect("req")
        .status(),
        401
    );
    assert_eq!(
        post(
            "/api/login",
            json!({"username": "audited", "password": "nope"})
        )
        .await
        .expect("req")
        .status(),
        401
    );
    assert_eq!(
        post(
            "/api/login",
            json!({"username": "audited", "password": canary})
        )
        .await
        .expect("req")
        .status(),
        429
    );
    let events: Vec<serde_json::Value> = server
        .log_lines_when(|lines| {
            lines
                .iter()
                .any(|l| l["event"] == "login_throttled" && l["target"] == "latchkey::audit")
        })
        .await
        .into_iter()
        .filter(|l| l["target"] == "latchkey::audit")
        .collect();
    let find = |event: &str, reason: Option<&str>| {
        events
            .iter()
            .find(|e| e["event"] == event && reason.is_none_or(|r| e["reason"] == r))
            .unwrap_or_else(|| panic!("no {event} {reason:?} in {events:#?}"))
            .clone()
    };
    let success = find("login_succeeded", None);
    assert_eq!(success["username"], "audited");
    assert_eq!(success["client_ip"], "127.0.0.1");
    assert_eq!(success["span"]["request_id"], "audit-test-1");
    assert!(success["timestamp"].is_string());
    find("login_failed", Some("wrong_password"));
    find("login_failed", Some("unknown_user"));
    find("login_throttled", None);
    find("registered", None);
    let raw = server.raw_logs();
    assert!(!raw.contains(canary), "a password reached the log");
    let cookie_value = cookie
        .split(';')
        .next()
        .expect("pair")
        .split_once('=')
        .expect("value")
        .1;
    assert!(
        !raw.contains(cookie_value),
        "a session cookie reached the log"
    );
}
