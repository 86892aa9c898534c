//! Passkeys through the API, answered by a software authenticator (`soft_authenticator`) that
//! signs exactly what a browser's authenticator signs: registration, sign-in without a name, the
//! second step, and every check the server makes (origin, challenge, single use, expiry, user
//! verification, unknown credentials, the signature counter), on SQLite and PostgreSQL.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    Options, PASSWORD, TestApp, assert_problem, events_when, field_errors, spawn_app, spawn_with,
};
use crate::second_factor::{code_at, enrolled};
use crate::soft_authenticator::SoftAuthenticator;

/// The origin a browser at this test server has: passkeys are bound to `localhost`, never to
/// `127.0.0.1` (WebAuthn refuses IP addresses as relying-party ids).
fn origin(app: &TestApp) -> String {
    app.address.replace("127.0.0.1", "localhost")
}

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.expect("json")
}

/// Starts a registration for the logged-in user: the ceremony and the options.
async fn registration_options(app: &TestApp) -> (String, Value) {
    let res = app
        .post_json(
            "/api/me/passkeys/register/start",
            &json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    let ceremony = body["ceremony"].as_str().expect("ceremony").to_owned();
    (ceremony, json!({"publicKey": body["publicKey"]}))
}

/// Registers a passkey of `device` for the logged-in user, answered at `origin`.
async fn register_at(
    app: &TestApp,
    device: &mut SoftAuthenticator,
    origin: &str,
) -> reqwest::Response {
    let (ceremony, options) = registration_options(app).await;
    let credential = device.create(&options, origin);
    app.post_json(
        "/api/me/passkeys/register/finish",
        &json!({"ceremony": ceremony, "credential": credential}),
    )
    .await
}

/// Signs `name` up and in and registers a passkey on a new device.
async fn with_passkey(app: &TestApp, name: &str) -> SoftAuthenticator {
    app.signed_in(name).await;
    let mut device = SoftAuthenticator::new();
    let res = register_at(app, &mut device, &origin(app)).await;
    assert_eq!(res.status(), 201);
    device
}

/// Starts a sign-in without a name: the ceremony and the options.
async fn login_options(app: &TestApp) -> (String, Value) {
    let res = app.post_json("/api/login/passkey/start", &json!({})).await;
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    assert_eq!(body["mediation"], "conditional");
    let ceremony = body["ceremony"].as_str().expect("ceremony").to_owned();
    (ceremony, json!({"publicKey": body["publicKey"]}))
}

async fn finish_login(app: &TestApp, ceremony: &str, credential: &Value) -> reqwest::Response {
    app.post_json(
        "/api/login/passkey/finish",
        &json!({"ceremony": ceremony, "credential": credential}),
    )
    .await
}

/// A whole sign-in without a name, answered at `origin`.
async fn sign_in_at(
    app: &TestApp,
    device: &mut SoftAuthenticator,
    origin: &str,
) -> reqwest::Response {
    let (ceremony, options) = login_options(app).await;
    let credential = device.get(&options, origin);
    finish_login(app, &ceremony, &credential).await
}

async fn passkeys(app: &TestApp) -> Vec<Value> {
    let res = app.get("/api/me/passkeys").await;
    assert_eq!(res.status(), 200);
    json_of(res).await["passkeys"]
        .as_array()
        .expect("list")
        .clone()
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().expect("kind").to_owned())
        .collect()
}

