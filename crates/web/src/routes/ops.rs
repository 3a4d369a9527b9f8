//! Operations: health, readiness, metrics, the OpenAPI document and the test error.

use std::sync::OnceLock;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::blocking::blocking;
use crate::caching::{etag_of, json_with_etag};
use crate::error::ApiError;
use crate::openapi::{ApiDoc, ErrorResponse};
use crate::state::AppState;

/// `{"status": …}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// Liveness: the process runs. No database access.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The process is running", body = Status)))]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// Readiness: the database answers and its migrations are applied.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Status),
        (status = 503, description = "The database is unreachable or not migrated", body = ErrorResponse),
    ))]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let health = state.health.clone();
    blocking(&state, move || health.readiness()).await?;
    Ok(HttpResponse::Ok().json(Status { status: "ready" }))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4", body = String)))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let text = state.metrics.render(state.health.pool_stats());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}

/// A deliberate 500 in the standard error shape, to check error handling end to end.
#[utoipa::path(get, path = "/api/v1/test-error", tag = "operations",
    responses(
        (status = 500, description = "Always, when enabled", body = ErrorResponse),
        (status = 404, description = "When disabled in the configuration", body = ErrorResponse),
    ))]
pub async fn test_error(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.settings.test_error_enabled {
        return Err(ApiError::not_found("no such resource"));
    }
    log::warn!("test error requested");
    Err(ApiError::internal())
}

/// This API's OpenAPI 3 document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object),
        (status = 304, description = "Not modified (If-None-Match)"),
    ))]
pub async fn openapi_json(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    static DOCUMENT: OnceLock<(web::Bytes, String)> = OnceLock::new();
    let (body, etag) = DOCUMENT.get_or_init(|| {
        let body = serde_json::to_vec(&ApiDoc::openapi()).unwrap_or_default();
        let etag = etag_of(&body);
        (body.into(), etag)
    });
    let cache_control = format!("public, max-age={}", state.settings.cache_max_age);
    Ok(json_with_etag(&req, body.clone(), etag, &cache_control))
}
