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
    ] {
        assert!(help.contains(var), "{var} missing from --help");
    }
}
