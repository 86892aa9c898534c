//! Two-step verification: an authenticator app (RFC 6238 TOTP) and recovery codes, set up and
//! used through the API. Codes are computed from the secret the set-up returned, as an
//! authenticator app does, at the server's clock (which tests move instead of sleeping).

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    Options, PASSWORD, TestApp, assert_problem, events_when, field_errors, spawn_app, spawn_with,
};

/// The code an authenticator app shows for `secret` (base32) at `unix` seconds.
pub fn code_at(secret: &str, unix: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).expect("base32 secret");
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(secret)
        .build()
        .expect("totp")
        .generate(u64::try_from(unix).expect("after 1970"))
        .to_string()
}

/// The code of the app right now (by the server's clock).
fn current_code(app: &TestApp, secret: &str) -> String {
    code_at(secret, app.clock().now())
}

/// Moves the server's clock to the next 30-second step: a code the app shows then is new.
fn next_step(app: &TestApp) {
    app.clock().advance(Duration::from_secs(30));
}

/// Signs `name` up and in, sets up the authenticator app; returns the secret and the recovery
/// codes.
pub async fn enrolled(app: &TestApp, name: &str) -> (String, Vec<String>) {
    app.signed_in(name).await;
    let start = app
        .post_json("/api/me/totp", &json!({"password": PASSWORD}))
        .await;
    assert_eq!(start.status(), 200);
    let start: Value = start.json().await.expect("json");
    let secret = start["secret"].as_str().expect("secret").to_owned();
    let confirm = app
        .post_json(
            "/api/me/totp/confirm",
            &json!({"code": current_code(app, &secret)}),
        )
        .await;
    assert_eq!(confirm.status(), 200);
    let confirm: Value = confirm.json().await.expect("json");
    let codes = confirm["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("string").to_owned())
        .collect();
    (secret, codes)
}

/// Logs out and sends the password again: the answer must ask for the second factor.
async fn password_step(app: &TestApp, name: &str) {
    app.logout().await;
    let res = app.login(name, PASSWORD).await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["second_factor_required"], true);
}

async fn second_step(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/api/login/second-factor", &body).await
}

async fn status(app: &TestApp) -> Value {
    let res = app.get("/api/me/second-factors").await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("json")
}

