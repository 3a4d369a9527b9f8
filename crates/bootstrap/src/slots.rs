//! The demo timetable: eight classes a day per studio at fixed local times, with programs,
//! trainers, capacities and cancellations rotated deterministically, converted to UTC in the
//! studio's time zone.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use chrono_tz::Tz;

/// Local start times of a studio's classes, as `(hour, minute)`.
pub const SLOT_TIMES: [(u32, u32); 8] = [
    (8, 0),
    (10, 0),
    (12, 0),
    (14, 0),
    (17, 0),
    (18, 30),
    (19, 30),
    (20, 30),
];

/// Smallest capacity of a demo class.
pub const MIN_CAPACITY: i32 = 8;
/// Largest capacity of a demo class.
pub const MAX_CAPACITY: i32 = 16;
/// One class in this many is cancelled.
pub const CANCEL_EVERY: usize = 40;

/// The UTC instant of a local wall-clock time in `tz`.
///
/// A time that occurs twice (the hour repeated when DST ends) is its earlier occurrence; a
/// time that does not exist (skipped when DST starts) moves forward to the first local time
/// that does, like a clock that is set forward.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    // DST gaps are at most a few hours; step forward until the local time exists.
    for _ in 0..=16 {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                return at.with_timezone(&Utc);
            }
            LocalResult::None => probe += Duration::minutes(15),
        }
    }
    // No zone has a gap this long; read the wall-clock time as UTC rather than fail.
    Utc.from_utc_datetime(&local)
}

/// The local time of slot `slot` (an index into [`SLOT_TIMES`]) on `date`.
pub fn slot_time(date: NaiveDate, slot: usize) -> NaiveDateTime {
    let (hour, minute) = SLOT_TIMES[slot % SLOT_TIMES.len()];
    date.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN))
}

/// One planned class of the demo timetable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedClass {
    /// Index into [`SLOT_TIMES`].
    pub slot: usize,
    /// Local start.
    pub local_start: NaiveDateTime,
    /// Start (UTC).
    pub starts_at: DateTime<Utc>,
    /// Index into the program list the caller rotates over.
    pub program: usize,
    /// One of the studio's trainers (a value of `trainers`).
    pub trainer: usize,
    /// Places, between [`MIN_CAPACITY`] and [`MAX_CAPACITY`].
    pub capacity: i32,
    /// Whether the class is cancelled (one in [`CANCEL_EVERY`]).
    pub cancelled: bool,
}

