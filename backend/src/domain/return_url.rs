//! Where a browser may be sent back after logging in: the one rule, used wherever Latchkey
//! builds or honours a return URL (the forward-auth redirect to the login screen, and
//! `GET /api/authz/return-url`, which the SPA asks before it leaves for another app).
//!
//! A return URL is honoured only when it is an absolute `https://` URL (or `http://` on a
//! loopback host: `localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]`) whose host equals, or is a
//! subdomain of, one of the allowed hosts (`LATCHKEY_ALLOWED_REDIRECT_HOSTS`). Everything else is
//! refused, and the caller falls back to the dashboard. The raw text is checked before it is
//! parsed, so that nothing a browser would read differently from this code gets through: no
//! control characters or whitespace (browsers silently drop tabs and newlines), no backslashes
//! (browsers read `\` as `/`), nothing but `//` then a host after the scheme (`https:/\evil`,
//! `https:///evil`), no userinfo (`https://example.com@evil.com`), no percent-encoding in the
//! host (`https://evil%2ecom`), no trailing dot. The host is then compared in the form the
//! browser itself resolves (the WHATWG URL parser: lower case, IDNA to punycode), label by
//! label, so `evilexample.com` is not `example.com`, and the URL handed back is that normalised
//! form, never the raw text.

use url::{Host, Url};

/// Longer return URLs are refused: they would not fit in the redirect anyway.
pub const MAX_LEN: usize = 2048;

/// The hosts return URLs may point at (each with its subdomains), normalised as browsers do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedirectHosts(Vec<String>);

impl RedirectHosts {
    /// Normalises each entry with [`normalize_host`]; an entry that is no host is an error
    /// naming it.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        entries
            .into_iter()
            .map(normalize_host)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// Whether `host` (already normalised by the URL parser) is an allowed host or a subdomain
    /// of one. Addresses only ever match exactly.
    fn permits(&self, host: &Host<&str>) -> bool {
        match host {
            Host::Domain(name) => self.0.iter().any(|allowed| {
                *name == allowed
                    || name
                        .strip_suffix(allowed.as_str())
                        .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
            }),
            Host::Ipv4(ip) => self.0.iter().any(|allowed| *allowed == ip.to_string()),
            Host::Ipv6(ip) => self.0.iter().any(|allowed| *allowed == format!("[{ip}]")),
        }
    }
}

/// A host name as the URL parser (and so the browser) sees it: lower case, IDNA to punycode, a
/// leading dot dropped (`.example.com`, as cookie domains are written). No port, path,
/// userinfo, wildcard or trailing dot.
pub fn normalize_host(entry: &str) -> Result<String, String> {
    let trimmed = entry.trim();
    let bare = trimmed.strip_prefix('.').unwrap_or(trimmed);
    let refuse = || format!("{entry:?} is not a host name (expected e.g. example.com)");
    let forbidden = |c: char| c.is_control() || c.is_whitespace() || "/\\@?#%*".contains(c);
    // A colon only inside an IPv6 address's brackets: a port is not part of a host.
    let colon = bare.contains(':') && !bare.starts_with('[');
    if bare.is_empty() || bare.ends_with('.') || colon || bare.chars().any(forbidden) {
        return Err(refuse());
    }
    let url = Url::parse(&format!("http://{bare}/")).map_err(|_| refuse())?;
    match url.host() {
        Some(Host::Domain(name)) if url.port().is_none() => Ok(name.to_owned()),
        Some(Host::Ipv4(ip)) => Ok(ip.to_string()),
        Some(Host::Ipv6(ip)) => Ok(format!("[{ip}]")),
        _ => Err(refuse()),
    }
}

/// A return URL that passed the rule, in its normalised form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnUrl(String);

