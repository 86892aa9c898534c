//! Routes, one module per resource, each handler documented with `#[utoipa::path]`.

pub mod account;
pub mod auth;
pub mod docs;
pub mod frontend;
pub mod health;
pub mod me;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, Resource, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::SessionUser;
use crate::auth::rate_limit::rate_limited;
use crate::db::{rfc3339, users::UserRow};
use crate::error::ApiError;

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

impl From<&UserRow> for User {
    fn from(u: &UserRow) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            created_at: rfc3339(u.created_at),
        }
    }
}

impl From<&SessionUser> for User {
    fn from(u: &SessionUser) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            created_at: rfc3339(u.created_at),
        }
    }
}

/// A resource whose undeclared methods get 405 with `Allow` (actix's default is a bare 404/405).
pub fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<actix_web::HttpResponse, _>(ApiError::MethodNotAllowed { allow })
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/register", "POST")
            .route(web::post().to(auth::register))
            .wrap(from_fn(rate_limited)),
    )
    .service(
        resource("/api/login", "POST")
            .route(web::post().to(auth::login))
            .wrap(from_fn(rate_limited)),
    )
    .service(resource("/api/logout", "POST").route(web::post().to(auth::logout)))
    .service(
        resource("/api/me", "GET, DELETE")
            .route(web::get().to(me::me))
            .route(web::delete().to(account::delete_account)),
    )
    .service(resource("/api/me/password", "PUT").route(web::put().to(account::change_password)))
    .service(
        resource("/api/me/sessions", "GET, DELETE")
            .route(web::get().to(account::list_sessions))
            .route(web::delete().to(account::revoke_other_sessions)),
    )
    .service(
        resource("/api/me/sessions/{id}", "DELETE")
            .route(web::delete().to(account::revoke_session)),
    )
    .service(resource("/api/me/events", "GET").route(web::get().to(account::list_events)))
    .service(resource("/api/health", "GET").route(web::get().to(health::health)))
    .service(resource("/api/openapi.json", "GET").route(web::get().to(health::openapi_json)));
    docs::configure(cfg);
    crate::metrics::configure(cfg);
    frontend::configure(cfg);
}

/// Unknown routes: 404 problem.
pub async fn not_found(_req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
