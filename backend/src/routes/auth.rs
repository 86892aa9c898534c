//! Register, login, logout: the three actions of the original app.

use actix_identity::Identity;
use actix_session::SessionExt as _;
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use utoipa::ToSchema;

use super::User;
use crate::auth::session_store::keys;
use crate::auth::{SessionUser, VerifyOutcome};
use crate::client_ip::client_ip;
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
    let user = state
        .db(move |c| Ok(users::insert(c, username.display(), username.key(), &hash)?))
        .await?;
    tracing::info!(user_id = user.id, event = "registered", "account created");
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
    let stored = credentials.as_ref().map(|c| c.password_hash.clone());
    let outcome = state.passwords.verify(password, stored).await?;
    let (credentials, rehash) = match (credentials, outcome) {
        (Some(c), VerifyOutcome::Match { rehash }) => (c, rehash),
        _ => {
            tracing::info!(event = "login_failed", "login failed");
            crate::metrics::record_login(crate::metrics::LoginOutcome::Failure);
            return Err(ApiError::InvalidCredentials);
        }
    };
    if let Some(new_hash) = rehash {
        let (id, old) = (credentials.id, credentials.password_hash.clone());
        let replaced = state
            .db(move |c| Ok(users::replace_hash(c, id, &old, &new_hash)?))
            .await?;
        tracing::info!(user_id = id, replaced, "password hash upgraded");
    }

    let user = credentials.user();
    let session = req.get_session();
    let remember = remember.unwrap_or(false);
    let user_agent: Option<String> = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(256).collect());
    let ip = client_ip(&req, &state.settings.trusted_proxies).map(|ip| ip.to_string());
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
    insert(keys::USER_AGENT, user_agent.into())?;
    insert(keys::IP, ip.into())?;
    Identity::login(&req.extensions(), user.id.to_string())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("identity login: {e}")))?;
    tracing::info!(user_id = user.id, event = "login", remember, "logged in");
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
pub async fn logout(identity: Option<Identity>) -> Result<HttpResponse, ApiError> {
    let identity = identity.ok_or(ApiError::NotAuthenticated)?;
    let user_id = identity.id().unwrap_or_default();
    identity.logout();
    tracing::info!(user_id, event = "logout", "logged out");
    Ok(HttpResponse::NoContent().finish())
}
