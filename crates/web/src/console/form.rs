//! Submitted HTML forms (`application/x-www-form-urlencoded`): read within the API's body
//! limit and read deadline, each field at most once, text checked for control characters.

use std::collections::BTreeMap;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use super::page::PageError;
use crate::body::read_body;
use crate::error::ApiError;
use crate::state::AppState;

/// A submitted form's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Fields(BTreeMap<String, String>);

impl Fields {
    /// The fields of an urlencoded body. A field given twice is refused (which one was meant
    /// is unknowable); a textarea's line breaks (`\r\n`, as browsers send them) become `\n`.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| ApiError::invalid_json("the form could not be read"))?;
        let mut fields = BTreeMap::new();
        for (name, value) in pairs {
            let value = value.replace("\r\n", "\n");
            if fields.insert(name.clone(), value).is_some() {
                return Err(ApiError::invalid_parameter(
                    &name,
                    "must be given at most once",
                ));
            }
        }
        Ok(Self(fields))
    }

    /// The raw value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The text of `name`, trimmed; `None` when absent or blank. A control character (other
    /// than a line break or tab in a `multi_line` field) is refused with a message for people.
    pub fn text(&self, name: &str, multi_line: bool) -> Result<Option<String>, String> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let allowed = |c: char| multi_line && matches!(c, '\n' | '\t');
        if value.chars().any(|c| c.is_control() && !allowed(c)) {
            return Err("Текст содержит управляющие символы.".to_owned());
        }
        let value = value.trim();
        Ok((!value.is_empty()).then(|| value.to_owned()))
    }

    /// The version the form was rendered from (its hidden `version` field).
    pub fn version(&self) -> Result<i64, ApiError> {
        self.get("version")
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|v| *v >= 0)
            .ok_or_else(|| ApiError::invalid_parameter("version", "the form has no version"))
    }
}

impl FromRequest for Fields {
    type Error = PageError;
    type Future = std::future::Ready<Result<Self, PageError>>;

    /// The fields the session middleware read and checked; a route outside it is a wiring
    /// mistake (500).
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fields = req.extensions_mut().remove::<Fields>();
        std::future::ready(fields.ok_or_else(|| {
            log::error!(
                "{} reads a form outside the console's session middleware",
                req.match_pattern().unwrap_or_default()
            );
            ApiError::internal().into()
        }))
    }
}

/// Reads the form of `req`: it must be urlencoded, within the body limit, and arrive within
/// the read deadline.
pub(super) async fn read(
    req: &HttpRequest,
    payload: Payload,
    state: &AppState,
) -> Result<Fields, ApiError> {
    let urlencoded = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let (limit, deadline) = (state.settings.body_limit, state.settings.body_read_timeout);
    let body = read_body(req, payload, limit, deadline).await?;
    if !urlencoded {
        return Err(ApiError::invalid_json(
            "the content type must be application/x-www-form-urlencoded",
        ));
    }
    Fields::parse(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_decoded_and_line_breaks_normalised() {
        let fields = Fields::parse(b"notes=%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82%0D%0Aok&version=3")
            .expect("form");
        assert_eq!(fields.get("notes"), Some("привет\nok"));
        assert_eq!(fields.version().expect("version"), 3);
        assert_eq!(
            fields.text("notes", true),
            Ok(Some("привет\nok".to_owned()))
        );
    }

    #[test]
    fn a_field_given_twice_is_refused() {
        assert!(Fields::parse(b"status=new&status=lost").is_err());
    }

    #[test]
    fn control_characters_are_refused_and_blank_text_is_none() {
        let fields = Fields::parse(b"a=x%00y&b=line%0Abreak&c=++&d=tab%09ok").expect("form");
        assert!(fields.text("a", true).is_err());
        assert!(fields.text("b", false).is_err());
        assert_eq!(fields.text("b", true), Ok(Some("line\nbreak".to_owned())));
        assert_eq!(fields.text("c", false), Ok(None));
        assert_eq!(fields.text("missing", false), Ok(None));
        assert_eq!(fields.text("d", true), Ok(Some("tab\tok".to_owned())));
    }

    #[test]
    fn a_missing_or_negative_version_is_refused() {
        assert!(Fields::parse(b"x=1").expect("form").version().is_err());
        assert!(
            Fields::parse(b"version=-1")
                .expect("form")
                .version()
                .is_err()
        );
        assert!(
            Fields::parse(b"version=abc")
                .expect("form")
                .version()
                .is_err()
        );
    }
}
