//! The demo studios' weekly timetable: eight classes every day of the week at fixed local
//! times, with programs, trainers and capacities rotated deterministically. `seed` stores it
//! as timetable slots and generates the coming two weeks from them, as the server does; one
//! class in [`CANCEL_EVERY`] is then cancelled, like a manager would.

use chrono::{Datelike, NaiveDate};
use cohai_domain::StartTime;

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
/// Why a demo class is cancelled.
pub const CANCELLATION_REASON: &str = "Тренер заболел, занятие переносится";

/// The first date of every demo slot (they have no last one): fixed, so the slots are the
/// same whenever they are seeded.
pub const VALID_FROM: NaiveDate = match NaiveDate::from_ymd_opt(2025, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// The start time of slot `time` (an index into [`SLOT_TIMES`]).
pub fn start_time(time: usize) -> StartTime {
    let (hour, minute) = SLOT_TIMES[time % SLOT_TIMES.len()];
    let minutes = i32::try_from(hour * 60 + minute).unwrap_or_default();
    StartTime::from_minutes(minutes).unwrap_or(StartTime::MIDNIGHT)
}

/// One weekly class of a demo studio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSlot {
    /// ISO weekday, 1 = Monday … 7 = Sunday.
    pub weekday: i32,
    /// Index into [`SLOT_TIMES`].
    pub time: usize,
    /// Index into the program list the caller rotates over.
    pub program: usize,
    /// One of the studio's trainers (a value of `trainers`).
    pub trainer: usize,
    /// Places, between [`MIN_CAPACITY`] and [`MAX_CAPACITY`].
    pub capacity: i32,
}

impl DemoSlot {
    /// The local start time.
    pub fn start_time(&self) -> StartTime {
        start_time(self.time)
    }
}

/// The week of studio `studio` (its index in the demo chain): one slot per time of
/// [`SLOT_TIMES`] on every weekday, Monday first.
///
/// It depends only on the studio's index and the counts, never on the day it is seeded.
/// Consecutive classes of a day have different trainers (`trainers` must not be empty; with
/// one trainer every class is theirs).
pub fn studio_week(studio: usize, program_count: usize, trainers: &[usize]) -> Vec<DemoSlot> {
    let capacity_span = usize::try_from(MAX_CAPACITY - MIN_CAPACITY + 1).unwrap_or(1);
    (1..=7usize)
        .flat_map(|weekday| (0..SLOT_TIMES.len()).map(move |time| (weekday, time)))
        .map(|(weekday, time)| {
            let capacity_step = (weekday * 5 + time * 3 + studio * 7) % capacity_span;
            DemoSlot {
                weekday: i32::try_from(weekday).unwrap_or(1),
                time,
                program: (weekday + time + studio * 2) % program_count.max(1),
                trainer: trainers
                    .get((weekday + time) % trainers.len().max(1))
                    .copied()
                    .unwrap_or_default(),
                capacity: MIN_CAPACITY + i32::try_from(capacity_step).unwrap_or_default(),
            }
        })
        .collect()
}

/// Whether the class of slot time `time` on `date` at studio `studio` is cancelled: one in
/// [`CANCEL_EVERY`], evenly spread, the same whenever it is seeded.
pub fn is_cancelled(studio: usize, date: NaiveDate, time: usize) -> bool {
    // Days since 0001-01-01: a stable day number (dates before it do not occur here).
    let day = usize::try_from(date.num_days_from_ce()).unwrap_or_default();
    (day * SLOT_TIMES.len() + time + studio * 13) % CANCEL_EVERY == 7
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use cohai_domain::timetable::{iso_weekday, session_times};

    use super::*;
    use crate::demo_data::{LOCATIONS, PROGRAMS};

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn a_week_has_eight_classes_a_day_at_distinct_times() {
        let week = studio_week(0, PROGRAMS.len(), LOCATIONS[0].trainers);
        assert_eq!(week.len(), 7 * 8);
        for weekday in 1..=7 {
            let mut times: Vec<StartTime> = week
                .iter()
                .filter(|s| s.weekday == weekday)
                .map(DemoSlot::start_time)
                .collect();
            assert_eq!(times.len(), 8);
            times.dedup();
            assert_eq!(times.len(), 8, "ascending and distinct");
        }
        assert_eq!(week[0].start_time().to_string(), "08:00");
        assert_eq!(week[7].start_time().to_string(), "20:30");
    }

    #[test]
    fn the_week_is_deterministic_and_within_bounds() {
        for (studio, location) in LOCATIONS.iter().enumerate() {
            let week = studio_week(studio, PROGRAMS.len(), location.trainers);
            assert_eq!(week, studio_week(studio, PROGRAMS.len(), location.trainers));
            assert!(
                week.iter()
                    .all(|c| (MIN_CAPACITY..=MAX_CAPACITY).contains(&c.capacity))
            );
            assert!(week.iter().all(|c| location.trainers.contains(&c.trainer)));
            for program in 0..PROGRAMS.len() {
                assert!(
                    week.iter().any(|c| c.program == program),
                    "studio {studio} teaches program {program} every week"
                );
            }
        }
    }

    #[test]
    fn about_one_class_in_forty_is_cancelled() {
        for studio in 0..LOCATIONS.len() {
            let start = date(2026, 1, 1);
            let classes: Vec<bool> = (0..140)
                .flat_map(|n| {
                    let d = start + Duration::days(n);
                    (0..SLOT_TIMES.len()).map(move |time| is_cancelled(studio, d, time))
                })
                .collect();
            let cancelled = classes.iter().filter(|c| **c).count();
            assert_eq!(cancelled, classes.len() / CANCEL_EVERY, "studio {studio}");
        }
    }

    #[test]
    fn no_trainer_teaches_two_overlapping_classes() {
        let tz = chrono_tz::Europe::Moscow;
        for (studio, location) in LOCATIONS.iter().enumerate() {
            let week = studio_week(studio, PROGRAMS.len(), location.trainers);
            // A week of dates, Monday 2026-11-23 first.
            let classes: Vec<_> = week
                .iter()
                .map(|slot| {
                    let d = date(2026, 11, 22) + Duration::days(i64::from(slot.weekday));
                    assert_eq!(iso_weekday(d), slot.weekday);
                    let duration = PROGRAMS[slot.program].duration_minutes;
                    (slot, session_times(tz, d, slot.start_time(), duration))
                })
                .collect();
            for (i, (a, (a_start, a_end))) in classes.iter().enumerate() {
                for (b, (b_start, b_end)) in &classes[i + 1..] {
                    assert!(
                        a.trainer != b.trainer || b_start >= a_end || a_start >= b_end,
                        "studio {studio}: {a:?} and {b:?} overlap"
                    );
                }
            }
        }
    }
}
