//! The lead form's per-client-IP rate limit, with the client IP taken from `X-Forwarded-For`
//! only when the direct peer is a trusted proxy. What counts (in this process, or in the
//! database shared by every instance) is the service's [`cohai_services::ClientRateLimit`].

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};

use crate::blocking::blocking;
use crate::error::ApiError;
use crate::state::AppState;

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

    /// The client's address of `req`; without a peer address (not over TCP) all such
    /// requests share one: `0.0.0.0`.
    pub fn of(&self, req: &ServiceRequest) -> IpAddr {
        self.of_request(req.request())
    }

    /// [`ClientIp::of`] for a handler's request.
    pub fn of_request(&self, req: &actix_web::HttpRequest) -> IpAddr {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        self.client_ip(req.peer_addr().map(|a| a.ip()), forwarded)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

/// Middleware for the lead form's resource: counts each `POST` against the client's allowance
/// and answers 429 with `Retry-After` (whole seconds, at least 1) when it is used up. Without
/// a limiter in the state (limiting off) it only passes requests on.
///
/// A limiter that cannot answer (the database is down) lets the submission through: the form
/// then fails or succeeds on its own, and a customer is never refused for a counter's sake.
pub async fn limit_lead_submissions(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let limiter = req
        .app_data::<web::Data<AppState>>()
        .filter(|_| req.method() == Method::POST)
        .and_then(|state| Some((state.clone(), state.lead_rate_limit.clone()?)));
    let Some((state, limiter)) = limiter else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let client = ClientIp::new(state.settings.trusted_proxies.clone()).of(&req);
    match acquire(&state, limiter, client).await {
        Ok(None) => {}
        Ok(Some(wait)) => return Ok(req.into_response(too_many(wait))),
        Err(error) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            if let Some(held_back) = FAIL_OPEN_WARNINGS.due(now) {
                log::warn!(
                    "the lead rate limit cannot count a submission, which goes through \
                     unlimited: {error} ({held_back} more since the last warning)"
                );
            }
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Counts a request from `client` against `limit` — on a blocking thread when the limit is kept
/// in the database: `Some(wait)` when it is refused. Every limiter fails open, so an error is
/// for the caller to log, never to answer.
pub(crate) async fn acquire(
    state: &AppState,
    limit: std::sync::Arc<dyn cohai_services::ClientRateLimit>,
    client: IpAddr,
) -> Result<Option<std::time::Duration>, ApiError> {
    if limit.blocks() {
        blocking(state, move || limit.acquire(client)).await
    } else {
        limit.acquire(client).map_err(ApiError::from)
    }
}

/// `wait` as a `Retry-After` value: whole seconds rounded up, at least 1 ("0" would invite a
/// retry that fails again).
pub(crate) fn retry_after_seconds(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// Warnings of a limiter that cannot count: during an outage every submission would log one.
static FAIL_OPEN_WARNINGS: Throttle = Throttle::every_secs(60);

/// At most one of a kind of warning per period, counting the ones held back.
struct Throttle {
    period_secs: u64,
    next_due: AtomicU64,
    held_back: AtomicU64,
}

impl Throttle {
    const fn every_secs(period_secs: u64) -> Self {
        Self {
            period_secs,
            next_due: AtomicU64::new(0),
            held_back: AtomicU64::new(0),
        }
    }

    /// At `now` (seconds): `Some(held back since the last one)` when a warning is due (once per
    /// period, whichever thread gets there first), else `None` (counted as held back).
    fn due(&self, now: u64) -> Option<u64> {
        let next = self.next_due.load(Ordering::Relaxed);
        let turn = now >= next
            && self
                .next_due
                .compare_exchange(
                    next,
                    now + self.period_secs,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok();
        if turn {
            Some(self.held_back.swap(0, Ordering::Relaxed))
        } else {
            self.held_back.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// The 429 reply, with [`retry_after_seconds`].
fn too_many(wait: std::time::Duration) -> HttpResponse {
    let seconds = retry_after_seconds(wait);
    let mut response = ApiError::rate_limited().error_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
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
    fn retry_after_is_whole_seconds_rounded_up_and_never_zero() {
        let header = |ms: u64| {
            too_many(std::time::Duration::from_millis(ms))
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok().map(str::to_owned))
        };
        assert_eq!(header(3_500).as_deref(), Some("4"));
        assert_eq!(header(6_000).as_deref(), Some("6"));
        assert_eq!(header(0).as_deref(), Some("1"));
    }

    #[test]
    fn a_failing_limiter_warns_once_a_minute_with_the_number_held_back() {
        let throttle = Throttle::every_secs(60);
        assert_eq!(throttle.due(1_000), Some(0));
        assert_eq!(throttle.due(1_001), None);
        assert_eq!(throttle.due(1_059), None);
        assert_eq!(throttle.due(1_060), Some(2));
        assert_eq!(throttle.due(1_061), None);
    }
}
