//! `Idempotency-Key` on `POST` (API.md §3.2), as one middleware that the route table puts on
//! the public lead form and on every admin route group (see [`crate::routes::configure`]).
//!
//! - Without the header, or on another method, the request passes untouched: no database work
//!   (the lead form is the hot path).
//! - With it: the key must be 1–255 visible ASCII characters (else 400 `invalid_parameter`);
//!   the body is read (with the body limit and read deadline of every body: 413, 408) and
//!   hashed (SHA-256 of the exact bytes); the key is presented to
//!   [`cohai_services::IdempotencyService::begin`] (on the blocking pool), and:
//!   - reserved for this request: the handler runs on the same bytes; a 2xx reply is kept
//!     (status, body and the headers in [`KEPT_HEADERS`]), any other reply frees the key;
//!     while the handler runs, the reservation's lease is renewed;
//!   - kept for the same body: the kept reply, plus `Idempotent-Replayed: true`;
//!   - held for another body: 422 `idempotency_key_reused`;
//!   - in progress: 409 `conflict`.
//!
//! The client a key belongs to is the admin key's name inside an admin route group — this
//! middleware sits *inside* the group's authorisation, so 401 and 403 are decided before the
//! body is read — and the client IP as the rate limiter determines it on the public form
//! (where the rate limiter runs first, so replays count towards the limit).
//!
//! What a crash between the handler's commit and the keeping of its reply leaves is described
//! in [`cohai_services::idempotency`].

use std::future::Future;
use std::pin::pin;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use chrono::Utc;
use cohai_domain::Principal;
use cohai_domain::idempotency::{
    Begin, IdempotencyScope, IdempotentRequest, KeptReply, LEASE, MAX_CLIENT_LEN, MAX_KEY_LEN,
    Reservation, ScopeError,
};
use futures_util::future::{Either, select};
use sha2::{Digest, Sha256};

use crate::blocking::blocking;
use crate::body::read_body;
use crate::error::ApiError;
use crate::state::AppState;

/// The request header carrying the client's key.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The response header marking a kept reply sent again.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The reply headers kept and replayed with the status and body; the rest (request id,
/// security headers) is the replaying request's own.
pub const KEPT_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::LOCATION,
    header::ETAG,
    header::CACHE_CONTROL,
];

/// Whose keys a route group's requests present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clients {
    /// The admin key that the group's authorisation admitted (`admin:<key name>`).
    Admin,
    /// The client IP, trusted proxies believed as the rate limiter does (`ip:<address>`).
    Public,
}

/// The middleware (see the module docs): wrap a route group with
/// `.wrap(from_fn(|req, next| idempotent(Clients::Admin, req, next)))`, inside its
/// authorisation (an admin group) or its rate limiter (the public form).
pub async fn idempotent(
    clients: Clients,
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() != Method::POST || !req.headers().contains_key(&IDEMPOTENCY_KEY) {
        return pass(req, next).await;
    }
    let key = match key_of(&req) {
        Ok(key) => key,
        Err(error) => return Ok(req.error_response(error)),
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        log::error!("the idempotency middleware runs in an app without AppState");
        return Ok(req.error_response(ApiError::internal()));
    };
    // No admin principal: the group has no authorisation in front of this middleware (a
    // wiring mistake); its route answers as without the header.
    let Some(client) = client_of(clients, &req, &state) else {
        return pass(req, next).await;
    };
    let scope = match IdempotencyScope::new(client, format!("POST {}", req.path()), key) {
        Ok(scope) => scope,
        // A path longer than any route's: the router answers 404.
        Err(ScopeError::TooLong) => return pass(req, next).await,
        Err(ScopeError::InvalidKey) => return Ok(req.error_response(invalid_key())),
    };

    let (limit, deadline) = (state.settings.body_limit, state.settings.body_read_timeout);
    let (http_req, payload) = req.parts_mut();
    let body = match read_body(http_req, payload.take(), limit, deadline).await {
        Ok(body) => body.freeze(),
        Err(error) => return Ok(req.error_response(error)),
    };
    let request = IdempotentRequest {
        scope,
        body_sha256: hex::encode(Sha256::digest(&body)),
    };
    let service = state.idempotency.clone();
    let begun = blocking(&state, move || service.begin(&request, Utc::now())).await;
    match begun {
        Err(error) => Ok(req.error_response(error)),
        Ok(Begin::InProgress) => Ok(req.error_response(ApiError::idempotency_key_in_progress())),
        Ok(Begin::Mismatch) => Ok(req.error_response(ApiError::idempotency_key_reused())),
        Ok(Begin::Replay(kept)) => Ok(replay(req, kept)),
        Ok(Begin::Started(reservation)) => {
            req.set_payload(Payload::from(body));
            let handled = renewing(&state, &reservation, next.call(req)).await;
            finish(&state, reservation, handled).await
        }
    }
}

