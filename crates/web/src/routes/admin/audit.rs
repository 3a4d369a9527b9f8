//! The audit log: `GET /api/v1/admin/audit`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use cohai_domain::{AuditEntity, AuditEntry, AuditFilter};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Admin;
use crate::blocking::blocking;
use crate::error::ApiError;
use crate::openapi::ErrorResponse;
use crate::routes::admin::catalog::PRIVATE;
use crate::routes::query;
use crate::state::AppState;

/// One page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPageResponse {
    /// The page.
    pub items: Vec<AuditEntry>,
    /// All entries matching the filters.
    pub total: i64,
    /// Page size used.
    pub limit: i64,
    /// Entries skipped.
    pub offset: i64,
}

fn filter_from(req: &HttpRequest) -> Result<AuditFilter, ApiError> {
    let params = query(req)?;
    let entity = params
        .get("entity")
        .map(|raw| {
            raw.parse::<AuditEntity>().map_err(|_| {
                let names: Vec<&str> = AuditEntity::ALL.iter().map(|e| e.as_str()).collect();
                ApiError::invalid_parameter(
                    "entity",
                    format!("must be one of {}", names.join(", ")),
                )
            })
        })
        .transpose()?;
    let actor = match params.get("actor") {
        Some(actor) if actor.is_empty() || actor.chars().count() > 200 => {
            return Err(ApiError::invalid_parameter(
                "actor",
                "must be 1 to 200 characters",
            ));
        }
        actor => actor.map(str::to_owned),
    };
    Ok(AuditFilter {
        entity,
        entity_id: params.id("entity_id")?,
        actor,
        limit: params.int_in("limit", 1, cohai_services::audit::MAX_AUDIT_PAGE, 50)?,
        offset: params.int_in("offset", 0, i64::MAX, 0)?,
    })
}

/// Catalog changes, newest first, filtered and paginated.
#[utoipa::path(get, path = "/api/v1/admin/audit", operation_id = "listAuditEntries", tag = "admin-catalog",
    security(("bearer" = [])),
    params(
        ("entity" = Option<AuditEntity>, Query, description = "Only entries about this kind of entity"),
        ("entity_id" = Option<i64>, Query, description = "Only entries about this id", minimum = 1),
        ("actor" = Option<String>, Query, description = "Only changes by this admin key name (exact); an unknown one matches nothing",
            min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001F\u007F]+$"),
        ("limit" = Option<i64>, Query, description = "1–200, default 50", minimum = 1, maximum = 200),
        ("offset" = Option<i64>, Query, description = "≥ 0, default 0", minimum = 0),
    ),
    responses(
        (status = 200, description = "A page of entries", body = AuditPageResponse),
        (status = 400, description = "A malformed or out-of-range parameter", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
    ))]
pub async fn list(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let _ = admin;
    let filter = filter_from(&req)?;
    let (audit, query) = (state.audit.clone(), filter.clone());
    let page = blocking(&state, move || audit.list(&query)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .json(AuditPageResponse {
            items: page.items,
            total: page.total,
            limit: filter.limit,
            offset: filter.offset,
        }))
}
