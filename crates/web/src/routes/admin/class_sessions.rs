//! The admin API's class sessions: `/api/v1/admin/class-sessions` and
//! `/api/v1/admin/class-sessions/{id}` (`GET`, `POST`, `PATCH`, `DELETE`). The rules are in
//! `cohai_services::class_session_admin`; the list takes the public schedule's filters and
//! window (`/api/v1/schedule`) plus `status` and paging.
//!
//! The service counts each write as a change of public data (`cohai_services::PublicChanges`),
//! so `/api/v1/schedule` and `/api/v1/schedule.ics` of this instance show it at once (other
//! instances: within their cache TTL).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use cohai_domain::{AdminClassSession, SessionStatus};
use cohai_services::class_session_admin::{ClassSessionInput, MAX_SESSION_PAGE, SessionListQuery};
use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{PartialSchema, ToSchema};

use crate::auth::Admin;
use crate::blocking::blocking;
use crate::body::JsonBody;
use crate::caching::if_none_match;
use crate::error::ApiError;
use crate::openapi::ErrorResponse;
use crate::params::{QueryParams, parse_id};
use crate::routes::admin::catalog::{PRIVATE, etag, expected};
use crate::routes::query;
use crate::state::AppState;

/// The collection's path.
const PATH: &str = "/api/v1/admin/class-sessions";

/// The default page size.
const DEFAULT_PAGE: i64 = 50;

/// One page of class sessions, by `starts_at` then `id`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminClassSessionPage {
    /// The page.
    pub items: Vec<AdminClassSession>,
    /// Every session matching the filters.
    pub total: i64,
    /// Page size used.
    pub limit: i64,
    /// Sessions skipped.
    pub offset: i64,
}

/// The fields a `POST` requires (every non-nullable field without a default).
const REQUIRED_ON_CREATE: [&str; 5] = [
    "location_id",
    "program_type_id",
    "trainer_id",
    "starts_at",
    "capacity",
];

/// The body of `POST /api/v1/admin/class-sessions`: [`ClassSessionInput`] with the fields it
/// requires declared. (The same type reads both bodies; `PATCH` requires none.)
pub struct NewClassSessionInput;

impl PartialSchema for NewClassSessionInput {
    fn schema() -> RefOr<Schema> {
        let mut schema = ClassSessionInput::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            object.required = REQUIRED_ON_CREATE.map(str::to_owned).to_vec();
            object.description = Some(
                "A new class session. `ends_at` defaults to `starts_at` plus the program's \
                 duration, `status` to `scheduled`; a session may be created `cancelled` with a \
                 `cancellation_reason`. `timetable_slot_id` is read-only (an unknown field here)."
                    .to_owned(),
            );
        }
        schema
    }
}

impl ToSchema for NewClassSessionInput {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((SessionStatus::name().into_owned(), SessionStatus::schema()));
        <ClassSessionInput as ToSchema>::schemas(schemas);
    }
}

fn one(status: StatusCode, session: &AdminClassSession) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(session)))
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .json(session)
}

fn list_query(params: &QueryParams) -> Result<SessionListQuery, ApiError> {
    let status = params
        .get("status")
        .map(|raw| {
            raw.parse::<SessionStatus>().map_err(|_| {
                ApiError::invalid_parameter("status", "must be scheduled or cancelled")
            })
        })
        .transpose()?;
    Ok(SessionListQuery {
        location_id: params.id("location_id")?,
        program_type_id: params.id("program_type_id")?,
        trainer_id: params.id("trainer_id")?,
        from: params.instant_or_date("from")?,
        to: params.instant_or_date("to")?,
        status,
        limit: params.int_in("limit", 1, MAX_SESSION_PAGE, DEFAULT_PAGE)?,
        offset: params.int_in("offset", 0, i64::MAX, 0)?,
        now: Utc::now(),
    })
}

