//! The weekly timetable (API.md §6): recurring slots, and what generating class sessions
//! from them means — on which local dates a slot occurs and at which instants its session
//! starts and ends.
//!
//! A slot and a local date make an *occurrence*; generation creates at most one session per
//! occurrence, ever (the storage keeps a record of each occurrence it generated). Changing a
//! slot changes only occurrences generated later, unless it is applied to the sessions
//! already generated.

mod dates;
mod local_time;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::audit::{AuditEntity, Audited, fields_of};

pub use dates::{DateError, DateRange, DateRangeError, FIRST_DATE, LAST_DATE, parse_date};
pub use local_time::{StartTime, StartTimeError, local_to_utc};

/// A weekly recurring class at one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimetableSlot {
    /// Identifier.
    pub id: i64,
    /// Where.
    pub location_id: i64,
    /// What.
    pub program_type_id: i64,
    /// Who teaches.
    pub trainer_id: i64,
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 7, example = 2))]
    pub weekday: i32,
    /// Local start time in the location's time zone, `HH:MM`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "19:00"))]
    pub start_time: StartTime,
    /// Places in each class.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 500, example = 12))]
    pub capacity: i32,
    /// The first date the slot occurs on (or after).
    pub valid_from: NaiveDate,
    /// The last date it may occur on; `null`: no end.
    pub valid_until: Option<NaiveDate>,
    /// Inactive slots generate nothing.
    #[serde(skip)]
    pub is_active: bool,
    /// Grows by one with every change (the admin API's `ETag`).
    #[serde(skip)]
    pub version: i64,
}

impl TimetableSlot {
    /// Whether the slot occurs on `date`: the date's weekday is the slot's and the date lies
    /// within its validity (whether the slot is active is not asked).
    pub fn occurs_on(&self, date: NaiveDate) -> bool {
        iso_weekday(date) == self.weekday
            && self.valid_from <= date
            && self.valid_until.is_none_or(|until| date <= until)
    }

    /// The dates of `range` the slot occurs on, in order.
    pub fn dates_in(&self, range: &DateRange) -> impl Iterator<Item = NaiveDate> + '_ {
        range.dates().filter(|d| self.occurs_on(*d))
    }
}

/// The ISO weekday of `date`: 1 = Monday … 7 = Sunday.
pub fn iso_weekday(date: NaiveDate) -> i32 {
    i32::try_from(date.weekday().number_from_monday()).unwrap_or_default()
}

/// The start and end of the session of an occurrence: `start` on `date` in `tz` (see
/// [`local_to_utc`]), lasting `duration_minutes` of real time (a class over a DST change is
/// as long as any other).
pub fn session_times(
    tz: Tz,
    date: NaiveDate,
    start: StartTime,
    duration_minutes: i32,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let starts_at = local_to_utc(tz, start.on(date));
    (
        starts_at,
        starts_at + Duration::minutes(i64::from(duration_minutes.max(1))),
    )
}

/// Fields of a new or replaced timetable slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTimetableSlot {
    /// Location id.
    pub location_id: i64,
    /// Program type id.
    pub program_type_id: i64,
    /// Trainer id.
    pub trainer_id: i64,
    /// ISO weekday, 1–7.
    pub weekday: i32,
    /// Local start time.
    pub start_time: StartTime,
    /// Places, 1–500.
    pub capacity: i32,
    /// First date.
    pub valid_from: NaiveDate,
    /// Last date, not before `valid_from`; `None`: no end.
    pub valid_until: Option<NaiveDate>,
    /// Whether it generates sessions.
    pub is_active: bool,
}

impl Audited for TimetableSlot {
    const ENTITY: AuditEntity = AuditEntity::TimetableSlot;
    fn id(&self) -> i64 {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn fields(&self) -> serde_json::Map<String, serde_json::Value> {
        fields_of(self, self.is_active)
    }
}

/// Whether a generation run waits for another one to finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunLock {
    /// Wait until no other run is in progress (a run someone asked for).
    Wait,
    /// Do nothing when another run is in progress (a background run that another instance
    /// is already doing).
    SkipIfBusy,
}

/// When a generation run writes its audit entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAudit {
    /// One entry per scope, also when it created nothing (a manager's run).
    Always,
    /// Only for the scopes that created sessions (the server's and the seed's own runs).
    WhenCreated,
}

/// One part of a generation run: the dates of `range`, in the local time of each location
/// (or only of `location_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerationScope {
    /// Only this location's slots; `None`: every location's.
    pub location_id: Option<i64>,
    /// The local dates.
    pub range: DateRange,
}

/// A generation run: sessions for every occurrence in its scopes, in one transaction.
///
/// For every active slot of an active location whose program type and trainer are active,
/// and every date of a scope the slot occurs on: an occurrence already generated once is
/// skipped; one whose session would overlap another scheduled session of its trainer is a
/// conflict and is not recorded (a later run tries again); otherwise a `scheduled` session is
/// created and the occurrence recorded with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationRun {
    /// What to generate.
    pub scopes: Vec<GenerationScope>,
    /// Whether to wait for a concurrent run.
    pub lock: RunLock,
    /// When to write the audit entries.
    pub audit: RunAudit,
}

