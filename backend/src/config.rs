//! Settings: every knob as a command-line flag and an environment variable (flag wins), parsed
//! and validated once at start-up. This is the only module that reads the environment (through
//! clap's `env`); everything else is handed a `Settings`. It sits below every other layer but
//! the domain: it imports nothing of the server.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use clap::{Args, ValueEnum};
use ipnet::IpNet;
use secrecy::SecretSlice;

use crate::domain::{PasswordPolicy, RedirectHosts, normalize_host};

/// The smallest accepted PBKDF2 work factor; values below [`RECOMMENDED_MIN_ITERATIONS`] only
/// exist so that tests run quickly.
pub const MIN_ITERATIONS: u32 = 1_000;
/// OWASP's floor for PBKDF2-HMAC-SHA256; below it the server warns at start-up.
pub const RECOMMENDED_MIN_ITERATIONS: u32 = 600_000;
/// Request bodies larger than this are refused with 413 before any work is done.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// A request target (path and query) longer than this is refused with 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// More request headers than this, or more bytes of them, are refused with 431. (actix-http's
/// own limits, 96 headers and 128 KiB of head, answer without a body; these come first.)
pub const MAX_HEADERS: usize = 64;
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Every setting of the contract's configuration table.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Listen address.
    #[arg(long, env = "LATCHKEY_BIND", default_value = "127.0.0.1:8080", value_parser = parse_bind, global = true)]
    pub bind: SocketAddr,

    /// SQLite file (`sqlite://PATH` or a plain path, created on first run) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "latchkey.db", value_parser = parse_database_url, global = true)]
    pub database_url: DatabaseUrl,

    /// Cookie signing key, base64, at least 64 bytes. Unset: generated once into a 0600 file
    /// beside the SQLite database.
    #[arg(long, env = "LATCHKEY_SECRET_KEY", hide_env_values = true, value_parser = parse_secret_key, global = true)]
    pub secret_key: Option<SecretKey>,

    /// PBKDF2-HMAC-SHA256 iterations for new hashes (at least 1000; below 600000 warns).
    #[arg(long, env = "LATCHKEY_PBKDF2_ITERATIONS", default_value_t = 1_000_000, value_parser = parse_iterations, global = true)]
    pub pbkdf2_iterations: u32,

    /// Minimum password length in characters (8–128).
    #[arg(long, env = "LATCHKEY_PASSWORD_MIN_LENGTH", default_value_t = 8, value_parser = clap::value_parser!(u16).range(8..=128), global = true)]
    pub password_min_length: u16,

    /// Minimum zxcvbn strength score (0–4).
    #[arg(long, env = "LATCHKEY_PASSWORD_MIN_STRENGTH", default_value_t = 3, value_parser = clap::value_parser!(u8).range(0..=4), global = true)]
    pub password_min_strength: u8,

    /// Hash jobs allowed to wait before requests get 503 server_busy.
    #[arg(
        long,
        env = "LATCHKEY_HASH_QUEUE",
        default_value_t = 256,
        global = true
    )]
    pub hash_queue: usize,

    /// Threads that compute password hashes (default: the number of CPUs).
    #[arg(long, env = "LATCHKEY_HASH_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024), global = true)]
    pub hash_threads: Option<u16>,

    /// The externally visible base URL (own origin for CSRF checks, Secure cookies, HSTS, and
    /// the origin passkeys are bound to; unset, passkeys use http://localhost:PORT on a loopback
    /// address and are off elsewhere).
    #[arg(long, env = "LATCHKEY_PUBLIC_URL", value_parser = parse_public_url, global = true)]
    pub public_url: Option<PublicUrl>,

    /// Per-client requests per minute on login and register (0 turns the limit off).
    #[arg(
        long,
        env = "LATCHKEY_RATE_LIMIT_PER_MINUTE",
        default_value_t = 30,
        global = true
    )]
    pub rate_limit_per_minute: u32,

    /// Consecutive failed logins for one username before it is throttled (0 turns it off).
    #[arg(
        long,
        env = "LATCHKEY_LOGIN_THROTTLE_AFTER",
        default_value_t = 5,
        global = true
    )]
    pub login_throttle_after: u32,

    /// Whether the session cookie is Secure: auto, true or false.
    #[arg(long, env = "LATCHKEY_COOKIE_SECURE", value_enum, default_value_t = CookieSecure::Auto, global = true)]
    pub cookie_secure: CookieSecure,

    /// A session unused for this long ends (for example 30m, 8h).
    #[arg(long, env = "LATCHKEY_SESSION_IDLE_TIMEOUT", default_value = "8h", value_parser = parse_duration, global = true)]
    pub session_idle_timeout: Duration,

    /// A session ends this long after login, however active (for example 7d).
    #[arg(long, env = "LATCHKEY_SESSION_MAX_AGE", default_value = "7d", value_parser = parse_duration, global = true)]
    pub session_max_age: Duration,

    /// Extra origins allowed to make unsafe requests (comma-separated).
    #[arg(long, env = "LATCHKEY_ALLOWED_ORIGINS", value_delimiter = ',', value_parser = parse_origin, global = true)]
    pub allowed_origins: Vec<String>,

    /// Peers (IPs or CIDR ranges, comma-separated) whose X-Forwarded-* headers are believed.
    #[arg(long, env = "LATCHKEY_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy, global = true)]
    pub trusted_proxies: Vec<IpNet>,

    /// The session cookie's Domain (for example example.com), so that it also reaches the apps
    /// that forward-auth protects on other subdomains. Unset: the cookie is for this host only.
    #[arg(long, env = "LATCHKEY_COOKIE_DOMAIN", value_parser = parse_cookie_domain, global = true)]
    pub cookie_domain: Option<String>,

    /// Hosts (comma-separated; each with its subdomains) a login may return to. Unset: the
    /// cookie domain, else the public URL's host.
    #[arg(long, env = "LATCHKEY_ALLOWED_REDIRECT_HOSTS", value_delimiter = ',', value_parser = parse_redirect_host, global = true)]
    pub allowed_redirect_hosts: Vec<String>,

    /// Serve the SPA from this directory instead of the embedded copy; `off` serves none.
    #[arg(long, env = "LATCHKEY_FRONTEND_DIR", value_parser = parse_frontend, global = true)]
    pub frontend_dir: Option<Frontend>,

    /// Log format: pretty or json (default: pretty on a terminal, json otherwise).
    #[arg(long, env = "LATCHKEY_LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormat>,

    /// How long a client may take to send a request body; then 408 and the connection closes.
    #[arg(long, env = "LATCHKEY_BODY_TIMEOUT", default_value = "10s", value_parser = parse_duration, global = true)]
    pub body_timeout: Duration,

    /// The longest a request may take, body included; then 503 `request_timeout`.
    #[arg(long, env = "LATCHKEY_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration, global = true)]
    pub request_timeout: Duration,

    /// Open client connections at most (new ones wait to be accepted beyond it).
    #[arg(long, env = "LATCHKEY_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub max_connections: u32,

    /// Open connections at most from one client address (trusted proxies are exempt); more get
    /// 429 `too_many_connections` and are closed. 0 turns the limit off.
    #[arg(
        long,
        env = "LATCHKEY_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 64,
        global = true
    )]
    pub max_connections_per_client: u32,

    /// Security events kept per user (the newest; older ones are deleted as new ones arrive).
    /// The API lists at most the newest 100.
    #[arg(long, env = "LATCHKEY_EVENTS_PER_USER", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000), global = true)]
    pub events_per_user: u32,

    /// The issuer authenticator apps show beside the username for Latchkey's codes, and the
    /// name passkey prompts show (1–64 characters, no `:`).
    #[arg(long, env = "LATCHKEY_TOTP_ISSUER", default_value = "Latchkey", value_parser = parse_totp_issuer, global = true)]
    pub totp_issuer: String,

    /// Log filter in `tracing`'s `EnvFilter` syntax, for example `info,latchkey=debug` (default:
    /// `info` for the server, warnings only for the admin commands).
    #[arg(long, env = "RUST_LOG", global = true)]
    pub log_filter: Option<String>,

    /// Database connections in the pool.
    #[arg(long, env = "LATCHKEY_DB_POOL_SIZE", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1000), global = true)]
    pub db_pool_size: u32,

    /// How long a request waits for a database connection before 503 unavailable.
    #[arg(long, env = "LATCHKEY_DB_TIMEOUT", default_value = "5s", value_parser = parse_duration, global = true)]
    pub db_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CookieSecure {
    Auto,
    True,
    False,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// For messages and logs: the SQLite path, or the PostgreSQL URL without its password.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("SQLite database {}", path.display()),
            Self::Postgres(url) => {
                let shown = match url.split_once("://") {
                    Some((scheme, rest)) => match rest.split_once('@') {
                        Some((userinfo, host)) => {
                            let user = userinfo.split(':').next().unwrap_or_default();
                            if userinfo.contains(':') {
                                format!("{scheme}://{user}:***@{host}")
                            } else {
                                url.clone()
                            }
                        }
                        None => url.clone(),
                    },
                    None => url.clone(),
                };
                format!("PostgreSQL {shown}")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frontend {
    Dir(PathBuf),
    Off,
}

/// `LATCHKEY_PUBLIC_URL`, reduced to what the server needs from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// `scheme://host[:port]`, lower-cased, as browsers send it in `Origin`.
    pub origin: String,
    /// The host alone, normalised as browsers do (lower case, punycode).
    pub host: String,
    pub https: bool,
}

/// The cookie signing key. Cloning shares nothing printable: `Debug` is redacted.
#[derive(Clone)]
pub struct SecretKey(pub SecretSlice<u8>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([REDACTED])")
    }
}

