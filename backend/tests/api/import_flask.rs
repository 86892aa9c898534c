//! `latchkey import-flask`: a real SQLite file shaped like the Flask tutorial's database (what
//! Flask-SQLAlchemy creates for its `Users` model), imported by the real binary, then the
//! imported users log in through the API with their old passwords.

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;

use crate::admin_cli::{latchkey, migrate, run, stderr, stdout};
use crate::helpers::{PASSWORD, spawn_app};

/// What Werkzeug's `generate_password_hash(password, "pbkdf2:sha256:ITER")` stores for `salt`.
fn werkzeug(password: &str, salt: &str, iterations: u32) -> String {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    format!("pbkdf2:sha256:{iterations}${salt}${}", hex::encode(out))
}

/// A Flask app database with `rows` of (username, stored password).
fn flask_db(dir: &Path, rows: &[(&str, &str)]) -> PathBuf {
    let path = dir.join("db.sqlite");
    let mut conn =
        SqliteConnection::establish(&path.to_string_lossy()).expect("create the Flask database");
    conn.batch_execute(
        "CREATE TABLE users (
            id INTEGER NOT NULL,
            username VARCHAR(250) NOT NULL,
            password VARCHAR(250) NOT NULL,
            PRIMARY KEY (id),
            UNIQUE (username)
        );",
    )
    .expect("schema");
    for (username, password) in rows {
        diesel::sql_query("INSERT INTO users (username, password) VALUES (?, ?)")
            .bind::<diesel::sql_types::Text, _>(*username)
            .bind::<diesel::sql_types::Text, _>(*password)
            .execute(&mut conn)
            .expect("insert");
    }
    path
}

fn import(db: impl AsRef<std::ffi::OsStr>, flask: &Path, extra: &[&str]) -> std::process::Output {
    let mut cmd = latchkey(db);
    cmd.arg("import-flask").arg(flask).args(extra);
    run(cmd, None)
}

fn stored_hash(app: &crate::helpers::TestApp, key: &str) -> Option<String> {
    use latchkey::db::schema::users;
    users::table
        .filter(users::username_key.eq(key))
        .select(users::password_hash)
        .first(&mut app.db())
        .optional()
        .expect("query")
}

#[test]
fn the_test_hashes_are_werkzeug_hashes() {
    // The same string Python's Werkzeug/hashlib produce (see domain::password_hash's tests).
    assert_eq!(
        werkzeug("s3cret-pass", "abcdefghijklmnop", 1000),
        "pbkdf2:sha256:1000$abcdefghijklmnop$\
         b2443c0df37736fc59aed4783ee8904c248ba8cd98ccdfdaa46a3b89739cd13b"
    );
}

