//! Calendar dates of the timetable: how they are written, and ranges of them.

use chrono::{Duration, NaiveDate};

/// The earliest date the timetable takes.
pub const FIRST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// The latest date the timetable takes: a class on it still starts and ends, in UTC, within
/// the four-digit years that storage compares correctly.
pub const LAST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(9998, 12, 31) {
    Some(d) => d,
    None => NaiveDate::MAX,
};

/// A date that is not `YYYY-MM-DD` between [`FIRST_DATE`] and [`LAST_DATE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a date YYYY-MM-DD from 1900-01-01 to 9998-12-31")]
pub struct DateError;

/// Parses a calendar date written exactly `YYYY-MM-DD`.
///
/// ```
/// use cohai_domain::timetable::parse_date;
/// assert!(parse_date("2027-03-28").is_ok());
/// for bad in ["2027-3-28", "2027-02-30", "28.03.2027", "2027-03-28T00:00:00Z", "0001-01-01"] {
///     assert!(parse_date(bad).is_err(), "{bad}");
/// }
/// ```
pub fn parse_date(text: &str) -> Result<NaiveDate, DateError> {
    let well_formed = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !well_formed {
        return Err(DateError);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| (FIRST_DATE..=LAST_DATE).contains(d))
        .ok_or(DateError)
}

/// Why a range of dates was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateRangeError {
    /// The last date lies before the first.
    #[error("must not be before `from`")]
    Reversed,
    /// The range is longer than allowed.
    #[error("must be at most {max_days} days after `from`")]
    TooLong {
        /// The largest `to − from`, in days.
        max_days: i64,
    },
}

/// The dates `from ..= to` (both included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    from: NaiveDate,
    to: NaiveDate,
}

impl DateRange {
    /// The largest `to − from` of a generation run asked for through the API: 91 days, so at
    /// most 92 dates.
    pub const MAX_GENERATE_DAYS: i64 = 91;

    /// `from ..= to`, refused when `to` is before `from` or more than `max_days` after it.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use cohai_domain::timetable::{DateRange, DateRangeError};
    /// let d = |day| NaiveDate::from_ymd_opt(2027, 1, day).expect("valid");
    /// assert_eq!(DateRange::new(d(1), d(1), 91).map(|r| r.dates().count()), Ok(1));
    /// assert_eq!(DateRange::new(d(2), d(1), 91), Err(DateRangeError::Reversed));
    /// assert_eq!(DateRange::new(d(1), d(31), 29), Err(DateRangeError::TooLong { max_days: 29 }));
    /// ```
    pub fn new(from: NaiveDate, to: NaiveDate, max_days: i64) -> Result<Self, DateRangeError> {
        if to < from {
            return Err(DateRangeError::Reversed);
        }
        if to - from > Duration::days(max_days) {
            return Err(DateRangeError::TooLong { max_days });
        }
        Ok(Self { from, to })
    }

    /// The first date.
    pub fn from(&self) -> NaiveDate {
        self.from
    }

    /// The last date (included).
    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// Every date of the range, in order.
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let to = self.to;
        self.from.iter_days().take_while(move |d| *d <= to)
    }
}