impl Settings {
    /// Settings from command-line style arguments (the first is the program name) and the
    /// environment, without subcommands: for tests and tools that embed the server.
    pub fn from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            settings: Settings,
        }
        <Only as clap::Parser>::try_parse_from(args).map(|only| only.settings)
    }

    /// The rules for new passwords, as configured.
    pub fn password_policy(&self) -> PasswordPolicy {
        PasswordPolicy {
            min_length: usize::from(self.password_min_length),
            min_strength: self.password_min_strength,
        }
    }

    /// The origin and relying-party id passkeys are bound to, for a server listening on `port`:
    /// `LATCHKEY_PUBLIC_URL`, or `http://localhost:PORT` for a server on a loopback address
    /// (browsers treat `localhost` as secure; WebAuthn refuses IP addresses as relying-party
    /// ids). The error says why passkeys cannot work and what to set.
    pub fn passkey_origin(&self, port: u16) -> Result<(String, String), String> {
        match &self.public_url {
            Some(url) => Ok((url.origin.clone(), url.host.clone())),
            None if self.bind.ip().is_loopback() => {
                Ok((format!("http://localhost:{port}"), "localhost".to_owned()))
            }
            None => Err(format!(
                "LATCHKEY_PUBLIC_URL is not set and the server listens on {}, which is not a \
                 loopback address: set LATCHKEY_PUBLIC_URL to the https address users open",
                self.bind
            )),
        }
    }

    /// Whether the session cookie carries `Secure` (and so the `__Host-` prefix).
    pub fn cookie_is_secure(&self) -> bool {
        match self.cookie_secure {
            CookieSecure::True => true,
            CookieSecure::False => false,
            CookieSecure::Auto => match &self.public_url {
                Some(url) => url.https,
                None => !self.bind.ip().is_loopback(),
            },
        }
    }

    /// The name of the cookie that carries a login waiting for its second step (prefixed like
    /// the session cookie).
    pub fn pending_login_cookie_name(&self) -> &'static str {
        if self.cookie_is_secure() {
            "__Host-latchkey_pending_login"
        } else {
            "latchkey_pending_login"
        }
    }

    /// The session cookie's name: the `__Host-` prefix whenever the cookie is Secure
    /// (OWASP ASVS 5.0 §3.3.1), `__Secure-` when it also has a Domain (which `__Host-` forbids).
    pub fn cookie_name(&self) -> &'static str {
        match (self.cookie_is_secure(), &self.cookie_domain) {
            (true, None) => "__Host-latchkey_session",
            (true, Some(_)) => "__Secure-latchkey_session",
            (false, _) => "latchkey_session",
        }
    }

    /// The hosts a login may return to: `LATCHKEY_ALLOWED_REDIRECT_HOSTS`, else the cookie
    /// domain (every host the session cookie reaches), else the public URL's host, else none.
    pub fn redirect_hosts(&self) -> RedirectHosts {
        let entries: Vec<&str> = if !self.allowed_redirect_hosts.is_empty() {
            self.allowed_redirect_hosts
                .iter()
                .map(String::as_str)
                .collect()
        } else if let Some(domain) = &self.cookie_domain {
            vec![domain.as_str()]
        } else if let Some(url) = &self.public_url {
            vec![url.host.as_str()]
        } else {
            Vec::new()
        };
        // Every entry was normalised when it was parsed.
        RedirectHosts::parse(entries).unwrap_or_default()
    }

    /// Settings that are valid one by one but not together; checked once at start-up.
    pub fn check_consistency(&self) -> Result<(), String> {
        if let (Some(domain), Some(url)) = (&self.cookie_domain, &self.public_url) {
            let under = url.host == *domain || url.host.ends_with(&format!(".{domain}"));
            if !under {
                return Err(format!(
                    "LATCHKEY_COOKIE_DOMAIN={domain} does not cover LATCHKEY_PUBLIC_URL's host \
                     {}: browsers would refuse the session cookie",
                    url.host
                ));
            }
        }
        Ok(())
    }

    pub fn hash_threads(&self) -> usize {
        self.hash_threads.map(usize::from).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(1)
        })
    }
}

