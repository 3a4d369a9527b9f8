//! The console's words: Russian names of statuses, sources, events and fields, and how times
//! are written.

use chrono::{DateTime, Utc, Weekday};
use chrono_tz::Tz;
use cohai_domain::{LeadEventKind, LeadSource, LeadStatus, SessionStatus};

/// A lead status, as managers call it.
pub(super) fn status(status: LeadStatus) -> &'static str {
    match status {
        LeadStatus::New => "Новый",
        LeadStatus::Contacted => "Связались",
        LeadStatus::TrialScheduled => "Пробное занятие",
        LeadStatus::Converted => "Клиент",
        LeadStatus::Lost => "Потерян",
    }
}

/// A lead's channel.
pub(super) fn source(source: LeadSource) -> &'static str {
    match source {
        LeadSource::Website => "Сайт",
        LeadSource::Instagram => "Instagram",
        LeadSource::Telegram => "Telegram",
        LeadSource::Vk => "ВКонтакте",
        LeadSource::Phone => "Звонок",
        LeadSource::WalkIn => "Пришёл в студию",
        LeadSource::Referral => "По рекомендации",
        LeadSource::Other => "Другое",
    }
}

/// What a lead event records.
pub(super) fn event(kind: LeadEventKind) -> &'static str {
    match kind {
        LeadEventKind::Created => "Заявка создана",
        LeadEventKind::Resubmitted => "Повторная заявка",
        LeadEventKind::StatusChanged => "Статус изменён",
        LeadEventKind::Updated => "Данные изменены",
        LeadEventKind::Erased => "Данные удалены",
        LeadEventKind::Assigned => "Назначен ответственный",
        LeadEventKind::SessionCancelled => "Выбранное занятие отменено",
    }
}

/// A class's status.
pub(super) fn session_status(status: SessionStatus) -> &'static str {
    match status {
        SessionStatus::Scheduled => "По расписанию",
        SessionStatus::Cancelled => "Отменено",
    }
}

/// A field of a lead or a class, for validation messages and change lists.
pub(super) fn field(name: &str) -> &str {
    match name {
        "name" => "Имя",
        "phone" => "Телефон",
        "email" => "E-mail",
        "message" => "Сообщение",
        "location_id" => "Студия",
        "program_type_id" => "Направление",
        "class_session_id" => "Занятие",
        "status" => "Статус",
        "source" => "Источник",
        "notes" => "Заметки",
        "assignee" => "Ответственный",
        "next_contact_at" => "Перезвонить",
        "lost_reason" => "Причина отказа",
        "cancellation_reason" => "Причина отмены",
        "reason" => "Причина",
        other => other,
    }
}

/// A weekday's short name.
pub(super) fn weekday(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Пн",
        Weekday::Tue => "Вт",
        Weekday::Wed => "Ср",
        Weekday::Thu => "Чт",
        Weekday::Fri => "Пт",
        Weekday::Sat => "Сб",
        Weekday::Sun => "Вс",
    }
}

/// `at` in the zone `tz`, as `01.12.2026 14:05`.
pub(super) fn local_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%d.%m.%Y %H:%M").to_string()
}

/// The zone's name as people read it, with its offset at `at`:
/// `Europe/Moscow (UTC+03:00)`.
pub(super) fn zone(tz: Tz, at: DateTime<Utc>) -> String {
    let offset = at.with_timezone(&tz).format("%:z");
    format!("{} (UTC{offset})", tz.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_and_source_has_a_russian_name() {
        for s in LeadStatus::ALL {
            assert!(!status(*s).is_empty());
        }
        for s in LeadSource::ALL {
            assert!(!source(*s).is_empty());
        }
    }

    #[test]
    fn times_are_written_in_the_studio_zone() {
        let at = "2026-12-01T11:05:00Z".parse().expect("instant");
        assert_eq!(
            local_time(at, chrono_tz::Europe::Moscow),
            "01.12.2026 14:05"
        );
        assert_eq!(local_time(at, Tz::UTC), "01.12.2026 11:05");
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(zone(berlin, at), "Europe/Berlin (UTC+01:00)");
        let summer = "2026-07-01T11:05:00Z".parse().expect("instant");
        assert_eq!(zone(berlin, summer), "Europe/Berlin (UTC+02:00)");
    }
}
