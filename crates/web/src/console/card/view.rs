//! The card's page: the lead's fields, the form, the history.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use cohai_domain::{Lead, LeadEvent, LeadEventKind, LeadStatus};
use maud::{Markup, html};

use super::Card;
use super::patch::FIELDS;
use crate::console::form::Fields;
use crate::console::labels;
use crate::console::layout::{self, Section, csrf_field};
use crate::console::names::Names;
use crate::console::page;
use crate::console::session::Staff;
use crate::state::AppState;

/// What the card says above the lead.
pub(super) enum Notice {
    None,
    /// The last change was stored.
    Saved,
    /// The form was sent without a change.
    Unchanged,
    /// The form was rendered from an older version: nothing was changed.
    Conflict,
    /// The change was refused, with messages for people.
    Refused(Vec<String>),
}

/// The form's values: shown in its fields, and (as `was`) what the change is computed against.
pub(super) struct FormValues {
    /// The visible fields, by name.
    shown: [String; 5],
    /// The values of the lead the form is based on, by name.
    was: [String; 5],
}

/// The lead's values in the form's spelling (the call-back as `datetime-local` in `zone`).
fn spelled(lead: &Lead, zone: Tz) -> [String; 5] {
    [
        lead.status.as_str().to_owned(),
        lead.lost_reason.clone().unwrap_or_default(),
        lead.assignee.clone().unwrap_or_default(),
        lead.next_contact_at
            .map(|at| local_input(at, zone))
            .unwrap_or_default(),
        lead.notes.clone().unwrap_or_default(),
    ]
}

impl FormValues {
    /// The form of `lead` as stored.
    pub fn of(lead: &Lead, zone: Tz) -> Self {
        let values = spelled(lead, zone);
        Self {
            shown: values.clone(),
            was: values,
        }
    }

    /// What the manager typed (a field not sent shows the lead's value), on top of `lead`.
    pub fn typed(fields: &Fields, lead: &Lead, zone: Tz) -> Self {
        let was = spelled(lead, zone);
        let shown = std::array::from_fn(|i| {
            fields
                .get(FIELDS[i])
                .map_or_else(|| was[i].clone(), str::to_owned)
        });
        Self { shown, was }
    }

    fn shown(&self, name: &str) -> &str {
        FIELDS
            .iter()
            .position(|f| *f == name)
            .map_or("", |i| self.shown[i].as_str())
    }
}

/// The `datetime-local` value of `at` in `zone`.
fn local_input(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%Y-%m-%dT%H:%M").to_string()
}

pub(super) fn render(
    state: &AppState,
    staff: &Staff,
    card: &Card,
    values: &FormValues,
    notice: Notice,
    status: StatusCode,
) -> HttpResponse {
    let Card {
        lead,
        events,
        names,
    } = card;
    let zone = names.zone(lead.location_id);
    let assignees: Vec<&str> = state
        .settings
        .admin_keys
        .iter()
        .filter(|key| key.scope().allows(lead.location_id))
        .map(|key| key.name())
        .collect();
    let body = html! {
        p.back { a href="/admin/leads" { "← Все лиды" } }
        h1 { (lead.name) }
        @match &notice {
            Notice::None => {},
            Notice::Saved => p.notice role="status" { "Сохранено." },
            Notice::Unchanged => p.notice role="status" { "Изменений не было." },
            Notice::Conflict => div.alert role="alert" {
                p { strong { "Лид уже изменили" } ", пока вы работали с ним: ваши изменения не сохранены." }
                p { "Слева — лид как он есть сейчас, в форме — то, что ввели вы. Проверьте и сохраните снова, если нужно." }
            },
            Notice::Refused(messages) => div.alert role="alert" {
                @for message in messages { p { (message) } }
            },
        }
        div.columns {
            section.facts aria-labelledby="facts" {
                h2 #facts { "Заявка" }
                (facts(lead, names, zone))
            }
            section.actions aria-labelledby="actions" {
                h2 #actions { "Работа с лидом" }
                (form(staff, lead, values, &assignees, zone))
            }
        }
        section.history-section aria-labelledby="history" {
            h2 #history { "История" }
            ol.history {
                @for event in events {
                    li {
                        time datetime=(event.created_at.to_rfc3339()) { (labels::local_time(event.created_at, zone)) }
                        " · " strong { (labels::event(event.kind)) }
                        " · " span.actor { (event.actor) }
                        @if let Some(detail) = event_detail(event) { div.detail { (detail) } }
                    }
                }
            }
        }
    };
    page::html(
        status,
        layout::page(staff, Section::Leads, &lead.name, body),
    )
}

