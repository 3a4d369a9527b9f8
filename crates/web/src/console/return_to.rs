//! Where a sign-in returns to: the console page that sent the browser to sign in.
//!
//! The page travels as `?next=` on the sign-in page's URL and as a hidden field of its form,
//! so it is untrusted input both times: an open redirect (`next=https://evil.example`,
//! `//evil.example`, `/\evil.example`) would let a link to our sign-in page end on another
//! site after a genuine sign-in. Only a path of the console itself is followed, written with
//! a small set of characters; anything else returns to the inbox.

/// Where a sign-in lands when it names no page (or one that is not followed).
pub(super) const DEFAULT: &str = "/admin/leads";

/// The query parameter and form field that carry the page.
pub(super) const FIELD: &str = "next";

/// Longest page followed (a console URL with every filter set is far shorter).
const MAX_LEN: usize = 512;

/// `candidate` when it is a console page to return to: a path under `/admin/` (not the
/// sign-in page itself), with an optional query, made only of unreserved characters,
/// `/`, `%`-escapes and the query's `?`, `&`, `=`, `+`, `,` and `:`, and without `.`/`..`
/// segments. So no scheme, host, backslash, control character or fragment gets through.
pub(super) fn page(candidate: &str) -> Option<&str> {
    let (path, _query) = candidate.split_once('?').unwrap_or((candidate, ""));
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                '/' | '-' | '_' | '.' | '~' | '%' | '?' | '&' | '=' | '+' | ',' | ':'
            )
    };
    let followed = candidate.len() <= MAX_LEN
        && candidate.chars().all(allowed)
        && path.starts_with("/admin/")
        && !path.starts_with("/admin/login")
        && !path.split('/').any(|segment| segment == "." || segment == "..")
        // A `%`-escape could spell a dot segment or a slash that a later decoding acts on.
        && !path.contains('%');
    followed.then_some(candidate)
}

/// The sign-in page's URL for a browser sent there from `page` (a GET of a console page).
pub(super) fn sign_in_url(from: Option<&str>) -> String {
    match from.and_then(page) {
        Some(page) if page != DEFAULT => {
            // Encoding plain text as a form cannot fail.
            let query = serde_urlencoded::to_string([(FIELD, page)]).unwrap_or_default();
            format!("/admin/login?{query}")
        }
        _ => "/admin/login".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_pages_with_their_filters_are_followed() {
        for page_url in [
            "/admin/leads",
            "/admin/leads/42",
            "/admin/leads?status=new&location_id=3&sort=-created_at&q=%D0%90%D0%BD%D0%BD%D0%B0",
            "/admin/stats?from=2026-11-01&to=2026-11-30",
            "/admin/timetable?week=2026-12-07&location_id=1",
            "/admin/timetable/sessions/7",
        ] {
            assert_eq!(page(page_url), Some(page_url), "{page_url}");
        }
    }

    #[test]
    fn other_sites_and_tricks_return_to_the_inbox() {
        for attack in [
            "https://evil.example/admin/leads",
            "//evil.example/admin/leads",
            "/\\evil.example",
            "/admin/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "/admin/leads\r\nSet-Cookie: x=1",
            "/admin/leads\n",
            "/admin/leads#top",
            "/admin/../api/v1/admin/leads",
            "/admin/./leads",
            "/admin/%2e%2e/api",
            "/admin/%2F%2Fevil.example",
            "/api/v1/leads",
            "/admin",
            "/admin/login",
            "/admin/login?next=/admin/leads",
            "/admin/leads/ 1",
            "/admin/лиды",
            "",
        ] {
            assert_eq!(page(attack), None, "{attack:?}");
        }
        assert_eq!(page(&format!("/admin/leads?q={}", "a".repeat(600))), None);
    }

    #[test]
    fn the_sign_in_url_names_the_page_only_when_it_is_followed_and_not_the_inbox() {
        assert_eq!(
            sign_in_url(Some("/admin/leads/42?tab=history")),
            "/admin/login?next=%2Fadmin%2Fleads%2F42%3Ftab%3Dhistory"
        );
        assert_eq!(sign_in_url(Some("/admin/leads")), "/admin/login");
        assert_eq!(sign_in_url(Some("//evil.example")), "/admin/login");
        assert_eq!(sign_in_url(None), "/admin/login");
    }
}
