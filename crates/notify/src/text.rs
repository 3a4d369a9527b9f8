//! The Russian plain-text messages sent to the studio's Telegram chat.
//!
//! Messages are sent without `parse_mode`, so `<b>` or `*` in a visitor's name is shown as
//! typed, never read as markup. Values typed by visitors are cleaned before they go in:
//! control characters are removed (a line break is kept in the free-text message only, so no
//! value can forge a line such as `Телефон: …`), and so are the bidirectional overrides and
//! isolates (U+202A–U+202E, U+2066–U+2069) that could make a line read differently from what
//! it says. A message is at most [`MAX_MESSAGE_LEN`] long, cut on a character boundary.

use chrono::{DateTime, Datelike, Timelike, Weekday};
use chrono_tz::Tz;

/// Telegram's limit on a message's text. Counted here in UTF-16 code units, which is never
/// more than the number of characters, so a message within it fits whichever way Telegram
/// counts (for Cyrillic the two are the same).
pub const MAX_MESSAGE_LEN: usize = 4096;

/// Which lead event a [`LeadNotice`] announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeadNoticeKind {
    /// A new lead from the website form.
    New,
    /// The same person sent the form again (an open lead was updated).
    Resubmitted,
}

/// What a message about a lead says. `None` (or a value that is empty once cleaned) leaves
/// its line out; pass `None` for `name` and `phone` when contacts are not to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadNotice {
    /// New or resubmitted.
    pub kind: LeadNoticeKind,
    /// The lead's id, shown as `№42`.
    pub lead_id: i64,
    /// The studio (location) name.
    pub studio: Option<String>,
    /// The program name.
    pub program: Option<String>,
    /// The chosen class, already in the studio's local time, e.g. from
    /// [`format_local_start`]: `"пт, 4 декабря, 19:00"`.
    pub class_start: Option<String>,
    /// The visitor's name.
    pub name: Option<String>,
    /// The visitor's phone number, as it should be shown.
    pub phone: Option<String>,
    /// The visitor's free-text message (may have several lines).
    pub message: Option<String>,
}

/// What a message about a cancelled class says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancellationNotice {
    /// The studio (location) name.
    pub studio: String,
    /// The program name.
    pub program: String,
    /// The class's start in the studio's local time, e.g. from [`format_local_start`].
    pub class_start: String,
    /// The cancellation reason (may have several lines; left out when empty).
    pub reason: String,
    /// The open leads that chose the class: id, name and phone (`None` when unknown or when
    /// contacts are not to be sent).
    pub leads: Vec<(i64, Option<String>, Option<String>)>,
}

/// The message for a new or resubmitted lead:
///
/// ```text
/// Новая заявка №42
/// Студия: Cohai на Тверской
/// Направление: Растяжка для начинающих
/// Занятие: пт, 4 декабря, 19:00
/// Имя: Анна
/// Телефон: +7 916 123-45-67
/// Сообщение: …
/// ```
pub fn lead_text(n: &LeadNotice) -> String {
    let heading = match n.kind {
        LeadNoticeKind::New => "Новая заявка",
        LeadNoticeKind::Resubmitted => "Повторная заявка",
    };
    let mut text = format!("{heading} №{}", n.lead_id);
    push_field(&mut text, "Студия", n.studio.as_deref(), Lines::One);
    push_field(&mut text, "Направление", n.program.as_deref(), Lines::One);
    push_field(&mut text, "Занятие", n.class_start.as_deref(), Lines::One);
    push_field(&mut text, "Имя", n.name.as_deref(), Lines::One);
    push_field(&mut text, "Телефон", n.phone.as_deref(), Lines::One);
    push_field(&mut text, "Сообщение", n.message.as_deref(), Lines::Many);
    cap(text)
}

/// The message for a cancelled class, one line per lead that chose it:
///
/// ```text
/// Отменено занятие
/// Студия: Cohai на Тверской
/// Направление: Растяжка для начинающих
/// Занятие: пт, 4 декабря, 19:00
/// Причина: болезнь тренера
/// Заявки (2):
/// №12 Анна, +7 916 123-45-67
/// №13 Олег
/// ```
pub fn cancellation_text(n: &CancellationNotice) -> String {
    let mut text = String::from("Отменено занятие");
    push_field(&mut text, "Студия", Some(&n.studio), Lines::One);
    push_field(&mut text, "Направление", Some(&n.program), Lines::One);
    push_field(&mut text, "Занятие", Some(&n.class_start), Lines::One);
    push_field(&mut text, "Причина", Some(&n.reason), Lines::Many);
    if !n.leads.is_empty() {
        text.push_str(&format!("\nЗаявки ({}):", n.leads.len()));
        for (id, name, phone) in &n.leads {
            let contact: Vec<String> = [name, phone]
                .into_iter()
                .filter_map(|v| v.as_deref().map(|v| clean(v, Lines::One)))
                .filter(|v| !v.is_empty())
                .collect();
            text.push_str(&format!("\n№{id}"));
            if !contact.is_empty() {
                text.push(' ');
                text.push_str(&contact.join(", "));
            }
        }
    }
    cap(text)
}

