//! The password policy for new passwords: length in Unicode scalar values and a zxcvbn score,
//! with the username as a user input. Passwords are taken exactly as sent, never trimmed.

use super::FieldError;
use crate::config::PASSWORD_MAX_LENGTH;

#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub min_strength: u8,
}

/// Checks a new password for `field` against the policy; `user_inputs` are words the password
/// must not lean on (the username).
pub fn check_new_password(
    field: &str,
    password: &str,
    user_inputs: &[&str],
    policy: PasswordPolicy,
) -> Result<(), FieldError> {
    let chars = password.chars().count();
    if chars == 0 {
        return Err(FieldError::new(field, "required", "Password is required."));
    }
    if chars < policy.min_length {
        return Err(FieldError::new(
            field,
            "too_short",
            format!(
                "Password must be at least {} characters.",
                policy.min_length
            ),
        ));
    }
    if chars > PASSWORD_MAX_LENGTH {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("Password must be at most {PASSWORD_MAX_LENGTH} characters."),
        ));
    }
    if policy.min_strength == 0 {
        return Ok(());
    }
    let entropy = zxcvbn::zxcvbn(password, user_inputs);
    let score = u8::from(entropy.score());
    if score >= policy.min_strength {
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
    Err(FieldError::new(field, "too_weak", message))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: PasswordPolicy = PasswordPolicy {
        min_length: 8,
        min_strength: 3,
    };

    fn code(pw: &str, user: &str) -> Option<String> {
        check_new_password("password", pw, &[user], POLICY)
            .err()
            .map(|e| e.code)
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(code("", "bob").as_deref(), Some("required"));
        assert_eq!(code("äöüßäöü", "bob").as_deref(), Some("too_short"));
        assert_eq!(code(&"x".repeat(129), "bob").as_deref(), Some("too_long"));
        // 128 four-byte characters are 512 bytes but only 128 characters.
        let lax = PasswordPolicy {
            min_length: 8,
            min_strength: 0,
        };
        let emoji = "🦀🐙🦑🐳".repeat(32);
        assert!(check_new_password("password", &emoji, &[], lax).is_ok());
        let too_long = "🦀🐙🦑🐳".repeat(32) + "🦀";
        let err = check_new_password("password", &too_long, &[], lax).expect_err("129");
        assert_eq!(err.code, "too_long");
    }

    #[test]
    fn weak_passwords_carry_feedback() {
        let err = check_new_password("password", "password1", &["bob"], POLICY).expect_err("weak");
        assert_eq!(err.code, "too_weak");
        assert!(err.message.len() > "Password is too easy to guess.".len());
        assert_eq!(code("correct horse battery staple", "bob"), None);
    }

    #[test]
    fn the_username_counts_against_strength() {
        assert_eq!(code("Tr0ub4dor&3", "bob"), None);
        assert_eq!(
            code("rumpelstiltskin42", "rumpelstiltskin42").as_deref(),
            Some("too_weak")
        );
    }

    #[test]
    fn strength_zero_only_checks_length() {
        let lax = PasswordPolicy {
            min_length: 8,
            min_strength: 0,
        };
        assert!(check_new_password("password", "aaaaaaaa", &[], lax).is_ok());
        assert!(check_new_password("password", "  spaces  ", &[], lax).is_ok());
    }
}
