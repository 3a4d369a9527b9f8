//! Per-client-IP rate limits — the lead form's (API.md §3: `n` a minute, all of which may come
//! at once) and the console's sign-in attempts — counted where the deployment needs it:
//!
//! - [`InMemoryRateLimit`]: in the process (the `governor` crate's keyed GCRA). Right for
//!   SQLite, which one process serves.
//! - [`SharedRateLimit`]: in the database ([`RateLimitRepository`]), so that every instance on
//!   one PostgreSQL database counts a client's submissions together: with two instances, 10 a
//!   minute means 10 in total. It costs one upsert per submission.
//!
//! Both count the same way (GCRA, [`cohai_domain::rate_limit`]).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use cohai_domain::rate_limit::{RateDecision, RateLimitRepository, RateQuota};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;

use crate::ServiceResult;

/// What the lead form asks before each submission (and the console's sign-in before each
/// attempt).
pub trait ClientRateLimit: Send + Sync {
    /// Counts a request from `client` now: `Ok(None)` to go ahead, `Ok(Some(wait))` when it
    /// is refused and the client may try again after `wait`.
    fn acquire(&self, client: IpAddr) -> ServiceResult<Option<Duration>>;
    /// Whether [`ClientRateLimit::acquire`] blocks (on the database): then callers on an async
    /// runtime run it on a blocking thread; otherwise it is a few atomic operations.
    fn blocks(&self) -> bool;
    /// Forgets the clients whose allowance is whole again (as if never seen); how many.
    fn purge(&self) -> ServiceResult<u64>;
}

/// The limit's key of a client in `namespace` (one per limit in the shared table).
fn client_key(namespace: &str, client: IpAddr) -> String {
    format!("{}{client}", key_prefix(namespace))
}

/// What every key of `namespace` starts with: one limit's rows, purged by that limit.
fn key_prefix(namespace: &str) -> String {
    format!("{namespace}:")
}

/// The GCRA of `governor`, keyed by client address, in this process's memory.
pub struct InMemoryRateLimit<C: Clock = DefaultClock> {
    limiter:
        governor::RateLimiter<IpAddr, DashMapStateStore<IpAddr>, C, NoOpMiddleware<C::Instant>>,
}

impl InMemoryRateLimit {
    /// `quota` on the system's clock.
    pub fn new(quota: RateQuota) -> Self {
        Self::with_clock(quota, DefaultClock::default())
    }
}

impl<C: Clock> InMemoryRateLimit<C> {
    /// `quota` on `clock` (tests move a fake one).
    pub fn with_clock(quota: RateQuota, clock: C) -> Self {
        let per_minute = NonZeroU32::new(quota.requests()).unwrap_or(NonZeroU32::MIN);
        let quota = governor::Quota::per_minute(per_minute);
        Self {
            limiter: governor::RateLimiter::dashmap_with_clock(quota, clock),
        }
    }
}

impl<C> ClientRateLimit for InMemoryRateLimit<C>
where
    C: Clock + Send + Sync,
    C::Instant: Send + Sync,
{
    fn acquire(&self, client: IpAddr) -> ServiceResult<Option<Duration>> {
        Ok(self
            .limiter
            .check_key(&client)
            .err()
            .map(|refused| refused.wait_time_from(self.limiter.clock().now())))
    }

    fn blocks(&self) -> bool {
        false
    }

    fn purge(&self) -> ServiceResult<u64> {
        let before = self.limiter.len();
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        Ok(before.saturating_sub(self.limiter.len()) as u64)
    }
}

/// The limit kept in the database, shared by every instance on it.
pub struct SharedRateLimit {
    quota: RateQuota,
    store: Arc<dyn RateLimitRepository>,
    namespace: &'static str,
}

impl SharedRateLimit {
    /// The lead form's `quota` counted in `store` (namespace `lead`).
    pub fn new(quota: RateQuota, store: Arc<dyn RateLimitRepository>) -> Self {
        Self::in_namespace(quota, store, "lead")
    }

    /// `quota` counted in `store` under keys `namespace:client`, apart from other limits.
    pub fn in_namespace(
        quota: RateQuota,
        store: Arc<dyn RateLimitRepository>,
        namespace: &'static str,
    ) -> Self {
        Self {
            quota,
            store,
            namespace,
        }
    }
}