#[tokio::test]
async fn a_user_sets_up_an_authenticator_and_logs_in_with_password_and_code() {
    let app = spawn_app().await;
    app.signed_in("alice").await;
    assert_eq!(
        status(&app).await,
        json!({"totp": {"enabled": false}, "recovery_codes_left": 0, "passkeys": 0})
    );

    let start = app
        .post_json("/api/me/totp", &json!({"password": PASSWORD}))
        .await;
    assert_eq!(start.status(), 200);
    assert_eq!(start.headers()["cache-control"], "no-store");
    let start: Value = start.json().await.expect("json");
    let secret = start["secret"].as_str().expect("secret");
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    let uri = start["otpauth_uri"].as_str().expect("uri");
    assert!(uri.starts_with("otpauth://totp/Latchkey:alice?"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(uri.contains("issuer=Latchkey"), "{uri}");
    let svg = start["qr_code_svg"].as_str().expect("svg");
    assert!(svg.contains("<svg") && svg.ends_with("</svg>"), "{svg}");
    assert_eq!(start["expires_in"], 900);
    // Not on until confirmed: the password alone still logs in.
    assert_eq!(status(&app).await["totp"]["enabled"], false);

    let wrong_code = if current_code(&app, secret) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let wrong = app
        .post_json("/api/me/totp/confirm", &json!({"code": wrong_code}))
        .await;
    assert_problem(wrong, 403, "wrong_code").await;

    let confirm = app
        .post_json(
            "/api/me/totp/confirm",
            &json!({"code": current_code(&app, secret)}),
        )
        .await;
    assert_eq!(confirm.status(), 200);
    let confirm: Value = confirm.json().await.expect("json");
    let codes = confirm["recovery_codes"].as_array().expect("codes");
    assert_eq!(codes.len(), 10);
    let mut distinct: Vec<&str> = codes.iter().map(|c| c.as_str().expect("str")).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "ten different codes");
    for code in &distinct {
        assert_eq!(code.len(), 29, "{code}");
        assert!(
            code.split('-')
                .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_alphanumeric())),
            "{code}"
        );
    }
    let now = status(&app).await;
    assert_eq!(now["totp"]["enabled"], true);
    assert!(now["totp"]["enabled_at"].is_string());
    assert_eq!(now["recovery_codes_left"], 10);

    // The password alone no longer logs in: a distinct answer, and no session.
    password_step(&app, "alice").await;
    assert_eq!(app.get("/api/me").await.status(), 401, "not logged in yet");
    next_step(&app);
    let res = second_step(&app, json!({"code": current_code(&app, secret)})).await;
    assert_eq!(res.status(), 200);
    let user: Value = res.json().await.expect("json");
    assert_eq!(user["username"], "alice");
    let me = app.get("/api/me").await;
    assert_eq!(me.status(), 200, "the second step logged in");

    let events = events_when(&app, |e| e.len() >= 4).await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(
        &kinds[..3],
        ["login", "logout", "second_factor_enabled"],
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_code_is_accepted_once_and_only_within_one_step_of_drift() {
    let app = spawn_app().await;
    let (secret, _) = enrolled(&app, "bob").await;

    // The code that confirmed the set-up cannot log in (same step).
    password_step(&app, "bob").await;
    let replay = second_step(&app, json!({"code": current_code(&app, &secret)})).await;
    assert_problem(replay, 401, "invalid_second_factor").await;

    next_step(&app);
    let code = current_code(&app, &secret);
    assert_eq!(second_step(&app, json!({"code": code})).await.status(), 200);

    // The same code a second time, in a new login within its step: refused.
    password_step(&app, "bob").await;
    let replay = second_step(&app, json!({"code": code})).await;
    assert_problem(replay, 401, "invalid_second_factor").await;
    // An older step's code is refused too, even inside the drift window.
    let older = code_at(&secret, app.clock().now() - 30);
    let res = second_step(&app, json!({"code": older})).await;
    assert_problem(res, 401, "invalid_second_factor").await;

    // Drift: the next step's code works now (a phone a little ahead), two steps ahead does not.
    let far = code_at(&secret, app.clock().now() + 60);
    let res = second_step(&app, json!({"code": far})).await;
    assert_problem(res, 401, "invalid_second_factor").await;
    let ahead = code_at(&secret, app.clock().now() + 30);
    assert_eq!(
        second_step(
            &app,
            json!({"code": format!("{} {}", &ahead[..3], &ahead[3..])})
        )
        .await
        .status(),
        200,
        "one step ahead, typed with a space"
    );
    let events = events_when(&app, |e| {
        e.iter().any(|e| e["kind"] == "second_factor_failed")
    })
    .await;
    assert!(
        events
            .iter()
            .filter(|e| e["kind"] == "second_factor_failed")
            .count()
            >= 3
    );
}

#[tokio::test]
async fn a_recovery_code_logs_in_once() {
    let app = spawn_app().await;
    let (_, codes) = enrolled(&app, "carol").await;
    password_step(&app, "carol").await;
    // Case, spaces and hyphens do not matter.
    let typed = codes[3].to_uppercase().replace('-', " ");
    let res = second_step(&app, json!({"recovery_code": typed})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get("/api/me").await.status(), 200);
    assert_eq!(status(&app).await["recovery_codes_left"], 9);
    let events = events_when(&app, |e| {
        e.iter().any(|e| e["kind"] == "recovery_code_used")
    })
    .await;
    let used = events
        .iter()
        .find(|e| e["kind"] == "recovery_code_used")
        .expect("event");
    assert_eq!(used["detail"], "9 recovery codes left");

    password_step(&app, "carol").await;
    let again = second_step(&app, json!({"recovery_code": codes[3]})).await;
    assert_problem(again, 401, "invalid_second_factor").await;
    let junk = second_step(&app, json!({"recovery_code": "not-a-code"})).await;
    assert_problem(junk, 401, "invalid_second_factor").await;
    let other = second_step(&app, json!({"recovery_code": codes[4]})).await;
    assert_eq!(other.status(), 200, "another code still works");
    assert_eq!(status(&app).await["recovery_codes_left"], 8);
}

#[tokio::test]
async fn wrong_codes_count_in_the_account_throttle() {
    let app = spawn_with(Options::default().arg("--login-throttle-after", "3")).await;
    let (secret, codes) = enrolled(&app, "dave").await;
    next_step(&app);
    let right = current_code(&app, &secret);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    // The right password counts as attempt 1 until the second step succeeds.
    password_step(&app, "dave").await;
    let res = second_step(&app, json!({"code": wrong})).await;
    assert_problem(res, 401, "invalid_second_factor").await;
    let res = second_step(
        &app,
        json!({"recovery_code": "0000-0000-0000-0000-0000-0000"}),
    )
    .await;
    assert_problem(res, 401, "invalid_second_factor").await;
    // Three failures: locked. Even the right code is refused without being checked.
    let res = second_step(&app, json!({"code": right})).await;
    assert_eq!(res.headers()["retry-after"], "2");
    assert_problem(res, 429, "too_many_attempts").await;
    let res = app.login("dave", PASSWORD).await;
    assert_problem(res, 429, "too_many_attempts").await;

    // After the lock, the right code still works (it was not spent), and success forgives.
    app.clock().advance(Duration::from_secs(3));
    let res = second_step(&app, json!({"recovery_code": codes[0]})).await;
    assert_eq!(res.status(), 200);
    password_step(&app, "dave").await;
    let metrics = app.get("/metrics").await.text().await.expect("text");
    for line in [
        "latchkey_logins_total{outcome=\"second_factor_required\"} 2",
        "latchkey_logins_total{outcome=\"second_factor_failure\"} 2",
        "latchkey_logins_total{outcome=\"throttled\"} 2",
        "latchkey_logins_total{outcome=\"success\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn the_pending_login_lasts_five_minutes_and_finishes_once() {
    let app = spawn_app().await;
    let (secret, _) = enrolled(&app, "erin").await;

    // No pending login at all.
    let fresh = app
        .fresh_client()
        .post(app.url("/api/login/second-factor"))
        .json(&json!({"code": "123456"}))
        .send()
        .await
        .expect("request");
    assert_problem(fresh, 401, "pending_login_expired").await;

    app.logout().await;
    let res = app.login("erin", PASSWORD).await;
    assert_eq!(res.status(), 202);
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(cookie.starts_with("latchkey_pending_login="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=300"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let pending = cookie.split(';').next().expect("pair").to_owned();
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        body,
        json!({"second_factor_required": true, "methods": ["totp", "recovery_code"], "expires_in": 300})
    );

    app.clock().advance(Duration::from_secs(301));
    let late = second_step(&app, json!({"code": current_code(&app, &secret)})).await;
    let removal = late.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        removal.contains("Max-Age=0"),
        "the stale cookie goes: {removal}"
    );
    assert_problem(late, 401, "pending_login_expired").await;

    let res = app.login("erin", PASSWORD).await;
    assert_eq!(res.status(), 202);
    let pending2 = res.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    assert_ne!(pending, pending2, "a new token each time");
    let ok = second_step(&app, json!({"code": current_code(&app, &secret)})).await;
    assert_eq!(ok.status(), 200);
    // The finished pending login cannot finish another login, even with a fresh code.
    next_step(&app);
    let replay = app
        .fresh_client()
        .post(app.url("/api/login/second-factor"))
        .header("cookie", &pending2)
        .json(&json!({"code": current_code(&app, &secret)}))
        .send()
        .await
        .expect("request");
    assert_problem(replay, 401, "pending_login_expired").await;
    // A pending-login cookie is not a session.
    let me = app.get_with_cookie("/api/me", &pending2).await;
    assert_eq!(me.status(), 401);
}

#[tokio::test]
async fn the_second_step_refuses_bad_bodies_clearly() {
    // Without the account throttle, which would lock after the fifth odd code.
    let app = spawn_with(Options::default().arg("--login-throttle-after", "0")).await;
    enrolled(&app, "frank").await;
    password_step(&app, "frank").await;
    for (body, field, code) in [
        (json!({}), "code", "one_of"),
        (json!({"code": ""}), "code", "one_of"),
        (
            json!({"code": "123456", "recovery_code": "abcd"}),
            "recovery_code",
            "one_of",
        ),
        (json!({"code": 123456}), "code", "invalid_type"),
        (
            json!({"code": "123456", "otp": "1"}),
            "otp",
            "unknown_field",
        ),
    ] {
        let res = second_step(&app, body.clone()).await;
        let problem = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(
            field_errors(&problem),
            vec![(field.to_owned(), code.to_owned())],
            "{body}"
        );
    }
    for odd in [
        "１２３４５６",
        "12345",
        "1234567",
        "12345\u{0}",
        "💥💥💥💥💥💥",
    ] {
        let res = second_step(&app, json!({"code": odd})).await;
        assert_problem(res, 401, "invalid_second_factor").await;
    }
    let res = app
        .post_raw(
            "/api/login/second-factor",
            "{\"code\":",
            Some("application/json"),
        )
        .await;
    assert_problem(res, 400, "malformed_body").await;
}

#[tokio::test]
async fn remember_me_and_the_session_key_are_as_for_a_password_login() {
    let app = spawn_app().await;
    let (secret, _) = enrolled(&app, "grace").await;
    let before = app.cookie_header().expect("cookie");
    app.logout().await;
    let res = app
        .post_json(
            "/api/login",
            &json!({"username": "grace", "password": PASSWORD, "remember": true}),
        )
        .await;
    assert_eq!(res.status(), 202);
    next_step(&app);
    let res = second_step(&app, json!({"code": current_code(&app, &secret)})).await;
    assert_eq!(res.status(), 200);
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("latchkey_session="))
        .expect("a session cookie");
    assert!(session.contains("Max-Age="), "remembered: {session}");
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("latchkey_pending_login=") && c.contains("Max-Age=0")),
        "the pending cookie is removed: {cookies:?}"
    );
    assert_ne!(app.cookie_header().expect("cookie"), before, "a new key");
}

