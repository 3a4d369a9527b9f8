//! A small in-process cache of public GET responses (body and `ETag`), kept for a few
//! seconds.
//!
//! The catalog and timetable change rarely. Every entry remembers the write generation of
//! public data ([`PublicChanges`]) it was loaded at, and is served only while that is still
//! the generation: a change through this instance's services (admin API, console, the
//! timetable horizon) shows here at once, with no handler having to say so, and a body that
//! was being loaded while the change was made is never served after it. Changes made
//! elsewhere (other instances, `cohai-bootstrap`) show when entries expire, within `ttl`,
//! with no coordination between instances. Error responses are never cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use cohai_services::PublicChanges;

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

/// A kept response: when and at which generation of public data it was loaded.
#[derive(Debug)]
struct Entry {
    stored: Instant,
    generation: u64,
    body: CachedBody,
}

/// Public responses by path and query, for `ttl` and while public data is unchanged.
#[derive(Debug)]
pub struct ResponseCache {
    ttl: Duration,
    changes: PublicChanges,
    entries: RwLock<HashMap<String, Entry>>,
    /// One lock per key being loaded: when an entry expires under load, one request loads it
    /// and the others wait for that (without a thread), instead of all querying the database
    /// at once and queueing for the blocking pool.
    loading: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The right to load one key; others asking for the same key wait until it is dropped.
pub type LoadTurn = tokio::sync::OwnedMutexGuard<()>;

impl ResponseCache {
    /// A cache keeping entries for `ttl` and until `changes` counts a write; a zero `ttl`
    /// disables it.
    pub fn new(ttl: Duration, changes: PublicChanges) -> Self {
        Self {
            ttl,
            changes,
            entries: RwLock::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
        }
    }

    /// The fresh entry for `key`, if any: younger than `ttl` and loaded at the current
    /// generation.
    pub fn get(&self, key: &str) -> Option<CachedBody> {
        if self.ttl.is_zero() {
            return None;
        }
        let generation = self.changes.generation();
        let entries = self.entries.read().ok()?;
        entries
            .get(key)
            .filter(|entry| entry.generation == generation && entry.stored.elapsed() < self.ttl)
            .map(|entry| entry.body.clone())
    }

    /// The generation to pass to [`Self::put`]: read it before loading the body.
    pub fn generation(&self) -> u64 {
        self.changes.generation()
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

    /// Stores `body` under `key`, loaded at `generation` (read before the load began); not
    /// when public data has changed since, as the body may be from before the change.
    pub fn put(&self, key: String, generation: u64, body: CachedBody) {
        if self.ttl.is_zero() || generation != self.changes.generation() {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES {
            let (ttl, current) = (self.ttl, self.changes.generation());
            entries.retain(|_, entry| entry.generation == current && entry.stored.elapsed() < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let stored = Instant::now();
        entries.insert(
            key,
            Entry {
                stored,
                generation,
                body,
            },
        );
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

    fn cache(ttl: Duration) -> ResponseCache {
        ResponseCache::new(ttl, PublicChanges::new())
    }

    /// Stores `body` at the current generation.
    fn put(cache: &ResponseCache, key: &str, body: CachedBody) {
        cache.put(key.into(), cache.generation(), body);
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = cache(Duration::from_millis(30));
        put(&cache, "/a", body("a"));
        assert_eq!(cache.get("/a").map(|b| b.etag), Some("\"a\"".to_owned()));
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get("/a").is_none());
    }

    #[test]
    fn a_write_to_public_data_makes_every_entry_stale() {
        let changes = PublicChanges::new();
        let cache = ResponseCache::new(Duration::from_secs(60), changes.clone());
        put(&cache, "/a", body("a"));
        put(&cache, "/b", body("b"));
        changes.wrote();
        assert!(cache.get("/a").is_none() && cache.get("/b").is_none());
        put(&cache, "/a", body("a2"));
        assert_eq!(cache.get("/a").map(|b| b.etag), Some("\"a2\"".to_owned()));
    }

    #[test]
    fn a_body_loaded_while_public_data_changed_is_not_kept() {
        let changes = PublicChanges::new();
        let cache = ResponseCache::new(Duration::from_secs(60), changes.clone());
        let before_the_load = cache.generation();
        // The write ends while the (old) body is being read.
        changes.wrote();
        cache.put("/a".into(), before_the_load, body("old"));
        assert!(cache.get("/a").is_none());
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = cache(Duration::ZERO);
        put(&cache, "/a", body("a"));
        assert!(cache.get("/a").is_none());
    }

    #[test]
    fn one_request_at_a_time_loads_a_key() {
        let cache = Arc::new(cache(Duration::from_secs(60)));
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
            put(&cache, "/a", body("a"));
            drop(first);
            assert!(waiting.await);
            assert!(cache.get("/a").is_some(), "and then finds the entry");
        });
    }

    #[test]
    fn no_turns_when_the_cache_is_off() {
        let cache = cache(Duration::ZERO);
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
        let cache = cache(Duration::from_secs(60));
        for i in 0..(MAX_ENTRIES * 2) {
            put(&cache, &format!("/k{i}"), body("x"));
        }
        assert!(cache.entries.read().map(|e| e.len()).unwrap_or(usize::MAX) <= MAX_ENTRIES);
    }
}
