//! Password hashes: PBKDF2-HMAC-SHA256 in PHC string format
//! (`$pbkdf2-sha256$i=1000000,l=32$SALT$HASH`, standard base64 without padding), plus the
//! Werkzeug format of the original Flask app (`pbkdf2:sha256:ITER$salt$hexhash`), which verifies
//! and is then rehashed to PHC.
//!
//! These functions are CPU-bound by design (about 0.1 s at the default work factor): call them
//! only from the hashing pool (`auth::hasher`), never on an async worker.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use sha2::Sha256;
use subtle::ConstantTimeEq;

const SALT_BYTES: usize = 16;
const HASH_BYTES: usize = 32;
const PHC_ID: &str = "pbkdf2-sha256";
/// Werkzeug 3.1's default, used for `pbkdf2:sha256` strings that omit the count.
const WERKZEUG_DEFAULT_ITERATIONS: u32 = 1_000_000;
/// Refuse absurd stored work factors so that a corrupt row cannot pin a hashing thread.
const MAX_ITERATIONS: u32 = 100_000_000;

/// A stored hash, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash {
    pub format: HashFormat,
    pub iterations: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFormat {
    Phc,
    Werkzeug,
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    /// Correct, and the stored hash already meets the configured work factor.
    Match,
    /// Correct, but the stored hash is a legacy format or weaker than configured.
    MatchNeedsRehash,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseHashError {
    #[error("unsupported hash scheme {0:?}")]
    Unsupported(String),
    #[error("malformed password hash")]
    Malformed,
}

impl PasswordHash {
    pub fn parse(stored: &str) -> Result<Self, ParseHashError> {
        if let Some(rest) = stored.strip_prefix('$') {
            return Self::parse_phc(rest);
        }
        if let Some(rest) = stored.strip_prefix("pbkdf2:sha256") {
            return Self::parse_werkzeug(rest);
        }
        let scheme = stored
            .split(['$', ':'])
            .next()
            .unwrap_or_default()
            .chars()
            .take(32)
            .collect();
        Err(ParseHashError::Unsupported(scheme))
    }

    fn parse_phc(rest: &str) -> Result<Self, ParseHashError> {
        let mut parts = rest.split('$');
        let id = parts.next().ok_or(ParseHashError::Malformed)?;
        if id != PHC_ID {
            return Err(ParseHashError::Unsupported(id.chars().take(32).collect()));
        }
        let params = parts.next().ok_or(ParseHashError::Malformed)?;
        let salt = parts.next().ok_or(ParseHashError::Malformed)?;
        let hash = parts.next().ok_or(ParseHashError::Malformed)?;
        if parts.next().is_some() {
            return Err(ParseHashError::Malformed);
        }
        let mut iterations = None;
        let mut length = HASH_BYTES;
        for param in params.split(',') {
            match param.split_once('=') {
                Some(("i", v)) => iterations = v.parse::<u32>().ok(),
                Some(("l", v)) => length = v.parse().map_err(|_| ParseHashError::Malformed)?,
                _ => return Err(ParseHashError::Malformed),
            }
        }
        let salt = B64.decode(salt).map_err(|_| ParseHashError::Malformed)?;
        let hash = B64.decode(hash).map_err(|_| ParseHashError::Malformed)?;
        if hash.len() != length || hash.is_empty() {
            return Err(ParseHashError::Malformed);
        }
        Self::checked(HashFormat::Phc, iterations, salt, hash)
    }

    fn parse_werkzeug(rest: &str) -> Result<Self, ParseHashError> {
        // rest is ":ITER$salt$hex" or "$salt$hex".
        let (iterations, rest) = match rest.strip_prefix(':') {
            Some(r) => {
                let (iter, r) = r.split_once('$').ok_or(ParseHashError::Malformed)?;
                (iter.parse::<u32>().ok(), r)
            }
            None => (
                Some(WERKZEUG_DEFAULT_ITERATIONS),
                rest.strip_prefix('$').ok_or(ParseHashError::Malformed)?,
            ),
        };
        let (salt, hex_hash) = rest.split_once('$').ok_or(ParseHashError::Malformed)?;
        let hash = hex::decode(hex_hash).map_err(|_| ParseHashError::Malformed)?;
        if hash.is_empty() || salt.is_empty() {
            return Err(ParseHashError::Malformed);
        }
        Self::checked(
            HashFormat::Werkzeug,
            iterations,
            salt.as_bytes().to_vec(),
            hash,
        )
    }

    fn checked(
        format: HashFormat,
        iterations: Option<u32>,
        salt: Vec<u8>,
        hash: Vec<u8>,
    ) -> Result<Self, ParseHashError> {
        match iterations {
            Some(i) if (1..=MAX_ITERATIONS).contains(&i) && hash.len() <= 64 => Ok(Self {
                format,
                iterations: i,
                salt,
                hash,
            }),
            _ => Err(ParseHashError::Malformed),
        }
    }

    /// What verifying against this hash costs, in PBKDF2-HMAC-SHA256 block computations: the
    /// iteration count times the 32-byte blocks of its length.
    pub fn work(&self) -> u64 {
        u64::from(self.iterations) * self.hash.len().div_ceil(HASH_BYTES).max(1) as u64
    }

    /// The PHC string of this hash.
    pub fn to_phc(&self) -> String {
        format!(
            "${PHC_ID}$i={},l={}${}${}",
            self.iterations,
            self.hash.len(),
            B64.encode(&self.salt),
            B64.encode(&self.hash)
        )
    }
}

/// Hashes `password` with a fresh random salt; returns the PHC string.
pub fn hash_password(password: &str, iterations: u32) -> String {
    let mut salt = [0u8; SALT_BYTES];
    rand::fill(&mut salt);
    let mut hash = [0u8; HASH_BYTES];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut hash);
    PasswordHash {
        format: HashFormat::Phc,
        iterations,
        salt: salt.to_vec(),
        hash: hash.to_vec(),
    }
    .to_phc()
}

