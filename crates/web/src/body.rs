//! JSON request bodies with the contract's errors — the one place every body passes.
//!
//! [`JsonBody`] reads the body within the read deadline, parses it, and applies the rules
//! that hold for every field of every body, so new fields get them by default:
//! - a body that is not JSON, not an object, or has a field of the wrong JSON type → 400
//!   `invalid_json` with a message for people (`location_id must be an integer`), never
//!   the parser's text or the input;
//! - a string that is not one of an enum's values → 422 on that field, listing the values;
//! - NUL, the other C0 control characters and DEL in any text field → 422 on that field
//!   (`\n` and `\t` are allowed in the multi-line fields, [`MULTI_LINE_FIELDS`]);
//! - integer-valued numbers written with a fraction (`12.0`) are read as integers, as
//!   JSON Schema's `integer` allows.

use std::collections::BTreeMap;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;
use crate::state::AppState;

/// Fields whose text may span lines: `\n` and `\t` are allowed in them (API.md §1).
pub const MULTI_LINE_FIELDS: &[&str] = &[
    "message",
    "notes",
    "description",
    "bio",
    "cancellation_reason",
];

/// A JSON object body, read and checked as the module docs say.
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
        // The limits are settings; an app without its state is a wiring mistake, not a
        // reason to guess them.
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            log::error!("JsonBody used in an app without AppState: no body limit to apply");
            return Box::pin(std::future::ready(Err(ApiError::internal())));
        };
        let (limit, deadline) = (state.settings.body_limit, state.settings.body_read_timeout);
        let json = is_json(req);
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            let bytes = read_body(&req, payload, limit, deadline).await?;
            if !json {
                return Err(ApiError::invalid_json(
                    "the content type must be application/json",
                ));
            }
            parse(&bytes).map(JsonBody)
        })
    }
}

/// Reads a whole request body: 413 when it is (or is declared) over `limit` bytes, 408 when
/// it does not arrive within `deadline` — the rest is then kept unread until the answer is
/// written, so the server closes the connection (see [`UnreadBody`]). Every body of the API
/// is read by this (the JSON extractor, the idempotency middleware).
pub(crate) async fn read_body(
    req: &HttpRequest,
    mut payload: Payload,
    limit: usize,
    deadline: std::time::Duration,
) -> Result<web::BytesMut, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::payload_too_large(limit));
    }
    // A client that stops sending (or sends a byte a second) must not hold the
    // connection: the whole body has to arrive within the deadline.
    let read = actix_web::rt::time::timeout(deadline, read_to_limit(&mut payload, limit));
    match read.await {
        Ok(bytes) => bytes,
        Err(_elapsed) => {
            req.extensions_mut().insert(UnreadBody(payload));
            Err(ApiError::request_timeout())
        }
    }
}

/// The rest of a request body that did not arrive in time.
///
/// actix drains an unread chunked body before reusing the connection, which never ends for
/// a client that stalls. While the payload is still held when the answer is sent, it closes
/// the connection instead; so the 408's body holds it (see [`crate::middleware`]).
pub(crate) struct UnreadBody(#[allow(dead_code)] pub(crate) Payload);

/// Reads the whole body, refusing more than `limit` bytes.
async fn read_to_limit(payload: &mut Payload, limit: usize) -> Result<web::BytesMut, ApiError> {
    use futures_util::StreamExt as _;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            PayloadError::Overflow => ApiError::payload_too_large(limit),
            _ => ApiError::invalid_json("the body could not be read"),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses and checks a body (see the module docs).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::invalid_json(if e.is_eof() || e.is_syntax() {
            "the body is not valid JSON"
        } else {
            "the body could not be read as JSON"
        })
    })?;
    // Every body of this API is an object. Serde would also read a struct from an array,
    // positionally (`["Анна", "+7…"]` as name and phone): a wrong JSON type, so a 400.
    if !value.is_object() {
        return Err(ApiError::invalid_json("the body must be a JSON object"));
    }
    let mut bad_text = Vec::new();
    normalise(&mut value, &mut String::new(), None, &mut bad_text);

    let mut ignored = Vec::new();
    let parsed: T = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
        value,
        &mut |path: serde_ignored::Path<'_>| ignored.push(path.to_string()),
    ))
    .map_err(|e| {
        // Serde reads an object as an enum variant (`{"a": 1}` is variant `a`): a wrong
        // JSON type, not an unknown value. Only on this error path is the body parsed again.
        let sent_string = serde_json::from_slice::<Value>(bytes)
            .ok()
            .and_then(|root| value_at(&root, e.path()).map(Value::is_string))
            .unwrap_or(false);
        describe(&e.path().to_string(), e.inner(), sent_string)
    })?;

    // Text in fields the body type ignores (the public form accepts unknown fields) is
    // never stored, so it is not an error.
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in bad_text {
        if !ignored.iter().any(|i| {
            path == *i || path.starts_with(&format!("{i}.")) || path.starts_with(&format!("{i}["))
        }) {
            fields
                .entry(path)
                .or_default()
                .push(CONTROL_MESSAGE.to_owned());
        }
    }
    if fields.is_empty() {
        Ok(parsed)
    } else {
        Err(ApiError::validation(fields))
    }
}

