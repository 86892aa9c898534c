//! Password machinery: the bounded hashing pool and the password service on top of it, with a
//! dummy verification for unknown usernames.

pub mod hasher;
pub mod passwords;

pub use hasher::HashPool;
pub use passwords::{Passwords, VerifyOutcome};
