//! Two-step verification: setting up an authenticator app, recovery codes, and the login's
//! second step.

use actix_web::{HttpRequest, HttpResponse, ResponseError as _, delete, get, post, web};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::passkeys::PasskeyAnswer;
use super::{BadBody, Busy, CrossSite, Throttled, Unauthenticated, User, non_empty};
use crate::accounts::{
    PendingLogin, SecondFactorProof, SecondFactorStatus, SecondStepOutcome, TotpEnrolment,
};
use crate::clock::rfc3339;
use crate::domain::{FieldCode, FieldError};
use crate::error::{ApiError, Problem};
use crate::http::{ApiJson, AuthUser, Required, session};
use crate::state::AppState;

/// The current password, checked again before a change to the second factor.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CurrentPasswordRequest {
    /// The current password: 1–128 characters (an empty one is `required`).
    #[schema(required = true, value_type = String, format = Password, min_length = 1, max_length = 128)]
    pub password: Option<SecretString>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTotpRequest {
    /// The six digits the authenticator app shows now (spaces are ignored).
    #[schema(required = true, value_type = String, min_length = 1, example = "123456")]
    pub code: Option<SecretString>,
}

/// The login's second step: exactly one of `code`, `recovery_code` and `passkey`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1, max_properties = 1)]
pub struct SecondStepRequest {
    /// The six digits the authenticator app shows now (spaces are ignored).
    #[schema(required = false, value_type = String, min_length = 1, example = "123456")]
    pub code: Option<SecretString>,
    /// One of the account's recovery codes (case, spaces and hyphens do not matter); each
    /// works once.
    #[schema(required = false, value_type = String, min_length = 1, example = "7k2m-9qwe-a1b2-c3d4-e5f6-g7h8")]
    pub recovery_code: Option<SecretString>,
    /// A passkey's answer to the ceremony `POST /api/login/second-factor/passkey` started.
    #[schema(required = false, nullable = false)]
    pub passkey: Option<PasskeyAnswer>,
}

/// What an authenticator app needs to be set up. The secret is shown this once.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrolmentInfo {
    /// The secret in base32 (RFC 4648, no padding), to type into an app by hand.
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    pub secret: String,
    /// The `otpauth://totp/…` URI (SHA-1, 6 digits, 30 seconds: the defaults every app assumes).
    #[schema(
        example = "otpauth://totp/Latchkey:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Latchkey"
    )]
    pub otpauth_uri: String,
    /// The URI as a QR code: an SVG document, to show as an image.
    pub qr_code_svg: String,
    /// Seconds left to confirm the set-up with a code.
    #[schema(example = 900)]
    pub expires_in: i64,
}

impl From<TotpEnrolment> for TotpEnrolmentInfo {
    fn from(e: TotpEnrolment) -> Self {
        Self {
            secret: e.secret_base32.expose_secret().to_owned(),
            otpauth_uri: e.uri.expose_secret().to_owned(),
            qr_code_svg: e.qr_svg,
            expires_in: e.expires_in,
        }
    }
}

/// New recovery codes, shown this once: each completes one login instead of an authenticator
/// code. Only their hashes are kept.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    #[schema(example = json!(["7k2m-9qwe-a1b2-c3d4-e5f6-g7h8"]))]
    pub recovery_codes: Vec<String>,
}

/// The user's second factors.
#[derive(Serialize, ToSchema)]
pub struct SecondFactors {
    pub totp: TotpStatus,
    /// Unused recovery codes.
    #[schema(example = 10)]
    pub recovery_codes_left: i64,
    /// Passkeys registered (each also answers the second step while the authenticator app is
    /// on; see `GET /api/me/passkeys`).
    #[schema(example = 1)]
    pub passkeys: i64,
}

#[derive(Serialize, ToSchema)]
pub struct TotpStatus {
    /// Whether logins need an authenticator code (or a recovery code) after the password.
    pub enabled: bool,
    /// RFC 3339, UTC; absent when off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled_at: Option<String>,
}

impl From<SecondFactorStatus> for SecondFactors {
    fn from(s: SecondFactorStatus) -> Self {
        Self {
            totp: TotpStatus {
                enabled: s.totp_enabled_at.is_some(),
                enabled_at: s.totp_enabled_at.map(rfc3339),
            },
            recovery_codes_left: s.recovery_codes_left,
            passkeys: s.passkeys,
        }
    }
}

