//! The admin API's weekly timetable slots: `/api/v1/admin/timetable-slots` and
//! `/api/v1/admin/timetable-slots/{id}` (`GET`, `POST`, `PATCH`, `DELETE`). The handlers'
//! bodies are the catalog resources' ([`crate::routes::admin::catalog`]); the rules are in
//! `cohai_services::timetable_slots`. Applying a slot to its sessions is in
//! [`crate::routes::admin::timetable`].

use actix_web::{HttpRequest, HttpResponse, web};
use cohai_domain::TimetableSlot;
use cohai_services::TimetableSlotInput;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::openapi::ErrorResponse;
use crate::routes::admin::catalog::{self, Active, Resource};
use crate::state::AppState;

const PATH: &str = "/api/v1/admin/timetable-slots";

impl Active for TimetableSlot {
    fn active(&self) -> bool {
        self.is_active
    }
}

/// A timetable slot as the admin API shows it: its fields and `active`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documents the serialised admin view
pub struct AdminTimetableSlot {
    #[serde(flatten)]
    slot: TimetableSlot,
    /// Generates sessions (an inactive slot generates none).
    active: bool,
}

/// Every timetable slot, active or not, by `location_id`, `weekday`, `start_time`, then `id`.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)] // documents the serialised list
pub struct AdminTimetableSlotList {
    /// The items.
    items: Vec<AdminTimetableSlot>,
}

/// A new timetable slot (the `POST` body; a `PATCH` sends any of these fields, see
/// `TimetableSlotInput`). Unknown fields are refused.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)] // documented as `additionalProperties: false`, as it is read
#[allow(dead_code)] // documents the body, which is read as a `TimetableSlotInput`
pub struct NewTimetableSlotBody {
    /// An existing, active location; `start_time` is in its time zone.
    #[schema(minimum = 1)]
    location_id: i64,
    /// An existing, active program type (its duration is each session's).
    #[schema(minimum = 1)]
    program_type_id: i64,
    /// An existing, active trainer.
    #[schema(minimum = 1)]
    trainer_id: i64,
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    #[schema(minimum = 1, maximum = 7, example = 2)]
    weekday: i32,
    /// Local start time `HH:MM` (24-hour clock, two digits each), 00:00–23:59.
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "19:00")]
    start_time: String,
    /// Places in each class, 1–500.
    #[schema(minimum = 1, maximum = 500, example = 12)]
    capacity: i32,
    /// The first date the slot may occur on, `YYYY-MM-DD` (1900-01-01 to 9998-12-31).
    #[schema(format = Date, example = "2027-03-01")]
    valid_from: String,
    /// The last date it may occur on, not before `valid_from`; `null` or absent: no end.
    #[schema(value_type = Option<String>, format = Date, example = "2027-06-30")]
    valid_until: Option<String>,
    /// Generates sessions; default `true`.
    #[schema(value_type = bool, default = true, required = false)]
    active: Option<bool>,
}

fn resource(state: &AppState) -> Resource<TimetableSlot, TimetableSlotInput> {
    Resource {
        service: state.timetable.slots.clone(),
        path: PATH,
    }
}

/// Every timetable slot (inactive ones too), by `location_id`, `weekday`, `start_time`, `id`.
#[utoipa::path(get, path = "/api/v1/admin/timetable-slots", operation_id = "listTimetableSlots",
    tag = "admin-timetable", security(("bearer" = [])),
    params(("active" = Option<bool>, Query, description = "Only active (`true`) or inactive (`false`) ones")),
    responses(
        (status = 200, description = "The list", body = AdminTimetableSlotList),
        (status = 400, description = "A malformed parameter", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 403, description = "A key whose role may not use this endpoint", body = ErrorResponse),
    ))]
pub async fn list(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let _ = admin;
    catalog::list(&req, &state, resource(&state)).await
}

