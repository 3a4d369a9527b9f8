//! The calendar feed's representation: iCalendar (RFC 5545), written with the `icalendar`
//! crate, which ends lines with CRLF, folds them at 75 octets (never inside a UTF-8 sequence)
//! and escapes TEXT values (`\\`, `;`, `,`, newline). The tests below hold it to that.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use cohai_domain::SessionStatus;
use cohai_services::CalendarEntry;
use icalendar::{Calendar, Component, Event, EventLike, EventStatus};

/// `PRODID` of the feed (RFC 5545 §3.7.3: a globally unique product identifier).
const PRODID: &str = "-//Cohai Stretching//Schedule 1.0//RU";

/// The calendar's display name (`X-WR-CALNAME`, RFC 7986 `NAME`).
const CALENDAR_NAME: &str = "Cohai Stretching";

/// How often a subscribed calendar app should fetch the feed again.
const REFRESH_EVERY: Duration = Duration::hours(1);

/// The `UID` of a session's event: stable for the session's life.
pub fn uid(session_id: i64, uid_domain: &str) -> String {
    format!("session-{session_id}@{uid_domain}")
}

/// The `DTSTAMP` of a feed generated at `now`: the start of its UTC day.
///
/// RFC 5545 asks for the instant the object was created; the start of the day keeps the
/// representation (and so its `ETag`) the same between changes for a day, while never going
/// backwards. Changes of a session show in its `SEQUENCE`.
pub fn stamp(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_time(NaiveTime::MIN).and_utc()
}

/// Text as RFC 5545 TEXT may carry it: line breaks become `\n` (escaped by the writer), other
/// control characters but tab are dropped (the API refuses them in stored text anyway).
fn text(value: &str) -> String {
    value
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect()
}

/// The feed of `entries`, generated at `now`, with UIDs in `uid_domain`.
///
/// Each event is written out as soon as it is built, rather than kept as a component of a
/// `Calendar` until the end: a feed of all studios holds tens of thousands of sessions, and a
/// whole calendar model of them took the server's peak memory to ~290 MiB at a million
/// sessions (`make bench-scale`). The bytes are those of the crate's own rendering of the
/// whole calendar (tested below).
pub fn render(entries: &[CalendarEntry], uid_domain: &str, now: DateTime<Utc>) -> String {
    let dtstamp = stamp(now);
    // The calendar's own lines around its events: everything before `END:VCALENDAR`, the
    // events, then `END:VCALENDAR`.
    let frame = frame().to_string();
    let end = frame.rfind(CALENDAR_END).unwrap_or(frame.len());
    let mut feed = String::with_capacity(frame.len() + entries.len() * 512);
    feed.push_str(&frame[..end]);
    for entry in entries {
        feed.push_str(&event(entry, uid_domain, dtstamp).to_string());
    }
    feed.push_str(&frame[end..]);
    feed
}

/// The line that closes a calendar.
const CALENDAR_END: &str = "END:VCALENDAR";

/// The calendar's properties, without events.
fn frame() -> Calendar {
    let mut calendar = Calendar::empty();
    calendar
        .append_property(("VERSION", "2.0"))
        .append_property(("PRODID", PRODID))
        .append_property(("CALSCALE", "GREGORIAN"))
        .append_property(("METHOD", "PUBLISH"))
        .name(CALENDAR_NAME)
        .ttl(&REFRESH_EVERY);
    calendar.done()
}

