//! The deployment files agree with the code and the test suite: the Dockerfile builds the
//! release binary with the same command as `scripts/ecosystem` (which tests that binary), checks
//! its health with the binary's own `healthcheck`, and does not run as root. (The compose file is
//! validated against the Compose specification by `scripts/ecosystem`.)

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The Dockerfile's `RUN cargo build …` command.
fn dockerfile_build_command(dockerfile: &str) -> String {
    let builds: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.trim().strip_prefix("RUN "))
        .filter(|cmd| cmd.trim_start().starts_with("cargo build"))
        .collect();
    assert_eq!(
        builds.len(),
        1,
        "one cargo build in the Dockerfile: {builds:?}"
    );
    builds[0].split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `BUILD=(cargo build …)` in scripts/ecosystem.
fn ecosystem_build_command(script: &str) -> String {
    let line = script
        .lines()
        .find_map(|l| l.strip_prefix("BUILD=("))
        .expect("BUILD=(…) in scripts/ecosystem");
    line.trim_end()
        .strip_suffix(')')
        .expect("closing parenthesis")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_image_is_built_with_the_command_the_test_suite_tests() {
    let docker = dockerfile_build_command(&repo_file("Dockerfile"));
    let tested = ecosystem_build_command(&repo_file("scripts/ecosystem"));
    assert_eq!(docker, tested);
    assert_eq!(docker, "cargo build --release --locked -p latchkey");
    assert!(
        repo_file("scripts/ecosystem").contains("\"${BUILD[@]}\""),
        "the script runs BUILD"
    );
    assert!(
        repo_file("scripts/test").contains("scripts/ecosystem"),
        "scripts/test runs it"
    );
}

#[test]
fn the_image_runs_unprivileged_and_checks_its_health_with_the_binary() {
    let dockerfile = repo_file("Dockerfile");
    let user = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("a USER line");
    assert!(
        !user.starts_with("root") && !user.starts_with("0"),
        "USER {user}"
    );
    let health = dockerfile
        .split("HEALTHCHECK")
        .nth(1)
        .expect("a HEALTHCHECK");
    assert!(
        health.contains("\"/usr/local/bin/latchkey\", \"healthcheck\""),
        "{health}"
    );
    let compose = repo_file("docker-compose.yml");
    assert!(
        compose.contains("latchkey-data:/data"),
        "the database volume"
    );
    assert!(compose.contains("DATABASE_URL: \"/data/latchkey.db\""));
}