/// Class sessions starting in `[from, to)` at every location (inactive ones too), cancelled
/// ones included unless `status` says otherwise, by `starts_at` then `id`, paginated.
#[utoipa::path(get, path = "/api/v1/admin/class-sessions", operation_id = "listAdminClassSessions", tag = "admin-catalog",
    security(("bearer" = [])),
    params(
        ("location_id" = Option<i64>, Query, description = "Only this location (active or not); dates are then read in its time zone", minimum = 1),
        ("program_type_id" = Option<i64>, Query, description = "Only this program type (active or not)", minimum = 1),
        ("trainer_id" = Option<i64>, Query, description = "Only this trainer (active or not)", minimum = 1),
        ("from" = Option<crate::openapi::DateTimeOrDate>, Query, description = "Inclusive start: RFC 3339 date-time with offset, or YYYY-MM-DD (local midnight). Default: now"),
        ("to" = Option<crate::openapi::DateTimeOrDate>, Query, description = "Exclusive end: RFC 3339 date-time with offset, or YYYY-MM-DD (that whole day included). Default: from + 7 days; at most 62 days after from"),
        ("status" = Option<SessionStatus>, Query, description = "Only scheduled or only cancelled sessions"),
        ("limit" = Option<i64>, Query, description = "1–200, default 50", minimum = 1, maximum = 200),
        ("offset" = Option<i64>, Query, description = "≥ 0, default 0", minimum = 0),
    ),
    responses(
        (status = 200, description = "A page of sessions", body = AdminClassSessionPage),
        (status = 400, description = "A malformed or out-of-range parameter, to before from, or a range over 62 days", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 403, description = "A key whose role is not admin", body = ErrorResponse),
        (status = 404, description = "The location, program type or trainer does not exist", body = ErrorResponse),
    ))]
pub async fn list(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let _ = admin;
    let query = list_query(&*query(&req)?)?;
    let (limit, offset) = (query.limit, query.offset);
    let service = state.class_session_admin.clone();
    let page = blocking(&state, move || service.list(&query)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .json(AdminClassSessionPage {
            items: page.items,
            total: page.total,
            limit,
            offset,
        }))
}

/// One class session, with its `ETag`.
#[utoipa::path(get, path = "/api/v1/admin/class-sessions/{id}", operation_id = "getAdminClassSession", tag = "admin-catalog",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Id", minimum = 1)),
    responses(
        (status = 200, description = "Found", body = AdminClassSession,
            headers(("ETag" = String, description = "Changes with every change of the session"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "Malformed id", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 403, description = "A key whose role is not admin", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
    ))]
pub async fn get(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let _ = admin;
    let id = parse_id("id", &id)?;
    let service = state.class_session_admin.clone();
    let session = blocking(&state, move || service.get(id)).await?;
    if if_none_match(&req, &etag(&session)) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(&session)))
            .insert_header((header::CACHE_CONTROL, PRIVATE))
            .finish());
    }
    Ok(one(StatusCode::OK, &session))
}

/// Creates a class session by hand (timetable generation never changes it). Unknown fields,
/// `timetable_slot_id` included, are refused.
#[utoipa::path(post, path = "/api/v1/admin/class-sessions", operation_id = "createClassSession", tag = "admin-catalog",
    security(("bearer" = [])),
    request_body(content = NewClassSessionInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = AdminClassSession,
            headers(("Location" = String, description = "URL of the new session"), ("ETag" = String, description = "Its version"))),
        (status = 400, description = "Not JSON, malformed JSON, a wrong field type or an unknown field", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 403, description = "A key whose role is not admin", body = ErrorResponse),
        (status = 409, description = "The trainer already teaches a scheduled session at an overlapping time (half-open intervals, any location): `error.details` is `{\"class_session_id\": <that session's id>}`", body = ErrorResponse,
            example = json!({"error": {"code": "conflict", "message": "trainer 3 already teaches scheduled session 12 at an overlapping time", "request_id": "5f0c…", "details": {"class_session_id": 12}}})),
        (status = 413, description = "Body over the limit", body = ErrorResponse),
        (status = 422, description = "Invalid or missing fields: a reference that does not exist or is inactive, a plan of another location, ends_at not after starts_at, capacity outside 1–500, cancelled without a reason", body = ErrorResponse),
    ))]