/// One timetable slot, active or not, with its `ETag`.
#[utoipa::path(get, path = "/api/v1/admin/timetable-slots/{id}", operation_id = "getTimetableSlot",
    tag = "admin-timetable", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Id", minimum = 1)),
    responses(
        (status = 200, description = "Found", body = AdminTimetableSlot,
            headers(("ETag" = String, description = "Changes with every update"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "Malformed id", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 403, description = "A key whose role may not use this endpoint", body = ErrorResponse),
        (status = 404, description = "No such slot", body = ErrorResponse),
    ))]
pub async fn get(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let _ = admin;
    catalog::get(&req, &state, resource(&state), &id).await
}

/// Creates a weekly timetable slot. It generates sessions from the next generation run on
/// (a manager's, or the server's rolling horizon).
#[utoipa::path(post, path = "/api/v1/admin/timetable-slots", operation_id = "createTimetableSlot",
    tag = "admin-timetable", security(("bearer" = [])),
    request_body(content = NewTimetableSlotBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = AdminTimetableSlot,
            headers(("Location" = String, description = "URL of the new slot"), ("ETag" = String, description = "Its version"))),
        (status = 400, description = "Not JSON, malformed JSON, a wrong field type or an unknown field", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 403, description = "A key whose role may not use this endpoint", body = ErrorResponse),
        (status = 413, description = "Body over the limit", body = ErrorResponse),
        (status = 422, description = "Invalid or missing fields; a location, program type or trainer that does not exist or is inactive; `valid_until` before `valid_from`", body = ErrorResponse),
    ))]
pub async fn create(
    admin: Admin,
    state: web::Data<AppState>,
    body: JsonBody<TimetableSlotInput>,
) -> Result<HttpResponse, ApiError> {
    catalog::create(
        &state,
        resource(&state),
        admin.name.clone(),
        body.into_inner(),
    )
    .await
}

/// Changes the fields sent of a timetable slot (`null` clears `valid_until`). Sessions
/// already generated keep their values unless the slot is applied to them
/// (`POST …/{id}/apply`).
#[utoipa::path(patch, path = "/api/v1/admin/timetable-slots/{id}", operation_id = "updateTimetableSlot",
    tag = "admin-timetable", security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Id", minimum = 1),
        ("If-Match" = Option<String>, Header, nullable = false,
            description = "`*`, or the ETag (a comma-separated list of entity tags) the change is based on; 412 when the slot changed since",
            pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7E]*")*)$"#),
    ),
    request_body(content = TimetableSlotInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed", body = AdminTimetableSlot,
            headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Not JSON, malformed JSON, a wrong field type or an unknown field", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 403, description = "A key whose role may not use this endpoint", body = ErrorResponse),
        (status = 404, description = "No such slot", body = ErrorResponse),
        (status = 412, description = "If-Match does not match the current ETag", body = ErrorResponse),
        (status = 413, description = "Body over the limit", body = ErrorResponse),
        (status = 422, description = "Invalid values, null for a field that cannot be null, a reference that does not exist or is inactive", body = ErrorResponse),
    ))]
pub async fn update(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<TimetableSlotInput>,
) -> Result<HttpResponse, ApiError> {
    catalog::update(
        &req,
        &state,
        resource(&state),
        &id,
        admin.name.clone(),
        body.into_inner(),
    )
    .await
}

/// Deletes a timetable slot; 409 while sessions it generated exist (deactivate it instead).
/// A slot whose generated sessions were all deleted may be deleted.
#[utoipa::path(delete, path = "/api/v1/admin/timetable-slots/{id}", operation_id = "deleteTimetableSlot",
    tag = "admin-timetable", security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Id", minimum = 1),
        ("If-Match" = Option<String>, Header, nullable = false,
            description = "`*`, or the ETag (a comma-separated list of entity tags) the deletion is based on; 412 when the slot changed since",
            pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7E]*")*)$"#),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 403, description = "A key whose role may not use this endpoint", body = ErrorResponse),
        (status = 404, description = "No such slot", body = ErrorResponse),
        (status = 409, description = "Sessions generated from the slot exist", body = ErrorResponse),
        (status = 412, description = "If-Match does not match the current ETag", body = ErrorResponse),
    ))]
pub async fn delete(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    catalog::delete(&req, &state, resource(&state), &id, admin.name.clone()).await
}
