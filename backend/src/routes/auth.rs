//! Register, log in, log out: the three actions of the original app.

use actix_identity::Identity;
use actix_web::{HttpRequest, HttpResponse, post, web};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use super::second_factor::SecondFactorChallenge;
use super::{BadBody, Busy, CrossSite, Unauthenticated, User};
use crate::accounts::{LoginAttempt, LoginOutcome, Registration};
use crate::error::{ApiError, Problem};
use crate::http::{ApiJson, AuthUser, Required, session};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3–32 letters, digits, `_`, `.`, `-`, starting with a letter or digit, both as sent and
    /// after trimming and NFKC normalisation; unique case-insensitively.
    #[schema(required = true, value_type = String, min_length = 3, max_length = 32, example = "Alice")]
    pub username: Option<String>,
    /// 8–128 characters (the minimum is configurable upwards), taken exactly as sent; must reach
    /// the configured zxcvbn score.
    #[schema(required = true, value_type = String, format = Password, min_length = 8, max_length = 128, example = "correct horse battery staple")]
    pub password: Option<SecretString>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(required = true, value_type = String, example = "alice")]
    pub username: Option<String>,
    /// At most 128 characters.
    #[schema(required = true, value_type = String, format = Password, max_length = 128, example = "correct horse battery staple")]
    pub password: Option<SecretString>,
    /// Keep the session cookie across browser restarts (Max-Age = the time left of the absolute
    /// session lifetime). Default false: a browser-session cookie.
    #[serde(default)]
    pub remember: bool,
}

/// Create an account. No session is started: log in next.
#[utoipa::path(
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = User),
        BadBody,
        CrossSite,
        (status = 409, description = "Username taken (its normalized form exists)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (codes: required, invalid_type, unknown_field, too_short, too_long, invalid_characters, too_weak)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited (with Retry-After)", body = Problem, content_type = "application/problem+json"),
        Busy,
    )
)]
#[post(
    "/api/register",
    wrap = "actix_web::middleware::from_fn(crate::http::rate_limit::limited)"
)]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let RegisterRequest { username, password } = body.0;
    let (username, password) = Required::pair(("username", username), ("password", password))?;
    let registration = Registration { username, password };
    let user = state
        .accounts
        .register(registration, state.origin(&req))
        .await?;
    Ok(HttpResponse::Created().json(User::from(&user)))
}

/// Log in: verifies the password and starts a session (a new session key: no fixation). For an
/// account with two-step verification, a right password answers `202` instead: nothing is
/// logged in until `POST /api/login/second-factor` gets a code within five minutes.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = User,
            headers(("Set-Cookie" = String, description = "latchkey_session=…; HttpOnly; SameSite=Lax; Path=/ (named __Host-latchkey_session and Secure over https)"))),
        (status = 202, description = "Right password; the account has two-step verification: send a code to /api/login/second-factor (the pending-login cookie this sets lasts five minutes). Not logged in yet.", body = SecondFactorChallenge,
            headers(("Set-Cookie" = String, description = "latchkey_pending_login=…; HttpOnly; SameSite=Strict; Path=/; Max-Age=300 (named __Host-latchkey_pending_login and Secure over https)"))),
        BadBody,
        (status = 401, description = "Unknown username or wrong password (one answer for both)", body = Problem, content_type = "application/problem+json"),
        CrossSite,
        (status = 422, description = "Missing fields, wrong types, unknown fields, or a password over 128 characters", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited or account throttled (with Retry-After)", body = Problem, content_type = "application/problem+json"),
        Busy,
    )
)]
#[post(
    "/api/login",
    wrap = "actix_web::middleware::from_fn(crate::http::rate_limit::limited)"
)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest {
        username,
        password,
        remember,
    } = body.0;
    let (username, password) = Required::pair(("username", username), ("password", password))?;
    let attempt = LoginAttempt {
        username,
        password,
        remember,
    };
    match state.accounts.login(attempt, state.origin(&req)).await? {
        LoginOutcome::LoggedIn(started) => {
            let (mut res, user) = super::logged_in(&req, &state, started)?;
            Ok(res.json(user))
        }
        LoginOutcome::InvalidCredentials => Err(ApiError::InvalidCredentials),
        LoginOutcome::Throttled { retry_after } => Err(ApiError::TooManyAttempts { retry_after }),
        LoginOutcome::SecondFactorRequired(pending) => Ok(
            super::second_factor::second_factor_required(&state, pending),
        ),
    }
}

/// Log out: deletes the session on the server and expires the cookie.
#[utoipa::path(
    tag = "auth",
    security(("session_cookie" = [])),
    responses(
        (status = 204, description = "Logged out; the cookie is expired"),
        Unauthenticated,
        CrossSite,
    )
)]
#[post("/api/logout")]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    identity: Identity,
) -> Result<HttpResponse, ApiError> {
    state.accounts.logout(&auth.0, state.origin(&req)).await?;
    session::end(identity);
    Ok(HttpResponse::NoContent().finish())
}
