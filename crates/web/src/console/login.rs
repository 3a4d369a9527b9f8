//! Signing in (an admin key exchanged for a session cookie) and out.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

use super::form::{self, Fields};
use super::layout;
use super::page::{self, PageError, PageResult};
use super::return_to;
use super::session::{
    self, CSRF_FIELD, SESSION_COOKIE, SIGN_IN_COOKIE, Staff, session_cookie, sign_in_cookie,
    token_matches,
};
use crate::blocking::blocking;
use crate::rate_limit::{self, ClientIp};
use crate::state::AppState;

/// The sign-in page, with `alert` when the last attempt failed; it returns to `next` (a
/// page [`return_to::page`] follows) after signing in.
fn sign_in_page(
    status: StatusCode,
    csrf: &str,
    alert: Option<&str>,
    next: Option<&str>,
) -> HttpResponse {
    let body = html! {
        @if let Some(alert) = alert {
            p.alert role="alert" { (alert) }
        }
        form.card method="post" action="/admin/login" {
            input type="hidden" name=(CSRF_FIELD) value=(csrf);
            @if let Some(next) = next {
                input type="hidden" name=(return_to::FIELD) value=(next);
            }
            label for="key" { "Ключ доступа" }
            input #key type="password" name="key" required autocomplete="off"
                autofocus spellcheck="false";
            p.hint { "Ключ выдаёт администратор сети. Он не сохраняется в браузере: после входа браузер хранит только сессию." }
            button type="submit" { "Войти" }
        }
    };
    page::html(status, layout::bare("Вход в консоль", body))
}

/// A fresh token for the sign-in form's double-submit cookie (122 random bits).
fn sign_in_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `GET /admin/login[?next=…]`: the sign-in form, with a fresh CSRF token in a cookie of its
/// own, returning to the console page `next` names.
pub(super) async fn form(req: HttpRequest) -> HttpResponse {
    let csrf = sign_in_token();
    // Parsed and checked once by the request middleware (a malformed query is a 400 there).
    let params = crate::routes::query(&req).ok();
    let next = params
        .as_deref()
        .and_then(|params| params.get(return_to::FIELD))
        .and_then(return_to::page);
    let mut response = sign_in_page(StatusCode::OK, &csrf, None, next);
    // Built from a constant name and a hex token: cannot fail.
    let _ = response.add_cookie(&sign_in_cookie(&req, csrf));
    response
}

/// `POST /admin/login`: a configured key opens a session; anything else answers 401 and the
/// form again. The form must come from this site and carry the token of its cookie.
pub(super) async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> PageResult {
    let fields: Fields = form::read(&req, payload.into_inner(), &state).await?;
    let expected = req.cookie(SIGN_IN_COOKIE).map(|c| c.value().to_owned());
    let genuine = session::from_this_site(&req)
        && expected.is_some_and(|expected| token_matches(fields.get(CSRF_FIELD), &expected));
    if !genuine {
        return Ok(page::forbidden(
            "Форма входа устарела или отправлена не с этой страницы. Откройте страницу входа заново.",
        ));
    }
    if let Some(wait) = attempts_exhausted(&req, &state).await {
        return Ok(too_many_attempts(wait));
    }
    let key = fields
        .get("key")
        .map(str::trim)
        .and_then(|presented| state.settings.admin_keys.authenticate(presented));
    // Checked again: the field is whatever the browser sent.
    let next = fields.get(return_to::FIELD).and_then(return_to::page);
    let Some(key) = key else {
        log::warn!(target: "cohai::console", "a console sign-in with an unknown key was refused");
        let csrf = sign_in_token();
        let mut response = sign_in_page(
            StatusCode::UNAUTHORIZED,
            &csrf,
            Some("Неверный ключ."),
            next,
        );
        let _ = response.add_cookie(&sign_in_cookie(&req, csrf));
        return Ok(response);
    };
    let (name, fingerprint) = (key.name().to_owned(), key.fingerprint());
    let sessions = state.console_sessions.clone();
    let opened = blocking(&state, move || sessions.open(&name, &fingerprint)).await?;
    // A session the browser still held ends: one browser, one session.
    if let Some(old) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) {
        let sessions = state.console_sessions.clone();
        blocking(&state, move || sessions.close(&old)).await?;
    }
    // No key name in the log: names are people's (the access log has the request).
    log::info!(target: "cohai::console", "a console session was opened");
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, next.unwrap_or(return_to::DEFAULT)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish();
    let _ = response.add_cookie(&session_cookie(&req, opened.token, opened.expires_at));
    let _ = response.add_cookie(&session::removal(SIGN_IN_COOKIE, "/admin/login"));
    Ok(response)
}

/// `Some(wait)` when the client has used up its sign-in attempts
/// (`SIGN_IN_ATTEMPTS_PER_MINUTE` in the composition root). A limiter that cannot count lets
/// the attempt through: the key still has to be right.
async fn attempts_exhausted(req: &HttpRequest, state: &AppState) -> Option<std::time::Duration> {
    let limit = state.sign_in_rate_limit.clone()?;
    let client = ClientIp::new(state.settings.trusted_proxies.clone()).of_request(req);
    rate_limit::acquire(state, limit, client)
        .await
        .unwrap_or_else(|error| {
            log::warn!(target: "cohai::console", "the sign-in rate limit cannot count: {error}");
            None
        })
}

/// 429: the sign-in page is refused for `wait` (`Retry-After` in whole seconds, at least 1).
fn too_many_attempts(wait: std::time::Duration) -> HttpResponse {
    let seconds = rate_limit::retry_after_seconds(wait);
    let body = html! {
        p.alert role="alert" { "Слишком много попыток входа. Повторите через " (seconds) " с." }
        p { a href="/admin/login" { "К странице входа" } }
    };
    let mut response = page::html(
        StatusCode::TOO_MANY_REQUESTS,
        layout::bare("Вход в консоль", body),
    );
    if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// `POST /admin/logout`: ends the session everywhere (it is deleted on the server, so the
/// cookie no longer works even if a copy of it is kept) and clears the cookie.
pub(super) async fn sign_out(
    // Only a signed-in form (the session middleware checked its CSRF token) signs out.
    _signed_in: Staff,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> PageResult {
    if let Some(token) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) {
        let sessions = state.console_sessions.clone();
        blocking(&state, move || sessions.close(&token))
            .await
            .map_err(PageError::from)?;
    }
    log::info!(target: "cohai::console", "a console session was closed");
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin/login"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish();
    let _ = response.add_cookie(&session::removal(SESSION_COOKIE, "/admin"));
    Ok(response)
}
