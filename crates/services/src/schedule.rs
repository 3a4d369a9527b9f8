//! The public timetable.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use cohai_domain::ports::{
    ClassSessionRepository, LocationRepository, ProgramTypeRepository, TrainerRepository,
};
use cohai_domain::time::InstantOrDate;
use cohai_domain::{ClassSession, ScheduleFilter, TimeWindow, TimeWindowError};

use crate::{ServiceError, ServiceResult};

/// How far ahead the schedule looks when `to` is not given.
const DEFAULT_WINDOW_DAYS: i64 = 7;

/// A schedule request as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleQuery {
    /// Only this location.
    pub location_id: Option<i64>,
    /// Only this program type.
    pub program_type_id: Option<i64>,
    /// Only this trainer.
    pub trainer_id: Option<i64>,
    /// Start of the window (default: `now`).
    pub from: Option<InstantOrDate>,
    /// End of the window (default: `from` + 7 days).
    pub to: Option<InstantOrDate>,
    /// The current instant.
    pub now: DateTime<Utc>,
}

/// A calendar feed request: the schedule's filters, over a fixed window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarQuery {
    /// Only this location.
    pub location_id: Option<i64>,
    /// Only this program type.
    pub program_type_id: Option<i64>,
    /// Only this trainer.
    pub trainer_id: Option<i64>,
    /// The current instant: the feed lists sessions starting in
    /// `[now, now + TimeWindow::MAX_SCHEDULE_DAYS days)`.
    pub now: DateTime<Utc>,
}

/// One event of the calendar feed: a session and its studio's street address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEntry {
    /// The session.
    pub session: ClassSession,
    /// The address of the session's location.
    pub address: String,
}

/// Reads the timetable.
pub trait ScheduleService: Send + Sync {
    /// Sessions starting in the query's window, by start then id, cancelled ones included.
    fn schedule(&self, query: &ScheduleQuery) -> ServiceResult<Vec<ClassSession>>;
    /// The calendar feed's sessions (cancelled ones included), by start then id, with their
    /// studios' addresses. Filters fail as in [`ScheduleService::schedule`].
    fn calendar(&self, query: &CalendarQuery) -> ServiceResult<Vec<CalendarEntry>>;
}

/// [`ScheduleService`] over the repositories.
pub struct ScheduleServiceImpl {
    sessions: Arc<dyn ClassSessionRepository>,
    locations: Arc<dyn LocationRepository>,
    program_types: Arc<dyn ProgramTypeRepository>,
    trainers: Arc<dyn TrainerRepository>,
}

impl ScheduleServiceImpl {
    /// A schedule over these repositories.
    pub fn new(
        sessions: Arc<dyn ClassSessionRepository>,
        locations: Arc<dyn LocationRepository>,
        program_types: Arc<dyn ProgramTypeRepository>,
        trainers: Arc<dyn TrainerRepository>,
    ) -> Self {
        Self {
            sessions,
            locations,
            program_types,
            trainers,
        }
    }

    /// The time zone that dates are read in: the location's, else UTC.
    fn zone_of(&self, location_id: Option<i64>) -> ServiceResult<Tz> {
        let Some(id) = location_id else {
            return Ok(Tz::UTC);
        };
        let location = self
            .locations
            .get_by_id(id)?
            .filter(|l| l.is_active)
            .ok_or_else(|| ServiceError::not_found("location", id))?;
        location.timezone.parse::<Tz>().map_err(|_| {
            ServiceError::Internal(format!(
                "location {id} has an unknown time zone {:?}",
                location.timezone
            ))
        })
    }
}

/// Resolves `from`/`to` into a validated window in `tz`.
pub fn resolve_window(
    from: Option<InstantOrDate>,
    to: Option<InstantOrDate>,
    now: DateTime<Utc>,
    tz: Tz,
) -> ServiceResult<TimeWindow> {
    let from = from.map_or(now, |f| f.as_range_start(tz));
    let to = to.map_or(from + Duration::days(DEFAULT_WINDOW_DAYS), |t| {
        t.as_range_end(tz)
    });
    TimeWindow::new(from, to, TimeWindow::MAX_SCHEDULE_DAYS).map_err(|e| match e {
        TimeWindowError::Reversed => {
            ServiceError::invalid_parameter("to", "`to` must not be before `from`")
        }
        other => ServiceError::invalid_parameter("to", other.to_string()),
    })
}

impl ScheduleServiceImpl {
    /// The schedule of a query that names only a location and instants (the website's
    /// request), with the location looked up only when nothing matched: the search itself
    /// keeps to active locations, so a session found proves the location exists and is active,
    /// and instants need no time zone. Saves a query per request (a round trip on
    /// PostgreSQL). `None` for any other query, and for a window that is invalid (so that a
    /// missing location is still reported first).
    fn schedule_by_instants(
        &self,
        query: &ScheduleQuery,
    ) -> Option<ServiceResult<Vec<ClassSession>>> {
        let is_date = |at: Option<InstantOrDate>| matches!(at, Some(InstantOrDate::Date(_)));
        if query.program_type_id.is_some()
            || query.trainer_id.is_some()
            || is_date(query.from)
            || is_date(query.to)
        {
            return None;
        }
        let window = resolve_window(query.from, query.to, query.now, Tz::UTC).ok()?;
        let found = self.sessions.search(&ScheduleFilter {
            location_id: query.location_id,
            program_type_id: None,
            trainer_id: None,
            window,
        });
        Some(match found {
            Ok(sessions) if sessions.is_empty() => {
                self.zone_of(query.location_id).map(|_| sessions)
            }
            Ok(sessions) => Ok(sessions),
            Err(e) => Err(e.into()),
        })
    }
}

