//! Prometheus metrics: the recorder, the request middleware, the counters the handlers bump and
//! the `GET /metrics` endpoint. The names and labels are part of the contract
//! (`shared/spec/API.md`, "Operations").
//!
//! `metrics` keeps one recorder per process, by design of the crate: it is installed once (the
//! first `Application::build`) and every server in the process reports into it, which is why the
//! API tests assert deltas or observations only they make. Labels are bounded on purpose: the
//! route is the route template (never the raw path), unknown methods are `other`.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

pub const HTTP_REQUESTS: &str = "latchkey_http_requests_total";
pub const HTTP_DURATION: &str = "latchkey_http_request_duration_seconds";
pub const LOGINS: &str = "latchkey_logins_total";
pub const REGISTRATIONS: &str = "latchkey_registrations_total";
pub const HASH_QUEUE_DEPTH: &str = "latchkey_hash_queue_depth";
pub const HASH_REJECTIONS: &str = "latchkey_hash_rejections_total";
pub const ACTIVE_SESSIONS: &str = "latchkey_active_sessions";

/// The route label of requests that no route matched (404s and other refusals).
pub const UNMATCHED: &str = "unmatched";
/// The route label of the SPA's static files, served by the default service.
pub const STATIC: &str = "static";

/// Upper bounds of the request duration histogram, in seconds: from a session check (a few
/// milliseconds) to a login at a high work factor (about a second) and beyond.
const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Histogram samples wait in buffers until upkeep folds them in; without a scrape they would grow.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the process-wide recorder on first use and returns its handle.
pub fn install() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), &DURATION_BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            // Only another library in this process could have done it; ours would stay empty.
            tracing::warn!("a metrics recorder was already installed; /metrics will be incomplete");
        }
        describe();
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("latchkey-metrics".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "metrics upkeep thread not started; scrapes still upkeep");
        }
        handle
    })
}

fn describe() {
    metrics::describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by method, route template and status"
    );
    metrics::describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "HTTP request duration by route template"
    );
    metrics::describe_counter!(
        LOGINS,
        "Login attempts by outcome: success, failure, throttled"
    );
    metrics::describe_counter!(REGISTRATIONS, "Accounts created through the API");
    metrics::describe_counter!(
        HASH_REJECTIONS,
        "Password hash jobs refused because the queue was full (503 server_busy)"
    );
    // Every counter series exists from the start, at 0: a missing series reads as "no data".
    for outcome in [
        LoginOutcome::Success,
        LoginOutcome::Failure,
        LoginOutcome::Throttled,
    ] {
        metrics::counter!(LOGINS, "outcome" => outcome.label()).increment(0);
    }
    metrics::counter!(REGISTRATIONS).increment(0);
    metrics::counter!(HASH_REJECTIONS).increment(0);
}

/// The outcome label of `latchkey_logins_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    Success,
    Failure,
    /// Refused before any hash was computed (per-account throttle or per-client rate limit).
    Throttled,
}

impl LoginOutcome {
    pub fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Throttled => "throttled",
        }
    }
}

/// Counts one login attempt.
pub fn record_login(outcome: LoginOutcome) {
    metrics::counter!(LOGINS, "outcome" => outcome.label()).increment(1);
}

/// Counts one login refused by a throttle (`429`).
pub fn record_login_throttled() {
    record_login(LoginOutcome::Throttled);
}

/// Counts one account created.
pub fn record_registration() {
    metrics::counter!(REGISTRATIONS).increment(1);
}

/// Counts one hash job refused because the queue was full.
pub fn record_hash_rejection() {
    metrics::counter!(HASH_REJECTIONS).increment(1);
}

/// The method label: the standard methods by name, anything else `other` (methods are
/// arbitrary tokens: a client must not be able to mint label values).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// The route label: the matched route template, `static` for the SPA's files that the default
/// service served, and `unmatched` for everything else that matched no route.
fn route_label(pattern: Option<String>, status: u16) -> String {
    match pattern {
        Some(pattern) => pattern,
        None if status < 400 => STATIC.to_owned(),
        None => UNMATCHED.to_owned(),
    }
}

/// Middleware: counts every request and times it, outermost so that it sees the final status
/// (after errors became problems) and the whole latency.
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    // The template comes from the resource map, not from routing: it is known before the call,
    // and stays known when an inner middleware fails and the request is gone.
    let pattern = req.match_pattern();
    let result = next.call(req).await;
    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(err) => err.as_response_error().status_code().as_u16(),
    };
    let route = route_label(pattern, status);
    metrics::histogram!(HTTP_DURATION, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        HTTP_REQUESTS,
        "method" => method,
        "route" => route,
        "status" => status.to_string()
    )
    .increment(1);
    result
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    responses(
        (status = 200, description = "Metrics in the Prometheus text exposition format", content_type = "text/plain", body = String),
        (status = 503, description = "The database does not answer", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn render(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let handle = install();
    let idle = db::secs(state.settings.session_idle_timeout);
    let live = state
        .db(move |c| Ok(db::sessions::count_live(c, db::now(), idle)?))
        .await?;
    handle.run_upkeep();
    // The gauges belong to the server being scraped, not to the process-wide recorder (which
    // several servers share in tests): they are written here, measured at scrape time.
    let mut text = handle.render();
    for (name, help, value) in [
        (
            HASH_QUEUE_DEPTH,
            "Password hash jobs waiting for a thread",
            state.passwords.pool().queue_depth() as i64,
        ),
        (
            ACTIVE_SESSIONS,
            "Sessions neither expired nor idle, across all users",
            live,
        ),
    ] {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::resource("/metrics", "GET").route(web::get().to(render)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(method_label(&Method::GET), "GET");
        let odd = Method::from_bytes(b"BREW").expect("a token");
        assert_eq!(method_label(&odd), "other");
        assert_eq!(route_label(Some("/api/me".into()), 200), "/api/me");
        assert_eq!(route_label(None, 404), UNMATCHED);
        assert_eq!(route_label(None, 405), UNMATCHED);
        assert_eq!(route_label(None, 200), STATIC);
        assert_eq!(route_label(None, 304), STATIC);
    }
}
