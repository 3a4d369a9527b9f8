//! Time parameters: instants or calendar dates, resolved in a location's time zone.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A `from`/`to` parameter as the client wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstantOrDate {
    /// An RFC 3339 instant with an explicit offset.
    Instant(DateTime<Utc>),
    /// A calendar date `YYYY-MM-DD`.
    Date(NaiveDate),
}

/// Why a time parameter or window was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeWindowError {
    /// Neither an RFC 3339 instant with offset nor a `YYYY-MM-DD` date.
    #[error("expected an RFC 3339 date-time with offset or a YYYY-MM-DD date")]
    Malformed,
    /// `to` lies before `from`.
    #[error("`to` is before `from`")]
    Reversed,
    /// The window is longer than allowed.
    #[error("the range is longer than {max_days} days")]
    TooLong {
        /// The limit in days.
        max_days: i64,
    },
}

impl InstantOrDate {
    /// Parses an RFC 3339 instant (an offset is required) or a `YYYY-MM-DD` date.
    ///
    /// ```
    /// use cohai_domain::time::InstantOrDate;
    /// assert!(InstantOrDate::parse("2026-11-24T15:00:00+03:00").is_ok());
    /// assert!(InstantOrDate::parse("2026-11-24").is_ok());
    /// assert!(InstantOrDate::parse("2026-11-24T15:00:00").is_err()); // no offset
    /// ```
    pub fn parse(input: &str) -> Result<Self, TimeWindowError> {
        if input.len() == 10 {
            return NaiveDate::parse_from_str(input, "%Y-%m-%d")
                .map(Self::Date)
                .map_err(|_| TimeWindowError::Malformed);
        }
        DateTime::parse_from_rfc3339(input)
            .map(|dt| Self::Instant(dt.with_timezone(&Utc)))
            .map_err(|_| TimeWindowError::Malformed)
    }

    /// The instant this value names as the start of a range: a date is its local midnight.
    ///
    /// [Clamped](clamp_instant) to the years 0000–9999 (UTC) that storage compares correctly.
    pub fn as_range_start(self, tz: Tz) -> DateTime<Utc> {
        clamp_instant(match self {
            Self::Instant(at) => at,
            Self::Date(date) => start_of_day(date, tz),
        })
    }

    /// The instant this value names as the (exclusive) end of a range: a date includes
    /// that whole day, so it ends at the next local midnight.
    ///
    /// [Clamped](clamp_instant) to the years 0000–9999 (UTC), so `9999-12-31` (whose day ends
    /// in the year 10000) ends at [`latest_instant`] and still includes everything stored.
    pub fn as_range_end(self, tz: Tz) -> DateTime<Utc> {
        clamp_instant(match self {
            Self::Instant(at) => at,
            Self::Date(date) => start_of_day(date.succ_opt().unwrap_or(date), tz),
        })
    }
}

/// The earliest instant a range bound takes: `0000-01-01T00:00:00Z`.
pub fn earliest_instant() -> DateTime<Utc> {
    let first_day = NaiveDate::from_ymd_opt(0, 1, 1).unwrap_or(NaiveDate::MIN);
    first_day.and_time(NaiveTime::MIN).and_utc()
}

/// The latest instant a range bound takes: `9999-12-31T23:59:59.999999Z`, the last one with a
/// four-digit year at the microsecond precision both databases store.
pub fn latest_instant() -> DateTime<Utc> {
    let last_day = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX);
    last_day.and_time(NaiveTime::MIN).and_utc() + Duration::days(1) - Duration::microseconds(1)
}

/// `at` moved into `[earliest_instant(), latest_instant()]`.
///
/// Stored instants have four-digit years; SQLite compares them as text, where
/// `+10000-01-01` sorts before `2026-…`, so a bound past the year 9999 would match nothing
/// (and one before the year 0 everything in the wrong way). Every bound a client can write
/// is therefore clamped: it then means what it says for every instant that can be stored.
///
/// ```
/// use cohai_domain::time::{clamp_instant, latest_instant};
/// let year_10000 = chrono::DateTime::parse_from_rfc3339("9999-12-31T23:00:00-05:00").expect("valid");
/// assert_eq!(clamp_instant(year_10000.to_utc()), latest_instant());
/// ```
pub fn clamp_instant(at: DateTime<Utc>) -> DateTime<Utc> {
    at.clamp(earliest_instant(), latest_instant())
}

