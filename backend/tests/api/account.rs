//! Account management: password change, account deletion, sessions and events.

use diesel::prelude::*;
use latchkey::db::schema::{events, sessions};
use serde_json::{Value, json};

use crate::helpers::{
    Options, PASSWORD, TestApp, assert_problem, field_errors, spawn_app, spawn_with, username,
};

const NEW_PASSWORD: &str = "a brand new staple horse battery";

/// A second, independent client (its own cookie jar) logged in as `name`.
async fn second_client(app: &TestApp, name: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let res = client
        .post(app.url("/api/login"))
        .header("user-agent", "second-device/1.0")
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    client
}

async fn status_of_me(app: &TestApp, client: &reqwest::Client) -> u16 {
    client
        .get(app.url("/api/me"))
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn change_password(app: &TestApp, body: Value) -> reqwest::Response {
    app.client
        .put(app.url("/api/me/password"))
        .json(&body)
        .send()
        .await
        .expect("request")
}

async fn delete_me(app: &TestApp, password: &str) -> reqwest::Response {
    app.client
        .delete(app.url("/api/me"))
        .json(&json!({"password": password}))
        .send()
        .await
        .expect("request")
}

async fn revoke(app: &TestApp, session_id: &str) -> reqwest::Response {
    app.client
        .delete(app.url(&format!("/api/me/sessions/{session_id}")))
        .send()
        .await
        .expect("request")
}

async fn sessions_of(app: &TestApp) -> Vec<Value> {
    let res = app.get("/api/me/sessions").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json().await.expect("json")
}

#[tokio::test]
async fn a_password_change_logs_out_other_sessions_but_renews_this_one() {
    let app = spawn_app().await;
    let name = username("changer");
    app.signed_in(&name).await;
    let other = second_client(&app, &name).await;
    let before = app.cookie_header().expect("cookie");

    let res = change_password(
        &app,
        json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 204);
    let set = res.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        set.starts_with("latchkey_session="),
        "a renewed cookie: {set}"
    );
    assert_ne!(app.cookie_header().expect("cookie"), before);

    assert_eq!(
        status_of_me(&app, &app.client).await,
        200,
        "this session lives on"
    );
    assert_eq!(
        status_of_me(&app, &other).await,
        401,
        "the other session is gone"
    );
    let old_cookie = app.get_with_cookie("/api/me", before).await;
    assert_problem(old_cookie, 401, "not_authenticated").await;
    assert_problem(app.login(&name, PASSWORD).await, 401, "invalid_credentials").await;
    assert_eq!(app.login(&name, NEW_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_password_change_checks_the_current_password_and_the_policy() {
    let app = spawn_with(Options::default().arg("--login-throttle-after", "3")).await;
    let name = username("policy");
    app.signed_in(&name).await;
    let res = change_password(
        &app,
        json!({"current_password": "not it", "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_problem(res, 403, "wrong_password").await;
    let res = change_password(
        &app,
        json!({"current_password": PASSWORD, "new_password": "password1"}),
    )
    .await;
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(
        field_errors(&problem),
        [("new_password".to_owned(), "too_weak".to_owned())]
    );
    let res = change_password(
        &app,
        json!({"current_password": PASSWORD, "new_password": name.clone() + "2026"}),
    )
    .await;
    assert_problem(res, 422, "validation_failed").await;
    let res = change_password(
        &app,
        json!({"current_password": "", "new_password": NEW_PASSWORD}),
    )
    .await;
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(
        field_errors(&problem),
        [("current_password".to_owned(), "required".to_owned())]
    );
    let res = change_password(&app, json!({})).await;
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(
        field_errors(&problem),
        [
            ("current_password".to_owned(), "required".to_owned()),
            ("new_password".to_owned(), "required".to_owned())
        ]
    );
    // The re-check is throttled like a login: a stolen session cannot guess the password.
    for _ in 0..2 {
        let res = change_password(
            &app,
            json!({"current_password": "guess", "new_password": NEW_PASSWORD}),
        )
        .await;
        assert_problem(res, 403, "wrong_password").await;
    }
    let res = change_password(
        &app,
        json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_problem(res, 429, "too_many_attempts").await;
    let anonymous = app
        .fresh_client()
        .put(app.url("/api/me/password"))
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_problem(anonymous, 401, "not_authenticated").await;
}

#[tokio::test]
async fn deleting_the_account_removes_everything_and_frees_the_name() {
    let app = spawn_app().await;
    let name = username("leaver");
    let user = app.signed_in(&name).await;
    let other = second_client(&app, &name).await;
    assert_problem(
        delete_me(&app, "wrong password").await,
        403,
        "wrong_password",
    )
    .await;
    assert_problem(delete_me(&app, "").await, 422, "validation_failed").await;
    // A wrong re-check shows in the user's activity.
    let events: Vec<Value> = app.get("/api/me/events").await.json().await.expect("json");
    assert_eq!(events[0]["kind"], "login_failed");
    let missing = app
        .client
        .delete(app.url("/api/me"))
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_problem(missing, 422, "validation_failed").await;

    let res = delete_me(&app, PASSWORD).await;
    assert_eq!(res.status(), 204);
    let set = res.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(set.contains("Max-Age=0"), "cookie cleared: {set}");
    assert_eq!(status_of_me(&app, &app.client).await, 401);
    assert_eq!(status_of_me(&app, &other).await, 401);
    assert_problem(app.login(&name, PASSWORD).await, 401, "invalid_credentials").await;

    let id = user["id"].as_i64().expect("id") as i32;
    let mut conn = app.db();
    let left_sessions: i64 = sessions::table
        .filter(sessions::user_id.eq(id))
        .count()
        .get_result(&mut conn)
        .expect("count");
    let left_events: i64 = events::table
        .filter(events::user_id.eq(id))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!((left_sessions, left_events), (0, 0));

    assert_eq!(
        app.register(&name, PASSWORD).await.status(),
        201,
        "the name is free again"
    );
}

#[tokio::test]
async fn sessions_are_listed_with_the_current_one_marked() {
    let app = spawn_app().await;
    let name = username("lister");
    app.signed_in(&name).await;
    let _other = second_client(&app, &name).await;
    let list = sessions_of(&app).await;
    assert_eq!(list.len(), 2, "{list:#?}");
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    let other = list.iter().find(|s| s["current"] == false).expect("other");
    assert_eq!(other["user_agent"], "second-device/1.0");
    assert_eq!(other["ip"], "127.0.0.1");
    for key in ["id", "created_at", "last_seen_at", "expires_at"] {
        assert!(other[key].as_str().is_some_and(|v| !v.is_empty()), "{key}");
    }
    // A public id is not a cookie.
    let id = other["id"].as_str().expect("id");
    let res = app
        .fresh_client()
        .get(app.url("/api/me"))
        .header("cookie", format!("latchkey_session={id}"))
        .send()
        .await
        .expect("request");
    assert_problem(res, 401, "not_authenticated").await;
}

#[tokio::test]
async fn revoking_a_session_logs_that_client_out() {
    let app = spawn_app().await;
    let name = username("revoker");
    app.signed_in(&name).await;
    let other = second_client(&app, &name).await;
    let list = sessions_of(&app).await;
    let other_id = list.iter().find(|s| s["current"] == false).expect("other")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let res = revoke(&app, &other_id).await;
    assert_eq!(res.status(), 204);
    assert_eq!(status_of_me(&app, &other).await, 401);
    assert_eq!(status_of_me(&app, &app.client).await, 200);
    let again = revoke(&app, &other_id).await;
    assert_problem(again, 404, "not_found").await;
}

#[tokio::test]
async fn another_users_session_id_is_404() {
    let app = spawn_app().await;
    let mallory = username("mallory");
    app.signed_in(&mallory).await;
    let victim = username("victim");
    assert_eq!(app.register(&victim, PASSWORD).await.status(), 201);
    let victim_client = second_client(&app, &victim).await;
    let victim_sessions: Vec<Value> = victim_client
        .get(app.url("/api/me/sessions"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let victim_id = victim_sessions[0]["id"].as_str().expect("id");
    let res = revoke(&app, victim_id).await;
    assert_problem(res, 404, "not_found").await;
    assert_eq!(status_of_me(&app, &victim_client).await, 200, "untouched");
    let res = app
        .client
        .delete(app.url("/api/me/sessions/no-such-id"))
        .send()
        .await
        .expect("request");
    assert_problem(res, 404, "not_found").await;
}

#[tokio::test]
async fn revoking_the_current_session_by_id_logs_out() {
    let app = spawn_app().await;
    app.signed_in(&username("selfrevoke")).await;
    let list = sessions_of(&app).await;
    let mine = list[0]["id"].as_str().expect("id").to_owned();
    let res = revoke(&app, &mine).await;
    assert_eq!(res.status(), 204);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .contains("Max-Age=0")
    );
    assert_problem(app.get("/api/me").await, 401, "not_authenticated").await;
}

#[tokio::test]
async fn signing_out_everywhere_else_keeps_this_session() {
    let app = spawn_app().await;
    let name = username("everywhere");
    app.signed_in(&name).await;
    let a = second_client(&app, &name).await;
    let b = second_client(&app, &name).await;
    let res = app
        .client
        .delete(app.url("/api/me/sessions"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 204);
    assert_eq!(status_of_me(&app, &a).await, 401);
    assert_eq!(status_of_me(&app, &b).await, 401);
    assert_eq!(status_of_me(&app, &app.client).await, 200);
    assert_eq!(sessions_of(&app).await.len(), 1);
}

#[tokio::test]
async fn events_list_the_security_activity_newest_first() {
    let app = spawn_app().await;
    let name = username("historian");
    app.signed_in(&name).await;
    assert_problem(
        app.login(&name, "wrong one").await,
        401,
        "invalid_credentials",
    )
    .await;
    crate::helpers::events_when(&app, |e| e.iter().any(|e| e["kind"] == "login_failed")).await;
    let other = second_client(&app, &name).await;
    drop(other);
    let res = app
        .client
        .delete(app.url("/api/me/sessions"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 204);
    let res = change_password(
        &app,
        json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 204);
    let list = sessions_of(&app).await;
    let mine = list[0]["id"].as_str().expect("id").to_owned();
    assert_eq!(revoke(&app, &mine).await.status(), 204);
    assert_eq!(app.login(&name, NEW_PASSWORD).await.status(), 200);
    assert_eq!(app.logout().await.status(), 204);
    assert_eq!(app.login(&name, NEW_PASSWORD).await.status(), 200);

    let res = app.get("/api/me/events").await;
    assert_eq!(res.status(), 200);
    let events: Vec<Value> = res.json().await.expect("json");
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        [
            "login",
            "logout",
            "login",
            "session_revoked",
            "password_changed",
            "sessions_revoked",
            "login",
            "login_failed",
            "login",
            "registered"
        ]
    );
    let newest = &events[0];
    assert_eq!(newest["ip"], "127.0.0.1");
    assert!(newest["at"].as_str().expect("at").ends_with('Z'));
    let ids: Vec<i64> = events
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
}

#[tokio::test]
async fn events_are_bounded_per_user() {
    let app = spawn_with(Options::default().arg("--login-throttle-after", "0")).await;
    let name = username("bounded");
    app.signed_in(&name).await;
    for _ in 0..105 {
        assert_eq!(app.login(&name, "wrong again").await.status(), 401);
    }
    let events = crate::helpers::events_when(&app, |e| {
        e.len() == 100 && e.iter().all(|e| e["kind"] == "login_failed")
    })
    .await;
    assert_eq!(events.len(), 100);
    assert!(events.iter().all(|e| e["kind"] == "login_failed"));
    // The last failures' events may still be on their way in: wait for the count to settle.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let stored = loop {
        let stored: i64 = events::table
            .count()
            .get_result(&mut app.db())
            .expect("count");
        if stored == 100 || std::time::Instant::now() > deadline {
            break stored;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(stored, 100, "older rows are pruned, not just hidden");
}

#[tokio::test]
async fn account_endpoints_need_a_session_and_the_right_methods() {
    let app = spawn_app().await;
    for (method, path) in [
        (reqwest::Method::GET, "/api/me/sessions"),
        (reqwest::Method::DELETE, "/api/me/sessions"),
        (reqwest::Method::DELETE, "/api/me/sessions/abc"),
        (reqwest::Method::GET, "/api/me/events"),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .expect("request");
        assert_problem(res, 401, "not_authenticated").await;
    }
    let res = app
        .client
        .post(app.url("/api/me/password"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.headers()["allow"], "PUT");
    assert_problem(res, 405, "method_not_allowed").await;
    let res = app
        .client
        .put(app.url("/api/me"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.headers()["allow"], "GET, HEAD, DELETE");
    assert_problem(res, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn the_events_kept_per_user_are_configurable() {
    let app = spawn_with(
        Options::default()
            .arg("--login-throttle-after", "0")
            .arg("--events-per-user", "5"),
    )
    .await;
    let name = username("kept");
    app.signed_in(&name).await;
    for _ in 0..8 {
        assert_eq!(app.login(&name, "wrong again").await.status(), 401);
    }
    let events = crate::helpers::events_when(&app, |e| {
        e.len() == 5 && e.iter().all(|e| e["kind"] == "login_failed")
    })
    .await;
    assert_eq!(events.len(), 5, "the newest five: {events:?}");
    let stored: i64 = events::table
        .count()
        .get_result(&mut app.db())
        .expect("count");
    assert!(stored <= 5, "older rows are deleted: {stored} stored");
}