#[tokio::test]
async fn flask_users_are_imported_once_and_log_in_with_their_old_passwords() {
    let app = spawn_app().await;
    assert_eq!(app.register("Carol", PASSWORD).await.status(), 201);
    let flask_dir = tempfile::tempdir().expect("dir");
    let alice_hash = werkzeug("alice's old password", "Xq9LmZ2pRt7vWy4K", 2000);
    let flask = flask_db(
        flask_dir.path(),
        &[
            ("alice", &alice_hash),
            (
                "ALICE",
                &werkzeug("another alice", "saltsaltsalt1234", 2000),
            ),
            (
                "bob",
                "scrypt:32768:8:1$Vb3t9xQ2$5d41402abc4b2a76b9719d911017c592aabbccddeeff00112233445566778899",
            ),
            ("x", &werkzeug("too short a name", "saltsaltsalt1234", 2000)),
            ("carol", &werkzeug("flask carol", "saltsaltsalt1234", 2000)),
            ("Dän", &werkzeug("dän's password", "a1b2c3d4e5f6g7h8", 1500)),
            ("eve", "plain-text-secret"),
        ],
    );

    let dry = import(app.database.url(), &flask, &["--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(stdout(&dry).contains("would import"), "{}", stdout(&dry));
    assert_eq!(stored_hash(&app, "alice"), None, "a dry run writes nothing");

    let first = import(app.database.url(), &flask, &[]);
    let report = stdout(&first);
    assert!(first.status.success(), "{}\n{report}", stderr(&first));
    let line = |name: &str| -> String {
        report
            .lines()
            .find(|l| l.contains(&format!("{name:?} (Flask id")))
            .unwrap_or_else(|| panic!("a line for {name}: {report}"))
            .to_owned()
    };
    assert!(line("alice").starts_with("imported"), "{report}");
    assert!(line("Dän").starts_with("imported"), "{report}");
    assert!(line("ALICE").starts_with("skipped"), "{report}");
    assert!(line("ALICE").contains("\"alice\" (Flask id 1)"), "{report}");
    assert!(
        line("bob").ends_with("cannot verify (scrypt), user must reset their password"),
        "{report}"
    );
    assert!(
        line("x").contains("invalid username (too_short)"),
        "{report}"
    );
    assert!(
        line("carol").contains("taken in Latchkey by \"Carol\""),
        "{report}"
    );
    assert!(line("eve").starts_with("skipped"), "{report}");
    assert!(
        !report.contains("plain-text-secret"),
        "never print what is stored"
    );
    assert!(
        report.trim_end().ends_with(&format!(
            "2 imported, 0 already present, 5 skipped (from {})",
            flask.display()
        )),
        "{report}"
    );
    assert_eq!(
        stored_hash(&app, "alice").as_deref(),
        Some(alice_hash.as_str())
    );

    // Twice is the same as once.
    let second = import(app.database.url(), &flask, &[]);
    let again = stdout(&second);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(again.contains("already present  \"alice\""), "{again}");
    assert!(
        again.contains("0 imported, 2 already present, 5 skipped"),
        "{again}"
    );

    // The old passwords work through the API, and the first login upgrades the hash to PHC.
    assert_eq!(app.login("alice", "another alice").await.status(), 401);
    let res = app.login("Alice", "alice's old password").await;
    assert_eq!(res.status(), 200);
    let me: serde_json::Value = app.get("/api/me").await.json().await.expect("json");
    assert_eq!(me["username"], "alice");
    let upgraded = stored_hash(&app, "alice").expect("alice");
    assert!(upgraded.starts_with("$pbkdf2-sha256$i=1000,"), "{upgraded}");
    assert_eq!(
        app.login("alice", "alice's old password").await.status(),
        200
    );
    assert_eq!(app.login("dän", "dän's password").await.status(), 200);
    assert_eq!(app.login("bob", "anything at all").await.status(), 401);
    // The existing Carol keeps her own password.
    assert_eq!(app.login("carol", PASSWORD).await.status(), 200);
}

#[test]
fn an_import_that_fails_part_way_imports_nobody() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("latchkey.db");
    migrate(&db);
    // A real database failure on the second insert.
    let mut conn = SqliteConnection::establish(&db.to_string_lossy()).expect("open");
    conn.batch_execute(
        "CREATE TRIGGER refuse_zed BEFORE INSERT ON users WHEN NEW.username_key = 'zed'
         BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END;",
    )
    .expect("trigger");
    drop(conn);
    let flask = flask_db(
        dir.path(),
        &[
            (
                "yvonne",
                &werkzeug("yvonne's password", "saltsaltsalt1234", 1000),
            ),
            ("zed", &werkzeug("zed's password", "saltsaltsalt1234", 1000)),
        ],
    );

    let out = import(&db, &flask, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing was imported"),
        "{}",
        stderr(&out)
    );
    let mut conn = SqliteConnection::establish(&db.to_string_lossy()).expect("open");
    let users: i64 = latchkey::db::schema::users::table
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(users, 0, "yvonne was rolled back with zed");
}

#[test]
fn files_that_are_not_a_flask_database_get_one_clear_line() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("latchkey.db");
    migrate(&db);
    let check = |path: &Path, needle: &str| {
        let out = import(&db, path, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", path.display());
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{needle:?} in {err}");
    };

    let missing = dir.path().join("missing.sqlite");
    check(&missing, "is not a file");
    assert!(!missing.exists(), "a missing file is not created");

    let garbage = dir.path().join("garbage.sqlite");
    std::fs::write(&garbage, "this is not a database, just text ".repeat(100)).expect("write");
    check(&garbage, "is not a SQLite database");

    let other = dir.path().join("other.sqlite");
    let mut conn = SqliteConnection::establish(&other.to_string_lossy()).expect("create");
    conn.batch_execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT);")
        .expect("schema");
    drop(conn);
    check(&other, "no `users` table");

    // Latchkey's own database is not a Flask database either (no `password` column).
    migrate(&db);
    check(&db, "no `users` table");
}
