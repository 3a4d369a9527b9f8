//! Signing in (an admin key exchanged for a session cookie) and out.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

use super::form::{self, Fields};
use super::layout;
use super::page::{self, PageError, PageResult};
use super::session::{
    self, CSRF_FIELD, SESSION_COOKIE, SIGN_IN_COOKIE, Staff, session_cookie, sign_in_cookie,
    token_matches,
};
use crate::blocking::blocking;
use crate::state::AppState;

/// The sign-in page, with `alert` when the last attempt failed.
fn sign_in_page(status: StatusCode, csrf: &str, alert: Option<&str>) -> HttpResponse {
    let body = html! {
        @if let Some(alert) = alert {
            p.alert role="alert" { (alert) }
        }
        form.card method="post" action="/admin/login" {
            input type="hidden" name=(CSRF_FIELD) value=(csrf);
            label for="key" { "Ключ доступа" }
            input #key type="password" name="key" required autocomplete="off"
                autofocus spellcheck="false";
            p.hint { "Ключ выдаёт администратор сети. Он не сохраняется в браузере: после входа браузер хранит только сессию." }
            button type="submit" { "Войти" }
        }
    };
    page::html(status, layout::bare("Вход в консоль", body))
}

/// `GET /admin/login`: the sign-in form, with a fresh CSRF token in a cookie of its own.
pub(super) async fn form(req: HttpRequest) -> HttpResponse {
    let csrf = uuid::Uuid::new_v4().simple().to_string();
    let mut response = sign_in_page(StatusCode::OK, &csrf, None);
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
    let key = fields
        .get("key")
        .map(str::trim)
        .and_then(|presented| state.settings.admin_keys.authenticate(presented));
    let Some(key) = key else {
        log::warn!(target: "cohai::console", "a console sign-in with an unknown key was refused");
        let csrf = uuid::Uuid::new_v4().simple().to_string();
        let mut response = sign_in_page(StatusCode::UNAUTHORIZED, &csrf, Some("Неверный ключ."));
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
        .insert_header((header::LOCATION, "/admin/leads"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish();
    let _ = response.add_cookie(&session_cookie(&req, opened.token, opened.expires_at));
    let _ = response.add_cookie(&session::removal(SIGN_IN_COOKIE, "/admin/login"));
    Ok(response)
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