fn parse_bind(value: &str) -> Result<SocketAddr, String> {
    value
        .to_socket_addrs()
        .map_err(|e| format!("not a host:port listen address ({e})"))?
        .next()
        .ok_or_else(|| "the address resolves to nothing".to_owned())
}

fn parse_database_url(value: &str) -> Result<DatabaseUrl, String> {
    let value = value.trim();
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        return Ok(DatabaseUrl::Postgres(value.to_owned()));
    }
    let path = value
        .strip_prefix("sqlite://")
        .or_else(|| value.strip_prefix("sqlite:"))
        .unwrap_or(value);
    if path.is_empty() {
        return Err("expected a SQLite file path, sqlite://PATH or postgres://…".to_owned());
    }
    if path == ":memory:" || path.contains("mode=memory") {
        return Err(
            "an in-memory SQLite database would give every pooled connection its own empty \
             database; use a file"
                .to_owned(),
        );
    }
    if value.contains("://") && !value.starts_with("sqlite://") {
        return Err("unsupported scheme; use a SQLite path, sqlite://PATH or postgres://…".into());
    }
    Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
}

fn parse_secret_key(value: &str) -> Result<SecretKey, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(value.trim()))
        .map_err(|_| "not valid base64".to_owned())?;
    if bytes.len() < 64 {
        return Err(format!(
            "decodes to {} bytes; at least 64 are needed (try: openssl rand -base64 64)",
            bytes.len()
        ));
    }
    Ok(SecretKey(SecretSlice::from(bytes)))
}