/// The request, untouched.
async fn pass(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    Ok(next.call(req).await?.map_into_boxed_body())
}

fn invalid_key() -> ApiError {
    ApiError::invalid_parameter(
        "Idempotency-Key",
        "must be 1 to 255 visible ASCII characters, given once",
    )
}

/// The request's one `Idempotency-Key`, checked.
fn key_of(req: &ServiceRequest) -> Result<String, ApiError> {
    let mut values = req.headers().get_all(&IDEMPOTENCY_KEY);
    match (values.next(), values.next()) {
        (Some(value), None) if cohai_domain::idempotency::is_valid_key(value.as_bytes()) => {
            value.to_str().map(str::to_owned).map_err(|_| invalid_key())
        }
        _ => Err(invalid_key()),
    }
}

/// Who presents the key: see [`Clients`]; `None` for an admin group without a principal.
fn client_of(clients: Clients, req: &ServiceRequest, state: &AppState) -> Option<String> {
    match clients {
        Clients::Admin => {
            let extensions = req.extensions();
            let name = &extensions.get::<Principal>()?.name;
            let client = format!("admin:{name}");
            // Key names are configuration, unbounded: an absurdly long one is stored by digest.
            Some(if client.len() <= MAX_CLIENT_LEN {
                client
            } else {
                format!(
                    "admin-sha256:{}",
                    hex::encode(Sha256::digest(name.as_bytes()))
                )
            })
        }
        Clients::Public => {
            let ip =
                crate::rate_limit::ClientIp::new(state.settings.trusted_proxies.clone()).of(req);
            Some(format!("ip:{ip}"))
        }
    }
}

/// Runs the handler, renewing the reservation's lease every third of [`LEASE`] until it is
/// done, so a request slower than the lease is not taken over while it runs.
async fn renewing<T>(
    state: &AppState,
    reservation: &Reservation,
    work: impl Future<Output = T>,
) -> T {
    let every = (LEASE / 3)
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(20));
    let mut work = pin!(work);
    loop {
        let tick = pin!(actix_web::rt::time::sleep(every));
        match select(work.as_mut(), tick).await {
            Either::Left((done, _)) => return done,
            Either::Right(((), _)) => {
                let (service, held) = (state.idempotency.clone(), reservation.clone());
                match blocking(state, move || service.renew(&held, Utc::now())).await {
                    Ok(true) => {}
                    Ok(false) => {
                        log::warn!("an idempotency reservation was lost while its request ran")
                    }
                    Err(error) => log::warn!("cannot renew an idempotency reservation: {error}"),
                }
            }
        }
    }
}

/// Put in a reply's extensions by a handler whose reply holds a secret: the reply kept for
/// its `Idempotency-Key` (and so a replay) leaves out these top-level fields, so the secret
/// is never stored (a webhook's `secret`).
#[derive(Debug, Clone, Copy)]
pub struct KeepWithout(pub &'static [&'static str]);

/// `text` without the top-level `fields` of its JSON object.
fn without_fields(text: String, fields: &[&str]) -> String {
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(mut object)) => {
            for field in fields {
                object.remove(*field);
            }
            serde_json::Value::Object(object).to_string()
        }
        _ => text,
    }
}

