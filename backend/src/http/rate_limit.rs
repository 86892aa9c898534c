//! The per-client rate limit on login and register: a token bucket per client address
//! (`LATCHKEY_RATE_LIMIT_PER_MINUTE` tokens, refilled evenly over a minute). IPv6 clients are
//! keyed by their /64, which one subscriber usually controls whole. The limit is per instance:
//! several instances behind a balancer each allow the rate.

use std::net::IpAddr;
use std::num::NonZeroU32;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::client_ip::client_ip;
use crate::error::ApiError;
use crate::state::AppState;

pub struct ClientRateLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl std::fmt::Debug for ClientRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRateLimiter")
            .field("clients", &self.limiter.len())
            .finish()
    }
}

impl ClientRateLimiter {
    /// `None` when the limit is off (0).
    pub fn per_minute(n: u32) -> Option<Self> {
        let quota = Quota::per_minute(NonZeroU32::new(n)?);
        Some(Self {
            limiter: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        })
    }

    /// `Err(seconds)` when the client must wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.limiter.check_key(&bucket(ip)).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets clients whose buckets are full again (bounded memory).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Middleware for the rate-limited resources (`wrap` in their route attributes). Without the
/// application state it refuses the request rather than let it through unlimited.
pub async fn limited(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let state = req.app_data::<web::Data<AppState>>().ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "the rate limit has no application state: refusing rather than not limiting"
        ))
    })?;
    if let (Some(limiter), Some(ip)) = (
        &state.rate_limiter,
        client_ip(req.request(), &state.settings.trusted_proxies),
    ) && let Err(retry_after) = limiter.check(ip)
    {
        crate::audit!(
            warn,
            event = "rate_limited",
            client_ip = %ip,
            path = req.path(),
            retry_after,
            "client rate limit exceeded"
        );
        return Err(ApiError::RateLimited {
            retry_after: retry_after.max(1),
        }
        .into());
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_quota_with_a_wait() {
        let limiter = ClientRateLimiter::per_minute(2).expect("on");
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        assert!(limiter.check(a).is_ok());
        assert!(limiter.check(a).is_ok());
        let wait = limiter.check(a).expect_err("third is refused");
        assert!((1..=30).contains(&wait), "{wait}");
        assert!(limiter.check(b).is_ok(), "other clients are unaffected");
        assert!(ClientRateLimiter::per_minute(0).is_none());
    }

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let two: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        assert_eq!(bucket(one), bucket(two));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        assert_eq!(bucket(mapped), "192.0.2.1".parse::<IpAddr>().expect("ip"));
    }
}