fn parse_totp_issuer(value: &str) -> Result<String, String> {
    let issuer = value.trim();
    if issuer.is_empty() || issuer.chars().count() > 64 {
        return Err("expected 1 to 64 characters".to_owned());
    }
    if issuer.contains(':') || issuer.chars().any(char::is_control) {
        return Err("must not contain ':' or control characters (authenticator apps split the label at ':')".to_owned());
    }
    Ok(issuer.to_owned())
}

fn parse_iterations(value: &str) -> Result<u32, String> {
    let n: u32 = value
        .trim()
        .parse()
        .map_err(|_| "expected a whole number".to_owned())?;
    if n < MIN_ITERATIONS {
        return Err(format!("must be at least {MIN_ITERATIONS}"));
    }
    Ok(n)
}

fn parse_duration(value: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(value.trim())
        .map_err(|e| format!("{e}; expected a duration such as 30s, 15m, 8h or 7d"))?;
    if d < Duration::from_secs(1) {
        return Err("must be at least 1s".to_owned());
    }
    Ok(d)
}

/// Splits `scheme://host[:port][/path]` into a lower-cased origin; no URL crate is needed for that.
fn split_origin(value: &str) -> Result<(String, bool), String> {
    let value = value.trim();
    let (scheme, rest) = value
        .split_once("://")
        .ok_or_else(|| "expected scheme://host[:port]".to_owned())?;
    let scheme = scheme.to_ascii_lowercase();
    let https = match scheme.as_str() {
        "https" => true,
        "http" => false,
        _ => return Err("the scheme must be http or https".to_owned()),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return Err("expected scheme://host[:port] with a host and no credentials".to_owned());
    }
    let authority = authority.to_ascii_lowercase();
    let authority = match (
        https,
        authority.strip_suffix(if https { ":443" } else { ":80" }),
    ) {
        (_, Some(stripped)) => stripped.to_owned(),
        (_, None) => authority,
    };
    Ok((format!("{scheme}://{authority}"), https))
}

