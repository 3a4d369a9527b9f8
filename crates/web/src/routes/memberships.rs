//! `GET /api/v1/memberships`, `GET /api/v1/memberships/{id}`.

use actix_web::{HttpRequest, HttpResponse, web};
use cohai_domain::MembershipPlan;

use super::{MembershipPlanList, public_json, query};
use crate::error::ApiError;
use crate::openapi::ErrorResponse;
use crate::params::parse_id;
use crate::state::AppState;

/// Active membership plans by price, then id; optionally of one location.
#[utoipa::path(get, path = "/api/v1/memberships", operation_id = "listMemberships", tag = "catalog",
    params(("location_id" = Option<i64>, Query, description = "Only plans of this location", minimum = 1)),
    responses(
        (status = 200, description = "Active plans by price_minor, then id", body = MembershipPlanList),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "Malformed location_id", body = ErrorResponse),
        (status = 404, description = "No such location", body = ErrorResponse),
    ))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let location_id = query(&req)?.id("location_id")?;
    let catalog = state.catalog.clone();
    public_json(&req, &state, move || {
        Ok(MembershipPlanList {
            items: catalog.memberships(location_id)?,
        })
    })
    .await
}

/// One active membership plan.
#[utoipa::path(get, path = "/api/v1/memberships/{id}", operation_id = "getMembership", tag = "catalog",
    params(("id" = i64, Path, description = "Plan id (positive)", minimum = 1)),
    responses(
        (status = 200, description = "The plan", body = MembershipPlan),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "Malformed id", body = ErrorResponse),
        (status = 404, description = "No such active plan", body = ErrorResponse),
    ))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("id", &id)?;
    let catalog = state.catalog.clone();
    public_json(&req, &state, move || catalog.membership(id)).await
}
