//! Register, login, logout: the three actions of the original app.

use actix_identity::Identity;
use actix_session::SessionExt as _;
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;

use super::User;
use crate::auth::session_store::keys;
use crate::auth::verify::{Verified, check_password};
use crate::auth::{AuthUser, SessionUser};
use crate::client_ip::request_origin;
use crate::db::events::{self, EventKind};
use crate::db::{secs, users};
use crate::domain::{PasswordPolicy, Username, check_new_password};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, Required};
use crate::middleware::RememberCookie;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3–32 letters, digits, `_`, `.`, `-`, starting with a letter or digit; trimmed and
    /// NFKC-normalised; unique case-insensitively.
    #[schema(required = true, value_type = String, example = "Alice")]
    pub username: Option<String>,
    /// 8–128 characters, taken exactly as sent; must reach the configured zxcvbn score.
    #[schema(required = true, value_type = String, format = Password, example = "correct horse battery staple")]
    pub password: Option<SecretString>,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(required = true, value_type = String, example = "alice")]
    pub username: Option<String>,
    #[schema(required = true, value_type = String, format = Password, example = "correct horse battery staple")]
    pub password: Option<SecretString>,
    /// Keep the session cookie across browser restarts (Max-Age = the absolute session
    /// lifetime). Default false: a browser-session cookie.
    #[schema(value_type = bool, default = false)]
    pub remember: Option<bool>,
}

