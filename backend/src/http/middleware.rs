//! Cross-cutting HTTP behaviour, outermost first:
//! - `track_requests`: counts and times every request for `/metrics`;
//! - `head_as_get`: `HEAD` is a `GET` without a body, wherever `GET` is served;
//! - `request_context`: request id (propagated when sane, else generated), a tracing span per
//!   request with its completion log line (naming the same route label as the metrics), and the
//!   security and caching headers;
//! - `problem_fallback`: any error response not already a problem (routing, body limits)
//!   becomes `application/problem+json`; `request_context` does the same for errors raised by
//!   middleware (a failing session store).

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _, ResponseError as _};
use tracing::Instrument as _;

use crate::error::{ApiError, PROBLEM_JSON, status_problem};
use crate::metrics::{Metrics, method_label, route_label};

/// The id of the current request, for handlers and logs.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn sane_request_id(value: Option<&HeaderValue>) -> Option<String> {
    let value = value?.to_str().ok()?;
    let ok = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| value.to_owned())
}

/// The Content-Security-Policy of API responses (JSON: nothing may load) and of the SPA.
pub const API_CSP: &str = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'";
pub const SPA_CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                           form-action 'self'; object-src 'none'";

/// Middleware: see the module documentation. `hsts`: whether responses carry
/// `Strict-Transport-Security` (the server is reached over https).
pub async fn request_context(
    hsts: bool,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = sane_request_id(req.headers().get(X_REQUEST_ID))
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.path(),
    );
    let context = HeaderContext { id: &id, hsts };
    let pattern = req.match_pattern();
    let result = next.call(req).instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut res = match result {
        Ok(res) => res,
        Err(err) => {
            // An error raised by a middleware (e.g. the session store failing): the request is
            // gone, so the problem travels as the error's own response.
            let status = err.as_response_error().status_code();
            let mut problem = match err.as_error::<ApiError>() {
                Some(api) => api.error_response(),
                // The session store could not reach the database.
                None if is_session_store_error(&err) => {
                    ApiError::Unavailable(anyhow::anyhow!("session store: {err}")).error_response()
                }
                None => status_problem(status),
            };
            context.apply(problem.headers_mut());
            span.in_scope(|| {
                tracing::error!(status = status.as_u16(), latency_ms, error = ?err, "request failed in middleware");
            });
            return Err(InternalError::from_response(err, problem).into());
        }
    };
    context.apply(res.headers_mut());
    let status = res.status().as_u16();
    let route = route_label(pattern, status);
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, route, latency_ms, "request failed");
        } else {
            tracing::info!(status, route, latency_ms, "request completed");
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
    id: &'a str,
    hsts: bool,
}

impl HeaderContext<'_> {
    fn apply(&self, headers: &mut HeaderMap) {
        if let Ok(v) = HeaderValue::from_str(self.id) {
            headers.insert(X_REQUEST_ID, v);
        }
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

/// Serves `HEAD` wherever `GET` is served (RFC 9110 §9.3.2): the request goes on as a `GET`,
/// and actix-http, which parsed it as a `HEAD`, sends the response's headers without the body.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(req).await
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

/// Middleware: counts every request and times it, outermost so that it sees the final status
/// (after errors became problems) and the whole latency.
pub async fn track_requests(
    metrics: Metrics,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let _in_flight = metrics.start_request();
    let method = method_label(req.method().as_str());
    // The template comes from the resource map, not from routing: it is known before the call,
    // and stays known when an inner middleware fails and the request is gone.
    let pattern = req.match_pattern();
    let result = next.call(req).await;
    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(err) => err.as_response_error().status_code().as_u16(),
    };
    metrics.request(
        method,
        &route_label(pattern, status),
        status,
        started.elapsed(),
    );
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_propagated_only_when_sane() {
        let ok = HeaderValue::from_static("abc-123_x.y:z");
        assert_eq!(sane_request_id(Some(&ok)).as_deref(), Some("abc-123_x.y:z"));
        let spaces = HeaderValue::from_static("has space");
        assert_eq!(sane_request_id(Some(&spaces)), None);
        let long = HeaderValue::from_str(&"a".repeat(129)).expect("header");
        assert_eq!(sane_request_id(Some(&long)), None);
        assert_eq!(sane_request_id(None), None);
    }
}
