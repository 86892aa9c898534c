//! Forward-auth: reverse proxies ask Latchkey whether the request they hold may pass to the app
//! they guard, and the SPA asks where a login may return to.
//!
//! Two check endpoints, because the proxies handle the answer differently:
//! - `GET /api/authz/auth-request` for nginx's `auth_request`, which understands only 2xx, 401
//!   and 403 (anything else becomes a 500): it never redirects. Without a session it answers
//!   `401`, and for a browser navigation that `401` carries the login URL in `Location`; the
//!   nginx configuration (`deploy/forward-auth/nginx.conf`) turns it into a `302` and leaves
//!   other `401`s alone.
//! - `GET /api/authz/forward-auth` for Caddy's `forward_auth` and Traefik's `forwardAuth`, which
//!   pass a non-2xx answer to the browser as it is: a browser navigation without a session gets
//!   the `302` to the login screen (`303` when the original method was not GET or HEAD, so the
//!   browser does not repeat a POST there), and scripts (`fetch`, XHR) get `401`.
//!
//! Pointing a proxy at the other endpoint fails closed: nginx turns a `302` into a `500`, and a
//! browser does not follow a `Location` on a `401`. With a session both answer `200` with
//! `Remote-User` and `Remote-User-Id`. The check is the session middleware's one indexed read,
//! as for `/api/me` ("last seen" included); it records no event and is not rate limited (every
//! check comes from the proxy's address).

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError as _, get, web};
use serde::Serialize;
use url::form_urlencoded;
use utoipa::ToSchema;

use super::Unauthenticated;
use crate::config::Settings;
use crate::domain::ReturnUrl;
use crate::error::ApiError;
use crate::http::AuthUser;
use crate::http::forwarded::{ForwardedRequest, forwarded_request, is_navigation};
use crate::state::AppState;

/// The user, for the proxy to pass upstream: the username with anything outside ASCII
/// percent-encoded as UTF-8 (header values are ASCII; `%` cannot occur in a username, so the
/// encoding is unambiguous), and the id. Nothing else: no session key, no expiry.
fn allowed(auth: &AuthUser) -> HttpResponse {
    let user = &auth.0.user;
    let name: String = form_urlencoded::byte_serialize(user.username.as_bytes()).collect();
    HttpResponse::Ok()
        .insert_header(("Remote-User", name))
        .insert_header(("Remote-User-Id", user.id.to_string()))
        .finish()
}

/// The SPA's login screen, absolute when `LATCHKEY_PUBLIC_URL` is set (relative otherwise: the
/// app and Latchkey then share a host), with the original URL in `rd` when it may be returned
/// to; without it the user lands on the dashboard after login.
fn login_url(forwarded: ForwardedRequest, settings: &Settings) -> String {
    let base = settings
        .public_url
        .as_ref()
        .map_or("", |url| url.origin.as_str());
    let back = forwarded
        .url
        .and_then(|url| ReturnUrl::parse(&url, &settings.redirect_hosts()));
    match back {
        Some(url) => {
            let rd: String = form_urlencoded::byte_serialize(url.as_str().as_bytes()).collect();
            format!("{base}/login?rd={rd}")
        }
        None => format!("{base}/login"),
    }
}