#[tokio::test]
async fn a_user_registers_a_passkey_and_signs_in_with_it_alone() {
    let app = spawn_app().await;
    let mut device = with_passkey(&app, "pia").await;

    let listed = passkeys(&app).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "Passkey 1");
    assert_eq!(listed[0]["backed_up"], false);
    assert!(listed[0].get("last_used_at").is_none());
    // The authenticator was asked for a discoverable credential with user verification, and
    // holds it under the user's handle (not the user id).
    assert_eq!(device.credentials.len(), 1);
    assert_eq!(device.credentials[0].rp_id, "localhost");
    assert_eq!(device.credentials[0].user_handle.len(), 16);

    app.logout().await;
    assert_eq!(app.get("/api/me").await.status(), 401);
    let res = sign_in_at(&app, &mut device, &origin(&app)).await;
    assert_eq!(res.status(), 200);
    let user = json_of(res).await;
    assert_eq!(user["username"], "pia");
    let me = app.get("/api/me").await;
    assert_eq!(me.status(), 200);

    let listed = passkeys(&app).await;
    assert!(listed[0]["last_used_at"].is_string(), "{listed:?}");
    let events = events_when(&app, |e| e.len() >= 5).await;
    let kinds = kinds(&events);
    for kind in ["passkey_added", "passkey_used", "login"] {
        assert!(kinds.contains(&kind.to_owned()), "{kind} in {kinds:?}");
    }
    let used = events
        .iter()
        .find(|e| e["kind"] == "passkey_used")
        .expect("used");
    assert_eq!(used["detail"], "Passkey 1");
}

