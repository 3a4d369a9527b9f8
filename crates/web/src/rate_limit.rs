//! Per-client-IP rate limiting of the lead form (actix-governor), with the client IP taken
//! from `X-Forwarded-For` only when the direct peer is a trusted proxy.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::{
    GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, HttpResponseBuilder};

use crate::error::ApiError;

/// Keys requests by the client's IP address.
#[derive(Debug, Clone)]
pub struct ClientIp {
    trusted_proxies: Vec<IpAddr>,
}

impl ClientIp {
    /// Believes `X-Forwarded-For` from these proxies only.
    pub fn new(trusted_proxies: Vec<IpAddr>) -> Self {
        Self { trusted_proxies }
    }

    /// The client's address: the peer, or — when the peer is a trusted proxy — the right-most
    /// `X-Forwarded-For` entry that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let Some(chain) = forwarded_for else {
            return Some(peer);
        };
        chain
            .rsplit(',')
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .find(|ip| !self.trusted_proxies.contains(ip))
            .or(Some(peer))
    }
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<IpAddr, Self::KeyExtractionError> {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        // Without a peer address (not over TCP) all such requests share one bucket.
        Ok(self
            .client_ip(req.peer_addr().map(|a| a.ip()), forwarded)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &actix_governor::governor::NotUntil<QuantaInstant>,
        _response: HttpResponseBuilder,
    ) -> HttpResponse {
        // Round up: "Retry-After: 0" would invite an immediate retry that fails again.
        let wait = negative.wait_time_from(DefaultClock::default().now());
        let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        let mut response = HttpResponse::from_error(ApiError::rate_limited());
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        response
    }
}

/// A lead-form rate limiter: one per process, shared by every worker (its configuration holds
/// the limiter's state behind an `Arc`), so a client gets one allowance whichever worker or
/// connection its requests land on.
pub type LeadRateLimit = GovernorConfig<ClientIp, NoOpMiddleware<QuantaInstant>>;

/// The governor configuration for `per_minute` requests a minute per client, all of which
/// may come at once; `None` when `per_minute` is 0 (limiting off).
pub fn lead_rate_limit(per_minute: u32, trusted_proxies: Vec<IpAddr>) -> Option<LeadRateLimit> {
    if per_minute == 0 {
        return None;
    }
    let period = Duration::from_secs(60) / per_minute;
    GovernorConfigBuilder::default()
        .period(period.max(Duration::from_millis(1)))
        .burst_size(per_minute)
        .key_extractor(ClientIp::new(trusted_proxies))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ignores_forwarded_for_from_untrusted_peers() {
        let c = ClientIp::new(vec![]);
        assert_eq!(
            c.client_ip(Some(ip("203.0.113.9")), Some("1.2.3.4")),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn takes_the_rightmost_untrusted_hop_behind_a_trusted_proxy() {
        let c = ClientIp::new(vec![ip("10.0.0.1")]);
        assert_eq!(
            c.client_ip(
                Some(ip("10.0.0.1")),
                Some("6.6.6.6, 198.51.100.7, 10.0.0.1")
            ),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            c.client_ip(Some(ip("10.0.0.1")), None),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn zero_turns_limiting_off() {
        assert!(lead_rate_limit(0, vec![]).is_none());
        assert!(lead_rate_limit(10, vec![]).is_some());
    }
}
