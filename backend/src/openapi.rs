//! The OpenAPI 3.1 document: the paths come from the route table (`routes::api`, the same list
//! the server is built from), each described by its handler's `#[utoipa::path]`; this module adds
//! the title, the cookie scheme and the shared schemas. The committed `openapi.yaml` must equal
//! `latchkey openapi` (a test checks it).

use actix_web::App;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt as _;

use crate::domain::{FieldCode, FieldError};
use crate::error::Problem;
use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latchkey",
        description = "Username/password authentication: register, log in, a session cookie, \
                       log out. Errors are RFC 9457 problem details (`application/problem+json`) \
                       with a stable `code`. Unsafe requests from a foreign origin are refused \
                       (403 `cross_origin_request`); requests without `Origin` and \
                       `Sec-Fetch-Site` (curl, generated clients) pass. The session cookie is \
                       `latchkey_session`, named `__Host-latchkey_session` when it is Secure \
                       (public URL over https), `__Secure-latchkey_session` when it is Secure \
                       and has a Domain (`LATCHKEY_COOKIE_DOMAIN`).",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    components(schemas(Problem, FieldError, FieldCode)),
    modifiers(&SessionCookie),
    tags(
        (name = "auth", description = "Register, log in, log out"),
        (name = "account", description = "The logged-in user's account"),
        (name = "second factor", description = "Two-step verification: an authenticator app (TOTP) and recovery codes"),
        (name = "passkeys", description = "Passkeys (WebAuthn): register, list, rename, remove. Signing in with one is under auth. They work on https origins and on http://localhost, never on an IP address"),
        (name = "authz", description = "Forward-auth: reverse proxies ask whether a request to another app may pass"),
        (name = "operations", description = "Health and documentation"),
    ),
)]
pub struct ApiDoc;

struct SessionCookie;

impl Modify for SessionCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "latchkey_session",
                "The session cookie set by POST /api/login (HttpOnly, SameSite=Lax). Named \
                 __Host-latchkey_session when Secure, __Secure-latchkey_session when Secure \
                 with a Domain.",
            ))),
        );
    }
}

/// The whole document: the route table's paths and schemas, in the frame above.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::api)
        .split_for_parts();
    doc
}

/// The document as YAML, as committed in `openapi.yaml`.
pub fn yaml() -> String {
    document()
        .to_yaml()
        .expect("the OpenAPI document serialises to YAML")
}

/// The document as JSON, as served at `/api/openapi.json`.
pub fn json() -> String {
    document()
        .to_pretty_json()
        .expect("the OpenAPI document serialises to JSON")
}
