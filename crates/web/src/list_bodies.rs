//! Admin lead-list responses, serialised once per page.
//!
//! The lead service keeps list pages for a short while (see `cohai_services::list_cache`) and
//! hands out the same `Arc<LeadPage>` while a page is valid. Serialising fifty leads is most of
//! such a request's cost, so the JSON body is kept beside the page it was made from and reused
//! while the service returns that same page. It never outlives the page's validity: a new page
//! (after a write or the cache's TTL) is a different `Arc`.
//!
//! Cache misses are also single-flight here: while one request reads a page from the
//! database, the others with a miss wait for it without holding a blocking thread, so a
//! page's expiry under load costs one query, not one per waiting request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use actix_web::web::Bytes;
use cohai_domain::{LeadFilter, LeadPage};

/// Most bodies kept; when full, the memo starts over.
const MAX_BODIES: usize = 256;

/// Serialised pages by filter, each with the page it was made from.
#[derive(Debug, Default)]
pub struct ListBodies {
    bodies: Mutex<HashMap<LeadFilter, (Arc<LeadPage>, Bytes)>>,
    /// Held while a page missing from the service's cache is read.
    refresh: tokio::sync::Mutex<()>,
}

impl ListBodies {
    /// The body of `page` for `filter`: the kept one if it was made from this very page,
    /// else `serialize`'s, which is then kept.
    pub fn body<E>(
        &self,
        filter: &LeadFilter,
        page: &Arc<LeadPage>,
        serialize: impl FnOnce(&LeadPage) -> Result<Vec<u8>, E>,
    ) -> Result<Bytes, E> {
        if let Some((kept, body)) = self.lock().get(filter)
            && Arc::ptr_eq(kept, page)
        {
            return Ok(body.clone());
        }
        let body = Bytes::from(serialize(page)?);
        let mut bodies = self.lock();
        if bodies.len() >= MAX_BODIES {
            bodies.clear();
        }
        bodies.insert(filter.clone(), (Arc::clone(page), body.clone()));
        Ok(body)
    }

    /// Waits for any other request's read of a missing page; the caller holds the guard
    /// while it reads one itself (and should check the service's cache again first).
    pub async fn refresh_turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.refresh.lock().await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<LeadFilter, (Arc<LeadPage>, Bytes)>> {
        // Only inserts and clears happen under the lock; a panic cannot leave it half-done.
        self.bodies.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    fn page(total: i64) -> Arc<LeadPage> {
        Arc::new(LeadPage {
            items: Vec::new(),
            total,
        })
    }

    fn serialize(page: &LeadPage) -> Result<Vec<u8>, Infallible> {
        Ok(format!("{{\"total\":{}}}", page.total).into_bytes())
    }

    #[test]
    fn the_same_page_is_serialised_once() {
        let bodies = ListBodies::default();
        let filter = LeadFilter::default();
        let page = page(3);
        assert_eq!(
            bodies.body(&filter, &page, serialize),
            Ok(Bytes::from("{\"total\":3}"))
        );
        let again = bodies.body(&filter, &page, |_| -> Result<Vec<u8>, Infallible> {
            panic!("serialised twice")
        });
        assert_eq!(again, Ok(Bytes::from("{\"total\":3}")));
    }

    #[test]
    fn a_new_page_for_the_filter_is_serialised_again() {
        let bodies = ListBodies::default();
        let filter = LeadFilter::default();
        bodies.body(&filter, &page(1), serialize).ok();
        // Equal content, but a new read of the page (e.g. after a write): not reused.
        let fresh = page(1);
        let mut calls = 0;
        bodies
            .body(&filter, &fresh, |p| {
                calls += 1;
                serialize(p)
            })
            .ok();
        assert_eq!(calls, 1);
    }

    #[test]
    fn a_failed_serialisation_keeps_nothing() {
        let bodies = ListBodies::default();
        let filter = LeadFilter::default();
        let page = page(2);
        assert_eq!(bodies.body(&filter, &page, |_| Err("boom")), Err("boom"));
        assert_eq!(
            bodies.body(&filter, &page, |p| serialize(p).map_err(|_| "unreachable")),
            Ok(Bytes::from("{\"total\":2}"))
        );
    }
}
