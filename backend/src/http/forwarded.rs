//! What a reverse proxy's forward-auth sub-request says about the request it guards: the
//! original method and URL (`X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri`, as nginx is
//! configured to send them and as Caddy and Traefik send them), and whether that request is a
//! browser navigation. The `X-Forwarded-*` headers are believed only from
//! `LATCHKEY_TRUSTED_PROXIES`: from anyone else they are ignored, so a client cannot choose the
//! URL that Latchkey names in a redirect (it is vetted by `domain::ReturnUrl` anyway).

use actix_web::HttpRequest;
use actix_web::http::{Method, header};
use ipnet::IpNet;

/// The guarded request, as far as a trusted proxy told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardedRequest {
    /// The original method (the sub-request itself is a GET).
    pub method: Option<Method>,
    /// `proto://host/uri`, unvetted.
    pub url: Option<String>,
}

/// The first value of a header (a proxy chain may have appended more, comma-separated).
fn first<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    let value = req.headers().get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

pub fn forwarded_request(req: &HttpRequest, trusted: &[IpNet]) -> ForwardedRequest {
    let from_trusted = req
        .peer_addr()
        .is_some_and(|peer| trusted.iter().any(|net| net.contains(&peer.ip())));
    if !from_trusted {
        return ForwardedRequest::default();
    }
    let method = first(req, "x-forwarded-method").and_then(|m| m.parse::<Method>().ok());
    let proto = first(req, "x-forwarded-proto")
        .map(str::to_ascii_lowercase)
        .filter(|p| p == "https" || p == "http");
    // The URI is a path (with its query), never a whole URL: `-Uri: //evil.com` is no path.
    let uri = req
        .headers()
        .get("x-forwarded-uri")
        .and_then(|v| v.to_str().ok())
        .filter(|uri| uri.starts_with('/') && !uri.starts_with("//"));
    let url = match (proto, first(req, "x-forwarded-host"), uri) {
        (Some(proto), Some(host), Some(uri)) => Some(format!("{proto}://{host}{uri}")),
        _ => None,
    };
    ForwardedRequest { method, url }
}

/// Whether the request is a browser loading a page (which may be redirected to the login
/// screen) rather than a script's `fetch`/XHR (which must get a plain `401`): its `Accept`
/// names `text/html`, and `Sec-Fetch-Mode`, when the browser sends it, says `navigate`.
pub fn is_navigation(req: &HttpRequest) -> bool {
    let headers = req.headers();
    let accepts_html = headers
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"));
    let mode = headers
        .get("sec-fetch-mode")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    accepts_html && mode.is_none_or(|m| m.eq_ignore_ascii_case("navigate"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn proxies() -> Vec<IpNet> {
        vec!["10.0.0.0/8".parse().expect("net")]
    }

    fn from(peer: &str, headers: &[(&str, &str)]) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr(peer.parse().expect("addr"));
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        req.to_http_request()
    }

    const FORWARDED: [(&str, &str); 4] = [
        ("x-forwarded-method", "POST"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.com"),
        ("x-forwarded-uri", "/a?b=1"),
    ];

    #[test]
    fn forwarded_headers_are_believed_only_from_trusted_proxies() {
        let trusted = forwarded_request(&from("10.1.1.1:1", &FORWARDED), &proxies());
        assert_eq!(trusted.method, Some(Method::POST));
        assert_eq!(
            trusted.url.as_deref(),
            Some("https://app.example.com/a?b=1")
        );
        let stranger = forwarded_request(&from("203.0.113.7:1", &FORWARDED), &proxies());
        assert_eq!(stranger, ForwardedRequest::default());
    }

    #[test]
    fn odd_forwarded_values_give_no_url() {
        let with = |name: &str, value: &str| {
            let headers: Vec<(&str, &str)> = FORWARDED
                .iter()
                .map(|&(n, v)| if n == name { (n, value) } else { (n, v) })
                .collect();
            forwarded_request(&from("10.1.1.1:1", &headers), &proxies()).url
        };
        assert_eq!(with("x-forwarded-uri", "//evil.com/x"), None);
        assert_eq!(with("x-forwarded-uri", "https://evil.com/"), None);
        assert_eq!(with("x-forwarded-proto", "javascript"), None);
        assert_eq!(
            with("x-forwarded-proto", "HTTPS, http").as_deref(),
            Some("https://app.example.com/a?b=1")
        );
    }

    #[test]
    fn navigations_are_told_from_scripts() {
        let nav = |headers: &[(&str, &str)]| is_navigation(&from("10.1.1.1:1", headers));
        assert!(nav(&[(
            "accept",
            "text/html,application/xhtml+xml,*/*;q=0.8"
        )]));
        assert!(nav(&[
            ("accept", "text/html"),
            ("sec-fetch-mode", "navigate")
        ]));
        assert!(!nav(&[("accept", "*/*")]));
        assert!(!nav(&[]));
        assert!(!nav(&[("accept", "application/json")]));
        assert!(!nav(&[("accept", "text/html"), ("sec-fetch-mode", "cors")]));
    }
}
