//! One error type for the whole application: the use cases return it, and every failure becomes
//! an RFC 9457 problem (`application/problem+json`) with a stable `code`. 5xx bodies are generic;
//! the cause chain (kept with `#[source]`) goes to the log.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::FieldError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:latchkey:problem:CODE`.
    #[serde(rename = "type")]
    #[schema(example = "urn:latchkey:problem:validation_failed")]
    pub type_: String,
    #[schema(example = "Validation failed")]
    pub title: String,
    #[schema(example = 422)]
    pub status: u16,
    #[schema(example = "The request body has invalid fields.")]
    pub detail: String,
    /// Stable, snake_case: clients switch on it.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// Field-level problems; present only for `validation_failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed body: {0}")]
    MalformedBody(String),
    #[error("not authenticated")]
    NotAuthenticated,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("cross-origin request refused")]
    CrossOrigin,
    #[error("wrong password")]
    WrongPassword,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("username taken")]
    UsernameTaken,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("request body not received in time")]
    RequestTimeout,
    #[error("request took too long")]
    ProcessingTimeout,
    #[error("too many connections from this client")]
    TooManyConnections,
    #[error("request target too long")]
    UriTooLong,
    #[error("request headers too large")]
    HeadersTooLarge,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("no login waiting for a second factor")]
    PendingLoginExpired,
    #[error("invalid second factor")]
    InvalidSecondFactor,
    #[error("wrong authenticator code")]
    WrongCode,
    #[error("second factor already enabled")]
    SecondFactorEnabled,
    #[error("second factor not enabled")]
    SecondFactorNotEnabled,
    #[error("no enrolment to confirm")]
    NoEnrolment,
    #[error("passkeys unavailable: {0}")]
    PasskeysUnavailable(String),
    #[error("no passkey ceremony to finish")]
    CeremonyExpired,
    #[error("passkey response rejected")]
    PasskeyRejected,
    #[error("passkey already registered")]
    PasskeyExists,
    #[error("too many passkeys")]
    TooManyPasskeys,
    #[error("no passkeys")]
    NoPasskeys,
    #[error("invalid passkey")]
    InvalidPasskey,
    #[error("rate limited")]
    RateLimited { retry_after: u64 },
    #[error("too many attempts")]
    TooManyAttempts { retry_after: u64 },
    #[error("hashing queue full")]
    ServerBusy { retry_after: u64 },
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedBody(_) => "malformed_body",
            Self::NotAuthenticated => "not_authenticated",
            Self::InvalidCredentials => "invalid_credentials",
            Self::CrossOrigin => "cross_origin_request",
            Self::WrongPassword => "wrong_password",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::UsernameTaken => "username_taken",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RequestTimeout => "request_timeout",
            Self::ProcessingTimeout => "processing_timeout",
            Self::TooManyConnections => "too_many_connections",
            Self::UriTooLong => "uri_too_long",
            Self::HeadersTooLarge => "request_header_fields_too_large",
            Self::Validation(_) => "validation_failed",
            Self::PendingLoginExpired => "pending_login_expired",
            Self::InvalidSecondFactor => "invalid_second_factor",
            Self::WrongCode => "wrong_code",
            Self::SecondFactorEnabled => "second_factor_enabled",
            Self::SecondFactorNotEnabled => "second_factor_not_enabled",
            Self::NoEnrolment => "no_enrolment",
            Self::PasskeysUnavailable(_) => "passkeys_unavailable",
            Self::CeremonyExpired => "ceremony_expired",
            Self::PasskeyRejected => "passkey_rejected",
            Self::PasskeyExists => "passkey_exists",
            Self::TooManyPasskeys => "too_many_passkeys",
            Self::NoPasskeys => "no_passkeys",
            Self::InvalidPasskey => "invalid_passkey",
            Self::RateLimited { .. } => "rate_limited",
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::ServerBusy { .. } => "server_busy",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    fn title_and_detail(&self) -> (&'static str, String) {
        let (title, detail) = match self {
            Self::MalformedBody(why) => {
                return (
                    "Malformed body",
                    format!("The request body is not a JSON object: {why}"),
                );
            }
            Self::NotAuthenticated => (
                "Not authenticated",
                "Log in first: this endpoint needs a valid session.",
            ),
            Self::InvalidCredentials => (
                "Invalid credentials",
                "The username or password is incorrect.",
            ),
            Self::CrossOrigin => (
                "Cross-origin request refused",
                "Unsafe requests from another origin are not accepted.",
            ),
            Self::WrongPassword => ("Wrong password", "The current password is incorrect."),
            Self::NotFound => ("Not found", "There is nothing at this address."),
            Self::MethodNotAllowed { allow } => {
                return (
                    "Method not allowed",
                    format!("This endpoint accepts {allow}."),
                );
            }
            Self::UsernameTaken => (
                "Username taken",
                "An account with this username already exists.",
            ),
            Self::PayloadTooLarge => {
                return (
                    "Payload too large",
                    format!(
                        "The request body exceeds the limit of {} bytes.",
                        crate::config::MAX_BODY_BYTES
                    ),
                );
            }
            Self::UnsupportedMediaType => (
                "Unsupported media type",
                "Send the body as UTF-8 JSON with Content-Type: application/json.",
            ),
            Self::RequestTimeout => (
                "Request timeout",
                "The request body did not arrive in time; the connection is closed.",
            ),
            Self::ProcessingTimeout => (
                "Request took too long",
                "The server could not answer in time. Try again shortly.",
            ),
            Self::TooManyConnections => (
                "Too many connections",
                "This client has too many open connections; this one is closed.",
            ),
            Self::UriTooLong => {
                return (
                    "URI too long",
                    format!(
                        "The request target exceeds {} bytes.",
                        crate::config::MAX_URI_BYTES
                    ),
                );
            }
            Self::HeadersTooLarge => {
                return (
                    "Request header fields too large",
                    format!(
                        "The request has more than {} headers or more than {} bytes of them.",
                        crate::config::MAX_HEADERS,
                        crate::config::MAX_HEADER_BYTES
                    ),
                );
            }
            Self::Validation(_) => ("Validation failed", "The request body has invalid fields."),
            Self::PendingLoginExpired => (
                "Log in again",
                "No login is waiting for a second factor here, or it is over five minutes old: \
                 log in with your password again.",
            ),
            Self::InvalidSecondFactor => (
                "Invalid code",
                "The code is wrong, was already used, or is not a recovery code of this account.",
            ),
            Self::WrongCode => (
                "Wrong code",
                "The code is not the authenticator's current code. Check the device's clock and \
                 enter the code the app shows now.",
            ),
            Self::SecondFactorEnabled => (
                "Two-step verification is on",
                "An authenticator app is already set up; turn it off first to set up another.",
            ),
            Self::SecondFactorNotEnabled => (
                "Two-step verification is off",
                "This account has no authenticator app set up.",
            ),
            Self::NoEnrolment => (
                "Nothing to confirm",
                "No authenticator set-up is waiting for its first code (none was started, it was \
                 confirmed already, or it is over 15 minutes old): start again.",
            ),
            Self::PasskeysUnavailable(why) => {
                return (
                    "Passkeys unavailable",
                    format!("Passkeys cannot work with this server's configuration: {why}."),
                );
            }
            Self::CeremonyExpired => (
                "Start again",
                "No passkey ceremony is waiting under this id: it was already used, it is over \
                 five minutes old, or it was never started here. Start again.",
            ),
            Self::PasskeyRejected => (
                "Passkey not accepted",
                "The authenticator's answer did not verify: it was made for another site or \
                 another challenge, or without user verification (a PIN or biometric).",
            ),
            Self::PasskeyExists => (
                "Passkey already registered",
                "This authenticator's passkey is already registered to an account.",
            ),
            Self::TooManyPasskeys => {
                return (
                    "Too many passkeys",
                    format!(
                        "An account can have at most {} passkeys: remove one first.",
                        crate::domain::MAX_PASSKEYS_PER_USER
                    ),
                );
            }
            Self::NoPasskeys => (
                "No passkeys",
                "This account has no passkey: use the authenticator app or a recovery code.",
            ),
            Self::InvalidPasskey => (
                "Passkey not accepted",
                "This passkey is not registered here, or its answer did not verify.",
            ),
            Self::RateLimited { retry_after } => {
                return (
                    "Too many requests",
                    format!(
                        "Too many requests from this client. Try again in {retry_after} seconds."
                    ),
                );
            }
            Self::TooManyAttempts { retry_after } => {
                return (
                    "Too many attempts",
                    format!(
                        "Too many failed logins for this account. Try again in {retry_after} seconds."
                    ),
                );
            }
            Self::ServerBusy { retry_after } => {
                return (
                    "Server busy",
                    format!("The server is busy. Try again in {retry_after} seconds."),
                );
            }
            Self::Unavailable(_) => (
                "Service unavailable",
                "The database is not answering. Try again shortly.",
            ),
            Self::Internal(_) => (
                "Internal server error",
                "Something went wrong on our side; it has been logged.",
            ),
        };
        (title, detail.to_owned())
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after }
            | Self::TooManyAttempts { retry_after }
            | Self::ServerBusy { retry_after } => Some(*retry_after),
            Self::Unavailable(_) | Self::ProcessingTimeout => Some(5),
            _ => None,
        }
    }

    pub fn problem(&self) -> Problem {
        let (title, detail) = self.title_and_detail();
        let code = self.code();
        let errors = match self {
            Self::Validation(errors) => Some(errors.clone()),
            _ => None,
        };
        Problem {
            type_: format!("urn:latchkey:problem:{code}"),
            title: title.to_owned(),
            status: self.status_code().as_u16(),
            detail,
            code: code.to_owned(),
            errors,
        }
    }

    /// The problem for a bare status produced outside our handlers (routing, middleware).
    pub fn for_status(status: StatusCode) -> Option<Self> {
        Some(match status.as_u16() {
            400 => Self::MalformedBody("the request could not be parsed".to_owned()),
            408 => Self::RequestTimeout,
            414 => Self::UriTooLong,
            431 => Self::HeadersTooLarge,
            401 => Self::NotAuthenticated,
            404 => Self::NotFound,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            500 => Self::Internal(anyhow::anyhow!("internal error without a cause")),
            503 => Self::Unavailable(anyhow::anyhow!("a bare 503 from {status}")),
            _ => return None,
        })
    }
}

