//! The authenticator-app factor (RFC 6238 TOTP): what every authenticator app supports (SHA-1,
//! six digits, 30-second steps), one step of clock drift either way, codes generated and checked
//! by `totp-rs`. Which steps were already used is the use case's business (kept in the
//! database, so a code is accepted once across every instance).
//!
//! Secrets are kept readable (the server must compute codes) but never in the clear: sealed with
//! ChaCha20-Poly1305 under a key derived (HKDF-SHA256) from the server's secret key, with the
//! user's id as associated data, so a sealed secret copied to another user's row does not open.

use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use totp_rs::{Algorithm, Builder, Totp};

/// RFC 4226 recommends 160 bits.
pub const SECRET_BYTES: usize = 20;
pub const DIGITS: u8 = 6;
pub const STEP_SECS: u64 = 30;
/// Steps of clock drift accepted either way.
pub const SKEW: u16 = 1;
const NONCE_BYTES: usize = 12;
/// Names the derived key's use: another use of the same secret key gets another key.
const KEY_INFO: &[u8] = b"latchkey totp secrets v1";

/// Seals and opens TOTP secrets. Cheap to clone.
#[derive(Clone)]
pub struct TotpSealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for TotpSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSealer(..)")
    }
}

impl TotpSealer {
    /// The sealer of the server whose cookie key is `secret_key` (at least 64 bytes).
    pub fn from_secret_key(secret_key: &[u8]) -> Self {
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(None, secret_key)
            .expand(KEY_INFO, &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self {
            cipher: ChaCha20Poly1305::new(&Key::from(key)),
        }
    }

    /// `nonce ‖ ciphertext ‖ tag` of `secret` for `user_id`, under a fresh random nonce.
    pub fn seal(&self, user_id: i32, secret: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::fill(&mut nonce);
        let aad = user_id.to_be_bytes();
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret,
                    aad: &aad,
                },
            )
            .expect("ChaCha20-Poly1305 encrypts any message shorter than 256 GiB");
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The secret sealed for `user_id`, or `None` when it does not open (another server key,
    /// another user's row, or damaged bytes).
    pub fn open(&self, user_id: i32, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let nonce = <[u8; NONCE_BYTES]>::try_from(nonce).ok()?;
        let aad = user_id.to_be_bytes();
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .ok()
    }
}

/// One user's authenticator: computes and checks codes, and describes itself to apps.
pub struct Authenticator(Totp);

impl Authenticator {
    /// A new random secret of [`SECRET_BYTES`].
    pub fn new_secret() -> Vec<u8> {
        let mut secret = vec![0u8; SECRET_BYTES];
        rand::fill(secret.as_mut_slice());
        secret
    }

    /// The authenticator of `secret`, shown in apps as `issuer: account`. Neither may contain
    /// `:` (usernames cannot; the issuer setting is checked when it is read).
    pub fn new(secret: Vec<u8>, issuer: &str, account: &str) -> anyhow::Result<Self> {
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_skew(SKEW)
            .with_step_duration(STEP_SECS)
            .with_secret(secret)
            .with_issuer(Some(issuer))
            .with_account_name(account)
            .build()
            .map_err(|e| anyhow::anyhow!("building the TOTP authenticator: {e}"))?;
        Ok(Self(totp))
    }

    /// The secret in base32 (RFC 4648, no padding), for typing into an app by hand.
    pub fn secret_base32(&self) -> String {
        self.0.secret().to_base32()
    }

    /// The `otpauth://totp/…` URI apps read from the QR code.
    pub fn uri(&self) -> anyhow::Result<String> {
        self.0
            .to_url()
            .map_err(|e| anyhow::anyhow!("building the otpauth URI: {e}"))
    }

    /// The URI as a QR code, an SVG document (black on white, quiet zone included).
    pub fn qr_svg(&self) -> anyhow::Result<String> {
        let code = qrcode::QrCode::with_error_correction_level(self.uri()?, qrcode::EcLevel::M)?;
        Ok(code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build())
    }

    /// The time step (`unix_secs / 30`) whose code `code` is, within the allowed drift of
    /// `unix_secs`; `None` when it is no such code. (Not whether that step was used already.)
    pub fn matching_step(&self, code: &str, unix_secs: u64) -> Option<u64> {
        self.0.check(code, unix_secs)
    }

    /// The code of the step containing `unix_secs` (tests and the admin's own checks).
    pub fn code_at(&self, unix_secs: u64) -> String {
        self.0.generate(unix_secs).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> TotpSealer {
        TotpSealer::from_secret_key(&[7u8; 64])
    }

    #[test]
    fn sealed_secrets_open_only_for_their_user_and_key() {
        let secret = Authenticator::new_secret();
        let sealed = sealer().seal(42, &secret);
        assert_ne!(
            sealed[NONCE_BYTES..],
            secret[..],
            "never stored in the clear"
        );
        assert_eq!(sealer().open(42, &sealed), Some(secret.clone()));
        assert_eq!(sealer().open(43, &sealed), None, "another user's row");
        assert_eq!(
            TotpSealer::from_secret_key(&[8u8; 64]).open(42, &sealed),
            None
        );
        let mut damaged = sealed.clone();
        *damaged.last_mut().expect("not empty") ^= 1;
        assert_eq!(sealer().open(42, &damaged), None);
        assert_eq!(sealer().open(42, &sealed[..5]), None);
        assert_ne!(
            sealer().seal(42, &secret),
            sealed,
            "a fresh nonce each time"
        );
    }

    #[test]
    fn rfc_6238_test_vector_and_drift_of_one_step() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", truncated to six digits.
        let auth = Authenticator::new(b"12345678901234567890".to_vec(), "Latchkey", "alice")
            .expect("valid");
        assert_eq!(auth.code_at(59), "287082");
        assert_eq!(auth.code_at(1_111_111_109), "081804");
        let now = 1_111_111_109;
        let step = now / STEP_SECS;
        assert_eq!(auth.matching_step("081804", now), Some(step));
        assert_eq!(
            auth.matching_step(&auth.code_at(now - 30), now),
            Some(step - 1)
        );
        assert_eq!(
            auth.matching_step(&auth.code_at(now + 30), now),
            Some(step + 1)
        );
        assert_eq!(auth.matching_step(&auth.code_at(now - 60), now), None);
        assert_eq!(auth.matching_step(&auth.code_at(now + 60), now), None);
        assert_eq!(auth.matching_step("000000", 59), None);
    }

    #[test]
    fn describes_itself_to_apps() {
        let auth = Authenticator::new(vec![0u8; 20], "Latchkey", "Alice").expect("valid");
        assert_eq!(auth.secret_base32(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        let uri = auth.uri().expect("uri");
        assert!(uri.starts_with("otpauth://totp/Latchkey:Alice?"), "{uri}");
        for part in ["secret=AAAA", "issuer=Latchkey"] {
            assert!(uri.contains(part), "{uri} lacks {part}");
        }
        // The defaults every app assumes (SHA-1, 6 digits, 30 s) are left out of the URI.
        assert!(
            !uri.contains("algorithm=") && !uri.contains("period="),
            "{uri}"
        );
        let svg = auth.qr_svg().expect("svg");
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
    }
}
