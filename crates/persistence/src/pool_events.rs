//! Counts how long requests wait for a pooled connection, and how often they give up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use r2d2::HandleEvent;
use r2d2::event::{CheckoutEvent, TimeoutEvent};

/// Running totals of pool check-outs, shared with the pool's event handler.
#[derive(Debug, Default)]
pub(crate) struct PoolCounters {
    checkouts: AtomicU64,
    wait_micros: AtomicU64,
    timeouts: AtomicU64,
}

impl PoolCounters {
    /// (check-outs, total wait in microseconds, time-outs) so far.
    pub(crate) fn totals(&self) -> (u64, u64, u64) {
        (
            self.checkouts.load(Ordering::Relaxed),
            self.wait_micros.load(Ordering::Relaxed),
            self.timeouts.load(Ordering::Relaxed),
        )
    }
}

/// The r2d2 event handler feeding [`PoolCounters`].
#[derive(Debug)]
pub(crate) struct PoolEvents(pub(crate) Arc<PoolCounters>);

impl HandleEvent for PoolEvents {
    fn handle_checkout(&self, event: CheckoutEvent) {
        let micros = u64::try_from(event.duration().as_micros()).unwrap_or(u64::MAX);
        self.0.checkouts.fetch_add(1, Ordering::Relaxed);
        self.0.wait_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn handle_timeout(&self, _event: TimeoutEvent) {
        self.0.timeouts.fetch_add(1, Ordering::Relaxed);
    }
}