/// A problem response for any error status: the matching [`ApiError`] where there is one,
/// otherwise a problem named after the status (`bad_gateway`, …).
pub fn status_problem(status: StatusCode) -> HttpResponse {
    if let Some(err) = ApiError::for_status(status) {
        return err.error_response();
    }
    let title = status.canonical_reason().unwrap_or("Error");
    let code = title.to_ascii_lowercase().replace([' ', '-'], "_");
    let problem = Problem {
        type_: format!("urn:latchkey:problem:{code}"),
        title: title.to_owned(),
        status: status.as_u16(),
        detail: title.to_owned() + ".",
        code,
        errors: None,
    };
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(serde_json::to_vec(&problem).unwrap_or_default())
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedBody(_) => StatusCode::BAD_REQUEST,
            Self::NotAuthenticated
            | Self::InvalidCredentials
            | Self::PendingLoginExpired
            | Self::InvalidSecondFactor
            | Self::InvalidPasskey => StatusCode::UNAUTHORIZED,
            Self::CrossOrigin | Self::WrongPassword | Self::WrongCode | Self::PasskeyRejected => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::UsernameTaken
            | Self::SecondFactorEnabled
            | Self::SecondFactorNotEnabled
            | Self::NoEnrolment
            | Self::CeremonyExpired
            | Self::PasskeyExists
            | Self::TooManyPasskeys
            | Self::NoPasskeys => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::ProcessingTimeout => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyConnections => StatusCode::TOO_MANY_REQUESTS,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } | Self::TooManyAttempts { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::ServerBusy { .. } | Self::Unavailable(_) | Self::PasskeysUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(err) => tracing::error!(error = ?err, "internal error"),
            Self::Unavailable(why) => tracing::error!(error = ?why, "database unavailable"),
            _ => {}
        }
        let problem = self.problem();
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        res.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if let Some(secs) = self.retry_after() {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if let Self::MethodNotAllowed { allow } = self {
            res.insert_header((header::ALLOW, allow.as_str()));
        }
        // Serialising this struct cannot fail; an empty body would still carry the status.
        res.body(serde_json::to_vec(&problem).unwrap_or_default())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        if crate::db::is_connection_lost(&err) {
            return Self::Unavailable(anyhow::Error::new(err).context("database connection"));
        }
        Self::Internal(anyhow::Error::new(err).context("database query"))
    }
}

