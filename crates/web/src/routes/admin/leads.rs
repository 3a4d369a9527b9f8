//! The leads CRM: `/api/v1/admin/leads…`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{SubsecRound, Utc};
use chrono_tz::Tz;
use cohai_domain::time::InstantOrDate;
use cohai_domain::{
    AssigneeFilter, Lead, LeadFilter, LeadSort, LeadSource, LeadStatus, OverdueFilter,
};
use cohai_services::{AdminLeadForm, LeadPatch};

use crate::auth::Admin;
use crate::blocking::blocking;
use crate::body::JsonBody;
use crate::caching::{expected_version, if_none_match};
use crate::error::ApiError;
use crate::openapi::ErrorResponse;
use crate::params::{QueryParams, parse_id};
use crate::routes::{LeadEventList, LeadPageResponse, query};
use crate::state::AppState;

/// The serialised form of [`LeadPageResponse`], borrowing the (possibly cached) page.
#[derive(serde::Serialize)]
struct LeadPageBody<'a> {
    items: &'a [Lead],
    total: i64,
    limit: i64,
    offset: i64,
}

/// Admin responses hold personal data: never stored by caches.
pub(crate) const PRIVATE: &str = "private, no-store";

/// The lead's strong entity tag, from its version.
fn lead_etag(lead: &Lead) -> String {
    format!("\"lead-{}-v{}\"", lead.id, lead.version)
}

fn lead_response(status: actix_web::http::StatusCode, lead: &Lead) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, lead_etag(lead)))
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .json(lead)
}

/// `a, b, c`: the wire names of an enum's values, for messages.
fn wire_names<T: std::fmt::Display>(values: &[T]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The list's filters and order (every parameter but `limit` and `offset`), as the export
/// shares them.
pub(crate) fn criteria_from(params: &QueryParams) -> Result<LeadFilter, ApiError> {
    let statuses = match params.get("status") {
        None => Vec::new(),
        Some(raw) => raw
            .split(',')
            .map(|s| {
                s.parse::<LeadStatus>().map_err(|_| {
                    ApiError::invalid_parameter(
                        "status",
                        format!("must be one or more of {}", wire_names(LeadStatus::ALL)),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let source = params
        .get("source")
        .map(|s| {
            s.parse::<LeadSource>().map_err(|_| {
                ApiError::invalid_parameter(
                    "source",
                    format!("must be one of {}", wire_names(LeadSource::ALL)),
                )
            })
        })
        .transpose()?;
    let sort = params
        .get("sort")
        .map(|s| {
            LeadSort::parse(s).ok_or_else(|| {
                ApiError::invalid_parameter(
                    "sort",
                    format!("must be one of {}", LeadSort::SPELLINGS.join(", ")),
                )
            })
        })
        .transpose()?
        .unwrap_or_default();
    let q = params
        .get("q")
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_owned);
    if q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::invalid_parameter(
            "q",
            "must be at most 200 characters",
        ));
    }
    let assignee = params
        .get("assignee")
        .map(|name| match name {
            "" => Err(ApiError::invalid_parameter(
                "assignee",
                "must be the name of a configured admin key, or none",
            )),
            "none" => Ok(AssigneeFilter::Unassigned),
            name => Ok(AssigneeFilter::Named(name.to_owned())),
        })
        .transpose()?;
    let overdue = params
        .get("overdue")
        .map(|raw| match raw {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(ApiError::invalid_parameter(
                "overdue",
                "must be true or false",
            )),
        })
        .transpose()?
        .map(|overdue| OverdueFilter {
            overdue,
            now: Utc::now().trunc_subsecs(6),
        });
    let utc_start = |name| {
        params
            .instant_or_date(name)
            .map(|v| v.map(|v: InstantOrDate| v.as_range_start(Tz::UTC)))
    };
    let utc_end = |name| {
        params
            .instant_or_date(name)
            .map(|v| v.map(|v: InstantOrDate| v.as_range_end(Tz::UTC)))
    };
    Ok(LeadFilter {
        statuses,
        source,
        location_id: params.id("location_id")?,
        q,
        created_from: utc_start("created_from")?,
        created_to: utc_end("created_to")?,
        assignee,
        overdue,
        next_contact_from: utc_start("next_contact_from")?,
        next_contact_to: utc_end("next_contact_to")?,
        // Every lead: admin keys have no lead scope yet (API.md §3.1 roles).
        location_limit: None,
        sort,
        ..LeadFilter::default()
    })
}

/// The list's filters, order and page.
pub(crate) fn filter_from(params: &QueryParams) -> Result<LeadFilter, ApiError> {
    let criteria = criteria_from(params)?;
    Ok(LeadFilter {
        limit: params.int_in("limit", 1, cohai_services::leads::MAX_PAGE_SIZE, 50)?,
        offset: params.int_in("offset", 0, i64::MAX, 0)?,
        ..criteria
    })
}

/// The filters and order of the list and the export, as the OpenAPI document states them
/// (the handlers read them with [`criteria_from`]).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only
pub(crate) struct LeadCriteria {
    /// One status or a comma-separated list (no spaces) of new, contacted, trial_scheduled, converted, lost
    #[param(
        pattern = r"^(new|contacted|trial_scheduled|converted|lost)(,(new|contacted|trial_scheduled|converted|lost))*$"
    )]
    status: Option<String>,
    /// Only this source
    source: Option<LeadSource>,
    /// Only leads for this location
    #[param(minimum = 1)]
    location_id: Option<i64>,
    /// Case-insensitive substring of name, e-mail or phone; at most 200 characters, no control characters
    #[param(max_length = 200, pattern = r"^[^\u0000-\u001F\u007F]*$")]
    q: Option<String>,
    /// Created at or after: RFC 3339 with offset, or a UTC date
    #[param(value_type = Option<crate::openapi::DateTimeOrDate>)]
    created_from: Option<String>,
    /// Created before: RFC 3339 with offset, or a UTC date (whole day included)
    #[param(value_type = Option<crate::openapi::DateTimeOrDate>)]
    created_to: Option<String>,
    /// Only leads owned by the admin key of this name (case-sensitive), or `none` for leads
    /// without an owner; a name no key has, or an empty value, is a 400
    #[param(
        min_length = 1,
        pattern = r"^[^\u0000-\u001F\u007F]+$",
        example = "none"
    )]
    assignee: Option<String>,
    /// `true`: only open leads (new, contacted, trial_scheduled) whose `next_contact_at` is
    /// before now; `false`: every other lead. Anything else is a 400
    overdue: Option<bool>,
    /// Call-back at or after: RFC 3339 with offset, or a UTC date
    #[param(value_type = Option<crate::openapi::DateTimeOrDate>)]
    next_contact_from: Option<String>,
    /// Call-back before: RFC 3339 with offset, or a UTC date (whole day included)
    #[param(value_type = Option<crate::openapi::DateTimeOrDate>)]
    next_contact_to: Option<String>,
    /// created_at | -created_at (default) | updated_at | -updated_at | next_contact_at |
    /// -next_contact_at; ties by id in the same direction; leads without `next_contact_at` come
    /// last in both of its directions
    #[param(value_type = Option<crate::openapi::LeadSortOrder>)]
    sort: Option<String>,
}

