//! Validators for conditional requests (RFC 9110): `ETag`, `If-None-Match`, `If-Match`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, EntityTag, Header, HeaderValue, IfMatch, IfNoneMatch};
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

/// A strong entity tag derived from the representation's bytes.
pub fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// `etag` (as sent in the `ETag` header, quotes included) as a typed tag.
fn entity_tag(etag: &str) -> Option<EntityTag> {
    etag.parse().ok()
}

/// Whether `If-None-Match` matches `etag`: `*`, or one tag of a list by weak comparison
/// (RFC 9110 §13.1.2). A malformed header (an unquoted tag, say) matches nothing, so the
/// client gets the full response.
pub fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    if !req.headers().contains_key(header::IF_NONE_MATCH) {
        return false;
    }
    match IfNoneMatch::parse(req) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => {
            entity_tag(etag).is_some_and(|ours| tags.iter().any(|t| t.weak_eq(&ours)))
        }
        Err(_) => false,
    }
}

/// What a request's `If-Match` asks for (RFC 9110 §13.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatchCondition {
    /// No `If-Match`: the change is unconditional.
    Absent,
    /// `If-Match: *`: the resource must exist.
    Any,
    /// The opaque parts of the strong tags listed; one of them must be current. Weak tags
    /// never match (strong comparison), and a malformed header lists none, so it matches
    /// nothing.
    Tags(Vec<String>),
}

/// The request's `If-Match` condition.
pub fn if_match(req: &HttpRequest) -> IfMatchCondition {
    if !req.headers().contains_key(header::IF_MATCH) {
        return IfMatchCondition::Absent;
    }
    match IfMatch::parse(req) {
        Ok(IfMatch::Any) => IfMatchCondition::Any,
        Ok(IfMatch::Items(tags)) => IfMatchCondition::Tags(
            tags.into_iter()
                .filter(|t| !t.weak)
                .map(|t| t.tag().to_owned())
                .collect(),
        ),
        Err(_) => IfMatchCondition::Tags(Vec::new()),
    }
}

/// The version a change of resource `kind` `id` is conditional on (`If-Match`), for strong
/// tags of the form `"<kind>-<id>-v<version>"`; `None` when unconditional (`*` or no header).
///
/// A list that names no version of this resource (another one's tag, a weak or malformed one)
/// asks for version 0, which none has (versions start at 1): the repository then answers 404
/// for a missing resource and 412 for an existing one, in that order (RFC 9110 §13.2.2).
pub fn expected_version(req: &HttpRequest, kind: &str, id: i64) -> Option<i64> {
    let prefix = format!("{kind}-{id}-v");
    match if_match(req) {
        IfMatchCondition::Absent | IfMatchCondition::Any => None,
        IfMatchCondition::Tags(tags) => Some(
            tags.iter()
                .find_map(|t| t.strip_prefix(&prefix)?.parse().ok())
                .unwrap_or(0),
        ),
    }
}

/// A JSON response with a strong `ETag`, or `304 Not Modified` when the client has it.
pub fn json_with_etag(
    req: &HttpRequest,
    body: actix_web::web::Bytes,
    etag: &str,
    cache_control: &str,
) -> HttpResponse {
    body_with_etag(req, body, "application/json", etag, cache_control)
}

/// A response of `content_type` with a strong `ETag`, or `304 Not Modified` when the client
/// has it.
pub fn body_with_etag(
    req: &HttpRequest,
    body: actix_web::web::Bytes,
    content_type: &str,
    etag: &str,
    cache_control: &str,
) -> HttpResponse {
    let cache_control =
        HeaderValue::from_str(cache_control).unwrap_or(HeaderValue::from_static("no-cache"));
    if if_none_match(req, etag) {
        return HttpResponse::build(StatusCode::NOT_MODIFIED)
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .finish();
    }
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn if_match_tags_name_a_version_of_this_resource_only() {
        let with = |tag: &str| {
            TestRequest::default()
                .insert_header((header::IF_MATCH, tag))
                .to_http_request()
        };
        assert_eq!(expected_version(&with("\"lead-7-v3\""), "lead", 7), Some(3));
        assert_eq!(expected_version(&with("\"lead-7-v3\""), "lead", 8), Some(0));
        assert_eq!(
            expected_version(&with("\"trainer-7-v3\""), "lead", 7),
            Some(0)
        );
        assert_eq!(expected_version(&with("*"), "lead", 7), None);
        assert_eq!(
            expected_version(&TestRequest::default().to_http_request(), "lead", 7),
            None
        );
    }

    #[test]
    fn if_none_match_accepts_star_lists_and_weak_tags() {
        let etag = "\"abc\"";
        for header in ["\"abc\"", "*", "\"x\", \"abc\"", "W/\"abc\""] {
            let req = TestRequest::default()
                .insert_header((header::IF_NONE_MATCH, header))
                .to_http_request();
            assert!(if_none_match(&req, etag), "{header}");
        }
        for header in ["\"other\"", "abc", "null"] {
            let req = TestRequest::default()
                .insert_header((header::IF_NONE_MATCH, header))
                .to_http_request();
            assert!(!if_none_match(&req, etag), "{header}");
        }
        assert!(!if_none_match(
            &TestRequest::default().to_http_request(),
            etag
        ));
    }

    #[test]
    fn if_match_distinguishes_star_tags_and_garbage() {
        let req = TestRequest::default()
            .insert_header((header::IF_MATCH, "*"))
            .to_http_request();
        assert_eq!(if_match(&req), IfMatchCondition::Any);
        let req = TestRequest::default()
            .insert_header((header::IF_MATCH, "\"a\", W/\"b\""))
            .to_http_request();
        assert_eq!(if_match(&req), IfMatchCondition::Tags(vec!["a".to_owned()]));
        for unquoted in ["a", "null", "lead-1-v1"] {
            let req = TestRequest::default()
                .insert_header((header::IF_MATCH, unquoted))
                .to_http_request();
            assert_eq!(
                if_match(&req),
                IfMatchCondition::Tags(Vec::new()),
                "{unquoted}"
            );
        }
        assert_eq!(
            if_match(&TestRequest::default().to_http_request()),
            IfMatchCondition::Absent
        );
    }
}
