//! Property tests of the parsers that take user input: phone numbers and time parameters.

use chrono::{DateTime, Utc};
use cohai_domain::Phone;
use cohai_domain::time::{InstantOrDate, start_of_day};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any input is either rejected or normalised to E.164; never a panic.
    #[test]
    fn phone_parse_never_panics_and_yields_e164(input in ".{0,80}") {
        if let Ok(phone) = Phone::parse(&input) {
            let s = phone.as_str();
            prop_assert!(s.starts_with('+'));
            prop_assert!(s[1..].bytes().all(|b| b.is_ascii_digit()));
            prop_assert!((8..=16).contains(&s.len()), "{s}");
        }
    }

    /// Normalisation is idempotent and ignores the usual punctuation.
    #[test]
    fn russian_mobiles_in_any_format_normalise_to_the_same_number(
        digits in "9[0-9]{9}",
        style in 0usize..5,
    ) {
        let (a, b, c, d) = (&digits[0..3], &digits[3..6], &digits[6..8], &digits[8..10]);
        let formatted = match style {
            0 => format!("+7{digits}"),
            1 => format!("8 ({a}) {b}-{c}-{d}"),
            2 => format!("+7 {a} {b} {c} {d}"),
            3 => format!("8{digits}"),
            _ => digits.clone(),
        };
        if let Ok(phone) = Phone::parse(&formatted) {
            prop_assert_eq!(phone.as_str(), format!("+7{digits}"));
            prop_assert_eq!(Phone::parse(phone.as_str()).map(Phone::into_string), Ok(phone.into_string()));
        }
    }

    /// Any text is a valid time parameter or a clean error.
    #[test]
    fn time_parameter_parse_never_panics(input in ".{0,40}") {
        let _ = InstantOrDate::parse(&input);
    }

    /// A formatted instant parses back to itself, whatever offset it is written in.
    #[test]
    fn instants_round_trip_through_any_offset(secs in 0i64..4_102_444_800, offset_min in -720i32..=840) {
        let at = DateTime::<Utc>::from_timestamp(secs, 0).expect("in range");
        let offset = chrono::FixedOffset::east_opt(offset_min * 60).expect("valid offset");
        let text = at.with_timezone(&offset).to_rfc3339();
        prop_assert_eq!(InstantOrDate::parse(&text), Ok(InstantOrDate::Instant(at)));
    }

    /// A day starts within a day of its UTC midnight in every zone, and days are ordered.
    #[test]
    fn local_days_start_near_utc_midnight_and_in_order(days in 0i64..40_000, zone in 0usize..chrono_tz::TZ_VARIANTS.len()) {
        let tz = chrono_tz::TZ_VARIANTS[zone];
        let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(days);
        let start = start_of_day(date, tz);
        let utc_midnight = date.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        prop_assert!((start - utc_midnight).num_hours().abs() <= 26);
        prop_assert!(start_of_day(date.succ_opt().expect("next day"), tz) > start);
    }
}

/// What people write between the digits of a phone number.
const PHONE_SEPARATORS: &[&str] = &[
    " ", "\u{a0}", "\u{2007}", "\u{2009}", "\u{202f}", "\u{3000}", "\t", "-", "\u{2010}",
    "\u{2011}", "\u{2012}", "\u{2013}", "\u{2014}", "\u{2015}", "\u{2212}", "\u{fe63}", "\u{ff0d}",
    ".", "(", ")", "/", "\u{200b}", "\u{200e}", "\u{2060}", "\u{feff}",
];

/// Mobile operator codes whose ten-digit numbers are all valid.
const RUSSIAN_CODES: &[&str] = &["903", "916", "925", "952", "977", "985", "999"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Separators anywhere between the digits of a valid number, with a `+7` or `8` prefix or
    /// none, never change the number: every spelling gives the same E.164.
    #[test]
    fn any_separators_between_the_digits_give_the_same_e164(
        code in proptest::sample::select(RUSSIAN_CODES),
        subscriber in "[0-9]{7}",
        prefix in proptest::sample::select(&["+7", "8", ""][..]),
        gaps in proptest::collection::vec(
            proptest::collection::vec(proptest::sample::select(PHONE_SEPARATORS), 0..=2),
            13,
        ),
    ) {
        let expected = format!("+7{code}{subscriber}");
        prop_assert_eq!(Phone::parse(&expected).map(Phone::into_string), Ok(expected.clone()));
        let plain = format!("{prefix}{code}{subscriber}");
        let mut spelled = String::new();
        for (i, c) in plain.chars().enumerate() {
            spelled.extend(gaps[i].iter().copied());
            spelled.push(c);
        }
        spelled.extend(gaps[plain.chars().count()].iter().copied());
        prop_assert_eq!(
            Phone::parse(&spelled).map(Phone::into_string),
            Ok(expected),
            "{:?}", spelled
        );
    }

    /// A separator never turns text with a letter in it into a number.
    #[test]
    fn a_letter_among_the_digits_is_still_rejected(
        digits in "9[0-9]{9}",
        at in 0usize..=10,
        letter in "[a-zA-Zа-яА-Я]",
    ) {
        let mut input = format!("8{digits}");
        input.insert_str(at, &letter);
        prop_assert!(Phone::parse(&input).is_err(), "{:?}", input);
    }
}
