//! Usernames: trimmed, NFKC-normalised, 3–32 letters, digits, `_`, `.` or `-`, starting with a
//! letter or digit; compared through a case-insensitive key.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use super::FieldError;

const MIN_CHARS: usize = 3;
const MAX_CHARS: usize = 32;
const FIELD: &str = "username";

/// A valid username: `display` is the form shown (after trim and NFKC), `key` the lower-cased
/// form that uniqueness and login go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    display: String,
    key: String,
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let display: String = raw.trim().nfkc().collect();
        // NFKC can produce surrounding whitespace (e.g. from an ideographic space), so trim again.
        let display = display.trim().to_owned();
        let chars = display.chars().count();
        if chars == 0 {
            return Err(FieldError::new(FIELD, "required", "Username is required."));
        }
        if chars < MIN_CHARS {
            return Err(FieldError::new(
                FIELD,
                "too_short",
                format!("Username must be at least {MIN_CHARS} characters."),
            ));
        }
        if chars > MAX_CHARS {
            return Err(FieldError::new(
                FIELD,
                "too_long",
                format!("Username must be at most {MAX_CHARS} characters."),
            ));
        }
        let mut iter = display.chars();
        let first_ok = iter.next().is_some_and(is_letter_or_digit);
        if !first_ok || !iter.all(|c| is_letter_or_digit(c) || matches!(c, '_' | '.' | '-')) {
            return Err(FieldError::new(
                FIELD,
                "invalid_characters",
                "Username may contain only letters, digits, '_', '.' and '-', and must start \
                 with a letter or digit.",
            ));
        }
        let key = display.to_lowercase();
        Ok(Self { display, key })
    }

    /// The lookup key for a login attempt, or `None` when the input cannot name any account.
    pub fn key_for_login(raw: &str) -> Option<String> {
        Self::parse(raw).ok().map(|u| u.key)
    }

    /// The key the login throttle counts under: the same normalisation as [`Username::key`],
    /// applied to any input (valid or not, existing or not), bounded in length.
    pub fn throttle_key(raw: &str) -> String {
        let normalized: String = raw.trim().nfkc().collect();
        normalized.trim().to_lowercase().chars().take(64).collect()
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    pub fn key(&self) -> &str {
        &self.key
    }
}

fn is_letter_or_digit(c: char) -> bool {
    c.general_category_group() == GeneralCategoryGroup::Letter
        || c.general_category() == unicode_properties::GeneralCategory::DecimalNumber
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(raw: &str) -> String {
        Username::parse(raw).expect_err(raw).code
    }

    #[test]
    fn trims_normalises_and_keys_case_insensitively() {
        let u = Username::parse("  Alice ").expect("valid");
        assert_eq!(u.display(), "Alice");
        assert_eq!(u.key(), "alice");
        let fullwidth = Username::parse("ａｌｉｃｅ").expect("valid");
        assert_eq!(fullwidth.display(), "alice");
        assert_eq!(fullwidth.key(), u.key());
    }

    #[test]
    fn accepts_unicode_letters_digits_and_punctuation() {
        for ok in ["zoë", "Ōsaka-2", "用户名", "a.b_c-d", "١٢٣abc", "abc"] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_with_stable_codes() {
        assert_eq!(code(""), "required");
        assert_eq!(code("   "), "required");
        assert_eq!(code("ab"), "too_short");
        assert_eq!(code(&"a".repeat(33)), "too_long");
        assert_eq!(code("_abc"), "invalid_characters");
        assert_eq!(code("a b c"), "invalid_characters");
        assert_eq!(code("bob!"), "invalid_characters");
        assert_eq!(code("zero\u{200b}width"), "invalid_characters");
        assert_eq!(code("nul\u{0}x"), "invalid_characters");
        assert_eq!(code("emoji😀"), "invalid_characters");
        // Combining marks are category M, not L: a decomposed accent that NFKC cannot compose.
        assert_eq!(code("abc\u{0301}\u{0301}"), "invalid_characters");
    }

    #[test]
    fn length_counts_scalar_values_after_normalisation() {
        assert!(Username::parse(&"é".repeat(32)).is_ok());
        // "ﬀ" (U+FB00) becomes "ff" under NFKC: 17 of them are 34 characters.
        assert_eq!(code(&"\u{fb00}".repeat(17)), "too_long");
    }
}
