use serde_json::json;

use crate::helpers::{
    Options, PASSWORD, assert_problem, field_errors, spawn_app, spawn_with, username,
};

#[tokio::test]
async fn login_sets_a_session_cookie_with_the_contract_flags() {
    let app = spawn_app().await;
    let name = username("flags");
    app.register(&name, PASSWORD).await;
    let res = app.login(&name.to_uppercase(), PASSWORD).await;
    assert_eq!(res.status(), 200);
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert!(cookie.starts_with("latchkey_session="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    for absent in ["Domain", "Max-Age", "Expires", "Secure"] {
        assert!(!cookie.contains(absent), "{absent} in {cookie}");
    }
    let user: serde_json::Value = res.json().await.expect("json");
    assert_eq!(user["username"], name);
}

#[tokio::test]
async fn remember_gives_the_cookie_the_absolute_lifetime() {
    let app = spawn_with(Options::default().arg("--session-max-age", "3d")).await;
    let name = username("remember");
    app.register(&name, PASSWORD).await;
    let res = app
        .post_json(
            "/api/login",
            &json!({"username": name, "password": PASSWORD, "remember": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(cookie.contains("Max-Age=259200"), "{cookie}");
    assert_eq!(app.get("/api/me").await.status(), 200);
}

#[tokio::test]
async fn secure_cookies_use_the_host_prefix() {
    let app = spawn_with(Options::default().arg("--cookie-secure", "true")).await;
    let name = username("secure");
    app.register(&name, PASSWORD).await;
    let res = app.login(&name, PASSWORD).await;
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(cookie.starts_with("__Host-latchkey_session="), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"));
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}

#[tokio::test]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    let name = username("known");
    app.register(&name, PASSWORD).await;
    let wrong = app.login(&name, "not the password at all").await;
    assert_eq!(wrong.headers().get("set-cookie"), None);
    let wrong = assert_problem(wrong, 401, "invalid_credentials").await;
    let unknown = assert_problem(
        app.login("nobody_here", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    let invalid_name = assert_problem(
        app.login("no such user!", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, invalid_name);
}

#[tokio::test]
async fn missing_fields_and_wrong_types_are_422() {
    let app = spawn_app().await;
    let problem = assert_problem(
        app.post_json("/api/login", &json!({})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_errors(&problem),
        [
            ("username".to_owned(), "required".to_owned()),
            ("password".to_owned(), "required".to_owned())
        ]
    );
    let problem = assert_problem(
        app.post_json(
            "/api/login",
            &json!({"username": "x", "password": "y", "remember": "yes"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_errors(&problem),
        [("remember".to_owned(), "invalid_type".to_owned())]
    );
}

#[tokio::test]
async fn weaker_and_legacy_hashes_are_upgraded_on_login() {
    // The server hashes new passwords with 2000 iterations.
    let app = spawn_with(Options::default().arg("--pbkdf2-iterations", "2000")).await;
    let mut conn = app.db();
    // A user imported from the original Flask app (Werkzeug's format, computed independently
    // with Python's hashlib) and one with a PHC hash weaker than configured.
    let werkzeug = "pbkdf2:sha256:1000$abcdefghijklmnop$b2443c0df37736fc59aed4783ee8904c248ba8cd98ccdfdaa46a3b89739cd13b";
    crate::helpers::insert_user(&mut conn, "flask_user", werkzeug);
    let weak = latchkey::domain::hash_password(PASSWORD, 1000);
    crate::helpers::insert_user(&mut conn, "weak_user", &weak);

    assert_problem(
        app.login("flask_user", "wrong").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        stored_hash(&app, "flask_user"),
        werkzeug,
        "no rehash on failure"
    );

    assert_eq!(app.login("flask_user", "s3cret-pass").await.status(), 200);
    let upgraded = stored_hash(&app, "flask_user");
    assert!(
        upgraded.starts_with("$pbkdf2-sha256$i=2000,l=32$"),
        "{upgraded}"
    );
    assert_eq!(
        app.login("flask_user", "s3cret-pass").await.status(),
        200,
        "new hash verifies"
    );

    assert_eq!(app.login("weak_user", PASSWORD).await.status(), 200);
    assert!(stored_hash(&app, "weak_user").starts_with("$pbkdf2-sha256$i=2000,"));
}

#[tokio::test]
async fn stronger_hashes_are_never_downgraded() {
    let app = spawn_app().await; // 1000 iterations configured
    let mut conn = app.db();
    let strong = latchkey::domain::hash_password(PASSWORD, 5000);
    crate::helpers::insert_user(&mut conn, "strong", &strong);
    assert_eq!(app.login("strong", PASSWORD).await.status(), 200);
    assert_eq!(stored_hash(&app, "strong"), strong);
}

#[tokio::test]
async fn unusable_stored_hashes_fail_like_a_wrong_password() {
    let app = spawn_app().await;
    let mut conn = app.db();
    crate::helpers::insert_user(&mut conn, "scrypt_user", "scrypt:32768:8:1$salt$00ff");
    assert_problem(
        app.login("scrypt_user", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
}

fn stored_hash(app: &crate::helpers::TestApp, key: &str) -> String {
    latchkey::db::users::find_credentials(&mut app.db(), key)
        .expect("query")
        .expect("user")
        .password_hash
}
