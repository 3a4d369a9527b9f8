//! A small in-process cache of public GET responses (body and `ETag`), kept for a few
//! seconds.
//!
//! The catalog and timetable change rarely. A change through this instance's admin API
//! clears the cache ([`ResponseCache::clear`]), so it shows here at once; changes made
//! elsewhere (other instances, `cohai-bootstrap`) show when entries expire, within `ttl`,
//! with no coordination between instances. Error responses are never cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;

/// Most entries kept; when full, expired entries are dropped, and if none expired, all are.
const MAX_ENTRIES: usize = 1024;

/// A cached representation.
#[derive(Debug, Clone)]
pub struct CachedBody {
    /// The JSON body.
    pub body: Bytes,
    /// Its strong entity tag.
    pub etag: String,
}

/// Public responses by path and query, for `ttl`.
#[derive(Debug)]
pub struct ResponseCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, (Instant, CachedBody)>>,
    /// One lock per key being loaded: when an entry expires under load, one request loads it
    /// and the others wait for that (without a thread), instead of all querying the database
    /// at once and queueing for the blocking pool.
    loading: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The right to load one key; others asking for the same key wait until it is dropped.
pub type LoadTurn = tokio::sync::OwnedMutexGuard<()>;

impl ResponseCache {
    /// A cache keeping entries for `ttl`; a zero `ttl` disables it.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
        }
    }

    /// The fresh entry for `key`, if any.
    pub fn get(&self, key: &str) -> Option<CachedBody> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.read().ok()?;
        entries
            .get(key)
            .filter(|(stored, _)| stored.elapsed() < self.ttl)
            .map(|(_, body)| body.clone())
    }

    /// Waits for the turn to load `key` (none when the cache is off). Check [`Self::get`]
    /// again after it: the previous holder has usually stored the entry.
    pub async fn load_turn(&self, key: &str) -> Option<LoadTurn> {
        if self.ttl.is_zero() {
            return None;
        }
        let lock = {
            let mut loading = self.loading.lock().unwrap_or_else(PoisonError::into_inner);
            if loading.len() >= MAX_ENTRIES {
                // Forget the locks nobody holds or waits for.
                loading.retain(|_, lock| Arc::strong_count(lock) > 1);
            }
            Arc::clone(loading.entry(key.to_owned()).or_default())
        };
        Some(lock.lock_owned().await)
    }

    /// Forgets every entry: after a change through the admin API, so this instance's public
    /// API shows it at once (other instances still serve their copies for up to `ttl`).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }

    /// Stores `body` under `key`.
    pub fn put(&self, key: String, body: CachedBody) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, (stored, _)| stored.elapsed() < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(s: &'static str) -> CachedBody {
        CachedBody {
            body: Bytes::from_static(s.as_bytes()),
            etag: format!("\"{s}\""),
        }
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = ResponseCache::new(Duration::from_millis(30));
        cache.put("/a".into(), body("a"));
        assert_eq!(cache.get("/a").map(|b| b.etag), Some("\"a\"".to_owned()));
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get("/a").is_none());
    }

    #[test]
    fn clear_forgets_every_entry() {
        let cache = ResponseCache::new(Duration::from_secs(60));
        cache.put("/a".into(), body("a"));
        cache.put("/b".into(), body("b"));
        cache.clear();
        assert!(cache.get("/a").is_none() && cache.get("/b").is_none());
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = ResponseCache::new(Duration::ZERO);
        cache.put("/a".into(), body("a"));
        assert!(cache.get("/a").is_none());
    }

    #[test]
    fn one_request_at_a_time_loads_a_key() {
        let cache = Arc::new(ResponseCache::new(Duration::from_secs(60)));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let first = cache.load_turn("/a").await.expect("a turn");
            // Another key is independent.
            assert!(cache.load_turn("/b").await.is_some());
            let waiting = {
                let cache = Arc::clone(&cache);
                async move { cache.load_turn("/a").await.is_some() }
            };
            let mut waiting = Box::pin(waiting);
            assert!(
                futures_util::poll!(waiting.as_mut()).is_pending(),
                "the second loader of /a waits"
            );
            cache.put("/a".into(), body("a"));
            drop(first);
            assert!(waiting.await);
            assert!(cache.get("/a").is_some(), "and then finds the entry");
        });
    }

    #[test]
    fn no_turns_when_the_cache_is_off() {
        let cache = ResponseCache::new(Duration::ZERO);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let _first = cache.load_turn("/a").await;
            assert!(cache.load_turn("/a").await.is_none(), "nobody waits");
        });
    }

    #[test]
    fn size_stays_bounded() {
        let cache = ResponseCache::new(Duration::from_secs(60));
        for i in 0..(MAX_ENTRIES * 2) {
            cache.put(format!("/k{i}"), body("x"));
        }
        assert!(cache.entries.read().map(|e| e.len()).unwrap_or(usize::MAX) <= MAX_ENTRIES);
    }
}