/// Computes (and throws away) `iterations` PBKDF2-HMAC-SHA256 iterations of one block: the
/// same work as verifying against a hash of that many iterations, for answers that must take as
/// long as one.
pub fn spend_iterations(iterations: u64) {
    let mut out = [0u8; HASH_BYTES];
    let rounds = u32::try_from(iterations).unwrap_or(u32::MAX);
    if rounds > 0 {
        pbkdf2::pbkdf2_hmac::<Sha256>(b"padding", b"latchkey-padding", rounds, &mut out);
    }
    std::hint::black_box(out);
}

/// Checks `password` against `stored` in constant time with respect to the hash bytes;
/// `configured_iterations` decides whether a correct password asks for a rehash.
pub fn verify_password(
    password: &str,
    stored: &PasswordHash,
    configured_iterations: u32,
) -> Verification {
    let mut computed = vec![0u8; stored.hash.len()];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password.as_bytes(),
        &stored.salt,
        stored.iterations,
        &mut computed,
    );
    if !bool::from(computed.ct_eq(&stored.hash)) {
        return Verification::Mismatch;
    }
    if stored.format != HashFormat::Phc
        || stored.iterations < configured_iterations
        || stored.hash.len() != HASH_BYTES
        || stored.salt.len() < SALT_BYTES
    {
        Verification::MatchNeedsRehash
    } else {
        Verification::Match
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbkdf2_sha256_known_vector() {
        // RFC 7914 §11 (PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1, dkLen=64).
        let mut out = [0u8; 64];
        pbkdf2::pbkdf2_hmac::<Sha256>(b"passwd", b"salt", 1, &mut out);
        assert_eq!(
            hex::encode(out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
             49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
        );
        // The widely published P="password", S="salt", c=4096, dkLen=32 vector.
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(b"password", b"salt", 4096, &mut out);
        assert_eq!(
            hex::encode(out),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"
        );
    }

    #[test]
    fn phc_round_trip_and_verification() {
        let stored = hash_password("hunter2hunter2", 1000);
        assert!(
            stored.starts_with("$pbkdf2-sha256$i=1000,l=32$"),
            "{stored}"
        );
        let parsed = PasswordHash::parse(&stored).expect("parses");
        assert_eq!(parsed.to_phc(), stored);
        assert_eq!(parsed.salt.len(), 16);
        assert_eq!(
            verify_password("hunter2hunter2", &parsed, 1000),
            Verification::Match
        );
        assert_eq!(
            verify_password("hunter2hunter3", &parsed, 1000),
            Verification::Mismatch
        );
        assert_eq!(
            verify_password("hunter2hunter2", &parsed, 2000),
            Verification::MatchNeedsRehash
        );
        // A stronger stored hash than configured is kept: the work factor is never lowered.
        assert_eq!(
            verify_password("hunter2hunter2", &parsed, 500),
            Verification::Match
        );
    }

    #[test]
    fn salts_are_random() {
        assert_ne!(hash_password("same", 1000), hash_password("same", 1000));
    }

    #[test]
    fn phc_known_string() {
        // Produced independently by Python: hashlib.pbkdf2_hmac('sha256', b'password',
        // b'0123456789abcdef', 1000), salt and hash in standard base64 without padding.
        let stored = PasswordHash::parse(
            "$pbkdf2-sha256$i=1000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$\
             hRRjgXWkW8ResfIvBP99J/T4vkgEmMRV/0tJTOjR59I",
        )
        .expect("parses");
        let verdict = verify_password("password", &stored, 1000);
        assert_eq!(verdict, Verification::Match);
    }

    #[test]
    fn werkzeug_hashes_verify_and_ask_for_rehash() {
        // What werkzeug.security.generate_password_hash("s3cret-pass", "pbkdf2:sha256:1000")
        // stores for the salt "abcdefghijklmnop" (computed with Python's hashlib).
        let parsed = PasswordHash::parse(
            "pbkdf2:sha256:1000$abcdefghijklmnop$\
             b2443c0df37736fc59aed4783ee8904c248ba8cd98ccdfdaa46a3b89739cd13b",
        )
        .expect("parses");
        assert_eq!(parsed.format, HashFormat::Werkzeug);
        assert_eq!(parsed.iterations, 1000);
        assert_eq!(
            verify_password("s3cret-pass", &parsed, 1000),
            Verification::MatchNeedsRehash
        );
        assert_eq!(
            verify_password("wrong", &parsed, 1000),
            Verification::Mismatch
        );
    }

    #[test]
    fn unsupported_and_malformed_hashes_are_errors_not_panics() {
        assert!(matches!(
            PasswordHash::parse("scrypt:32768:8:1$salt$abcd"),
            Err(ParseHashError::Unsupported(s)) if s == "scrypt"
        ));
        assert!(matches!(
            PasswordHash::parse("$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA"),
            Err(ParseHashError::Unsupported(_))
        ));
        for bad in [
            "",
            "$pbkdf2-sha256$",
            "$pbkdf2-sha256$i=x,l=32$AAAA$AAAA",
            "$pbkdf2-sha256$i=0,l=32$AAAA$AAAA",
            "$pbkdf2-sha256$i=1000,l=32$!!$AAAA",
            "pbkdf2:sha256:1000$salt$nothex",
            "pbkdf2:sha256:1000$$00",
        ] {
            assert!(PasswordHash::parse(bad).is_err(), "{bad:?}");
        }
    }
}
