//! Credential machinery: the bounded hashing pool and the password service on top of it (with a
//! dummy verification for unknown usernames), and the authenticator-app factor (TOTP secrets
//! sealed at rest, codes checked with `totp-rs`).

pub mod hasher;
pub mod passwords;
pub mod totp;

pub use hasher::HashPool;
pub use passwords::{Passwords, VerifyOutcome};
pub use totp::{Authenticator, TotpSealer};