/// The answer to a right password of an account with a second factor: nothing is logged in
/// yet. Send the code to `POST /api/login/second-factor` (with the cookie this response sets)
/// within `expires_in` seconds.
#[derive(Serialize, ToSchema)]
pub struct SecondFactorChallenge {
    /// Always true: tells this answer apart from a completed login.
    pub second_factor_required: bool,
    /// What the second step accepts: `totp` (an authenticator code), `recovery_code`, and
    /// `passkey` when the account has one.
    #[schema(example = json!(["totp", "recovery_code", "passkey"]))]
    pub methods: Vec<String>,
    #[schema(example = 300)]
    pub expires_in: i64,
}

/// The 202 answer of a login that waits for its second step, with its cookie.
pub fn second_factor_required(state: &AppState, pending: PendingLogin) -> HttpResponse {
    let cookie =
        session::pending_login_cookie(&state.settings, Some(&pending.token), pending.expires_in);
    HttpResponse::Accepted()
        .cookie(cookie)
        .json(SecondFactorChallenge {
            second_factor_required: true,
            methods: pending
                .methods
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect(),
            expires_in: pending.expires_in,
        })
}

/// A current password: an empty one is a missing one, not a wrong guess for the throttle.
pub(super) fn current_password(body: CurrentPasswordRequest) -> Result<SecretString, ApiError> {
    let mut required = Required::default();
    required
        .take("password", non_empty(body.password))
        .ok_or_else(|| required.into_error())
}

/// The login's second step: an authenticator code or a recovery code completes a login whose
/// password was right, exactly as a password-only login does (a new session key, remember-me,
/// events). Wrong codes count in the account's login throttle.
#[utoipa::path(
    tag = "auth",
    request_body = SecondStepRequest,
    responses(
        (status = 200, description = "Logged in; the session cookie is set and the pending login ends", body = User,
            headers(("Set-Cookie" = String, description = "The session cookie, as after a password-only login"))),
        BadBody,
        (status = 401, description = "No login waiting here or it expired (`pending_login_expired`: log in again), or a wrong, used or malformed code or a passkey answer that did not verify (`invalid_second_factor`)", body = Problem, content_type = "application/problem+json"),
        CrossSite,
        (status = 409, description = "The passkey ceremony was used or expired (`ceremony_expired`): start it again", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not exactly one of code, recovery_code and passkey (`one_of`), a passkey answer without its ceremony or credential, wrong types or unknown fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited or account throttled (with Retry-After)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post(
    "/api/login/second-factor",
    wrap = "actix_web::middleware::from_fn(crate::http::rate_limit::limited)"
)]
pub async fn login_second_factor(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<SecondStepRequest>,
) -> Result<HttpResponse, ApiError> {
    let SecondStepRequest {
        code,
        recovery_code,
        passkey,
    } = body.0;
    let proof = match (non_empty(code), non_empty(recovery_code), passkey) {
        (Some(code), None, None) => SecondFactorProof::Code(code),
        (None, Some(code), None) => SecondFactorProof::RecoveryCode(code),
        (None, None, Some(answer)) => {
            let (ceremony, credential) = answer.into_parts()?;
            SecondFactorProof::Passkey {
                ceremony,
                credential,
            }
        }
        (code, recovery_code, passkey) => {
            // Name a field that was sent too many, or `code` when none was.
            let field = match (code.is_some(), recovery_code.is_some(), passkey.is_some()) {
                (true, true, _) => "recovery_code",
                (_, _, true) => "passkey",
                _ => "code",
            };
            return Err(ApiError::Validation(vec![FieldError::new(
                field,
                FieldCode::OneOf,
                "Send exactly one of code (from the authenticator app), recovery_code and passkey.",
            )]));
        }
    };
    let Some(token) = session::pending_login_token(&req, &state.settings) else {
        return Err(ApiError::PendingLoginExpired);
    };
    let outcome = state
        .accounts
        .complete_second_step(token, proof, state.origin(&req))
        .await?;
    match outcome {
        SecondStepOutcome::LoggedIn {
            session: started, ..
        } => {
            let (mut res, user) = super::logged_in(&req, &state, started)?;
            Ok(res
                .cookie(session::pending_login_cookie(&state.settings, None, 0))
                .json(user))
        }
        SecondStepOutcome::Expired => {
            // The cookie names nothing any more: it goes with the answer.
            let mut res = ApiError::PendingLoginExpired.error_response();
            res.add_cookie(&session::pending_login_cookie(&state.settings, None, 0))
                .map_err(|e| ApiError::Internal(e.into()))?;
            Ok(res)
        }
        SecondStepOutcome::CeremonyExpired => Err(ApiError::CeremonyExpired),
        SecondStepOutcome::Invalid => Err(ApiError::InvalidSecondFactor),
        SecondStepOutcome::Throttled { retry_after } => {
            Err(ApiError::TooManyAttempts { retry_after })
        }
    }
}

/// The user's second factors: whether the authenticator app is on, and how many recovery codes
/// are left.
#[utoipa::path(
    tag = "second factor",
    security(("session_cookie" = [])),
    responses(
        (status = 200, description = "The second factors", body = SecondFactors),
        Unauthenticated,
    )
)]
#[get("/api/me/second-factors")]
pub async fn second_factors(
    state: web::Data<AppState>,
    auth: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let status = state.accounts.second_factors(&auth.0).await?;
    Ok(HttpResponse::Ok().json(SecondFactors::from(status)))
}

