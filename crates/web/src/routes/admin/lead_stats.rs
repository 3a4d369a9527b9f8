//! `GET /api/v1/admin/leads/stats`: the funnel — leads by status, source, studio and campaign.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono_tz::Tz;
use cohai_domain::lead_stats::{LocationTally, UtmSourceTally};
use cohai_domain::time::InstantOrDate;
use cohai_domain::{LeadSource, LeadStatsFilter, LeadStatus};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use super::leads::PRIVATE;
use crate::auth::Admin;
use crate::blocking::blocking;
use crate::error::ApiError;
use crate::openapi::ErrorResponse;
use crate::routes::query;
use crate::state::AppState;

/// An object with a required integer count for each of `names`.
fn counts_schema(names: impl IntoIterator<Item = &'static str>, what: &str) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new().description(Some(format!(
        "Leads per {what}; every {what} is present (0 when none)"
    )));
    for name in names {
        let count = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0));
        object = object.property(name, count).required(name);
    }
    object
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .into()
}

/// `by_status`: a count for every status.
pub struct LeadStatusCounts;

impl PartialSchema for LeadStatusCounts {
    fn schema() -> RefOr<Schema> {
        counts_schema(LeadStatus::ALL.iter().map(|s| s.as_str()), "status")
    }
}

impl ToSchema for LeadStatusCounts {}

/// `by_source`: a count for every source.
pub struct LeadSourceCounts;

impl PartialSchema for LeadSourceCounts {
    fn schema() -> RefOr<Schema> {
        counts_schema(LeadSource::ALL.iter().map(|s| s.as_str()), "source")
    }
}

impl ToSchema for LeadSourceCounts {}

/// Funnel statistics of the leads created in a window.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
pub struct LeadStatsResponse {
    /// Leads created in the window.
    total: i64,
    /// Leads per status; every status is present.
    by_status: LeadStatusCounts,
    /// Leads per source; every source is present.
    by_source: LeadSourceCounts,
    /// Every location (`null`: no location) with a lead in the window, by `total`
    /// descending, then by id, `null` last.
    by_location: Vec<LocationTally>,
    /// Every `utm_source` (`null`: none) with a lead in the window, by `total` descending,
    /// then by value in code-point order, `null` last.
    by_utm_source: Vec<UtmSourceTally>,
    /// Converted leads divided by `total` (0 when `total` is 0), unrounded.
    #[schema(minimum = 0, maximum = 1)]
    conversion_rate: f64,
    /// The median of the minutes from a lead's creation to its first `status_changed` away from
    /// `new`, over the leads of the window that have one (unrounded); `null` when none has.
    median_first_contact_minutes: Option<f64>,
}

/// Funnel statistics of the leads created in a window (API.md §3.1).
///
/// Without `created_from`/`created_to` the window is open on that side. Counted by the
/// database.
#[utoipa::path(get, path = "/api/v1/admin/leads/stats", operation_id = "leadStats", tag = "admin",
    security(("bearer" = [])),
    params(
        ("created_from" = Option<crate::openapi::DateTimeOrDate>, Query, description = "Created at or after: RFC 3339 with offset, or a UTC date"),
        ("created_to" = Option<crate::openapi::DateTimeOrDate>, Query, description = "Created before: RFC 3339 with offset, or a UTC date (whole day included)"),
        ("location_id" = Option<i64>, Query, description = "Only leads for this location", minimum = 1),
    ),
    responses(
        (status = 200, description = "The statistics", body = LeadStatsResponse),
        (status = 400, description = "A malformed parameter", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 404, description = "No such location", body = ErrorResponse),
    ))]
pub async fn stats(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = query(&req)?;
    let filter = LeadStatsFilter {
        created_from: params
            .instant_or_date("created_from")?
            .map(|v: InstantOrDate| v.as_range_start(Tz::UTC)),
        created_to: params
            .instant_or_date("created_to")?
            .map(|v: InstantOrDate| v.as_range_end(Tz::UTC)),
        location_id: params.id("location_id")?,
        // Set by the service from the key's scope.
        location_limit: None,
    };
    let leads = state.leads.clone();
    let stats = blocking(&state, move || leads.stats(&filter, &admin.scope)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .json(stats))
}