fn parse_public_url(value: &str) -> Result<PublicUrl, String> {
    let (origin, https) = split_origin(value)?;
    let authority = origin.split_once("://").map_or("", |(_, a)| a);
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => host,
        _ => authority,
    };
    let host = normalize_host(host)?;
    Ok(PublicUrl {
        origin,
        host,
        https,
    })
}

fn parse_cookie_domain(value: &str) -> Result<String, String> {
    let domain = normalize_host(value)?;
    if domain.parse::<std::net::Ipv4Addr>().is_ok() || domain.starts_with('[') {
        return Err("a cookie domain is a host name, not an address".to_owned());
    }
    if !domain.contains('.') {
        return Err(format!(
            "{domain:?} is a top-level name: browsers refuse cookies for it (use e.g. \
             example.com, or apps.localhost for local tests)"
        ));
    }
    Ok(domain)
}

fn parse_redirect_host(value: &str) -> Result<String, String> {
    normalize_host(value)
}

fn parse_origin(value: &str) -> Result<String, String> {
    split_origin(value).map(|(origin, _)| origin)
}

fn parse_proxy(value: &str) -> Result<IpNet, String> {
    let value = value.trim();
    value
        .parse::<IpNet>()
        .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{value:?} is neither an IP address nor a CIDR range"))
}

