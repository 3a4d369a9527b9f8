//! JSON request bodies with the contract's errors.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON object body: 400 `invalid_json` for a wrong content type, malformed JSON, a body
/// that is not an object or a wrong field type; 413 `payload_too_large` over the configured
/// limit.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    /// The parsed body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(64 * 1024, |s| s.settings.body_limit);
        let json = is_json(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = body.await.map_err(|e| match e.as_error::<PayloadError>() {
                Some(PayloadError::Overflow) => ApiError::payload_too_large(limit),
                _ => ApiError::invalid_json("the body could not be read"),
            })?;
            if bytes.len() > limit {
                return Err(ApiError::payload_too_large(limit));
            }
            if !json {
                return Err(ApiError::invalid_json(
                    "the content type must be application/json",
                ));
            }
            // Every body of this API is an object. Serde would also read a struct from an array,
            // positionally (`["Анна", "+7…"]` as name and phone): a wrong JSON type, so a 400.
            if bytes.trim_ascii_start().first() != Some(&b'{') {
                return Err(ApiError::invalid_json("the body must be a JSON object"));
            }
            serde_json::from_slice(&bytes)
                .map(JsonBody)
                .map_err(|e| ApiError::invalid_json(format!("invalid JSON body: {e}")))
        })
    }
}
