//! The contract's error table for bodies, routing and headers.

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn malformed_json_and_non_objects_are_400() {
    let app = spawn_app().await;
    for body in [
        "",
        "{",
        "{\"username\": }",
        "[1,2]",
        "\"text\"",
        "null",
        "{\"u\":\"\\ud800\"}",
    ] {
        let res = app
            .post_raw("/api/login", body, Some("application/json"))
            .await;
        assert_problem(res, 400, "malformed_body").await;
    }
    let res = app
        .post_raw(
            "/api/register",
            vec![0xff, 0xfe, b'{'],
            Some("application/json"),
        )
        .await;
    assert_problem(res, 400, "malformed_body").await;
}

#[tokio::test]
async fn bodies_without_json_content_type_are_415() {
    let app = spawn_app().await;
    let body = r#"{"username":"a","password":"b"}"#;
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
    ] {
        let res = app.post_raw("/api/login", body, ct).await;
        assert_problem(res, 415, "unsupported_media_type").await;
    }
    let ok = app
        .post_raw("/api/login", body, Some("application/json; charset=utf-8"))
        .await;
    assert_eq!(ok.status(), 401);
}

#[tokio::test]
async fn bodies_over_16_kib_are_413() {
    let app = spawn_app().await;
    let padding = "x".repeat(16 * 1024);
    let body = format!(r#"{{"username":"a","password":"{padding}"}}"#);
    let res = app
        .post_raw("/api/register", body.clone(), Some("application/json"))
        .await;
    assert_problem(res, 413, "payload_too_large").await;
    // Without a Content-Length (chunked), the limit still holds while reading.
    let stream = futures_util::stream::iter(
        body.into_bytes()
            .chunks(1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let res = app
        .client
        .post(app.url("/api/login"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("request");
    assert_problem(res, 413, "payload_too_large").await;
    // Just under the limit is read and judged on its fields: no password is that long.
    let fits = format!(
        r#"{{"username":"a","password":"{}"}}"#,
        "x".repeat(16 * 1024 - 40)
    );
    let res = app
        .post_raw("/api/login", fits, Some("application/json"))
        .await;
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "too_long");
}

#[tokio::test]
async fn unknown_routes_are_404_problems() {
    let app = spawn_app().await;
    for path in ["/api/nope", "/api/", "/api/me/extra", "/no-such-file.js"] {
        assert_problem(app.get(path).await, 404, "not_found").await;
    }
    let res = app
        .post_raw("/api/nope", "{}", Some("application/json"))
        .await;
    assert_problem(res, 404, "not_found").await;
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow() {
    let app = spawn_app().await;
    let cases = [
        (reqwest::Method::GET, "/api/login", "POST"),
        (reqwest::Method::GET, "/api/register", "POST"),
        (reqwest::Method::DELETE, "/api/logout", "POST"),
        (reqwest::Method::POST, "/api/me", "GET, HEAD, DELETE"),
        (reqwest::Method::PUT, "/api/health", "GET, HEAD"),
    ];
    for (method, path, allow) in cases {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        assert_problem(res, 405, "method_not_allowed").await;
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_security_headers() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/health"))
        .header("x-request-id", "trace-abc.123")
        .send()
        .await
        .expect("request");
    assert_eq!(res.headers()["x-request-id"], "trace-abc.123");
    let res = app
        .client
        .get(app.url("/api/health"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .expect("request");
    let generated = res.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_ne!(generated, "bad id with spaces");
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    for path in ["/api/health", "/api/nope", "/"] {
        let res = app.get(path).await;
        let h = res.headers();
        assert!(h.contains_key("x-request-id"), "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        let csp = h["content-security-policy"].to_str().expect("ascii");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("base-uri 'none'"), "{path}: {csp}");
        assert!(
            csp.contains("object-src 'none'") || csp.starts_with("default-src 'none'"),
            "{path}: {csp}"
        );
        assert!(!h.contains_key("server"), "no version banner on {path}");
        assert!(
            !h.contains_key("strict-transport-security"),
            "plain http on loopback"
        );
    }
}

#[tokio::test]
async fn health_reports_the_database_and_version() {
    let app = spawn_app().await;
    let res = app.get("/api/health").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn the_spa_is_served_with_a_strict_csp() {
    let app = spawn_app().await;
    for path in ["/", "/login", "/register", "/dashboard"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(csp.starts_with("default-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .expect("ascii")
                .starts_with("text/html")
        );
        let body = res.text().await.expect("body").to_ascii_lowercase();
        assert!(body.starts_with("<!doctype html>"), "{path}: index.html");
    }
}
