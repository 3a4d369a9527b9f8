//! The admin lead list's cache: serialised pages by filter, for a short while.
//!
//! Counting the matching leads for `total` scans an index (milliseconds once there are a
//! million leads) and serialising fifty leads is most of what is left of such a request; the
//! list is read far more often than leads change. So the finished JSON body of a page is kept
//! and served again while it is valid.
//!
//! **When a kept page can be stale.** A page is valid while no lead has changed through this
//! process's lead service since it was read — every write bumps
//! [`LeadService::write_generation`](cohai_services::LeadService::write_generation), and a page
//! read at an older generation is never served — and for at most `ttl`. A change made by
//! another server instance, or straight in the database, is therefore seen within `ttl`.
//!
//! **Filters that depend on the clock are never kept.** `overdue` compares `next_contact_at`
//! with the time of the request, so its answer changes as time passes without any write: such
//! a filter ([`LeadFilter::depends_on_clock`]) is always read afresh (and its instant, which
//! differs for every request, never fills the cache with keys that cannot be hit).
//!
//! **Single flight.** While one request reads a missing page, others asking for the *same*
//! filter wait for it (without a thread) and then serve its result; requests for other
//! filters are not held up.
//!
//! The key is the whole filter: paging included, and the caller's location limit
//! ([`LeadFilter::location_limit`]), so a key limited to some studios never gets a page read
//! for another scope.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use cohai_domain::LeadFilter;

/// Most pages (and loading locks) kept; when full, expired pages are dropped, and if none
/// expired, all are.
const MAX_PAGES: usize = 256;

/// A kept page: when and at which write generation it was read, and its body.
#[derive(Debug, Clone)]
struct Page {
    read_at: Instant,
    generation: u64,
    body: Bytes,
}

/// Serialised admin list pages by filter (see the module docs).
#[derive(Debug)]
pub struct LeadListCache {
    ttl: Duration,
    pages: Mutex<HashMap<LeadFilter, Page>>,
    loading: Mutex<HashMap<LeadFilter, Arc<tokio::sync::Mutex<()>>>>,
}

