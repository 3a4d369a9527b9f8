//! The HTTP layer of the Cohai Stretching backend (actix-web).
//!
//! It sees only the service traits and domain types: the server binary builds the services
//! and hands them over in an [`AppState`]. [`app`] builds the whole application, so that the
//! server and the tests run exactly the same thing.

pub mod auth;
pub mod authorize;
pub mod blocking;
pub mod body;
pub mod caching;
pub mod console;
pub mod error;
pub mod i18n;
pub mod ics;
pub mod idempotency;
pub mod lead_csv;
pub mod lead_list_cache;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod params;
pub mod rate_limit;
pub mod response_cache;
pub mod routes;
pub mod state;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::{App, HttpResponse, web};
use utoipa_swagger_ui::{Config, SwaggerUi};

pub use auth::{AdminKey, AdminKeys};
pub use error::ApiError;
pub use metrics::Metrics;
pub use state::{AppState, WebSettings};

/// The application: routes, documentation, and the middleware that every response passes.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let body_limit = state.settings.body_limit;
    let cors = cors(&state.settings.cors_origins);
    App::new()
        .app_data(state)
        .app_data(web::PayloadConfig::new(body_limit))
        .configure(routes::configure)
        .configure(console::configure)
        .service(web::resource("/docs").route(web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, "/docs/"))
                .finish()
        })))
        .service(SwaggerUi::new("/docs/{_:.*}").config(Config::new(["/api/v1/openapi.json"])))
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(ApiError::not_found("no such resource"))
        }))
        .wrap(cors)
        .wrap(actix_web::middleware::from_fn(middleware::request_context))
}

/// CORS for the website: only the configured origins, the API's methods and headers.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            middleware::REQUEST_ID_HEADER,
            idempotency::IDEMPOTENCY_KEY,
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            middleware::REQUEST_ID_HEADER,
            idempotency::IDEMPOTENT_REPLAYED,
        ])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}
