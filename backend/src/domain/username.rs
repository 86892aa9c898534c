//! Usernames: trimmed, NFKC-normalised, 3–32 letters, digits, `_`, `.` or `-`, starting with a
//! letter or digit; compared through a case-insensitive key.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use super::{FieldCode, FieldError};

pub const MIN_CHARS: usize = 3;
pub const MAX_CHARS: usize = 32;
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
        // The limits hold for the name as sent too, so that the schema's minLength/maxLength
        // (which see the raw string) never admit what the server refuses.
        let raw_chars = raw.chars().count();
        let display: String = raw.trim().nfkc().collect();
        // NFKC can produce surrounding whitespace (e.g. from an ideographic space), so trim again.
        let display = display.trim().to_owned();
        let chars = display.chars().count();
        if chars == 0 {
            return Err(FieldError::new(
                FIELD,
                FieldCode::Required,
                "Username is required.",
            ));
        }
        if chars < MIN_CHARS || raw_chars < MIN_CHARS {
            return Err(FieldError::new(
                FIELD,
                FieldCode::TooShort,
                format!("Username must be at least {MIN_CHARS} characters."),
            ));
        }
        if chars > MAX_CHARS || raw_chars > MAX_CHARS {
            return Err(FieldError::new(
                FIELD,
                FieldCode::TooLong,
                format!("Username must be at most {MAX_CHARS} characters."),
            ));
        }
        let mut iter = display.chars();
        let first_ok = iter.next().is_some_and(is_letter_or_digit);
        if !first_ok || !iter.all(|c| is_letter_or_digit(c) || matches!(c, '_' | '.' | '-')) {
            return Err(FieldError::new(
                FIELD,
                FieldCode::InvalidCharacters,
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

    /// The confusable skeleton (Unicode TS #39) of the name as shown, lower-cased: names that
    /// look alike share it ("inputuser" with a Cyrillic "ѕ", "paypaI" with a capital i, "modern"
    /// and "rnodern"). Uniqueness goes through it as well as through the key.
    pub fn skeleton(&self) -> String {
        unicode_security::skeleton(&self.display)
            .flat_map(char::to_lowercase)
            .collect()
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

    fn code(raw: &str) -> FieldCode {
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
        assert_eq!(code(""), FieldCode::Required);
        assert_eq!(code("   "), FieldCode::Required);
        assert_eq!(code("ab"), FieldCode::TooShort);
        assert_eq!(code(&"a".repeat(33)), FieldCode::TooLong);
        assert_eq!(code("_abc"), FieldCode::InvalidCharacters);
        assert_eq!(code("a b c"), FieldCode::InvalidCharacters);
        assert_eq!(code("bob!"), FieldCode::InvalidCharacters);
        assert_eq!(code("zero\u{200b}width"), FieldCode::InvalidCharacters);
        assert_eq!(code("nul\u{0}x"), FieldCode::InvalidCharacters);
        assert_eq!(code("emoji😀"), FieldCode::InvalidCharacters);
        // Combining marks are category M, not L: a decomposed accent that NFKC cannot compose.
        assert_eq!(code("abc\u{0301}\u{0301}"), FieldCode::InvalidCharacters);
    }

    #[test]
    fn length_counts_scalar_values_after_normalisation() {
        assert!(Username::parse(&"é".repeat(32)).is_ok());
        // "ﬀ" (U+FB00) becomes "ff" under NFKC: 17 of them are 34 characters.
        assert_eq!(code(&"\u{fb00}".repeat(17)), FieldCode::TooLong);
    }

    #[test]
    fn names_that_look_alike_share_a_skeleton() {
        let skeleton = |raw: &str| Username::parse(raw).expect(raw).skeleton();
        assert_eq!(
            skeleton("inputuser"),
            skeleton("inputu\u{0455}er"),
            "Cyrillic dze"
        );
        assert_eq!(skeleton("paypal"), skeleton("paypaI"), "capital i");
        assert_eq!(skeleton("Alice"), skeleton("alice"));
        assert_ne!(skeleton("alice"), skeleton("alicia"));
        assert_ne!(skeleton("bob"), skeleton("rob"));
    }

    #[test]
    fn the_limits_also_hold_for_the_name_as_sent() {
        // What a schema's minLength/maxLength sees is the raw string: padding that trimming
        // would remove, or a ligature that NFKC would expand, does not slip past either limit.
        assert_eq!(
            code(&format!("{}alice", " ".repeat(30))),
            FieldCode::TooLong
        );
        assert_eq!(code("\u{fb00}a"), FieldCode::TooShort);
        assert!(Username::parse(" alice ").is_ok());
    }
}