/// After the handler: keeps a 2xx reply, frees the key otherwise; the reply goes out as the
/// handler made it.
async fn finish(
    state: &AppState,
    reservation: Reservation,
    handled: Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = match handled {
        Ok(res) if res.status().is_success() => res,
        other => {
            release(state, reservation).await;
            return other.map(ServiceResponse::map_into_boxed_body);
        }
    };
    let (http_req, response) = res.into_parts();
    let (head, body) = response.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            log::error!("cannot read a reply to keep it for its Idempotency-Key");
            release(state, reservation).await;
            return Ok(ServiceResponse::from_err(ApiError::internal(), http_req));
        }
    };
    let keep_without = head.extensions().get::<KeepWithout>().copied();
    match String::from_utf8(bytes.to_vec()) {
        Ok(text) => {
            let kept = KeptReply {
                status: head.status().as_u16(),
                headers: kept_headers(head.headers()),
                body: match keep_without {
                    Some(KeepWithout(fields)) => without_fields(text, fields),
                    None => text,
                },
            };
            let service = state.idempotency.clone();
            match blocking(state, move || {
                service.complete(&reservation, &kept, Utc::now())
            })
            .await
            {
                Ok(true) => {}
                Ok(false) => log::warn!(
                    "an idempotency reservation was taken over before its reply was kept"
                ),
                // The work is done and its reply goes out; the key stays reserved until its
                // lease runs out (see `cohai_services::idempotency`).
                Err(error) => log::error!("cannot keep a reply for its Idempotency-Key: {error}"),
            }
        }
        Err(_) => {
            log::warn!("a 2xx reply that is not UTF-8 is not kept for its Idempotency-Key");
            release(state, reservation).await;
        }
    }
    Ok(ServiceResponse::new(
        http_req,
        head.set_body(BoxBody::new(bytes)),
    ))
}

/// Frees the key of a request that did not succeed; a failure only means the key stays
/// reserved until its lease runs out.
async fn release(state: &AppState, reservation: Reservation) {
    let service = state.idempotency.clone();
    if let Err(error) = blocking(state, move || service.release(&reservation)).await {
        log::warn!("cannot free an Idempotency-Key after a failed request: {error}");
    }
}

/// The headers of `headers` that are kept (see [`KEPT_HEADERS`]).
fn kept_headers(headers: &header::HeaderMap) -> Vec<(String, String)> {
    KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(name)?.to_str().ok()?;
            Some((name.as_str().to_owned(), value.to_owned()))
        })
        .collect()
}

/// The kept reply, marked as a replay.
fn replay(req: ServiceRequest, kept: KeptReply) -> ServiceResponse<BoxBody> {
    let Ok(status) = StatusCode::from_u16(kept.status) else {
        log::error!("a kept reply has the status {}", kept.status);
        return req.error_response(ApiError::internal());
    };
    let mut response = HttpResponse::build(status);
    for (name, value) in &kept.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.insert_header((name, value));
        }
    }
    response.insert_header((IDEMPOTENT_REPLAYED, HeaderValue::from_static("true")));
    req.into_response(response.body(kept.body))
}

/// Documents §3.2 on every operation the middleware serves, so a new `POST` under the
/// admin paths gets it without a word in its annotation: the `Idempotency-Key` parameter, the
/// `Idempotent-Replayed` header on its 2xx replies, the 400 for a malformed key, the 409 while
/// a request with the key is in progress and the 422 `idempotency_key_reused`.
pub struct IdempotencyDocs;

/// Whether the middleware serves `method path` (see [`crate::routes::configure`]).
fn documented(path: &str) -> bool {
    path == "/api/v1/leads" || path.starts_with("/api/v1/admin/")
}

impl utoipa::Modify for IdempotencyDocs {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::{Content, HeaderBuilder, Ref, RefOr, Required, ResponseBuilder};

