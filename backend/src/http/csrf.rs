//! Cross-origin request protection for cookie-authenticated unsafe requests, the header-based
//! way (as Go's `net/http.CrossOriginProtection`): browsers label every request with
//! `Sec-Fetch-Site` (or at least `Origin`), and a request another site made a browser send is
//! refused with 403 `cross_origin_request`. Requests with neither header (curl, HTTPie,
//! generated clients) are not browser requests and pass. `SameSite=Lax` is the second layer.

use std::sync::Arc;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;

use crate::config::Settings;
use crate::error::ApiError;

/// Methods that change nothing (RFC 9110 §9.2.1), which another site may make a browser send.
fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The verdict for one request.
pub fn is_allowed(
    method: &Method,
    sec_fetch_site: Option<&str>,
    origin: Option<&str>,
    host: Option<&str>,
    settings: &Settings,
) -> bool {
    if is_safe(method) {
        return true;
    }
    let origin = origin.map(|o| o.trim().to_ascii_lowercase());
    if let Some(origin) = &origin
        && settings
            .allowed_origins
            .iter()
            .any(|allowed| allowed == origin)
    {
        return true;
    }
    if let Some(site) = sec_fetch_site {
        return matches!(site.trim(), "same-origin" | "none");
    }
    let Some(origin) = origin else {
        return true;
    };
    match &settings.public_url {
        Some(public) => origin == public.origin,
        None => {
            // Any scheme with the request's own Host.
            let authority = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            match (authority, host) {
                (Some(authority), Some(host)) => authority.eq_ignore_ascii_case(host.trim()),
                _ => false,
            }
        }
    }
}

/// Middleware: refuses cross-origin unsafe requests, whatever their path: a decision on the raw
/// path would miss `/%61pi/…`, which the router decodes to `/api/…` (nothing outside the API
/// accepts an unsafe method anyway). It is built with the settings it needs, so there is no
/// configuration it could be missing and let requests through.
pub async fn cross_origin_guard(
    settings: Arc<Settings>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if !is_safe(req.method()) {
        let headers = req.headers();
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        // The Host header itself (HTTP/2: the authority), never X-Forwarded-Host.
        let host = get(header::HOST.as_str())
            .map(str::to_owned)
            .or_else(|| req.uri().authority().map(|a| a.to_string()));
        let allowed = is_allowed(
            req.method(),
            get("sec-fetch-site"),
            get(header::ORIGIN.as_str()),
            host.as_deref(),
            &settings,
        );
        if !allowed {
            crate::audit!(
                warn,
                event = "cross_origin_refused",
                origin = get(header::ORIGIN.as_str()).unwrap_or_default(),
                sec_fetch_site = get("sec-fetch-site").unwrap_or_default(),
                path = req.path(),
                "cross-origin request refused"
            );
            return Err(ApiError::CrossOrigin.into());
        }
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(args: &[&str]) -> Settings {
        let mut all = vec!["latchkey"];
        all.extend_from_slice(args);
        Settings::from_args(all).expect("settings")
    }

    #[test]
    fn the_decision_table() {
        let s = settings(&[]);
        let post = Method::POST;
        let host = Some("127.0.0.1:8080");
        let check = |site, origin| is_allowed(&post, site, origin, host, &s);
        assert!(check(None, None), "curl");
        assert!(check(Some("same-origin"), Some("http://127.0.0.1:8080")));
        assert!(check(Some("none"), None), "typed in the address bar");
        assert!(!check(Some("cross-site"), Some("https://evil.example")));
        assert!(!check(Some("same-site"), Some("http://sub.127.0.0.1:8080")));
        assert!(
            check(None, Some("http://127.0.0.1:8080")),
            "old browser, same host"
        );
        assert!(check(None, Some("https://127.0.0.1:8080")), "any scheme");
        assert!(!check(None, Some("https://evil.example")));
        assert!(!check(None, Some("null")));
        assert!(is_allowed(
            &Method::GET,
            Some("cross-site"),
            Some("https://evil.example"),
            host,
            &s
        ));
    }

    #[test]
    fn public_url_and_allowed_origins() {
        let s = settings(&[
            "--public-url",
            "https://auth.example.com",
            "--allowed-origins",
            "https://app.example.com,https://admin.example.com",
        ]);
        let post = Method::DELETE;
        let host = Some("internal:8080");
        assert!(is_allowed(
            &post,
            None,
            Some("https://auth.example.com"),
            host,
            &s
        ));
        assert!(!is_allowed(
            &post,
            None,
            Some("http://internal:8080"),
            host,
            &s
        ));
        assert!(is_allowed(
            &post,
            Some("cross-site"),
            Some("https://app.example.com"),
            host,
            &s
        ));
        assert!(is_allowed(
            &post,
            Some("same-site"),
            Some("https://ADMIN.example.com"),
            host,
            &s
        ));
        assert!(!is_allowed(
            &post,
            Some("cross-site"),
            Some("https://other.example.com"),
            host,
            &s
        ));
    }
}