/// Start setting up an authenticator app (the password is checked again): a new secret, its
/// `otpauth://` URI and QR code. Nothing changes for logins until the set-up is confirmed with a
/// code; starting again replaces an unconfirmed set-up.
#[utoipa::path(
    tag = "second factor",
    security(("session_cookie" = [])),
    request_body = CurrentPasswordRequest,
    responses(
        (status = 200, description = "Set-up started: show the QR code (or the secret) to the user; the secret is not shown again", body = TotpEnrolmentInfo),
        BadBody,
        Unauthenticated,
        (status = 403, description = "Wrong password, or a cross-origin request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An authenticator app is already on (`second_factor_enabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing password, wrong types or unknown fields", body = Problem, content_type = "application/problem+json"),
        Throttled,
        Busy,
    )
)]
#[post("/api/me/totp")]
pub async fn start_totp(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    body: ApiJson<CurrentPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let password = current_password(body.0)?;
    let enrolment = state
        .accounts
        .start_totp(&auth.0, password, state.origin(&req))
        .await?;
    Ok(HttpResponse::Ok().json(TotpEnrolmentInfo::from(enrolment)))
}

/// Confirm the set-up with the code the app shows now: the authenticator app is on from now,
/// and the answer carries the first ten recovery codes (shown this once).
#[utoipa::path(
    tag = "second factor",
    security(("session_cookie" = [])),
    request_body = ConfirmTotpRequest,
    responses(
        (status = 200, description = "Two-step verification is on; keep the recovery codes somewhere safe", body = RecoveryCodes),
        BadBody,
        Unauthenticated,
        (status = 403, description = "Not the app's current code (`wrong_code`: wrong, malformed, or from another secret), or a cross-origin request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No set-up waiting for its first code (`no_enrolment`: none started, already confirmed, or over 15 minutes old)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing code, wrong types or unknown fields", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/me/totp/confirm")]
pub async fn confirm_totp(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    body: ApiJson<ConfirmTotpRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut required = Required::default();
    let Some(code) = required.take("code", non_empty(body.0.code)) else {
        return Err(required.into_error());
    };
    let codes = state
        .accounts
        .confirm_totp(&auth.0, code, state.origin(&req))
        .await?;
    Ok(HttpResponse::Ok().json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Turn the authenticator app off (the password is checked again): the recovery codes go too,
/// and logins need only the password.
#[utoipa::path(
    tag = "second factor",
    security(("session_cookie" = [])),
    request_body = CurrentPasswordRequest,
    responses(
        (status = 204, description = "Two-step verification is off"),
        BadBody,
        Unauthenticated,
        (status = 403, description = "Wrong password, or a cross-origin request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No authenticator app is on (`second_factor_not_enabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing password, wrong types or unknown fields", body = Problem, content_type = "application/problem+json"),
        Throttled,
        Busy,
    )
)]
#[delete("/api/me/totp")]
pub async fn disable_totp(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    body: ApiJson<CurrentPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let password = current_password(body.0)?;
    state
        .accounts
        .disable_totp(&auth.0, password, state.origin(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replace the recovery codes (the password is checked again): ten new ones, shown this once;
/// the old ones stop working.
#[utoipa::path(
    tag = "second factor",
    security(("session_cookie" = [])),
    request_body = CurrentPasswordRequest,
    responses(
        (status = 200, description = "New recovery codes", body = RecoveryCodes),
        BadBody,
        Unauthenticated,
        (status = 403, description = "Wrong password, or a cross-origin request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No authenticator app is on (`second_factor_not_enabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing password, wrong types or unknown fields", body = Problem, content_type = "application/problem+json"),
        Throttled,
        Busy,
    )
)]
#[post("/api/me/recovery-codes")]
pub async fn regenerate_recovery_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: AuthUser,
    body: ApiJson<CurrentPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let password = current_password(body.0)?;
    let codes = state
        .accounts
        .regenerate_recovery_codes(&auth.0, password, state.origin(&req))
        .await?;
    Ok(HttpResponse::Ok().json(RecoveryCodes {
        recovery_codes: codes,
    }))
}
