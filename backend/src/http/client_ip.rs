//! The client's address: the socket peer, unless the peer is a trusted proxy, in which case the
//! right-most `X-Forwarded-For` entry that is not itself a trusted proxy.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(forwarded.first())
        .copied()
        .or(Some(peer))
}

/// Where a request came from, as stored with sessions and events: the client address and the
/// user agent (cut to 256 characters).
pub fn request_origin(req: &HttpRequest, trusted: &[IpNet]) -> crate::domain::Origin {
    crate::domain::Origin {
        ip: client_ip(req, trusted).map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn honours_forwarded_for_only_from_trusted_peers() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let from_proxy = TestRequest::default()
            .peer_addr("10.1.2.3:999".parse().expect("addr"))
            .insert_header(("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.7"))
            .to_http_request();
        assert_eq!(client_ip(&from_proxy, &trusted), Some(ip("203.0.113.9")));

        let direct = TestRequest::default()
            .peer_addr("198.51.100.1:999".parse().expect("addr"))
            .insert_header(("x-forwarded-for", "6.6.6.6"))
            .to_http_request();
        assert_eq!(client_ip(&direct, &trusted), Some(ip("198.51.100.1")));

        let no_header = TestRequest::default()
            .peer_addr("10.1.2.3:999".parse().expect("addr"))
            .to_http_request();
        assert_eq!(client_ip(&no_header, &trusted), Some(ip("10.1.2.3")));
    }
}
