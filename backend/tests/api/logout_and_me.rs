use crate::helpers::{assert_problem, spawn_app, username};

#[tokio::test]
async fn me_returns_the_logged_in_user_with_no_store() {
    let app = spawn_app().await;
    let name = username("me");
    let user = app.signed_in(&name).await;
    let res = app.get("/api/me").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let me: serde_json::Value = res.json().await.expect("json");
    assert_eq!(me, user);
}

#[tokio::test]
async fn me_without_a_session_is_401() {
    let app = spawn_app().await;
    assert_problem(app.get("/api/me").await, 401, "not_authenticated").await;
    // A forged or garbled cookie is no session either.
    let res = app
        .get_with_cookie("/api/me", "latchkey_session=forged-value")
        .await;
    assert_problem(res, 401, "not_authenticated").await;
}

#[tokio::test]
async fn logout_deletes_the_session_and_expires_the_cookie() {
    let app = spawn_app().await;
    app.signed_in(&username("bye")).await;
    let cookie = app.cookie_header().expect("cookie");

    let res = app.logout().await;
    assert_eq!(res.status(), 204);
    let set = res.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(set.starts_with("latchkey_session=;"), "{set}");
    assert!(set.contains("Path=/") && set.contains("Max-Age=0"), "{set}");
    assert_problem(app.get("/api/me").await, 401, "not_authenticated").await;

    // Replaying the old cookie after logout is refused: the row is gone.
    let replay = app.get_with_cookie("/api/me", cookie).await;
    assert_problem(replay, 401, "not_authenticated").await;
}

#[tokio::test]
async fn logout_without_a_session_is_401() {
    let app = spawn_app().await;
    assert_problem(app.logout().await, 401, "not_authenticated").await;
}
