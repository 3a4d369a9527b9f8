//! HTTP handlers, one module per resource, and the response types they share.

pub mod admin;
pub mod leads;
pub mod locations;
pub mod memberships;
pub mod ops;
pub mod program_types;
pub mod schedule;
pub mod trainers;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use cohai_domain::{ClassSession, Lead, LeadEvent, Location, MembershipPlan, ProgramType, Trainer};
use serde::Serialize;
use utoipa::ToSchema;

use crate::authorize::{Access, authorize};
use crate::blocking::blocking;
use crate::caching::{body_with_etag, etag_of};
use crate::error::ApiError;
use crate::idempotency::{Clients, idempotent};
use crate::params::QueryParams;
use crate::response_cache::CachedBody;
use crate::state::AppState;

/// Declares a `{"items": [...]}` list type for `$item`.
macro_rules! list_type {
    ($name:ident, $item:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            /// The items.
            pub items: Vec<$item>,
        }
    };
}

list_type!(LocationList, Location, "Active locations.");
list_type!(ProgramTypeList, ProgramType, "Active program types.");
list_type!(TrainerList, Trainer, "Active trainers.");
list_type!(
    MembershipPlanList,
    MembershipPlan,
    "Active membership plans."
);
list_type!(ClassSessionList, ClassSession, "Class sessions.");
list_type!(LeadEventList, LeadEvent, "A lead's events, oldest first.");

/// One page of leads.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadPageResponse {
    /// The page.
    pub items: Vec<Lead>,
    /// All leads matching the filters.
    pub total: i64,
    /// Page size used.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

/// `response` (a 201) with `Location: <url>`, the address of what it created.
pub(crate) fn with_location(mut response: HttpResponse, url: &str) -> HttpResponse {
    if let Ok(location) = actix_web::http::header::HeaderValue::from_str(url) {
        response
            .headers_mut()
            .insert(actix_web::http::header::LOCATION, location);
    }
    response
}

/// Room for a typical public JSON body (a studio's week of classes is about 22 KB), so that
/// the serialiser does not grow its buffer from 128 bytes by doubling, copying each time.
const JSON_CAPACITY: usize = 16 * 1024;

/// `value` as a JSON body, serialised into a buffer of [`JSON_CAPACITY`]. A body of less than
/// half of it is returned without the unused room (bodies are kept in the response caches);
/// a larger one keeps its buffer, as `serde_json::to_vec`'s would, rather than be copied again.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(JSON_CAPACITY);
    serde_json::to_writer(&mut body, value)?;
    if body.len() < JSON_CAPACITY / 2 {
        body.shrink_to_fit();
    }
    Ok(body)
}

/// A public, cacheable JSON response: strong `ETag`, `Cache-Control`, 304 on a match.
///
/// `load` runs on the blocking pool unless a fresh copy of this path and query is in the
/// in-process cache; errors are not cached.
pub(crate) async fn public_json<T, F>(
    req: &HttpRequest,
    state: &AppState,
    load: F,
) -> Result<HttpResponse, ApiError>
where
    T: Serialize + Send + 'static,
    F: FnOnce() -> cohai_services::ServiceResult<T> + Send + 'static,
{
    public_body(req, state, "application/json", move || {
        let value = load()?;
        to_json(&value).map_err(|e| {
            cohai_services::ServiceError::Internal(format!("cannot serialise a response: {e}"))
        })
    })
    .await
}