/// Leads, filtered, sorted and paginated.
#[utoipa::path(get, path = "/api/v1/admin/leads", operation_id = "listLeads", tag = "admin",
    security(("bearer" = [])),
    params(
        LeadCriteria,
        ("limit" = Option<i64>, Query, description = "1–200, default 50", minimum = 1, maximum = 200),
        ("offset" = Option<i64>, Query, description = "≥ 0, default 0", minimum = 0),
    ),
    responses(
        (status = 200, description = "A page of leads", body = LeadPageResponse),
        (status = 400, description = "A malformed or out-of-range parameter, or an `assignee` that names no admin key", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 404, description = "No such location", body = ErrorResponse),
    ))]
pub async fn list(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut filter = filter_from(&*query(&req)?)?;
    // The key's scope is part of the filter, so the list cache never serves one key's page to
    // another with a different scope.
    filter.location_limit = admin.scope.location_limit();
    // A kept page is served without a thread hop (see `LeadListCache` for when it is valid).
    let leads = &state.leads;
    let body = state
        .lead_list
        .get_or_load(
            &filter,
            || leads.write_generation(),
            || async {
                let (leads, query, scope) =
                    (state.leads.clone(), filter.clone(), admin.scope.clone());
                let page = blocking(&state, move || leads.list(&query, &scope)).await?;
                let body = crate::routes::to_json(&LeadPageBody {
                    items: &page.items,
                    total: page.total,
                    limit: filter.limit,
                    offset: filter.offset,
                })
                .map_err(|e| {
                    log::error!("cannot serialise a lead page: {e}");
                    ApiError::internal()
                })?;
                Ok::<_, ApiError>(web::Bytes::from(body))
            },
        )
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .content_type(header::ContentType::json())
        .body(body))
}

/// One lead, with its `ETag`.
#[utoipa::path(get, path = "/api/v1/admin/leads/{id}", operation_id = "getLead", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Lead id", minimum = 1)),
    responses(
        (status = 200, description = "The lead", body = Lead, headers(("ETag" = String, description = "Changes with every update"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "Malformed id", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 404, description = "No such lead", body = ErrorResponse),
    ))]
