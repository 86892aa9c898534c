//! Account management: change the password, delete the account, see and end sessions, and the
//! recent security activity.

use actix_identity::Identity;
use actix_session::SessionExt as _;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::auth::session_store::keys;
use crate::auth::verify::check_password;
use crate::client_ip::request_origin;
use crate::db::events::{self, EventKind};
use crate::db::{self, rfc3339, sessions, throttles, users};
use crate::domain::{PasswordPolicy, Username, check_new_password};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, Required};
use crate::middleware::RememberCookie;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    #[schema(required = true, value_type = String, format = Password)]
    pub current_password: Option<SecretString>,
    /// The same rules as at registration.
    #[schema(required = true, value_type = String, format = Password)]
    pub new_password: Option<SecretString>,
}

#[derive(Deserialize, ToSchema)]
pub struct DeleteAccountRequest {
    /// The current password, checked again.
    #[schema(required = true, value_type = String, format = Password)]
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

/// One security event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventInfo {
    pub id: i32,
    /// `registered`, `login`, `login_failed`, `logout`, `password_changed`, `session_revoked`
    /// or `sessions_revoked`.
    #[schema(example = "login")]
    pub kind: String,
    pub at: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

fn policy(state: &AppState) -> PasswordPolicy {
    PasswordPolicy {
        min_length: usize::from(state.settings.password_min_length),
        min_strength: state.settings.password_min_strength,
    }
}

/// Re-checks the current password of the logged-in user behind the account throttle:
/// 403 `wrong_password` when it does not match.
async fn recheck(
    state: &AppState,
    auth: &AuthUser,
    password: SecretString,
    action: &'static str,
    origin: events::Origin,
) -> Result<(), ApiError> {
    let id = auth.user.id;
    let credentials = state
        .db(move |c| Ok(users::find_credentials_by_id(c, id)?))
        .await?
        .ok_or(ApiError::NotAuthenticated)?;
    let key = Username::throttle_key(&auth.user.username);
    match check_password(state, &key, Some(credentials), password, action).await? {
        Some(_) => Ok(()),
        None => {
            tracing::warn!(
                target: "latchkey::audit",
                event = "password_recheck_failed",
                action,
                user_id = id,
                "wrong current password"
            );
            // The user sees someone guessing with their session in the activity list.
            state
                .db(move |c| Ok(events::record(c, id, EventKind::LoginFailed, &origin)?))
                .await?;
            Err(ApiError::WrongPassword)
        }
    }
}

/// Change the password. Every other session of the user ends; this one gets a new key.
#[utoipa::path(
    put,
    path = "/api/me/password",
    tag = "account",
    security(("session_cookie" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Password changed; other sessions revoked, this session renewed (a new cookie)"),
        (status = 400, description = "Body is not a JSON object", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Wrong current password, or a cross-origin request", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing fields or a new password that breaks the rules", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords for this account (with Retry-After)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Hashing queue full or database unavailable (with Retry-After)", body = Problem, content_type = "application/problem+json"),
    )
)]
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
    let mut required = Required::default();
    // An empty current password is a missing one, not a wrong guess for the throttle to count.
    let current = required.take(
        "current_password",
        current_password.filter(|p| !p.expose_secret().is_empty()),
    );
    let new = required.take("new_password", new_password);
    let (Some(current), Some(new)) = (current, new) else {
        return Err(ApiError::Validation(required.into_errors()));
    };
    let name = auth.user.username.as_str();
    let lower = name.to_lowercase();
    check_new_password(
        "new_password",
        new.expose_secret(),
        &[name, &lower],
        policy(&state),
    )
    .map_err(|e| ApiError::Validation(vec![e]))?;
    let origin = request_origin(&req, &state.settings.trusted_proxies);
    recheck(&state, &auth, current, "change_password", origin.clone()).await?;

    let hash = state.passwords.hash(new).await?;
    let (id, keep) = (auth.user.id, auth.session_id.clone());
    let revoked = state
        .db(move |c| {
            db::write_transaction(c, |c| {
                users::set_hash(c, id, &hash)?;
                let revoked = sessions::delete_others(c, id, keep.as_deref())?;
                events::record(c, id, EventKind::PasswordChanged, &origin)?;
                Ok(revoked)
            })
            .map_err(ApiError::from)
        })
        .await?;
    let session = req.get_session();
    session.renew();
    tracing::info!(
        target: "latchkey::audit",
        event = "password_changed",
        user_id = id,
        other_sessions_revoked = revoked,
        "password changed"
    );
    let mut res = HttpResponse::NoContent().finish();
    if session.get::<bool>(keys::REMEMBER).ok().flatten() == Some(true) {
        let logged_in_at = session
            .get::<i64>(keys::LOGGED_IN_AT)
            .ok()
            .flatten()
            .unwrap_or_else(db::now);
        let left = logged_in_at + db::secs(state.settings.session_max_age) - db::now();
        res.extensions_mut().insert(RememberCookie {
            max_age_secs: left.max(0),
        });
    }
    Ok(res)
}