#[tokio::test]
async fn an_answer_made_for_another_origin_is_refused() {
    let app = spawn_app().await;
    app.signed_in("olga").await;
    let mut phished = SoftAuthenticator::new();
    let res = register_at(&app, &mut phished, "http://latchkey.evil.example").await;
    assert_problem(res, 403, "passkey_rejected").await;
    assert!(passkeys(&app).await.is_empty());

    let mut device = SoftAuthenticator::new();
    assert_eq!(
        register_at(&app, &mut device, &origin(&app)).await.status(),
        201
    );
    app.logout().await;
    // A look-alike site relays the challenge and forwards the answer: its origin is signed in.
    let res = sign_in_at(&app, &mut device, "http://localhost.evil.example").await;
    assert_problem(res, 401, "invalid_passkey").await;
    // Another port of the same host is another origin too.
    let res = sign_in_at(&app, &mut device, "http://localhost:1").await;
    assert_problem(res, 401, "invalid_passkey").await;
    assert_eq!(app.get("/api/me").await.status(), 401);
    let res = sign_in_at(&app, &mut device, &origin(&app)).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_challenge_is_answered_once_and_only_for_its_own_ceremony() {
    let app = spawn_app().await;
    let mut device = with_passkey(&app, "rita").await;
    app.logout().await;

    // An answer to ceremony A sent as the answer of ceremony B: B's challenge was not signed.
    let (a, options_a) = login_options(&app).await;
    let (b, _) = login_options(&app).await;
    let answer_a = device.get(&options_a, &origin(&app));
    assert_problem(
        finish_login(&app, &b, &answer_a).await,
        401,
        "invalid_passkey",
    )
    .await;
    // B is spent by that attempt, A still works, once.
    assert_problem(
        finish_login(&app, &b, &answer_a).await,
        409,
        "ceremony_expired",
    )
    .await;
    assert_eq!(finish_login(&app, &a, &answer_a).await.status(), 200);
    app.logout().await;
    let replay = finish_login(&app, &a, &answer_a).await;
    assert_problem(replay, 409, "ceremony_expired").await;
    assert_eq!(app.get("/api/me").await.status(), 401);

    // Registrations too: a finished ceremony cannot register a second credential.
    app.login("rita", PASSWORD).await;
    let (ceremony, options) = registration_options(&app).await;
    let mut other = SoftAuthenticator::new();
    let first = other.create(&options, &origin(&app));
    let finish = |credential: Value| {
        let ceremony = ceremony.clone();
        let app = &app;
        async move {
            app.post_json(
                "/api/me/passkeys/register/finish",
                &json!({"ceremony": ceremony, "credential": credential}),
            )
            .await
        }
    };
    assert_eq!(finish(first).await.status(), 201);
    let second = SoftAuthenticator::new().create(&options, &origin(&app));
    assert_problem(finish(second).await, 409, "ceremony_expired").await;
    assert_eq!(passkeys(&app).await.len(), 2);
}

#[tokio::test]
async fn a_ceremony_expires_after_five_minutes_and_belongs_to_its_user() {
    let app = spawn_app().await;
    let mut device = with_passkey(&app, "sven").await;
    app.logout().await;
    let (ceremony, options) = login_options(&app).await;
    let answer = device.get(&options, &origin(&app));
    app.clock().advance(Duration::from_secs(5 * 60 + 1));
    assert_problem(
        finish_login(&app, &ceremony, &answer).await,
        409,
        "ceremony_expired",
    )
    .await;

    // A registration started by one user cannot be finished by another.
    app.login("sven", PASSWORD).await;
    let (ceremony, options) = registration_options(&app).await;
    app.logout().await;
    app.signed_in("tove").await;
    let credential = SoftAuthenticator::new().create(&options, &origin(&app));
    let res = app
        .post_json(
            "/api/me/passkeys/register/finish",
            &json!({"ceremony": ceremony, "credential": credential}),
        )
        .await;
    assert_problem(res, 409, "ceremony_expired").await;
    assert!(passkeys(&app).await.is_empty());
}

#[tokio::test]
async fn an_unknown_passkey_signs_nobody_in() {
    let app = spawn_app().await;
    app.signed_in("uma").await;
    // A credential made for this site but never registered (its registration not finished).
    let (_, options) = registration_options(&app).await;
    let mut stray = SoftAuthenticator::new();
    stray.create(&options, &origin(&app));
    app.logout().await;
    let res = sign_in_at(&app, &mut stray, &origin(&app)).await;
    assert_problem(res, 401, "invalid_passkey").await;
    assert_eq!(app.get("/api/me").await.status(), 401);
}

#[tokio::test]
async fn user_verification_is_required() {
    let app = spawn_app().await;
    app.signed_in("vera").await;
    let mut device = SoftAuthenticator::new();
    device.user_verified = false;
    let res = register_at(&app, &mut device, &origin(&app)).await;
    assert_problem(res, 403, "passkey_rejected").await;

    device.user_verified = true;
    assert_eq!(
        register_at(&app, &mut device, &origin(&app)).await.status(),
        201
    );
    app.logout().await;
    device.user_verified = false;
    let res = sign_in_at(&app, &mut device, &origin(&app)).await;
    assert_problem(res, 401, "invalid_passkey").await;
}

#[tokio::test]
async fn a_signature_counter_that_goes_back_is_refused_and_shown_to_the_user() {
    let app = spawn_app().await;
    let mut device = with_passkey(&app, "walt").await;
    app.logout().await;
    let mut copy = device.clone();
    assert_eq!(
        sign_in_at(&app, &mut device, &origin(&app)).await.status(),
        200
    );
    assert_eq!(
        sign_in_at(&app, &mut device, &origin(&app)).await.status(),
        200
    );
    app.logout().await;
    // A copy of the key made before those sign-ins answers with a counter behind them.
    let res = sign_in_at(&app, &mut copy, &origin(&app)).await;
    assert_problem(res, 401, "invalid_passkey").await;

    app.login("walt", PASSWORD).await;
    let events = events_when(&app, |e| {
        e.iter().any(|e| e["kind"] == "passkey_counter_regressed")
    })
    .await;
    let regressed = events
        .iter()
        .find(|e| e["kind"] == "passkey_counter_regressed")
        .expect("event");
    assert_eq!(regressed["detail"], "Passkey 1");
    // The real device goes on working.
    app.logout().await;
    assert_eq!(
        sign_in_at(&app, &mut device, &origin(&app)).await.status(),
        200
    );
}

#[tokio::test]
async fn failed_passkey_answers_count_in_the_account_throttle() {
    let app = spawn_with(Options::default().arg("--login-throttle-after", "3")).await;
    let mut device = with_passkey(&app, "xena").await;
    app.logout().await;
    for _ in 0..3 {
        let res = sign_in_at(&app, &mut device, "http://evil.example").await;
        assert_problem(res, 401, "invalid_passkey").await;
    }
    // Locked now: even the right answer waits, and a password too.
    let res = sign_in_at(&app, &mut device, &origin(&app)).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
    assert_eq!(app.login("xena", PASSWORD).await.status(), 429);
}

#[tokio::test]
async fn passkeys_are_renamed_and_removed_with_the_password() {
    let app = spawn_app().await;
    let mut device = with_passkey(&app, "yuki").await;
    let id = passkeys(&app).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/api/me/passkeys/{id}");

    let res = app
        .client
        .patch(app.url(&path))
        .json(&json!({"name": "  Work laptop "}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    assert_eq!(json_of(res).await["name"], "Work laptop");
    let res = app
        .client
        .patch(app.url(&path))
        .json(&json!({"name": "x".repeat(65)}))
        .send()
        .await
        .expect("request");
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(
        field_errors(&problem),
        vec![("name".to_owned(), "too_long".to_owned())]
    );
    let res = app
        .client
        .patch(app.url("/api/me/passkeys/nonexistent"))
        .json(&json!({"name": "x"}))
        .send()
        .await
        .expect("request");
    assert_problem(res, 404, "not_found").await;

    let remove = |password: &str| {
        let body = json!({"password": password});
        let req = app.client.delete(app.url(&path)).json(&body);
        async move { req.send().await.expect("request") }
    };
    assert_problem(remove("wrong password!").await, 403, "wrong_password").await;
    assert_eq!(passkeys(&app).await.len(), 1);
    assert_eq!(remove(PASSWORD).await.status(), 204);
    assert!(passkeys(&app).await.is_empty());
    assert_problem(remove(PASSWORD).await, 404, "not_found").await;

    let events = events_when(&app, |e| e.iter().any(|e| e["kind"] == "passkey_removed")).await;
    let kinds = kinds(&events);
    assert!(kinds.contains(&"passkey_renamed".to_owned()), "{kinds:?}");
    // The device still holds the credential; the server no longer accepts it.
    app.logout().await;
    let res = sign_in_at(&app, &mut device, &origin(&app)).await;
    assert_problem(res, 401, "invalid_passkey").await;
}

#[tokio::test]
async fn a_passkey_answers_the_second_step_and_signs_in_alone_past_it() {
    let app = spawn_app().await;
    let (secret, _) = enrolled(&app, "zara").await;
    let mut device = SoftAuthenticator::new();
    assert_eq!(
        register_at(&app, &mut device, &origin(&app)).await.status(),
        201
    );
    app.logout().await;

    let res = app.login("zara", PASSWORD).await;
    assert_eq!(res.status(), 202);
    let challenge = json_of(res).await;
    assert_eq!(
        challenge["methods"],
        json!(["totp", "recovery_code", "passkey"])
    );
    let res = app
        .post_json("/api/login/second-factor/passkey", &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let body = json_of(res).await;
    let allowed = body["publicKey"]["allowCredentials"]
        .as_array()
        .expect("allowCredentials");
    assert_eq!(allowed.len(), 1);
    let ceremony = body["ceremony"].as_str().expect("ceremony");
    let answer = device.get(&json!({"publicKey": body["publicKey"]}), &origin(&app));
    // An answer for another origin is a wrong second factor.
    let wrong = device.get(
        &json!({"publicKey": body["publicKey"]}),
        "http://evil.example",
    );
    let res = app
        .post_json(
            "/api/login/second-factor",
            &json!({"passkey": {"ceremony": ceremony, "credential": wrong}}),
        )
        .await;
    assert_problem(res, 401, "invalid_second_factor").await;
    let res = app
        .post_json(
            "/api/login/second-factor",
            &json!({"passkey": {"ceremony": ceremony, "credential": answer}}),
        )
        .await;
    // That ceremony was spent by the wrong answer: start again.
    assert_problem(res, 409, "ceremony_expired").await;
    let res = app
        .post_json("/api/login/second-factor/passkey", &json!({}))
        .await;
    let body = json_of(res).await;
    let answer = device.get(&json!({"publicKey": body["publicKey"]}), &origin(&app));
    let res = app
        .post_json(
            "/api/login/second-factor",
            &json!({"passkey": {"ceremony": body["ceremony"], "credential": answer}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get("/api/me").await.status(), 200);

    // Sign-in without a name is complete on its own, second factor or not.
    app.logout().await;
    let res = sign_in_at(&app, &mut device, &origin(&app)).await;
    assert_eq!(res.status(), 200);
    // Sending a code and a passkey at once is refused clearly.
    app.logout().await;
    assert_eq!(app.login("zara", PASSWORD).await.status(), 202);
    let code = code_at(&secret, app.clock().now());
    let res = app
        .post_json(
            "/api/login/second-factor",
            &json!({"code": code, "passkey": {"ceremony": "x", "credential": {}}}),
        )
        .await;
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(
        field_errors(&problem),
        vec![("passkey".to_owned(), "one_of".to_owned())]
    );
}

#[tokio::test]
async fn an_account_without_passkeys_is_not_offered_one() {
    let app = spawn_app().await;
    enrolled(&app, "abel").await;
    app.logout().await;
    let res = app.login("abel", PASSWORD).await;
    assert_eq!(
        json_of(res).await["methods"],
        json!(["totp", "recovery_code"])
    );
    let res = app
        .post_json("/api/login/second-factor/passkey", &json!({}))
        .await;
    assert_problem(res, 409, "no_passkeys").await;
    // Without a pending login there is nothing to start.
    let fresh = app.fresh_client();
    let res = fresh
        .post(app.url("/api/login/second-factor/passkey"))
        .send()
        .await
        .expect("request");
    assert_problem(res, 401, "pending_login_expired").await;
}

#[tokio::test]
async fn bad_bodies_get_clear_errors() {
    let app = spawn_app().await;
    app.signed_in("bert").await;
    let (ceremony, _) = registration_options(&app).await;
    let cases = [
        (json!({"credential": {}}), "ceremony", "required"),
        (json!({"ceremony": ceremony}), "credential", "required"),
        (
            json!({"ceremony": ceremony, "credential": "not an object"}),
            "credential",
            "malformed",
        ),
        (
            json!({"ceremony": ceremony, "credential": {"id": "x", "type": "public-key"}}),
            "credential",
            "malformed",
        ),
        (
            json!({"ceremony": ceremony, "credential": {}, "name": "tab\tname"}),
            "name",
            "invalid_characters",
        ),
    ];
    for (body, field, code) in cases {
        let res = app
            .post_json("/api/me/passkeys/register/finish", &body)
            .await;
        let problem = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(
            field_errors(&problem),
            vec![(field.to_owned(), code.to_owned())],
            "{body}"
        );
    }
    let res = app
        .post_json(
            "/api/login/passkey/finish",
            &json!({"ceremony": "x", "credential": {"response": 1}}),
        )
        .await;
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(
        field_errors(&problem),
        vec![("credential".to_owned(), "malformed".to_owned())]
    );
    let res = app
        .post_json(
            "/api/me/passkeys/register/start",
            &json!({"password": "wrong password!"}),
        )
        .await;
    assert_problem(res, 403, "wrong_password").await;
}

#[tokio::test]
async fn passkeys_are_off_where_webauthn_cannot_work_and_the_answer_says_why() {
    for url in ["http://10.1.2.3:8080", "http://auth.example.test"] {
        let app = spawn_with(Options::default().arg("--public-url", url)).await;
        let res = app.post_json("/api/login/passkey/start", &json!({})).await;
        let problem = assert_problem(res, 503, "passkeys_unavailable").await;
        let detail = problem["detail"].as_str().expect("detail");
        assert!(detail.contains("LATCHKEY_PUBLIC_URL"), "{detail}");
        app.signed_in("carl").await;
        let res = app
            .post_json(
                "/api/me/passkeys/register/start",
                &json!({"password": PASSWORD}),
            )
            .await;
        assert_problem(res, 503, "passkeys_unavailable").await;
        // Everything else works.
        assert_eq!(app.get("/api/me/passkeys").await.status(), 200);
    }
}

#[tokio::test]
async fn a_ceremony_started_on_one_instance_finishes_on_another() {
    // Two instances behind one public address, over one database (PostgreSQL when the suite
    // runs on it).
    let public = "https://auth.example.test";
    let options = Options::default()
        .arg("--public-url", public)
        .arg("--cookie-secure", "false");
    let a = spawn_with(options.clone()).await;
    let b = spawn_with(Options {
        database: Some(a.database.clone()),
        ..options
    })
    .await;
    a.signed_in("dora").await;
    let (ceremony, creation) = registration_options(&a).await;
    assert_eq!(creation["publicKey"]["rp"]["id"], "auth.example.test");
    let mut device = SoftAuthenticator::new();
    let credential = device.create(&creation, public);
    // The session cookie is valid on both; the registration finishes on B.
    let cookie = a.cookie_header().expect("cookie");
    let res = b
        .fresh_client()
        .post(b.url("/api/me/passkeys/register/finish"))
        .header("cookie", cookie)
        .json(&json!({"ceremony": ceremony, "credential": credential}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 201);

    let (ceremony, request) = login_options(&b).await;
    let answer = device.get(&request, public);
    let res = finish_login(&a, &ceremony, &answer).await;
    assert_eq!(res.status(), 200);
    // And once only, on any instance.
    assert_problem(
        finish_login(&b, &ceremony, &answer).await,
        409,
        "ceremony_expired",
    )
    .await;
}

#[tokio::test]
async fn expired_ceremonies_are_cleaned_up() {
    let app = spawn_app().await;
    for _ in 0..3 {
        login_options(&app).await;
    }
    let count = || {
        use diesel::{QueryDsl as _, RunQueryDsl as _};
        latchkey::db::schema::webauthn_ceremonies::table
            .count()
            .get_result::<i64>(&mut app.db())
            .expect("count")
    };
    assert_eq!(count(), 3);
    app.accounts.clean_up().await.expect("cleanup");
    assert_eq!(count(), 3, "live ceremonies stay");
    app.clock().advance(Duration::from_secs(5 * 60));
    app.accounts.clean_up().await.expect("cleanup");
    assert_eq!(count(), 0);
}

#[tokio::test]
async fn an_administrators_reset_removes_passkeys_too() {
    let app = spawn_app().await;
    let mut device = with_passkey(&app, "emil").await;
    let name = latchkey::domain::Username::parse("emil").expect("name");
    let (_, ended) = app
        .accounts
        .admin_reset_second_factor(&name)
        .await
        .expect("reset");
    // A lost device may hold the passkey: it goes, with every session.
    assert_eq!(ended, Some(1));
    assert_eq!(app.get("/api/me").await.status(), 401);
    let res = sign_in_at(&app, &mut device, &origin(&app)).await;
    assert_problem(res, 401, "invalid_passkey").await;
    app.login("emil", PASSWORD).await;
    assert!(passkeys(&app).await.is_empty());
    let events = events_when(&app, |e| {
        e.iter().any(|e| e["kind"] == "second_factor_reset")
    })
    .await;
    let reset = events
        .iter()
        .find(|e| e["kind"] == "second_factor_reset")
        .expect("event");
    assert_eq!(reset["detail"], "1 passkey removed");
    // Nothing left: a second reset changes nothing.
    let (_, ended) = app
        .accounts
        .admin_reset_second_factor(&name)
        .await
        .expect("reset");
    assert_eq!(ended, None);
}