/// The `VEVENT` of one session.
fn event(entry: &CalendarEntry, uid_domain: &str, dtstamp: DateTime<Utc>) -> Event {
    let CalendarEntry { session, address } = entry;
    let mut event = Event::new();
    event
        .uid(&text(&uid(session.id, uid_domain)))
        .timestamp(dtstamp)
        .starts(session.starts_at)
        .ends(session.ends_at)
        .summary(&text(&format!(
            "{} — {}",
            session.program_type.name, session.trainer.full_name
        )))
        .location(&text(&format!("{}, {address}", session.location.name)))
        // RFC 5545 §3.8.7.4: 0 for the first version, growing with every change.
        .sequence(u32::try_from(session.version.saturating_sub(1)).unwrap_or(u32::MAX));
    match session.status {
        SessionStatus::Scheduled => event.status(EventStatus::Confirmed),
        SessionStatus::Cancelled => event.status(EventStatus::Cancelled),
    };
    if let Some(reason) = &session.cancellation_reason {
        event.description(&text(&format!("Отменено: {reason}")));
    }
    event.done()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cohai_domain::{ClassSession, LocationRef, ProgramTypeRef, TrainerRef};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("instant")
            .with_timezone(&Utc)
    }

    fn entry(id: i64, program: &str, address: &str) -> CalendarEntry {
        CalendarEntry {
            session: ClassSession {
                id,
                starts_at: utc("2026-12-01T16:00:00Z"),
                ends_at: utc("2026-12-01T17:00:00Z"),
                status: SessionStatus::Scheduled,
                capacity: 12,
                location: LocationRef {
                    id: 1,
                    name: "Центр".to_owned(),
                    timezone: "Europe/Moscow".to_owned(),
                },
                program_type: ProgramTypeRef {
                    id: 2,
                    name: program.to_owned(),
                },
                trainer: TrainerRef {
                    id: 3,
                    full_name: "Анна Иванова".to_owned(),
                },
                membership_plan_id: None,
                cancellation_reason: None,
                version: 1,
            },
            address: address.to_owned(),
        }
    }

    /// The content lines of `ics` after unfolding (RFC 5545 §3.1), checking on the way that
    /// every physical line ends with CRLF, is at most 75 octets and is valid UTF-8.
    fn unfolded(ics: &str) -> Vec<String> {
        assert!(ics.ends_with("\r\n"), "the last line ends with CRLF");
        let bytes = ics.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'\n' {
                assert!(i > 0 && bytes[i - 1] == b'\r', "bare LF at byte {i}");
            }
            if *b == b'\r' {
                assert_eq!(bytes.get(i + 1), Some(&b'\n'), "bare CR at byte {i}");
            }
        }
        let mut lines: Vec<String> = Vec::new();
        for physical in ics.trim_end_matches("\r\n").split("\r\n") {
            assert!(
                physical.len() <= 75,
                "{} octets: {physical:?}",
                physical.len()
            );
            match physical.strip_prefix(' ') {
                Some(rest) => lines.last_mut().expect("a line to continue").push_str(rest),
                None => lines.push(physical.to_owned()),
            }
        }
        lines
    }

    #[test]
    fn a_long_cyrillic_line_is_folded_at_75_octets_between_characters() {
        let program = "Растяжка для начинающих с акцентом на шпагат и гибкость спины, ".repeat(4);
        let ics = render(
            &[entry(7, &program, "ул. Тверская, 5")],
            "cohai",
            utc("2026-12-01T08:00:00Z"),
        );
        // Splitting `ics` into `&str` lines proves that no fold cut a character (a cut would
        // leave the halves of a two-byte letter on two lines; `unfolded` checks the lengths).
        let summary = unfolded(&ics)
            .into_iter()
            .find(|l| l.starts_with("SUMMARY:"))
            .expect("summary");
        assert_eq!(
            summary,
            format!("SUMMARY:{} — Анна Иванова", program.replace(',', "\\,"))
        );
        let folds = ics.matches("\r\n ").count();
        assert!(
            folds >= summary.len() / 75,
            "{} octets need at least {} folds, got {folds}",
            summary.len(),
            summary.len() / 75
        );
    }

    #[test]
    fn rfc_5545_folding_example_unfolds_to_the_original() {
        // RFC 5545 §3.1: "DESCRIPTION:This is a lo" CRLF " ng description" CRLF " that exists on a long line."
        let mut e = entry(1, "Йога", "ул. Тверская, 5");
        e.session.status = SessionStatus::Cancelled;
        e.session.cancellation_reason =
            Some("This is a long description that exists on a long line.".repeat(3));
        let ics = render(&[e], "cohai", utc("2026-12-01T08:00:00Z"));
        let description = unfolded(&ics)
            .into_iter()
            .find(|l| l.starts_with("DESCRIPTION:"))
            .expect("description");
        assert_eq!(
            description,
            format!(
                "DESCRIPTION:Отменено: {}",
                "This is a long description that exists on a long line.".repeat(3)
            )
        );
    }

    #[test]
    fn text_values_escape_backslash_semicolon_comma_and_newline() {
        let mut e = entry(1, r"Stretch\Flex; pro, max", "Ленина, 1;\r\nкорп. 2");
        e.session.status = SessionStatus::Cancelled;
        e.session.cancellation_reason = Some("Ремонт;\nзал закрыт, извините\\".to_owned());
        let lines = unfolded(&render(&[e], "cohai", utc("2026-12-01T08:00:00Z")));
        let has = |line: &str| lines.iter().any(|l| l == line);
        assert!(
            has(r"SUMMARY:Stretch\\Flex\; pro\, max — Анна Иванова"),
            "{lines:#?}"
        );
        assert!(has(r"LOCATION:Центр\, Ленина\, 1\;\nкорп. 2"), "{lines:#?}");
        assert!(
            has(r"DESCRIPTION:Отменено: Ремонт\;\nзал закрыт\, извините\\"),
            "{lines:#?}"
        );
        assert!(has("STATUS:CANCELLED"), "{lines:#?}");
    }

    #[test]
    fn the_feed_has_the_calendar_properties_and_one_event_per_session() {
        let mut second = entry(8, "Йога", "ул. Тверская, 5");
        second.session.version = 4;
        let now = utc("2026-12-01T08:30:15Z");
        let lines = unfolded(&render(
            &[entry(7, "Стретчинг", "ул. Тверская, 5"), second],
            "studio.example",
            now,
        ));
        assert_eq!(lines.first().map(String::as_str), Some("BEGIN:VCALENDAR"));
        assert_eq!(lines.last().map(String::as_str), Some("END:VCALENDAR"));
        for line in [
            "VERSION:2.0",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            "X-WR-CALNAME:Cohai Stretching",
            "UID:session-7@studio.example",
            "UID:session-8@studio.example",
            "DTSTART:20261201T160000Z",
            "DTEND:20261201T170000Z",
            "DTSTAMP:20261201T000000Z",
            "STATUS:CONFIRMED",
            "SEQUENCE:0",
            "SEQUENCE:3",
            "SUMMARY:Стретчинг — Анна Иванова",
            r"LOCATION:Центр\, ул. Тверская\, 5",
        ] {
            assert!(lines.iter().any(|l| l == line), "{line} in {lines:#?}");
        }
        assert!(lines.iter().any(|l| l.starts_with("PRODID:")));
        assert_eq!(lines.iter().filter(|l| *l == "BEGIN:VEVENT").count(), 2);
        assert_eq!(lines.iter().filter(|l| *l == "END:VEVENT").count(), 2);
        assert!(!lines.iter().any(|l| l.starts_with("DESCRIPTION")));
    }

    #[test]
    fn the_same_sessions_on_the_same_day_give_the_same_bytes() {
        let entries = [entry(7, "Стретчинг", "ул. Тверская, 5")];
        assert_eq!(
            render(&entries, "cohai", utc("2026-12-01T00:00:00Z")),
            render(&entries, "cohai", utc("2026-12-01T23:59:59Z"))
        );
        assert_ne!(
            render(&entries, "cohai", utc("2026-12-01T23:59:59Z")),
            render(&entries, "cohai", utc("2026-12-02T00:00:00Z"))
        );
    }

    #[test]
    fn events_written_one_by_one_give_the_bytes_of_the_whole_calendar() {
        let entries = [
            entry(1, "Растяжка", "ул. Тверская, 1"),
            entry(2, "Пилатес; йога, \\ и всё", "Невский пр., 10"),
            entry(
                3,
                "Очень длинное название программы, которое не помещается в одну строку",
                "x",
            ),
        ];
        let now = utc("2026-12-01T10:00:00Z");
        let mut whole = frame();
        for e in &entries {
            whole.push(event(e, "cohai.example", stamp(now)));
        }
        assert_eq!(
            render(&entries, "cohai.example", now),
            whole.done().to_string()
        );
    }

    #[test]
    fn an_empty_feed_is_a_valid_calendar() {
        let lines = unfolded(&render(&[], "cohai", utc("2026-12-01T08:00:00Z")));
        assert_eq!(lines.first().map(String::as_str), Some("BEGIN:VCALENDAR"));
        assert_eq!(lines.last().map(String::as_str), Some("END:VCALENDAR"));
        assert!(!lines.iter().any(|l| l == "BEGIN:VEVENT"));
    }
}
