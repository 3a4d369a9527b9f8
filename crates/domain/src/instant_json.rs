//! Instants in responses, written without `fmt`.
//!
//! chrono serialises a `DateTime<Utc>` through `Display` and the serializer's `collect_str`, one
//! character at a time: a profile of the admin lead list with its caches off spent 11 % of the
//! server's time there (four instants per lead). This writes the same RFC 3339 text (seconds
//! as chrono's `SecondsFormat::AutoSi`: no fraction, or 3, 6 or 9 digits; `Z` for UTC) into a
//! stack buffer and hands the serializer one `&str`. Years outside 0000–9999 and leap seconds,
//! which never occur in stored data, are left to chrono. Use with
//! `#[serde(serialize_with = "crate::instant_json::serialize")]`.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serializer;

/// The longest text written here: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
const MAX_LEN: usize = 30;

/// Serialises `at` exactly as chrono's `Serialize` does, faster.
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; MAX_LEN];
    match write(at, &mut buf) {
        // Only ASCII digits and separators are written.
        Some(len) => match std::str::from_utf8(&buf[..len]) {
            Ok(text) => serializer.serialize_str(text),
            Err(_) => serde::Serialize::serialize(at, serializer),
        },
        None => serde::Serialize::serialize(at, serializer),
    }
}

/// [`serialize`] for an optional instant (`null` when absent).
pub fn serialize_option<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serialize(at, serializer),
        None => serializer.serialize_none(),
    }
}

/// Writes `at` into `buf`; the length written, or `None` for what is left to chrono.
fn write(at: &DateTime<Utc>, buf: &mut [u8; MAX_LEN]) -> Option<usize> {
    let year = at.year();
    let nano = at.nanosecond();
    if !(0..=9999).contains(&year) || nano >= 1_000_000_000 {
        return None;
    }
    let year = year as u32; // 0..=9999 after the check above
    put_two(buf, 0, year / 100);
    put_two(buf, 2, year % 100);
    buf[4] = b'-';
    put_two(buf, 5, at.month());
    buf[7] = b'-';
    put_two(buf, 8, at.day());
    buf[10] = b'T';
    put_two(buf, 11, at.hour());
    buf[13] = b':';
    put_two(buf, 14, at.minute());
    buf[16] = b':';
    put_two(buf, 17, at.second());
    let mut len = 19;
    let (fraction, digits) = if nano == 0 {
        (0, 0)
    } else if nano.is_multiple_of(1_000_000) {
        (nano / 1_000_000, 3)
    } else if nano.is_multiple_of(1_000) {
        (nano / 1_000, 6)
    } else {
        (nano, 9)
    };
    if digits > 0 {
        buf[len] = b'.';
        let mut rest = fraction;
        for i in (0..digits).rev() {
            buf[len + 1 + i] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        len += 1 + digits;
    }
    buf[len] = b'Z';
    Some(len + 1)
}

/// Two decimal digits of `value` (below 100) at `at`.
fn put_two(buf: &mut [u8; MAX_LEN], at: usize, value: u32) {
    buf[at] = b'0' + (value / 10) as u8;
    buf[at + 1] = b'0' + (value % 10) as u8;
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, NaiveDate, TimeZone};
    use serde::Serialize;

    use super::*;

    #[derive(Serialize)]
    struct Fast {
        #[serde(serialize_with = "serialize")]
        at: DateTime<Utc>,
        #[serde(serialize_with = "serialize_option")]
        maybe: Option<DateTime<Utc>>,
    }

    #[derive(Serialize)]
    struct Chrono {
        at: DateTime<Utc>,
        maybe: Option<DateTime<Utc>>,
    }

    fn both(at: DateTime<Utc>, maybe: Option<DateTime<Utc>>) -> (String, String) {
        let fast = serde_json::to_string(&Fast { at, maybe }).expect("fast");
        let chrono = serde_json::to_string(&Chrono { at, maybe }).expect("chrono");
        (fast, chrono)
    }

    #[test]
    fn writes_what_chrono_writes_for_every_precision_and_the_ends_of_the_range() {
        let base = Utc
            .with_ymd_and_hms(2026, 12, 2, 3, 4, 5)
            .single()
            .expect("instant");
        let mut instants = vec![
            base,
            base + Duration::milliseconds(7),
            base + Duration::microseconds(120),
            base + Duration::nanoseconds(1),
            base + Duration::nanoseconds(999_999_999),
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0)
                .single()
                .expect("year 0"),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
                .single()
                .expect("year 9999"),
            // Left to chrono: outside four-digit years, and a leap second.
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0)
                .single()
                .expect("year -1"),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0)
                .single()
                .expect("year 10000"),
            NaiveDate::from_ymd_opt(2016, 12, 31)
                .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
                .expect("leap second")
                .and_utc(),
        ];
        // A spread of instants over the years, with odd fractions.
        let mut at = Utc
            .with_ymd_and_hms(1970, 1, 1, 0, 0, 0)
            .single()
            .expect("epoch");
        for step in 0..2_000 {
            at += Duration::seconds(1_234_567) + Duration::nanoseconds(step * 1_000_317);
            instants.push(at);
        }
        for at in instants {
            let (fast, chrono) = both(at, Some(at));
            assert_eq!(fast, chrono, "{at:?}");
        }
        let (fast, chrono) = both(base, None);
        assert_eq!(fast, chrono);
        assert_eq!(fast, r#"{"at":"2026-12-02T03:04:05Z","maybe":null}"#);
    }
}
