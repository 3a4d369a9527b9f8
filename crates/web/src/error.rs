//! The API's error type and its one mapping to HTTP.
//!
//! Handlers and extractors return [`ApiError`]; [`crate::middleware`] turns every error
//! response — including actix's own (unknown route, wrong method, oversized body) — into the
//! contract's shape `{"error": {"code", "message", "request_id", …}}`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use cohai_services::ServiceError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable message; never contains internals.
    pub message: String,
    /// Extra detail, e.g. `{"parameter": "location_id"}` or `{"class_session_id": 12}`.
    pub details: Option<BTreeMap<&'static str, serde_json::Value>>,
    /// Per-field validation messages.
    pub fields: Option<BTreeMap<String, Vec<String>>>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            fields: None,
        }
    }

    /// 400 `invalid_parameter` naming the parameter.
    pub fn invalid_parameter(parameter: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_parameter", message);
        e.details = Some(BTreeMap::from([("parameter", parameter.into())]));
        e
    }

    /// 400 `invalid_json`.
    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_json", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid admin API key is required",
        )
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 408 `request_timeout`: the body did not arrive within the read deadline. The
    /// connection is closed after the answer (the rest of the body may still be on its way).
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time",
        )
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409 `conflict`: a request with the same `Idempotency-Key` is still in progress.
    pub fn idempotency_key_in_progress() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "conflict",
            "a request with this Idempotency-Key is still in progress; retry later",
        )
    }

    /// 422 `idempotency_key_reused`: the `Idempotency-Key` was used with another body.
    pub fn idempotency_key_reused() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a request with another body",
        )
    }

    /// 412 `precondition_failed`.
    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            "the resource has changed; fetch it again",
        )
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is larger than {limit} bytes"),
        )
    }

    /// 422 `validation_failed`.
    pub fn validation(fields: BTreeMap<String, Vec<String>>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "some fields are invalid",
        );
        e.fields = Some(fields);
        e
    }

    /// 429 `rate_limited`.
    pub fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; retry later",
        )
    }

    /// 500 `internal`, with a generic message.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        )
    }

    /// 503 `unavailable`.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the service is temporarily unavailable; retry later",
        )
    }

    /// The error the contract prescribes for an error status that carries no [`ApiError`]
    /// (produced by actix itself or a third-party middleware).
    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => Self::invalid_json("the request could not be read"),
            401 => Self::unauthorized(),
            404 => Self::not_found("no such resource"),
            403 => Self::forbidden("this request is not allowed"),
            405 => Self::new(
                status,
                "method_not_allowed",
                "this method is not allowed on this path",
            ),
            408 => Self::request_timeout(),
            412 => Self::precondition_failed(),
            413 => Self::new(status, "payload_too_large", "the request body is too large"),
            415 => Self::invalid_json("the content type must be application/json"),
            429 => Self::rate_limited(),
            503 => Self::unavailable(),
            _ if status.is_client_error() => {
                Self::new(status, "bad_request", "the request could not be processed")
            }
            _ => Self::internal(),
        }
    }

    /// The JSON body for this error, carrying `request_id`.
    pub fn body(&self, request_id: &str) -> ErrorResponse {
        ErrorResponse {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
                request_id: request_id.to_owned(),
                details: self.details.as_ref().map(|d| {
                    d.iter()
                        .map(|(k, v)| ((*k).to_owned(), v.clone()))
                        .collect()
                }),
                fields: self.fields.clone(),
            },
        }
    }
}

/// The error body every error response carries (API.md §1), as sent and as documented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorDetail,
}

/// The error's detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `invalid_parameter`, `invalid_json`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `request_timeout`, `conflict`, `precondition_failed`,
    /// `payload_too_large`, `validation_failed`, `idempotency_key_reused`, `rate_limited`,
    /// `internal` or `unavailable`.
    #[schema(example = "not_found")]
    pub code: String,
    /// Human-readable; never contains internals. In English, or in Russian when
    /// `Accept-Language` prefers `ru` (as are the messages in `fields`; `Content-Language`
    /// says which).
    #[schema(example = "location 999 not found")]
    pub message: String,
    /// The request's id (also in the `X-Request-Id` header).
    pub request_id: String,
    /// For `invalid_parameter`: `{"parameter": "location_id"}`; for a `conflict` with one other
    /// row, its id, e.g. `{"class_session_id": 12}` (the trainer's overlapping session).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<BTreeMap<String, serde_json::Value>>,
    /// For `validation_failed`: messages per field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, Vec<String>>>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    /// The body is written by the request middleware, which knows the request id and finds
    /// this error through `HttpResponse::error`.
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if self.status == StatusCode::REQUEST_TIMEOUT {
            response.force_close();
        }
        response.finish()
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound { .. } => Self::not_found(e.to_string()),
            ServiceError::InvalidParameter { parameter, message } => {
                Self::invalid_parameter(parameter, message)
            }
            ServiceError::Validation(fields) => Self::validation(fields.0),
            ServiceError::Conflict(_) => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                "the request conflicts with the current state",
            ),
            ServiceError::ConflictWith { message, key, id } => {
                let mut e = Self::new(StatusCode::CONFLICT, "conflict", message);
                e.details = Some(BTreeMap::from([(key, id.into())]));
                e
            }
            ServiceError::PreconditionFailed => Self::precondition_failed(),
            ServiceError::Unavailable(detail) => {
                log::warn!("database unavailable: {detail}");
                Self::unavailable()
            }
            ServiceError::Internal(detail) => {
                log::error!("internal error: {detail}");
                Self::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_never_carry_their_detail() {
        let e = ApiError::from(ServiceError::Internal(
            "SELECT * FROM secrets failed at /srv/db".into(),
        ));
        assert_eq!(e.body("r1").error.message, "internal server error");
    }

    #[test]
    fn a_database_constraint_violation_is_a_422_or_409_never_a_500() {
        use cohai_domain::RepoError;
        let check = ApiError::from(ServiceError::from(RepoError::Invalid(
            "CHECK constraint failed: length(name) BETWEEN 1 AND 100".into(),
        )));
        assert_eq!(
            (check.status.as_u16(), check.code),
            (422, "validation_failed")
        );
        assert!(!format!("{:?}", check.fields).contains("CHECK"));
        let unique = ApiError::from(ServiceError::from(RepoError::Conflict(
            "locations_name_key".into(),
        )));
        assert_eq!((unique.status.as_u16(), unique.code), (409, "conflict"));
        assert!(!unique.message.contains("locations_name_key"));
    }

    #[test]
    fn a_conflict_with_another_row_names_its_id_as_a_number() {
        let e = ApiError::from(ServiceError::ConflictWith {
            message: "trainer 3 already teaches scheduled session 12 then".into(),
            key: "class_session_id",
            id: 12,
        });
        assert_eq!(
            serde_json::to_value(e.body("r1")).expect("serialise"),
            serde_json::json!({"error": {"code": "conflict", "request_id": "r1",
                "message": "trainer 3 already teaches scheduled session 12 then",
                "details": {"class_session_id": 12}}})
        );
    }

    #[test]
    fn body_has_the_contract_shape() {
        let body =
            ApiError::invalid_parameter("location_id", "must be a positive integer").body("abc");
        assert_eq!(
            serde_json::to_value(body).expect("serialise"),
            serde_json::json!({"error": {"code": "invalid_parameter", "message": "must be a positive integer",
                "request_id": "abc", "details": {"parameter": "location_id"}}})
        );
    }
}
