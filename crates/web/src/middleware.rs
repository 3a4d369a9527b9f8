//! The request middleware: request id, panic guard, error shape, security headers,
//! access log and metrics — everything that must hold for every response.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use futures_util::FutureExt;

use crate::body::UnreadBody;
use crate::error::ApiError;
use crate::i18n::{self, Language};
use crate::params::QueryParams;
use crate::state::AppState;

/// The request's id, as stored in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Header carrying the request id both ways.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied request id that is kept.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The client's request id when it is a sane token (it is logged, so no control characters
/// or spaces); otherwise a new one.
fn request_id_for(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= MAX_REQUEST_ID_LEN
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
        })
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned)
}

/// Turns a panic in a handler into a 500 in the contract's shape (via [`request_context`]).
///
/// Installed on each resource rather than the app: the request may only be cloned after
/// routing, and the clone is what a response for a panicked handler is built from.
pub async fn panic_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let http_req = req.request().clone();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(result) => result.map(ServiceResponse::map_into_boxed_body),
        Err(_panic) => {
            log::error!(
                "handler panicked: {} {}",
                http_req.method(),
                http_req.path()
            );
            Ok(ServiceResponse::from_err(ApiError::internal(), http_req))
        }
    }
}

/// An error body that keeps a request's unread payload alive until it is written, so actix
/// closes the connection after it rather than waiting for the rest (see [`UnreadBody`]).
struct HoldingBody {
    bytes: Option<actix_web::web::Bytes>,
    _unread: UnreadBody,
}

impl MessageBody for HoldingBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> actix_web::body::BodySize {
        actix_web::body::BodySize::Sized(self.bytes.as_ref().map_or(0, |b| b.len() as u64))
    }

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<actix_web::web::Bytes, Self::Error>>> {
        std::task::Poll::Ready(self.bytes.take().map(Ok))
    }
}

/// A refused cross-origin request (actix-cors reports it as a bare 400): 403 in the contract's
/// shape, saying what was refused.
fn cors_refusal(error: &actix_cors::CorsError) -> ApiError {
    use actix_cors::CorsError;
    ApiError::forbidden(match error {
        CorsError::OriginNotAllowed => "this origin is not allowed to call the API",
        CorsError::MethodNotAllowed => "this method is not allowed from another origin",
        CorsError::HeadersNotAllowed | CorsError::BadRequestHeaders => {
            "these request headers are not allowed from another origin"
        }
        _ => "this cross-origin request is not allowed",
    })
}

/// Adds `HEAD` to a 405's `Allow` wherever `GET` is allowed (HEAD is routed as GET).
fn allow_head_with_get(headers: &mut actix_web::http::header::HeaderMap) {
    let Some(allow) = headers.get(header::ALLOW).and_then(|v| v.to_str().ok()) else {
        return;
    };
    let methods: Vec<&str> = allow.split(',').map(str::trim).collect();
    if methods.contains(&"GET")
        && !methods.contains(&"HEAD")
        && let Ok(value) = HeaderValue::from_str(&format!("{allow}, HEAD"))
    {
        headers.insert(header::ALLOW, value);
    }
}

/// Adds `Accept-Language` to `Vary` (keeping what is there, e.g. CORS's `Origin`): an error
/// body's language depends on it.
fn vary_on_language(headers: &mut actix_web::http::header::HeaderMap) {
    let present: Vec<String> = headers
        .get_all(header::VARY)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    if present
        .iter()
        .any(|v| v == "*" || v.eq_ignore_ascii_case("accept-language"))
    {
        return;
    }
    let value = present
        .into_iter()
        .chain(["Accept-Language".to_owned()])
        .collect::<Vec<_>>()
        .join(", ");
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(header::VARY, value);
    }
}

/// Content-Security-Policy for JSON responses: nothing may be loaded or framed.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// Content-Security-Policy for the Swagger UI, which is served from this origin only.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
     script-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

tokio::task_local! {
    /// The id of the request being handled, for what renders an answer without the request
    /// at hand (the console's error pages, from `ResponseError::error_response`).
    static CURRENT_REQUEST_ID: String;
}