impl LeadListCache {
    /// A cache keeping pages for at most `ttl`; zero disables it.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            pages: Mutex::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
        }
    }

    /// The body for `filter`: a kept one that is still valid at `generation()` (the lead
    /// service's current write generation), else `load`'s, which is kept if it succeeds.
    /// Errors are not kept.
    pub async fn get_or_load<E, Fut>(
        &self,
        filter: &LeadFilter,
        generation: impl Fn() -> u64,
        load: impl FnOnce() -> Fut,
    ) -> Result<Bytes, E>
    where
        Fut: Future<Output = Result<Bytes, E>>,
    {
        if self.ttl.is_zero() || filter.depends_on_clock() {
            return load().await;
        }
        if let Some(body) = self.valid(filter, generation()) {
            return Ok(body);
        }
        let lock = self.loading_lock(filter);
        let _turn = lock.lock().await;
        // The request that held the turn has usually just kept the page.
        if let Some(body) = self.valid(filter, generation()) {
            return Ok(body);
        }
        // Read before loading: a write that lands during the load makes the page stale.
        let read_at_generation = generation();
        let body = load().await?;
        self.keep(filter, read_at_generation, body.clone());
        Ok(body)
    }

    fn valid(&self, filter: &LeadFilter, generation: u64) -> Option<Bytes> {
        let pages = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
        pages
            .get(filter)
            .filter(|p| p.generation == generation && p.read_at.elapsed() < self.ttl)
            .map(|p| p.body.clone())
    }

    fn keep(&self, filter: &LeadFilter, generation: u64, body: Bytes) {
        let mut pages = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
        if pages.len() >= MAX_PAGES {
            let ttl = self.ttl;
            pages.retain(|_, p| p.read_at.elapsed() < ttl);
            if pages.len() >= MAX_PAGES {
                pages.clear();
            }
        }
        pages.insert(
            filter.clone(),
            Page {
                read_at: Instant::now(),
                generation,
                body,
            },
        );
    }

    /// The lock that serialises loads of `filter`.
    fn loading_lock(&self, filter: &LeadFilter) -> Arc<tokio::sync::Mutex<()>> {
        let mut loading = self.loading.lock().unwrap_or_else(PoisonError::into_inner);
        if loading.len() >= MAX_PAGES {
            // Forget the locks nobody holds or waits for.
            loading.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        Arc::clone(loading.entry(filter.clone()).or_default())
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use super::*;

    fn filter(offset: i64) -> LeadFilter {
        LeadFilter {
            offset,
            ..LeadFilter::default()
        }
    }

    async fn body(text: &'static str, loads: &AtomicUsize) -> Result<Bytes, Infallible> {
        loads.fetch_add(1, Ordering::SeqCst);
        Ok(Bytes::from_static(text.as_bytes()))
    }

    #[actix_web::test]
    async fn a_page_is_served_again_until_a_write_or_the_ttl() {
        let cache = LeadListCache::new(Duration::from_millis(200));
        let (loads, generation) = (AtomicUsize::new(0), AtomicU64::new(0));
        let current = || generation.load(Ordering::SeqCst);
        for _ in 0..3 {
            let got = cache
                .get_or_load(&filter(0), current, || body("a", &loads))
                .await;
            assert_eq!(got, Ok(Bytes::from_static(b"a")));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1, "read once");
        generation.fetch_add(1, Ordering::SeqCst);
        let _ = cache
            .get_or_load(&filter(0), current, || body("b", &loads))
            .await;
        assert_eq!(loads.load(Ordering::SeqCst), 2, "a write invalidates");
        std::thread::sleep(Duration::from_millis(250));
        let _ = cache
            .get_or_load(&filter(0), current, || body("c", &loads))
            .await;
        assert_eq!(loads.load(Ordering::SeqCst), 3, "the ttl expires");
    }

    #[actix_web::test]
    async fn a_page_read_while_a_write_lands_is_never_served() {
        let cache = LeadListCache::new(Duration::from_secs(60));
        let (loads, generation) = (AtomicUsize::new(0), AtomicU64::new(0));
        let current = || generation.load(Ordering::SeqCst);
        let _ = cache
            .get_or_load(&filter(0), current, || async {
                generation.fetch_add(1, Ordering::SeqCst); // the write lands mid-read
                body("old", &loads).await
            })
            .await;
        let got = cache
            .get_or_load(&filter(0), current, || body("new", &loads))
            .await;
        assert_eq!(got, Ok(Bytes::from_static(b"new")));
    }

    #[actix_web::test]
    async fn errors_are_not_kept_and_a_zero_ttl_keeps_nothing() {
        let cache = LeadListCache::new(Duration::from_secs(60));
        let failed: Result<Bytes, &str> = cache
            .get_or_load(&filter(0), || 0, || async { Err("boom") })
            .await;
        assert_eq!(failed, Err("boom"));
        let loads = AtomicUsize::new(0);
        let _ = cache
            .get_or_load(&filter(0), || 0, || body("a", &loads))
            .await;
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        let off = LeadListCache::new(Duration::ZERO);
        for _ in 0..2 {
            let _ = off
                .get_or_load(&filter(0), || 0, || body("a", &loads))
                .await;
        }
        assert_eq!(loads.load(Ordering::SeqCst), 3);
    }

    #[actix_web::test]
    async fn a_filter_that_depends_on_the_clock_is_always_read_afresh() {
        let cache = LeadListCache::new(Duration::from_secs(60));
        let loads = AtomicUsize::new(0);
        let overdue = LeadFilter {
            overdue: Some(cohai_domain::OverdueFilter {
                overdue: true,
                now: chrono::DateTime::UNIX_EPOCH,
            }),
            ..LeadFilter::default()
        };
        for _ in 0..2 {
            let _ = cache
                .get_or_load(&overdue, || 0, || body("a", &loads))
                .await;
        }
        assert_eq!(
            loads.load(Ordering::SeqCst),
            2,
            "never served from the cache"
        );
        assert!(
            cache.pages.lock().expect("pages").is_empty(),
            "and never kept"
        );
    }

    #[actix_web::test]
    async fn concurrent_misses_of_one_filter_load_once_and_other_filters_do_not_wait() {
        let cache = LeadListCache::new(Duration::from_secs(60));
        let loads = AtomicUsize::new(0);
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let (first, second) = (filter(0), filter(50));
        let slow = cache.get_or_load(
            &first,
            || 0,
            || async {
                let _ = released.await;
                body("slow", &loads).await
            },
        );
        let same = cache.get_or_load(&first, || 0, || body("again", &loads));
        let other = async {
            // Another filter is served while the first load is still waiting.
            let got = cache
                .get_or_load(&second, || 0, || body("other", &loads))
                .await;
            let _ = release.send(());
            got
        };
        let (slow, same, other) = futures_util::future::join3(slow, same, other).await;
        assert_eq!(slow, Ok(Bytes::from_static(b"slow")));
        assert_eq!(
            same,
            Ok(Bytes::from_static(b"slow")),
            "waited for the first load"
        );
        assert_eq!(other, Ok(Bytes::from_static(b"other")));
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }
}
