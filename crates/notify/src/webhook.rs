//! Webhook deliveries: one signed `POST` per call, to a target that is checked again at the
//! moment of connecting.
//!
//! # The private-address check at delivery
//!
//! A target was checked when it was registered, but a DNS name can point elsewhere later
//! (DNS rebinding). So every delivery checks again, and checks the very addresses it connects
//! to: the client resolves host names through a guarded resolver, which refuses the whole
//! answer when any address is forbidden, and reqwest connects only to what the resolver
//! returned. An IP-literal host never reaches a resolver, so [`parse_target`] judges it
//! before the request is made. Proxies from the environment are ignored (`no_proxy`), since
//! a proxy would connect on the client's behalf to an address nobody checked. Redirects are
//! not followed: a `3xx` is a failure with its status code.
//!
//! Nothing returned or logged here contains the target's path or query string, which
//! receivers use for their own tokens; logs name the host only.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cohai_domain::webhook_target::{TargetError, check_resolved, parse_target};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::NotifyError;
use crate::http::{client_builder, error_chain, read_capped};
use crate::signature::signature_header;

/// How a [`WebhookClient`] is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookClientConfig {
    /// Deadline for the whole attempt: resolving, connecting, sending and reading the reply.
    /// [`WebhookClientConfig::PRODUCTION_TIMEOUT`] in production (API §7: "a 2xx within 10
    /// seconds").
    pub timeout: Duration,
    /// Setting `webhooks.allow_private_targets`: allows `http` and private addresses (tests).
    pub allow_private_targets: bool,
    /// The `User-Agent` header sent with every delivery.
    pub user_agent: String,
}

impl WebhookClientConfig {
    /// The deadline of a delivery in production.
    pub const PRODUCTION_TIMEOUT: Duration = Duration::from_secs(10);
}

/// What came of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// The receiver answered 2xx.
    Success,
    /// The receiver answered something else, a redirect included; see `status_code`.
    Status,
    /// No complete answer within the deadline.
    Timeout,
    /// No connection (refused, unreachable, reset, the name did not resolve) or a broken
    /// exchange.
    Connect,
    /// The target was refused before connecting: an invalid URL or a forbidden address.
    Refused,
}

impl AttemptOutcome {
    /// The delivery log's `error`: `None` on success and for a non-2xx answer (whose
    /// `status_code` says it all), else `"timeout"`, `"connect"` or `"refused"`.
    pub fn error_label(&self) -> Option<&'static str> {
        match self {
            Self::Success | Self::Status => None,
            Self::Timeout => Some("timeout"),
            Self::Connect => Some("connect"),
            Self::Refused => Some("refused"),
        }
    }

    /// True for [`AttemptOutcome::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success)
    }
}

/// One delivery attempt, as the delivery log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// The receiver's status code when it answered (also for a non-2xx); `None` for a
    /// time-out, a connection failure or a refusal.
    pub status_code: Option<u16>,
    /// What came of it.
    pub outcome: AttemptOutcome,
    /// From the start of the attempt to its end.
    pub duration: Duration,
}

/// The outbound HTTP client for webhooks. Cheap to share: clone it or put it in an `Arc`;
/// connections are pooled per target host.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    allow_private: bool,
    timeout: Duration,
}

impl WebhookClient {
    /// Builds the client: rustls with bundled roots, HTTP/1.1, no redirects, no proxies, the
    /// guarded resolver, and `config.timeout` as the deadline of every attempt.
    pub fn new(config: WebhookClientConfig) -> Result<Self, NotifyError> {
        let resolver = GuardedResolver {
            allow_private: config.allow_private_targets,
        };
        let http = client_builder(config.timeout, &config.user_agent)?
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .referer(false)
            .https_only(!config.allow_private_targets)
            .dns_resolver(Arc::new(resolver))
            .build()
            .map_err(NotifyError::Client)?;
        Ok(Self {
            http,
            allow_private: config.allow_private_targets,
            timeout: config.timeout,
        })
    }