/// An occurrence that was not generated (or a session not moved) because its session would
/// overlap another scheduled session of the trainer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OccurrenceConflict {
    /// The slot.
    pub timetable_slot_id: i64,
    /// The occurrence's local date.
    pub date: NaiveDate,
    /// The session it would overlap (`null` only when that session was still being written
    /// by a concurrent transaction and could not be read).
    pub class_session_id: Option<i64>,
}

/// A session that a generation run created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneratedSession {
    /// The slot.
    pub timetable_slot_id: i64,
    /// The occurrence's local date.
    pub date: NaiveDate,
    /// The new session.
    pub class_session_id: i64,
}

/// What a generation run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GenerationReport {
    /// Sessions created.
    pub created: u64,
    /// Occurrences in the range that already have, or once had, a session.
    pub skipped: u64,
    /// Occurrences not generated because they would overlap another session of the trainer
    /// (not counted in `skipped`); present only when there are some.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<OccurrenceConflict>,
    /// The sessions created, in the order they were.
    #[serde(skip)]
    pub sessions: Vec<GeneratedSession>,
}

impl GenerationReport {
    /// Adds `other`'s counts, conflicts and sessions to this report.
    pub fn absorb(&mut self, other: GenerationReport) {
        self.created += other.created;
        self.skipped += other.skipped;
        self.conflicts.extend(other.conflicts);
        self.sessions.extend(other.sessions);
    }
}

/// What applying a slot to its generated sessions did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplyReport {
    /// Sessions changed.
    pub updated: u64,
    /// Sessions left as they were because the change would make them overlap another session
    /// of the trainer; present only when there are some.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<OccurrenceConflict>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn tuesday_slot(valid_until: Option<NaiveDate>) -> TimetableSlot {
        TimetableSlot {
            id: 1,
            location_id: 1,
            program_type_id: 1,
            trainer_id: 1,
            weekday: 2,
            start_time: StartTime::parse("19:00").expect("valid"),
            capacity: 12,
            valid_from: date(2027, 3, 9),
            valid_until,
            is_active: true,
            version: 1,
        }
    }

    #[test]
    fn a_slot_occurs_on_its_weekday_within_its_validity() {
        let range = DateRange::new(date(2027, 3, 1), date(2027, 3, 31), 91).expect("range");
        let open = tuesday_slot(None);
        assert_eq!(
            open.dates_in(&range).collect::<Vec<_>>(),
            [
                date(2027, 3, 9),
                date(2027, 3, 16),
                date(2027, 3, 23),
                date(2027, 3, 30)
            ],
            "Tuesdays from 9 March"
        );
        let closed = tuesday_slot(Some(date(2027, 3, 23)));
        assert_eq!(
            closed.dates_in(&range).count(),
            3,
            "valid_until is included"
        );
        assert!(!closed.occurs_on(date(2027, 3, 10)), "a Wednesday");
        assert_eq!(iso_weekday(date(2027, 3, 28)), 7, "a Sunday is 7");
    }

    #[test]
    fn a_session_lasts_its_duration_in_real_time() {
        let berlin = chrono_tz::Europe::Berlin;
        let late = StartTime::parse("01:30").expect("valid");
        // 01:30 CET + 90 minutes crosses the change to CEST: it ends at 04:00 local.
        let (start, end) = session_times(berlin, date(2027, 3, 28), late, 90);
        assert_eq!(end - start, Duration::minutes(90));
        assert_eq!(start.to_rfc3339(), "2027-03-28T00:30:00+00:00");
    }

    #[test]
    fn the_audit_fields_use_the_api_names_and_formats() {
        let fields = tuesday_slot(None).fields();
        assert_eq!(fields["start_time"], "19:00");
        assert_eq!(fields["valid_from"], "2027-03-09");
        assert_eq!(fields["valid_until"], serde_json::Value::Null);
        assert_eq!(fields["active"], true);
        assert!(!fields.contains_key("id") && !fields.contains_key("version"));
    }

    #[test]
    fn a_report_lists_conflicts_only_when_there_are_some() {
        let mut report = GenerationReport {
            created: 2,
            skipped: 1,
            ..GenerationReport::default()
        };
        assert_eq!(
            serde_json::to_value(&report).expect("json"),
            serde_json::json!({"created": 2, "skipped": 1})
        );
        report.absorb(GenerationReport {
            created: 1,
            conflicts: vec![OccurrenceConflict {
                timetable_slot_id: 3,
                date: date(2027, 3, 9),
                class_session_id: Some(7),
            }],
            ..GenerationReport::default()
        });
        assert_eq!(
            serde_json::to_value(&report).expect("json"),
            serde_json::json!({"created": 3, "skipped": 1, "conflicts": [
                {"timetable_slot_id": 3, "date": "2027-03-09", "class_session_id": 7}]})
        );
    }
}
