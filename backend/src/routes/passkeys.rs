//! Passkeys: registering, listing, renaming and removing them, and signing in with one.
//!
//! WebAuthn's options and credentials keep the JSON form browsers use
//! (`PublicKeyCredential.parseCreationOptionsFromJSON`, `PublicKeyCredential.toJSON()`): binary
//! fields are base64url without padding, and `publicKey` keeps WebAuthn's camelCase name.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::second_factor::{CurrentPasswordRequest, current_password};
use super::{BadBody, Busy, CrossSite, Throttled, Unauthenticated, User, non_empty};
use crate::accounts::{PasskeyCeremony, PasskeyEntry, PasskeyLoginOutcome};
use crate::clock::rfc3339;
use crate::error::{ApiError, Problem};
use crate::http::{ApiJson, AuthUser, Required, session};
use crate::state::AppState;

/// A started ceremony: pass `publicKey` to the browser's WebAuthn call and send its answer back
/// with `ceremony` within five minutes. Each ceremony can be finished once.
#[derive(Serialize, ToSchema)]
pub struct PasskeyChallenge {
    /// Names this ceremony at its finish.
    #[schema(example = "q0yU2w1b8m1dQ2u5Tq7jv1m0X3c9kR4s")]
    pub ceremony: String,
    /// WebAuthn's `PublicKeyCredentialCreationOptionsJSON` (registration) or
    /// `PublicKeyCredentialRequestOptionsJSON` (sign-in): binary fields in base64url.
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: Value,
    /// `conditional` for a sign-in without a name: the options suit passkey autofill (a
    /// button that asks at once leaves `mediation` out of its call).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "conditional")]
    pub mediation: Option<String>,
}

impl From<PasskeyCeremony> for PasskeyChallenge {
    fn from(c: PasskeyCeremony) -> Self {
        let mut options = c.options;
        Self {
            ceremony: c.token.expose_secret().to_owned(),
            public_key: options["publicKey"].take(),
            mediation: options["mediation"].as_str().map(str::to_owned),
        }
    }
}

/// A passkey as its owner sees it.
#[derive(Serialize, ToSchema)]
pub struct PasskeyInfo {
    /// Names it in `/api/me/passkeys/{id}`.
    #[schema(example = "pk_3d9a1c")]
    pub id: String,
    #[schema(example = "Laptop")]
    pub name: String,
    /// RFC 3339, UTC.
    #[schema(example = "2026-12-03T08:00:00Z")]
    pub created_at: String,
    /// RFC 3339, UTC; absent until it is first used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// Whether the passkey may be synced to the user's other devices (a password manager or
    /// platform account), as the authenticator says.
    pub backup_eligible: bool,
    /// Whether it is synced (backed up) now.
    pub backed_up: bool,
}

