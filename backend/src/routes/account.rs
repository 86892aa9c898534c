//! The logged-in user's account: who is logged in, change the password, delete the account, see
//! and end sessions, and the recent security activity.

use actix_identity::Identity;
use actix_web::{HttpRequest, HttpResponse, delete, get, put, web};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{BadBody, Busy, CrossSite, Throttled, Unauthenticated, User, non_empty};
use crate::accounts::{EventEntry, SessionEntry};
use crate::clock::rfc3339;
use crate::domain::EventKind;
use crate::error::{ApiError, Problem};
use crate::http::{ApiJson, AuthUser, Required, session};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// 1–128 characters (an empty one is `required`).
    #[schema(required = true, value_type = String, format = Password, min_length = 1, max_length = 128)]
    pub current_password: Option<SecretString>,
    /// The same rules as at registration.
    #[schema(required = true, value_type = String, format = Password, min_length = 8, max_length = 128)]
    pub new_password: Option<SecretString>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The current password, checked again: 1–128 characters (an empty one is `required`).
    #[schema(required = true, value_type = String, format = Password, min_length = 1, max_length = 128)]
    pub password: Option<SecretString>,
}

/// One live session of the user.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    /// Opaque; names the session in `DELETE /api/me/sessions/{id}`, never usable as a cookie.
    #[schema(example = "3q2-7w-hO9zpBzGx1a0Fmg")]
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    /// When the session ends unless used again (the earlier of its idle and absolute expiry).
    pub expires_at: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Whether this is the session making the request.
    pub current: bool,
}

impl From<SessionEntry> for SessionInfo {
    fn from(s: SessionEntry) -> Self {
        Self {
            id: s.public_id,
            created_at: rfc3339(s.created_at),
            last_seen_at: rfc3339(s.last_seen_at),
            expires_at: rfc3339(s.ends_at),
            user_agent: s.user_agent,
            ip: s.ip,
            current: s.current,
        }
    }
}

/// One security event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventInfo {
    pub id: i32,
    #[schema(example = "login")]
    pub kind: EventKind,
    pub at: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// A short human-readable detail, for some kinds (`recovery_code_used`: how many remain).
    #[schema(example = json!(null))]
    pub detail: Option<String>,
}

impl From<EventEntry> for EventInfo {
    fn from(e: EventEntry) -> Self {
        Self {
            id: e.id,
            kind: e.kind,
            at: rfc3339(e.at),
            ip: e.ip,
            user_agent: e.user_agent,
            detail: e.detail,
        }
    }
}

/// A list answer, each item in its API form.
fn list<T, U: From<T> + Serialize>(items: Vec<T>) -> HttpResponse {
    HttpResponse::Ok().json(items.into_iter().map(U::from).collect::<Vec<U>>())
}

/// The logged-in user.
#[utoipa::path(
    tag = "account",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The logged-in user", body = User),
        Unauthenticated,
    )
)]
#[get("/api/me")]
pub async fn me(auth: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(User::from(&auth.0.user))
}

/// Change the password. Every other session of the user ends; this one gets a new key.
#[utoipa::path(
    tag = "account",
    security(("session_cookie" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Password changed; other sessions revoked, this session renewed (a new cookie)"),
        BadBody,
        Unauthenticated,
        (status = 403, description = "Wrong current password, or a cross-origin request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing fields, wrong types, unknown fields, or a new password that breaks the rules", body = Problem, content_type = "application/problem+json"),
        Throttled,
        Busy,
    )
)]
#[put("/api/me/password")]
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    body: ApiJson<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let ChangePasswordRequest {
        current_password,
        new_password,
    } = body.0;
    let (current, new) = Required::pair(
        ("current_password", non_empty(current_password)),
        ("new_password", new_password),
    )?;
    let renewed = state
        .accounts
        .change_password(&auth.0, current, new, state.origin(&req))
        .await?;
    session::begin(&req, renewed, state.accounts.clock().now())?;
    Ok(HttpResponse::NoContent().finish())
}

/// Delete the account: the user, their sessions, events and throttle state. The username
/// becomes free again.
#[utoipa::path(
    tag = "account",
    security(("session_cookie" = [])),
    request_body = DeleteAccountRequest,
    responses(
        (status = 204, description = "Account deleted; the cookie is expired"),
        BadBody,
        Unauthenticated,
        (status = 403, description = "Wrong password, or a cross-origin request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing password, wrong types or unknown fields", body = Problem, content_type = "application/problem+json"),
        Throttled,
        Busy,
    )
)]
#[delete("/api/me")]
pub async fn delete_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    identity: Identity,
    body: ApiJson<DeleteAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut required = Required::default();
    let Some(password) = required.take("password", non_empty(body.0.password)) else {
        return Err(required.into_error());
    };
    state
        .accounts
        .delete_account(&auth.0, password, state.origin(&req))
        .await?;
    session::end(identity);
    Ok(HttpResponse::NoContent().finish())
}

/// The user's live sessions, oldest first.
#[utoipa::path(
    tag = "account",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Live sessions", body = [SessionInfo]),
        Unauthenticated,
    )
)]
#[get("/api/me/sessions")]
pub async fn list_sessions(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let sessions = state.accounts.list_sessions(&auth.0).await?;
    Ok(list::<_, SessionInfo>(sessions))
}

/// End one of the user's sessions (ending the current one logs out).
#[utoipa::path(
    tag = "account",
    security(("session_cookie" = [])),
    params(("id" = String, Path, description = "A session id from GET /api/me/sessions")),
    responses(
        (status = 204, description = "Session revoked"),
        Unauthenticated,
        CrossSite,
        (status = 404, description = "No session of this user has this id", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/me/sessions/{id}")]
pub async fn revoke_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let was_current = state
        .accounts
        .revoke_session(&auth.0, &path.into_inner(), state.origin(&req))
        .await?;
    if was_current {
        session::end(identity);
    }
    Ok(HttpResponse::NoContent().finish())
}

/// End every session of the user except this one.
#[utoipa::path(
    tag = "account",
    security(("session_cookie" = [])),
    responses(
        (status = 204, description = "Every other session revoked"),
        Unauthenticated,
        CrossSite,
    )
)]
#[delete("/api/me/sessions")]
pub async fn revoke_other_sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ApiError> {
    state
        .accounts
        .revoke_other_sessions(&auth.0, state.origin(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The user's recent security events, newest first (at most 100).
#[utoipa::path(
    tag = "account",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Recent events, newest first", body = [EventInfo]),
        Unauthenticated,
    )
)]
#[get("/api/me/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let events = state.accounts.list_events(&auth.0).await?;
    Ok(list::<_, EventInfo>(events))
}
