//! Prometheus metrics: one recorder per application (never the process-global one, so that two
//! servers in one process, as in the tests, count apart and tests can assert exact numbers), and
//! the counters the use cases bump. The request middleware that feeds the HTTP series is
//! `http::middleware::observe`. The names and labels are part of the
//! contract (README, "Operations").
//!
//! Labels are bounded on purpose: the route is the route template (never the raw path), unknown
//! methods are `other`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder as _, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

pub const HTTP_REQUESTS: &str = "latchkey_http_requests_total";
pub const HTTP_DURATION: &str = "latchkey_http_request_duration_seconds";
pub const LOGINS: &str = "latchkey_logins_total";
pub const REGISTRATIONS: &str = "latchkey_registrations_total";
pub const HASH_QUEUE_DEPTH: &str = "latchkey_hash_queue_depth";
pub const HASH_THREADS_BUSY: &str = "latchkey_hash_threads_busy";
pub const HASH_REJECTIONS: &str = "latchkey_hash_rejections_total";
pub const ACTIVE_SESSIONS: &str = "latchkey_active_sessions";
pub const OPEN_CONNECTIONS: &str = "latchkey_open_connections";

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
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

const METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// The outcome label of `latchkey_logins_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    Success,
    Failure,
    /// Refused before any hash was computed (per-account throttle).
    Throttled,
    /// Right password of an account with a second factor: the login waits for its second step.
    SecondFactorRequired,
    /// A wrong, replayed or malformed code at the second step.
    SecondFactorFailure,
}

impl LoginOutcome {
    pub const ALL: [Self; 5] = [
        Self::Success,
        Self::Failure,
        Self::Throttled,
        Self::SecondFactorRequired,
        Self::SecondFactorFailure,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Throttled => "throttled",
            Self::SecondFactorRequired => "second_factor_required",
            Self::SecondFactorFailure => "second_factor_failure",
        }
    }
}

/// What the gauges show, measured at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    pub hash_queue_depth: usize,
    pub hash_threads_busy: usize,
    pub active_sessions: i64,
    pub open_connections: usize,
}

/// The metrics of one application.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    logins: [Counter; LoginOutcome::ALL.len()],
    registrations: Counter,
    hash_rejections: Counter,
    hash_queue_depth: Gauge,
    hash_threads_busy: Gauge,
    active_sessions: Gauge,
    open_connections: Gauge,
    /// Requests being served now, and requests finished since start (for the shutdown log).
    in_flight: AtomicU64,
    finished: AtomicU64,
    /// The HTTP series' handles by method and status, then route, registered on first use:
    /// registering builds a `Key`, which allocates its labels, so a request only looks its series
    /// up here (no allocation once the series exists). Bounded like the labels.
    http_series: RwLock<HttpSeriesByLabels>,
}

