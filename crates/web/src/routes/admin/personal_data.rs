//! `GET /api/v1/admin/personal-data?phone=`: everything stored about one person (a data
//! subject's access request, 152-FZ / GDPR style).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use cohai_services::PersonalData;

use super::leads::PRIVATE;
use crate::auth::Admin;
use crate::blocking::blocking;
use crate::error::ApiError;
use crate::openapi::ErrorResponse;
use crate::routes::query;
use crate::state::AppState;

/// The `phone` as sent. An unencoded `+` in a query string decodes to a space, so a leading
/// space before a digit is read as the `+` it was (`phone=+7916…` finds `+7916…`).
fn phone_param(raw: &str) -> String {
    match raw.strip_prefix(' ') {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => format!("+{rest}"),
        _ => raw.to_owned(),
    }
}

/// Everything stored about the person with this phone: each of its leads (by `created_at`)
/// with its events (oldest first).
///
/// The phone is normalised as the lead form does, so every spelling of one number finds the
/// same leads (`8 916 123-45-67`, `+7 (916) 123 45 67`, …; encode `+` as `%2B`, though an
/// unencoded leading `+` is understood too). A valid number with nothing stored gives
/// `"leads": []`.
#[utoipa::path(get, path = "/api/v1/admin/personal-data", operation_id = "personalData", tag = "admin",
    security(("bearer" = [])),
    params(
        ("phone" = String, Query, description = "A phone number in any format the lead form accepts (default region RU)",
            min_length = 1, max_length = 64, example = "+79161234567", pattern = r"^[^\u0000-\u001F\u007F]+$"),
    ),
    responses(
        (status = 200, description = "The person's data", body = PersonalData),
        (status = 400, description = "`phone` missing or not a phone number", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
    ))]
pub async fn personal_data(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = query(&req)?;
    let phone = params
        .get("phone")
        .map(phone_param)
        .ok_or_else(|| ApiError::invalid_parameter("phone", "is required"))?;
    let leads = state.leads.clone();
    let data = blocking(&state, move || leads.personal_data(&phone, &admin.scope)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .json(data))
}

#[cfg(test)]
mod tests {
    use super::phone_param;

    #[test]
    fn a_plus_lost_in_url_decoding_is_restored() {
        assert_eq!(phone_param(" 79161234567"), "+79161234567");
        assert_eq!(phone_param("8 916 123"), "8 916 123");
        assert_eq!(phone_param(" x"), " x");
    }
}
