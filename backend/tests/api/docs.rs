//! `GET /api/docs`: the page and every script, stylesheet and icon it references come from the
//! server itself, under a Content-Security-Policy that allows nothing else.

use crate::helpers::spawn_app;

/// The values of `src="…"` and `href="…"` attributes in `html`.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attr) {
            rest = &rest[start + attr.len()..];
            let end = rest.find('"').expect("closing quote");
            found.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    found
}

#[tokio::test]
async fn the_docs_page_and_all_its_assets_are_served_locally() {
    let app = spawn_app().await;
    let res = app.get("/api/docs").await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    let html = res.text().await.expect("html");

    // Scripts and styles from this origin only, and no inline script to allow.
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("style-src 'self'"), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(!html.contains("<script>"), "no inline scripts");
    assert!(!html.contains("<style"), "no inline styles");

    let refs = references(&html);
    assert!(refs.iter().any(|r| r.ends_with(".js")), "{refs:?}");
    assert!(refs.iter().any(|r| r.ends_with(".css")), "{refs:?}");
    for r in &refs {
        assert!(
            r.starts_with('/') && !r.starts_with("//"),
            "{r} is not on this server"
        );
        let res = app.get(r).await;
        assert_eq!(res.status(), 200, "{r}");
        let body = res.bytes().await.expect("body");
        assert!(body.len() > 100, "{r} has content");
    }
    // The start-up script points Swagger UI at the served document and at nothing online.
    let start = refs
        .iter()
        .find(|r| r.ends_with("latchkey-docs.js"))
        .expect("start script");
    let js = app.get(start).await.text().await.expect("js");
    assert!(js.contains("\"/api/openapi.json\""));
    assert!(js.contains("validatorUrl: null"));
    let bundle = refs
        .iter()
        .find(|r| r.ends_with("swagger-ui-bundle.js"))
        .expect("swagger ui");
    let res = app.get(bundle).await;
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .contains("javascript")
    );
}

#[tokio::test]
async fn only_the_docs_files_are_served_and_errors_are_problems() {
    let app = spawn_app().await;
    for path in [
        "/api/docs/index.html",
        "/api/docs/swagger-initializer.js",
        "/api/docs/..%2Fopenapi.json",
        "/api/docs/nothing.js",
    ] {
        let res = app.get(path).await;
        crate::helpers::assert_problem(res, 404, "not_found").await;
    }
    let res = app
        .client
        .post(app.url("/api/docs"))
        .send()
        .await
        .expect("post");
    assert_eq!(res.headers()["allow"], "GET, HEAD");
    crate::helpers::assert_problem(res, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn a_trailing_slash_on_a_get_route_redirects_to_it() {
    let app = spawn_app().await;
    for (path, location) in [
        ("/api/docs/", "/api/docs"),
        ("/api/health/", "/api/health"),
        ("/api/openapi.json//?x=1", "/api/openapi.json?x=1"),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 308, "{path}");
        assert_eq!(res.headers()["location"], location, "{path}");
    }
    // Followed, it is the page.
    let page = reqwest::get(app.url("/api/docs/")).await.expect("get");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("body").contains("swagger-ui"));
    // Not for paths that do not serve GET, nor for unsafe methods.
    crate::helpers::assert_problem(app.get("/api/login/").await, 404, "not_found").await;
    crate::helpers::assert_problem(app.get("/api/nothing/").await, 404, "not_found").await;
    let post = app
        .client
        .post(app.url("/api/health/"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(post.status(), 404);
}
