//! Passkeys' values as users give them: the name that tells one passkey from another, and the
//! limits the use cases keep.

use unicode_normalization::UnicodeNormalization as _;

use super::{FieldCode, FieldError};

/// Passkeys one account may have: enough for every device and a spare security key, and a
/// bound on what each sign-in's options list.
pub const MAX_PASSKEYS_PER_USER: i64 = 20;
/// How long a started ceremony (registration or sign-in) waits for its finish.
pub const CEREMONY_SECS: i64 = 5 * 60;
/// The longest passkey name, in characters.
pub const PASSKEY_NAME_MAX: usize = 64;

/// A passkey's name as typed: trimmed, NFC, 1–64 characters, no control or bidirectional
/// formatting characters (a name is shown in lists, where those would garble or disguise it).
pub fn parse_passkey_name(field: &str, typed: &str) -> Result<String, FieldError> {
    let name: String = typed.trim().nfc().collect();
    if name.is_empty() {
        return Err(FieldError::new(
            field,
            FieldCode::Required,
            "Give the passkey a name.",
        ));
    }
    if name.chars().count() > PASSKEY_NAME_MAX {
        return Err(FieldError::new(
            field,
            FieldCode::TooLong,
            format!("A passkey's name has at most {PASSKEY_NAME_MAX} characters."),
        ));
    }
    let disallowed = |c: char| {
        c.is_control()
            || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if name.chars().any(disallowed) {
        return Err(FieldError::new(
            field,
            FieldCode::InvalidCharacters,
            "A passkey's name cannot contain control or text-direction characters.",
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_normalised_and_bounded() {
        assert_eq!(
            parse_passkey_name("name", "  Laptop  ").expect("ok"),
            "Laptop"
        );
        // "é" as e + combining accent becomes the one composed character.
        assert_eq!(
            parse_passkey_name("name", "Cafe\u{301}").expect("ok"),
            "Caf\u{e9}"
        );
        assert_eq!(
            parse_passkey_name("name", &"ß".repeat(PASSKEY_NAME_MAX))
                .expect("64 characters")
                .chars()
                .count(),
            PASSKEY_NAME_MAX
        );
        let code = |typed: &str| parse_passkey_name("name", typed).map_err(|e| e.code);
        assert_eq!(code("   "), Err(FieldCode::Required));
        assert_eq!(
            code(&"a".repeat(PASSKEY_NAME_MAX + 1)),
            Err(FieldCode::TooLong)
        );
        assert_eq!(code("phone\nkey"), Err(FieldCode::InvalidCharacters));
        assert_eq!(
            code("evil\u{202E}gpj.exe"),
            Err(FieldCode::InvalidCharacters)
        );
    }
}
