//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations. The
//! committed `openapi.yaml` must equal `latchkey openapi` (a test checks it).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::domain::FieldError;
use crate::error::Problem;
use crate::routes::{self, User};

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
                       (public URL over https).",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        routes::auth::register,
        routes::auth::login,
        routes::auth::logout,
        routes::me::me,
        routes::account::change_password,
        routes::account::delete_account,
        routes::account::list_sessions,
        routes::account::revoke_session,
        routes::account::revoke_other_sessions,
        routes::account::list_events,
        routes::health::health,
        routes::health::openapi_json,
        routes::docs::index,
        crate::metrics::render,
    ),
    components(schemas(
        User,
        Problem,
        FieldError,
        routes::auth::RegisterRequest,
        routes::auth::LoginRequest,
        routes::health::Health,
        routes::account::ChangePasswordRequest,
        routes::account::DeleteAccountRequest,
        routes::account::SessionInfo,
        routes::account::EventInfo,
    )),
    modifiers(&SessionCookie),
    tags(
        (name = "auth", description = "Register, log in, log out"),
        (name = "account", description = "The logged-in user's account"),
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
                 __Host-latchkey_session when Secure.",
            ))),
        );
    }
}

/// The document as YAML, as committed in `openapi.yaml`.
pub fn yaml() -> String {
    ApiDoc::openapi()
        .to_yaml()
        .expect("the OpenAPI document serialises to YAML")
}

/// The document as JSON, as served at `/api/openapi.json`.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises to JSON")
}
