//! Console sessions as the browser holds them: the cookie, the middleware that checks it on
//! every signed-in route (with the CSRF token of state-changing requests), and [`Staff`], what
//! a handler learns of the signed-in key.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use cohai_domain::Principal;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::form;
use super::page::{self, PageError};
use super::return_to;
use crate::authorize::Access;
use crate::blocking::blocking;
use crate::error::ApiError;
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cohai_console";
/// The cookie the sign-in form's CSRF token travels in (double submit: no session exists yet).
pub(super) const SIGN_IN_COOKIE: &str = "cohai_console_sign_in";
/// The form field every state-changing form carries its CSRF token in.
pub(super) const CSRF_FIELD: &str = "csrf";

/// The signed-in key, as the session middleware found it.
#[derive(Clone)]
pub(super) struct Staff {
    /// Who signed in, with the key's role and lead scope as they are configured now.
    pub principal: Principal,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
}

impl std::fmt::Debug for Staff {
    /// Never prints the CSRF token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staff")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

impl FromRequest for Staff {
    type Error = PageError;
    type Future = std::future::Ready<Result<Self, PageError>>;

    /// The [`Staff`] left by [`signed_in`]; a route outside it is a wiring mistake (500).
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let staff = req.extensions().get::<Staff>().cloned();
        std::future::ready(staff.ok_or_else(|| {
            log::error!(
                "{} was routed without the console's session middleware",
                req.match_pattern().unwrap_or_default()
            );
            ApiError::internal().into()
        }))
    }
}

/// The CSRF token of the session `token`: derived from it (so nothing more is stored), and
/// useless without the cookie, which another site can neither read nor send (`SameSite`).
pub(super) fn csrf_token(session_token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"cohai-console-csrf\0");
    hasher.update(session_token.as_bytes());
    hex::encode(hasher.finalize())
}

/// Whether a submitted CSRF token is `expected`, compared in constant time.
pub(super) fn token_matches(submitted: Option<&str>, expected: &str) -> bool {
    submitted.is_some_and(|token| bool::from(token.as_bytes().ct_eq(expected.as_bytes())))
}

/// The middleware of the signed-in routes admitting `access`. Without a valid session a
/// request is sent to the sign-in page; a key of a role the group does not admit gets 403;
/// a state-changing request must come from this site and carry the session's CSRF token in
/// its form, which is read here and left for the handler ([`form::Fields`]).
pub(super) async fn signed_in(
    access: Access,
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req.into_response(PageError::from(ApiError::internal()).render()));
    };
    let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
    let staff = match token {
        None => None,
        Some(token) => match staff_of(&state, token).await {
            Ok(staff) => staff,
            Err(error) => return Ok(req.into_response(PageError::from(error).render())),
        },
    };
    let Some(staff) = staff else {
        let cleared = req.cookie(SESSION_COOKIE).is_some();
        // A page can be opened again after signing in; a form's POST cannot be replayed.
        let from = matches!(*req.method(), Method::GET | Method::HEAD)
            .then(|| req.uri().path_and_query().map(|p| p.as_str().to_owned()))
            .flatten();
        return Ok(req.into_response(to_sign_in(cleared, from.as_deref())));
    };
    if !access.admits(staff.principal.role) {
        let refusal = page::forbidden("Этот раздел доступен только администраторам.");
        return Ok(req.into_response(refusal));
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        if !from_this_site(req.request()) {
            return Ok(
                req.into_response(page::forbidden("Запрос пришёл с другого сайта и отклонён."))
            );
        }
        let payload = req.take_payload();
        let fields = match form::read(req.request(), payload, &state).await {
            Ok(fields) => fields,
            Err(error) => return Ok(req.into_response(PageError::from(error).render())),
        };
        if !token_matches(fields.get(CSRF_FIELD), &staff.csrf) {
            return Ok(req.into_response(page::forbidden(
                "Форма устарела или отправлена не со страницы консоли. Обновите страницу и повторите.",
            )));
        }
        req.extensions_mut().insert(fields);
    }
    // The principal is what the API's handlers read (the CSV export is one of them).
    req.extensions_mut().insert(staff.principal.clone());
    req.extensions_mut().insert(staff);
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// The key of the session `token`, if the session is open and its key is still configured
/// unchanged (a removed or replaced key ends its sessions).
async fn staff_of(state: &AppState, token: String) -> Result<Option<Staff>, ApiError> {
    let sessions = state.console_sessions.clone();
    let lookup = token.clone();
    let Some(session) = blocking(state, move || sessions.find(&lookup)).await? else {
        return Ok(None);
    };
    let key = state
        .settings
        .admin_keys
        .by_name(&session.key_name)
        .filter(|key| key.fingerprint() == session.key_fingerprint);
    Ok(key.map(|key| Staff {
        principal: key.principal(),
        csrf: csrf_token(&token),
    }))
}

/// 303 to the sign-in page, which returns to `from` after signing in (when it is a console
/// page, see [`return_to`]); clears a cookie that no longer names a session.
fn to_sign_in(clear_cookie: bool, from: Option<&str>) -> HttpResponse {
    let mut response = HttpResponse::SeeOther();
    response.insert_header((header::LOCATION, return_to::sign_in_url(from)));
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if clear_cookie {
        response.cookie(removal(SESSION_COOKIE, "/admin"));
    }
    response.finish()
}

