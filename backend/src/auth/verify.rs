//! Password checks behind the per-account throttle, shared by login and by the account
//! actions that re-check the current password (so a stolen session cannot brute-force it).

use secrecy::SecretString;

use super::VerifyOutcome;
use crate::db::throttles::{self, Attempt};
use crate::db::{self, users::Credentials};
use crate::error::ApiError;
use crate::state::AppState;

/// A password that matched, with the rehash to store when the old hash was weak or legacy.
#[derive(Debug)]
pub struct Verified {
    pub credentials: Credentials,
    pub rehash: Option<String>,
}

/// Counts the attempt against `throttle_key` (refusing with 429 `too_many_attempts` before any
/// hash when the key is locked), verifies `password` against `credentials` (or a dummy hash when
/// there is no account), and forgives the streak on success. `Ok(None)` is a wrong password.
pub async fn check_password(
    state: &AppState,
    throttle_key: &str,
    credentials: Option<Credentials>,
    password: SecretString,
    action: &'static str,
) -> Result<Option<Verified>, ApiError> {
    let threshold = state.settings.login_throttle_after;
    if threshold > 0 {
        let key = throttle_key.to_owned();
        let attempt = state
            .db(move |c| Ok(throttles::begin_attempt(c, &key, db::now(), threshold)?))
            .await?;
        if let Attempt::Locked { retry_after } = attempt {
            tracing::warn!(
                target: "latchkey::audit",
                event = "login_throttled",
                action,
                username = %throttle_key,
                user_id = credentials.as_ref().map(|c| c.id),
                retry_after,
                "attempt refused: too many failed attempts for this account"
            );
            if action == "login" {
                crate::metrics::record_login_throttled();
            }
            return Err(ApiError::TooManyAttempts {
                retry_after: u64::try_from(retry_after).unwrap_or(1).max(1),
            });
        }
    }
    let stored = credentials.as_ref().map(|c| c.password_hash.clone());
    let outcome = state.passwords.verify(password, stored).await?;
    match (credentials, outcome) {
        (Some(credentials), VerifyOutcome::Match { rehash }) => {
            if threshold > 0 {
                let key = throttle_key.to_owned();
                state.db(move |c| Ok(throttles::reset(c, &key)?)).await?;
            }
            Ok(Some(Verified {
                credentials,
                rehash,
            }))
        }
        _ => Ok(None),
    }
}
