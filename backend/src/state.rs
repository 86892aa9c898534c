//! What every handler can reach, passed through `app_data` (no globals).

use std::sync::Arc;

use actix_web::web;

use crate::auth::Passwords;
use crate::auth::rate_limit::ClientRateLimiter;
use crate::config::Settings;
use crate::db::{Conn, DbPool};
use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub passwords: Passwords,
    pub settings: Arc<Settings>,
    /// `None` when `LATCHKEY_RATE_LIMIT_PER_MINUTE` is 0.
    pub rate_limiter: Option<Arc<ClientRateLimiter>>,
}

impl AppState {
    /// Runs database work on the blocking pool, with the connection checked out inside it.
    pub async fn db<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await?
    }
}
