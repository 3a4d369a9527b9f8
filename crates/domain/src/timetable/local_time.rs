//! A studio's wall-clock start times and the instants they name in its time zone.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};

/// A local start time of a weekly class: `HH:MM`, from `00:00` to `23:59`, stored as minutes
/// after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StartTime(u16);

/// A start time that is not `HH:MM` from `00:00` to `23:59`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a time HH:MM from 00:00 to 23:59")]
pub struct StartTimeError;

impl StartTime {
    /// Minutes in a day: start times are below this.
    pub const MINUTES_PER_DAY: i32 = 24 * 60;

    /// `00:00`.
    pub const MIDNIGHT: Self = Self(0);

    /// The start time `minutes` after midnight; `None` outside `0..1440`.
    ///
    /// ```
    /// use cohai_domain::timetable::StartTime;
    /// assert_eq!(StartTime::from_minutes(19 * 60).map(|t| t.to_string()), Some("19:00".to_owned()));
    /// assert!(StartTime::from_minutes(1440).is_none());
    /// ```
    pub fn from_minutes(minutes: i32) -> Option<Self> {
        (0..Self::MINUTES_PER_DAY)
            .contains(&minutes)
            .then(|| Self(u16::try_from(minutes).unwrap_or_default()))
    }

    /// Parses exactly `HH:MM` (two digits each, 24-hour clock): `9:00`, `24:00`, `19:00:00`
    /// and `19:60` are refused.
    ///
    /// ```
    /// use cohai_domain::timetable::StartTime;
    /// assert_eq!(StartTime::parse("07:05").map(|t| t.minutes()), Ok(425));
    /// for bad in ["7:05", "24:00", "23:60", "19:00:00", " 19:00", "19-00", "１９:００"] {
    ///     assert!(StartTime::parse(bad).is_err(), "{bad}");
    /// }
    /// ```
    pub fn parse(text: &str) -> Result<Self, StartTimeError> {
        let bytes = text.as_bytes();
        let digit = |i: usize| match bytes.get(i) {
            Some(b) if b.is_ascii_digit() => Ok(i32::from(b - b'0')),
            _ => Err(StartTimeError),
        };
        if bytes.len() != 5 || bytes[2] != b':' {
            return Err(StartTimeError);
        }
        let hours = digit(0)? * 10 + digit(1)?;
        let minutes = digit(3)? * 10 + digit(4)?;
        if hours > 23 || minutes > 59 {
            return Err(StartTimeError);
        }
        Self::from_minutes(hours * 60 + minutes).ok_or(StartTimeError)
    }

    /// Minutes after midnight.
    pub fn minutes(self) -> i32 {
        i32::from(self.0)
    }

    /// This wall-clock time on `date`.
    pub fn on(self, date: NaiveDate) -> NaiveDateTime {
        date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(self.0))
    }
}

impl std::fmt::Display for StartTime {
    /// `HH:MM`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl std::str::FromStr for StartTime {
    type Err = StartTimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for StartTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The longest stretch of local time a zone has ever skipped: Samoa skipped a whole day
/// (2011-12-30). A gap is searched for at most this far back.
const LONGEST_GAP: Duration = Duration::hours(25);

/// The instant that the wall-clock time `local` names in `tz` — how a weekly class at
/// `local`'s time becomes a session.
///
/// As RFC 5545 (§3.3.5) reads a local `DTSTART`, so a calendar app agrees:
/// - a time that occurs once is that instant, so a 19:00 class stays at 19:00 local time
///   across daylight-saving changes (its UTC offset changes instead);
/// - a time that occurs twice (the hour repeated when the clocks go back) is the earlier
///   occurrence;
/// - a time that does not occur (skipped when the clocks go forward) is read with the UTC
///   offset in force before the gap, so it lands as far after the gap's end as it lay after
///   the gap's start: 02:30 on a night the clocks jump from 02:00 to 03:00 is 03:30.
///
/// ```
/// use chrono::NaiveDate;
/// use cohai_domain::timetable::local_to_utc;
/// let berlin = chrono_tz::Europe::Berlin;
/// let at = |d: u32, h: u32, m: u32| NaiveDate::from_ymd_opt(2027, 3, d).and_then(|d| d.and_hms_opt(h, m, 0)).expect("valid");
/// assert_eq!(local_to_utc(berlin, at(27, 19, 0)).to_rfc3339(), "2027-03-27T18:00:00+00:00");
/// assert_eq!(local_to_utc(berlin, at(28, 19, 0)).to_rfc3339(), "2027-03-28T17:00:00+00:00");
/// assert_eq!(local_to_utc(berlin, at(28, 2, 30)).to_rfc3339(), "2027-03-28T01:30:00+00:00");
/// ```
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, later) => earlier.min(later).with_timezone(&Utc),
        LocalResult::None => {
            let offset = offset_before_gap(tz, local).unwrap_or_default();
            Utc.from_utc_datetime(&(local - offset))
        }
    }
}