/// The classes of one studio on one local day, one per slot of [`SLOT_TIMES`].
///
/// Everything depends only on the studio's index, the date and the counts, never on the day
/// the tool runs, so a day looks the same whenever it is seeded. Consecutive slots have
/// different trainers (`trainers` must not be empty; with one trainer every class is theirs).
pub fn plan_day(
    studio: usize,
    date: NaiveDate,
    tz: Tz,
    program_count: usize,
    trainers: &[usize],
) -> Vec<PlannedClass> {
    // Days since 0001-01-01: a stable day number (dates before it do not occur here).
    let day = usize::try_from(date.num_days_from_ce()).unwrap_or_default();
    let capacity_span = usize::try_from(MAX_CAPACITY - MIN_CAPACITY + 1).unwrap_or(1);
    (0..SLOT_TIMES.len())
        .map(|slot| {
            let local_start = slot_time(date, slot);
            let capacity_step = (day * 5 + slot * 3 + studio * 7) % capacity_span;
            PlannedClass {
                slot,
                local_start,
                starts_at: local_to_utc(tz, local_start),
                program: (day + slot + studio * 2) % program_count.max(1),
                trainer: trainers
                    .get((day + slot) % trainers.len().max(1))
                    .copied()
                    .unwrap_or_default(),
                capacity: MIN_CAPACITY + i32::try_from(capacity_step).unwrap_or_default(),
                cancelled: (day * SLOT_TIMES.len() + slot + studio * 13) % CANCEL_EVERY == 7,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo_data::{LOCATIONS, PROGRAMS};

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid instant")
            .with_timezone(&Utc)
    }

    fn fortnight(studio: usize, start: NaiveDate, tz: Tz) -> Vec<PlannedClass> {
        start
            .iter_days()
            .take(14)
            .flat_map(|d| plan_day(studio, d, tz, PROGRAMS.len(), LOCATIONS[studio].trainers))
            .collect()
    }

    #[test]
    fn a_fortnight_has_eight_distinct_classes_a_day() {
        let tz = chrono_tz::Europe::Moscow;
        let classes = fortnight(0, date(2026, 11, 24), tz);
        assert_eq!(classes.len(), 14 * 8);
        let mut starts: Vec<_> = classes.iter().map(|c| c.starts_at).collect();
        starts.dedup();
        assert_eq!(starts.len(), 14 * 8, "starts are distinct and ascending");
        assert_eq!(classes[0].starts_at, utc("2026-11-24T05:00:00Z"));
        assert_eq!(classes[7].starts_at, utc("2026-11-24T17:30:00Z"));
    }

    #[test]
    fn the_plan_is_deterministic_and_within_bounds() {
        let tz = chrono_tz::Asia::Yekaterinburg;
        let a = fortnight(2, date(2026, 11, 24), tz);
        assert_eq!(a, fortnight(2, date(2026, 11, 24), tz));
        assert!(
            a.iter()
                .all(|c| (MIN_CAPACITY..=MAX_CAPACITY).contains(&c.capacity))
        );
        assert!(a.iter().all(|c| c.program < PROGRAMS.len()));
        assert!(a.iter().all(|c| LOCATIONS[2].trainers.contains(&c.trainer)));
        // Yekaterinburg is UTC+5 all year.
        assert_eq!(a[0].starts_at, utc("2026-11-24T03:00:00Z"));
        // Every program is taught within a fortnight.
        for program in 0..PROGRAMS.len() {
            assert!(a.iter().any(|c| c.program == program), "program {program}");
        }
    }

    #[test]
    fn about_one_class_in_forty_is_cancelled() {
        let tz = chrono_tz::Europe::Moscow;
        for studio in 0..LOCATIONS.len() {
            let classes: Vec<_> = (0..10)
                .flat_map(|n| fortnight(studio, date(2026, 1, 1) + Duration::days(14 * n), tz))
                .collect();
            let cancelled = classes.iter().filter(|c| c.cancelled).count();
            assert_eq!(cancelled, classes.len() / CANCEL_EVERY, "studio {studio}");
        }
    }

    #[test]
    fn no_trainer_teaches_two_overlapping_classes() {
        let tz = chrono_tz::Europe::Moscow;
        for (studio, location) in LOCATIONS.iter().enumerate() {
            let day = plan_day(
                studio,
                date(2026, 11, 24),
                tz,
                PROGRAMS.len(),
                location.trainers,
            );
            for (i, a) in day.iter().enumerate() {
                let a_end =
                    a.starts_at + Duration::minutes(PROGRAMS[a.program].duration_minutes.into());
                for b in &day[i + 1..] {
                    assert!(
                        a.trainer != b.trainer || b.starts_at >= a_end,
                        "studio {studio}: slots {} and {} overlap for trainer {}",
                        a.slot,
                        b.slot,
                        a.trainer
                    );
                }
            }
        }
    }

    #[test]
    fn berlin_local_times_follow_the_dst_changes() {
        let tz = chrono_tz::Europe::Berlin;
        // The day before DST starts (CET, UTC+1), the day it starts (CEST, UTC+2).
        assert_eq!(
            plan_day(0, date(2026, 3, 28), tz, 6, &[0])[0].starts_at,
            utc("2026-03-28T07:00:00Z")
        );
        assert_eq!(
            plan_day(0, date(2026, 3, 29), tz, 6, &[0])[0].starts_at,
            utc("2026-03-29T06:00:00Z")
        );
        // The day DST ends is back on CET.
        assert_eq!(
            plan_day(0, date(2026, 10, 25), tz, 6, &[0])[0].starts_at,
            utc("2026-10-25T07:00:00Z")
        );
        // Both days still have eight classes at the same local times.
        let spring = plan_day(0, date(2026, 3, 29), tz, 6, &[0]);
        assert_eq!(spring.len(), 8);
        assert_eq!(
            spring[7].local_start,
            date(2026, 3, 29).and_hms_opt(20, 30, 0).expect("time")
        );
        assert_eq!(spring[7].starts_at, utc("2026-03-29T18:30:00Z"));
    }

    #[test]
    fn skipped_and_repeated_local_times_are_resolved() {
        let tz = chrono_tz::Europe::Berlin;
        // 02:30 does not exist on 2026-03-29 (02:00 → 03:00): the class starts at 03:00 CEST.
        let skipped = date(2026, 3, 29).and_hms_opt(2, 30, 0).expect("time");
        assert_eq!(local_to_utc(tz, skipped), utc("2026-03-29T01:00:00Z"));
        // 02:30 happens twice on 2026-10-25: the earlier one (CEST) is taken.
        let repeated = date(2026, 10, 25).and_hms_opt(2, 30, 0).expect("time");
        assert_eq!(local_to_utc(tz, repeated), utc("2026-10-25T00:30:00Z"));
    }
}
