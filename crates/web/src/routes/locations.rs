//! `GET /api/v1/locations`, `GET /api/v1/locations/{id}`.

use actix_web::{HttpRequest, HttpResponse, web};
use cohai_domain::Location;

use super::{LocationList, public_json};
use crate::error::ApiError;
use crate::openapi::ErrorResponse;
use crate::params::parse_id;
use crate::state::AppState;

/// Active locations, ordered by name.
#[utoipa::path(get, path = "/api/v1/locations", operation_id = "listLocations", tag = "catalog",
    responses(
        (status = 200, description = "Active locations by name", body = LocationList),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.clone();
    public_json(&req, &state, move || {
        Ok(LocationList {
            items: catalog.locations()?,
        })
    })
    .await
}

/// One active location.
#[utoipa::path(get, path = "/api/v1/locations/{id}", operation_id = "getLocation", tag = "catalog",
    params(("id" = i64, Path, description = "Location id (positive)", minimum = 1)),
    responses(
        (status = 200, description = "The location", body = Location),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "Malformed id", body = ErrorResponse),
        (status = 404, description = "No such active location", body = ErrorResponse),
    ))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("id", &id)?;
    let catalog = state.catalog.clone();
    public_json(&req, &state, move || catalog.location(id)).await
}