/// The first instant of `date` in `tz`.
///
/// Where local midnight does not exist (a DST gap at midnight), the day starts at the first
/// local time that does; where it occurs twice, at the earlier one.
pub fn start_of_day(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut local = date.and_time(NaiveTime::MIN);
    // DST gaps are at most a few hours; step forward until the local time exists.
    for _ in 0..=16 {
        match tz.from_local_datetime(&local) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                return at.with_timezone(&Utc);
            }
            LocalResult::None => local += Duration::minutes(15),
        }
    }
    Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN))
}

/// A validated half-open range of instants, `from <= t < to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl TimeWindow {
    /// Longest schedule window the public API serves.
    pub const MAX_SCHEDULE_DAYS: i64 = 62;

    /// Builds a window; `to == from` is allowed (an empty window).
    ///
    /// Both ends are [clamped](clamp_instant) first, so a default end computed past the year
    /// 9999 (`from` + 7 days) stays comparable with what is stored.
    pub fn new(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        max_days: i64,
    ) -> Result<Self, TimeWindowError> {
        let (from, to) = (clamp_instant(from), clamp_instant(to));
        if to < from {
            return Err(TimeWindowError::Reversed);
        }
        if to - from > Duration::days(max_days) {
            return Err(TimeWindowError::TooLong { max_days });
        }
        Ok(Self { from, to })
    }

    /// Inclusive start.
    pub fn from(&self) -> DateTime<Utc> {
        self.from
    }

    /// Exclusive end.
    pub fn to(&self) -> DateTime<Utc> {
        self.to
    }

    /// True when `at` lies inside.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid test instant")
            .with_timezone(&Utc)
    }

    #[test]
    fn date_is_local_midnight_in_the_zone() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
        assert_eq!(
            start_of_day(date, chrono_tz::Europe::Moscow),
            utc("2026-11-23T21:00:00Z")
        );
        // India is UTC+05:30: not a whole number of hours.
        assert_eq!(
            start_of_day(date, chrono_tz::Asia::Kolkata),
            utc("2026-11-23T18:30:00Z")
        );
    }

    #[test]
    fn berlin_day_of_dst_end_is_25_hours_long() {
        let day = InstantOrDate::Date(NaiveDate::from_ymd_opt(2026, 10, 25).expect("date"));
        let tz = chrono_tz::Europe::Berlin;
        assert_eq!(day.as_range_start(tz), utc("2026-10-24T22:00:00Z"));
        assert_eq!(day.as_range_end(tz), utc("2026-10-25T23:00:00Z"));
    }

    #[test]
    fn midnight_inside_a_dst_gap_starts_at_the_first_existing_time() {
        // Chile (America/Santiago) springs forward at 24:00 -> 01:00 on 2026-09-06.
        let date = NaiveDate::from_ymd_opt(2026, 9, 6).expect("date");
        assert_eq!(
            start_of_day(date, chrono_tz::America::Santiago),
            utc("2026-09-06T04:00:00Z")
        );
    }

    #[test]
    fn rejects_instants_without_offset_and_bad_dates() {
        for bad in ["2026-11-24T15:00:00", "2026-13-01", "24.11.2026", "", "now"] {
            assert_eq!(
                InstantOrDate::parse(bad),
                Err(TimeWindowError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn window_rules() {
        let from = utc("2026-11-01T00:00:00Z");
        assert!(TimeWindow::new(from, from, 62).is_ok());
        assert_eq!(
            TimeWindow::new(from, from - Duration::seconds(1), 62),
            Err(TimeWindowError::Reversed)
        );
        assert!(TimeWindow::new(from, from + Duration::days(62), 62).is_ok());
        assert_eq!(
            TimeWindow::new(from, from + Duration::days(62) + Duration::seconds(1), 62),
            Err(TimeWindowError::TooLong { max_days: 62 })
        );
    }

    #[test]
    fn the_storable_range_is_the_four_digit_years() {
        use chrono::SecondsFormat::Micros;
        assert_eq!(
            earliest_instant().to_rfc3339_opts(Micros, true),
            "0000-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            latest_instant().to_rfc3339_opts(Micros, true),
            "9999-12-31T23:59:59.999999Z"
        );
        let inside = utc("2026-03-01T12:00:00Z");
        assert_eq!(clamp_instant(inside), inside);
        assert_eq!(clamp_instant(DateTime::<Utc>::MAX_UTC), latest_instant());
        assert_eq!(clamp_instant(DateTime::<Utc>::MIN_UTC), earliest_instant());
    }

    #[test]
    fn the_last_date_ends_at_the_latest_storable_instant_not_in_the_year_10000() {
        let last = InstantOrDate::parse("9999-12-31").expect("a date");
        assert_eq!(last.as_range_end(Tz::UTC), latest_instant());
        assert_eq!(last.as_range_start(Tz::UTC), utc("9999-12-31T00:00:00Z"));
        // West of UTC the day starts on 9999-12-31 UTC and ends in the year 10000.
        let new_york = chrono_tz::America::New_York;
        assert_eq!(last.as_range_start(new_york), utc("9999-12-31T05:00:00Z"));
        assert_eq!(last.as_range_end(new_york), latest_instant());
        // East of UTC the day ends before the limit and is kept exactly.
        assert_eq!(
            last.as_range_end(chrono_tz::Europe::Moscow),
            utc("9999-12-31T21:00:00Z")
        );
    }

    #[test]
    fn instants_written_with_an_offset_past_the_limits_are_clamped() {
        for (input, start, end) in [
            (
                "9999-12-31T23:59:59Z",
                utc("9999-12-31T23:59:59Z"),
                utc("9999-12-31T23:59:59Z"),
            ),
            (
                "9999-12-31T23:00:00-05:00",
                latest_instant(),
                latest_instant(),
            ),
            (
                "0000-01-01T00:00:00+14:00",
                earliest_instant(),
                earliest_instant(),
            ),
        ] {
            let v = InstantOrDate::parse(input).expect(input);
            assert_eq!(v.as_range_start(Tz::UTC), start, "{input}");
            assert_eq!(v.as_range_end(Tz::UTC), end, "{input}");
        }
        let first = InstantOrDate::parse("0000-01-01").expect("a date");
        assert_eq!(
            first.as_range_start(chrono_tz::Asia::Tokyo),
            earliest_instant()
        );
    }

    #[test]
    fn every_bound_that_parses_lies_in_the_storable_range() {
        for input in [
            "9999-12-31",
            "0000-01-01",
            "+10000-1-1",
            "+99999-1-1",
            "-999-01-01",
            "9999-12-31T23:59:59.999999999-23:59",
            "0000-01-01T00:00:00+23:59",
        ] {
            let Ok(v) = InstantOrDate::parse(input) else {
                continue;
            };
            for tz in [
                Tz::UTC,
                chrono_tz::Pacific::Kiritimati,
                chrono_tz::Pacific::Pago_Pago,
            ] {
                for at in [v.as_range_start(tz), v.as_range_end(tz)] {
                    assert!(
                        (earliest_instant()..=latest_instant()).contains(&at),
                        "{input} in {tz}: {at}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_window_in_the_year_9999_ends_at_the_latest_storable_instant() {
        // The schedule's default end, `from` + 7 days, from a `from` late in the year 9999.
        let from = utc("9999-12-30T00:00:00Z");
        let w = TimeWindow::new(from, from + Duration::days(7), 62).expect("window");
        assert_eq!((w.from(), w.to()), (from, latest_instant()));
        assert!(w.contains(utc("9999-12-31T23:59:59Z")));
        // A window wholly past the limit is empty, not reversed or too long.
        let beyond = latest_instant() + Duration::days(1);
        let w = TimeWindow::new(beyond, beyond + Duration::days(7), 62).expect("window");
        assert_eq!((w.from(), w.to()), (latest_instant(), latest_instant()));
        // The length limit is checked on the clamped ends.
        assert!(TimeWindow::new(from - Duration::days(60), from + Duration::days(7), 62).is_ok());
    }
}