impl ClientRateLimit for SharedRateLimit {
    fn acquire(&self, client: IpAddr) -> ServiceResult<Option<Duration>> {
        Ok(
            match self
                .store
                .acquire(&client_key(self.namespace, client), self.quota, Utc::now())?
            {
                RateDecision::Allowed { .. } => None,
                RateDecision::Limited { retry_after } => Some(retry_after),
            },
        )
    }

    fn blocks(&self) -> bool {
        true
    }

    fn purge(&self) -> ServiceResult<u64> {
        Ok(self.store.purge(&key_prefix(self.namespace), Utc::now())?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use governor::clock::FakeRelativeClock;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn ten_a_minute() -> RateQuota {
        RateQuota::per_minute(10).expect("a quota")
    }

    #[test]
    fn in_memory_all_of_the_allowance_may_come_at_once_then_it_says_how_long_to_wait() {
        let clock = FakeRelativeClock::default();
        let limit = InMemoryRateLimit::with_clock(ten_a_minute(), clock.clone());
        for _ in 0..10 {
            assert_eq!(limit.acquire(ip("203.0.113.9")).expect("acquire"), None);
        }
        clock.advance(Duration::from_millis(2_500));
        assert_eq!(
            limit.acquire(ip("203.0.113.9")).expect("acquire"),
            Some(Duration::from_millis(3_500))
        );
        assert_eq!(limit.acquire(ip("198.51.100.7")).expect("acquire"), None);
        assert!(!limit.blocks());
    }

    #[test]
    fn in_memory_purge_forgets_clients_whose_allowance_is_whole() {
        let clock = FakeRelativeClock::default();
        let limit = InMemoryRateLimit::with_clock(ten_a_minute(), clock.clone());
        limit.acquire(ip("203.0.113.9")).expect("acquire");
        assert_eq!(limit.purge().expect("purge"), 0, "not yet whole");
        clock.advance(Duration::from_secs(61));
        assert_eq!(limit.purge().expect("purge"), 1);
    }

    /// A store that counts the GCRA in a mutex, as the database would.
    #[derive(Default)]
    struct FakeStore {
        tats: Mutex<std::collections::HashMap<String, i64>>,
    }

    impl RateLimitRepository for FakeStore {
        fn acquire(
            &self,
            client: &str,
            quota: RateQuota,
            now: chrono::DateTime<Utc>,
        ) -> cohai_domain::RepoResult<RateDecision> {
            let mut tats = self.tats.lock().expect("lock");
            let decision = quota.decide(tats.get(client).copied(), now.timestamp_micros());
            if let RateDecision::Allowed { tat_micros } = decision {
                tats.insert(client.to_owned(), tat_micros);
            }
            Ok(decision)
        }

        fn purge(&self, prefix: &str, now: chrono::DateTime<Utc>) -> cohai_domain::RepoResult<u64> {
            let mut tats = self.tats.lock().expect("lock");
            let before = tats.len();
            tats.retain(|key, tat| !key.starts_with(prefix) || *tat > now.timestamp_micros());
            Ok((before - tats.len()) as u64)
        }
    }

    #[test]
    fn shared_keys_clients_by_address_and_blocks() {
        let store = Arc::new(FakeStore::default());
        let limit = SharedRateLimit::new(ten_a_minute(), store.clone());
        for _ in 0..10 {
            assert_eq!(limit.acquire(ip("2001:db8::1")).expect("acquire"), None);
        }
        assert!(limit.acquire(ip("2001:db8::1")).expect("acquire").is_some());
        assert!(limit.blocks());
        let keys: Vec<String> = store.tats.lock().expect("lock").keys().cloned().collect();
        assert_eq!(keys, ["lead:2001:db8::1"]);
    }

    #[test]
    fn a_shared_limit_purges_only_its_own_clients() {
        let store = Arc::new(FakeStore::default());
        let lead = SharedRateLimit::new(ten_a_minute(), store.clone());
        let sign_in = SharedRateLimit::in_namespace(ten_a_minute(), store.clone(), "sign_in");
        let long_ago = Utc::now().timestamp_micros() - 3_600_000_000;
        store.tats.lock().expect("lock").extend([
            ("lead:192.0.2.1".to_owned(), long_ago),
            ("sign_in:192.0.2.1".to_owned(), long_ago),
        ]);
        assert_eq!(lead.purge().expect("purge"), 1);
        let keys: Vec<String> = store.tats.lock().expect("lock").keys().cloned().collect();
        assert_eq!(
            keys,
            ["sign_in:192.0.2.1"],
            "the other limit's client stays"
        );
        assert_eq!(sign_in.purge().expect("purge"), 1);
    }
}