#[tokio::test]
async fn turning_off_and_renewing_codes_need_the_password() {
    let app = spawn_app().await;
    let (_, old_codes) = enrolled(&app, "heidi").await;

    let again = app
        .post_json("/api/me/totp", &json!({"password": PASSWORD}))
        .await;
    assert_problem(again, 409, "second_factor_enabled").await;
    for (path, method) in [
        ("/api/me/recovery-codes", reqwest::Method::POST),
        ("/api/me/totp", reqwest::Method::DELETE),
    ] {
        let wrong = app
            .client
            .request(method.clone(), app.url(path))
            .json(&json!({"password": "not the password"}))
            .send()
            .await
            .expect("request");
        assert_problem(wrong, 403, "wrong_password").await;
        let missing = app
            .client
            .request(method, app.url(path))
            .json(&json!({"password": ""}))
            .send()
            .await
            .expect("request");
        assert_problem(missing, 422, "validation_failed").await;
    }

    let renewed = app
        .post_json("/api/me/recovery-codes", &json!({"password": PASSWORD}))
        .await;
    assert_eq!(renewed.status(), 200);
    let renewed: Value = renewed.json().await.expect("json");
    let new_codes = renewed["recovery_codes"].as_array().expect("codes").clone();
    assert_eq!(new_codes.len(), 10);
    password_step(&app, "heidi").await;
    let old = second_step(&app, json!({"recovery_code": old_codes[0]})).await;
    assert_problem(old, 401, "invalid_second_factor").await;
    let new = second_step(&app, json!({"recovery_code": new_codes[0]})).await;
    assert_eq!(new.status(), 200);

    let off = app
        .client
        .delete(app.url("/api/me/totp"))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_eq!(off.status(), 204);
    assert_eq!(
        status(&app).await,
        json!({"totp": {"enabled": false}, "recovery_codes_left": 0, "passkeys": 0})
    );
    app.logout().await;
    assert_eq!(
        app.login("heidi", PASSWORD).await.status(),
        200,
        "the password alone logs in again"
    );
    let off = app
        .client
        .delete(app.url("/api/me/totp"))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_problem(off, 409, "second_factor_not_enabled").await;
    let renew = app
        .post_json("/api/me/recovery-codes", &json!({"password": PASSWORD}))
        .await;
    assert_problem(renew, 409, "second_factor_not_enabled").await;
    let kinds: Vec<String> = events_when(&app, |e| e.len() >= 3)
        .await
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect();
    for kind in ["second_factor_disabled", "recovery_codes_regenerated"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

#[tokio::test]
async fn a_set_up_is_confirmed_once_within_fifteen_minutes() {
    let app = spawn_app().await;
    app.signed_in("ivan").await;
    let none = app
        .post_json("/api/me/totp/confirm", &json!({"code": "123456"}))
        .await;
    assert_problem(none, 409, "no_enrolment").await;
    let missing = app.post_json("/api/me/totp/confirm", &json!({})).await;
    let problem = assert_problem(missing, 422, "validation_failed").await;
    assert_eq!(
        field_errors(&problem),
        vec![("code".to_owned(), "required".to_owned())]
    );

    let first: Value = app
        .post_json("/api/me/totp", &json!({"password": PASSWORD}))
        .await
        .json()
        .await
        .expect("json");
    // Starting again replaces the unconfirmed secret: the first one's codes stop working.
    let second: Value = app
        .post_json("/api/me/totp", &json!({"password": PASSWORD}))
        .await
        .json()
        .await
        .expect("json");
    let (s1, s2) = (
        first["secret"].as_str().expect("s"),
        second["secret"].as_str().expect("s"),
    );
    assert_ne!(s1, s2);
    if current_code(&app, s1) != current_code(&app, s2) {
        let stale = app
            .post_json(
                "/api/me/totp/confirm",
                &json!({"code": current_code(&app, s1)}),
            )
            .await;
        assert_problem(stale, 403, "wrong_code").await;
    }
    app.clock().advance(Duration::from_secs(15 * 60 + 1));
    let late = app
        .post_json(
            "/api/me/totp/confirm",
            &json!({"code": current_code(&app, s2)}),
        )
        .await;
    assert_problem(late, 409, "no_enrolment").await;
    assert_eq!(status(&app).await["totp"]["enabled"], false);
}

#[tokio::test]
async fn secrets_are_sealed_and_recovery_codes_hashed_in_the_database() {
    use diesel::prelude::*;
    use latchkey::db::schema::{recovery_codes, totp_factors};

    let app = spawn_app().await;
    let (secret, codes) = enrolled(&app, "judy").await;
    let mut conn = app.db();
    let sealed: Vec<u8> = totp_factors::table
        .select(totp_factors::secret_sealed)
        .first(&mut *conn)
        .expect("row");
    let raw = totp_rs::Secret::try_from_base32(&secret).expect("base32");
    let raw = raw.as_bytes();
    assert!(
        !sealed.windows(raw.len()).any(|w| w == raw),
        "the secret is not stored in the clear"
    );
    assert!(!String::from_utf8_lossy(&sealed).contains(&secret));
    let hashes: Vec<String> = recovery_codes::table
        .select(recovery_codes::code_hash)
        .load(&mut *conn)
        .expect("rows");
    assert_eq!(hashes.len(), 10);
    for code in &codes {
        let plain = code.replace('-', "");
        assert!(
            hashes.iter().all(|h| !h.contains(&plain) && h.len() == 64),
            "only hashes are stored"
        );
    }
    // The secret is never shown again.
    let status = status(&app).await.to_string();
    assert!(!status.contains(&secret));
}

#[tokio::test]
async fn a_password_change_keeps_the_factor_and_deleting_the_account_removes_it() {
    use diesel::prelude::*;
    use latchkey::db::schema::{recovery_codes, totp_factors};

    let app = spawn_app().await;
    let (secret, _) = enrolled(&app, "ken").await;
    let new_password = "another long passphrase for ken";
    let res = app
        .client
        .put(app.url("/api/me/password"))
        .json(&json!({"current_password": PASSWORD, "new_password": new_password}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 204);
    assert_eq!(status(&app).await["totp"]["enabled"], true);
    app.logout().await;
    assert_eq!(app.login("ken", new_password).await.status(), 202);
    next_step(&app);
    let res = second_step(&app, json!({"code": current_code(&app, &secret)})).await;
    assert_eq!(res.status(), 200);

    let res = app
        .client
        .delete(app.url("/api/me"))
        .json(&json!({"password": new_password}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 204);
    let mut conn = app.db();
    let factors: i64 = totp_factors::table
        .count()
        .get_result(&mut *conn)
        .expect("count");
    let codes: i64 = recovery_codes::table
        .count()
        .get_result(&mut *conn)
        .expect("count");
    assert_eq!((factors, codes), (0, 0));
    // The name is free again, and a new account with it has no second factor.
    app.signed_in("ken").await;
}

#[tokio::test]
async fn the_issuer_is_configurable() {
    let app = spawn_with(Options::default().arg("--totp-issuer", "Acme SSO")).await;
    app.signed_in("lena").await;
    let start: Value = app
        .post_json("/api/me/totp", &json!({"password": PASSWORD}))
        .await
        .json()
        .await
        .expect("json");
    let uri = start["otpauth_uri"].as_str().expect("uri");
    assert!(
        uri.starts_with("otpauth://totp/Acme%20SSO:lena?") && uri.contains("issuer=Acme%20SSO"),
        "{uri}"
    );
}

#[tokio::test]
async fn an_administrator_resets_a_lost_second_factor() {
    use crate::admin_cli::{latchkey, run, stderr, stdout};

    let app = spawn_app().await;
    let db = app.database.url();
    enrolled(&app, "mallory").await;
    let user = |args: &[&str]| {
        let mut cmd = latchkey(&db);
        cmd.arg("user").args(args);
        run(cmd, None)
    };
    let listing = stdout(&user(&["list"]));
    let line = listing
        .lines()
        .find(|l| l.contains("mallory"))
        .expect("row");
    assert!(line.trim_end().ends_with("totp"), "{line}");
    assert!(
        listing
            .lines()
            .next()
            .expect("header")
            .ends_with("SECOND FACTOR"),
        "{listing}"
    );

    let out = user(&["reset-second-factor", "Mallory"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "two-step verification and passkeys of mallory removed; 1 session(s) ended"
    );
    assert_eq!(app.get("/api/me").await.status(), 401, "sessions ended");
    assert_eq!(
        app.login("mallory", PASSWORD).await.status(),
        200,
        "the password alone logs in"
    );
    assert_eq!(status(&app).await["totp"]["enabled"], false);
    let events = events_when(&app, |e| {
        e.iter().any(|e| e["kind"] == "second_factor_reset")
    })
    .await;
    let reset = events
        .iter()
        .find(|e| e["kind"] == "second_factor_reset")
        .expect("event");
    assert_eq!(reset["user_agent"], "latchkey admin command line");

    let again = user(&["reset-second-factor", "mallory"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        stdout(&again).trim(),
        "mallory has neither two-step verification nor a passkey; nothing changed"
    );
    let ghost = user(&["reset-second-factor", "ghost"]);
    assert_eq!(ghost.status.code(), Some(1));
    assert!(
        stderr(&ghost).contains("no user named"),
        "{}",
        stderr(&ghost)
    );
}

#[tokio::test]
async fn a_password_change_ends_logins_waiting_for_their_second_step() {
    let app = spawn_app().await;
    let (secret, _) = enrolled(&app, "nina").await;
    // Someone else got past the password and waits for a code.
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let res = other
        .post(app.url("/api/login"))
        .json(&json!({"username": "nina", "password": PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 202);
    let res = app
        .client
        .put(app.url("/api/me/password"))
        .json(&json!({"current_password": PASSWORD, "new_password": "a new and longer passphrase"}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 204);
    next_step(&app);
    let res = other
        .post(app.url("/api/login/second-factor"))
        .json(&json!({"code": current_code(&app, &secret)}))
        .send()
        .await
        .expect("request");
    assert_problem(res, 401, "pending_login_expired").await;
}
