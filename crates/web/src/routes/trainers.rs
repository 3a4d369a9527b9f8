//! `GET /api/v1/trainers`, `GET /api/v1/trainers/{id}`.

use actix_web::{HttpRequest, HttpResponse, web};
use cohai_domain::Trainer;

use super::{TrainerList, public_json, query};
use crate::error::ApiError;
use crate::openapi::ErrorResponse;
use crate::params::parse_id;
use crate::state::AppState;

/// Active trainers by full name; with `location_id`, those who have a class session there.
#[utoipa::path(get, path = "/api/v1/trainers", operation_id = "listTrainers", tag = "catalog",
    params(("location_id" = Option<i64>, Query, description = "Only trainers with a class session at this location", minimum = 1)),
    responses(
        (status = 200, description = "Active trainers by full name", body = TrainerList),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "Malformed location_id", body = ErrorResponse),
        (status = 404, description = "No such location", body = ErrorResponse),
    ))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let location_id = query(&req)?.id("location_id")?;
    let catalog = state.catalog.clone();
    public_json(&req, &state, move || {
        Ok(TrainerList {
            items: catalog.trainers(location_id)?,
        })
    })
    .await
}

/// One active trainer.
#[utoipa::path(get, path = "/api/v1/trainers/{id}", operation_id = "getTrainer", tag = "catalog",
    params(("id" = i64, Path, description = "Trainer id (positive)", minimum = 1)),
    responses(
        (status = 200, description = "The trainer", body = Trainer),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "Malformed id", body = ErrorResponse),
        (status = 404, description = "No such active trainer", body = ErrorResponse),
    ))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("id", &id)?;
    let catalog = state.catalog.clone();
    public_json(&req, &state, move || catalog.trainer(id)).await
}
