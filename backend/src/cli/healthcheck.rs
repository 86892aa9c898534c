//! `latchkey healthcheck`: GETs `/api/health` from the server on this machine, over loopback
//! with a plain TCP stream, so that a container image needs no curl. Exit 0 when it answers 200.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::config::Settings;

#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// Seconds to wait for the connection and for the answer.
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: u64,
}

/// An answer larger than this is not a health answer.
const MAX_RESPONSE: u64 = 64 * 1024;

pub fn run(args: &HealthcheckArgs, settings: &Settings) -> anyhow::Result<()> {
    let address = target(settings.bind)?;
    let timeout = Duration::from_secs(args.timeout);
    let status = get_health(address, timeout)
        .with_context(|| format!("unhealthy: no answer from http://{address}/api/health"))?;
    if status != 200 {
        bail!("unhealthy: http://{address}/api/health answered {status}");
    }
    println!("healthy: http://{address}/api/health answered 200");
    Ok(())
}

/// The address to check: the bound port on loopback when the server listens on every interface.
fn target(bind: SocketAddr) -> anyhow::Result<SocketAddr> {
    if bind.port() == 0 {
        bail!("LATCHKEY_BIND has port 0: there is no known port to check");
    }
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(SocketAddr::new(ip, bind.port()))
}

fn get_health(address: SocketAddr, timeout: Duration) -> anyhow::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET /api/health HTTP/1.1\r\nHost: {address}\r\nUser-Agent: latchkey-healthcheck\r\n\
         Accept: application/json\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.take(MAX_RESPONSE).read_to_end(&mut response)?;
    parse_status(&response).context("not an HTTP response")
}

/// The status code of `HTTP/1.x NNN reason`.
fn parse_status(response: &[u8]) -> Option<u16> {
    let line = response.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/1."))?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_status(b"HTTP/1.1 200 OK\r\nx: y\r\n\r\n{}"),
            Some(200)
        );
        assert_eq!(
            parse_status(b"HTTP/1.1 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(b""), None);
    }

    #[test]
    fn wildcard_binds_are_checked_on_loopback() {
        let any: SocketAddr = "0.0.0.0:8080".parse().expect("addr");
        assert_eq!(target(any).expect("ok").to_string(), "127.0.0.1:8080");
        let v6: SocketAddr = "[::]:9000".parse().expect("addr");
        assert_eq!(target(v6).expect("ok").to_string(), "[::1]:9000");
        let zero: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        assert!(target(zero).is_err());
    }
}
