//! Nothing acknowledged is lost when the process is killed (SIGKILL, no shutdown at all).

use std::sync::Arc;

use serde_json::json;

use crate::helpers::{BinaryServer, PASSWORD, TestDatabase};

#[tokio::test]
async fn a_killed_server_loses_no_acknowledged_registration_or_session() {
    let database = Arc::new(TestDatabase::create());
    let envs = [("LATCHKEY_RATE_LIMIT_PER_MINUTE", "0")];
    let mut first = BinaryServer::start_on(database.clone(), &envs);
    let http = reqwest::Client::new();
    // Some registrations answered before the kill, more in flight while the process dies: every
    // one answered 201 must survive.
    let mut acknowledged = Vec::new();
    for i in 0..4 {
        let res = http
            .post(first.url("/api/register"))
            .json(&json!({"username": format!("durable{i}"), "password": PASSWORD}))
            .send()
            .await
            .expect("register");
        assert_eq!(res.status(), 201);
        acknowledged.push(i);
    }
    let mut tasks = Vec::new();
    for i in 4..16 {
        let (http, url) = (http.clone(), first.url("/api/register"));
        tasks.push(tokio::spawn(async move {
            let res = http
                .post(url)
                .json(&json!({"username": format!("durable{i}"), "password": PASSWORD}))
                .send()
                .await;
            (i, res.map(|r| r.status().as_u16()).unwrap_or(0))
        }));
    }
    let login = http
        .post(first.url("/api/login"))
        .json(&json!({"username": "durable0", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    let cookie = (login.status() == 200).then(|| {
        login.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .split(';')
            .next()
            .expect("pair")
            .to_owned()
    });
    first.child.kill().expect("SIGKILL");
    first.child.wait().expect("reaped");
    for t in tasks {
        let (i, status) = t.await.expect("join");
        if status == 201 {
            acknowledged.push(i);
        }
    }
    assert!(
        !acknowledged.is_empty(),
        "some registrations finished before the kill"
    );

    let second = BinaryServer::start_on(database, &envs);
    for i in acknowledged {
        let res = http
            .post(second.url("/api/login"))
            .json(&json!({"username": format!("durable{i}"), "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(
            res.status(),
            200,
            "durable{i} was acknowledged, so it must log in"
        );
    }
    if let Some(cookie) = cookie {
        let me = http
            .get(second.url("/api/me"))
            .header("cookie", cookie)
            .send()
            .await
            .expect("me");
        assert_eq!(
            me.status(),
            200,
            "an acknowledged session survives the kill"
        );
    }
}
