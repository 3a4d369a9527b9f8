//! `/admin/timetable`: a studio's week as a grid in the studio's local time (cancelled classes
//! struck through), and cancelling a class with a reason. Admin keys only, as in the API.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Datelike, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use cohai_domain::time::InstantOrDate;
use cohai_domain::{AdminClassSession, SessionStatus};
use cohai_services::ServiceError;
use cohai_services::class_session_admin::{ClassSessionInput, MAX_SESSION_PAGE, SessionListQuery};
use maud::{Markup, html};

use super::form::Fields;
use super::labels;
use super::layout::{self, Section, csrf_field};
use super::names::Names;
use super::page::{self, PageResult};
use super::session::Staff;
use crate::blocking::blocking;
use crate::error::ApiError;
use crate::params::parse_id;
use crate::routes::query;
use crate::state::AppState;

/// The Monday of the week holding `day`.
fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

/// The address of a studio's week.
fn week_url(location_id: i64, monday: NaiveDate) -> String {
    format!("/admin/timetable?location_id={location_id}&week={monday}")
}

/// `GET /admin/timetable?location_id=&week=YYYY-MM-DD`: the week holding `week` (default:
/// this week in the studio's zone) of `location_id` (default: the first studio).
pub(super) async fn week(staff: Staff, req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let params = query(&req)?.as_ref().clone().without_empty();
    let chosen = params.id("location_id")?;
    let week = match params.get("week") {
        None => None,
        Some(raw) => Some(
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map_err(|_| ApiError::invalid_parameter("week", "must be a date YYYY-MM-DD"))?,
        ),
    };
    let names = {
        let catalog = state.catalog.clone();
        blocking(&state, move || Names::everything(catalog.as_ref())).await?
    };
    let Some(location_id) = chosen.or_else(|| names.all_studios().next().map(|l| l.id)) else {
        let body = html! { h1 { "Расписание" } p.empty { "Студий пока нет." } };
        return Ok(page::html(
            StatusCode::OK,
            layout::page(&staff, Section::Timetable, "Расписание", body),
        ));
    };
    let zone = names.zone(Some(location_id));
    let monday = monday_of(week.unwrap_or_else(|| Utc::now().with_timezone(&zone).date_naive()));
    let sunday = monday + Days::new(6);
    let query = SessionListQuery {
        location_id: Some(location_id),
        program_type_id: None,
        trainer_id: None,
        from: Some(InstantOrDate::Date(monday)),
        to: Some(InstantOrDate::Date(sunday)),
        status: None,
        limit: MAX_SESSION_PAGE,
        offset: 0,
        now: Utc::now(),
    };
    let sessions = state.class_session_admin.clone();
    let found = blocking(&state, move || sessions.list(&query)).await?;
    let today = Utc::now().with_timezone(&zone).date_naive();
    let body = html! {
        h1 { "Расписание: " (names.studio(location_id)) }
        form.filters method="get" action="/admin/timetable" {
            div.field {
                label for="location_id" { "Студия" }
                select #location_id name="location_id" {
                    @for location in names.all_studios() {
                        option value=(location.id) selected[location.id == location_id] { (location.name) }
                    }
                }
            }
            input type="hidden" name="week" value=(monday);
            button type="submit" { "Показать" }
        }
        nav.weeks aria-label="Недели" {
            a href=(week_url(location_id, monday - Days::new(7))) { "← Предыдущая неделя" }
            span { (monday.format("%d.%m")) "–" (sunday.format("%d.%m.%Y")) ", " (labels::zone(zone)) }
            a href=(week_url(location_id, monday + Days::new(7))) { "Следующая неделя →" }
        }
        @if found.total > found.items.len() as i64 {
            p.alert role="alert" { "Показаны первые " (found.items.len()) " занятий из " (found.total) "." }
        }
        div.week {
            @for offset in 0..7u64 {
                @let day = monday + Days::new(offset);
                section.day.today[day == today] aria-labelledby={ "day-" (offset) } {
                    h2 #{ "day-" (offset) } { (labels::weekday(day.weekday())) " " (day.format("%d.%m")) }
                    @let classes: Vec<&AdminClassSession> = found.items.iter()
                        .filter(|s| s.starts_at.with_timezone(&zone).date_naive() == day).collect();
                    @if classes.is_empty() { p.muted { "Нет занятий" } }
                    @for class in classes {
                        (class_link(class, &names, zone))
                    }
                }
            }
        }
    };
    Ok(page::html(
        StatusCode::OK,
        layout::page(&staff, Section::Timetable, "Расписание", body),
    ))
}

fn class_link(class: &AdminClassSession, names: &Names, zone: Tz) -> Markup {
    let cancelled = class.status == SessionStatus::Cancelled;
    let text = html! {
        span.time { (class.starts_at.with_timezone(&zone).format("%H:%M")) "–" (class.ends_at.with_timezone(&zone).format("%H:%M")) }
        " " span.program { (names.program(class.program_type_id)) }
        " " span.trainer { (names.trainer(class.trainer_id)) }
    };
    html! {
        a.session.cancelled[cancelled] href={ "/admin/timetable/sessions/" (class.id) }
            title=[class.cancellation_reason.as_deref().map(|r| format!("Отменено: {r}"))] {
            @if cancelled { del { (text) } span.visually-hidden { " (отменено)" } } @else { (text) }
        }
    }
}

