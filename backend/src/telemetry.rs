//! Logging: `tracing`, filtered by `RUST_LOG` (read by `config` as `Settings::log_filter`); pretty
//! on a terminal, JSON lines otherwise. Passwords and cookies are never logged (request types hold
//! passwords as `SecretString`, and no header is logged).
//!
//! Audit events (logins, lockouts, account changes) use the target [`AUDIT`] through the
//! [`audit!`](crate::audit) macro, so that they can be routed or kept apart by that name.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The target of audit log lines.
pub const AUDIT: &str = "latchkey::audit";

/// The server's filter when none is configured.
const SERVER_DEFAULT: &str = "info,actix_server=warn,actix_session=warn";

/// An audit log line: `audit!(info, event = "login", user_id, "logged in")`.
#[macro_export]
macro_rules! audit {
    ($level:ident, $($field:tt)*) => {
        ::tracing::$level!(target: $crate::telemetry::AUDIT, $($field)*)
    };
}

/// The server's logging. A second initialisation (tests) is harmless: the first subscriber stays.
pub fn init(format: Option<LogFormat>, filter: Option<&str>) {
    let filter = EnvFilter::try_new(filter.unwrap_or(SERVER_DEFAULT))
        .unwrap_or_else(|_| EnvFilter::new(SERVER_DEFAULT));
    let format = format.unwrap_or(if std::io::stderr().is_terminal() {
        LogFormat::Pretty
    } else {
        LogFormat::Json
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Pretty => builder.compact().try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// Compact lines on stderr (the admin commands).
pub fn init_compact(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .compact()
        .try_init();
}
