//! `/admin/leads/{id}`: the lead card — every field, the history, and the changes a manager
//! makes (status, owner, call-back, notes), each its own form posting the version it was
//! rendered from, so that two managers cannot overwrite each other silently.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use chrono::{NaiveDateTime, Utc};
use chrono_tz::Tz;
use cohai_domain::{Lead, LeadEvent, LeadEventKind, LeadStatus};
use cohai_services::{LeadPatch, ServiceError};
use maud::{Markup, html};

use super::form::Fields;
use super::labels;
use super::layout::{self, Section, csrf_field};
use super::names::Names;
use super::page::{self, PageResult, messages_of};
use super::session::Staff;
use crate::blocking::blocking;
use crate::error::ApiError;
use crate::params::parse_id;
use crate::routes::query;
use crate::state::AppState;

/// What the card says above the lead.
enum Notice {
    None,
    /// The last change was stored.
    Saved,
    /// The form was rendered from an older version: nothing was changed.
    Conflict,
    /// The change was refused, with messages for people.
    Refused(Vec<String>),
}

/// The card's data.
struct Card {
    lead: Lead,
    events: Vec<LeadEvent>,
    names: Names,
}

async fn load(state: &AppState, staff: &Staff, id: i64) -> Result<Card, ApiError> {
    let (leads, catalog, scope) = (
        state.leads.clone(),
        state.catalog.clone(),
        staff.principal.scope.clone(),
    );
    blocking(state, move || {
        let lead = leads.get(id, &scope)?;
        let events = leads.events(id, &scope)?;
        Ok(Card {
            lead,
            events,
            names: Names::everything(catalog.as_ref())?,
        })
    })
    .await
}

/// `GET /admin/leads/{id}`.
pub(super) async fn page(
    staff: Staff,
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> PageResult {
    let id = parse_id("id", &id)?;
    let card = load(&state, &staff, id).await?;
    let saved = query(&req)?.get("saved").is_some();
    let notice = if saved { Notice::Saved } else { Notice::None };
    Ok(render(&state, &staff, &card, notice, StatusCode::OK))
}

/// `POST /admin/leads/{id}/{change}`: one of the card's forms (`status`, `assignee`,
/// `callback`, `notes`). Stored: back to the card (303). Stale: the card as it is now, with
/// the conflict (409). Refused: the card with the reasons (422).
pub(super) async fn change(
    staff: Staff,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    fields: Fields,
) -> PageResult {
    let (id, change) = path.into_inner();
    let id = parse_id("id", &id)?;
    let version = fields.version()?;
    // The zone of the call-back time is the studio's: the lead as the form showed it.
    let current = load(&state, &staff, id).await?;
    let zone = current.names.zone(current.lead.location_id);
    let patch = match patch_of(&change, &fields, zone) {
        Ok(patch) => patch,
        Err(Refusal::NoSuchForm) => return Err(ApiError::not_found("no such form").into()),
        Err(Refusal::Invalid(messages)) => {
            let notice = Notice::Refused(messages);
            return Ok(render(
                &state,
                &staff,
                &current,
                notice,
                StatusCode::UNPROCESSABLE_ENTITY,
            ));
        }
    };
    let (leads, principal) = (state.leads.clone(), staff.principal.clone());
    let result = blocking(&state, move || {
        match leads.update(id, patch, Some(version), &principal) {
            Err(ServiceError::PreconditionFailed) => Ok(Err(Notice::Conflict)),
            Err(ServiceError::Validation(errors)) => {
                let error = ApiError::from(ServiceError::Validation(errors));
                Ok(Err(Notice::Refused(messages_of(&error))))
            }
            other => other.map(Ok),
        }
    })
    .await?;
    match result {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/admin/leads/{id}?saved=1")))
            .finish()),
        Err(notice) => {
            let status = match notice {
                Notice::Conflict => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let card = load(&state, &staff, id).await?;
            Ok(render(&state, &staff, &card, notice, status))
        }
    }
}

/// Why a form's values make no change.
#[derive(Debug, PartialEq)]
enum Refusal {
    /// The path names no form of the card.
    NoSuchForm,
    /// Values people must correct.
    Invalid(Vec<String>),
}

fn invalid(message: impl Into<String>) -> Refusal {
    Refusal::Invalid(vec![message.into()])
}

/// The change one of the card's forms asks for.
fn patch_of(change: &str, fields: &Fields, zone: Tz) -> Result<LeadPatch, Refusal> {
    let text = |name, multi_line| fields.text(name, multi_line).map_err(invalid);
    let mut patch = LeadPatch::default();
    match change {
        "status" => {
            let status = fields
                .get("status")
                .and_then(|s| s.parse::<LeadStatus>().ok())
                .ok_or_else(|| invalid("Выберите статус."))?;
            if status == LeadStatus::Lost {
                let reason = text("lost_reason", false)?
                    .ok_or_else(|| invalid("Укажите причину отказа."))?;
                patch.lost_reason = Some(Some(reason));
            }
            patch.status = Some(Some(status));
        }
        "assignee" => patch.assignee = Some(text("assignee", false)?),
        "callback" => {
            let at = match text("next_contact_at", false)? {
                None => None,
                Some(local) => Some(instant_in(&local, zone)?),
            };
            patch.next_contact_at = Some(at);
        }
        "notes" => patch.notes = Some(text("notes", true)?),
        _ => return Err(Refusal::NoSuchForm),
    }
    Ok(patch)
}

/// A `datetime-local` value (`2026-12-02T15:30`) read in `zone`, as RFC 3339. A time that
/// falls into a daylight-saving gap does not exist there; one that occurs twice is the first.
fn instant_in(local: &str, zone: Tz) -> Result<String, Refusal> {
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| invalid("Перезвонить: укажите дату и время."))?;
    let at = naive.and_local_timezone(zone).earliest().ok_or_else(|| {
        invalid("Перезвонить: такого времени в часовом поясе студии нет (переход на летнее время).")
    })?;
    Ok(at.to_rfc3339())
}