    /// POSTs `body` to `url` once, signed with `signing_key` at `now_unix`, and reports how
    /// it went. Never fails: every problem is an [`AttemptOutcome`].
    ///
    /// Headers: `Content-Type: application/json`, `Cohai-Event-Id: <event_id>`,
    /// `Cohai-Signature: t=<now_unix>,v1=<hex>` (see [`signature_header`]) and `User-Agent`.
    /// At most 64 KiB of the reply body is read, and then dropped.
    pub async fn deliver(
        &self,
        url: &str,
        event_id: &str,
        body: Vec<u8>,
        signing_key: &[u8; 32],
        now_unix: i64,
    ) -> WebhookAttempt {
        let started = Instant::now();
        let (status_code, outcome) = self
            .attempt(url, event_id, body, signing_key, now_unix)
            .await;
        WebhookAttempt {
            status_code,
            outcome,
            duration: started.elapsed(),
        }
    }

    async fn attempt(
        &self,
        url: &str,
        event_id: &str,
        body: Vec<u8>,
        signing_key: &[u8; 32],
        now_unix: i64,
    ) -> (Option<u16>, AttemptOutcome) {
        // An IP literal is judged here: reqwest connects to it without asking the resolver.
        let target = match parse_target(url, self.allow_private) {
            Ok(target) => target,
            Err(e) => {
                log::warn!("webhook event {event_id}: target refused: {e}");
                return (None, AttemptOutcome::Refused);
            }
        };
        let request = self
            .http
            .post(target.url())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Cohai-Event-Id", event_id)
            .header(
                "Cohai-Signature",
                signature_header(signing_key, now_unix, &body),
            )
            .body(body);
        let exchange = async {
            let response = request.send().await?;
            let status = response.status();
            // Read (a bounded part of) the reply so that the deadline covers it and the
            // connection can be reused; its content does not matter.
            read_capped(response).await;
            Ok::<_, reqwest::Error>(status)
        };
        let host = target.host();
        match tokio::time::timeout(self.timeout, exchange).await {
            Err(_elapsed) => {
                log::debug!("webhook event {event_id} to {host}: timed out");
                (None, AttemptOutcome::Timeout)
            }
            Ok(Ok(status)) => {
                let outcome = if status.is_success() {
                    AttemptOutcome::Success
                } else {
                    AttemptOutcome::Status
                };
                log::debug!("webhook event {event_id} to {host}: {status}");
                (Some(status.as_u16()), outcome)
            }
            Ok(Err(e)) => {
                let outcome = classify(&e);
                let e = e.without_url();
                match outcome {
                    AttemptOutcome::Refused => log::warn!(
                        "webhook event {event_id} to {host}: refused, the host resolves to a forbidden address"
                    ),
                    _ => log::debug!(
                        "webhook event {event_id} to {host}: {outcome:?}: {}",
                        error_chain(&e)
                    ),
                }
                (None, outcome)
            }
        }
    }
}

/// Refused / timed out / connection failed, from a reqwest error.
fn classify(error: &reqwest::Error) -> AttemptOutcome {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.is::<ForbiddenResolution>() {
            return AttemptOutcome::Refused;
        }
        source = cause.source();
    }
    if error.is_timeout() {
        AttemptOutcome::Timeout
    } else {
        AttemptOutcome::Connect
    }
}

/// The error [`GuardedResolver`] fails with when a name resolves to a forbidden address;
/// found again in the reqwest error's `source()` chain.
#[derive(Debug, thiserror::Error)]
#[error("the host resolves to a forbidden address")]
struct ForbiddenResolution;