fn form(staff: &Staff, lead: &Lead, values: &FormValues, assignees: &[&str], zone: Tz) -> Markup {
    let shown = |name| values.shown(name);
    html! {
        form.card method="post" action={ "/admin/leads/" (lead.id) } {
            (csrf_field(staff))
            input type="hidden" name="version" value=(lead.version);
            @for (name, was) in FIELDS.iter().zip(&values.was) {
                input type="hidden" name={ "was_" (name) } value=(was);
            }
            label for="status" { "Статус" }
            select #status name="status" {
                @for s in LeadStatus::ALL {
                    option value=(s.as_str()) selected[s.as_str() == shown("status")] { (labels::status(*s)) }
                }
            }
            label for="lost_reason" { "Причина отказа" }
            input #lost_reason type="text" name="lost_reason" maxlength="200"
                value=(shown("lost_reason")) aria-describedby="lost_reason_hint";
            p.hint #lost_reason_hint { "Обязательна для статуса «Потерян»." }
            label for="assignee" { "Ответственный" }
            select #assignee name="assignee" {
                option value="" { "— нет —" }
                @for name in assignees {
                    option value=(name) selected[shown("assignee") == *name] { (name) }
                }
            }
            label for="next_contact_at" { "Перезвонить" }
            input #next_contact_at type="datetime-local" name="next_contact_at"
                value=(shown("next_contact_at")) aria-describedby="next_contact_zone";
            p.hint #next_contact_zone { "Время студии: " (labels::zone(zone, Utc::now())) ". Пустое поле — звонок не запланирован." }
            label for="notes" { "Заметки" }
            textarea #notes name="notes" rows="4" maxlength="5000" { (shown("notes")) }
            button type="submit" { "Сохранить" }
        }
    }
}

/// The lead's fields, as a definition list.
fn facts(lead: &Lead, names: &Names, zone: Tz) -> Markup {
    let or_dash = |value: Option<&str>| value.map_or_else(|| "—".to_owned(), str::to_owned);
    let time = |at: Option<DateTime<Utc>>| {
        at.map_or_else(|| "—".to_owned(), |at| labels::local_time(at, zone))
    };
    html! {
        dl.facts {
            dt { "Телефон" } dd { a href={ "tel:" (lead.phone) } { (lead.phone) } }
            dt { "E-mail" } dd { (or_dash(lead.email.as_deref())) }
            dt { "Студия" } dd { (lead.location_id.map_or_else(|| "—".to_owned(), |id| names.studio(id))) }
            dt { "Направление" } dd { (lead.program_type_id.map_or_else(|| "—".to_owned(), |id| names.program(id))) }
            dt { "Занятие" } dd { (lead.class_session_id.map_or_else(|| "—".to_owned(), |id| format!("№{id}"))) }
            dt { "Статус" } dd { (labels::status(lead.status)) }
            @if let Some(reason) = &lead.lost_reason { dt { "Причина отказа" } dd { (reason) } }
            dt { "Ответственный" } dd { (or_dash(lead.assignee.as_deref())) }
            dt { "Перезвонить" } dd { (time(lead.next_contact_at)) }
            dt { "Источник" } dd { (labels::source(lead.source)) }
            dt { "UTM" } dd {
                (or_dash(lead.utm_source.as_deref())) " / "
                (or_dash(lead.utm_medium.as_deref())) " / "
                (or_dash(lead.utm_campaign.as_deref()))
            }
            dt { "Сообщение" } dd.multiline { (or_dash(lead.message.as_deref())) }
            dt { "Заметки" } dd.multiline { (or_dash(lead.notes.as_deref())) }
            dt { "Согласие на обработку данных" } dd { (time(lead.consent_at)) }
            dt { "Создан" } dd { (time(Some(lead.created_at))) }
            dt { "Изменён" } dd { (time(Some(lead.updated_at))) }
            dt { "Часовой пояс" } dd { (labels::zone(zone, Utc::now())) }
            dt { "Номер" } dd { (lead.id) }
        }
    }
}

/// What an event's data says, in words.
fn event_detail(event: &LeadEvent) -> Option<String> {
    let data = &event.data;
    let text = |name: &str| data.get(name).and_then(|v| v.as_str());
    match event.kind {
        LeadEventKind::StatusChanged => {
            let status = |name: &str| {
                text(name)
                    .and_then(|s| s.parse::<LeadStatus>().ok())
                    .map_or("—", labels::status)
            };
            Some(format!("{} → {}", status("from"), status("to")))
        }
        LeadEventKind::Assigned => Some(format!(
            "{} → {}",
            text("from").unwrap_or("—"),
            text("to").unwrap_or("—")
        )),
        LeadEventKind::Updated => {
            let fields: Vec<&str> = data
                .get("fields")
                .and_then(|f| f.as_array())
                .map(|f| {
                    f.iter()
                        .filter_map(|v| v.as_str())
                        .map(labels::field)
                        .collect()
                })
                .unwrap_or_default();
            (!fields.is_empty()).then(|| format!("Изменено: {}", fields.join(", ")))
        }
        LeadEventKind::SessionCancelled => text("cancellation_reason").map(str::to_owned),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_says_what_changed() {
        let event = |kind, data| LeadEvent {
            id: 1,
            lead_id: 1,
            kind,
            actor: "admin".into(),
            data,
            created_at: Utc::now(),
        };
        let changed = event(
            LeadEventKind::StatusChanged,
            serde_json::json!({"from": "new", "to": "lost"}),
        );
        assert_eq!(event_detail(&changed).as_deref(), Some("Новый → Потерян"));
        let updated = event(
            LeadEventKind::Updated,
            serde_json::json!({"fields": ["notes", "next_contact_at"]}),
        );
        assert_eq!(
            event_detail(&updated).as_deref(),
            Some("Изменено: Заметки, Перезвонить")
        );
    }
}
