//! What every handler can reach, passed through `app_data` (no globals).

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::config::Settings;
use crate::http::limits::ConnectionCounter;
use crate::http::rate_limit::ClientRateLimiter;
use crate::metrics::Metrics;

#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases.
    pub accounts: Accounts,
    pub settings: Arc<Settings>,
    pub metrics: Metrics,
    /// `None` when `LATCHKEY_RATE_LIMIT_PER_MINUTE` is 0.
    pub rate_limiter: Option<Arc<ClientRateLimiter>>,
    /// Open client connections (for `/metrics`).
    pub connections: Arc<ConnectionCounter>,
}

impl AppState {
    /// Where a request came from (client address, user agent), as events and sessions record it.
    pub fn origin(&self, req: &actix_web::HttpRequest) -> crate::domain::Origin {
        crate::http::request_origin(req, &self.settings.trusted_proxies)
    }
}
