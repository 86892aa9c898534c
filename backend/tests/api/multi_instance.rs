//! Several instances over one database behave as one service: two real server processes
//! (PostgreSQL when the suite runs on it, else one SQLite file shared by both processes).

use std::sync::Arc;

use serde_json::json;

use crate::helpers::{BinaryServer, PASSWORD, TestDatabase, assert_one_registration_wins};

fn pair(envs: &[(&str, &str)]) -> (BinaryServer, BinaryServer) {
    let database = Arc::new(TestDatabase::create());
    let a = BinaryServer::start_on(database.clone(), envs);
    let b = BinaryServer::start_on(database, envs);
    (a, b)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(false)
        .build()
        .expect("client")
}

async fn post(
    client: &reqwest::Client,
    url: String,
    body: serde_json::Value,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = client.post(url).json(&body);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    req.send().await.expect("request")
}

async fn me(client: &reqwest::Client, server: &BinaryServer, cookie: &str) -> u16 {
    client
        .get(server.url("/api/me"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_session_made_on_one_instance_works_and_ends_on_the_other() {
    let (a, b) = pair(&[]);
    let http = client();
    let creds = json!({"username": "roamer", "password": PASSWORD});
    assert_eq!(
        post(&http, a.url("/api/register"), creds.clone(), None)
            .await
            .status(),
        201
    );
    let login = post(&http, a.url("/api/login"), creds, None).await;
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    assert_eq!(me(&http, &b, &cookie).await, 200, "B knows A's session");
    let logout = http
        .post(b.url("/api/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert_eq!(logout.status(), 204);
    assert_eq!(
        me(&http, &a, &cookie).await,
        401,
        "A refuses it after logout on B"
    );
}

#[tokio::test]
async fn throttle_failures_on_both_instances_add_up() {
    let envs = [
        ("LATCHKEY_LOGIN_THROTTLE_AFTER", "4"),
        ("LATCHKEY_RATE_LIMIT_PER_MINUTE", "0"),
    ];
    let (a, b) = pair(&envs);
    let http = client();
    let wrong = json!({"username": "shared_target", "password": "not the password"});
    for server in [&a, &b, &a, &b] {
        let res = post(&http, server.url("/api/login"), wrong.clone(), None).await;
        assert_eq!(res.status(), 401);
    }
    for server in [&a, &b] {
        let res = post(&http, server.url("/api/login"), wrong.clone(), None).await;
        assert_eq!(res.status(), 429, "locked on every instance");
        assert!(res.headers().contains_key("retry-after"));
    }
}

#[tokio::test]
async fn a_duplicate_registration_race_across_instances_has_one_winner() {
    let (a, b) = pair(&[("LATCHKEY_RATE_LIMIT_PER_MINUTE", "0")]);
    let attempts = (0..16)
        .map(|i| {
            let server = if i % 2 == 0 { &a } else { &b };
            let name = if i % 3 == 0 { "Contested" } else { "contested" };
            (server.url("/api/register"), name.to_owned())
        })
        .collect();
    assert_one_registration_wins(attempts).await;
}

/// `name=value` of the cookie `name` that `res` sets.
fn set_cookie(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii"))
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_owned()
}

fn unix_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs(),
    )
    .expect("fits")
}

#[tokio::test]
async fn second_factor_codes_are_spent_and_counted_across_instances() {
    use crate::second_factor::code_at;

    let envs = [
        ("LATCHKEY_LOGIN_THROTTLE_AFTER", "4"),
        ("LATCHKEY_RATE_LIMIT_PER_MINUTE", "0"),
    ];
    let (a, b) = pair(&envs);
    let http = client();
    let creds = json!({"username": "two_step", "password": PASSWORD});
    assert_eq!(
        post(&http, a.url("/api/register"), creds.clone(), None)
            .await
            .status(),
        201
    );
    let login = post(&http, a.url("/api/login"), creds.clone(), None).await;
    let session = set_cookie(&login, "latchkey_session");
    // Set up on A, confirm on B: the unconfirmed secret is in the database, sealed with the key
    // both instances share.
    let start = post(
        &http,
        a.url("/api/me/totp"),
        json!({"password": PASSWORD}),
        Some(&session),
    )
    .await;
    assert_eq!(start.status(), 200);
    let secret = start.json::<serde_json::Value>().await.expect("json")["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let confirm_code = code_at(&secret, unix_now());
    let confirm = post(
        &http,
        b.url("/api/me/totp/confirm"),
        json!({"code": confirm_code}),
        Some(&session),
    )
    .await;
    assert_eq!(confirm.status(), 200);
    let recovery = confirm.json::<serde_json::Value>().await.expect("json")["recovery_codes"][0]
        .as_str()
        .expect("code")
        .to_owned();

    // The password on B, the second step on A: the pending login is in the database. The code
    // that confirmed the set-up is spent everywhere; the next step's code (one step of drift)
    // completes the login.
    let pending = set_cookie(
        &post(&http, b.url("/api/login"), creds.clone(), None).await,
        "latchkey_pending_login",
    );
    let replay = post(
        &http,
        a.url("/api/login/second-factor"),
        json!({"code": confirm_code}),
        Some(&pending),
    )
    .await;
    assert_eq!(
        replay.status(),
        401,
        "the set-up's code is spent on every instance"
    );
    let next = code_at(&secret, unix_now() + 30);
    let done = post(
        &http,
        a.url("/api/login/second-factor"),
        json!({"code": next}),
        Some(&pending),
    )
    .await;
    assert_eq!(done.status(), 200);
    let cookie = set_cookie(&done, "latchkey_session");
    assert_eq!(me(&http, &b, &cookie).await, 200);

    // That code again, in a new login on the other instance: refused.
    let pending = set_cookie(
        &post(&http, b.url("/api/login"), creds.clone(), None).await,
        "latchkey_pending_login",
    );
    let replay = post(
        &http,
        b.url("/api/login/second-factor"),
        json!({"code": next}),
        Some(&pending),
    )
    .await;
    assert_eq!(replay.status(), 401, "a replayed code is refused on B");

    // Wrong codes on A and B add up with the password attempt in the one throttle: the right
    // password (1), the replay (2), then two more failures lock the account on both.
    let wrong = if next == "000000" { "111111" } else { "000000" };
    for server in [&a, &b] {
        let res = post(
            &http,
            server.url("/api/login/second-factor"),
            json!({"code": wrong}),
            Some(&pending),
        )
        .await;
        assert_eq!(res.status(), 401);
    }
    for server in [&a, &b] {
        let res = post(
            &http,
            server.url("/api/login/second-factor"),
            json!({"recovery_code": recovery}),
            Some(&pending),
        )
        .await;
        assert_eq!(res.status(), 429, "locked on every instance");
        assert!(res.headers().contains_key("retry-after"));
    }

    // Neither server ever logged the secret or a code.
    for server in [&a, &b] {
        let logs = server.raw_logs();
        for needle in [
            secret.as_str(),
            confirm_code.as_str(),
            next.as_str(),
            recovery.as_str(),
        ] {
            assert!(!logs.contains(needle), "{needle} in the logs");
        }
    }
}