const CONTROL_MESSAGE: &str = "must not contain control characters";

/// Whether `c` is refused in a text field: NUL, the other C0 controls and DEL; `\n` and
/// `\t` only outside multi-line fields.
fn is_refused(c: char, multi_line: bool) -> bool {
    match c {
        '\n' | '\t' => !multi_line,
        '\u{0}'..='\u{1f}' | '\u{7f}' => true,
        _ => false,
    }
}

/// Walks `value`: records the path of every string with a refused control character in
/// `bad_text`, and turns integer-valued floats (`12.0`) into integers.
fn normalise(value: &mut Value, path: &mut String, key: Option<&str>, bad_text: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            let multi_line = key.is_some_and(|k| MULTI_LINE_FIELDS.contains(&k));
            if s.chars().any(|c| is_refused(c, multi_line)) {
                bad_text.push(path.clone());
            }
        }
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                // Within ±2^53 every integer is exact in an f64.
                if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
                    *value = Value::from(f as i64);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                normalise(item, path, key, bad_text);
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                normalise(item, path, Some(k), bad_text);
                path.truncate(len);
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

/// The value at `path` in `root`, if there is one.
fn value_at<'v>(root: &'v Value, path: &serde_path_to_error::Path) -> Option<&'v Value> {
    use serde_path_to_error::Segment;
    path.iter().try_fold(root, |value, segment| match segment {
        Segment::Map { key } => value.get(key.as_str()),
        Segment::Seq { index } => value.get(*index),
        Segment::Enum { .. } | Segment::Unknown => Some(value),
    })
}

