//! Validators for conditional requests (RFC 9110): `ETag`, `If-None-Match`, `If-Match`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

/// A strong entity tag derived from the representation's bytes.
pub fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// The opaque part of a tag, without `W/` and quotes.
fn opaque(tag: &str) -> &str {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.trim_matches('"')
}

/// Whether `If-None-Match` matches `etag` (weak comparison: `*`, one tag or a list).
pub fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|candidate| {
            let candidate = candidate.trim();
            candidate == "*" || opaque(candidate) == opaque(etag)
        })
}

/// The tags of `If-Match`, if the header is present: `Some(None)` for `*`.
pub fn if_match(req: &HttpRequest) -> Option<Option<Vec<String>>> {
    let values: Vec<&str> = req
        .headers()
        .get_all(header::IF_MATCH)
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() {
        return None;
    }
    let tags: Vec<&str> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if tags.contains(&"*") {
        return Some(None);
    }
    // Strong comparison: weak tags never match.
    Some(Some(
        tags.iter()
            .filter(|t| !t.starts_with("W/"))
            .map(|t| t.trim_matches('"').to_owned())
            .collect(),
    ))
}

/// A JSON response with a strong `ETag`, or `304 Not Modified` when the client has it.
pub fn json_with_etag(
    req: &HttpRequest,
    body: actix_web::web::Bytes,
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
        .content_type("application/json")
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn if_none_match_accepts_star_lists_and_weak_tags() {
        let etag = "\"abc\"";
        for header in ["\"abc\"", "*", "\"x\", \"abc\"", "W/\"abc\""] {
            let req = TestRequest::default()
                .insert_header((header::IF_NONE_MATCH, header))
                .to_http_request();
            assert!(if_none_match(&req, etag), "{header}");
        }
        let req = TestRequest::default()
            .insert_header((header::IF_NONE_MATCH, "\"other\""))
            .to_http_request();
        assert!(!if_none_match(&req, etag));
        assert!(!if_none_match(
            &TestRequest::default().to_http_request(),
            etag
        ));
    }

    #[test]
    fn if_match_distinguishes_star_and_tags() {
        let req = TestRequest::default()
            .insert_header((header::IF_MATCH, "*"))
            .to_http_request();
        assert_eq!(if_match(&req), Some(None));
        let req = TestRequest::default()
            .insert_header((header::IF_MATCH, "\"a\", W/\"b\""))
            .to_http_request();
        assert_eq!(if_match(&req), Some(Some(vec!["a".to_owned()])));
        assert_eq!(if_match(&TestRequest::default().to_http_request()), None);
    }
}