/// A class start as people in the studio read it: short weekday, day, month in the genitive,
/// and the 24-hour time, in the time zone of `start`: `"пт, 4 декабря, 19:00"`.
pub fn format_local_start(start: DateTime<Tz>) -> String {
    let weekday = match start.weekday() {
        Weekday::Mon => "пн",
        Weekday::Tue => "вт",
        Weekday::Wed => "ср",
        Weekday::Thu => "чт",
        Weekday::Fri => "пт",
        Weekday::Sat => "сб",
        Weekday::Sun => "вс",
    };
    const MONTHS: [&str; 12] = [
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ];
    let month = MONTHS[start.month0() as usize % 12];
    format!(
        "{weekday}, {} {month}, {:02}:{:02}",
        start.day(),
        start.hour(),
        start.minute()
    )
}

/// Whether a value may keep its line breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lines {
    One,
    Many,
}

/// `\n<label>: <value>` when the value is non-empty once cleaned.
fn push_field(text: &mut String, label: &str, value: Option<&str>, lines: Lines) {
    let Some(value) = value.map(|v| clean(v, lines)) else {
        return;
    };
    if value.is_empty() {
        return;
    }
    text.push('\n');
    text.push_str(label);
    text.push_str(": ");
    text.push_str(&value);
}

/// `value` trimmed, without control characters and bidirectional controls; a tab becomes a
/// space, and a line break too unless `lines` is [`Lines::Many`].
fn clean(value: &str, lines: Lines) -> String {
    let cleaned: String = value
        .chars()
        .filter_map(|c| match c {
            '\n' if lines == Lines::Many => Some('\n'),
            '\n' | '\t' => Some(' '),
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => None,
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    cleaned.trim().to_owned()
}

/// `text` cut to [`MAX_MESSAGE_LEN`] UTF-16 units on a character boundary, ending in `…` when
/// cut.
fn cap(mut text: String) -> String {
    if text.encode_utf16().count() <= MAX_MESSAGE_LEN {
        return text;
    }
    let room = MAX_MESSAGE_LEN - '…'.len_utf16();
    let mut used = 0;
    let end = text
        .char_indices()
        .find(|&(_, c)| {
            used += c.len_utf16();
            used > room
        })
        .map_or(text.len(), |(i, _)| i);
    text.truncate(end);
    text.push('…');
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;
    use chrono_tz::Europe::Moscow;

    use super::*;

    fn notice() -> LeadNotice {
        LeadNotice {
            kind: LeadNoticeKind::New,
            lead_id: 42,
            studio: Some("Cohai на Тверской".to_owned()),
            program: Some("Растяжка для начинающих".to_owned()),
            class_start: Some("пт, 4 декабря, 19:00".to_owned()),
            name: Some("Анна".to_owned()),
            phone: Some("+7 916 123-45-67".to_owned()),
            message: None,
        }
    }

    #[test]
    fn a_new_lead_lists_studio_program_class_name_and_phone() {
        assert_eq!(
            lead_text(&notice()),
            "Новая заявка №42\n\
             Студия: Cohai на Тверской\n\
             Направление: Растяжка для начинающих\n\
             Занятие: пт, 4 декабря, 19:00\n\
             Имя: Анна\n\
             Телефон: +7 916 123-45-67"
        );
    }

    #[test]
    fn a_resubmission_has_its_own_heading() {
        let n = LeadNotice {
            kind: LeadNoticeKind::Resubmitted,
            ..notice()
        };
        assert!(lead_text(&n).starts_with("Повторная заявка №42\n"));
    }

    #[test]
    fn missing_and_empty_values_leave_their_lines_out() {
        let n = LeadNotice {
            studio: None,
            class_start: None,
            name: None,
            phone: Some("  \u{7} ".to_owned()),
            ..notice()
        };
        assert_eq!(
            lead_text(&n),
            "Новая заявка №42\nНаправление: Растяжка для начинающих"
        );
    }

    #[test]
    fn the_message_keeps_its_line_breaks_and_loses_other_control_characters() {
        let n = LeadNotice {
            message: Some("Первый раз.\r\nМожно\tс подругой?\u{0}".to_owned()),
            ..notice()
        };
        assert!(lead_text(&n).ends_with("\nСообщение: Первый раз.\nМожно с подругой?"));
    }

    #[test]
    fn a_line_break_in_a_one_line_value_cannot_forge_a_line() {
        let n = LeadNotice {
            name: Some("Анна\nТелефон: +7 000".to_owned()),
            phone: None,
            ..notice()
        };
        let text = lead_text(&n);
        assert!(text.ends_with("\nИмя: Анна Телефон: +7 000"));
        assert!(!text.contains("\nТелефон"));
    }

    #[test]
    fn markup_is_kept_as_typed_and_bidi_overrides_are_removed() {
        let n = LeadNotice {
            name: Some("<b>Анна</b> *x* \u{202E}dcba\u{2066}".to_owned()),
            ..notice()
        };
        assert!(lead_text(&n).contains("\nИмя: <b>Анна</b> *x* dcba\n"));
    }

    #[test]
    fn a_long_message_is_capped_at_4096_on_a_character_boundary() {
        let n = LeadNotice {
            message: Some("ж".repeat(10_000)),
            ..notice()
        };
        let text = lead_text(&n);
        assert_eq!(text.chars().count(), MAX_MESSAGE_LEN);
        assert!(text.ends_with("ж…"));
    }

    #[test]
    fn the_cap_counts_utf16_units_so_emoji_never_overflow() {
        let n = LeadNotice {
            message: Some("🤸".repeat(5_000)),
            ..notice()
        };
        let text = lead_text(&n);
        assert!(text.encode_utf16().count() <= MAX_MESSAGE_LEN);
        assert!(text.encode_utf16().count() >= MAX_MESSAGE_LEN - 1);
        assert!(text.ends_with('…'));
    }

    #[test]
    fn a_short_message_is_not_cut() {
        let text = "x".repeat(MAX_MESSAGE_LEN);
        assert_eq!(cap(text.clone()), text);
    }

    #[test]
    fn a_cancellation_lists_the_class_the_reason_and_each_lead() {
        let n = CancellationNotice {
            studio: "Cohai на Тверской".to_owned(),
            program: "Растяжка для начинающих".to_owned(),
            class_start: "пт, 4 декабря, 19:00".to_owned(),
            reason: "Болезнь тренера".to_owned(),
            leads: vec![
                (
                    12,
                    Some("Анна".to_owned()),
                    Some("+7 916 123-45-67".to_owned()),
                ),
                (13, Some("Олег".to_owned()), None),
                (14, None, None),
            ],
        };
        assert_eq!(
            cancellation_text(&n),
            "Отменено занятие\n\
             Студия: Cohai на Тверской\n\
             Направление: Растяжка для начинающих\n\
             Занятие: пт, 4 декабря, 19:00\n\
             Причина: Болезнь тренера\n\
             Заявки (3):\n\
             №12 Анна, +7 916 123-45-67\n\
             №13 Олег\n\
             №14"
        );
    }

    #[test]
    fn a_cancellation_without_contacts_or_reason_shows_only_lead_numbers() {
        let n = CancellationNotice {
            studio: "Студия".to_owned(),
            program: "Йога".to_owned(),
            class_start: "сб, 5 декабря, 10:00".to_owned(),
            reason: String::new(),
            leads: vec![(7, None, Some("+7 999".to_owned())), (8, None, None)],
        };
        let text = cancellation_text(&n);
        assert!(!text.contains("Причина"));
        assert!(text.ends_with("\nЗаявки (2):\n№7 +7 999\n№8"));
    }

    #[test]
    fn a_class_start_reads_as_weekday_day_genitive_month_and_time() {
        // 16:00 UTC is 19:00 in Moscow (UTC+3 all year).
        let start = Moscow.with_ymd_and_hms(2026, 12, 4, 19, 0, 0).unwrap();
        assert_eq!(format_local_start(start), "пт, 4 декабря, 19:00");
        let utc = chrono::Utc.with_ymd_and_hms(2026, 12, 4, 16, 0, 0).unwrap();
        assert_eq!(
            format_local_start(utc.with_timezone(&Moscow)),
            "пт, 4 декабря, 19:00"
        );
    }

    #[test]
    fn every_weekday_and_month_has_its_russian_name() {
        let weekdays: Vec<String> = (1..=7)
            .map(|d| format_local_start(Moscow.with_ymd_and_hms(2026, 6, d, 9, 5, 0).unwrap()))
            .collect();
        assert_eq!(
            weekdays,
            [
                "пн, 1 июня, 09:05",
                "вт, 2 июня, 09:05",
                "ср, 3 июня, 09:05",
                "чт, 4 июня, 09:05",
                "пт, 5 июня, 09:05",
                "сб, 6 июня, 09:05",
                "вс, 7 июня, 09:05",
            ]
        );
        let months: Vec<String> = (1..=12)
            .map(|m| {
                let s =
                    format_local_start(Moscow.with_ymd_and_hms(2027, m, 15, 23, 59, 0).unwrap());
                s.split(' ')
                    .nth(2)
                    .unwrap_or_default()
                    .trim_end_matches(',')
                    .to_owned()
            })
            .collect();
        assert_eq!(
            months,
            [
                "января",
                "февраля",
                "марта",
                "апреля",
                "мая",
                "июня",
                "июля",
                "августа",
                "сентября",
                "октября",
                "ноября",
                "декабря"
            ]
        );
    }

    #[test]
    fn the_time_is_the_local_time_of_the_given_zone() {
        // Berlin changes to summer time on 29 March 2026; 08:30 UTC is 10:30 there.
        let utc = chrono::Utc.with_ymd_and_hms(2026, 3, 29, 8, 30, 0).unwrap();
        let berlin = utc.with_timezone(&chrono_tz::Europe::Berlin);
        assert_eq!(format_local_start(berlin), "вс, 29 марта, 10:30");
    }
}