/// The id of the request whose handling is running now (inside [`request_context`]).
pub(crate) fn current_request_id() -> Option<String> {
    CURRENT_REQUEST_ID.try_with(String::clone).ok()
}

/// Wraps every request; see the module docs.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let mut req = req;
    let request_id = request_id_for(&req);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().clone();
    let path = req.path().to_owned();

    // Every GET route answers HEAD (RFC 9110 §9.3.2): routed as a GET; the HTTP codec,
    // which saw the HEAD, sends the headers without the body.
    if method == Method::HEAD {
        req.head_mut().method = Method::GET;
    }

    // Rules for every query string (API.md §1), before any handler sees it: a parameter given
    // twice, or with control characters, is a 400 naming it.
    // The parsed parameters are kept for the handler (`routes::query`): parsed once.
    let rejected = match req.query_string() {
        "" => None,
        query => match QueryParams::parse(query) {
            Ok(params) => {
                req.extensions_mut().insert(std::rc::Rc::new(params));
                None
            }
            Err(error) => Some(error),
        },
    };
    let mut res = match rejected {
        Some(error) => req.error_response(error),
        // Handlers' errors arrive as responses; an `Err` here comes from a middleware and is
        // rendered by actix itself (the request cannot be cloned before routing, see
        // `panic_guard`).
        // Inside the scope from the first line of the next service's `call` on.
        None => CURRENT_REQUEST_ID
            .scope(request_id.clone(), async move { next.call(req).await })
            .await?
            .map_into_boxed_body(),
    };

    let mut status = res.status();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        allow_head_with_get(res.headers_mut());
    }
    // The console's pages answer their errors in HTML, for people; everything else (and a
    // console request whose body did not arrive in time, which must keep its unread rest
    // until the answer is written, see `HoldingBody`) in the contract's JSON shape.
    let console_page = crate::console::is_console_path(&path)
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"))
        && !res.request().extensions().contains::<UnreadBody>();
    if (status.is_client_error() || status.is_server_error()) && !console_page {
        let error = res
            .response()
            .error()
            .and_then(|e| {
                e.as_error::<ApiError>()
                    .cloned()
                    .or_else(|| e.as_error::<actix_cors::CorsError>().map(cors_refusal))
            })
            .unwrap_or_else(|| ApiError::for_status(status));
        status = error.status;
        *res.response_mut().status_mut() = status;
        // The message in the client's language (API.md §1, issue 16). It is chosen here, as
        // the body is written, so nothing cached before this point (no error is) can carry
        // another client's language; `Vary` tells HTTP caches the body depends on it.
        let language = Language::of_headers(res.request().headers());
        let error = i18n::localise(&error, language);
        // Strings and string-keyed maps only: serialising cannot fail, but if it ever did the
        // client still gets the contract's shape and the log says why.
        let body = serde_json::to_string(&error.body(&request_id)).unwrap_or_else(|e| {
            log::error!("cannot serialise an error body: {e}");
            format!(
                r#"{{"error":{{"code":"internal","message":"internal server error","request_id":"{request_id}"}}}}"#
            )
        });
        let unread = res.request().extensions_mut().remove::<UnreadBody>();
        res = res.map_body(|head, _| {
            head.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            head.headers_mut().insert(
                header::CONTENT_LANGUAGE,
                HeaderValue::from_static(language.tag()),
            );
            vary_on_language(head.headers_mut());
            match unread {
                Some(unread) => BoxBody::new(HoldingBody {
                    bytes: Some(body.into()),
                    _unread: unread,
                }),
                None => BoxBody::new(body),
            }
        });
    }

    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let csp = if path.starts_with("/docs") {
        DOCS_CSP
    } else if crate::console::is_console_path(&path) {
        crate::console::CSP
    } else {
        API_CSP
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );

    let elapsed = started.elapsed();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
        state
            .metrics
            .observe_request(&method, &route, status.as_u16(), elapsed.as_secs_f64());
    }
    // Path only: query strings can hold personal data (the admin search `q`).
    log::info!(
        target: "cohai::access",
        "{} {path} {} {:.1}ms rid={request_id}",
        crate::metrics::method_label(&method),
        status.as_u16(),
        elapsed.as_secs_f64() * 1000.0
    );
    Ok(res)
}
