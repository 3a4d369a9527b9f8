//! `/admin/timetable`: a studio's week as a grid in the studio's local time (cancelled classes
//! struck through), and cancelling a class with a reason. Admin keys only, as in the API.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use cohai_domain::time::InstantOrDate;
use cohai_domain::{AdminClassSession, SessionStatus};
use cohai_services::class_session_admin::{ClassSessionInput, MAX_SESSION_PAGE, SessionListQuery};
use maud::{Markup, html};

use super::form::Fields;
use super::labels;
use super::layout::{self, Section, csrf_field};
use super::names::Names;
use super::page::{self, PageResult, Rejected, rejected};
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

/// The weeks the timetable shows: years 2000–2100, so that moving a week either way cannot
/// leave the calendar (and nothing of a studio lies outside).
fn in_range(day: NaiveDate) -> bool {
    (2000..=2100).contains(&day.year())
}

/// Noon of `day` in `zone`: the instant whose offset names the zone on that day.
fn noon_of(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    day.and_hms_opt(12, 0, 0)
        .and_then(|noon| noon.and_local_timezone(zone).earliest())
        .map_or_else(Utc::now, |at| at.with_timezone(&Utc))
}

/// The address of a studio's week.
fn week_url(location_id: i64, monday: NaiveDate) -> String {
    format!("/admin/timetable?location_id={location_id}&week={monday}")
}

/// The `week` parameter: a date in [`in_range`].
fn week_of(raw: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    raw.map(|raw| {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .filter(|day| in_range(*day))
            .ok_or_else(|| {
                ApiError::invalid_parameter("week", "must be a date YYYY-MM-DD in 2000–2100")
            })
    })
    .transpose()
}

/// `GET /admin/timetable?location_id=&week=YYYY-MM-DD`: the week holding `week` (default:
/// this week in the studio's zone) of `location_id` (default: the first studio).
pub(super) async fn week(staff: Staff, req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let params = query(&req)?.as_ref().clone().without_empty();
    let chosen = params.id("location_id")?;
    let week = week_of(params.get("week"))?;
    let names = {
        let catalog = state.catalog_admin.clone();
        blocking(&state, move || Names::everything(&catalog)).await?
    };
    let Some(location_id) = chosen.or_else(|| names.all_studios().next().map(|l| l.id)) else {
        let body = html! { h1 { "Расписание" } p.empty { "Студий пока нет." } };
        return Ok(page::html(
            StatusCode::OK,
            layout::page(&staff, Section::Timetable, "Расписание", body),
        ));
    };
    let zone = names.zone(Some(location_id));
    let today = Utc::now().with_timezone(&zone).date_naive();
    let monday = monday_of(week.unwrap_or(today));
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
            @if in_range(monday - Days::new(7)) {
                a href=(week_url(location_id, monday - Days::new(7))) { "← Предыдущая неделя" }
            }
            span { (monday.format("%d.%m")) "–" (sunday.format("%d.%m.%Y")) ", " (labels::zone(zone, noon_of(monday, zone))) }
            @if in_range(monday + Days::new(7)) {
                a href=(week_url(location_id, monday + Days::new(7))) { "Следующая неделя →" }
            }
        }
        @if found.total > found.items.len() as i64 {
            p.alert role="alert" { "Показаны первые " (found.items.len()) " занятий из " (found.total) "." }
        }
        div.week {
            @for offset in 0..7u64 {
                @let day = monday + Days::new(offset);
                section.day.today[day == today] aria-labelledby={ "day-" (offset) }
                    aria-current=[(day == today).then_some("date")] {
                    h2 #{ "day-" (offset) } {
                        (labels::weekday(day.weekday())) " " (day.format("%d.%m"))
                        @if day == today { " " span.today-label { "сегодня" } }
                    }
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
    let (sessions, catalog) = (
        state.class_session_admin.clone(),
        state.catalog_admin.clone(),
    );
    blocking(state, move || {
        Ok((sessions.get(id)?, Names::everything(&catalog)?))
    })
    .await
}

/// A refused cancellation, as its page shows it: why, and the reason as typed.
struct Refusal<'a> {
    messages: Vec<String>,
    typed: &'a str,
}

