use std::time::Duration;

use diesel::prelude::*;
use latchkey::db::schema::sessions;
use sha2::{Digest, Sha256};

use crate::helpers::{
    Options, PASSWORD, SECRET_KEY, assert_problem, spawn_app, spawn_with, username,
};

/// The session key inside a signed cookie value (`signature=key`, URL-encoded).
fn session_key(cookie_header: &str) -> String {
    let value = cookie_header
        .split("; ")
        .find_map(|c| c.strip_prefix("latchkey_session="))
        .expect("session cookie");
    let decoded = value.replace("%3D", "=");
    decoded.rsplit('=').next().expect("key").to_owned()
}

#[tokio::test]
async fn the_database_keeps_only_a_hash_of_the_cookie_key() {
    let app = spawn_app().await;
    app.signed_in(&username("hashkey")).await;
    let key = session_key(&app.cookie_header().expect("cookie"));
    assert!(key.len() >= 32, "at least 128 bits of key: {key}");
    let stored: Vec<String> = sessions::table
        .select(sessions::key_hash)
        .load(&mut app.db())
        .expect("query");
    assert_eq!(stored, [hex::encode(Sha256::digest(key.as_bytes()))]);
    // The only other text the row holds is the public id, unrelated to the key.
    let public_ids: Vec<String> = sessions::table
        .select(sessions::public_id)
        .load(&mut app.db())
        .expect("query");
    assert!(!key.contains(&public_ids[0]) && !public_ids[0].contains(&key[..16]));
}

#[tokio::test]
async fn login_rotates_the_session_key() {
    let app = spawn_app().await;
    let name = username("rotate");
    app.signed_in(&name).await;
    let first = app.cookie_header().expect("cookie");
    let res = app.login(&name, PASSWORD).await;
    assert_eq!(res.status(), 200);
    let second = app.cookie_header().expect("cookie");
    assert_ne!(session_key(&first), session_key(&second));
    // The old key is dead; the new one works.
    let old = app.get_with_cookie("/api/me", first).await;
    assert_problem(old, 401, "not_authenticated").await;
    assert_eq!(app.get("/api/me").await.status(), 200);
}

#[tokio::test]
async fn a_planted_cookie_does_not_survive_login() {
    // Session fixation: an attacker's own valid cookie, planted in a victim's browser, must not
    // become the victim's session.
    let app = spawn_app().await;
    app.signed_in(&username("attacker")).await;
    let planted = app.cookie_header().expect("cookie");
    let victim = username("victim");
    assert_eq!(app.register(&victim, PASSWORD).await.status(), 201);
    let res = app.login(&victim, PASSWORD).await;
    assert_eq!(res.status(), 200);
    let me: serde_json::Value = app.get("/api/me").await.json().await.expect("json");
    assert_eq!(me["username"], victim);
    assert_ne!(
        session_key(&planted),
        session_key(&app.cookie_header().expect("cookie"))
    );
}