/// Method and status, then route.
type HttpSeriesByLabels = HashMap<(&'static str, u16), HashMap<Box<str>, HttpSeries>>;

/// A request counter and the duration histogram of its route.
#[derive(Clone)]
struct HttpSeries {
    requests: Counter,
    duration: Histogram,
}

impl HttpSeries {
    fn record(&self, seconds: f64) {
        self.requests.increment(1);
        self.duration.record(seconds);
    }
}

/// A request being served: counted in flight until dropped (finished, failed or abandoned when
/// its client went away).
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.inner.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.inner.finished.fetch_add(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), &DURATION_BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        describe(&recorder);
        let counter = |name: &'static str, labels: Vec<Label>| {
            recorder.register_counter(&Key::from_parts(name, labels), &METADATA)
        };
        // Every counter series exists from the start, at 0: a missing series reads as "no data".
        let logins = LoginOutcome::ALL
            .map(|outcome| counter(LOGINS, vec![Label::new("outcome", outcome.label())]));
        for c in &logins {
            c.increment(0);
        }
        let registrations = counter(REGISTRATIONS, vec![]);
        registrations.increment(0);
        let hash_rejections = counter(HASH_REJECTIONS, vec![]);
        hash_rejections.increment(0);
        let gauge = |name: &'static str| recorder.register_gauge(&Key::from_name(name), &METADATA);
        let hash_queue_depth = gauge(HASH_QUEUE_DEPTH);
        let hash_threads_busy = gauge(HASH_THREADS_BUSY);
        let active_sessions = gauge(ACTIVE_SESSIONS);
        let open_connections = gauge(OPEN_CONNECTIONS);
        let handle = recorder.handle();
        Self {
            inner: Arc::new(Inner {
                recorder,
                handle,
                logins,
                registrations,
                hash_rejections,
                hash_queue_depth,
                hash_threads_busy,
                active_sessions,
                open_connections,
                in_flight: AtomicU64::new(0),
                finished: AtomicU64::new(0),
                http_series: RwLock::default(),
            }),
        }
    }

    /// Counts one login attempt.
    pub fn login(&self, outcome: LoginOutcome) {
        let index = LoginOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or_default();
        self.inner.logins[index].increment(1);
    }

    /// Counts one account created.
    pub fn registration(&self) {
        self.inner.registrations.increment(1);
    }

    /// Counts one hash job refused because the queue was full.
    pub fn hash_rejected(&self) {
        self.inner.hash_rejections.increment(1);
    }

    /// Counts a request in flight until the returned guard is dropped.
    pub fn start_request(&self) -> InFlight<'_> {
        self.inner.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Requests being served now.
    pub fn requests_in_flight(&self) -> u64 {
        self.inner.in_flight.load(Ordering::Relaxed)
    }

    /// Requests finished since start.
    pub fn requests_finished(&self) -> u64 {
        self.inner.finished.load(Ordering::Relaxed)
    }

    /// Counts and times one HTTP request.
    pub fn request(&self, method: &'static str, route: &str, status: u16, took: Duration) {
        let seconds = took.as_secs_f64();
        {
            let known = self
                .inner
                .http_series
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(series) = known.get(&(method, status)).and_then(|r| r.get(route)) {
                series.record(seconds);
                return;
            }
        }
        let series = self.register_http(method, route, status);
        series.record(seconds);
        self.inner
            .http_series
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((method, status))
            .or_default()
            .insert(route.into(), series);
    }

    fn register_http(&self, method: &'static str, route: &str, status: u16) -> HttpSeries {
        let recorder = &self.inner.recorder;
        let route = Label::new("route", route.to_owned());
        let duration = recorder.register_histogram(
            &Key::from_parts(HTTP_DURATION, vec![route.clone()]),
            &METADATA,
        );
        let requests = recorder.register_counter(
            &Key::from_parts(
                HTTP_REQUESTS,
                vec![
                    Label::new("method", method),
                    route,
                    Label::new("status", status.to_string()),
                ],
            ),
            &METADATA,
        );
        HttpSeries { requests, duration }
    }

    /// The text exposition, with the gauges measured now.
    pub fn render(&self, gauges: Gauges) -> String {
        self.inner
            .hash_queue_depth
            .set(gauges.hash_queue_depth as f64);
        self.inner
            .hash_threads_busy
            .set(gauges.hash_threads_busy as f64);
        self.inner
            .open_connections
            .set(gauges.open_connections as f64);
        let active_sessions = gauges.active_sessions;
        self.inner.active_sessions.set(active_sessions as f64);
        self.inner.handle.run_upkeep();
        self.inner.handle.render()
    }

    /// Folds buffered histogram samples in; run every [`UPKEEP_EVERY`].
    pub fn run_upkeep(&self) {
        self.inner.handle.run_upkeep();
    }
}

