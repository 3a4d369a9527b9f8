//! A small in-process cache of public GET responses (body and `ETag`), kept for a few
//! seconds.
//!
//! The catalog and timetable change rarely and are written by other processes
//! (`cohai-bootstrap`, future admin tools), so entries expire after a TTL instead of being
//! invalidated: a change shows within `ttl` on every instance, with no coordination between
//! instances. Error responses are never cached.

use std::collections::HashMap;
use std::sync::RwLock;
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
}

impl ResponseCache {
    /// A cache keeping entries for `ttl`; a zero `ttl` disables it.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
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
    fn a_zero_ttl_caches_nothing() {
        let cache = ResponseCache::new(Duration::ZERO);
        cache.put("/a".into(), body("a"));
        assert!(cache.get("/a").is_none());
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
