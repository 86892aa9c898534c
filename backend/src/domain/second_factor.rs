//! The second factor's values as users type them: six-digit authenticator-app codes and
//! single-use recovery codes, and the random tokens of logins waiting for their second step.

use sha2::{Digest as _, Sha256};

/// Recovery codes handed out at once (each usable once).
pub const RECOVERY_CODE_COUNT: usize = 10;

/// Crockford's base32 alphabet, lower case: no `i`, `l`, `o` or `u` to misread or mistype.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// 24 characters of 5 bits: 120 random bits, beyond ASVS 5.0 6.5.2's 112 for lookup secrets
/// stored with a plain hash; shown in six groups of four.
const CODE_CHARS: usize = 24;
const GROUP: usize = 4;

/// A new recovery code as shown to the user: `abcd-efgh-jkmn-pqrs-tvwx-yz01`.
pub fn new_recovery_code() -> String {
    let mut bytes = [0u8; CODE_CHARS];
    rand::fill(&mut bytes);
    let mut code = String::with_capacity(CODE_CHARS + CODE_CHARS / GROUP);
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 && i % GROUP == 0 {
            code.push('-');
        }
        // 32 divides 256: masking keeps every character equally likely.
        code.push(char::from(ALPHABET[usize::from(byte & 0x1f)]));
    }
    code
}

/// The canonical form of a recovery code as typed: case, spaces and hyphens do not matter, and
/// the letters Crockford's base32 reads as digits (`i`, `l` as 1, `o` as 0) are accepted.
/// `None` when it cannot be a recovery code.
pub fn normalize_recovery_code(typed: &str) -> Option<String> {
    let mut code = String::with_capacity(CODE_CHARS);
    for c in typed.chars() {
        let c = match c.to_ascii_lowercase() {
            ' ' | '-' => continue,
            'i' | 'l' => '1',
            'o' => '0',
            c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
            _ => return None,
        };
        if code.len() == CODE_CHARS {
            return None;
        }
        code.push(c);
    }
    (code.len() == CODE_CHARS).then_some(code)
}

/// The stored form of a normalised recovery code (120 random bits: SHA-256 is enough).
pub fn recovery_code_hash(normalized: &str) -> String {
    hex::encode(Sha256::digest(normalized.as_bytes()))
}

/// An authenticator-app code as typed: six ASCII digits, spaces allowed ("123 456").
pub fn parse_totp_code(typed: &str) -> Option<String> {
    let code: String = typed.chars().filter(|c| *c != ' ').collect();
    (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_random_grouped_and_normalize_to_themselves() {
        let a = new_recovery_code();
        let b = new_recovery_code();
        assert_ne!(a, b);
        assert_eq!(a.len(), 29);
        assert_eq!(a.split('-').count(), 6);
        let normalized = normalize_recovery_code(&a).expect("a fresh code is valid");
        assert_eq!(normalized, a.replace('-', ""));
        assert_eq!(
            normalize_recovery_code(&a.to_uppercase().replace('-', " ")).as_deref(),
            Some(normalized.as_str())
        );
    }

    #[test]
    fn recovery_code_typing_mistakes_and_junk() {
        let typed = "IOLx-0000-0000-0000-0000-0000";
        assert_eq!(
            normalize_recovery_code(typed).as_deref(),
            Some("101x00000000000000000000")
        );
        assert_eq!(normalize_recovery_code("abcd"), None);
        assert_eq!(normalize_recovery_code(&"a".repeat(25)), None);
        assert_eq!(normalize_recovery_code(&"u".repeat(24)), None);
        assert_eq!(normalize_recovery_code(&"é".repeat(24)), None);
        assert_eq!(normalize_recovery_code(""), None);
    }

    #[test]
    fn totp_codes_are_six_digits() {
        assert_eq!(parse_totp_code("123456").as_deref(), Some("123456"));
        assert_eq!(parse_totp_code(" 123 456 ").as_deref(), Some("123456"));
        for bad in ["12345", "1234567", "12345a", "１２３４５６", "", "12-456"] {
            assert_eq!(parse_totp_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hashes_are_stable_and_distinct() {
        assert_eq!(recovery_code_hash("a"), recovery_code_hash("a"));
        assert_ne!(recovery_code_hash("a"), recovery_code_hash("b"));
        assert_eq!(recovery_code_hash("a").len(), 64);
    }
}
