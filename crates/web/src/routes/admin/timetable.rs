//! Sessions from the weekly timetable: `POST /api/v1/admin/timetable/generate` and
//! `POST /api/v1/admin/timetable-slots/{id}/apply`. The rules are in
//! `cohai_services::timetable`.
//!
//! The service counts each run as a change of public data (`cohai_services::PublicChanges`),
//! so this instance's public schedule shows what it made at once (other instances: within
//! their cache TTL).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use cohai_domain::{ApplyReport, GenerationReport};
use cohai_services::{ApplyInput, GenerateInput};

use crate::auth::Admin;
use crate::blocking::blocking;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::openapi::ErrorResponse;
use crate::params::parse_id;
use crate::routes::admin::catalog::PRIVATE;
use crate::state::AppState;

/// Generates the sessions of every active timetable slot (of one location, when given) on
/// every matching local date of `from ..= to` (at most 92 dates), at `start_time` in the
/// location's time zone (correct across daylight-saving changes).
///
/// Idempotent: a slot and local date get at most one session ever, so a second run creates
/// nothing; a session that was edited, cancelled or deleted by hand is never recreated or
/// overwritten. An occurrence whose session would overlap another scheduled session of its
/// trainer is not created and is listed in `conflicts` (a later run tries it again). Slots
/// whose location, program type or trainer is inactive generate nothing. Audited as one
/// `generated` entry.
#[utoipa::path(post, path = "/api/v1/admin/timetable/generate", operation_id = "generateTimetableSessions",
    tag = "admin-timetable", security(("bearer" = [])),
    request_body(content = GenerateInput, content_type = "application/json"),
    responses(
        (status = 200, description = "What the run did", body = GenerationReport),
        (status = 400, description = "Not JSON, malformed JSON, a wrong field type or an unknown field", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 403, description = "A key whose role may not use this endpoint", body = ErrorResponse),
        (status = 413, description = "Body over the limit", body = ErrorResponse),
        (status = 422, description = "A missing or malformed date; `to` before `from` or more than 91 days after it; a `location_id` that names no location", body = ErrorResponse),
    ))]
pub async fn generate(
    admin: Admin,
    state: web::Data<AppState>,
    body: JsonBody<GenerateInput>,
) -> Result<HttpResponse, ApiError> {
    let (service, actor, input) = (
        state.timetable.timetable.clone(),
        admin.name.clone(),
        body.into_inner(),
    );
    let report = blocking(&state, move || service.generate(input, &actor)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .json(report))
}

/// Gives the slot's generated sessions that start after now, on or after the local date
/// `from`, and were neither edited nor cancelled by hand, the slot's current `start_time`,
/// `capacity`, `trainer_id` and `program_type_id` (`ends_at` from the program's duration).
///
/// A session that would then overlap another scheduled session of its trainer is left as it
/// is and listed in `conflicts`; the others are changed. Each changed session's version grows
/// and it gets an `updated` audit entry.
#[utoipa::path(post, path = "/api/v1/admin/timetable-slots/{id}/apply", operation_id = "applyTimetableSlot",
    tag = "admin-timetable", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Slot id", minimum = 1)),
    request_body(content = ApplyInput, content_type = "application/json"),
    responses(
        (status = 200, description = "How many sessions changed", body = ApplyReport),
        (status = 400, description = "Malformed id; not JSON, malformed JSON, a wrong field type or an unknown field", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 403, description = "A key whose role may not use this endpoint", body = ErrorResponse),
        (status = 404, description = "No such slot", body = ErrorResponse),
        (status = 413, description = "Body over the limit", body = ErrorResponse),
        (status = 422, description = "A missing or malformed `from`", body = ErrorResponse),
    ))]
pub async fn apply(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<ApplyInput>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("id", &id)?;
    let (service, actor, input) = (
        state.timetable.timetable.clone(),
        admin.name.clone(),
        body.into_inner(),
    );
    let report = blocking(&state, move || service.apply(id, input, &actor)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .json(report))
}
