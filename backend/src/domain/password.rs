//! The password policy for new passwords: length in Unicode scalar values and a zxcvbn score,
//! with the username counted against the password. Passwords are taken exactly as sent, never
//! trimmed.

use super::{FieldCode, FieldError, Username};

/// The longest password accepted anywhere (Unicode scalar values), at login too.
pub const PASSWORD_MAX_LENGTH: usize = 128;

/// The rules a new password must meet. Built once from the settings
/// (`Settings::password_policy`) and used by every use case that sets a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub min_strength: u8,
}

impl PasswordPolicy {
    /// Checks a new password for `field`; the username (both its forms) counts against the
    /// password's strength.
    pub fn check(&self, field: &str, password: &str, user: &Username) -> Result<(), FieldError> {
        self.check_with_inputs(field, password, &[user.display(), user.key()])
    }

    /// The same, with the words the password must not lean on given directly.
    pub fn check_with_inputs(
        &self,
        field: &str,
        password: &str,
        user_inputs: &[&str],
    ) -> Result<(), FieldError> {
        let chars = password.chars().count();
        if chars == 0 {
            return Err(FieldError::required(field));
        }
        if chars < self.min_length {
            return Err(FieldError::new(
                field,
                FieldCode::TooShort,
                format!("Password must be at least {} characters.", self.min_length),
            ));
        }
        check_length_limit(field, password)?;
        if self.min_strength == 0 {
            return Ok(());
        }
        let entropy = zxcvbn::zxcvbn(password, user_inputs);
        let score = u8::from(entropy.score());
        if score >= self.min_strength {
            return Ok(());
        }
        let mut message = String::from("Password is too easy to guess.");
        if let Some(feedback) = entropy.feedback() {
            if let Some(warning) = feedback.warning() {
                message.push(' ');
                message.push_str(&warning.to_string());
            }
            for suggestion in feedback.suggestions() {
                message.push(' ');
                message.push_str(&suggestion.to_string());
            }
        }
        Err(FieldError::new(field, FieldCode::TooWeak, message))
    }
}

/// The one rule every password field obeys, old or new: at most [`PASSWORD_MAX_LENGTH`]
/// characters. (A longer one cannot be anybody's password, so it is refused before any hash.)
pub fn check_length_limit(field: &str, password: &str) -> Result<(), FieldError> {
    if password.chars().count() > PASSWORD_MAX_LENGTH {
        return Err(FieldError::new(
            field,
            FieldCode::TooLong,
            format!("Password must be at most {PASSWORD_MAX_LENGTH} characters."),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: PasswordPolicy = PasswordPolicy {
        min_length: 8,
        min_strength: 3,
    };
    const LAX: PasswordPolicy = PasswordPolicy {
        min_length: 8,
        min_strength: 0,
    };

    fn code(pw: &str, user: &str) -> Option<FieldCode> {
        let user = Username::parse(user).expect("valid name");
        POLICY.check("password", pw, &user).err().map(|e| e.code)
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(code("", "bob"), Some(FieldCode::Required));
        assert_eq!(code("äöüßäöü", "bob"), Some(FieldCode::TooShort));
        assert_eq!(code(&"x".repeat(129), "bob"), Some(FieldCode::TooLong));
        // 128 four-byte characters are 512 bytes but only 128 characters.
        let emoji = "🦀🐙🦑🐳".repeat(32);
        assert!(LAX.check_with_inputs("password", &emoji, &[]).is_ok());
        let too_long = "🦀🐙🦑🐳".repeat(32) + "🦀";
        let err = LAX
            .check_with_inputs("password", &too_long, &[])
            .expect_err("129");
        assert_eq!(err.code, FieldCode::TooLong);
        assert!(check_length_limit("password", &too_long).is_err());
        assert!(check_length_limit("password", &emoji).is_ok());
    }

    #[test]
    fn weak_passwords_carry_feedback() {
        let bob = Username::parse("bob").expect("valid");
        let err = POLICY
            .check("password", "password1", &bob)
            .expect_err("weak");
        assert_eq!(err.code, FieldCode::TooWeak);
        assert!(err.message.len() > "Password is too easy to guess.".len());
        assert_eq!(code("correct horse battery staple", "bob"), None);
    }

    #[test]
    fn the_username_counts_against_strength() {
        assert_eq!(code("Tr0ub4dor&3", "bob"), None);
        assert_eq!(
            code("rumpelstiltskin42", "rumpelstiltskin42"),
            Some(FieldCode::TooWeak)
        );
    }

    #[test]
    fn strength_zero_only_checks_length() {
        assert!(LAX.check_with_inputs("password", "aaaaaaaa", &[]).is_ok());
        assert!(LAX.check_with_inputs("password", "  spaces  ", &[]).is_ok());
    }
}
