//! The current user.

use actix_web::HttpResponse;

use super::User;
use crate::auth::AuthUser;
use crate::error::{ApiError, Problem};

/// The logged-in user.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "account",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The logged-in user", body = User),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn me(auth: AuthUser) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(User::from(&auth.user)))
}
