//! Password hashing and verification on the hashing pool. A failed check costs the configured
//! work factor whatever is stored: an unknown username is checked against a dummy hash, and a
//! wrong password against a weaker stored hash (imported from Flask, or from before the work
//! factor was raised) is padded with the difference, so that response times name no account.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use super::HashPool;
use crate::domain::{PasswordHash, Verification, hash_password, spend_iterations, verify_password};
use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct Passwords {
    pool: HashPool,
    iterations: u32,
    dummy: Arc<PasswordHash>,
}

/// The result of a login check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyOutcome {
    Mismatch,
    /// Correct; `rehash` carries a new PHC string when the stored one was weak or legacy.
    Match {
        rehash: Option<String>,
    },
}

impl Passwords {
    pub fn new(pool: HashPool, iterations: u32) -> Self {
        // A hash of a random password that nobody can know, at the configured work factor.
        let mut random = [0u8; 32];
        rand::fill(&mut random);
        let dummy = PasswordHash::parse(&hash_password(&hex::encode(random), iterations))
            .expect("a freshly made PHC string parses");
        Self {
            pool,
            iterations,
            dummy: Arc::new(dummy),
        }
    }

    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    pub fn pool(&self) -> &HashPool {
        &self.pool
    }

    /// A PHC string for a new password.
    pub async fn hash(&self, password: SecretString) -> Result<String, ApiError> {
        let iterations = self.iterations;
        self.pool
            .run(move || hash_password(password.expose_secret(), iterations))
            .await
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no account,
    /// so that both paths cost one verification at the configured work factor. A stored hash
    /// that cannot be used (unsupported scheme, corrupt) also costs one and never matches.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<VerifyOutcome, ApiError> {
        let iterations = self.iterations;
        let dummy = self.dummy.clone();
        self.pool
            .run(move || {
                let parsed = stored.as_deref().map(PasswordHash::parse);
                let (target, real) = match &parsed {
                    Some(Ok(hash)) => (hash, true),
                    Some(Err(err)) => {
                        tracing::warn!(error = %err, "stored password hash is unusable");
                        (dummy.as_ref(), false)
                    }
                    None => (dummy.as_ref(), false),
                };
                let secret = password.expose_secret();
                match verify_password(secret, target, iterations) {
                    Verification::Match if real => VerifyOutcome::Match { rehash: None },
                    Verification::MatchNeedsRehash if real => VerifyOutcome::Match {
                        rehash: Some(hash_password(secret, iterations)),
                    },
                    _ => {
                        spend_iterations(u64::from(iterations).saturating_sub(target.work()));
                        VerifyOutcome::Mismatch
                    }
                }
            })
            .await
    }
}