fn describe(recorder: &PrometheusRecorder) {
    recorder.describe_counter(
        HTTP_REQUESTS.into(),
        None,
        "HTTP requests by method, route template and status".into(),
    );
    recorder.describe_histogram(
        HTTP_DURATION.into(),
        Some(Unit::Seconds),
        "HTTP request duration by route template".into(),
    );
    recorder.describe_counter(
        LOGINS.into(),
        None,
        "Login attempts by outcome: success, failure, throttled".into(),
    );
    recorder.describe_counter(
        REGISTRATIONS.into(),
        None,
        "Accounts created through the API".into(),
    );
    recorder.describe_counter(
        HASH_REJECTIONS.into(),
        None,
        "Password hash jobs refused because the queue was full (503 server_busy)".into(),
    );
    recorder.describe_gauge(
        HASH_QUEUE_DEPTH.into(),
        None,
        "Password hash jobs waiting for a thread".into(),
    );
    recorder.describe_gauge(
        HASH_THREADS_BUSY.into(),
        None,
        "Hashing threads computing a hash right now".into(),
    );
    recorder.describe_gauge(
        OPEN_CONNECTIONS.into(),
        None,
        "Client connections open right now".into(),
    );
    recorder.describe_gauge(
        ACTIVE_SESSIONS.into(),
        None,
        "Sessions neither expired nor idle, across all users".into(),
    );
}

/// The method label: the standard methods by name, anything else `other` (methods are
/// arbitrary tokens: a client must not be able to mint label values).
pub fn method_label(method: &str) -> &'static str {
    const STANDARD: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
    ];
    STANDARD
        .into_iter()
        .find(|m| *m == method)
        .unwrap_or("other")
}

/// The route label, in metrics and in the request log line alike: the matched route template,
/// `static` for the SPA's files that the default service served, and `unmatched` for everything
/// else that matched no route.
pub fn route_label(pattern: Option<String>, status: u16) -> Cow<'static, str> {
    match pattern {
        Some(pattern) => Cow::Owned(pattern),
        None if status < 400 => Cow::Borrowed(STATIC),
        None => Cow::Borrowed(UNMATCHED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == series).then(|| value.parse().expect("a number"))
        })
    }

    #[test]
    fn labels_are_bounded() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("BREW"), "other");
        assert_eq!(method_label("get"), "other");
        assert_eq!(route_label(Some("/api/me".into()), 200), "/api/me");
        assert_eq!(route_label(None, 404), UNMATCHED);
        assert_eq!(route_label(None, 405), UNMATCHED);
        assert_eq!(route_label(None, 200), STATIC);
        assert_eq!(route_label(None, 304), STATIC);
    }

    #[test]
    fn two_applications_count_apart() {
        let one = Metrics::new();
        let two = Metrics::new();
        one.login(LoginOutcome::Success);
        one.login(LoginOutcome::Success);
        two.login(LoginOutcome::Failure);
        one.request("GET", "/api/me", 200, Duration::from_millis(2));
        let text = one.render(Gauges {
            hash_queue_depth: 3,
            hash_threads_busy: 1,
            active_sessions: 7,
            open_connections: 2,
        });
        assert_eq!(
            sample(&text, r#"latchkey_logins_total{outcome="success"}"#),
            Some(2.0)
        );
        assert_eq!(
            sample(&text, r#"latchkey_logins_total{outcome="failure"}"#),
            Some(0.0)
        );
        assert_eq!(sample(&text, "latchkey_hash_queue_depth"), Some(3.0));
        assert_eq!(sample(&text, "latchkey_active_sessions"), Some(7.0));
        assert_eq!(sample(&text, "latchkey_hash_threads_busy"), Some(1.0));
        assert_eq!(
            sample(
                &text,
                r#"latchkey_http_requests_total{method="GET",route="/api/me",status="200"}"#
            ),
            Some(1.0)
        );
        let other = two.render(Gauges::default());
        assert_eq!(
            sample(&other, r#"latchkey_logins_total{outcome="success"}"#),
            Some(0.0)
        );
        assert_eq!(
            sample(&other, r#"latchkey_logins_total{outcome="failure"}"#),
            Some(1.0)
        );
    }
}
