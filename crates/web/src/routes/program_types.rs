//! `GET /api/v1/program-types`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{ProgramTypeList, public_json};
use crate::error::ApiError;
use crate::openapi::ErrorResponse;
use crate::state::AppState;

/// Active program types, ordered by name.
#[utoipa::path(get, path = "/api/v1/program-types", operation_id = "listProgramTypes", tag = "catalog",
    responses(
        (status = 200, description = "Active program types by name", body = ProgramTypeList),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 503, description = "Database unavailable", body = ErrorResponse),
    ))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let catalog = state.catalog.clone();
    public_json(&req, &state, move || {
        Ok(ProgramTypeList {
            items: catalog.program_types()?,
        })
    })
    .await
}