pub async fn create(
    admin: Admin,
    state: web::Data<AppState>,
    body: JsonBody<ClassSessionInput>,
) -> Result<HttpResponse, ApiError> {
    let service = state.class_session_admin.clone();
    let input = body.into_inner();
    let session = blocking(&state, move || service.create(input, &admin.name)).await?;
    let url = format!("{PATH}/{}", session.id);
    Ok(crate::routes::with_location(
        one(StatusCode::CREATED, &session),
        &url,
    ))
}

/// Changes the fields sent of a class session (`null` clears `membership_plan_id`). A new
/// `starts_at` alone moves `ends_at` with it; `status: cancelled` needs a
/// `cancellation_reason` and records a `session_cancelled` event on every open lead that chose
/// the session; `status: scheduled` clears the reason. Every change marks the session edited
/// by hand, so timetable generation and `apply` leave it alone.
#[utoipa::path(patch, path = "/api/v1/admin/class-sessions/{id}", operation_id = "updateClassSession", tag = "admin-catalog",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Id", minimum = 1),
        ("If-Match" = Option<String>, Header, nullable = false,
            description = "`*`, or the ETag (a comma-separated list of entity tags) the change is based on; 412 when the session changed since",
            pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7E]*")*)$"#),
    ),
    request_body(content = ClassSessionInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed", body = AdminClassSession,
            headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Not JSON, malformed JSON, a wrong field type or an unknown field", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 403, description = "A key whose role is not admin", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "The trainer already teaches a scheduled session at an overlapping time: `error.details` is `{\"class_session_id\": <that session's id>}`", body = ErrorResponse,
            example = json!({"error": {"code": "conflict", "message": "trainer 3 already teaches scheduled session 12 at an overlapping time", "request_id": "5f0c…", "details": {"class_session_id": 12}}})),
        (status = 412, description = "If-Match does not match the current ETag", body = ErrorResponse),
        (status = 413, description = "Body over the limit", body = ErrorResponse),
        (status = 422, description = "Invalid values, or null for a field that cannot be null (as for POST)", body = ErrorResponse),
    ))]
pub async fn update(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<ClassSessionInput>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("id", &id)?;
    let expected = expected::<AdminClassSession>(&req, id);
    let service = state.class_session_admin.clone();
    let input = body.into_inner();
    let session = blocking(&state, move || {
        service.update(id, input, expected, &admin.name)
    })
    .await?;
    Ok(one(StatusCode::OK, &session))
}

/// Deletes a class session; 409 while a lead names it as the class it chose (cancel it
/// instead).
#[utoipa::path(delete, path = "/api/v1/admin/class-sessions/{id}", operation_id = "deleteClassSession", tag = "admin-catalog",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Id", minimum = 1),
        ("If-Match" = Option<String>, Header, nullable = false,
            description = "`*`, or the ETag (a comma-separated list of entity tags) the deletion is based on; 412 when the session changed since",
            pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7E]*")*)$"#),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 403, description = "A key whose role is not admin", body = ErrorResponse),
        (status = 404, description = "No such session", body = ErrorResponse),
        (status = 409, description = "A lead chose the session: `error.details` is `{\"lead_id\": <the first such lead>}`", body = ErrorResponse),
        (status = 412, description = "If-Match does not match the current ETag", body = ErrorResponse),
    ))]
pub async fn delete(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("id", &id)?;
    let expected = expected::<AdminClassSession>(&req, id);
    let service = state.class_session_admin.clone();
    blocking(&state, move || service.delete(id, expected, &admin.name)).await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .finish())
}
