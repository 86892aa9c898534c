//! `GET /metrics`: the contract's names in the Prometheus text format. Every server has a
//! recorder of its own, so these tests assert exact counts of what they did, whatever other
//! tests do in the same process at the same time.

use serde_json::json;

use crate::helpers::{Options, PASSWORD, TestApp, spawn_app, spawn_with};

async fn scrape(app: &TestApp) -> String {
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    res.text().await.expect("text")
}

/// The value of the sample `name{labels}` (labels in the order rendered), or 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == series).then(|| value.parse().expect("a number"))
        })
        .unwrap_or(0.0)
}

#[tokio::test]
async fn requests_are_counted_by_method_route_template_and_status() {
    let app = spawn_app().await;
    // Three PATCHes on the health route, which accepts only GET.
    for _ in 0..3 {
        let res = app
            .client
            .patch(app.url("/api/health"))
            .send()
            .await
            .expect("patch");
        assert_eq!(res.status(), 405);
    }
    let text = scrape(&app).await;
    assert_eq!(
        sample(
            &text,
            r#"latchkey_http_requests_total{method="PATCH",route="/api/health",status="405"}"#
        ),
        3.0,
        "{text}"
    );
    assert!(text.contains("# TYPE latchkey_http_requests_total counter"));
    // The duration is a real histogram with buckets, labelled by route.
    assert!(text.contains("# TYPE latchkey_http_request_duration_seconds histogram"));
    assert!(text.contains(
        r#"latchkey_http_request_duration_seconds_bucket{route="/api/health",le="+Inf"}"#
    ));
    assert!(text.contains(r#"latchkey_http_request_duration_seconds_count{route="/api/health"}"#));
}

#[tokio::test]
async fn raw_paths_and_odd_methods_never_become_labels() {
    let app = spawn_app().await;
    let marker = uuid::Uuid::new_v4().simple().to_string();
    assert_eq!(
        app.get(&format!("/api/nothing-{marker}")).await.status(),
        404
    );
    let session = format!("/api/me/sessions/{marker}");
    let _ = app
        .client
        .delete(app.url(&session))
        .send()
        .await
        .expect("delete");
    let brew =
        reqwest::Method::from_bytes(format!("BREW{}", &marker[..6].to_uppercase()).as_bytes())
            .expect("method");
    let _ = app
        .client
        .request(brew, app.url("/api/health"))
        .send()
        .await
        .expect("brew");
    let text = scrape(&app).await;
    assert!(!text.contains(&marker), "a raw path leaked into the labels");
    assert!(
        !text.contains(&marker[..6].to_uppercase()),
        "a raw method leaked"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(text.contains(r#"latchkey_http_requests_total{method="other",route="/api/health""#));
}

#[tokio::test]
async fn logins_registrations_and_sessions_are_counted() {
    let app = spawn_app().await;
    let success = r#"latchkey_logins_total{outcome="success"}"#;
    let failure = r#"latchkey_logins_total{outcome="failure"}"#;

    app.signed_in("metric_a").await;
    let other = app.fresh_client();
    assert_eq!(app.register("metric_b", PASSWORD).await.status(), 201);
    let res = other
        .post(app.url("/api/login"))
        .json(&json!({"username": "metric_b", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.login("metric_b", "wrong password here").await.status(),
        401
    );
    assert_eq!(
        app.login("nobody_at_all", "wrong password here")
            .await
            .status(),
        401
    );

    let after = scrape(&app).await;
    assert_eq!(sample(&after, success), 2.0, "{after}");
    assert_eq!(sample(&after, failure), 2.0, "{after}");
    assert_eq!(
        sample(&after, r#"latchkey_logins_total{outcome="throttled"}"#),
        0.0
    );
    assert_eq!(sample(&after, "latchkey_registrations_total"), 2.0);
    // Computed from this server's database at scrape time: exactly ours, one session each
    // (failed logins start none).
    assert_eq!(sample(&after, "latchkey_active_sessions"), 2.0, "{after}");
    assert_eq!(app.logout().await.status(), 204);
    let last = scrape(&app).await;
    assert_eq!(sample(&last, "latchkey_active_sessions"), 1.0);
    assert!(last.contains("# TYPE latchkey_hash_queue_depth gauge"));
    assert!(last.contains("# TYPE latchkey_active_sessions gauge"));
    assert!(
        last.lines()
            .any(|l| l.starts_with("latchkey_hash_queue_depth "))
    );
}

#[tokio::test]
async fn refused_hash_jobs_are_counted() {
    // One hashing thread, no waiting room, and a slow hash: concurrent registrations overflow.
    let app = spawn_with(
        Options::default()
            .arg("--hash-threads", "1")
            .arg("--hash-queue", "0")
            .arg("--pbkdf2-iterations", "200000"),
    )
    .await;
    let name = "latchkey_hash_rejections_total";
    assert_eq!(sample(&scrape(&app).await, name), 0.0);
    let mut tasks = Vec::new();
    for i in 0..6 {
        let client = app.fresh_client();
        let url = app.url("/api/register");
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"username": format!("rejected{i}"), "password": PASSWORD}))
                .send()
                .await
                .expect("request")
                .status()
                .as_u16()
        }));
    }
    let mut busy = 0.0;
    for t in tasks {
        if t.await.expect("join") == 503 {
            busy += 1.0;
        }
    }
    assert!(busy >= 1.0, "someone was refused");
    assert_eq!(sample(&scrape(&app).await, name), busy);
}

#[tokio::test]
async fn metrics_is_get_only_and_documented() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/metrics"))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET, HEAD");
    let doc: serde_json::Value = serde_json::from_str(&latchkey::openapi::json()).expect("json");
    assert!(doc["paths"]["/metrics"]["get"].is_object());
}