impl From<PasskeyEntry> for PasskeyInfo {
    fn from(p: PasskeyEntry) -> Self {
        Self {
            id: p.id,
            name: p.name,
            created_at: rfc3339(p.created_at),
            last_used_at: p.last_used_at.map(rfc3339),
            backup_eligible: p.backup_eligible,
            backed_up: p.backed_up,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PasskeyList {
    /// Oldest first.
    pub passkeys: Vec<PasskeyInfo>,
}

/// The browser's answer to a ceremony.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegistrationRequest {
    /// From the start's answer.
    #[schema(required = true, value_type = String, min_length = 1)]
    pub ceremony: Option<SecretString>,
    /// What `navigator.credentials.create()` returned, as `PublicKeyCredential.toJSON()` gives
    /// it: `id`, `rawId`, `type`, `response.clientDataJSON`, `response.attestationObject`
    /// (base64url).
    #[schema(required = true, value_type = Object)]
    pub credential: Option<Value>,
    /// 1–64 characters, trimmed, without control or text-direction characters; default
    /// "Passkey N".
    #[schema(required = false, value_type = String, min_length = 1, max_length = 64, example = "Laptop")]
    pub name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyLoginRequest {
    /// From the start's answer.
    #[schema(required = true, value_type = String, min_length = 1)]
    pub ceremony: Option<SecretString>,
    /// What `navigator.credentials.get()` returned, as `PublicKeyCredential.toJSON()` gives it:
    /// `id`, `rawId`, `type`, `response.clientDataJSON`, `response.authenticatorData`,
    /// `response.signature`, `response.userHandle` (base64url).
    #[schema(required = true, value_type = Object)]
    pub credential: Option<Value>,
    /// As for `POST /api/login`: keep the cookie across browser restarts. Default false.
    #[serde(default)]
    pub remember: bool,
}

/// A passkey's answer at the login's second step.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyAnswer {
    /// From `POST /api/login/second-factor/passkey`.
    #[schema(required = true, value_type = String, min_length = 1)]
    pub ceremony: Option<SecretString>,
    /// What `navigator.credentials.get()` returned, as `PublicKeyCredential.toJSON()` gives it.
    #[schema(required = true, value_type = Object)]
    pub credential: Option<Value>,
}

impl PasskeyAnswer {
    /// The ceremony and the credential, both required.
    pub fn into_parts(self) -> Result<(SecretString, Value), ApiError> {
        ceremony_and_credential(self.ceremony, self.credential)
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenamePasskeyRequest {
    /// 1–64 characters, trimmed, without control or text-direction characters.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 64, example = "Work laptop")]
    pub name: Option<String>,
}

fn ceremony_and_credential(
    ceremony: Option<SecretString>,
    credential: Option<Value>,
) -> Result<(SecretString, Value), ApiError> {
    let mut required = Required::default();
    let ceremony = required.take("ceremony", non_empty(ceremony));
    let credential = required.take("credential", credential);
    match (ceremony, credential) {
        (Some(ceremony), Some(credential)) => Ok((ceremony, credential)),
        _ => Err(required.into_error()),
    }
}

/// The user's passkeys.
#[utoipa::path(
    tag = "passkeys",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The passkeys, oldest first", body = PasskeyList),
        Unauthenticated,
    )
)]
#[get("/api/me/passkeys")]
pub async fn list_passkeys(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let passkeys = state.accounts.passkeys(&auth.0).await?;
    Ok(HttpResponse::Ok().json(PasskeyList {
        passkeys: passkeys.into_iter().map(PasskeyInfo::from).collect(),
    }))
}

/// Start registering a passkey (the password is checked again): the options for
/// `navigator.credentials.create()`. A discoverable credential is preferred (it can sign in
/// without a name), user verification (a PIN or biometric) is required, and the account's
/// passkeys are excluded.
#[utoipa::path(
    tag = "passkeys",
    security(("session_cookie" = [])),
    request_body = CurrentPasswordRequest,
    responses(
        (status = 200, description = "Ceremony started: call navigator.credentials.create({publicKey})", body = PasskeyChallenge),
        BadBody,
        Unauthenticated,
        (status = 403, description = "Wrong password, or a cross-origin request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account has 20 passkeys already (`too_many_passkeys`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing password, wrong types or unknown fields", body = Problem, content_type = "application/problem+json"),
        Throttled,
        (status = 503, description = "Passkeys cannot work with this server's configuration (`passkeys_unavailable`: the detail says what to set), hashing queue full or database unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/me/passkeys/register/start")]
pub async fn start_registration(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    body: ApiJson<CurrentPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let password = current_password(body.0)?;
    let ceremony = state
        .accounts
        .start_passkey_registration(&auth.0, password, state.origin(&req))
        .await?;
    Ok(HttpResponse::Ok().json(PasskeyChallenge::from(ceremony)))
}

/// Finish registering a passkey: the browser's answer is verified (this site's origin, the
/// ceremony's challenge, user verification) and the passkey stored.
#[utoipa::path(
    tag = "passkeys",
    security(("session_cookie" = [])),
    request_body = PasskeyRegistrationRequest,
    responses(
        (status = 201, description = "Registered", body = PasskeyInfo),
        BadBody,
        Unauthenticated,
        (status = 403, description = "The answer did not verify (`passkey_rejected`: another origin or challenge, no user verification), or a cross-origin request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No such ceremony of this user, or it was used or expired (`ceremony_expired`); this authenticator's passkey is registered already (`passkey_exists`); 20 passkeys already (`too_many_passkeys`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing ceremony or credential, a credential that is not a WebAuthn registration (`malformed`), a bad name, wrong types or unknown fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Passkeys cannot work with this server's configuration (`passkeys_unavailable`), or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/me/passkeys/register/finish")]
pub async fn finish_registration(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    body: ApiJson<PasskeyRegistrationRequest>,
) -> Result<HttpResponse, ApiError> {
    let PasskeyRegistrationRequest {
        ceremony,
        credential,
        name,
    } = body.0;
    let (ceremony, credential) = ceremony_and_credential(ceremony, credential)?;
    let added = state
        .accounts
        .finish_passkey_registration(&auth.0, ceremony, credential, name, state.origin(&req))
        .await?;
    Ok(HttpResponse::Created().json(PasskeyInfo::from(added)))
}

/// Rename one of the user's passkeys.
#[utoipa::path(
    tag = "passkeys",
    security(("session_cookie" = [])),
    params(("id" = String, Path, description = "A passkey id from GET /api/me/passkeys")),
    request_body = RenamePasskeyRequest,
    responses(
        (status = 200, description = "Renamed", body = PasskeyInfo),
        BadBody,
        Unauthenticated,
        CrossSite,
        (status = 404, description = "No passkey of this user has this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or bad name, wrong types or unknown fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/me/passkeys/{id}")]
pub async fn rename_passkey(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: ApiJson<RenamePasskeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut required = Required::default();
    let Some(name) = required.take("name", body.0.name) else {
        return Err(required.into_error());
    };
    let renamed = state
        .accounts
        .rename_passkey(&auth.0, path.into_inner(), &name, state.origin(&req))
        .await?;
    Ok(HttpResponse::Ok().json(PasskeyInfo::from(renamed)))
}

/// Remove one of the user's passkeys (the password is checked again). The authenticator still
/// holds its credential; this server no longer accepts it.
#[utoipa::path(
    tag = "passkeys",
    security(("session_cookie" = [])),
    params(("id" = String, Path, description = "A passkey id from GET /api/me/passkeys")),
    request_body = CurrentPasswordRequest,
    responses(
        (status = 204, description = "Removed"),
        BadBody,
        Unauthenticated,
        (status = 403, description = "Wrong password, or a cross-origin request", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No passkey of this user has this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing password, wrong types or unknown fields", body = Problem, content_type = "application/problem+json"),
        Throttled,
        Busy,
    )
)]
#[delete("/api/me/passkeys/{id}")]
pub async fn remove_passkey(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    path: web::Path<String>,
    body: ApiJson<CurrentPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let password = current_password(body.0)?;
    state
        .accounts
        .remove_passkey(&auth.0, path.into_inner(), password, state.origin(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Start a sign-in with a passkey, without a name: options for `navigator.credentials.get()`
/// that any passkey of this site on the user's device answers. With `mediation: "conditional"`
/// the browser offers the passkeys in the username field's autofill. No body is read.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 200, description = "Ceremony started: call navigator.credentials.get({publicKey})", body = PasskeyChallenge),
        CrossSite,
        (status = 429, description = "Rate limited (with Retry-After)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Passkeys cannot work with this server's configuration (`passkeys_unavailable`: the detail says what to set), or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post(
    "/api/login/passkey/start",
    wrap = "actix_web::middleware::from_fn(crate::http::rate_limit::limited)"
)]
pub async fn start_login(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let ceremony = state.accounts.start_passkey_login().await?;
    Ok(HttpResponse::Ok().json(PasskeyChallenge::from(ceremony)))
}

/// Finish a sign-in with a passkey: a verified answer (this site's origin, the ceremony's
/// challenge, user verification, a registered credential) is a complete login, as a password
/// and a second factor are: a new session, remember-me, events. Failures count in the account's
/// login throttle.
#[utoipa::path(
    tag = "auth",
    request_body = PasskeyLoginRequest,
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = User,
            headers(("Set-Cookie" = String, description = "The session cookie, as after a password login"))),
        BadBody,
        (status = 401, description = "Unknown passkey, or an answer that did not verify (`invalid_passkey`)", body = Problem, content_type = "application/problem+json"),
        CrossSite,
        (status = 409, description = "No such ceremony, or it was used or expired (`ceremony_expired`): start again", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing ceremony or credential, a credential that is not a WebAuthn assertion (`malformed`), wrong types or unknown fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited or account throttled (with Retry-After)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Passkeys cannot work with this server's configuration (`passkeys_unavailable`), or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post(
    "/api/login/passkey/finish",
    wrap = "actix_web::middleware::from_fn(crate::http::rate_limit::limited)"
)]
pub async fn finish_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<PasskeyLoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let PasskeyLoginRequest {
        ceremony,
        credential,
        remember,
    } = body.0;
    let (ceremony, credential) = ceremony_and_credential(ceremony, credential)?;
    let outcome = state
        .accounts
        .finish_passkey_login(ceremony, credential, remember, state.origin(&req))
        .await?;
    match outcome {
        PasskeyLoginOutcome::LoggedIn(started) => {
            let (mut res, user) = super::logged_in(&req, &state, started)?;
            Ok(res.json(user))
        }
        PasskeyLoginOutcome::Expired => Err(ApiError::CeremonyExpired),
        PasskeyLoginOutcome::Invalid => Err(ApiError::InvalidPasskey),
        PasskeyLoginOutcome::Throttled { retry_after } => {
            Err(ApiError::TooManyAttempts { retry_after })
        }
    }
}

/// Start the login's second step with a passkey (after a right password, with the pending-login
/// cookie): options for `navigator.credentials.get()` listing the account's passkeys. Send the
/// answer to `POST /api/login/second-factor` as `passkey`. No body is read.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 200, description = "Ceremony started", body = PasskeyChallenge),
        (status = 401, description = "No login waiting here or it expired (`pending_login_expired`: log in again)", body = Problem, content_type = "application/problem+json"),
        CrossSite,
        (status = 409, description = "The account has no passkey (`no_passkeys`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited (with Retry-After)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Passkeys cannot work with this server's configuration (`passkeys_unavailable`), or the database is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post(
    "/api/login/second-factor/passkey",
    wrap = "actix_web::middleware::from_fn(crate::http::rate_limit::limited)"
)]
pub async fn start_second_step(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(token) = session::pending_login_token(&req, &state.settings) else {
        return Err(ApiError::PendingLoginExpired);
    };
    let ceremony = state.accounts.start_passkey_second_step(token).await?;
    Ok(HttpResponse::Ok().json(PasskeyChallenge::from(ceremony)))
}
