//! HTML responses of the console, and its errors as pages.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use maud::{Markup, html};

use super::layout;
use crate::error::ApiError;
use crate::i18n::{self, Language};

/// `markup` as an HTML response of `status`. Pages hold personal data: never stored.
pub(super) fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}

/// 403 with `message`.
pub(super) fn forbidden(message: &str) -> HttpResponse {
    html(
        StatusCode::FORBIDDEN,
        layout::bare("Доступ запрещён", html! { p role="alert" { (message) } }),
    )
}

/// A write a page shows again rather than failing: the form was stale, or its values were
/// refused (with messages for people).
pub(super) enum Rejected {
    /// The version the form was rendered from is not the stored one.
    Stale,
    /// The service refused the values.
    Invalid(Vec<String>),
}

/// `result` with the service's stale-version and validation errors as [`Rejected`], for the
/// page to show with the form again; every other error stays an error.
pub(super) fn rejected<T>(
    result: cohai_services::ServiceResult<T>,
) -> cohai_services::ServiceResult<Result<T, Rejected>> {
    use cohai_services::ServiceError;
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(ServiceError::PreconditionFailed) => Ok(Err(Rejected::Stale)),
        Err(ServiceError::Validation(errors)) => {
            let error = ApiError::from(ServiceError::Validation(errors));
            Ok(Err(Rejected::Invalid(messages_of(&error))))
        }
        Err(other) => Err(other),
    }
}

/// A handler's result.
pub(super) type PageResult = Result<HttpResponse, PageError>;

/// An error shown as a page (in Russian), with the status the API would answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

/// The message of `error` for people, in Russian, with its fields' messages.
pub(super) fn messages_of(error: &ApiError) -> Vec<String> {
    let error = i18n::localise(error, Language::Ru);
    let mut messages = Vec::new();
    match &error.fields {
        Some(fields) if !fields.is_empty() => {
            for (field, problems) in fields {
                for problem in problems {
                    messages.push(format!("{}: {problem}", super::labels::field(field)));
                }
            }
        }
        _ => messages.push(match error.status {
            StatusCode::NOT_FOUND => "Не найдено (или недоступно для вашего ключа).".to_owned(),
            StatusCode::SERVICE_UNAVAILABLE => {
                "Сервер сейчас перегружен или база данных недоступна. Повторите через минуту."
                    .to_owned()
            }
            StatusCode::INTERNAL_SERVER_ERROR => "Внутренняя ошибка сервера.".to_owned(),
            _ => error.message.clone(),
        }),
    }
    messages
}

impl PageError {
    /// The error page.
    pub fn render(&self) -> HttpResponse {
        let title = match self.0.status {
            StatusCode::NOT_FOUND => "Не найдено",
            StatusCode::FORBIDDEN => "Доступ запрещён",
            s if s.is_server_error() => "Ошибка сервера",
            _ => "Ошибка",
        };
        // For a report to whoever runs the server: the log line of this request has it.
        let request_id = crate::middleware::current_request_id();
        let body = html! {
            div role="alert" {
                @for message in messages_of(&self.0) { p { (message) } }
            }
            @if let Some(id) = request_id {
                p.hint { "Код запроса: " code { (id) } }
            }
            p { a href="/admin/leads" { "К списку лидов" } }
        };
        html(self.0.status, layout::bare(title, body))
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        self.render()
    }
}