/// The UTC offset in force just before the gap that `local` lies in: the offset of the last
/// local minute before it.
fn offset_before_gap(tz: Tz, local: NaiveDateTime) -> Option<Duration> {
    let mut probe = local;
    while local - probe <= LONGEST_GAP {
        probe -= Duration::minutes(1);
        if let Some(at) = tz.from_local_datetime(&probe).earliest() {
            return Some(at.naive_local() - at.naive_utc());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use chrono::Datelike;
    use proptest::prelude::*;

    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid instant")
            .with_timezone(&Utc)
    }

    fn seven_pm() -> StartTime {
        StartTime::parse("19:00").expect("valid")
    }

    /// The local time and UTC offset at which `at` is shown in `tz`.
    fn shown(tz: Tz, at: DateTime<Utc>) -> (NaiveDateTime, Duration) {
        let local = at.with_timezone(&tz).naive_local();
        (local, local - at.naive_utc())
    }

    #[test]
    fn a_berlin_evening_class_keeps_its_local_time_across_the_march_change() {
        let berlin = chrono_tz::Europe::Berlin;
        // 2027-03-28 is the last Sunday of March: 02:00 CET becomes 03:00 CEST.
        let saturday = local_to_utc(berlin, seven_pm().on(date(2027, 3, 27)));
        let sunday = local_to_utc(berlin, seven_pm().on(date(2027, 3, 28)));
        assert_eq!(saturday, utc("2027-03-27T18:00:00Z"));
        assert_eq!(sunday, utc("2027-03-28T17:00:00Z"));
        let (saturday_local, saturday_offset) = shown(berlin, saturday);
        let (sunday_local, sunday_offset) = shown(berlin, sunday);
        assert_eq!(saturday_local.time(), sunday_local.time());
        assert_eq!(
            (saturday_offset, sunday_offset),
            (Duration::hours(1), Duration::hours(2))
        );
        // 23 hours apart, not 24.
        assert_eq!(sunday - saturday, Duration::hours(23));
    }

    #[test]
    fn a_berlin_evening_class_keeps_its_local_time_across_the_october_change() {
        let berlin = chrono_tz::Europe::Berlin;
        // 2027-10-31 is the last Sunday of October: 03:00 CEST becomes 02:00 CET.
        let saturday = local_to_utc(berlin, seven_pm().on(date(2027, 10, 30)));
        let sunday = local_to_utc(berlin, seven_pm().on(date(2027, 10, 31)));
        assert_eq!(saturday, utc("2027-10-30T17:00:00Z"));
        assert_eq!(sunday, utc("2027-10-31T18:00:00Z"));
        assert_eq!(sunday - saturday, Duration::hours(25));
        assert_eq!(shown(berlin, sunday).0, seven_pm().on(date(2027, 10, 31)));
    }

    #[test]
    fn kolkata_is_five_and_a_half_hours_ahead_all_year() {
        let kolkata = chrono_tz::Asia::Kolkata;
        for d in [date(2027, 1, 15), date(2027, 3, 28), date(2027, 7, 1)] {
            assert_eq!(
                local_to_utc(kolkata, seven_pm().on(d)),
                d.and_hms_opt(13, 30, 0).expect("valid").and_utc()
            );
        }
    }

    #[test]
    fn skipped_times_move_forward_and_repeated_ones_take_the_first_occurrence() {
        let berlin = chrono_tz::Europe::Berlin;
        let half_past_two = StartTime::parse("02:30").expect("valid");
        // Skipped: read with CET (+01:00), i.e. 03:30 CEST.
        let skipped = local_to_utc(berlin, half_past_two.on(date(2027, 3, 28)));
        assert_eq!(skipped, utc("2027-03-28T01:30:00Z"));
        assert_eq!(
            shown(berlin, skipped).0,
            date(2027, 3, 28).and_hms_opt(3, 30, 0).expect("valid")
        );
        // Repeated: the first 02:30, still CEST (+02:00).
        assert_eq!(
            local_to_utc(berlin, half_past_two.on(date(2027, 10, 31))),
            utc("2027-10-31T00:30:00Z")
        );
        // Chile springs forward at midnight: 00:00 does not exist on 2026-09-06.
        assert_eq!(
            local_to_utc(
                chrono_tz::America::Santiago,
                StartTime::MIDNIGHT.on(date(2026, 9, 6))
            ),
            utc("2026-09-06T04:00:00Z")
        );
        // Lord Howe Island moves its clocks by half an hour (02:00 to 02:30): 02:15 is read
        // with +10:30, i.e. 02:45 at +11:00.
        assert_eq!(
            local_to_utc(
                chrono_tz::Australia::Lord_Howe,
                StartTime::parse("02:15")
                    .expect("valid")
                    .on(date(2027, 10, 3))
            ),
            utc("2027-10-02T15:45:00Z")
        );
    }

    #[test]
    fn start_times_print_and_parse_as_hh_mm() {
        for (text, minutes) in [("00:00", 0), ("09:05", 545), ("23:59", 1439)] {
            let t = StartTime::parse(text).expect(text);
            assert_eq!((t.minutes(), t.to_string()), (minutes, text.to_owned()));
            assert_eq!(serde_json::to_value(t).expect("json"), text);
        }
        for bad in [
            "", "0:00", "00:0", "00:000", "24:00", "12:60", "ab:cd", "12:3a", "+1:00",
        ] {
            assert_eq!(StartTime::parse(bad), Err(StartTimeError), "{bad:?}");
        }
    }

    /// Zones with every kind of rule: whole- and half-hour offsets, DST north and south,
    /// changes at midnight, a half-hour DST (Lord Howe), none at all.
    const ZONES: &[Tz] = &[
        chrono_tz::Europe::Berlin,
        chrono_tz::Europe::Moscow,
        chrono_tz::Europe::London,
        chrono_tz::America::New_York,
        chrono_tz::America::Santiago,
        chrono_tz::America::St_Johns,
        chrono_tz::America::Sao_Paulo,
        chrono_tz::Asia::Kolkata,
        chrono_tz::Asia::Kathmandu,
        chrono_tz::Asia::Tehran,
        chrono_tz::Australia::Sydney,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::Pacific::Chatham,
        chrono_tz::Africa::Casablanca,
        chrono_tz::UTC,
    ];

    fn zone() -> impl Strategy<Value = Tz> {
        proptest::sample::select(ZONES)
    }

    /// A date from 1990 to 2059.
    fn any_date() -> impl Strategy<Value = NaiveDate> {
        (0i64..70 * 365).prop_map(|days| date(1990, 1, 1) + Duration::days(days))
    }

    /// Whether the zone's UTC offset at 00:00 UTC of `d` differs from the next day's.
    fn changes_after(tz: Tz, d: NaiveDate) -> bool {
        let offset_at = |d: NaiveDate| {
            let utc = d.and_time(NaiveTime::MIN);
            shown(tz, utc.and_utc()).1
        };
        offset_at(d) != offset_at(d + Duration::days(1))
    }

    /// A zone and a local date around a change of its UTC offset, where skipped and repeated
    /// times are (random dates hardly ever hit one).
    fn transition_day() -> impl Strategy<Value = (Tz, NaiveDate)> {
        (zone(), 1990i32..2060, 0usize..16).prop_filter_map(
            "the zone changed no offset that year",
            |(tz, year, pick)| {
                let days: Vec<NaiveDate> = date(year, 1, 1)
                    .iter_days()
                    .take_while(|d| d.year() == year)
                    .filter(|d| changes_after(tz, *d))
                    .flat_map(|d| [d, d + Duration::days(1)])
                    .collect();
                days.get(pick % days.len().max(1)).map(|d| (tz, *d))
            },
        )
    }

    /// A zone and a date: any date, or one around an offset change.
    fn zone_and_day() -> impl Strategy<Value = (Tz, NaiveDate)> {
        prop_oneof![(zone(), any_date()), transition_day()]
    }

    fn any_start() -> impl Strategy<Value = StartTime> {
        (0..StartTime::MINUTES_PER_DAY).prop_map(|m| StartTime::from_minutes(m).expect("in range"))
    }

    #[test]
    fn the_transition_days_hold_skipped_and_repeated_times() {
        use proptest::strategy::ValueTree as _;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let (mut skipped, mut repeated) = (0, 0);
        for _ in 0..100 {
            let (tz, d) = transition_day()
                .new_tree(&mut runner)
                .expect("a transition day")
                .current();
            for minutes in (0..StartTime::MINUTES_PER_DAY).step_by(15) {
                let local = StartTime::from_minutes(minutes).expect("in range").on(d);
                match tz.from_local_datetime(&local) {
                    LocalResult::None => skipped += 1,
                    LocalResult::Ambiguous(..) => repeated += 1,
                    LocalResult::Single(_) => {}
                }
            }
        }
        assert!(
            skipped > 0 && repeated > 0,
            "{skipped} skipped, {repeated} repeated"
        );
    }

    proptest! {
        #[test]
        fn the_local_time_is_kept_unless_it_does_not_exist((tz, d) in zone_and_day(), t in any_start()) {
            let local = t.on(d);
            let at = local_to_utc(tz, local);
            let (local_shown, offset) = shown(tz, at);
            match tz.from_local_datetime(&local) {
                LocalResult::None => {
                    // Moved forward by the length of the gap, i.e. read with the offset
                    // before the gap.
                    let moved = local_shown - local;
                    prop_assert!(moved > Duration::zero() && moved <= LONGEST_GAP);
                    let (_, offset_before) = shown(tz, at - moved);
                    prop_assert_eq!(offset - offset_before, moved);
                }
                _ => prop_assert_eq!(local_shown, local),
            }
        }

        #[test]
        fn a_repeated_time_is_its_earlier_occurrence((tz, d) in zone_and_day(), t in any_start()) {
            let local = t.on(d);
            if let LocalResult::Ambiguous(a, b) = tz.from_local_datetime(&local) {
                prop_assert_eq!(local_to_utc(tz, local), a.min(b).with_timezone(&Utc));
            }
        }

        #[test]
        fn every_instant_is_found_again_from_its_local_time(tz in zone(), secs in 631_152_000i64..2_840_140_800) {
            // Whole minutes from 1990 to 2059.
            let at = DateTime::from_timestamp(secs / 60 * 60, 0).expect("valid");
            let local = at.with_timezone(&tz).naive_local();
            let found = local_to_utc(tz, local);
            match tz.from_local_datetime(&local) {
                LocalResult::Ambiguous(a, b) => prop_assert_eq!(found, a.min(b).with_timezone(&Utc)),
                _ => prop_assert_eq!(found, at),
            }
        }

        #[test]
        fn a_later_date_gives_a_later_instant_about_a_day_on((tz, d) in zone_and_day(), t in any_start()) {
            let today = local_to_utc(tz, t.on(d));
            let tomorrow = local_to_utc(tz, t.on(d + Duration::days(1)));
            prop_assert!(tomorrow > today);
            // Offsets change by at most a few hours from one day to the next.
            let apart = tomorrow - today;
            prop_assert!(apart >= Duration::hours(21) && apart <= Duration::hours(27), "{apart}");
        }

        #[test]
        fn a_later_time_on_the_same_day_is_never_earlier_outside_gaps(
            (tz, d) in zone_and_day(), a in any_start(), b in any_start(),
        ) {
            let (early, late) = if a <= b { (a, b) } else { (b, a) };
            let exists = |t: StartTime| !matches!(tz.from_local_datetime(&t.on(d)), LocalResult::None);
            if exists(early) && exists(late) {
                prop_assert!(local_to_utc(tz, early.on(d)) <= local_to_utc(tz, late.on(d)));
            }
        }

        #[test]
        fn parse_and_display_are_inverse(t in any_start()) {
            prop_assert_eq!(StartTime::parse(&t.to_string()), Ok(t));
        }
    }
}