/// The check for Caddy's `forward_auth` and Traefik's `forwardAuth`: `200` with the user's
/// headers, or, without a session, a redirect to the login screen for a browser navigation and
/// `401` for anything else.
#[utoipa::path(
    tag = "authz",
    security(("session_cookie" = [])),
    params(
        ("X-Forwarded-Method" = Option<String>, Header, description = "The guarded request's method (believed only from LATCHKEY_TRUSTED_PROXIES)"),
        ("X-Forwarded-Proto" = Option<String>, Header, description = "Its scheme (trusted proxies only)"),
        ("X-Forwarded-Host" = Option<String>, Header, description = "Its host (trusted proxies only)"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "Its path and query (trusted proxies only)"),
    ),
    responses(
        (status = 200, description = "A valid session: the proxy lets the request through and copies these headers upstream",
            headers(
                ("Remote-User" = String, description = "The username (non-ASCII characters percent-encoded as UTF-8)"),
                ("Remote-User-Id" = i32, description = "The user's id"),
            )),
        (status = 302, description = "No session, a browser navigation: to the login screen, with the original URL in `rd` when it may be returned to",
            headers(("Location" = String, description = "The login screen"))),
        (status = 303, description = "As 302, after a method other than GET or HEAD",
            headers(("Location" = String, description = "The login screen"))),
        Unauthenticated,
    )
)]
#[get("/api/authz/forward-auth")]
pub async fn forward_auth(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Option<AuthUser>,
) -> HttpResponse {
    if let Some(auth) = auth {
        return allowed(&auth);
    }
    if !is_navigation(&req) {
        return ApiError::NotAuthenticated.error_response();
    }
    let forwarded = forwarded_request(&req, &state.settings.trusted_proxies);
    let status = match forwarded.method {
        None | Some(Method::GET) | Some(Method::HEAD) => StatusCode::FOUND,
        Some(_) => StatusCode::SEE_OTHER,
    };
    HttpResponse::build(status)
        .insert_header((header::LOCATION, login_url(forwarded, &state.settings)))
        .finish()
}

/// The check for nginx's `auth_request`: `200` with the user's headers, or `401`; for a browser
/// navigation the `401` carries the login URL in `Location`, for nginx to redirect to.
#[utoipa::path(
    tag = "authz",
    security(("session_cookie" = [])),
    params(
        ("X-Forwarded-Proto" = Option<String>, Header, description = "The guarded request's scheme (believed only from LATCHKEY_TRUSTED_PROXIES)"),
        ("X-Forwarded-Host" = Option<String>, Header, description = "Its host (trusted proxies only)"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "Its path and query (trusted proxies only)"),
    ),
    responses(
        (status = 200, description = "A valid session: nginx lets the request through; `auth_request_set` copies these headers",
            headers(
                ("Remote-User" = String, description = "The username (non-ASCII characters percent-encoded as UTF-8)"),
                ("Remote-User-Id" = i32, description = "The user's id"),
            )),
        (status = 401, description = "No valid session; for a browser navigation `Location` names the login screen (with the original URL in `rd` when it may be returned to)",
            body = crate::error::Problem, content_type = "application/problem+json",
            headers(("Location" = Option<String>, description = "The login screen, for navigations only"))),
    )
)]
#[get("/api/authz/auth-request")]
pub async fn auth_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Option<AuthUser>,
) -> HttpResponse {
    if let Some(auth) = auth {
        return allowed(&auth);
    }
    let mut res = ApiError::NotAuthenticated.error_response();
    if is_navigation(&req)
        && let Ok(value) = header::HeaderValue::try_from(login_url(
            forwarded_request(&req, &state.settings.trusted_proxies),
            &state.settings,
        ))
    {
        res.headers_mut().insert(header::LOCATION, value);
    }
    res
}

/// Where a login may go back to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnTo {
    /// The URL, normalised, when it may be returned to; `null` otherwise (go to the dashboard).
    #[schema(example = "https://app.example.com/reports?week=48")]
    pub url: Option<String>,
}

/// Whether a login may return to `rd`, by the one rule the server's redirects follow: `https`
/// (or `http` on a loopback host) to an allowed host (`LATCHKEY_ALLOWED_REDIRECT_HOSTS`) or a
/// subdomain of one. The SPA asks this before it leaves for another app.
#[utoipa::path(
    tag = "authz",
    params(("rd" = Option<String>, Query, description = "The URL to return to after login")),
    responses(
        (status = 200, description = "The vetted URL, or null", body = ReturnTo),
    )
)]
#[get("/api/authz/return-url")]
pub async fn return_url(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let rd = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(name, _)| name == "rd")
        .map(|(_, value)| value.into_owned());
    let url = rd
        .and_then(|rd| ReturnUrl::parse(&rd, &state.settings.redirect_hosts()))
        .map(String::from);
    HttpResponse::Ok().json(ReturnTo { url })
}
