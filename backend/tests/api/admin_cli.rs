//! The administration commands of the real binary (`latchkey user …`, `calibrate`,
//! `healthcheck`), on a real SQLite file, checked through the API where they change who can log in.

use std::io::Write as _;

use std::process::{Command, Output, Stdio};

use crate::helpers::{PASSWORD, spawn_app};

/// The binary with a clean environment, the test database and a fast work factor.
pub fn latchkey(db: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    for (key, _) in std::env::vars() {
        if key.starts_with("LATCHKEY_") || key == "DATABASE_URL" || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.env("DATABASE_URL", db)
        .env("LATCHKEY_PBKDF2_ITERATIONS", "1000");
    cmd
}

/// Runs `cmd` with `stdin` piped in (an empty stdin when `None`), waiting for it to finish.
pub fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut pipe = child.stdin.take().expect("stdin");
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    drop(pipe);
    child.wait_with_output().expect("the binary finishes")
}

/// Creates the database with `latchkey migrate`, as an administrator would before the other
/// commands (which refuse a missing one).
pub fn migrate(db: impl AsRef<std::ffi::OsStr>) {
    let mut cmd = latchkey(db);
    cmd.arg("migrate");
    let out = run(cmd, None);
    assert!(out.status.success(), "migrate: {}", stderr(&out));
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a failure with exit status 1 and one line on stderr mentioning `needle`.
fn assert_fails_with(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "exit status; stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("latchkey: "), "{err}");
    assert!(err.contains(needle), "{needle:?} in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn user(db: impl AsRef<std::ffi::OsStr>, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = latchkey(db);
    cmd.arg("user").args(args);
    run(cmd, stdin)
}

#[tokio::test]
async fn a_user_created_on_the_command_line_logs_in_through_the_api() {
    let app = spawn_app().await;
    let db = app.database.url();

    // The password is taken exactly as given: surrounding spaces are part of it.
    let password = format!("  {PASSWORD} ");
    let out = user(&db, &["create", " Ａlice "], Some(&format!("{password}\n")));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("created user Alice (id "),
        "{}",
        stdout(&out)
    );

    let list = user(&db, &["list"], None);
    assert!(list.status.success(), "{}", stderr(&list));
    let listing = stdout(&list);
    assert!(listing.lines().next().expect("header").contains("USERNAME"));
    assert!(listing.lines().any(|l| l.contains("Alice")), "{listing}");

    assert_eq!(app.login("alice", &password).await.status(), 200);
    assert_eq!(app.login("alice", PASSWORD).await.status(), 401);
    // The new session shows in the listing.
    let listing = stdout(&user(&db, &["list"], None));
    let line = listing.lines().find(|l| l.contains("Alice")).expect("row");
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        columns[3..],
        ["1", "0", "-"],
        "one session, no passkey, no second factor: {line}"
    );
}

#[tokio::test]
async fn create_refuses_bad_names_weak_passwords_taken_names_and_missing_input() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("latchkey.db");
    let pw = format!("{PASSWORD}\n");
    migrate(&db);

    assert_fails_with(&user(&db, &["create", "ab"], Some(&pw)), "too_short");
    assert_fails_with(
        &user(&db, &["create", "bad name!"], Some(&pw)),
        "invalid_characters",
    );
    assert_fails_with(
        &user(&db, &["create", "carol"], Some("password1\n")),
        "too_weak",
    );
    assert_fails_with(
        &user(&db, &["create", "carol"], Some("short\n")),
        "too_short",
    );
    // The username counts against the strength, as in the API.
    assert_fails_with(
        &user(
            &db,
            &["create", "rumpelstiltskin42"],
            Some("rumpelstiltskin42\n"),
        ),
        "too_weak",
    );
    assert_fails_with(&user(&db, &["create", "carol"], None), "no password");
    // The configured policy applies: a longer minimum length.
    let mut strict = latchkey(&db);
    strict
        .env("LATCHKEY_PASSWORD_MIN_LENGTH", "40")
        .args(["user", "create", "carol"]);
    assert_fails_with(&run(strict, Some(&pw)), "at least 40");

    let ok = user(&db, &["create", "carol"], Some(&pw));
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_fails_with(&user(&db, &["create", "CAROL"], Some(&pw)), "is taken");

    let listing = stdout(&user(&db, &["list"], None));
    assert_eq!(
        listing.lines().count(),
        2,
        "header and carol only: {listing}"
    );
}

