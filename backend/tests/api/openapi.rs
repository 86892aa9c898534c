use crate::helpers::spawn_app;

#[test]
fn committed_openapi_yaml_matches_the_code() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml"))
            .expect("openapi.yaml at the repository root");
    let generated = latchkey::openapi::yaml();
    assert!(
        committed == generated,
        "openapi.yaml is stale: run `cargo run -q -- openapi > openapi.yaml`"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_the_cookie_scheme() {
    let doc: serde_json::Value = serde_json::from_str(&latchkey::openapi::json()).expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    let scheme = &doc["components"]["securitySchemes"]["session_cookie"];
    assert_eq!(scheme["type"], "apiKey");
    assert_eq!(scheme["in"], "cookie");
    assert_eq!(scheme["name"], "latchkey_session");
    assert!(doc["paths"]["/api/me"]["get"]["security"].is_array());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn the_server_serves_the_same_document() {
    let app = spawn_app().await;
    let res = app.get("/api/openapi.json").await;
    assert_eq!(res.status(), 200);
    let served: serde_json::Value = res.json().await.expect("json");
    let built: serde_json::Value = serde_json::from_str(&latchkey::openapi::json()).expect("json");
    assert_eq!(served, built);
}

/// Every (path, method) of the document, with example values for path parameters.
fn documented_operations() -> Vec<(String, String, String)> {
    let doc: serde_json::Value = serde_json::from_str(&latchkey::openapi::json()).expect("json");
    let mut ops = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        let path = template
            .replace("{id}", "no-such-session")
            .replace("{file}", "swagger-ui.css");
        for method in item.as_object().expect("path item").keys() {
            ops.push((template.clone(), path.clone(), method.to_uppercase()));
        }
    }
    ops
}

/// The route label a request was counted under, read back from this server's own metrics.
async fn routed_as(app: &crate::helpers::TestApp, method: &str) -> Vec<String> {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    text.lines()
        .filter(|l| l.starts_with("latchkey_http_requests_total{"))
        .filter(|l| l.contains(&format!("method=\"{method}\"")))
        .filter_map(|l| l.split("route=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_every_routed_path_answers_only_its_methods() {
    let ops = documented_operations();
    assert!(ops.len() >= 15, "{ops:?}");
    for (template, path, method) in &ops {
        // A server of its own, so that its metrics hold exactly this request.
        let app = spawn_app().await;
        let res = app
            .client
            .request(method.parse().expect("method"), app.url(path))
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        assert_ne!(status, 405, "{method} {path} is documented but refused");
        let routes = routed_as(&app, method).await;
        assert!(
            routes.contains(template),
            "{method} {path} was not routed to {template} (status {status}, routes {routes:?})"
        );
    }
    // Each documented path refuses every other method with 405 and an Allow header listing
    // exactly the documented ones.
    let app = spawn_app().await;
    let mut by_path: std::collections::BTreeMap<(String, String), Vec<String>> = Default::default();
    for (template, path, method) in ops {
        by_path.entry((template, path)).or_default().push(method);
    }
    for ((template, path), methods) in by_path {
        let res = app
            .client
            .request(reqwest::Method::PATCH, app.url(&path))
            .send()
            .await
            .expect("patch");
        if methods.iter().any(|m| m == "PATCH") {
            continue;
        }
        assert_eq!(res.status(), 405, "PATCH {template}");
        let mut allowed: Vec<String> = res.headers()["allow"]
            .to_str()
            .expect("ascii")
            .split(", ")
            .map(str::to_owned)
            .collect();
        allowed.sort();
        let mut expected = methods.clone();
        if methods.iter().any(|m| m == "GET") {
            // RFC 9110: HEAD wherever GET.
            expected.push("HEAD".to_owned());
        }
        expected.sort();
        assert_eq!(allowed, expected, "Allow of {template}");
    }
}

#[test]
fn operation_ids_are_unique_and_every_response_is_described() {
    let doc: serde_json::Value = serde_json::from_str(&latchkey::openapi::json()).expect("json");
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let id = op["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_owned()), "{id} twice");
            for (status, response) in op["responses"].as_object().expect("responses") {
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty()),
                    "{method} {path} {status} needs a description"
                );
            }
        }
    }
}
