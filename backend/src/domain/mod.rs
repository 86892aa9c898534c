//! Domain types that validate on parse: a value of these types is known to follow the rules of
//! the contract, so handlers never re-check them.

mod password;
mod password_hash;
mod username;

pub use password::{PasswordPolicy, check_new_password};
pub use password_hash::{HashFormat, PasswordHash, Verification, hash_password, verify_password};
pub use username::Username;

use serde::Serialize;
use utoipa::ToSchema;

/// One field-level problem, as listed in a problem's `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The request field, e.g. `password`.
    #[schema(example = "password")]
    pub field: String,
    /// Stable snake_case code: `required`, `invalid_type`, `too_short`, `too_long`,
    /// `invalid_characters` or `too_weak`.
    #[schema(example = "too_short")]
    pub code: String,
    /// A sentence for people.
    #[schema(example = "Password must be at least 8 characters.")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}