#[tokio::test]
async fn restart_on_the_same_database_keeps_users_and_sessions() {
    let app = spawn_with(Options::default().arg("--secret-key", SECRET_KEY)).await;
    let name = username("restart");
    app.signed_in(&name).await;
    let cookie = app.cookie_header().expect("cookie");
    let app = app.restart().await;
    let res = app.get_with_cookie("/api/me", cookie).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.login(&name, PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn the_generated_secret_key_is_kept_in_a_private_file_and_reused() {
    use std::os::unix::fs::PermissionsExt as _;
    let app = spawn_app().await;
    let Some(db_path) = app.database.sqlite_path().map(|p| p.to_owned()) else {
        eprintln!("SQLite only: PostgreSQL deployments must set LATCHKEY_SECRET_KEY");
        return;
    };
    let name = username("keyfile");
    app.signed_in(&name).await;
    let cookie = app.cookie_header().expect("cookie");
    let key_file = db_path.with_file_name("latchkey.db.secret");
    let mode = std::fs::metadata(&key_file)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let app = app.restart().await;
    let res = app.get_with_cookie("/api/me", cookie).await;
    assert_eq!(
        res.status(),
        200,
        "the same generated key signs after a restart"
    );
}

#[tokio::test]
async fn an_idle_session_expires_on_the_server() {
    let app = spawn_with(Options::default().arg("--session-idle-timeout", "8h")).await;
    app.signed_in(&username("idle")).await;
    let cookie = app.cookie_header().expect("cookie");
    // Activity keeps it alive past the idle timeout…
    for _ in 0..3 {
        app.clock().advance(Duration::from_secs(7 * 3600));
        assert_eq!(app.get("/api/me").await.status(), 200);
    }
    // …idleness ends it, even though the client still sends the cookie.
    app.clock().advance(Duration::from_secs(8 * 3600 + 1));
    let res = app.get_with_cookie("/api/me", cookie).await;
    assert_problem(res, 401, "not_authenticated").await;
    let left: i64 = sessions::table
        .count()
        .get_result(&mut app.db())
        .expect("count");
    assert_eq!(left, 0, "the expired row is deleted");
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_active() {
    let app = spawn_with(Options::default().arg("--session-max-age", "1d")).await;
    app.signed_in(&username("absolute")).await;
    assert_eq!(app.get("/api/me").await.status(), 200);
    for _ in 0..3 {
        app.clock().advance(Duration::from_secs(7 * 3600));
        assert_eq!(app.get("/api/me").await.status(), 200);
    }
    app.clock().advance(Duration::from_secs(3 * 3600 + 1));
    assert_problem(app.get("/api/me").await, 401, "not_authenticated").await;
}

#[tokio::test]
async fn reads_do_not_write_the_session_row_every_time() {
    let app = spawn_app().await;
    app.signed_in(&username("reads")).await;
    let seen = || -> i64 {
        sessions::table
            .select(sessions::last_seen_at)
            .first(&mut app.db())
            .expect("row")
    };
    let before = seen();
    app.clock().advance(Duration::from_secs(30));
    for _ in 0..5 {
        assert_eq!(app.get("/api/me").await.status(), 200);
    }
    assert_eq!(
        seen(),
        before,
        "last_seen_at is refreshed at most once a minute"
    );
    app.clock().advance(Duration::from_secs(31));
    assert_eq!(app.get("/api/me").await.status(), 200);
    // The test clock is the system clock moved forward, so real seconds may tick meanwhile.
    let after = seen();
    assert!(
        after >= before + 61 && after <= app.clock().now(),
        "and after a minute it is: {before} then {after}"
    );
}

#[tokio::test]
async fn expired_sessions_and_stale_throttles_are_cleaned_up() {
    use latchkey::db::{self, throttles};
    let app = spawn_app().await;
    // Three sessions from three clients.
    for prefix in ["sweep_a", "sweep_b", "sweep_c"] {
        let name = username(prefix);
        assert_eq!(app.register(&name, PASSWORD).await.status(), 201);
        let res = app
            .fresh_client()
            .post(app.url("/api/login"))
            .json(&serde_json::json!({"username": name, "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(res.status(), 200);
    }
    let mut conn = app.db();
    let now = latchkey::clock::Clock::system().now();
    // One session past its absolute expiry, one idle for nine hours, one fresh.
    let ids: Vec<i32> = sessions::table
        .select(sessions::id)
        .order(sessions::id)
        .load(&mut conn)
        .expect("ids");
    assert_eq!(ids.len(), 3);
    diesel::update(sessions::table.find(ids[0]))
        .set(sessions::expires_at.eq(now - 1))
        .execute(&mut conn)
        .expect("expire");
    diesel::update(sessions::table.find(ids[1]))
        .set(sessions::last_seen_at.eq(now - 9 * 3600))
        .execute(&mut conn)
        .expect("idle");
    let live = db::sessions::Liveness {
        now,
        idle_secs: 8 * 3600,
    };
    // In batches: at most `limit` rows a call.
    assert_eq!(
        db::sessions::delete_expired(&mut conn, live, 1).expect("sweep"),
        1
    );
    assert_eq!(
        db::sessions::delete_expired(&mut conn, live, 1).expect("sweep"),
        1
    );
    assert_eq!(
        db::sessions::delete_expired(&mut conn, live, 1).expect("sweep"),
        0
    );
    let left: Vec<i32> = sessions::table
        .select(sessions::id)
        .load(&mut conn)
        .expect("ids");
    assert_eq!(left, [ids[2]]);

    // A throttle streak older than a day with no lock left is forgotten; a recent one stays.
    throttles::begin_attempt(&mut conn, "old_streak", (now - 2 * 86_400) * 1000, 5).expect("old");
    throttles::begin_attempt(&mut conn, "new_streak", now * 1000, 5).expect("new");
    assert_eq!(throttles::delete_stale(&mut conn, now).expect("sweep"), 1);
}

#[tokio::test]
async fn the_cleanup_removes_more_expired_sessions_than_one_batch_and_keeps_live_ones() {
    use latchkey::accounts::CLEANUP_BATCH;
    let app = spawn_app().await;
    let name = username("pile");
    let _ = app.signed_in(&name).await;
    let mut conn = app.db();
    let user_id: i32 = latchkey::db::schema::users::table
        .select(latchkey::db::schema::users::id)
        .first(&mut conn)
        .expect("user");
    // Two and a half batches of sessions that ended long ago, half by age, half idle.
    let now = app.clock().now();
    let expired = 2 * CLEANUP_BATCH + CLEANUP_BATCH / 2;
    // One statement that both backends run: a recursive counter feeding an INSERT.
    diesel::sql_query(format!(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {last})
         INSERT INTO sessions (public_id, key_hash, user_id, remember, created_at,
                               last_seen_at, expires_at, logged_in_at)
         SELECT 'old' || i, 'oldhash' || i, {user_id}, FALSE, {long_ago},
                CASE WHEN i % 2 = 0 THEN {now} - 10 ELSE {long_ago} END,
                CASE WHEN i % 2 = 0 THEN {now} - 1 ELSE {now} + 86400 END,
                {long_ago}
         FROM n",
        last = expired - 1,
        long_ago = now - 40 * 86_400,
    ))
    .execute(&mut conn)
    .expect("insert expired sessions");
    drop(conn);

    let (removed, _) = app.accounts.clean_up().await.expect("cleanup");
    assert_eq!(removed as i64, expired);
    let left: i64 = sessions::table
        .count()
        .get_result(&mut app.db())
        .expect("count");
    assert_eq!(left, 1, "only the live session is left");
    assert_eq!(app.get("/api/me").await.status(), 200);
}
