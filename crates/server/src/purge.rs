//! Housekeeping purges: expired idempotency keys (API.md §3.2 keeps a reply 24 hours), expired
//! sessions of the managers' console, and the lead form's rate-limit entries of clients whose
//! allowance is whole again (the jobs are listed by `server::purge_jobs`) — at start and
//! then every [`EVERY`], on a thread of its own ([`Periodic`]) (the purges block on the database, so never
//! on the async executor). Several instances sharing a database may all purge: deleting what
//! expired is the same work whoever does it.

use std::time::Duration;

use cohai_services::ServiceResult;

use crate::periodic::Periodic;

/// How often the purges run.
pub const EVERY: Duration = Duration::from_secs(60 * 60);

/// One purge: what it deletes (for the log line) and how; it answers how many it deleted.
pub struct Job {
    /// What is purged, e.g. "expired idempotency keys".
    pub what: &'static str,
    /// Runs the purge once.
    pub run: Box<dyn Fn() -> ServiceResult<u64> + Send>,
}

/// Starts running `jobs` now and every `every`, on one thread; dropping the answer stops it.
pub fn start(jobs: Vec<Job>, every: Duration) -> std::io::Result<Periodic> {
    Periodic::start("purge", every, move || {
        for job in &jobs {
            run_once(job);
        }
    })
}

/// One purge, logged in one line.
fn run_once(job: &Job) {
    match (job.run)() {
        Ok(purged) => log::info!("purged {purged} {}", job.what),
        Err(error) => log::warn!("cannot purge {}: {error}", job.what),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[test]
    fn every_job_runs_at_start_and_again_each_period_until_dropped() {
        let runs: Vec<Arc<AtomicU64>> = (0..2).map(|_| Arc::new(AtomicU64::new(0))).collect();
        let jobs = runs
            .iter()
            .map(|count| {
                let count = Arc::clone(count);
                Job {
                    what: "things",
                    run: Box::new(move || Ok(count.fetch_add(1, Ordering::SeqCst))),
                }
            })
            .collect();
        let purge = start(jobs, Duration::from_millis(20)).expect("start");
        std::thread::sleep(Duration::from_millis(130));
        drop(purge);
        let after_drop: Vec<u64> = runs.iter().map(|c| c.load(Ordering::SeqCst)).collect();
        assert!(after_drop.iter().all(|&n| n >= 2), "{after_drop:?}");
        std::thread::sleep(Duration::from_millis(60));
        let later: Vec<u64> = runs.iter().map(|c| c.load(Ordering::SeqCst)).collect();
        assert_eq!(after_drop, later, "nothing runs after the drop");
    }
}
