//! Domain types that validate on parse, and the codes the API speaks in. A value of these types is
//! known to follow the rules of the contract, so nobody re-checks them. This layer knows nothing of
//! HTTP or storage: it imports neither actix nor Diesel (a test in `tests/api/architecture.rs`
//! checks).

mod events;
mod passkey;
mod password;
mod password_hash;
mod return_url;
mod second_factor;
mod session;
mod username;

pub use events::{EventKind, Origin};
pub use passkey::{CEREMONY_SECS, MAX_PASSKEYS_PER_USER, PASSKEY_NAME_MAX, parse_passkey_name};
pub use password::{PASSWORD_MAX_LENGTH, PasswordPolicy, check_length_limit};
pub use password_hash::{
    HashFormat, PasswordHash, Verification, hash_password, spend_iterations, verify_password,
};
pub use return_url::{RedirectHosts, ReturnUrl, normalize_host};
pub use second_factor::{
    RECOVERY_CODE_COUNT, new_recovery_code, normalize_recovery_code, parse_totp_code,
    recovery_code_hash,
};
pub use session::{SessionState, StartedSession, new_public_id, new_session_key, session_key_hash};
pub use username::Username;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user as everyone may see it: never a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i32,
    /// The form registered (trimmed, NFKC).
    pub username: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// What is wrong with one field, for programs: stable snake_case codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldCode {
    /// Absent, or empty where a value is needed.
    Required,
    /// A JSON value of the wrong type (including `null`).
    InvalidType,
    /// A field the endpoint does not know.
    UnknownField,
    TooShort,
    TooLong,
    InvalidCharacters,
    /// A password that is too easy to guess.
    TooWeak,
    /// Two fields of which exactly one must be sent (`code` or `recovery_code`).
    OneOf,
    /// A value of the right type whose content is not what the field holds (a WebAuthn
    /// credential that is not one).
    Malformed,
}

impl FieldCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::InvalidType => "invalid_type",
            Self::UnknownField => "unknown_field",
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::InvalidCharacters => "invalid_characters",
            Self::TooWeak => "too_weak",
            Self::OneOf => "one_of",
            Self::Malformed => "malformed",
        }
    }
}

impl std::fmt::Display for FieldCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field-level problem, as listed in a problem's `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The request field, e.g. `password`.
    #[schema(example = "password")]
    pub field: String,
    #[schema(example = "too_short")]
    pub code: FieldCode,
    /// A sentence for people.
    #[schema(example = "Password must be at least 8 characters.")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: FieldCode, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code,
            message: message.into(),
        }
    }

    /// `{field} is required.`
    pub fn required(field: &str) -> Self {
        Self::new(field, FieldCode::Required, format!("{field} is required."))
    }
}
