//! The admin API's webhooks (API.md §7): `/api/v1/admin/webhooks` (`GET`, `POST`),
//! `/api/v1/admin/webhooks/{id}` (`GET`, `PATCH`, `DELETE`), the deliveries log
//! `/api/v1/admin/webhooks/{id}/deliveries` and
//! `/api/v1/admin/webhooks/{id}/deliveries/{delivery_id}/redeliver`. Admin role only (declared
//! with the route group). The rules are in `cohai_services::webhooks`.
//!
//! The secret is in the creating `POST`'s reply only; every other reply is a [`Webhook`],
//! which has no field for it or its hash.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use cohai_domain::outbox::{DeliveryAttempt, Webhook};
use cohai_services::webhooks::{DEFAULT_DELIVERIES_PAGE, MAX_DELIVERIES_PAGE};
use cohai_services::{CreatedWebhook, WebhookInput};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::auth::Admin;
use crate::blocking::blocking;
use crate::body::JsonBody;
use crate::caching::if_none_match;
use crate::error::ApiError;
use crate::openapi::ErrorResponse;
use crate::params::parse_id;
use crate::routes::admin::catalog::{PRIVATE, etag, expected};
use crate::routes::query;
use crate::state::AppState;

/// The collection's path.
const PATH: &str = "/api/v1/admin/webhooks";

/// Every webhook, by id.
#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    /// The items.
    pub items: Vec<Webhook>,
}

/// The reply to `POST /api/v1/admin/webhooks`: the webhook and its secret, which is shown
/// here once and never again.
#[derive(Serialize, ToSchema)]
pub struct CreatedWebhookResponse {
    #[serde(flatten)]
    webhook: Webhook,
    /// The signing secret: `whsec_` and 64 lower-case hex digits. Receivers check each
    /// delivery's `Cohai-Signature` (`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>"
    /// keyed with this string's UTF-8 bytes>`). Shown only in this reply: store it now. A
    /// repeat of this request with the same `Idempotency-Key` and body within 24 hours
    /// replays this reply *without* `secret`: the server never stores the secret, not even
    /// for a replay (if the first reply was lost, delete the webhook and register it again).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^whsec_[0-9a-f]{64}$", example = "whsec_3f6c…")]
    secret: Option<String>,
}

impl From<CreatedWebhook> for CreatedWebhookResponse {
    fn from(created: CreatedWebhook) -> Self {
        Self {
            secret: Some(created.secret.expose().to_owned()),
            webhook: created.webhook,
        }
    }
}

/// The body of `POST /api/v1/admin/webhooks`: [`WebhookInput`] with the fields it requires
/// declared (`WebhookInput::REQUIRED_ON_CREATE`). The same type reads both bodies; a `PATCH`
/// requires none.
pub struct NewWebhookInput;

impl utoipa::PartialSchema for NewWebhookInput {
    fn schema() -> RefOr<Schema> {
        crate::routes::admin::catalog::create_schema(
            <WebhookInput as utoipa::PartialSchema>::schema(),
            "webhook",
            WebhookInput::REQUIRED_ON_CREATE,
        )
    }
}

impl ToSchema for NewWebhookInput {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <WebhookInput as ToSchema>::schemas(schemas);
    }
}

/// One page of a webhook's deliveries log, newest first.
#[derive(Serialize, ToSchema)]
pub struct DeliveryAttemptPageResponse {
    /// The page: one item per attempt.
    pub items: Vec<DeliveryAttempt>,
    /// All attempts of the webhook.
    pub total: i64,
    /// Page size used.
    pub limit: i64,
    /// Attempts skipped.
    pub offset: i64,
}

fn one(status: StatusCode, webhook: &Webhook) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(webhook)))
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .json(webhook)
}

/// Every webhook, active or not, by id.
#[utoipa::path(get, path = "/api/v1/admin/webhooks", operation_id = "listWebhooks", tag = "admin-webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The list (never a secret)", body = WebhookList),
        (status = 400, description = "A malformed parameter", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
    ))]
pub async fn list(admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let _ = admin;
    let service = state.webhooks.clone();
    let items = blocking(&state, move || service.list()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .json(WebhookList { items }))
}

