//! `GET /api/docs`: interactive documentation of `/api/openapi.json` (Swagger UI). Every file is
//! served by Latchkey from the copy of Swagger UI compiled into the binary (the `vendored` build
//! of `utoipa-swagger-ui`): nothing comes from a CDN, at build time or in the browser.
//!
//! The page and its start-up script are ours, so that nothing runs inline and the page works
//! under its own Content-Security-Policy (self-hosted scripts and styles only; `data:` images,
//! which Swagger UI's stylesheet uses for its icons), and so that Swagger UI's online validator
//! badge (an image from another site) is switched off.

use std::sync::{Arc, OnceLock};

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use utoipa_swagger_ui::Config;

use crate::error::ApiError;

/// The docs' policy: only this server's scripts, styles, images (plus `data:` icons) and API.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                            img-src 'self' data:; font-src 'self'; connect-src 'self'; \
                            frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const INDEX_HTML: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Latchkey API</title>
  <link rel="stylesheet" href="/api/docs/swagger-ui.css">
  <link rel="icon" type="image/png" sizes="32x32" href="/api/docs/favicon-32x32.png">
  <link rel="icon" type="image/png" sizes="16x16" href="/api/docs/favicon-16x16.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/swagger-ui-bundle.js"></script>
  <script src="/api/docs/latchkey-docs.js"></script>
</body>
</html>
"##;

/// Starts Swagger UI on the served document. `withCredentials` sends the session cookie, so
/// "Try it out" works for the endpoints that need a login.
const START_JS: &str = r##"window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    withCredentials: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"##;

/// The files of the Swagger UI distribution that the page uses; nothing else is served.
const DIST_FILES: [&str; 4] = [
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
];

/// Interactive API documentation (Swagger UI), served entirely by this server.
#[utoipa::path(
    tag = "operations",
    operation_id = "api_docs",
    responses(
        (status = 200, description = "The documentation page (HTML); its scripts and styles are served under /api/docs/", content_type = "text/html", body = String),
    )
)]
#[get("/api/docs")]
pub async fn index() -> HttpResponse {
    page(INDEX_HTML.as_bytes().to_vec(), "text/html; charset=utf-8")
}

/// A file of the documentation page: its scripts, stylesheet and icons.
#[utoipa::path(
    tag = "operations",
    operation_id = "api_docs_file",
    params(("file" = String, Path, description = "A file the documentation page references", example = "swagger-ui.css")),
    responses(
        (status = 200, description = "The file: a script, the stylesheet or an icon", content(
            (String = "text/javascript"),
            (String = "text/css"),
            (String = "image/png"),
        )),
        (status = 404, description = "Not a file of the documentation page", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/docs/{file}")]
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let file = file.into_inner();
    if file == "latchkey-docs.js" {
        return Ok(page(
            START_JS.as_bytes().to_vec(),
            "text/javascript; charset=utf-8",
        ));
    }
    if !DIST_FILES.contains(&file.as_str()) {
        return Err(ApiError::NotFound);
    }
    let found = utoipa_swagger_ui::serve(&file, config())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("swagger-ui file {file}: {e}")))?
        .ok_or(ApiError::NotFound)?;
    let content_type =
        if found.content_type.starts_with("text/") || found.content_type.contains("javascript") {
            format!("{}; charset=utf-8", found.content_type)
        } else {
            found.content_type.clone()
        };
    let mut res = page(found.bytes.into_owned(), &content_type);
    if found.gzpipped {
        res.headers_mut().insert(
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static("gzip"),
        );
    }
    Ok(res)
}

fn config() -> Arc<Config<'static>> {
    static CONFIG: OnceLock<Arc<Config<'static>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| Arc::new(Config::new(["/api/openapi.json"])))
        .clone()
}

fn page(body: Vec<u8>, content_type: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_SECURITY_POLICY, DOCS_CSP))
        // The files change only with the binary; an hour keeps reloads cheap.
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}
