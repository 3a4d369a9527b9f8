//! The timetable's rolling horizon (API.md §6, setting `schedule_horizon_days`): at start
//! and then every [`EVERY`], sessions are generated from each location's today to today +
//! the horizon, on a thread of its own (generation blocks on the database, so never on the
//! async executor). Each run logs one line.
//!
//! Several instances on one PostgreSQL database may all run it: a run that finds another
//! one in progress does nothing (a transaction-scoped advisory lock), and the occurrence key
//! makes a duplicate session impossible anyway. It runs as a [`Periodic`] job, like the purges.
//! A run that created sessions counts as a change of public data in the timetable service
//! (`cohai_services::PublicChanges`), so this instance's public schedule shows them at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use cohai_services::TimetableService;

use crate::periodic::Periodic;

/// How often the horizon is kept.
pub const EVERY: Duration = Duration::from_secs(60 * 60);

/// Starts keeping `days` of sessions generated now and every `every`; `None` (and nothing
/// runs) when `days` is 0.
pub fn start(
    service: Arc<dyn TimetableService>,
    days: u32,
    every: Duration,
) -> std::io::Result<Option<Periodic>> {
    if days == 0 {
        log::info!("timetable horizon: off (schedule_horizon_days = 0)");
        return Ok(None);
    }
    Periodic::start("timetable-horizon", every, move || {
        run_once(&*service, days);
    })
    .map(Some)
}

/// One run, logged in one line.
fn run_once(service: &dyn TimetableService, days: u32) {
    match service.keep_horizon(days, Utc::now()) {
        Ok(Some(report)) => {
            log::info!(
                "timetable horizon ({days} days): created {}, skipped {}, {} conflicts",
                report.created,
                report.skipped,
                report.conflicts.len()
            );
        }
        Ok(None) => log::info!(
            "timetable horizon ({days} days): another run is in progress (another instance?); nothing to do"
        ),
        Err(error) => log::warn!("timetable horizon ({days} days): failed: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::DateTime;
    use cohai_domain::{ApplyReport, GenerationReport};
    use cohai_services::{ApplyInput, GenerateInput, ServiceResult};

    use super::*;

    /// Records the horizons it was asked to keep; creates one session per call.
    #[derive(Default)]
    struct Recording(Mutex<Vec<(u32, DateTime<Utc>)>>);

    impl TimetableService for Recording {
        fn generate(&self, _: GenerateInput, _: &str) -> ServiceResult<GenerationReport> {
            unreachable!("the horizon only keeps the horizon")
        }
        fn apply(&self, _: i64, _: ApplyInput, _: &str) -> ServiceResult<ApplyReport> {
            unreachable!("the horizon only keeps the horizon")
        }
        fn keep_horizon(
            &self,
            days: u32,
            now: DateTime<Utc>,
        ) -> ServiceResult<Option<GenerationReport>> {
            let mut calls = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            calls.push((days, now));
            Ok(Some(GenerationReport {
                created: 1,
                ..GenerationReport::default()
            }))
        }
    }

    #[test]
    fn runs_at_start_and_stops_when_dropped() {
        let service = Arc::new(Recording::default());
        let horizon = start(service.clone(), 28, Duration::from_secs(3600))
            .expect("start")
            .expect("on");
        // Dropping joins the thread, which ran once before waiting for the next hour.
        drop(horizon);
        let calls = service.0.lock().expect("calls");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, 28);
    }

    #[test]
    fn runs_again_after_the_period() {
        let service = Arc::new(Recording::default());
        let horizon = start(service.clone(), 7, Duration::from_millis(20))
            .expect("start")
            .expect("on");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while service.0.lock().expect("calls").len() < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(horizon);
        assert!(service.0.lock().expect("calls").len() >= 3);
    }

    #[test]
    fn zero_days_is_off() {
        let service = Arc::new(Recording::default());
        let horizon = start(service.clone(), 0, EVERY).expect("start");
        assert!(horizon.is_none());
        assert!(service.0.lock().expect("calls").is_empty());
    }
}