/// One webhook, with its `ETag` (never its secret).
#[utoipa::path(get, path = "/api/v1/admin/webhooks/{id}", operation_id = "getWebhook", tag = "admin-webhooks",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Id", minimum = 1)),
    responses(
        (status = 200, description = "Found", body = Webhook,
            headers(("ETag" = String, description = "Changes with every change, the dispatcher's deactivation included"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "Malformed id", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 404, description = "No such webhook", body = ErrorResponse),
    ))]
pub async fn get(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let _ = admin;
    let id = parse_id("id", &id)?;
    let service = state.webhooks.clone();
    let webhook = blocking(&state, move || service.get(id)).await?;
    if if_none_match(&req, &etag(&webhook)) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(&webhook)))
            .insert_header((header::CACHE_CONTROL, PRIVATE))
            .finish());
    }
    Ok(one(StatusCode::OK, &webhook))
}

/// Registers a webhook and answers its signing `secret` — once: no other reply ever shows it
/// (only its SHA-256 is stored). The URL's host is resolved now, and every address must be
/// public. It receives the events that happen from now on while it is active.
#[utoipa::path(post, path = "/api/v1/admin/webhooks", operation_id = "createWebhook", tag = "admin-webhooks",
    security(("bearer" = [])),
    request_body(content = NewWebhookInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Created: the webhook and its secret, shown only here", body = CreatedWebhookResponse,
            headers(("Location" = String, description = "URL of the new webhook"), ("ETag" = String, description = "Its version"))),
        (status = 400, description = "Not JSON, malformed JSON, a wrong field type or an unknown field", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 413, description = "Body over the limit", body = ErrorResponse),
        (status = 422, description = "Invalid or missing fields (`error.fields` names each): `events` missing, empty or naming an unknown type; `url` missing, not an absolute `https` URL, with credentials or a fragment, or a host that is, or resolves to, a loopback, private, link-local or unique-local address, or does not resolve", body = ErrorResponse),
    ))]
pub async fn create(
    admin: Admin,
    state: web::Data<AppState>,
    body: JsonBody<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    let (service, input, actor) = (state.webhooks.clone(), body.into_inner(), admin.name);
    let created = blocking(&state, move || service.create(input, &actor)).await?;
    let url = format!("{PATH}/{}", created.webhook.id);
    let tag = etag(&created.webhook);
    let mut response = HttpResponse::Created()
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .json(CreatedWebhookResponse::from(created));
    // The secret is never stored, not even in the reply kept for an `Idempotency-Key`: a
    // replay answers the webhook without it.
    response
        .extensions_mut()
        .insert(crate::idempotency::KeepWithout(&["secret"]));
    Ok(crate::routes::with_location(response, &url))
}

/// Changes the fields sent of a webhook (none may be `null`). A new `url` is checked as on
/// registration; deactivating drops its pending deliveries; activating gives it the events
/// from then on. The secret stays (there is no way to read or change it).
#[utoipa::path(patch, path = "/api/v1/admin/webhooks/{id}", operation_id = "updateWebhook", tag = "admin-webhooks",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Id", minimum = 1),
        ("If-Match" = Option<String>, Header, nullable = false,
            description = "`*`, or the ETag (a comma-separated list of entity tags) the change is based on; 412 when the webhook changed since",
            pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7E]*")*)$"#),
    ),
    request_body(content = WebhookInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed (never a secret)", body = Webhook,
            headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Not JSON, malformed JSON, a wrong field type or an unknown field", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 404, description = "No such webhook", body = ErrorResponse),
        (status = 409, description = "The webhook kept changing concurrently; retry", body = ErrorResponse),
        (status = 412, description = "If-Match does not match the current ETag", body = ErrorResponse),
        (status = 413, description = "Body over the limit", body = ErrorResponse),
        (status = 422, description = "Invalid values, or null for a field (none may be null): as on `POST`", body = ErrorResponse),
    ))]
pub async fn update(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("id", &id)?;
    let expected = expected::<Webhook>(&req, id);
    let (service, input, actor) = (state.webhooks.clone(), body.into_inner(), admin.name);
    let webhook = blocking(&state, move || service.update(id, input, expected, &actor)).await?;
    Ok(one(StatusCode::OK, &webhook))
}