/// Whether a state-changing request comes from the console's own pages. A browser's
/// `Sec-Fetch-Site` says so directly and must be `same-origin` (or `none`: typed by the user);
/// without it (older browsers, other clients) an `Origin` must name this host. `Origin: null`
/// alone is refused, but beside `Sec-Fetch-Site: same-origin` it is what Chromium sends for
/// our own forms under `Referrer-Policy: no-referrer`. The CSRF token is checked in any case.
pub(super) fn from_this_site(req: &HttpRequest) -> bool {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match header("origin") {
        None => true,
        Some(origin) => {
            let origin_host = origin.split_once("://").map(|(_, host)| host);
            origin_host.is_some() && origin_host == header("host")
        }
    }
}

/// Whether the request was addressed to this machine itself (`localhost`, `127.0.0.1`,
/// `[::1]`) over plain HTTP: the only case in which the session cookie goes without `Secure`,
/// so that the console works on a developer's machine. A proxy in front that says the client
/// spoke HTTPS (`X-Forwarded-Proto: https`, as nginx and Caddy send it) keeps `Secure` even
/// when it rewrites `Host` to a loopback address.
pub(super) fn on_loopback(req: &HttpRequest) -> bool {
    let forwarded_https = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    !forwarded_https && addressed_to_loopback(req)
}

fn addressed_to_loopback(req: &HttpRequest) -> bool {
    let Some(host) = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The session cookie of `token`, expiring with the session.
pub(super) fn session_cookie(
    req: &HttpRequest,
    token: String,
    expires_at: DateTime<Utc>,
) -> Cookie<'static> {
    let seconds = (expires_at - Utc::now()).num_seconds().max(0);
    Cookie::build(SESSION_COOKIE, token)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(!on_loopback(req))
        .max_age(actix_web::cookie::time::Duration::seconds(seconds))
        .finish()
}

/// The sign-in form's CSRF cookie (valid for an hour, sent only to the sign-in page).
pub(super) fn sign_in_cookie(req: &HttpRequest, token: String) -> Cookie<'static> {
    Cookie::build(SIGN_IN_COOKIE, token)
        .path("/admin/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(!on_loopback(req))
        .max_age(actix_web::cookie::time::Duration::hours(1))
        .finish()
}

/// A cookie that deletes the cookie `name` of `path`.
pub(super) fn removal(name: &'static str, path: &'static str) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, "")
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    cookie.make_removal();
    cookie
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_csrf_token_is_tied_to_the_session_and_compared_exactly() {
        let token = csrf_token("a".repeat(64).as_str());
        assert_eq!(token.len(), 64);
        assert_ne!(token, csrf_token("b".repeat(64).as_str()));
        assert!(token_matches(Some(&token), &token));
        assert!(!token_matches(Some(&token[..63]), &token));
        assert!(!token_matches(Some(""), &token));
        assert!(!token_matches(None, &token));
    }

    #[test]
    fn only_requests_addressed_to_this_machine_count_as_loopback() {
        let on = |host: &str| {
            on_loopback(
                &TestRequest::default()
                    .insert_header((header::HOST, host))
                    .to_http_request(),
            )
        };
        assert!(on("127.0.0.1:8080"));
        assert!(on("localhost"));
        assert!(on("[::1]:8080"));
        assert!(!on("crm.cohai.example"));
        assert!(!on("10.0.0.5:8080"));
        assert!(!on("127.0.0.1.evil.example"));
        assert!(!on_loopback(&TestRequest::default().to_http_request()));
        let proxied = TestRequest::default()
            .insert_header((header::HOST, "127.0.0.1:8080"))
            .insert_header(("x-forwarded-proto", "https"))
            .to_http_request();
        assert!(!on_loopback(&proxied), "HTTPS at the proxy keeps Secure");
    }

    #[test]
    fn a_request_from_another_site_is_refused() {
        let request = |headers: &[(&str, &str)]| {
            let mut req = TestRequest::post().insert_header((header::HOST, "crm.example"));
            for (name, value) in headers {
                req = req.insert_header((*name, *value));
            }
            from_this_site(&req.to_http_request())
        };
        assert!(request(&[]));
        assert!(request(&[
            ("origin", "https://crm.example"),
            ("sec-fetch-site", "same-origin")
        ]));
        assert!(!request(&[("origin", "https://evil.example")]));
        assert!(!request(&[("origin", "null")]));
        // Chromium's same-origin form post under `Referrer-Policy: no-referrer`.
        assert!(request(&[
            ("origin", "null"),
            ("sec-fetch-site", "same-origin")
        ]));
        assert!(!request(&[
            ("origin", "https://crm.example"),
            ("sec-fetch-site", "cross-site")
        ]));
        assert!(!request(&[("sec-fetch-site", "cross-site")]));
        assert!(!request(&[("sec-fetch-site", "same-site")]));
    }

    #[test]
    fn the_session_cookie_is_http_only_strict_and_secure_off_loopback() {
        let req = TestRequest::default()
            .insert_header((header::HOST, "crm.example"))
            .to_http_request();
        let cookie = session_cookie(&req, "t".into(), Utc::now() + chrono::Duration::hours(1));
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.same_site(), Some(SameSite::Strict));
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.path(), Some("/admin"));
        assert!(
            cookie
                .max_age()
                .is_some_and(|age| age.whole_seconds() > 3500)
        );
        let local = TestRequest::default()
            .insert_header((header::HOST, "127.0.0.1:8080"))
            .to_http_request();
        let cookie = session_cookie(&local, "t".into(), Utc::now() + chrono::Duration::hours(1));
        assert_eq!(cookie.secure(), Some(false));
    }
}
