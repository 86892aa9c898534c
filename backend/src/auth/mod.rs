//! Credential machinery: the bounded hashing pool and the password service on top of it (with a
//! dummy verification for unknown usernames), and the authenticator-app factor (TOTP secrets
//! sealed at rest, codes checked with `totp-rs`), and passkeys (WebAuthn, verified by
//! `webauthn-rs`).

pub mod hasher;
pub mod passkeys;
pub mod passwords;
pub mod totp;

pub use hasher::HashPool;
pub use passkeys::RelyingParty;
pub use passwords::{Passwords, VerifyOutcome};
pub use totp::{Authenticator, TotpSealer};