impl ReturnUrl {
    /// `raw` if it may be redirected to (see the module documentation), normalised; `None`
    /// otherwise, and the caller goes to the dashboard.
    pub fn parse(raw: &str, allowed: &RedirectHosts) -> Option<Self> {
        if raw.len() > MAX_LEN
            || raw
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return None;
        }
        let (scheme, rest) = raw.split_once("://")?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return None;
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains(['@', '%']) {
            return None;
        }
        let url = Url::parse(raw).ok()?;
        if !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let host = url.host()?;
        if let Host::Domain(name) = &host
            && (name.ends_with('.') || name.is_empty())
        {
            return None;
        }
        if !https && !is_loopback(&host) {
            return None;
        }
        allowed.permits(&host).then(|| Self(url.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<ReturnUrl> for String {
    fn from(url: ReturnUrl) -> Self {
        url.0
    }
}

/// Hosts that cannot leave the machine, where plain `http` is acceptable.
fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => *name == "localhost" || name.ends_with(".localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &[&str]) -> RedirectHosts {
        RedirectHosts::parse(list.iter().copied()).expect("hosts")
    }

    fn vet(raw: &str) -> Option<String> {
        let allowed = hosts(&["example.com", "fa.localhost", "127.0.0.1"]);
        ReturnUrl::parse(raw, &allowed).map(String::from)
    }

    #[test]
    fn allowed_urls_come_back_normalised() {
        let cases = [
            ("https://example.com/", "https://example.com/"),
            (
                "https://app.example.com/a/b?x=1&y=2#top",
                "https://app.example.com/a/b?x=1&y=2#top",
            ),
            (
                "https://deep.app.example.com",
                "https://deep.app.example.com/",
            ),
            (
                "HTTPS://APP.Example.COM/Path",
                "https://app.example.com/Path",
            ),
            (
                "https://app.example.com:8443/x",
                "https://app.example.com:8443/x",
            ),
            ("https://app.example.com:443/x", "https://app.example.com/x"),
            (
                "http://app.fa.localhost:8080/p?q",
                "http://app.fa.localhost:8080/p?q",
            ),
            ("http://127.0.0.1:9/x", "http://127.0.0.1:9/x"),
            // An IDN subdomain of an allowed host is under it; it is handed back as punycode.
            (
                "https://bücher.example.com/",
                "https://xn--bcher-kva.example.com/",
            ),
            // A path with spaces or quotes is encoded, never echoed raw.
            (
                "https://example.com/a\"b<c>",
                "https://example.com/a%22b%3Cc%3E",
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(vet(raw).as_deref(), Some(expected), "{raw}");
        }
    }

    /// Open-redirect tricks (oauth2-proxy's and others' advisories, and the browser's own
    /// leniencies): each falls back to the dashboard.
    #[test]
    fn the_table_of_attacks() {
        let attacks = [
            // another host, or no host
            "https://evil.com/",
            "https://evilexample.com/",
            "https://example.com.evil.com/",
            "https://example.co/",
            "https://com/",
            "https://.example.com/",
            // scheme-relative, path-relative and slash/backslash confusion
            "//evil.com/",
            "//example.com/",
            "/\\evil.com",
            "/dashboard",
            "dashboard",
            "https:/\\evil.com",
            "https:\\\\evil.com",
            "https://\\evil.com",
            "https:///evil.com",
            "https:evil.com",
            "https:/evil.com",
            "https://example.com\\@evil.com",
            "https://evil.com\\.example.com",
            // userinfo
            "https://example.com@evil.com/",
            "https://app.example.com:pass@evil.com/",
            "https://evil.com@app.example.com/",
            "https://@app.example.com/",
            "https://user:pw@app.example.com/",
            // control characters and whitespace, which browsers strip or stop at
            "https://app.example.com/\r\nSet-Cookie: x=1",
            "https://evil.com\t.example.com/",
            "https://app.example.com\n/",
            "https://app.example.com\0/",
            " https://app.example.com/",
            "https://app.example.com/ x",
            "https://evil.com\u{3000}.example.com/",
            // percent-encoded variants of hosts, dots, slashes and at-signs
            "https://evil%2ecom/",
            "https://app%2eexample.com/",
            "https://evil.com%2f.example.com/",
            "https://evil.com%40app.example.com/",
            "https://evil.com%5c.example.com/",
            "%2f%2fevil.com",
            "https%3A%2F%2Fapp.example.com%2F",
            // other schemes
            "javascript:alert(1)//example.com",
            "JaVaScRiPt://example.com/%0aalert(1)",
            "data:text/html,<script>alert(1)</script>",
            "ftp://app.example.com/",
            "file:///etc/passwd",
            "ws://app.example.com/",
            // plain http to a host that is not loopback
            "http://app.example.com/",
            "http://example.com/",
            // trailing-dot and suffix tricks
            "https://example.com./",
            "https://app.example.com./",
            "https://example.com.evil/",
            "https://notexample.com/",
            "https://app-example.com/",
            // IDN look-alikes and width variants that are another host
            "https://exаmple.com/",
            "https://example.cοm/",
            // addresses are exact: no subdomain of an address, no other address
            "http://127.0.0.2/",
            "http://1.127.0.0.1/",
            "http://localhost/",
            "http://fa.localhost.evil.com/",
            // too long
            &format!("https://app.example.com/{}", "a".repeat(MAX_LEN)),
            // empty
            "",
            "https://",
            "https:///",
        ];
        for raw in attacks {
            assert_eq!(vet(raw), None, "{raw:?} must fall back to the dashboard");
        }
    }

    #[test]
    fn nothing_is_allowed_without_hosts() {
        let none = RedirectHosts::default();
        assert_eq!(ReturnUrl::parse("https://example.com/", &none), None);
    }

    #[test]
    fn hosts_are_normalised_like_the_browser_does() {
        assert_eq!(normalize_host("Example.COM"), Ok("example.com".into()));
        assert_eq!(normalize_host(".example.com"), Ok("example.com".into()));
        assert_eq!(normalize_host(" bücher.de "), Ok("xn--bcher-kva.de".into()));
        assert_eq!(normalize_host("127.0.0.1"), Ok("127.0.0.1".into()));
        assert_eq!(normalize_host("[::1]"), Ok("[::1]".into()));
        for bad in [
            "",
            ".",
            "example.com.",
            "example.com:443",
            "https://example.com",
            "*.example.com",
            "user@example.com",
            "exa mple.com",
            "example.com/x",
            "ex%61mple.com",
        ] {
            assert!(normalize_host(bad).is_err(), "{bad:?}");
        }
    }
}