/// Resolves with the system resolver (`tokio::net::lookup_host`) and refuses the answer when
/// [`check_resolved`] does, so the addresses checked are the addresses connected to.
#[derive(Debug, Clone, Copy)]
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts in the URL's port.
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
            match check_resolved(&ips, allow_private) {
                Ok(()) => Ok(Box::new(addrs.into_iter()) as Addrs),
                // `.into()` of the error itself: boxing it first would hide its type behind
                // a second box, and `classify` would not find it.
                Err(TargetError::ForbiddenAddress) => Err(ForbiddenResolution.into()),
                Err(other) => Err(std::io::Error::new(std::io::ErrorKind::NotFound, other).into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::str::FromStr;

    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    use super::*;
    use crate::test_server::{FakeServer, Reply, closed_port};
    use cohai_domain::webhook_secret::WebhookSecret;

    const KEY: [u8; 32] = [9; 32];

    fn client(allow_private: bool, timeout: Duration) -> WebhookClient {
        WebhookClient::new(WebhookClientConfig {
            timeout,
            allow_private_targets: allow_private,
            user_agent: "Cohai-Webhooks/test".to_owned(),
        })
        .unwrap()
    }

    fn lenient() -> WebhookClient {
        client(true, Duration::from_secs(5))
    }

    async fn deliver(client: &WebhookClient, url: &str) -> WebhookAttempt {
        client
            .deliver(url, "evt-1", b"{}".to_vec(), &KEY, 1_764_000_000)
            .await
    }

    #[tokio::test]
    async fn a_2xx_answer_is_a_success_with_its_status_code() {
        let server = FakeServer::start(Reply::status(204)).await;
        let attempt = deliver(&lenient(), &server.url("/hook")).await;
        assert_eq!(attempt.outcome, AttemptOutcome::Success);
        assert_eq!(attempt.status_code, Some(204));
        assert_eq!(attempt.outcome.error_label(), None);
    }

    #[tokio::test]
    async fn the_request_is_a_post_with_the_body_and_the_contract_headers() {
        let server = FakeServer::start(Reply::status(200)).await;
        let body = br#"{"id":"e-7","type":"lead.created"}"#.to_vec();
        lenient()
            .deliver(
                &server.url("/in?k=1"),
                "e-7",
                body.clone(),
                &KEY,
                1_764_000_000,
            )
            .await;
        let requests = server.requests();
        assert_eq!(requests.len(), 1);
        let r = &requests[0];
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/in?k=1"));
        assert_eq!(r.body, body);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("cohai-event-id"), Some("e-7"));
        assert_eq!(r.header("user-agent"), Some("Cohai-Webhooks/test"));
        assert_eq!(
            r.header("cohai-signature"),
            Some(signature_header(&KEY, 1_764_000_000, &body).as_str())
        );
    }

    #[tokio::test]
    async fn the_receiver_verifies_the_signature_with_the_raw_secret() {
        let secret = WebhookSecret::generate();
        let server = FakeServer::start(Reply::status(200)).await;
        let body = br#"{"id":"e-8","type":"lead.updated","data":{}}"#.to_vec();
        // The client only has what the server stores.
        let attempt = lenient()
            .deliver(
                &server.url("/"),
                "e-8",
                body,
                &secret.signing_key(),
                1_764_000_123,
            )
            .await;
        assert!(attempt.outcome.is_success());

        let r = &server.requests()[0];
        let header = r.header("cohai-signature").unwrap();
        let (t, v1) = header
            .strip_prefix("t=")
            .unwrap()
            .split_once(",v1=")
            .unwrap();
        assert_eq!(t, "1764000123");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(&r.body);
        mac.verify_slice(&hex::decode(v1).unwrap()).unwrap();
    }

    #[tokio::test]
    async fn the_signature_is_computed_afresh_on_every_attempt() {
        let server = FakeServer::start(Reply::status(200)).await;
        let c = lenient();
        c.deliver(&server.url("/"), "e", b"{}".to_vec(), &KEY, 100)
            .await;
        c.deliver(&server.url("/"), "e", b"{}".to_vec(), &KEY, 101)
            .await;
        let sigs: Vec<String> = server
            .requests()
            .iter()
            .map(|r| r.header("cohai-signature").unwrap().to_owned())
            .collect();
        assert_eq!(sigs.len(), 2);
        assert!(sigs[0].starts_with("t=100,") && sigs[1].starts_with("t=101,"));
    }

    #[tokio::test]
    async fn a_500_is_a_failure_with_its_status_code() {
        let server = FakeServer::start(Reply::json(500, r#"{"error":"boom"}"#)).await;
        let attempt = deliver(&lenient(), &server.url("/")).await;
        assert_eq!(attempt.outcome, AttemptOutcome::Status);
        assert_eq!(attempt.status_code, Some(500));
        assert_eq!(attempt.outcome.error_label(), None);
    }

    #[tokio::test]
    async fn a_redirect_is_a_failure_and_is_not_followed() {
        let elsewhere = FakeServer::start(Reply::status(200)).await;
        let mut redirect = Reply::status(302);
        redirect
            .headers
            .push(("Location", elsewhere.url("/stolen")));
        let server = FakeServer::start(redirect).await;
        let attempt = deliver(&lenient(), &server.url("/")).await;
        assert_eq!(attempt.outcome, AttemptOutcome::Status);
        assert_eq!(attempt.status_code, Some(302));
        assert_eq!(elsewhere.connections(), 0);
    }

    #[tokio::test]
    async fn a_receiver_slower_than_the_deadline_is_a_timeout() {
        let mut slow = Reply::status(200);
        slow.delay = Duration::from_secs(5);
        let server = FakeServer::start(slow).await;
        let attempt = deliver(&client(true, Duration::from_millis(300)), &server.url("/")).await;
        assert_eq!(attempt.outcome, AttemptOutcome::Timeout);
        assert_eq!(attempt.status_code, None);
        assert_eq!(attempt.outcome.error_label(), Some("timeout"));
        assert!(attempt.duration >= Duration::from_millis(300));
        assert!(attempt.duration < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connection_failure() {
        let port = closed_port().await;
        let attempt = deliver(&lenient(), &format!("http://127.0.0.1:{port}/")).await;
        assert_eq!(attempt.outcome, AttemptOutcome::Connect);
        assert_eq!(attempt.status_code, None);
        assert_eq!(attempt.outcome.error_label(), Some("connect"));
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_a_connection_failure() {
        let attempt = deliver(&lenient(), "http://does-not-exist.invalid/").await;
        // Not a refusal: nothing forbidden was found. (`Timeout` only on a host whose DNS
        // server does not answer at all within the deadline.)
        assert!(
            matches!(
                attempt.outcome,
                AttemptOutcome::Connect | AttemptOutcome::Timeout
            ),
            "{attempt:?}"
        );
        assert_eq!(attempt.status_code, None);
    }

    #[tokio::test]
    async fn a_loopback_ip_literal_is_refused_without_connecting() {
        let server = FakeServer::start(Reply::status(200)).await;
        let strict = client(false, Duration::from_secs(5));
        let port = server.addr.port();
        for url in [
            format!("https://127.0.0.1:{port}/"),
            format!("https://[::ffff:127.0.0.1]:{port}/"),
            // http is refused as well, before the address is looked at.
            format!("http://127.0.0.1:{port}/"),
        ] {
            let attempt = deliver(&strict, &url).await;
            assert_eq!(attempt.outcome, AttemptOutcome::Refused, "{url}");
            assert_eq!(attempt.status_code, None);
            assert_eq!(attempt.outcome.error_label(), Some("refused"));
        }
        assert_eq!(server.connections(), 0);
    }

    #[tokio::test]
    async fn a_host_name_resolving_to_loopback_is_refused_by_the_resolver() {
        let server = FakeServer::start(Reply::status(200)).await;
        let strict = client(false, Duration::from_secs(5));
        // https and a name: parse_target accepts it, only the resolver can refuse it.
        let url = format!("https://localhost:{}/", server.addr.port());
        let attempt = deliver(&strict, &url).await;
        assert_eq!(attempt.outcome, AttemptOutcome::Refused);
        assert_eq!(server.connections(), 0);
    }

    #[tokio::test]
    async fn a_host_name_is_resolved_and_connected_to_when_private_targets_are_allowed() {
        let server = FakeServer::start(Reply::status(200)).await;
        let url = format!("http://localhost:{}/", server.addr.port());
        let attempt = deliver(&lenient(), &url).await;
        assert_eq!(attempt.outcome, AttemptOutcome::Success);
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn the_resolver_refuses_loopback_with_an_error_that_can_be_found_again() {
        let name = Name::from_str("localhost").unwrap();
        let error = GuardedResolver {
            allow_private: false,
        }
        .resolve(name)
        .await
        .err()
        .unwrap();
        assert!(error.is::<ForbiddenResolution>());

        let name = Name::from_str("localhost").unwrap();
        let addrs: Vec<SocketAddr> = GuardedResolver {
            allow_private: true,
        }
        .resolve(name)
        .await
        .unwrap()
        .collect();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }

    #[tokio::test]
    async fn an_invalid_url_is_refused() {
        for url in [
            "not a url",
            "ftp://example.com/",
            "https://user:pw@example.com/",
        ] {
            let attempt = deliver(&lenient(), url).await;
            assert_eq!(attempt.outcome, AttemptOutcome::Refused, "{url}");
        }
    }

    #[test]
    fn error_labels_follow_the_delivery_log_contract() {
        let labels: Vec<_> = [
            AttemptOutcome::Success,
            AttemptOutcome::Status,
            AttemptOutcome::Timeout,
            AttemptOutcome::Connect,
            AttemptOutcome::Refused,
        ]
        .iter()
        .map(AttemptOutcome::error_label)
        .collect();
        assert_eq!(
            labels,
            [
                None,
                None,
                Some("timeout"),
                Some("connect"),
                Some("refused")
            ]
        );
    }
}
