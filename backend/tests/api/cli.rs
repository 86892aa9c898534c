//! The binary itself: settings validation and subcommands.

use std::process::Command;

fn latchkey() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    // The surrounding environment must not leak settings into these runs.
    for (key, _) in std::env::vars() {
        if key.starts_with("LATCHKEY_") || key == "DATABASE_URL" {
            cmd.env_remove(key);
        }
    }
    cmd
}

#[test]
fn an_invalid_setting_stops_start_up_with_one_line_naming_it() {
    let dir = tempfile::tempdir().expect("dir");
    let cases = [
        ("LATCHKEY_PBKDF2_ITERATIONS", "999"),
        ("LATCHKEY_PASSWORD_MIN_LENGTH", "7"),
        ("LATCHKEY_PASSWORD_MIN_STRENGTH", "5"),
        ("LATCHKEY_COOKIE_SECURE", "maybe"),
        ("LATCHKEY_SESSION_IDLE_TIMEOUT", "forever"),
        ("LATCHKEY_SECRET_KEY", "c2hvcnQ="),
        ("LATCHKEY_TRUSTED_PROXIES", "not-an-ip"),
        ("LATCHKEY_PUBLIC_URL", "ftp://example.com"),
        ("LATCHKEY_FRONTEND_DIR", "/no/such/dir"),
        ("LATCHKEY_BIND", "nowhere"),
        ("DATABASE_URL", ":memory:"),
    ];
    for (name, value) in cases {
        let out = latchkey()
            .current_dir(dir.path())
            .env(name, value)
            .arg("migrate")
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}={value}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "one line for {name}: {stderr}"
        );
        assert!(stderr.contains(name), "{name} named in: {stderr}");
        if name == "LATCHKEY_SECRET_KEY" {
            assert!(!stderr.contains(value), "the secret is not echoed");
        }
    }
}

#[test]
fn openapi_subcommand_prints_the_committed_document() {
    let out = latchkey().arg("openapi").output().expect("runs");
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml"))
            .expect("openapi.yaml");
    assert_eq!(String::from_utf8(out.stdout).expect("utf-8"), committed);
}

#[test]
fn migrate_creates_the_database_on_first_run() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("nested/dir/latchkey.db");
    let out = latchkey()
        .env("DATABASE_URL", &db)
        .env("LATCHKEY_LOG_FORMAT", "json")
        .arg("migrate")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.is_file());
    // Running it again is a no-op.
    let again = latchkey()
        .env("DATABASE_URL", &db)
        .arg("migrate")
        .output()
        .expect("runs");
    assert!(again.status.success());
}

#[test]
fn help_lists_every_setting_with_its_variable() {
    let out = latchkey().arg("--help").output().expect("runs");
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).expect("utf-8");
    for var in [
        "LATCHKEY_BIND",
        "DATABASE_URL",
        "LATCHKEY_SECRET_KEY",
        "LATCHKEY_PBKDF2_ITERATIONS",
        "LATCHKEY_PASSWORD_MIN_LENGTH",
        "LATCHKEY_PASSWORD_MIN_STRENGTH",
        "LATCHKEY_HASH_QUEUE",
        "LATCHKEY_PUBLIC_URL",
        "LATCHKEY_RATE_LIMIT_PER_MINUTE",
        "LATCHKEY_LOGIN_THROTTLE_AFTER",
        "LATCHKEY_COOKIE_SECURE",
        "LATCHKEY_SESSION_IDLE_TIMEOUT",
        "LATCHKEY_SESSION_MAX_AGE",
        "LATCHKEY_ALLOWED_ORIGINS",
        "LATCHKEY_TRUSTED_PROXIES",
        "LATCHKEY_FRONTEND_DIR",
        "LATCHKEY_LOG_FORMAT",
        "LATCHKEY_EVENTS_PER_USER",
    ] {
        assert!(help.contains(var), "{var} missing from --help");
    }
}

#[test]
fn a_subcommands_help_lists_only_the_settings_it_reads() {
    let help = |args: &[&str]| {
        let out = latchkey().args(args).output().expect("runs");
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let create = help(&["user", "create", "--help"]);
    for var in [
        "DATABASE_URL",
        "LATCHKEY_PBKDF2_ITERATIONS",
        "LATCHKEY_PASSWORD_MIN_LENGTH",
        "LATCHKEY_PASSWORD_MIN_STRENGTH",
    ] {
        assert!(create.contains(var), "{var} in user create --help");
    }
    for var in [
        "LATCHKEY_BIND",
        "LATCHKEY_COOKIE_SECURE",
        "LATCHKEY_TRUSTED_PROXIES",
        "LATCHKEY_MAX_CONNECTIONS",
        "LATCHKEY_SECRET_KEY",
    ] {
        assert!(!create.contains(var), "{var} not in user create --help");
    }
    let health = help(&["healthcheck", "--help"]);
    assert!(health.contains("LATCHKEY_BIND"));
    assert!(!health.contains("DATABASE_URL"));
    let openapi = help(&["openapi", "--help"]);
    assert!(!openapi.contains("[env:"), "openapi reads no setting");
    // Hidden is not refused: a setting before or after the subcommand still parses.
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("latchkey.db");
    let out = latchkey()
        .args(["--bind", "127.0.0.1:1", "migrate", "--database-url"])
        .arg(&db)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.is_file());
}

#[test]
fn admin_commands_refuse_a_missing_database_instead_of_creating_one() {
    let dir = tempfile::tempdir().expect("dir");
    let flask = dir.path().join("flask.sqlite");
    std::fs::write(&flask, "").expect("file");
    for args in [
        &["user", "list"][..],
        &["user", "logout", "alice"],
        &["import-flask", flask.to_str().expect("utf-8"), "--dry-run"],
    ] {
        let out = latchkey()
            .current_dir(dir.path())
            .args(args)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        let looked_at = dir.path().canonicalize().expect("dir").join("latchkey.db");
        assert!(
            stderr.contains(&looked_at.display().to_string()),
            "names where it looked: {stderr}"
        );
        assert!(
            stderr.contains("latchkey migrate"),
            "says how to create one: {stderr}"
        );
        assert!(
            !dir.path().join("latchkey.db").exists(),
            "{args:?} created it"
        );
    }
}

#[test]
fn completions_and_the_manual_are_generated_from_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = latchkey()
            .args(["completions", shell])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).expect("utf-8");
        for word in ["import-flask", "set-password", "database-url"] {
            assert!(script.contains(word), "{word} in the {shell} completions");
        }
    }
    let out = latchkey().arg("man").output().expect("runs");
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).expect("utf-8");
    assert!(page.contains(".TH latchkey 1"), "a section-1 page");
    for word in [
        "LATCHKEY_SESSION_IDLE_TIMEOUT",
        "healthcheck",
        "import\\-flask",
    ] {
        assert!(page.contains(word), "{word} in the manual");
    }
    let bad = latchkey()
        .args(["completions", "tcsh"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_manual_piped_into_a_reader_that_stops_early_is_not_an_error() {
    let mut child = latchkey()
        .arg("man")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    // Close the pipe before the page is written, as `latchkey man | head -0` does.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("exits");
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