/// Create an account. No session is started: log in next.
#[utoipa::path(
    post,
    path = "/api/register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = User),
        (status = 400, description = "Body is not a JSON object", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Cross-origin request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Username taken (its normalized form exists)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (codes: required, invalid_type, too_short, too_long, invalid_characters, too_weak)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited (with Retry-After)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Hashing queue full or database unavailable (with Retry-After)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let RegisterRequest { username, password } = body.0;
    let mut required = Required::default();
    let raw_username = required.take("username", username);
    let password = required.take("password", password);
    let mut errors = required.into_errors();

    let username = raw_username.map(|raw| Username::parse(&raw)).transpose();
    let username = match username {
        Ok(u) => u,
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let policy = PasswordPolicy {
        min_length: usize::from(state.settings.password_min_length),
        min_strength: state.settings.password_min_strength,
    };
    if let Some(password) = &password {
        let inputs: Vec<&str> = username
            .iter()
            .flat_map(|u| [u.display(), u.key()])
            .collect();
        if let Err(e) = check_new_password("password", password.expose_secret(), &inputs, policy) {
            errors.push(e);
        }
    }
    let (Some(username), Some(password), true) = (username, password, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };

    // A cheap early answer for a taken name; the unique index still decides races.
    let key = username.key().to_owned();
    if state.db(move |c| Ok(users::key_exists(c, &key)?)).await? {
        return Err(ApiError::UsernameTaken);
    }
    let hash = state.passwords.hash(password).await?;
    let origin = request_origin(&req, &state.settings.trusted_proxies);
    let user = state
        .db(move |c| {
            let user = users::insert(c, username.display(), username.key(), &hash)?;
            events::record(c, user.id, EventKind::Registered, &origin)?;
            Ok(user)
        })
        .await?;
    tracing::info!(
        target: "latchkey::audit",
        event = "registered",
        user_id = user.id,
        username = %user.username,
        "account created"
    );
    crate::metrics::record_registration();
    Ok(HttpResponse::Created().json(User::from(&user)))
}

/// Log in: verifies the password and starts a session (a new session key: no fixation).
#[utoipa::path(
    post,
    path = "/api/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = User,
            headers(("Set-Cookie" = String, description = "latchkey_session=…; HttpOnly; SameSite=Lax; Path=/ (named __Host-latchkey_session and Secure over https)"))),
        (status = 400, description = "Body is not a JSON object", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown username or wrong password (one answer for both)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Cross-origin request", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing fields or wrong types", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited or account throttled (with Retry-After)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Hashing queue full or database unavailable (with Retry-After)", body = Problem, content_type = "application/problem+json"),
    )
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
    let mut required = Required::default();
    let username = required.take("username", username);
    let password = required.take("password", password);
    let (Some(username), Some(password)) = (username, password) else {
        return Err(ApiError::Validation(required.into_errors()));
    };

    let origin = request_origin(&req, &state.settings.trusted_proxies);
    let throttle_key = Username::throttle_key(&username);
    // A name that breaks the username rules names no account: it costs the same dummy
    // verification as an unknown one.
    let credentials = match Username::key_for_login(&username) {
        Some(key) => {
            state
                .db(move |c| Ok(users::find_credentials(c, &key)?))
                .await?
        }
        None => None,
    };
    let failed_user = credentials.as_ref().map(|c| c.id);
    let verified = check_password(&state, &throttle_key, credentials, password, "login").await?;
    let Some(Verified {
        credentials,
        rehash,
    }) = verified
    else {
        tracing::info!(
            target: "latchkey::audit",
            event = "login_failed",
            username = %throttle_key,
            user_id = failed_user,
            reason = if failed_user.is_some() { "wrong_password" } else { "unknown_user" },
            client_ip = origin.ip.as_deref().unwrap_or_default(),
            "login failed"
        );
        crate::metrics::record_login(crate::metrics::LoginOutcome::Failure);
        if let Some(user_id) = failed_user {
            let origin = origin.clone();
            state
                .db(move |c| Ok(events::record(c, user_id, EventKind::LoginFailed, &origin)?))
                .await?;
        }
        return Err(ApiError::InvalidCredentials);
    };

    let user = credentials.user();
    {
        let (id, old, origin) = (user.id, credentials.password_hash.clone(), origin.clone());
        state
            .db(move |c| {
                if let Some(new_hash) = rehash {
                    let replaced = users::replace_hash(c, id, &old, &new_hash)?;
                    tracing::info!(user_id = id, replaced, "password hash upgraded");
                }
                Ok(events::record(c, id, EventKind::Login, &origin)?)
            })
            .await?;
    }

    let session = req.get_session();
    let remember = remember.unwrap_or(false);
    let insert = |key: &str, value: serde_json::Value| {
        session
            .insert(key, value)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("session state: {e}")))
    };
    insert(
        keys::USER,
        serde_json::to_value(SessionUser::from(&user)).unwrap_or_default(),
    )?;
    insert(keys::REMEMBER, remember.into())?;
    insert(keys::USER_AGENT, origin.user_agent.clone().into())?;
    insert(keys::IP, origin.ip.clone().into())?;
    Identity::login(&req.extensions(), user.id.to_string())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("identity login: {e}")))?;
    tracing::info!(
        target: "latchkey::audit",
        event = "login_succeeded",
        username = %throttle_key,
        user_id = user.id,
        client_ip = origin.ip.as_deref().unwrap_or_default(),
        remember,
        "logged in"
    );
    crate::metrics::record_login(crate::metrics::LoginOutcome::Success);

    let mut res = HttpResponse::Ok().json(User::from(&user));
    if remember {
        res.extensions_mut().insert(RememberCookie {
            max_age_secs: secs(state.settings.session_max_age),
        });
    }
    Ok(res)
}

/// Log out: deletes the session on the server and expires the cookie.
#[utoipa::path(
    post,
    path = "/api/logout",
    tag = "auth",
    security(("session_cookie" = [])),
    responses(
        (status = 204, description = "Logged out; the cookie is expired"),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Cross-origin request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    identity: Identity,
) -> Result<HttpResponse, ApiError> {
    let user_id = auth.user.id;
    let origin = request_origin(&req, &state.settings.trusted_proxies);
    state
        .db(move |c| Ok(events::record(c, user_id, EventKind::Logout, &origin)?))
        .await?;
    identity.logout();
    tracing::info!(target: "latchkey::audit", event = "logout", user_id, "logged out");
    Ok(HttpResponse::NoContent().finish())
}