pub async fn get(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("id", &id)?;
    let leads = state.leads.clone();
    let lead = blocking(&state, move || leads.get(id, &admin.scope)).await?;
    if if_none_match(&req, &lead_etag(&lead)) {
        // A 304 carries the Cache-Control the 200 would have (RFC 9110 §15.4.5).
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, lead_etag(&lead)))
            .insert_header((header::CACHE_CONTROL, PRIVATE))
            .finish());
    }
    Ok(lead_response(actix_web::http::StatusCode::OK, &lead))
}

/// Creates a lead (no de-duplication). Unknown fields are rejected.
#[utoipa::path(post, path = "/api/v1/admin/leads", operation_id = "createLead", tag = "admin",
    security(("bearer" = [])),
    request_body(content = AdminLeadForm, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = Lead,
            headers(("Location" = String, description = "URL of the new lead"), ("ETag" = String, description = "The lead's version"))),
        (status = 400, description = "Not JSON, malformed JSON, a wrong field type or an unknown field", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 408, description = "The body did not arrive within the read deadline (`body_read_timeout_ms`); the connection is closed", body = ErrorResponse),
        (status = 413, description = "Body over the limit", body = ErrorResponse),
        (status = 422, description = "Invalid or missing fields", body = ErrorResponse),
    ))]
pub async fn create(
    admin: Admin,
    state: web::Data<AppState>,
    body: JsonBody<AdminLeadForm>,
) -> Result<HttpResponse, ApiError> {
    let leads = state.leads.clone();
    let form = body.into_inner();
    let lead = blocking(&state, move || leads.create(form, &admin.principal())).await?;
    state.metrics.lead_created(lead.source.as_str());
    let url = format!("/api/v1/admin/leads/{}", lead.id);
    Ok(crate::routes::with_location(
        lead_response(actix_web::http::StatusCode::CREATED, &lead),
        &url,
    ))
}

/// Partially updates a lead: absent fields stay, `null` clears a nullable field.
#[utoipa::path(patch, path = "/api/v1/admin/leads/{id}", operation_id = "updateLead", tag = "admin",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Lead id", minimum = 1),
        ("If-Match" = Option<String>, Header, nullable = false,
            description = "`*`, or the ETag (a comma-separated list of entity tags) the change is based on; 412 when the lead changed since",
            pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7E]*")*)$"#),
    ),
    request_body(content = LeadPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated lead", body = Lead, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Not JSON, malformed JSON, a wrong field type or an unknown field", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 404, description = "No such lead", body = ErrorResponse),
        (status = 408, description = "The body did not arrive within the read deadline (`body_read_timeout_ms`); the connection is closed", body = ErrorResponse),
        (status = 412, description = "If-Match does not match the current ETag", body = ErrorResponse),
        (status = 409, description = "Without If-Match: the lead changed concurrently while a location-limited key's scope was being checked against it (`conflict`); retry", body = ErrorResponse),
        (status = 422, description = "Invalid values", body = ErrorResponse),
    ))]
pub async fn update(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<LeadPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("id", &id)?;
    let expected_version = expected_version(&req, "lead", id);
    let leads = state.leads.clone();
    let patch = body.into_inner();
    let lead = blocking(&state, move || {
        leads.update(id, patch, expected_version, &admin.principal())
    })
    .await?;
    Ok(lead_response(actix_web::http::StatusCode::OK, &lead))
}

/// Erases a lead and its personal data.
#[utoipa::path(delete, path = "/api/v1/admin/leads/{id}", operation_id = "deleteLead", tag = "admin",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Lead id", minimum = 1),
        ("If-Match" = Option<String>, Header, nullable = false,
            description = "`*`, or the ETag (a comma-separated list of entity tags) the erasure is based on; 412 when the lead changed since",
            pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7E]*")*)$"#),
    ),
    responses(
        (status = 204, description = "Erased"),
        (status = 400, description = "Malformed id", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 404, description = "No such lead", body = ErrorResponse),
        (status = 412, description = "If-Match does not match the current ETag", body = ErrorResponse),
        (status = 409, description = "Without If-Match: the lead changed concurrently while a location-limited key's scope was being checked against it (`conflict`); retry", body = ErrorResponse),
    ))]
pub async fn delete(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("id", &id)?;
    let expected_version = expected_version(&req, "lead", id);
    let leads = state.leads.clone();
    blocking(&state, move || {
        leads.delete(id, expected_version, &admin.principal())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A lead's history, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/leads/{id}/events", operation_id = "listLeadEvents", tag = "admin",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Lead id", minimum = 1)),
    responses(
        (status = 200, description = "Events, oldest first", body = LeadEventList),
        (status = 400, description = "Malformed id", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 404, description = "No such lead", body = ErrorResponse),
    ))]
pub async fn events(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("id", &id)?;
    let leads = state.leads.clone();
    let items = blocking(&state, move || leads.events(id, &admin.scope)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .json(LeadEventList { items }))
}