/// `GET /admin/timetable/sessions/{id}`: a class, and the form that cancels it.
pub(super) async fn session(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> PageResult {
    let id = parse_id("id", &id)?;
    let (class, names) = load(&state, id).await?;
    Ok(render(&staff, &class, &names, None, StatusCode::OK))
}

async fn load(state: &AppState, id: i64) -> Result<(AdminClassSession, Names), ApiError> {
    let (sessions, catalog) = (state.class_session_admin.clone(), state.catalog.clone());
    blocking(state, move || {
        Ok((sessions.get(id)?, Names::everything(catalog.as_ref())?))
    })
    .await
}

/// `POST /admin/timetable/sessions/{id}/cancel`: cancels the class with the reason given, at the
/// version the page showed; then back to its week.
pub(super) async fn cancel(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    fields: Fields,
) -> PageResult {
    let id = parse_id("id", &id)?;
    let version = fields.version()?;
    let reason = match fields.text("reason", true) {
        Ok(Some(reason)) => reason,
        Ok(None) => {
            return refused(
                &state,
                &staff,
                id,
                vec!["Укажите причину отмены.".to_owned()],
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(message) => {
            return refused(
                &state,
                &staff,
                id,
                vec![message],
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let input = ClassSessionInput {
        status: Some(Some(SessionStatus::Cancelled)),
        cancellation_reason: Some(Some(reason)),
        ..ClassSessionInput::default()
    };
    let (sessions, actor) = (
        state.class_session_admin.clone(),
        staff.principal.name.clone(),
    );
    let result = blocking(&state, move || {
        match sessions.update(id, input, Some(version), &actor) {
            Err(ServiceError::PreconditionFailed) => Ok(Err(StatusCode::CONFLICT)),
            Err(ServiceError::Validation(errors)) => {
                Ok(Err(ApiError::from(ServiceError::Validation(errors)).status))
            }
            other => other.map(Ok),
        }
    })
    .await?;
    match result {
        Ok(class) => {
            // The public schedule and calendar show the cancellation at once (as after the
            // API's PATCH).
            state.cache.clear();
            let names = {
                let catalog = state.catalog.clone();
                blocking(&state, move || Names::studios(catalog.as_ref())).await?
            };
            let zone = names.zone(Some(class.location_id));
            let monday = monday_of(class.starts_at.with_timezone(&zone).date_naive());
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, week_url(class.location_id, monday)))
                .finish())
        }
        Err(StatusCode::CONFLICT) => {
            let message = "Занятие уже изменили, пока страница была открыта: отмена не сохранена. Ниже — занятие как оно есть сейчас.";
            refused(
                &state,
                &staff,
                id,
                vec![message.to_owned()],
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(status) => {
            let message = "Отменить занятие не удалось: проверьте причину (до 500 символов).";
            refused(&state, &staff, id, vec![message.to_owned()], status).await
        }
    }
}

async fn refused(
    state: &AppState,
    staff: &Staff,
    id: i64,
    messages: Vec<String>,
    status: StatusCode,
) -> PageResult {
    let (class, names) = load(state, id).await?;
    Ok(render(staff, &class, &names, Some(messages), status))
}

fn render(
    staff: &Staff,
    class: &AdminClassSession,
    names: &Names,
    alert: Option<Vec<String>>,
    status: StatusCode,
) -> HttpResponse {
    let zone = names.zone(Some(class.location_id));
    let local = class.starts_at.with_timezone(&zone);
    let monday = monday_of(local.date_naive());
    let title = format!(
        "{} {}",
        names.program(class.program_type_id),
        local.format("%d.%m %H:%M")
    );
    let body = html! {
        p.back { a href=(week_url(class.location_id, monday)) { "← К неделе" } }
        h1 { (title) }
        @if let Some(messages) = &alert {
            div.alert role="alert" { @for message in messages { p { (message) } } }
        }
        dl.facts {
            dt { "Студия" } dd { (names.studio(class.location_id)) }
            dt { "Время" } dd { (labels::local_time(class.starts_at, zone)) "–" (class.ends_at.with_timezone(&zone).format("%H:%M")) " (" (labels::zone(zone)) ")" }
            dt { "Тренер" } dd { (names.trainer(class.trainer_id)) }
            dt { "Мест" } dd { (class.capacity) }
            dt { "Статус" } dd { (labels::session_status(class.status)) }
            @if let Some(reason) = &class.cancellation_reason { dt { "Причина отмены" } dd { (reason) } }
        }
        @if class.status == SessionStatus::Scheduled {
            form.card method="post" action={ "/admin/timetable/sessions/" (class.id) "/cancel" } {
                (csrf_field(staff))
                input type="hidden" name="version" value=(class.version);
                label for="reason" { "Причина отмены" }
                input #reason type="text" name="reason" required maxlength="500";
                p.hint { "Лиды, выбравшие это занятие, получат событие об отмене." }
                button.danger type="submit" { "Отменить занятие" }
            }
        }
    };
    page::html(
        status,
        layout::page(staff, Section::Timetable, &title, body),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_week_starts_on_monday() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        assert_eq!(monday_of(day("2026-12-01")), day("2026-11-30"));
        assert_eq!(monday_of(day("2026-11-30")), day("2026-11-30"));
        assert_eq!(monday_of(day("2026-12-06")), day("2026-11-30"));
    }
}
