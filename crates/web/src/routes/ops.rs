//! Operations: health, readiness, metrics, the OpenAPI document and the test error.

use std::sync::OnceLock;

use actix_web::{HttpRequest, HttpResponse, web};
use cohai_services::ServiceError;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::blocking::blocking_within;
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
#[utoipa::path(get, path = "/health", operation_id = "getHealth", tag = "operations",
    responses((status = 200, description = "The process is running", body = Status)))]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// Readiness: the database answers and its migrations are applied.
#[utoipa::path(get, path = "/ready", operation_id = "getReady", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Status),
        (status = 503, description = "The database is unreachable or not migrated", body = ErrorResponse),
    ))]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // Answered within `database.ready_timeout_ms`, under a probe's time-out: not the queue's
    // or the pool's waits (3 s by default), and not a connection that hangs in the driver
    // (that check is left to finish on its thread, which holds that connection only).
    let health = state.health.clone();
    let bound = health.ready_timeout();
    let check = blocking_within(bound, move || health.readiness());
    match actix_web::rt::time::timeout(bound, check).await {
        Ok(checked) => checked?,
        Err(_) => {
            return Err(ServiceError::Unavailable(format!(
                "the readiness check took over {} ms",
                bound.as_millis()
            ))
            .into());
        }
    }
    Ok(HttpResponse::Ok().json(Status { status: "ready" }))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", operation_id = "getMetrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4", body = String)))]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let text = state.metrics.render().map_err(|e| {
        log::error!("cannot render metrics: {e}");
        ApiError::internal()
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

/// A deliberate 500 in the standard error shape, to check error handling end to end.
#[utoipa::path(get, path = "/api/v1/test-error", operation_id = "testError", tag = "operations",
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
#[utoipa::path(get, path = "/api/v1/openapi.json", operation_id = "getOpenApi", tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object),
        (status = 304, description = "Not modified (If-None-Match)"),
    ))]
pub async fn openapi_json(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // Serialised once; a failure (a bug in a schema) is reported on every request rather
    // than served as an empty document.
    static DOCUMENT: OnceLock<Result<(web::Bytes, String), String>> = OnceLock::new();
    let document = DOCUMENT.get_or_init(|| {
        let body = serde_json::to_vec(&ApiDoc::openapi()).map_err(|e| e.to_string())?;
        let etag = etag_of(&body);
        Ok((body.into(), etag))
    });
    let (body, etag) = document.as_ref().map_err(|e| {
        log::error!("cannot serialise the OpenAPI document: {e}");
        ApiError::internal()
    })?;
    let cache_control = format!("public, max-age={}", state.settings.cache_max_age);
    Ok(json_with_etag(&req, body.clone(), etag, &cache_control))
}
