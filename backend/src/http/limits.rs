//! Bounds on what one request and one client may hold, all answered with problems:
//!
//! - **connections per client**: every accepted connection takes a [`ConnectionSlot`] for its peer
//!   address (the callback of `HttpServer::on_connect`); a connection beyond the client's share
//!   gets 429 `too_many_connections` on its first request and is closed. Trusted proxies are
//!   exempt (every client behind them shares their address); the total is bounded by
//!   `LATCHKEY_MAX_CONNECTIONS`.
//! - **the request head**: a target over [`MAX_URI_BYTES`] is 414, more than [`MAX_HEADERS`]
//!   headers or [`MAX_HEADER_BYTES`] of them is 431.
//! - **the body**: read here, once, for every route, within `LATCHKEY_BODY_TIMEOUT` and
//!   [`MAX_BODY_BYTES`]: a body trickled too slowly is 408 `request_timeout`, a larger one 413,
//!   and the connection is closed either way. Handlers then read the buffered copy.
//! - **the whole request**: `LATCHKEY_REQUEST_TIMEOUT`, then 503 `processing_timeout`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Extensions, Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{ConnectionType, header};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{Error, HttpMessage as _, ResponseError as _};
use futures_util::StreamExt as _;
use ipnet::IpNet;

use crate::config::{MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_HEADERS, MAX_URI_BYTES, Settings};
use crate::error::ApiError;

/// Open connections, per client address and in all.
#[derive(Debug, Default)]
pub struct ConnectionCounter {
    per_client: Mutex<HashMap<IpAddr, u32>>,
    open: AtomicUsize,
}

impl ConnectionCounter {
    /// Connections open right now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, u32>> {
        // A panic while holding this lock cannot leave the map inconsistent (single inserts and
        // removals), so a poisoned lock is still usable.
        self.per_client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// One accepted connection's place in the count; the count goes down when the connection ends
/// (actix drops a connection's extensions with it).
#[derive(Debug)]
pub struct ConnectionSlot {
    counter: Arc<ConnectionCounter>,
    /// `None` for an exempt peer (a trusted proxy) or when the per-client limit is off.
    client: Option<IpAddr>,
    over_limit: bool,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.counter.open.fetch_sub(1, Ordering::Relaxed);
        if let Some(ip) = self.client {
            let mut clients = self.counter.clients();
            if let Some(n) = clients.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    clients.remove(&ip);
                }
            }
        }
    }
}

/// The `HttpServer::on_connect` callback: takes a slot for every accepted connection.
pub fn on_connect(
    counter: Arc<ConnectionCounter>,
    per_client: u32,
    trusted: Vec<IpNet>,
) -> impl Fn(&dyn std::any::Any, &mut Extensions) + Send + Sync + 'static {
    move |conn, extensions| {
        let peer = conn
            .downcast_ref::<actix_web::rt::net::TcpStream>()
            .and_then(|tcp| tcp.peer_addr().ok())
            .map(|addr| addr.ip());
        counter.open.fetch_add(1, Ordering::Relaxed);
        let client = peer.filter(|ip| per_client > 0 && !trusted.iter().any(|n| n.contains(ip)));
        let over_limit = client.is_some_and(|ip| {
            let mut clients = counter.clients();
            let n = clients.entry(ip).or_insert(0);
            *n += 1;
            *n > per_client
        });
        extensions.insert(ConnectionSlot {
            counter: counter.clone(),
            client,
            over_limit,
        });
    }
}

/// What the middleware needs of the settings.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub body_timeout: Duration,
    pub request_timeout: Duration,
}

impl RequestLimits {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            body_timeout: settings.body_timeout,
            request_timeout: settings.request_timeout,
        }
    }
}

/// Middleware: see the module documentation.
pub async fn request_limits(
    limits: RequestLimits,
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if req
        .conn_data::<ConnectionSlot>()
        .is_some_and(|slot| slot.over_limit)
    {
        return Ok(refuse(req, ApiError::TooManyConnections));
    }
    if let Err(refused) = check_head(&req) {
        return Ok(refuse(req, refused));
    }
    if has_body(&req) {
        let payload = req.take_payload();
        match read_body(payload, limits.body_timeout).await {
            Ok(body) => req.set_payload(Payload::from(body)),
            Err(refused) => return Ok(refuse(req, refused)),
        }
    }
    match tokio::time::timeout(limits.request_timeout, next.call(req)).await {
        Ok(result) => result.map(ServiceResponse::map_into_left_body),
        Err(_) => Err(ApiError::ProcessingTimeout.into()),
    }
}

/// The request line and headers within bounds.
fn check_head(req: &ServiceRequest) -> Result<(), ApiError> {
    let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > MAX_URI_BYTES {
        return Err(ApiError::UriTooLong);
    }
    let headers = req.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Err(ApiError::HeadersTooLarge);
    }
    Ok(())
}

fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// Reads a whole body of at most [`MAX_BODY_BYTES`] within `timeout`.
async fn read_body(mut payload: Payload, timeout: Duration) -> Result<Bytes, ApiError> {
    let read = async {
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| match e {
                actix_web::error::PayloadError::Overflow => ApiError::PayloadTooLarge,
                other => ApiError::MalformedBody(format!("the body could not be read ({other})")),
            })?;
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ApiError::PayloadTooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(ApiError::RequestTimeout))
}

/// Answers with the problem and closes the connection (whatever of the request is still
/// unread stays unread).
fn refuse<B>(req: ServiceRequest, problem: ApiError) -> ServiceResponse<EitherBody<B>> {
    let mut res = problem.error_response();
    res.head_mut().set_connection_type(ConnectionType::Close);
    req.into_response(res).map_into_right_body()
}
