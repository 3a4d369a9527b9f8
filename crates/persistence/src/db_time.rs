//! Stored instants read fast on SQLite.
//!
//! SQLite keeps a `TIMESTAMP` as text, and Diesel reads it into a `NaiveDateTime` by trying up
//! to 18 strftime formats with chrono's format parser. A profile of the schedule and the admin
//! lead list with their caches off spent 10–13 % of the server's time there. [`DbTime`] reads
//! the one form Diesel writes (`YYYY-MM-DD HH:MM:SS`, optionally `.` and 1–9 fraction digits)
//! directly, and leaves any other text (and non-text values) to Diesel's own parser, so it
//! reads every value Diesel reads. On PostgreSQL it is Diesel's binary decoding unchanged.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::sql_types::Timestamp;
use diesel::sqlite::{Sqlite, SqliteType};
use diesel::{Connection, backend::Backend};

use crate::connection::AnyConnection;

/// A `TIMESTAMP` column's value (UTC), for row types on hot read paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub(crate) struct DbTime(pub(crate) NaiveDateTime);

impl From<DbTime> for DateTime<Utc> {
    fn from(at: DbTime) -> Self {
        crate::repos::from_db_time(at.0)
    }
}

impl FromSql<Timestamp, Sqlite> for DbTime {
    fn from_sql(mut value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        if value.value_type() == Some(SqliteType::Text)
            && let Some(at) = parse_stored_text(value.read_text())
        {
            return Ok(Self(at));
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(Self)
    }
}

impl FromSql<Timestamp, Pg> for DbTime {
    fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Self)
    }
}

type AnyBackend = <AnyConnection as Connection>::Backend;

impl FromSql<Timestamp, AnyBackend> for DbTime {
    fn from_sql(value: <AnyBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

/// `YYYY-MM-DD HH:MM:SS[.f{1,9}]`, as Diesel writes a `NaiveDateTime` to SQLite; `None` for
/// any other text (including out-of-range fields), which the caller leaves to Diesel.
fn parse_stored_text(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    let nano = match &b[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            digits(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    // Leap seconds (second 60) go to chrono's parser.
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nano).filter(|_| second < 60)?;
    Some(date.and_time(time))
}

/// The value of a run of ASCII digits (at most nine), or `None`.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    use super::*;

    /// What [`DbTime`] and Diesel's own parser make of `text` stored as text.
    fn both_read(
        conn: &mut diesel::SqliteConnection,
        text: &str,
    ) -> (Option<NaiveDateTime>, Option<NaiveDateTime>) {
        let stored = || {
            diesel::select(
                diesel::dsl::sql::<Timestamp>("CAST(")
                    .bind::<Text, _>(text)
                    .sql(" AS TEXT)"),
            )
        };
        let fast = stored().get_result::<DbTime>(conn).ok().map(|t| t.0);
        let diesel = stored().get_result::<NaiveDateTime>(conn).ok();
        (fast, diesel)
    }

    #[test]
    fn reads_what_diesel_writes_and_what_diesel_reads() {
        let mut conn = diesel::SqliteConnection::establish(":memory:").expect("in-memory database");
        for text in [
            "2026-12-02 03:04:05",
            "2026-12-02 03:04:05.1",
            "2026-12-02 03:04:05.123",
            "2026-12-02 03:04:05.123456",
            "2026-12-02 03:04:05.123456789",
            "0000-01-01 00:00:00",
            "9999-12-31 23:59:59.999999999",
            // Left to Diesel's parser: other forms it accepts, and what neither accepts.
            "2026-12-02T03:04:05",
            "2026-12-02 03:04",
            "2026-12-02 03:04:05+03:00",
            "2026-12-02 03:04:05Z",
            "2016-12-31 23:59:60",
            "2461011.5",
            "2026-02-30 00:00:00",
            "2026-12-02 24:00:00",
            "2026-12-02 03:04:05.1234567891",
            "2026-12-02 03:04:05.",
            "+2026-12-02 03:04:05",
            "nonsense",
            "",
        ] {
            let (fast, diesel) = both_read(&mut conn, text);
            assert_eq!(fast, diesel, "{text:?}");
        }
    }

    #[test]
    fn round_trips_every_precision_diesel_writes() {
        let mut conn = diesel::SqliteConnection::establish(":memory:").expect("in-memory database");
        let base = NaiveDate::from_ymd_opt(2026, 3, 29)
            .and_then(|d| d.and_hms_opt(1, 59, 58))
            .expect("instant");
        for nanos in [0, 1, 7_000_000, 120_000, 999_999_999, 123_456_789] {
            let at = base + chrono::Duration::nanoseconds(nanos);
            let read = diesel::select(diesel::dsl::sql::<Timestamp>("").bind::<Timestamp, _>(at))
                .get_result::<DbTime>(&mut conn)
                .expect("read back");
            assert_eq!(read.0, at);
        }
    }

    #[test]
    fn the_digit_reader_refuses_anything_but_digits() {
        assert_eq!(digits(b"0123"), Some(123));
        assert_eq!(digits(b"12a4"), None);
        assert_eq!(digits(b"-1"), None);
        assert_eq!(parse_stored_text("2026-1a-02 03:04:05"), None);
    }
}