#[tokio::test]
async fn set_password_changes_it_and_ends_every_session_of_that_user() {
    let app = spawn_app().await;
    let db = app.database.url();
    app.signed_in("dave").await;
    let other_device = app.fresh_client();
    let res = other_device
        .post(app.url("/api/login"))
        .json(&serde_json::json!({"username": "dave", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 200);

    let new_password = "a brand new passphrase for dave";
    let weak = user(&db, &["set-password", "dave"], Some("dave1234\n"));
    assert_fails_with(&weak, "too_weak");
    assert_eq!(
        app.get("/api/me").await.status(),
        200,
        "a refused reset changes nothing"
    );

    let out = user(
        &db,
        &["set-password", "DAVE"],
        Some(&format!("{new_password}\n")),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("2 session(s) ended"),
        "{}",
        stdout(&out)
    );

    assert_eq!(app.get("/api/me").await.status(), 401);
    assert_eq!(app.login("dave", PASSWORD).await.status(), 401);
    assert_eq!(app.login("dave", new_password).await.status(), 200);
    assert_fails_with(
        &user(
            &db,
            &["set-password", "nobody"],
            Some(&format!("{new_password}\n")),
        ),
        "no user named \"nobody\"",
    );
}

#[tokio::test]
async fn logout_ends_every_session_of_one_user_at_once() {
    let app = spawn_app().await;
    let db = app.database.url();
    app.signed_in("erin").await;
    let bob = app.fresh_client();
    assert_eq!(app.register("frank", PASSWORD).await.status(), 201);
    let res = bob
        .post(app.url("/api/login"))
        .json(&serde_json::json!({"username": "frank", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    let frank_cookie = res.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();

    let out = user(&db, &["logout", "Erin"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "1 session(s) of erin ended");

    assert_eq!(app.get("/api/me").await.status(), 401);
    let frank_me = app
        .fresh_client()
        .get(app.url("/api/me"))
        .header("cookie", frank_cookie)
        .send()
        .await
        .expect("me");
    assert_eq!(frank_me.status(), 200, "other users keep their sessions");
    // The password still works: logout is not a lock-out.
    assert_eq!(app.login("erin", PASSWORD).await.status(), 200);
    assert_fails_with(&user(&db, &["logout", "ghost"], None), "no user named");
}

#[tokio::test]
async fn delete_removes_the_user_and_their_sessions() {
    use diesel::prelude::*;
    use latchkey::db::schema::sessions;

    let app = spawn_app().await;
    let db = app.database.url();
    let gina = app.signed_in("gina").await;

    let out = user(&db, &["delete", "gina"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("deleted user gina"),
        "{}",
        stdout(&out)
    );

    assert_eq!(app.get("/api/me").await.status(), 401);
    assert_eq!(app.login("gina", PASSWORD).await.status(), 401);
    let id = i32::try_from(gina["id"].as_i64().expect("id")).expect("i32");
    let left: i64 = sessions::table
        .filter(sessions::user_id.eq(id))
        .count()
        .get_result(&mut app.db())
        .expect("count");
    assert_eq!(left, 0);
    assert_fails_with(
        &user(&db, &["delete", "gina"], None),
        "no user named \"gina\"",
    );
    assert_fails_with(&user(&db, &["delete", "x"], None), "invalid username");
    // The name is free again.
    assert_eq!(app.register("gina", PASSWORD).await.status(), 201);
}

#[test]
fn every_command_has_help_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("latchkey.db");
    for args in [
        &["user", "--help"][..],
        &["user", "create", "--help"],
        &["user", "delete", "--help"],
        &["user", "set-password", "--help"],
        &["user", "logout", "--help"],
        &["user", "list", "--help"],
        &["import-flask", "--help"],
        &["calibrate", "--help"],
        &["healthcheck", "--help"],
    ] {
        let mut cmd = latchkey(&db);
        cmd.args(args);
        let out = run(cmd, None);
        assert!(out.status.success(), "{args:?}");
        assert!(
            stdout(&out).contains("Usage: latchkey"),
            "{args:?}: {}",
            stdout(&out)
        );
    }
    let top = stdout(&run(
        {
            let mut c = latchkey(&db);
            c.arg("--help");
            c
        },
        None,
    ));
    for command in ["user", "import-flask", "calibrate", "healthcheck"] {
        assert!(top.contains(command), "{command} in --help");
    }
    for args in [
        &["user"][..],
        &["user", "create"],
        &["user", "create", "a", "b"],
        &["user", "frobnicate"],
        &["calibrate"],
        &["calibrate", "--target-ms", "0"],
        &["calibrate", "--target-ms", "soon"],
        &["import-flask"],
    ] {
        let mut cmd = latchkey(&db);
        cmd.args(args);
        let out = run(cmd, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }
    assert!(!db.exists(), "usage errors touch no database");
}

#[test]
fn calibrate_prints_an_iteration_count_that_grows_with_the_target() {
    let dir = tempfile::tempdir().expect("dir");
    let count = |ms: &str| -> u32 {
        let mut cmd = latchkey(dir.path().join("unused.db"));
        cmd.args(["calibrate", "--target-ms", ms]);
        let out = run(cmd, None);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(stderr(&out).contains("LATCHKEY_PBKDF2_ITERATIONS="));
        text.trim().parse().expect("stdout is the number alone")
    };
    let short = count("10");
    let long = count("80");
    assert!(short >= 1000 && short % 1000 == 0, "{short}");
    // Eight times the time is about eight times the count; a wide margin for a busy machine.
    assert!(long > short * 3, "10 ms: {short}, 80 ms: {long}");
    assert!(
        !dir.path().join("unused.db").exists(),
        "calibrate needs no database"
    );
}

#[tokio::test]
async fn healthcheck_passes_against_a_live_server_and_fails_without_one() {
    let app = spawn_app().await;
    let port = app.address.rsplit(':').next().expect("port").to_owned();
    let check = |bind: String| {
        let mut cmd = latchkey(app.database.url());
        cmd.env("LATCHKEY_BIND", bind).arg("healthcheck");
        cmd
    };
    // A wildcard bind is checked on loopback, as in the container.
    let out = tokio::task::spawn_blocking({
        let cmd = check(format!("0.0.0.0:{port}"));
        move || run(cmd, None)
    })
    .await
    .expect("join");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("answered 200"));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let out = run(check(format!("127.0.0.1:{closed_port}")), None);
    assert_fails_with(&out, "unhealthy");
}