impl ScheduleService for ScheduleServiceImpl {
    fn schedule(&self, query: &ScheduleQuery) -> ServiceResult<Vec<ClassSession>> {
        if let Some(found) = self.schedule_by_instants(query) {
            return found;
        }
        let tz = self.zone_of(query.location_id)?;
        if let Some(id) = query.program_type_id {
            self.program_types
                .get_by_id(id)?
                .filter(|p| p.is_active)
                .ok_or_else(|| ServiceError::not_found("program type", id))?;
        }
        if let Some(id) = query.trainer_id {
            self.trainers
                .get_by_id(id)?
                .filter(|t| t.is_active)
                .ok_or_else(|| ServiceError::not_found("trainer", id))?;
        }
        let window = resolve_window(query.from, query.to, query.now, tz)?;
        let filter = ScheduleFilter {
            location_id: query.location_id,
            program_type_id: query.program_type_id,
            trainer_id: query.trainer_id,
            window,
        };
        Ok(self.sessions.search(&filter)?)
    }

    fn calendar(&self, query: &CalendarQuery) -> ServiceResult<Vec<CalendarEntry>> {
        let to = query.now + Duration::days(TimeWindow::MAX_SCHEDULE_DAYS);
        let sessions = self.schedule(&ScheduleQuery {
            location_id: query.location_id,
            program_type_id: query.program_type_id,
            trainer_id: query.trainer_id,
            from: Some(InstantOrDate::Instant(query.now)),
            to: Some(InstantOrDate::Instant(to)),
            now: query.now,
        })?;
        // A feed names few studios: one read each.
        let mut addresses: HashMap<i64, String> = HashMap::new();
        let mut entries = Vec::with_capacity(sessions.len());
        for session in sessions {
            let address = match addresses.entry(session.location.id) {
                Entry::Occupied(known) => known.get().clone(),
                Entry::Vacant(slot) => {
                    let location = self.locations.get_by_id(*slot.key())?.ok_or_else(|| {
                        ServiceError::Internal(format!(
                            "location {} of session {} vanished",
                            slot.key(),
                            session.id
                        ))
                    })?;
                    slot.insert(location.address).clone()
                }
            };
            entries.push(CalendarEntry { session, address });
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("instant")
            .with_timezone(&Utc)
    }

    #[test]
    fn defaults_to_seven_days_from_now() {
        let now = utc("2026-11-24T10:00:00Z");
        let w = resolve_window(None, None, now, Tz::UTC).expect("window");
        assert_eq!((w.from(), w.to()), (now, utc("2026-12-01T10:00:00Z")));
    }

    #[test]
    fn a_to_date_includes_that_whole_local_day() {
        let d = |day| {
            Some(InstantOrDate::Date(
                NaiveDate::from_ymd_opt(2026, 11, day).expect("date"),
            ))
        };
        let w = resolve_window(
            d(24),
            d(24),
            utc("2026-01-01T00:00:00Z"),
            chrono_tz::Europe::Moscow,
        )
        .expect("window");
        assert_eq!(
            (w.from(), w.to()),
            (utc("2026-11-23T21:00:00Z"), utc("2026-11-24T21:00:00Z"))
        );
    }

    #[test]
    fn a_window_from_the_last_days_of_the_year_9999_ends_at_the_latest_storable_instant() {
        let latest = cohai_domain::time::latest_instant();
        let date = |d| {
            Some(InstantOrDate::Date(
                NaiveDate::from_ymd_opt(9999, 12, d).expect("date"),
            ))
        };
        let now = utc("2026-11-24T10:00:00Z");
        // The default end, `from` + 7 days, would lie in the year 10000.
        let w = resolve_window(date(30), None, now, Tz::UTC).expect("window");
        assert_eq!((w.from(), w.to()), (utc("9999-12-30T00:00:00Z"), latest));
        // The last date includes its whole day, which ends in the year 10000 west of UTC.
        let w =
            resolve_window(date(31), date(31), now, chrono_tz::America::New_York).expect("window");
        assert_eq!((w.from(), w.to()), (utc("9999-12-31T05:00:00Z"), latest));
    }

    #[test]
    fn reversed_or_too_long_windows_name_the_to_parameter() {
        let now = utc("2026-11-24T10:00:00Z");
        let before = Some(InstantOrDate::Instant(utc("2026-11-23T10:00:00Z")));
        let far = Some(InstantOrDate::Instant(utc("2027-11-23T10:00:00Z")));
        for to in [before, far] {
            let err = resolve_window(None, to, now, Tz::UTC).expect_err("rejected");
            assert!(
                matches!(
                    err,
                    ServiceError::InvalidParameter {
                        parameter: "to",
                        ..
                    }
                ),
                "{err:?}"
            );
        }
    }
}
