//! What a session carries, as one typed value, and its key.
//!
//! The cookie holds a random key; the database keeps only the key's SHA-256, so a copy of the
//! sessions table cannot be replayed as cookies.

use rand::distr::{Alphanumeric, SampleString as _};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::User;

/// Length of a session key: 64 alphanumerics, about 380 bits.
const KEY_CHARS: usize = 64;

/// A live session: who, since when, until when, and whether the browser keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    pub user: User,
    /// Opaque id shown in session listings; unrelated to the key.
    pub public_id: String,
    /// When the login happened (Unix seconds); a renewal keeps it.
    pub logged_in_at: i64,
    /// The absolute end (Unix seconds): `logged_in_at` plus the maximum session age.
    pub expires_at: i64,
    /// Whether the cookie outlives the browser session.
    pub remember: bool,
}

/// A session a use case has just written: the key for the cookie, and the state.
#[derive(Debug)]
pub struct StartedSession {
    pub key: SecretString,
    pub state: SessionState,
}

/// A new random session key.
pub fn new_session_key() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), KEY_CHARS)
}

/// The stored form of a session key.
pub fn session_key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new opaque public id (128 random bits, base64url).
pub fn new_public_id() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_ids_are_random_and_well_formed() {
        let key = new_session_key();
        assert_eq!(key.len(), KEY_CHARS);
        assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(key, new_session_key());
        assert_ne!(new_public_id(), new_public_id());
        assert_eq!(new_public_id().len(), 22);
    }

    #[test]
    fn key_hash_is_sha256_hex() {
        assert_eq!(
            session_key_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
