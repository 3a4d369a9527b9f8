//! The managers' console: a small server-rendered web app at `/admin/` for working leads, the
//! week's timetable and the funnel, in Russian.
//!
//! - Plain HTML forms, no JavaScript: the Content-Security-Policy ([`CSP`]) allows no script
//!   at all, styles only from this origin; every value is escaped by `maud`.
//! - Signing in exchanges an admin key for a session ([`session`]): an `HttpOnly`,
//!   `SameSite=Strict` cookie holding a random token; the server keeps only its hash
//!   (`console_sessions`), so signing out ends it on every instance. The key is never stored.
//! - The key's role and lead scope apply exactly as in the JSON API: the pages call the same
//!   services with the same [`cohai_domain::Principal`]; which role a route admits is declared
//!   in the route table below ([`Access`]).
//! - Every state-changing request carries the session's CSRF token in its form, checked by the
//!   session middleware before any handler runs (a route cannot forget it), and must not come
//!   from another site (`Origin`, `Sec-Fetch-Site`).
//! - Changes of a lead or a class send the version the form was rendered from: a stale one is
//!   shown as a conflict instead of overwriting someone else's change.

mod card;
mod chart;
mod form;
mod inbox;
mod labels;
mod layout;
mod login;
mod names;
mod page;
mod return_to;
mod session;
mod stats;
mod timetable;

use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};

use crate::authorize::Access;
use crate::routes::resource;

pub use session::SESSION_COOKIE;

/// Content-Security-Policy of the console's pages: no script, no plugin, no frame; styles and
/// images from this origin only; forms post only here.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Whether `path` is one of the console's (they render their own HTML errors).
pub fn is_console_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// The stylesheet and the icon, compiled into the binary (nothing is fetched at run time).
const STYLESHEET: &str = include_str!("console.css");
const ICON: &str = include_str!("icon.svg");

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

fn redirect(to: &'static str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// Registers the console's routes. Which roles each group admits is declared here, once.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/admin").route(web::get().to(|| async { redirect("/admin/") })))
        .service(
            web::scope("/admin")
                .service(resource("/").route(web::get().to(|| async { redirect("/admin/leads") })))
                .service(resource("/static/console.css").route(
                    web::get().to(|| async { asset("text/css; charset=utf-8", STYLESHEET) }),
                ))
                .service(
                    resource("/static/icon.svg")
                        .route(web::get().to(|| async { asset("image/svg+xml", ICON) })),
                )
                .service(
                    resource("/login")
                        .route(web::get().to(login::form))
                        .route(web::post().to(login::sign_in)),
                )
                .service(
                    web::scope("/timetable")
                        .wrap(from_fn(|req, next| {
                            session::signed_in(Access::AdminOnly, req, next)
                        }))
                        .service(resource("").route(web::get().to(timetable::week)))
                        .service(
                            resource("/sessions/{id}").route(web::get().to(timetable::session)),
                        )
                        .service(
                            resource("/sessions/{id}/cancel")
                                .route(web::post().to(timetable::cancel)),
                        ),
                )
                .service(
                    web::scope("")
                        .wrap(from_fn(|req, next| {
                            session::signed_in(Access::Leads, req, next)
                        }))
                        .service(resource("/logout").route(web::post().to(login::sign_out)))
                        .service(resource("/leads").route(web::get().to(inbox::page)))
                        // The API's export, answered for the session's key (the same handler).
                        .service(
                            resource("/leads/export.csv")
                                .route(web::get().to(crate::routes::admin::lead_export::export)),
                        )
                        .service(
                            resource("/leads/{id}")
                                .route(web::get().to(card::page))
                                .route(web::post().to(card::save)),
                        )
                        .service(resource("/stats").route(web::get().to(stats::page))),
                ),
        );
}
