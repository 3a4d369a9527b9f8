//! A count of the writes to public data (the catalog, class sessions, the timetable) made
//! through this process's services, so that whatever keeps a copy derived from that data
//! (the web layer's public response cache) can tell that its copy may be stale, without being
//! told by each caller.
//!
//! Every service that writes public data holds the same [`PublicChanges`] (the composition
//! root hands it out) and calls [`PublicChanges::wrote`] after each write it attempted,
//! whatever the outcome: a write that failed late may still have committed. Writes by other
//! processes (other instances, `cohai-bootstrap`) are not counted; readers bound those by
//! their own time to live.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The write generation of public data in this process. Clones share one count.
#[derive(Debug, Clone, Default)]
pub struct PublicChanges(Arc<AtomicU64>);

impl PublicChanges {
    /// A count starting at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a write (made or attempted). Call it after the write has returned, so a reader
    /// that saw the old generation read before the write ended and keeps nothing for the new.
    pub fn wrote(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    /// The writes so far. A copy taken at generation `g` is current while this is still `g`.
    pub fn generation(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_count_together() {
        let changes = PublicChanges::new();
        let service_side = changes.clone();
        assert_eq!(changes.generation(), 0);
        service_side.wrote();
        service_side.wrote();
        assert_eq!(changes.generation(), 2);
    }
}
