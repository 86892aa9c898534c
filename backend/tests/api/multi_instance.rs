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
