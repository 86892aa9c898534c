//! The HTTP API: one module per resource, each handler documented with `#[utoipa::path]` and
//! routed by its actix attribute (`#[post("/api/login")]`). [`api`] is the one route table: the
//! server is built from it, and so is the OpenAPI document (`crate::openapi`), so an endpoint
//! cannot be served undocumented or documented unserved.
//!
//! A handler only translates HTTP: it extracts, calls one use case of `crate::accounts`, and maps
//! the outcome to a response and the session. It never takes a database connection.

pub mod account;
pub mod auth;
pub mod authz;
pub mod docs;
pub mod frontend;
pub mod operations;
pub mod passkeys;
pub mod second_factor;

use std::collections::BTreeMap;

use actix_web::dev::ResourceDef;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{IntoResponses, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::clock::rfc3339;
use crate::error::{ApiError, PROBLEM_JSON};

/// Every endpoint. The router and the OpenAPI document are both built from this list.
pub fn api(cfg: &mut ServiceConfig<'_>) {
    cfg.service(auth::register)
        .service(auth::login)
        .service(second_factor::login_second_factor)
        .service(passkeys::start_second_step)
        .service(passkeys::start_login)
        .service(passkeys::finish_login)
        .service(auth::logout)
        .service(account::me)
        .service(account::delete_account)
        .service(account::change_password)
        .service(account::list_sessions)
        .service(account::revoke_other_sessions)
        .service(account::revoke_session)
        .service(account::list_events)
        .service(second_factor::second_factors)
        .service(second_factor::start_totp)
        .service(second_factor::confirm_totp)
        .service(second_factor::disable_totp)
        .service(second_factor::regenerate_recovery_codes)
        .service(passkeys::list_passkeys)
        .service(passkeys::start_registration)
        .service(passkeys::finish_registration)
        .service(passkeys::rename_passkey)
        .service(passkeys::remove_passkey)
        .service(authz::forward_auth)
        .service(authz::auth_request)
        .service(authz::return_url)
        .service(operations::health)
        .service(operations::openapi_json)
        .service(operations::metrics)
        .service(docs::index)
        .service(docs::asset);
}

/// A secret field as sent, where an empty string is a missing one (`required`): an empty
/// current password is not a wrong guess for the throttle to count, and an empty code is not a
/// code (the document says at least one character). Anything else, blank included, is checked.
fn non_empty(value: Option<SecretString>) -> Option<SecretString> {
    value.filter(|v| !v.expose_secret().is_empty())
}

/// A user as the API shows it: never a hash, never a session key.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    #[schema(example = 1)]
    pub id: i32,
    /// The form registered (trimmed, NFKC); login is case-insensitive.
    #[schema(example = "Alice")]
    pub username: String,
    /// RFC 3339, UTC.
    #[schema(example = "2026-11-28T08:00:00Z")]
    pub created_at: String,
}

impl From<&crate::domain::User> for User {
    fn from(u: &crate::domain::User) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            created_at: rfc3339(u.created_at),
        }
    }
}

/// Any completed login (password, second step, passkey): the session goes to
/// actix-session/identity under its new key; the answer is `200` with the user (the caller may
/// add cookies before the body).
fn logged_in(
    req: &HttpRequest,
    state: &crate::state::AppState,
    started: crate::domain::StartedSession,
) -> Result<(actix_web::HttpResponseBuilder, User), ApiError> {
    let user = User::from(&started.state.user);
    crate::http::session::begin(req, started, state.accounts.clock().now())?;
    Ok((HttpResponse::Ok(), user))
}

/// The methods each routed path accepts, for `405` answers with `Allow`: read off the OpenAPI
/// document, which is built from [`api`]. `HEAD` goes wherever `GET` does (RFC 9110 §9.3.2;
/// `http::middleware::observe` serves it).
#[derive(Debug, Clone, Default)]
pub struct AllowedMethods(Vec<(ResourceDef, String)>);

impl AllowedMethods {
    pub fn from_document(doc: &utoipa::openapi::OpenApi) -> Self {
        let mut table = Vec::new();
        for (path, item) in &doc.paths.paths {
            let mut methods: Vec<&str> = Vec::new();
            let ops = [
                ("GET", &item.get),
                ("HEAD", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
            ];
            for (name, op) in ops {
                if op.is_some() {
                    methods.push(name);
                }
            }
            table.push((ResourceDef::new(path.as_str()), methods.join(", ")));
        }
        Self(table)
    }

    /// The `Allow` value of the route `path` matches, if any.
    pub fn for_path(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, allow)| allow.as_str())
    }
}

/// The application's default service: a request no route took. On a routed path, a method the
/// path does not accept (405 with `Allow`); otherwise the SPA's files and screens, which accept
/// `GET` and `HEAD` only. Paths are compared as the router sees them (`/%61pi/me` is
/// `/api/me`).
pub async fn fallback(
    req: HttpRequest,
    allowed: web::Data<AllowedMethods>,
    source: web::Data<frontend::FrontendSource>,
) -> Result<HttpResponse, ApiError> {
    let path = req.match_info().as_str();
    if let Some(allow) = allowed.for_path(path) {
        return Err(ApiError::MethodNotAllowed {
            allow: allow.to_owned(),
        });
    }
    if path.starts_with("/api/") {
        // `/api/docs/` and the like: a trailing slash on a path that serves GET is a typo, not
        // another resource (RFC 9110 §15.4.9: 308 keeps the method).
        let trimmed = path.trim_end_matches('/');
        let serves_get = allowed
            .for_path(trimmed)
            .is_some_and(|allow| allow.split(", ").any(|m| m == "GET"));
        if req.method() == Method::GET && trimmed.len() < path.len() && serves_get {
            let location = match req.query_string() {
                "" => trimmed.to_owned(),
                query => format!("{trimmed}?{query}"),
            };
            return Ok(HttpResponse::PermanentRedirect()
                .insert_header((actix_web::http::header::LOCATION, location))
                .finish());
        }
        return Err(ApiError::NotFound);
    }
    if req.method() == Method::GET {
        return frontend::serve_path(&req, path, &source).await;
    }
    if frontend::exists(path, &source).await? {
        return Err(ApiError::MethodNotAllowed {
            allow: frontend::ALLOW.to_owned(),
        });
    }
    Err(ApiError::NotFound)
}

/// A problem response for the document.
fn problem(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

macro_rules! problem_responses {
    ($(#[doc = $doc:literal] $name:ident { $($status:literal => $description:literal),+ $(,)? })+) => {
        $(
            #[doc = $doc]
            pub struct $name;

            impl IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    BTreeMap::from([$(($status.to_string(), problem($description))),+])
                }
            }
        )+
    };
}

problem_responses! {
    /// What any endpoint with a JSON body answers to a body it cannot read.
    BadBody {
        "400" => "Body is not a JSON object",
        "413" => "Body over 16 KiB",
        "415" => "Body is not UTF-8 application/json",
    }
    /// An endpoint that needs a session, without one.
    Unauthenticated {
        "401" => "No valid session",
    }
    /// An unsafe endpoint, asked by another site's page.
    CrossSite {
        "403" => "Cross-origin request",
    }
    /// An endpoint that checks a password behind the account throttle.
    Throttled {
        "429" => "Too many failed password checks for this account (with Retry-After)",
    }
    /// An endpoint that hashes a password or needs the database.
    Busy {
        "503" => "Hashing queue full or database unavailable (with Retry-After)",
    }
}
