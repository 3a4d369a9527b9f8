//! A short-lived cache of admin lead-list pages.
//!
//! Counting the matching leads for `total` scans an index, which costs milliseconds once there
//! are a million leads, and the list is read far more often than leads change. A page is
//! reused while no lead has changed through this process and for at most `ttl` (bounding
//! how long a change made by another process or instance can go unseen).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cohai_domain::{LeadFilter, LeadPage};

/// Most pages kept; when full, the cache starts over.
const MAX_PAGES: usize = 256;

/// A page, when it was read, and the write generation it was read at.
type Entry = (Instant, u64, Arc<LeadPage>);

/// Pages by filter, each tagged with the write generation it was read at.
#[derive(Debug)]
pub(crate) struct ListCache {
    ttl: Duration,
    generation: AtomicU64,
    pages: Mutex<HashMap<LeadFilter, Entry>>,
}

impl ListCache {
    /// A cache keeping pages for `ttl`; zero disables it.
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            generation: AtomicU64::new(0),
            pages: Mutex::new(HashMap::new()),
        }
    }

    /// The write generation to tag a page read now with (read it before reading the page).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Forgets every page: a lead changed.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// A page still valid for `filter`.
    pub(crate) fn get(&self, filter: &LeadFilter) -> Option<Arc<LeadPage>> {
        if self.ttl.is_zero() {
            return None;
        }
        let current = self.generation();
        let pages = self.pages.lock().ok()?;
        pages
            .get(filter)
            .filter(|(at, generation, _)| *generation == current && at.elapsed() < self.ttl)
            .map(|(_, _, page)| page.clone())
    }

    /// Keeps `page`, read at `generation`, for `filter`.
    pub(crate) fn put(&self, filter: LeadFilter, generation: u64, page: Arc<LeadPage>) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut pages) = self.pages.lock() {
            if pages.len() >= MAX_PAGES {
                pages.clear();
            }
            pages.insert(filter, (Instant::now(), generation, page));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(total: i64) -> Arc<LeadPage> {
        Arc::new(LeadPage {
            items: Vec::new(),
            total,
        })
    }

    #[test]
    fn a_write_invalidates_pages_read_before_it() {
        let cache = ListCache::new(Duration::from_secs(60));
        let filter = LeadFilter::default();
        let generation = cache.generation();
        cache.put(filter.clone(), generation, page(1));
        assert_eq!(cache.get(&filter).map(|p| p.total), Some(1));
        cache.invalidate();
        assert!(cache.get(&filter).is_none());
    }

    #[test]
    fn a_page_read_during_a_write_is_never_served() {
        let cache = ListCache::new(Duration::from_secs(60));
        let filter = LeadFilter::default();
        let generation = cache.generation();
        cache.invalidate(); // a write lands while the page is being read
        cache.put(filter.clone(), generation, page(1));
        assert!(cache.get(&filter).is_none());
    }

    #[test]
    fn pages_expire_and_a_zero_ttl_disables_the_cache() {
        let cache = ListCache::new(Duration::from_millis(20));
        let filter = LeadFilter::default();
        cache.put(filter.clone(), cache.generation(), page(1));
        std::thread::sleep(Duration::from_millis(30));
        assert!(cache.get(&filter).is_none());
        let off = ListCache::new(Duration::ZERO);
        off.put(filter.clone(), off.generation(), page(1));
        assert!(off.get(&filter).is_none());
    }
}