/// Delete the account: the user, their sessions, events and throttle state. The username
/// becomes free again.
#[utoipa::path(
    delete,
    path = "/api/me",
    tag = "account",
    security(("session_cookie" = [])),
    request_body = DeleteAccountRequest,
    responses(
        (status = 204, description = "Account deleted; the cookie is expired"),
        (status = 400, description = "Body is not a JSON object", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Wrong password, or a cross-origin request", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords for this account (with Retry-After)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    identity: Identity,
    body: ApiJson<DeleteAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut required = Required::default();
    let password = body.0.password.filter(|p| !p.expose_secret().is_empty());
    let Some(password) = required.take("password", password) else {
        return Err(ApiError::Validation(required.into_errors()));
    };
    let origin = request_origin(&req, &state.settings.trusted_proxies);
    recheck(&state, &auth, password, "delete_account", origin).await?;
    let id = auth.user.id;
    let key = Username::throttle_key(&auth.user.username);
    state
        .db(move |c| {
            db::write_transaction(c, |c| {
                users::delete_by_id(c, id)?;
                throttles::reset(c, &key)
            })
            .map_err(ApiError::from)
        })
        .await?;
    identity.logout();
    tracing::info!(
        target: "latchkey::audit",
        event = "account_deleted",
        user_id = id,
        "account deleted"
    );
    Ok(HttpResponse::NoContent().finish())
}

/// The user's live sessions, oldest first.
#[utoipa::path(
    get,
    path = "/api/me/sessions",
    tag = "account",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Live sessions", body = [SessionInfo]),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_sessions(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let id = auth.user.id;
    let idle = db::secs(state.settings.session_idle_timeout);
    let rows = state
        .db(move |c| Ok(sessions::live_for_user(c, id, db::now(), idle)?))
        .await?;
    let list: Vec<SessionInfo> = rows
        .into_iter()
        .map(|row| SessionInfo {
            current: auth.session_id.as_deref() == Some(row.public_id.as_str()),
            created_at: rfc3339(row.created_at),
            last_seen_at: rfc3339(row.last_seen_at),
            expires_at: rfc3339(row.expires_at.min(row.last_seen_at.saturating_add(idle))),
            id: row.public_id,
            user_agent: row.user_agent,
            ip: row.ip,
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// End one of the user's sessions (ending the current one logs out).
#[utoipa::path(
    delete,
    path = "/api/me/sessions/{id}",
    tag = "account",
    security(("session_cookie" = [])),
    params(("id" = String, Path, description = "A session id from GET /api/me/sessions")),
    responses(
        (status = 204, description = "Session revoked"),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Cross-origin request", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No session of this user has this id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    identity: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let public_id = path.into_inner();
    let id = auth.user.id;
    let origin = request_origin(&req, &state.settings.trusted_proxies);
    let target = public_id.clone();
    let found = state
        .db(move |c| {
            let found = sessions::delete_one_for_user(c, id, &target)?;
            if found {
                events::record(c, id, EventKind::SessionRevoked, &origin)?;
            }
            Ok(found)
        })
        .await?;
    if !found {
        return Err(ApiError::NotFound);
    }
    if auth.session_id.as_deref() == Some(public_id.as_str()) {
        identity.logout();
    }
    tracing::info!(target: "latchkey::audit", event = "session_revoked", user_id = id, "session revoked");
    Ok(HttpResponse::NoContent().finish())
}

/// End every session of the user except this one.
#[utoipa::path(
    delete,
    path = "/api/me/sessions",
    tag = "account",
    security(("session_cookie" = [])),
    responses(
        (status = 204, description = "Every other session revoked"),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Cross-origin request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_other_sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let (id, keep) = (auth.user.id, auth.session_id.clone());
    let origin = request_origin(&req, &state.settings.trusted_proxies);
    let revoked = state
        .db(move |c| {
            let revoked = sessions::delete_others(c, id, keep.as_deref())?;
            events::record(c, id, EventKind::SessionsRevoked, &origin)?;
            Ok(revoked)
        })
        .await?;
    tracing::info!(target: "latchkey::audit", event = "sessions_revoked", user_id = id, revoked, "other sessions revoked");
    Ok(HttpResponse::NoContent().finish())
}

/// The user's recent security events, newest first (at most 100).
#[utoipa::path(
    get,
    path = "/api/me/events",
    tag = "account",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "Recent events, newest first", body = [EventInfo]),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_events(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let id = auth.user.id;
    let rows = state
        .db(move |c| Ok(events::recent(c, id, events::KEEP_PER_USER)?))
        .await?;
    let list: Vec<EventInfo> = rows
        .into_iter()
        .map(|e| EventInfo {
            id: e.id,
            kind: e.kind,
            at: rfc3339(e.at),
            ip: e.ip,
            user_agent: e.user_agent,
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}