/// A public, cacheable response of `content_type` whose bytes `load` makes (on the blocking
/// pool, unless a fresh copy of this path and query is in the in-process cache): strong
/// `ETag`, `Cache-Control`, 304 on a match. Errors are not cached.
pub(crate) async fn public_body<F>(
    req: &HttpRequest,
    state: &AppState,
    content_type: &'static str,
    load: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce() -> cohai_services::ServiceResult<Vec<u8>> + Send + 'static,
{
    let key = match req.query_string() {
        "" => req.path().to_owned(),
        query => format!("{}?{query}", req.path()),
    };
    let mut turn = None;
    let hit = match state.cache.get(&key) {
        Some(hit) => Some(hit),
        None => {
            turn = state.cache.load_turn(&key).await;
            state.cache.get(&key)
        }
    };
    let cached = match hit {
        Some(hit) => hit,
        None => {
            // Read before the load: a write that ends while it runs makes this body stale.
            let generation = state.cache.generation();
            let body = blocking(state, load).await?;
            let fresh = CachedBody {
                etag: etag_of(&body),
                body: body.into(),
            };
            state.cache.put(key, generation, fresh.clone());
            fresh
        }
    };
    drop(turn);
    Ok(body_with_etag(
        req,
        cached.body,
        content_type,
        &cached.etag,
        &format!("public, max-age={}", state.settings.cache_max_age),
    ))
}

/// The decoded query string of `req` (as the request middleware parsed and checked it).
pub(crate) fn query(req: &HttpRequest) -> Result<std::rc::Rc<QueryParams>, ApiError> {
    use actix_web::HttpMessage as _;
    if let Some(params) = req.extensions().get::<std::rc::Rc<QueryParams>>() {
        return Ok(std::rc::Rc::clone(params));
    }
    QueryParams::parse(req.query_string()).map(std::rc::Rc::new)
}

/// A resource whose handlers' panics become 500s (see [`crate::middleware::panic_guard`]).
pub(crate) fn resource(
    path: &str,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::resource(path).wrap(actix_web::middleware::from_fn(
        crate::middleware::panic_guard,
    ))
}

/// Registers the admin-only routes inside `/api/v1/admin`: the catalog, the timetable, the
/// audit log and the webhooks (managers get 403).
fn admin_catalog_routes(cfg: &mut web::ServiceConfig) {
    macro_rules! catalog {
        ($($path:literal => $module:ident),+) => {$(
            cfg.service(
                resource($path)
                    .route(web::get().to(admin::$module::list))
                    .route(web::post().to(admin::$module::create)),
            )
            .service(
                resource(concat!($path, "/{id}"))
                    .route(web::get().to(admin::$module::get))
                    .route(web::patch().to(admin::$module::update))
                    .route(web::delete().to(admin::$module::delete)),
            );
        )+};
    }
    catalog!(
        "/locations" => locations,
        "/program-types" => program_types,
        "/trainers" => trainers,
        "/memberships" => memberships,
        "/class-sessions" => class_sessions
    );
    cfg.service(resource("/audit").route(web::get().to(admin::audit::list)));
    cfg.service(
        resource("/timetable-slots")
            .route(web::get().to(admin::timetable_slots::list))
            .route(web::post().to(admin::timetable_slots::create)),
    )
    .service(
        resource("/timetable-slots/{id}")
            .route(web::get().to(admin::timetable_slots::get))
            .route(web::patch().to(admin::timetable_slots::update))
            .route(web::delete().to(admin::timetable_slots::delete)),
    )
    .service(resource("/timetable-slots/{id}/apply").route(web::post().to(admin::timetable::apply)))
    .service(resource("/timetable/generate").route(web::post().to(admin::timetable::generate)));
    cfg.service(
        resource("/webhooks")
            .route(web::get().to(admin::webhooks::list))
            .route(web::post().to(admin::webhooks::create)),
    )
    .service(
        resource("/webhooks/{id}")
            .route(web::get().to(admin::webhooks::get))
            .route(web::patch().to(admin::webhooks::update))
            .route(web::delete().to(admin::webhooks::delete)),
    )
    .service(
        resource("/webhooks/{id}/deliveries").route(web::get().to(admin::webhooks::deliveries)),
    )
    .service(
        resource("/webhooks/{id}/deliveries/{delivery_id}/redeliver")
            .route(web::post().to(admin::webhooks::redeliver)),
    );
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(leads::rate_limited_resource())
        .service(resource("/health").route(web::get().to(ops::health)))
        .service(resource("/ready").route(web::get().to(ops::ready)))
        .service(resource("/metrics").route(web::get().to(ops::metrics)))
        .service(
            web::scope("/api/v1")
                .service(resource("/test-error").route(web::get().to(ops::test_error)))
                .service(resource("/openapi.json").route(web::get().to(ops::openapi_json)))
                .service(resource("/locations").route(web::get().to(locations::list)))
                .service(resource("/locations/{id}").route(web::get().to(locations::get)))
                .service(resource("/program-types").route(web::get().to(program_types::list)))
                .service(resource("/trainers").route(web::get().to(trainers::list)))
                .service(resource("/trainers/{id}").route(web::get().to(trainers::get)))
                .service(resource("/memberships").route(web::get().to(memberships::list)))
                .service(resource("/memberships/{id}").route(web::get().to(memberships::get)))
                .service(resource("/schedule").route(web::get().to(schedule::list)))
                .service(resource("/schedule.ics").route(web::get().to(schedule::calendar)))
                .service(
                    // Each group declares who may use it (`Access`), once; the admin-only group
                    // has the empty prefix and comes last, so every other admin path is in it.
                    // Inside each group's authorisation, its POSTs take an `Idempotency-Key`
                    // (API.md §3.2; 401/403 are decided before the body is read).
                    web::scope("/admin")
                        .service(
                            web::scope("/leads")
                                .wrap(from_fn(|req, next| idempotent(Clients::Admin, req, next)))
                                .wrap(from_fn(|req, next| authorize(Access::Leads, req, next)))
                                .configure(admin_lead_routes),
                        )
                        .service(
                            web::scope("/personal-data")
                                .wrap(from_fn(|req, next| authorize(Access::Leads, req, next)))
                                .service(
                                    resource("")
                                        .route(web::get().to(admin::personal_data::personal_data)),
                                ),
                        )
                        .service(
                            web::scope("")
                                .wrap(from_fn(|req, next| idempotent(Clients::Admin, req, next)))
                                .wrap(from_fn(|req, next| authorize(Access::AdminOnly, req, next)))
                                .configure(admin_catalog_routes),
                        ),
                ),
        );
}

/// The leads CRM under `/api/v1/admin/leads` (admins and managers).
fn admin_lead_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("")
            .route(web::get().to(admin::leads::list))
            .route(web::post().to(admin::leads::create)),
    )
    // Before `/{id}`, which would take these names for ids.
    .service(resource("/export.csv").route(web::get().to(admin::lead_export::export)))
    .service(resource("/stats").route(web::get().to(admin::lead_stats::stats)))
    .service(
        resource("/{id}")
            .route(web::get().to(admin::leads::get))
            .route(web::patch().to(admin::leads::update))
            .route(web::delete().to(admin::leads::delete)),
    )
    .service(resource("/{id}/events").route(web::get().to(admin::leads::events)));
}
