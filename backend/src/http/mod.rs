//! The HTTP layer's machinery, between actix-web and the handlers: middleware (request context,
//! problems for every error, the cross-origin guard, the per-client rate limit), the JSON body
//! extractor, the client's address, and sessions as actix-session sees them. Handlers live in
//! `crate::routes`; what they call lives in `crate::accounts`.

pub mod client_ip;
pub mod csrf;
pub mod extract;
pub mod forwarded;
pub mod limits;
pub mod middleware;
pub mod rate_limit;
pub mod session;

pub use client_ip::{client_ip, request_origin};
pub use extract::{ApiJson, Required};
pub use session::AuthUser;
