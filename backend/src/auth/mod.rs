//! Authentication machinery: the hashing pool, the password service on top of it, the
//! database-backed session store and the `AuthUser` extractor.

pub mod csrf;
pub mod extractor;
pub mod hasher;
pub mod passwords;
pub mod rate_limit;
pub mod session_store;
pub mod verify;

pub use extractor::{AuthUser, SessionUser};
pub use hasher::HashPool;
pub use passwords::{Passwords, VerifyOutcome};
pub use session_store::DbSessionStore;