        let key = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "1–255 visible ASCII characters. The first request with a key is processed and \
                 its 2xx reply kept for 24 hours (per admin key, or per client IP on the public \
                 form, and per method and path); a repeat with the byte-identical body gets \
                 the kept reply with `Idempotent-Replayed: true` and changes nothing. Replies \
                 other than 2xx are not kept: the request may be retried with the key.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(MAX_KEY_LEN))
                    .pattern(Some(r"^[\x21-\x7E]{1,255}$")),
            ))
            .build();
        let replayed = HeaderBuilder::new()
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["true"])),
            ))
            .description(Some(
                "`true` when this is the kept reply of an earlier request with the same \
                 Idempotency-Key; absent on the first reply",
            ))
            .build();
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    Content::new(Some(Ref::from_schema_name("ErrorResponse"))),
                )
                .build()
        };
        let additions = [
            (
                "400",
                "or a malformed `Idempotency-Key` (`invalid_parameter`)",
            ),
            (
                "409",
                "or a request with the same `Idempotency-Key` is still in progress (`conflict`); \
                 retry later",
            ),
            (
                "422",
                "or `idempotency_key_reused`: the `Idempotency-Key` was used with another body",
            ),
        ];
        for (path, item) in openapi.paths.paths.iter_mut() {
            let Some(operation) = item.post.as_mut().filter(|_| documented(path)) else {
                continue;
            };
            operation
                .parameters
                .get_or_insert_with(Vec::new)
                .push(RefOr::T(key.clone()));
            let responses = &mut operation.responses.responses;
            for (status, response) in responses.iter_mut() {
                if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
                    response
                        .headers
                        .insert("Idempotent-Replayed".to_owned(), RefOr::T(replayed.clone()));
                }
            }
            for (status, addition) in additions {
                match responses.get_mut(status) {
                    Some(RefOr::T(response)) => {
                        response.description = format!("{}; {addition}", response.description);
                    }
                    Some(RefOr::Ref(_)) => {}
                    None => {
                        let first = addition.trim_start_matches("or ");
                        let mut text = first.to_owned();
                        if let Some(c) = text.get_mut(0..1) {
                            c.make_ascii_uppercase();
                        }
                        responses.insert(status.to_owned(), RefOr::T(error(&text)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_reply_leaves_out_the_fields_named_by_the_handler() {
        let kept = without_fields(
            r#"{"id":1,"secret":"whsec_x","url":"u"}"#.to_owned(),
            &["secret"],
        );
        assert_eq!(kept, r#"{"id":1,"url":"u"}"#);
        assert_eq!(
            without_fields("not json".to_owned(), &["secret"]),
            "not json"
        );
    }

    #[test]
    fn only_the_listed_headers_are_kept() {
        let mut headers = header::HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            header::LOCATION,
            HeaderValue::from_static("/api/v1/admin/leads/7"),
        );
        headers.insert(
            HeaderName::from_static("x-request-id"),
            HeaderValue::from_static("r1"),
        );
        assert_eq!(
            kept_headers(&headers),
            vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("location".to_owned(), "/api/v1/admin/leads/7".to_owned()),
            ]
        );
    }

    #[test]
    fn a_key_is_read_once_and_checked() {
        let req = |values: &[&str]| {
            let mut r = actix_web::test::TestRequest::post();
            for v in values {
                r = r.append_header((IDEMPOTENCY_KEY, *v));
            }
            r.to_srv_request()
        };
        assert_eq!(key_of(&req(&["abc-1"])).ok().as_deref(), Some("abc-1"));
        for bad in [&["a b"][..], &["a", "b"], &[&"k".repeat(256)]] {
            let e = key_of(&req(bad)).expect_err("refused");
            assert_eq!((e.status.as_u16(), e.code), (400, "invalid_parameter"));
            let parameter = e.details.as_ref().and_then(|d| d.get("parameter"));
            assert_eq!(parameter, Some(&serde_json::json!("Idempotency-Key")));
        }
    }
}
