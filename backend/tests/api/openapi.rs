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
fn the_document_is_openapi_3_1_with_every_endpoint_and_the_cookie_scheme() {
    let doc: serde_json::Value = serde_json::from_str(&latchkey::openapi::json()).expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
    for (path, method) in [
        ("/api/register", "post"),
        ("/api/login", "post"),
        ("/api/logout", "post"),
        ("/api/me", "get"),
        ("/api/health", "get"),
        ("/api/openapi.json", "get"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path}");
        for (status, response) in op["responses"].as_object().expect("responses") {
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{method} {path} {status} needs a description"
            );
        }
    }
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
