//! `GET /api/v1/schedule` and its calendar feed `GET /api/v1/schedule.ics`.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use cohai_services::{CalendarQuery, ScheduleQuery};

use super::{ClassSessionList, public_body, public_json, query};
use crate::error::ApiError;
use crate::openapi::ErrorResponse;
use crate::state::AppState;

/// Class sessions starting in `[from, to)`, ordered by `starts_at`, then `id`; cancelled
/// sessions are included with `status: "cancelled"`.
#[utoipa::path(get, path = "/api/v1/schedule", operation_id = "listSchedule", tag = "schedule",
    params(
        ("location_id" = Option<i64>, Query, description = "Only this location; dates are then read in its time zone", minimum = 1),
        ("program_type_id" = Option<i64>, Query, description = "Only this program type", minimum = 1),
        ("trainer_id" = Option<i64>, Query, description = "Only this trainer", minimum = 1),
        ("from" = Option<crate::openapi::DateTimeOrDate>, Query, description = "Inclusive start: RFC 3339 date-time with offset, or YYYY-MM-DD (local midnight). Default: now"),
        ("to" = Option<crate::openapi::DateTimeOrDate>, Query, description = "Exclusive end: RFC 3339 date-time with offset, or YYYY-MM-DD (that whole day included). Default: from + 7 days; at most 62 days after from"),
    ),
    responses(
        (status = 200, description = "Sessions by starts_at, then id", body = ClassSessionList),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "Malformed filter, to before from, or a range over 62 days", body = ErrorResponse),
        (status = 404, description = "The location, program type or trainer does not exist", body = ErrorResponse),
    ))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let params = query(&req)?;
    let schedule_query = ScheduleQuery {
        location_id: params.id("location_id")?,
        program_type_id: params.id("program_type_id")?,
        trainer_id: params.id("trainer_id")?,
        from: params.instant_or_date("from")?,
        to: params.instant_or_date("to")?,
        now: Utc::now(),
    };
    let schedule = state.schedule.clone();
    public_json(&req, &state, move || {
        Ok(ClassSessionList {
            items: schedule.schedule(&schedule_query)?,
        })
    })
    .await
}

/// The calendar feed's media type (RFC 5545 §8.1).
const CALENDAR_CONTENT_TYPE: &str = "text/calendar; charset=utf-8";

/// The schedule as an iCalendar (RFC 5545) feed for calendar apps to subscribe to.
///
/// One `VEVENT` per session starting from now to 62 days ahead, cancelled ones included with
/// `STATUS:CANCELLED` (and the reason in `DESCRIPTION`). `UID` is
/// `session-<id>@<calendar.uid_domain>` and stays the same for the session's life; `SEQUENCE`
/// grows with every change of the session; times are UTC; `DTSTAMP` is the start of the
/// current UTC day. The filters fail as `/api/v1/schedule`'s do.
#[utoipa::path(get, path = "/api/v1/schedule.ics", operation_id = "getScheduleCalendar", tag = "schedule",
    params(
        ("location_id" = Option<i64>, Query, description = "Only this location", minimum = 1),
        ("program_type_id" = Option<i64>, Query, description = "Only this program type", minimum = 1),
        ("trainer_id" = Option<i64>, Query, description = "Only this trainer", minimum = 1),
    ),
    responses(
        (status = 200, description = "An iCalendar (RFC 5545) document: VCALENDAR with METHOD:PUBLISH and one VEVENT per session (UID, DTSTAMP, DTSTART/DTEND in UTC, SUMMARY \"<program> — <trainer>\", LOCATION \"<studio>, <address>\", STATUS CONFIRMED or CANCELLED, SEQUENCE, DESCRIPTION with the cancellation reason)",
            content_type = "text/calendar", body = String,
            headers(("ETag" = String, description = "Strong entity tag"), ("Cache-Control" = String, description = "public, max-age=<seconds>"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "Malformed filter", body = ErrorResponse),
        (status = 404, description = "The location, program type or trainer does not exist", body = ErrorResponse),
    ))]
pub async fn calendar(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = query(&req)?;
    let calendar_query = CalendarQuery {
        location_id: params.id("location_id")?,
        program_type_id: params.id("program_type_id")?,
        trainer_id: params.id("trainer_id")?,
        now: Utc::now(),
    };
    let schedule = state.schedule.clone();
    let uid_domain = state.settings.calendar_uid_domain.clone();
    public_body(&req, &state, CALENDAR_CONTENT_TYPE, move || {
        let entries = schedule.calendar(&calendar_query)?;
        Ok(crate::ics::render(&entries, &uid_domain, calendar_query.now).into_bytes())
    })
    .await
}
