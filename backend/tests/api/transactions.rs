//! Every use case that writes more than once does it in one transaction: with its *last* write
//! made to fail inside the database (a trigger, see `helpers::ForcedFailure`), the request fails
//! and nothing the earlier writes did is left behind. On SQLite and PostgreSQL alike.

use diesel::prelude::*;
use latchkey::db::schema::{events, login_throttles, sessions, users};
use serde_json::json;

use crate::helpers::{ForcedFailure, Options, PASSWORD, TestApp, spawn_app, spawn_with, username};

fn count_events(app: &TestApp, kind: &str) -> i64 {
    events::table
        .filter(events::kind.eq(kind))
        .count()
        .get_result(&mut app.db())
        .expect("count events")
}

fn count_sessions(app: &TestApp) -> i64 {
    sessions::table
        .count()
        .get_result(&mut app.db())
        .expect("count sessions")
}

#[tokio::test]
async fn a_registration_whose_event_fails_leaves_no_user() {
    let app = spawn_app().await;
    let name = username("halfreg");
    {
        let _fault = ForcedFailure::on(&app, "INSERT", "events");
        let res = app.register(&name, PASSWORD).await;
        crate::helpers::assert_problem(res, 500, "internal_error").await;
    }
    let users: i64 = users::table
        .filter(users::username_key.eq(name.to_lowercase()))
        .count()
        .get_result(&mut app.db())
        .expect("count");
    assert_eq!(users, 0, "the user insert was rolled back with the event");
    // The name is free: a registration now succeeds.
    assert_eq!(app.register(&name, PASSWORD).await.status(), 201);
    assert_eq!(count_events(&app, "registered"), 1);
}

#[tokio::test]
async fn a_login_whose_session_insert_fails_changes_nothing() {
    // The server wants 2000 iterations; the user's stored hash has 1000, so a successful login
    // rehashes. One earlier failure leaves a throttle row that a success would delete.
    let app = spawn_with(Options::default().arg("--pbkdf2-iterations", "2000")).await;
    let weak = latchkey::domain::hash_password(PASSWORD, 1000);
    crate::helpers::insert_user(&mut app.db(), "halflogin", &weak);
    assert_eq!(app.login("halflogin", "wrong password").await.status(), 401);
    {
        let _fault = ForcedFailure::on(&app, "INSERT", "sessions");
        let res = app.login("halflogin", PASSWORD).await;
        crate::helpers::assert_problem(res, 500, "internal_error").await;
    }
    let stored: String = users::table
        .filter(users::username_key.eq("halflogin"))
        .select(users::password_hash)
        .first(&mut app.db())
        .expect("user");
    assert_eq!(stored, weak, "the rehash was rolled back");
    assert_eq!(count_events(&app, "login"), 0, "no login event");
    let throttles: i64 = login_throttles::table
        .count()
        .get_result(&mut app.db())
        .expect("count");
    assert_eq!(throttles, 1, "the throttle reset was rolled back");
    assert_eq!(count_sessions(&app), 0);
    assert_eq!(app.get("/api/me").await.status(), 401);
}

#[tokio::test]
async fn a_password_change_whose_renewal_fails_changes_nothing() {
    let app = spawn_app().await;
    let name = username("halfpw");
    app.signed_in(&name).await;
    // A second session that the change would end.
    let other = app.fresh_client();
    let res = other
        .post(app.url("/api/login"))
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 200);
    {
        let _fault = ForcedFailure::on(&app, "INSERT", "sessions");
        let res = app
            .client
            .put(app.url("/api/me/password"))
            .json(
                &json!({"current_password": PASSWORD, "new_password": "a whole new passphrase 42"}),
            )
            .send()
            .await
            .expect("put");
        crate::helpers::assert_problem(res, 500, "internal_error").await;
    }
    assert_eq!(count_sessions(&app), 2, "no session was ended");
    assert_eq!(count_events(&app, "password_changed"), 0);
    assert_eq!(app.get("/api/me").await.status(), 200);
    let res = app
        .fresh_client()
        .post(app.url("/api/login"))
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 200, "the old password still works");
}

#[tokio::test]
async fn logout_and_revocations_whose_event_fails_end_no_session() {
    let app = spawn_app().await;
    let name = username("halfrevoke");
    app.signed_in(&name).await;
    let other = app.fresh_client();
    other
        .post(app.url("/api/login"))
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    let list: Vec<serde_json::Value> = app
        .get("/api/me/sessions")
        .await
        .json()
        .await
        .expect("sessions");
    let other_id = list
        .iter()
        .find(|s| s["current"] == false)
        .expect("the other session")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    {
        let _fault = ForcedFailure::on(&app, "INSERT", "events");
        let one = app
            .client
            .delete(app.url(&format!("/api/me/sessions/{other_id}")))
            .send()
            .await
            .expect("delete");
        crate::helpers::assert_problem(one, 500, "internal_error").await;
        let all = app
            .client
            .delete(app.url("/api/me/sessions"))
            .send()
            .await
            .expect("delete");
        crate::helpers::assert_problem(all, 500, "internal_error").await;
        let logout = app.logout().await;
        crate::helpers::assert_problem(logout, 500, "internal_error").await;
    }
    assert_eq!(count_sessions(&app), 2, "every session is still there");
    assert_eq!(app.get("/api/me").await.status(), 200);
}

#[tokio::test]
async fn an_account_deletion_whose_last_write_fails_keeps_the_account() {
    let app = spawn_with(Options::default().arg("--login-throttle-after", "5")).await;
    let name = username("halfdelete");
    app.signed_in(&name).await;
    {
        let _fault = ForcedFailure::on(&app, "DELETE", "login_throttles");
        let res = app
            .client
            .delete(app.url("/api/me"))
            .json(&json!({"password": PASSWORD}))
            .send()
            .await
            .expect("delete");
        crate::helpers::assert_problem(res, 500, "internal_error").await;
    }
    assert_eq!(app.get("/api/me").await.status(), 200, "the account lives");
    assert_eq!(count_sessions(&app), 1);
}