/// `POST /admin/timetable/sessions/{id}/cancel`: cancels the class with the reason given, at
/// the version the page showed; then back to its week. Refused or stale: the class's page
/// again with why (422 / 409) and the reason as typed.
pub(super) async fn cancel(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    fields: Fields,
) -> PageResult {
    let id = parse_id("id", &id)?;
    let version = fields.version()?;
    let typed = fields.get("reason").unwrap_or_default().to_owned();
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let reason = match fields.text("reason", true) {
        Ok(Some(reason)) => reason,
        Ok(None) => {
            let messages = vec!["Укажите причину отмены.".to_owned()];
            return refused(&state, &staff, id, messages, &typed, unprocessable).await;
        }
        Err(message) => {
            return refused(&state, &staff, id, vec![message], &typed, unprocessable).await;
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
        rejected(sessions.update(id, input, Some(version), &actor))
    })
    .await?;
    match result {
        Ok(class) => {
            let names = {
                let catalog = state.catalog_admin.clone();
                blocking(&state, move || Names::studios(&catalog)).await?
            };
            let zone = names.zone(Some(class.location_id));
            let monday = monday_of(class.starts_at.with_timezone(&zone).date_naive());
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, week_url(class.location_id, monday)))
                .finish())
        }
        Err(Rejected::Stale) => {
            let message = "Занятие уже изменили, пока страница была открыта: отмена не \
                           сохранена. Ниже — занятие как оно есть сейчас.";
            let conflict = StatusCode::CONFLICT;
            refused(
                &state,
                &staff,
                id,
                vec![message.to_owned()],
                &typed,
                conflict,
            )
            .await
        }
        Err(Rejected::Invalid(messages)) => {
            refused(&state, &staff, id, messages, &typed, unprocessable).await
        }
    }
}

/// The class's page again, with `messages` and the reason as typed.
async fn refused(
    state: &AppState,
    staff: &Staff,
    id: i64,
    messages: Vec<String>,
    typed: &str,
    status: StatusCode,
) -> PageResult {
    let (class, names) = load(state, id).await?;
    let refusal = Refusal { messages, typed };
    Ok(render(staff, &class, &names, Some(refusal), status))
}

fn render(
    staff: &Staff,
    class: &AdminClassSession,
    names: &Names,
    refusal: Option<Refusal<'_>>,
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
        @if let Some(refusal) = &refusal {
            div.alert role="alert" { @for message in &refusal.messages { p { (message) } } }
        }
        dl.facts {
            dt { "Студия" } dd { (names.studio(class.location_id)) }
            dt { "Время" } dd { (labels::local_time(class.starts_at, zone)) "–" (class.ends_at.with_timezone(&zone).format("%H:%M")) " (" (labels::zone(zone, class.starts_at)) ")" }
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
                input #reason type="text" name="reason" required maxlength="500"
                    value=(refusal.as_ref().map_or("", |r| r.typed));
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

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn a_week_starts_on_monday() {
        assert_eq!(monday_of(day("2026-12-01")), day("2026-11-30"));
        assert_eq!(monday_of(day("2026-11-30")), day("2026-11-30"));
        assert_eq!(monday_of(day("2026-12-06")), day("2026-11-30"));
    }

    #[test]
    fn weeks_far_outside_the_studios_years_are_refused_not_computed() {
        assert_eq!(
            week_of(Some("2026-12-01")).expect("week"),
            Some(day("2026-12-01"))
        );
        assert_eq!(week_of(None).expect("no week"), None);
        for bad in [
            "+262143-12-31",
            "-0001-01-01",
            "1999-12-31",
            "2101-01-01",
            "12.01.2026",
        ] {
            assert!(week_of(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_zone_of_a_week_is_named_with_that_weeks_offset() {
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(
            labels::zone(berlin, noon_of(day("2026-07-06"), berlin)),
            "Europe/Berlin (UTC+02:00)"
        );
        assert_eq!(
            labels::zone(berlin, noon_of(day("2026-12-07"), berlin)),
            "Europe/Berlin (UTC+01:00)"
        );
    }
}