/// Deletes a webhook with its pending deliveries and its deliveries log.
#[utoipa::path(delete, path = "/api/v1/admin/webhooks/{id}", operation_id = "deleteWebhook", tag = "admin-webhooks",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "Id", minimum = 1),
        ("If-Match" = Option<String>, Header, nullable = false,
            description = "`*`, or the ETag (a comma-separated list of entity tags) the deletion is based on; 412 when the webhook changed since",
            pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7E]*")*)$"#),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 404, description = "No such webhook", body = ErrorResponse),
        (status = 409, description = "The webhook kept changing concurrently; retry", body = ErrorResponse),
        (status = 412, description = "If-Match does not match the current ETag", body = ErrorResponse),
    ))]
pub async fn delete(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id("id", &id)?;
    let expected = expected::<Webhook>(&req, id);
    let (service, actor) = (state.webhooks.clone(), admin.name);
    blocking(&state, move || service.delete(id, expected, &actor)).await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .finish())
}

/// The webhook's deliveries log: one item per attempt, newest first. An item's `id` is what
/// `…/deliveries/{delivery_id}/redeliver` takes; `attempt` counts the attempts at that event
/// (redeliveries continue it); `status_code` is `null` when the receiver did not answer, and
/// `error` is `null` on success, else `status` (a non-2xx answer, a redirect included),
/// `timeout`, `connect` or `refused` (the target resolved to a forbidden address).
#[utoipa::path(get, path = "/api/v1/admin/webhooks/{id}/deliveries", operation_id = "listWebhookDeliveries", tag = "admin-webhooks",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The webhook's id", minimum = 1),
        ("limit" = Option<i64>, Query, description = "1–200, default 50", minimum = 1, maximum = 200),
        ("offset" = Option<i64>, Query, description = "≥ 0, default 0", minimum = 0),
    ),
    responses(
        (status = 200, description = "A page of attempts, newest first", body = DeliveryAttemptPageResponse),
        (status = 400, description = "A malformed id, or `limit` or `offset` malformed or out of range", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 404, description = "No such webhook", body = ErrorResponse),
    ))]
pub async fn deliveries(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let _ = admin;
    let id = parse_id("id", &id)?;
    let params = query(&req)?;
    let limit = params.int_in("limit", 1, MAX_DELIVERIES_PAGE, DEFAULT_DELIVERIES_PAGE)?;
    let offset = params.int_in("offset", 0, i64::MAX, 0)?;
    let service = state.webhooks.clone();
    let page = blocking(&state, move || service.deliveries(id, limit, offset)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .json(DeliveryAttemptPageResponse {
            items: page.items,
            total: page.total,
            limit,
            offset,
        }))
}

/// Delivers the event of a logged attempt again, successful or not: its delivery becomes due
/// now, signed afresh, and its attempt count continues. Accepted, not done: the outcome shows
/// in the deliveries log. The body, if any, is ignored.
#[utoipa::path(post, path = "/api/v1/admin/webhooks/{id}/deliveries/{delivery_id}/redeliver", operation_id = "redeliverWebhookDelivery", tag = "admin-webhooks",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The webhook's id", minimum = 1),
        ("delivery_id" = i64, Path, description = "The `id` of an item of its deliveries log", minimum = 1),
    ),
    responses(
        (status = 202, description = "Accepted: the dispatcher delivers the event again (no body)"),
        (status = 400, description = "A malformed id", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 404, description = "No such webhook, or no such item in its deliveries log", body = ErrorResponse),
        (status = 409, description = "The webhook is inactive (`error.details` is `{\"webhook_id\": id}`): activate it first", body = ErrorResponse,
            example = json!({"error": {"code": "conflict", "message": "webhook 3 is not active: activate it to redeliver", "request_id": "5f0c…", "details": {"webhook_id": 3}}})),
    ))]
pub async fn redeliver(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let _ = admin;
    let (id, delivery_id) = path.into_inner();
    let id = parse_id("id", &id)?;
    let delivery_id = parse_id("delivery_id", &delivery_id)?;
    let service = state.webhooks.clone();
    blocking(&state, move || service.redeliver(id, delivery_id)).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .finish())
}
