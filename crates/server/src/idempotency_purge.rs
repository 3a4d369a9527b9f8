//! The purge of expired idempotency keys (API.md §3.2 keeps a reply 24 hours): at start and
//! then every [`EVERY`], on a thread of its own (the purge blocks on the database, so never on
//! the async executor). Several instances sharing a database may all purge: deleting what
//! expired is the same work whoever does it.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::Utc;
use cohai_services::IdempotencyService;

/// How often expired keys are purged.
pub const EVERY: Duration = Duration::from_secs(60 * 60);

/// The running purge; dropping it stops the thread (after a purge in progress).
pub struct Purge {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Starts purging the keys of `service` now and every `every`.
pub fn start(service: Arc<dyn IdempotencyService>, every: Duration) -> std::io::Result<Purge> {
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("idempotency-purge".to_owned())
        .spawn(move || {
            loop {
                purge_once(&*service);
                match stopped.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        })?;
    Ok(Purge {
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// One purge, logged in one line.
fn purge_once(service: &dyn IdempotencyService) {
    match service.purge_expired(Utc::now()) {
        Ok(purged) => log::info!("purged {purged} expired idempotency keys"),
        Err(error) => log::warn!("cannot purge expired idempotency keys: {error}"),
    }
}

impl Drop for Purge {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            log::error!("the idempotency purge panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::DateTime;
    use cohai_domain::idempotency::{Begin, IdempotentRequest, KeptReply, Reservation};
    use cohai_services::ServiceResult;

    use super::*;

    /// Records the instants it was asked to purge at.
    #[derive(Default)]
    struct Recording(Mutex<Vec<DateTime<Utc>>>);

    impl IdempotencyService for Recording {
        fn begin(&self, _: &IdempotentRequest, _: DateTime<Utc>) -> ServiceResult<Begin> {
            unreachable!("the purge only purges")
        }
        fn renew(&self, _: &Reservation, _: DateTime<Utc>) -> ServiceResult<bool> {
            unreachable!("the purge only purges")
        }
        fn complete(
            &self,
            _: &Reservation,
            _: &KeptReply,
            _: DateTime<Utc>,
        ) -> ServiceResult<bool> {
            unreachable!("the purge only purges")
        }
        fn release(&self, _: &Reservation) -> ServiceResult<bool> {
            unreachable!("the purge only purges")
        }
        fn purge_expired(&self, now: DateTime<Utc>) -> ServiceResult<u64> {
            let mut calls = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            calls.push(now);
            Ok(0)
        }
    }

    #[test]
    fn purges_at_start_and_stops_when_dropped() {
        let service = Arc::new(Recording::default());
        let purge = start(service.clone(), Duration::from_secs(3600)).expect("start");
        // Dropping joins the thread, which purged once before waiting for the next hour.
        drop(purge);
        assert_eq!(service.0.lock().expect("calls").len(), 1);
    }
}