impl From<crate::db::Error> for ApiError {
    fn from(err: crate::db::Error) -> Self {
        match err {
            crate::db::Error::Unavailable(_) => Self::Unavailable(err.into()),
            // A lost connection is 503 here too: one rule, in `From<diesel::result::Error>`.
            crate::db::Error::Query(query) => query.into(),
            crate::db::Error::Task(_) => Self::Internal(err.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_has_matching_type_code_and_status() {
        let errors = [
            ApiError::MalformedBody("x".into()),
            ApiError::NotAuthenticated,
            ApiError::InvalidCredentials,
            ApiError::CrossOrigin,
            ApiError::WrongPassword,
            ApiError::NotFound,
            ApiError::MethodNotAllowed {
                allow: "POST".into(),
            },
            ApiError::UsernameTaken,
            ApiError::PayloadTooLarge,
            ApiError::UnsupportedMediaType,
            ApiError::RequestTimeout,
            ApiError::ProcessingTimeout,
            ApiError::TooManyConnections,
            ApiError::UriTooLong,
            ApiError::HeadersTooLarge,
            ApiError::Validation(vec![]),
            ApiError::RateLimited { retry_after: 3 },
            ApiError::TooManyAttempts { retry_after: 3 },
            ApiError::ServerBusy { retry_after: 1 },
            ApiError::Unavailable(anyhow::anyhow!("down")),
            ApiError::Internal(anyhow::anyhow!("secret detail /etc/passwd")),
        ];
        for err in errors {
            let p = err.problem();
            assert_eq!(p.type_, format!("urn:latchkey:problem:{}", p.code));
            assert_eq!(p.status, err.status_code().as_u16());
            assert!(!p.detail.contains("/etc/passwd"));
            assert!(!p.detail.contains("down") || p.code != "unavailable");
        }
    }
}