/// The `datetime-local` value of `at` in `zone`.
fn local_input(at: chrono::DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%Y-%m-%dT%H:%M").to_string()
}

fn render(
    state: &AppState,
    staff: &Staff,
    card: &Card,
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
    let action = |form: &str| format!("/admin/leads/{}/{form}", lead.id);
    let version = html! { input type="hidden" name="version" value=(lead.version); };
    let body = html! {
        p.back { a href="/admin/leads" { "← Все лиды" } }
        h1 { (lead.name) }
        @match &notice {
            Notice::None => {},
            Notice::Saved => p.notice role="status" { "Сохранено." },
            Notice::Conflict => div.alert role="alert" {
                p { strong { "Лид уже изменили" } ", пока вы работали с ним: ваши изменения не сохранены." }
                p { "Ниже — лид как он есть сейчас. Проверьте и повторите, если нужно." }
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
                form.card method="post" action=(action("status")) {
                    (csrf_field(staff)) (version)
                    label for="status" { "Статус" }
                    select #status name="status" {
                        @for s in LeadStatus::ALL {
                            option value=(s.as_str()) selected[*s == lead.status] { (labels::status(*s)) }
                        }
                    }
                    label for="lost_reason" { "Причина отказа" }
                    input #lost_reason type="text" name="lost_reason" maxlength="200"
                        value=(lead.lost_reason.as_deref().unwrap_or_default())
                        aria-describedby="lost_reason_hint";
                    p.hint #lost_reason_hint { "Обязательна для статуса «Потерян»." }
                    button type="submit" { "Сменить статус" }
                }
                form.card method="post" action=(action("assignee")) {
                    (csrf_field(staff)) (version)
                    label for="assignee" { "Ответственный" }
                    select #assignee name="assignee" {
                        option value="" { "— нет —" }
                        @for name in &assignees {
                            option value=(name) selected[lead.assignee.as_deref() == Some(*name)] { (name) }
                        }
                    }
                    button type="submit" { "Назначить" }
                }
                form.card method="post" action=(action("callback")) {
                    (csrf_field(staff)) (version)
                    label for="next_contact_at" { "Перезвонить" }
                    input #next_contact_at type="datetime-local" name="next_contact_at"
                        value=(lead.next_contact_at.map(|at| local_input(at, zone)).unwrap_or_default())
                        aria-describedby="next_contact_zone";
                    p.hint #next_contact_zone { "Время студии: " (labels::zone(zone)) ". Пустое поле — звонок не запланирован." }
                    button type="submit" { "Сохранить звонок" }
                }
                form.card method="post" action=(action("notes")) {
                    (csrf_field(staff)) (version)
                    label for="notes" { "Заметки" }
                    textarea #notes name="notes" rows="4" maxlength="5000" {
                        (lead.notes.as_deref().unwrap_or_default())
                    }
                    button type="submit" { "Сохранить заметки" }
                }
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

/// The lead's fields, as a definition list.
fn facts(lead: &Lead, names: &Names, zone: Tz) -> Markup {
    let or_dash = |value: Option<&str>| value.map_or_else(|| "—".to_owned(), str::to_owned);
    let time = |at: Option<chrono::DateTime<Utc>>| {
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

    fn fields(body: &str) -> Fields {
        Fields::parse(body.as_bytes()).expect("form")
    }

    #[test]
    fn lost_needs_a_reason() {
        let refused = patch_of("status", &fields("status=lost&lost_reason=+"), Tz::UTC);
        assert_eq!(refused.err(), Some(invalid("Укажите причину отказа.")));
        let patch =
            patch_of("status", &fields("status=lost&lost_reason=Дорого"), Tz::UTC).expect("patch");
        assert_eq!(patch.status, Some(Some(LeadStatus::Lost)));
        assert_eq!(patch.lost_reason, Some(Some("Дорого".to_owned())));
    }

    #[test]
    fn another_status_leaves_the_reason_alone() {
        let patch =
            patch_of("status", &fields("status=contacted&lost_reason=x"), Tz::UTC).expect("patch");
        assert_eq!(patch.status, Some(Some(LeadStatus::Contacted)));
        assert_eq!(patch.lost_reason, None);
    }

    #[test]
    fn the_call_back_is_read_in_the_studio_zone_and_blank_clears_it() {
        let moscow = chrono_tz::Europe::Moscow;
        let patch = patch_of(
            "callback",
            &fields("next_contact_at=2026-12-02T15:30"),
            moscow,
        )
        .expect("patch");
        assert_eq!(
            patch.next_contact_at,
            Some(Some("2026-12-02T15:30:00+03:00".to_owned()))
        );
        let cleared = patch_of("callback", &fields("next_contact_at="), moscow).expect("patch");
        assert_eq!(cleared.next_contact_at, Some(None));
        assert!(patch_of("callback", &fields("next_contact_at=tomorrow"), moscow).is_err());
    }

    #[test]
    fn a_time_in_a_daylight_saving_gap_is_refused() {
        let berlin = chrono_tz::Europe::Berlin;
        assert!(
            patch_of(
                "callback",
                &fields("next_contact_at=2026-03-29T02:30"),
                berlin
            )
            .is_err()
        );
        let twice = patch_of(
            "callback",
            &fields("next_contact_at=2026-10-25T02:30"),
            berlin,
        )
        .expect("patch");
        assert_eq!(
            twice.next_contact_at,
            Some(Some("2026-10-25T02:30:00+02:00".to_owned()))
        );
    }

    #[test]
    fn blank_owner_and_notes_clear_them_and_unknown_forms_are_refused() {
        let patch = patch_of("assignee", &fields("assignee="), Tz::UTC).expect("patch");
        assert_eq!(patch.assignee, Some(None));
        let patch = patch_of("notes", &fields("notes=a%0D%0Ab"), Tz::UTC).expect("patch");
        assert_eq!(patch.notes, Some(Some("a\nb".to_owned())));
        assert_eq!(
            patch_of("phone", &fields("phone=1"), Tz::UTC).err(),
            Some(Refusal::NoSuchForm)
        );
    }

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