fn parse_frontend(value: &str) -> Result<Frontend, String> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("off") {
        return Ok(Frontend::Off);
    }
    let path = PathBuf::from(value);
    if !path.join("index.html").is_file() {
        return Err(format!(
            "{value:?} is not a directory containing index.html"
        ));
    }
    Ok(Frontend::Dir(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            parse_origin("HTTPS://Example.COM:443/app/").as_deref(),
            Ok("https://example.com")
        );
        assert_eq!(
            parse_origin("http://localhost:8080").as_deref(),
            Ok("http://localhost:8080")
        );
        assert!(parse_origin("ftp://x").is_err());
        assert!(parse_origin("https://user@host").is_err());
    }

    #[test]
    fn cookie_names_follow_secure_and_domain() {
        let name = |args: &[&str]| {
            let mut all = vec!["latchkey"];
            all.extend_from_slice(args);
            Settings::from_args(all).expect("settings").cookie_name()
        };
        assert_eq!(name(&["--cookie-secure", "false"]), "latchkey_session");
        assert_eq!(
            name(&["--cookie-secure", "true"]),
            "__Host-latchkey_session"
        );
        assert_eq!(
            name(&["--cookie-secure", "true", "--cookie-domain", "example.com"]),
            "__Secure-latchkey_session"
        );
    }

    #[test]
    fn cookie_domains_and_redirect_hosts() {
        assert_eq!(
            parse_cookie_domain(".Example.COM"),
            Ok("example.com".into())
        );
        assert!(
            parse_cookie_domain("localhost").is_err(),
            "a top-level name"
        );
        assert!(parse_cookie_domain("10.0.0.1").is_err());
        assert!(parse_cookie_domain("example.com:443").is_err());
        let settings = |args: &[&str]| {
            let mut all = vec!["latchkey"];
            all.extend_from_slice(args);
            Settings::from_args(all).expect("settings")
        };
        let hosts = |s: Settings| s.redirect_hosts().as_slice().to_vec();
        assert!(hosts(settings(&[])).is_empty());
        assert_eq!(
            hosts(settings(&["--public-url", "https://Auth.Example.com:8443"])),
            ["auth.example.com"]
        );
        assert_eq!(
            hosts(settings(&[
                "--public-url",
                "https://auth.example.com",
                "--cookie-domain",
                "example.com"
            ])),
            ["example.com"]
        );
        assert_eq!(
            hosts(settings(&[
                "--cookie-domain",
                "example.com",
                "--allowed-redirect-hosts",
                "app.example.com,Other.org"
            ])),
            ["app.example.com", "other.org"]
        );
        assert!(
            settings(&[
                "--public-url",
                "https://auth.example.com",
                "--cookie-domain",
                "example.org"
            ])
            .check_consistency()
            .is_err()
        );
        assert!(
            settings(&[
                "--public-url",
                "https://example.com",
                "--cookie-domain",
                "example.com"
            ])
            .check_consistency()
            .is_ok()
        );
    }

    #[test]
    fn database_urls() {
        assert_eq!(
            parse_database_url("sqlite://data/l.db"),
            Ok(DatabaseUrl::Sqlite("data/l.db".into()))
        );
        assert_eq!(
            parse_database_url("l.db"),
            Ok(DatabaseUrl::Sqlite("l.db".into()))
        );
        assert!(matches!(
            parse_database_url("postgres://u@h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!(parse_database_url(":memory:").is_err());
        assert!(parse_database_url("mysql://x").is_err());
    }

    #[test]
    fn totp_issuers_cannot_break_the_label() {
        assert_eq!(parse_totp_issuer(" Acme SSO ").as_deref(), Ok("Acme SSO"));
        for bad in ["", "  ", "Acme:SSO", "a\nb", &"x".repeat(65)] {
            assert!(parse_totp_issuer(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secret_key_needs_64_bytes() {
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 63]);
        let long = base64::engine::general_purpose::STANDARD.encode([1u8; 64]);
        assert!(parse_secret_key(&short).is_err());
        assert!(parse_secret_key(&long).is_ok());
        assert!(parse_secret_key("not base64!").is_err());
    }

    #[test]
    fn iterations_and_durations() {
        assert!(parse_iterations("999").is_err());
        assert_eq!(parse_iterations("1000"), Ok(1000));
        assert_eq!(parse_duration("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn postgres_passwords_never_show() {
        let url = DatabaseUrl::Postgres("postgres://app:s3cret@db:5432/x".into());
        assert_eq!(url.redacted(), "PostgreSQL postgres://app:***@db:5432/x");
        let no_password = DatabaseUrl::Postgres("postgres://app@db/x".into());
        assert_eq!(no_password.redacted(), "PostgreSQL postgres://app@db/x");
    }
}
