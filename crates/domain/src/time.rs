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
    pub fn as_range_start(self, tz: Tz) -> DateTime<Utc> {
        match self {
            Self::Instant(at) => at,
            Self::Date(date) => start_of_day(date, tz),
        }
    }

    /// The instant this value names as the (exclusive) end of a range: a date includes
    /// that whole day, so it ends at the next local midnight.
    pub fn as_range_end(self, tz: Tz) -> DateTime<Utc> {
        match self {
            Self::Instant(at) => at,
            Self::Date(date) => start_of_day(date.succ_opt().unwrap_or(date), tz),
        }
    }
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
    pub fn new(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        max_days: i64,
    ) -> Result<Self, TimeWindowError> {
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
}
