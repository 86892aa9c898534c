//! Cross-cutting HTTP behaviour, outermost first:
//! - `observe`: counts and times every request for `/metrics`; the request id (propagated when
//!   sane, else generated), a tracing span per request with its completion log line (naming the
//!   same route label as the metrics); the security and caching headers; and `HEAD` served as a
//!   `GET` without a body, wherever `GET` is served;
//! - `problem_fallback`: any error response not already a problem (routing, body limits)
//!   becomes `application/problem+json`; `observe` does the same for errors raised by
//!   middleware (a failing session store).

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError as _};
use tracing::Instrument as _;

use crate::error::{ApiError, PROBLEM_JSON, status_problem};
use crate::metrics::{Metrics, method_label, route_label};

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The client's `X-Request-Id` when it is sane (1 to 128 characters of `[A-Za-z0-9._:-]`).
fn sane_request_id(value: Option<&HeaderValue>) -> Option<&HeaderValue> {
    let value = value?;
    let bytes = value.as_bytes();
    let ok = (1..=128).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then_some(value)
}

/// A new request id: a random UUID, formatted on the stack.
fn new_request_id() -> HeaderValue {
    let mut buf = [0; uuid::fmt::Hyphenated::LENGTH];
    let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(id).expect("a UUID is a valid header value")
}

/// The Content-Security-Policy of API responses (JSON: nothing may load) and of the SPA.
pub const API_CSP: &str = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'";
pub const SPA_CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                           form-action 'self'; object-src 'none'";

/// Middleware, outermost: see the module documentation. `hsts`: whether responses carry
/// `Strict-Transport-Security` (the server is reached over https).
///
/// One middleware rather than three, so that the per-request work is done once: the route
/// template is looked up once (the resource map's walk allocates for every template with a
/// parameter), and the request id is made once and never copied into the request's extensions
/// (nothing reads it there: handlers log inside the span, which carries it).
pub async fn observe(
    metrics: Metrics,
    hsts: bool,
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let _in_flight = metrics.start_request();
    let method = method_label(req.method().as_str());
    // The template comes from the resource map, not from routing: it is known before the call,
    // and stays known when an inner middleware fails and the request is gone.
    let pattern = req.match_pattern();
    let id = sane_request_id(req.headers().get(X_REQUEST_ID))
        .cloned()
        .unwrap_or_else(new_request_id);
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or_default(),
        method,
        path = req.path(),
    );
    // `HEAD` is a `GET` without a body (RFC 9110 §9.3.2): the request goes on as a `GET`, and
    // actix-http, which parsed it as a `HEAD`, sends the response's headers without the body.
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    let context = HeaderContext { id: &id, hsts };
    let result = next.call(req).instrument(span.clone()).await;
    let took = started.elapsed();
    let latency_ms = took.as_secs_f64() * 1000.0;
    let mut res = match result {
        Ok(res) => res,
        Err(err) => {
            // An error raised by a middleware (e.g. the session store failing): the request is
            // gone, so the problem travels as the error's own response.
            let mut problem = match err.as_error::<ApiError>() {
                Some(api) => api.error_response(),
                // The session store could not reach the database.
                None if is_session_store_error(&err) => {
                    ApiError::Unavailable(anyhow::anyhow!("session store: {err}")).error_response()
                }
                None => status_problem(err.as_response_error().status_code()),
            };
            context.apply(problem.headers_mut());
            let status = problem.status().as_u16();
            let route = route_label(pattern, status);
            metrics.request(method, &route, status, took);
            span.in_scope(|| {
                tracing::error!(status, route = &*route, latency_ms, error = ?err, "request failed in middleware");
            });
            return Err(InternalError::from_response(err, problem).into());
        }
    };
    context.apply(res.headers_mut());
    let status = res.status().as_u16();
    let route = route_label(pattern, status);
    metrics.request(method, &route, status, took);
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, route = &*route, latency_ms, "request failed");
        } else {
            tracing::info!(status, route = &*route, latency_ms, "request completed");
        }
    });
    Ok(res)
}

fn is_session_store_error(err: &Error) -> bool {
    use actix_session::storage::{LoadError, SaveError, UpdateError};
    err.as_error::<InternalError<LoadError>>().is_some()
        || err.as_error::<InternalError<SaveError>>().is_some()
        || err.as_error::<InternalError<UpdateError>>().is_some()
        || err.as_error::<InternalError<anyhow::Error>>().is_some()
}

/// The headers every response gets. The policy depends on nothing in the request's path (a
/// path can be spelt many ways); responses that may be cached say so themselves (the SPA's
/// files, the API docs' files), everything else is `no-store`.
struct HeaderContext<'a> {
    id: &'a HeaderValue,
    hsts: bool,
}

impl HeaderContext<'_> {
    fn apply(&self, headers: &mut HeaderMap) {
        headers.insert(X_REQUEST_ID, self.id.clone());
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(API_CSP),
            );
        }
        if self.hsts {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000; includeSubDomains"),
            );
        }
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
}

/// Turns error responses that are not problems yet (routing, extractors, bare statuses) into
/// problems, keeping the status and any `Allow` header.
pub async fn problem_fallback(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(res);
    }
    let already = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if already {
        return Ok(res);
    }
    if let Some(err) = res.response().error() {
        tracing::debug!(error = %err, %status, "non-problem error converted");
    }
    let allow = res.headers().get(header::ALLOW).cloned();
    let (http_req, _) = res.into_parts();
    let mut problem = status_problem(status);
    if let Some(allow) = allow {
        problem.headers_mut().insert(header::ALLOW, allow);
    }
    Ok(ServiceResponse::new(http_req, problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_propagated_only_when_sane() {
        let ok = HeaderValue::from_static("abc-123_x.y:z");
        assert_eq!(sane_request_id(Some(&ok)), Some(&ok));
        let spaces = HeaderValue::from_static("has space");
        assert_eq!(sane_request_id(Some(&spaces)), None);
        let long = HeaderValue::from_str(&"a".repeat(129)).expect("header");
        assert_eq!(sane_request_id(Some(&long)), None);
        assert_eq!(sane_request_id(None), None);
    }
}