/// A field path that may be shown to people: short and made of identifier characters.
/// Anything else is input we do not echo.
fn printable_field(path: &str) -> Option<&str> {
    (!path.is_empty()
        && path != "."
        && path.len() <= 64
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.[]".contains(&b)))
    .then_some(path)
}

/// The contract's error for a body that parsed as JSON but does not fit the body type.
///
/// Serde's messages have a fixed shape (`invalid type: …, expected …`, `unknown variant
/// `…`, expected one of …`); only the expected part — written by our types, never by the
/// client — is used, and rephrased for people.
fn describe(path: &str, error: &serde_json::Error, sent_string: bool) -> ApiError {
    let text = error.to_string();
    let field = printable_field(path);
    let expected = text
        .rfind(", expected ")
        .map(|i| &text[i + ", expected ".len()..])
        .unwrap_or("");
    if text.starts_with("unknown variant") && sent_string {
        let values: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let name = field.unwrap_or("body").to_owned();
        let message = if values.is_empty() {
            "is not one of the allowed values".to_owned()
        } else {
            format!("must be one of {}", values.join(", "))
        };
        return ApiError::validation(BTreeMap::from([(name, vec![message])]));
    }
    if text.starts_with("unknown field") {
        let name = text
            .split('`')
            .nth(1)
            .and_then(printable_field)
            .map(str::to_owned);
        let full = match (field, name) {
            (Some(parent), Some(name)) if parent != name => format!("{parent}.{name}"),
            (_, Some(name)) => name,
            _ => String::new(),
        };
        return ApiError::invalid_json(if full.is_empty() {
            "the body has a field that is not accepted here".to_owned()
        } else {
            format!("unknown field {full}")
        });
    }
    if text.starts_with("missing field") {
        let name = text.split('`').nth(1).and_then(printable_field);
        let name = match (field, name) {
            (Some(parent), Some(name)) => format!("{parent}.{name}"),
            (None, Some(name)) => name.to_owned(),
            _ => "body".to_owned(),
        };
        return ApiError::validation(BTreeMap::from([(name, vec!["is required".to_owned()])]));
    }
    let wanted = if text.starts_with("unknown variant") {
        "a string"
    } else {
        wanted_type(expected)
    };
    ApiError::invalid_json(match field {
        Some(field) => format!("{field} must be {wanted}"),
        None => format!("a field must be {wanted}"),
    })
}

/// Serde's description of an expected type, in words for people.
fn wanted_type(expected: &str) -> &'static str {
    let expected = expected.trim();
    match expected {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer",
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer",
        "f32" | "f64" => "a number",
        "a boolean" => "true or false",
        "a string" | "a borrowed string" | "a character" | "variant identifier"
        | "string or map" => "a string",
        "a sequence" => "an array",
        _ if expected.starts_with("struct") || expected.starts_with("a map") => "an object",
        _ if expected.starts_with("enum") => "a string",
        _ => "of another type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        name: Option<String>,
        message: Option<String>,
        location_id: Option<i64>,
        consent: Option<bool>,
        status: Option<Status>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Status {
        New,
        Lost,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Lenient {
        name: Option<String>,
    }

    fn err(body: &str) -> ApiError {
        parse::<Strict>(body.as_bytes()).expect_err("must fail")
    }

    fn fields(e: &ApiError) -> BTreeMap<String, Vec<String>> {
        e.fields.clone().unwrap_or_default()
    }

    #[test]
    fn control_characters_are_a_422_on_their_field() {
        for bad in [
            "\\u0000x", "a\\u0001", "\\u001f", "x\\u007f", "a\\nb", "a\\tb", "a\\rb",
        ] {
            let e = err(&format!(r#"{{"name": "{bad}"}}"#));
            assert_eq!(e.status, 422, "{bad}");
            assert_eq!(fields(&e)["name"], vec![CONTROL_MESSAGE], "{bad}");
        }
    }

    #[test]
    fn multi_line_fields_take_newlines_and_tabs_only() {
        assert!(parse::<Strict>(br#"{"message": "a\nb\tc"}"#).is_ok());
        for bad in ["\\u0000", "\\r", "\\u007f", "\\u000b"] {
            let e = err(&format!(r#"{{"message": "a{bad}"}}"#));
            assert_eq!(fields(&e)["message"], vec![CONTROL_MESSAGE], "{bad}");
        }
    }

    #[test]
    fn ignored_fields_are_not_checked() {
        assert!(parse::<Lenient>(br#"{"name": "x", "utm_content": "a\u0000"}"#).is_ok());
    }

    #[test]
    fn unknown_enum_values_are_a_422_listing_the_values() {
        for bad in ["bogus", "NEW", "new\\u0016"] {
            let e = err(&format!(r#"{{"status": "{bad}"}}"#));
            assert_eq!(e.status, 422, "{bad}");
            assert_eq!(
                fields(&e)["status"],
                vec!["must be one of new, lost"],
                "{bad}"
            );
        }
    }

    #[test]
    fn wrong_types_are_a_400_naming_the_field_in_words() {
        let cases = [
            (r#"{"location_id": "1"}"#, "location_id must be an integer"),
            (r#"{"consent": "yes"}"#, "consent must be true or false"),
            (r#"{"name": 5}"#, "name must be a string"),
            (r#"{"status": 1}"#, "status must be a string"),
            (r#"{"location_id": 1.5}"#, "location_id must be an integer"),
        ];
        for (body, message) in cases {
            let e = err(body);
            assert_eq!((e.status.as_u16(), e.code), (400, "invalid_json"), "{body}");
            assert_eq!(e.message, message, "{body}");
        }
    }

    #[test]
    fn messages_never_echo_input_or_rust_types() {
        let bodies = [
            r#"{"location_id": "secret-input"}"#,
            r#"{"status": "secret-input"}"#,
            r#"{"secret-input": 1}"#,
            r#"{"zzz_field": 1}"#,
            r#"{"name": {"a": 1}}"#,
            "[1, 2]",
            "{",
        ];
        for body in bodies {
            let e = err(body);
            let text = format!("{} {:?}", e.message, e.fields);
            for leak in [
                "secret-input",
                "i64",
                "Option",
                "Strict",
                "line ",
                "column",
                "expected",
            ] {
                assert!(!text.contains(leak), "{body}: {text}");
            }
        }
        assert_eq!(
            err(r#"{"zzz_field": 1}"#).message,
            "unknown field zzz_field"
        );
    }

    #[test]
    fn integer_valued_numbers_with_a_fraction_are_integers() {
        let s: Strict = parse(br#"{"location_id": -1250956.0}"#).expect("accepted");
        assert_eq!(s.location_id, Some(-1_250_956));
        assert_eq!(err(r#"{"location_id": 1e300}"#).status, 400);
    }

    #[test]
    fn non_objects_are_a_400() {
        for body in ["[]", "1", "\"x\"", "null"] {
            assert_eq!(err(body).code, "invalid_json", "{body}");
        }
    }
}
