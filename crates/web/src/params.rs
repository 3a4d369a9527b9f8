//! Query and path parameters, parsed with errors that name the parameter.

use cohai_domain::time::InstantOrDate;

use crate::error::ApiError;

/// The decoded query string.
#[derive(Debug, Default, Clone)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// Decodes `query` (`a=1&b=2`). A parameter given twice, or a name or value with a
    /// control character (after percent-decoding: `q=%00`), is a 400 naming the parameter.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| ApiError::invalid_parameter("query", "the query string is malformed"))?;
        for (i, (name, value)) in pairs.iter().enumerate() {
            if name.chars().any(char::is_control) {
                return Err(ApiError::invalid_parameter(
                    "query",
                    "parameter names must not contain control characters",
                ));
            }
            if value.chars().any(is_c0_or_del) {
                return Err(ApiError::invalid_parameter(
                    name,
                    "must not contain control characters",
                ));
            }
            if pairs[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(ApiError::invalid_parameter(
                    name,
                    "must be given at most once",
                ));
            }
        }
        Ok(Self(pairs))
    }

    /// These parameters without the empty ones: an HTML form sends every field, a blank
    /// one as `name=`, which means "not given" (the console's filter forms).
    pub fn without_empty(mut self) -> Self {
        self.0.retain(|(_, value)| !value.is_empty());
        self
    }

    /// The parameters, in the order given.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An optional positive id.
    pub fn id(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name).map(|raw| parse_id(name, raw)).transpose()
    }

    /// An optional integer in `min..=max`, else `default`.
    pub fn int_in(&self, name: &str, min: i64, max: i64, default: i64) -> Result<i64, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        let message = || format!("must be an integer from {min} to {max}");
        let value: i64 = raw
            .parse()
            .map_err(|_| ApiError::invalid_parameter(name, message()))?;
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(ApiError::invalid_parameter(name, message()))
        }
    }

    /// An optional RFC 3339 instant (with offset) or `YYYY-MM-DD` date.
    pub fn instant_or_date(&self, name: &str) -> Result<Option<InstantOrDate>, ApiError> {
        self.get(name)
            .map(|raw| {
                InstantOrDate::parse(&restore_plus(raw)).map_err(|_| {
                    ApiError::invalid_parameter(name, "must be an RFC 3339 date-time with an offset (Z or +03:00) or a YYYY-MM-DD date")
                })
            })
            .transpose()
    }
}

/// NUL, the other C0 control characters (tab and newline included) and DEL.
fn is_c0_or_del(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}')
}

/// An unencoded `+` in a query string decodes to a space; put it back in an offset such as
/// `2026-11-24T15:00:00 03:00`.
fn restore_plus(raw: &str) -> String {
    match raw.rfind(' ') {
        Some(i)
            if raw[..i].contains('T')
                && raw.len() - i == 6
                && raw[i + 1..].bytes().enumerate().all(|(n, b)| {
                    if n == 2 {
                        b == b':'
                    } else {
                        b.is_ascii_digit()
                    }
                }) =>
        {
            format!("{}+{}", &raw[..i], &raw[i + 1..])
        }
        _ => raw.to_owned(),
    }
}

/// A positive 64-bit id: ASCII digits only, no sign, no fraction, in range.
///
/// ```
/// use cohai_web::params::parse_id;
/// assert_eq!(parse_id("id", "17").ok(), Some(17));
/// for bad in ["abc", "0", "-1", "1.5", "+1", "", "99999999999999999999"] {
///     assert!(parse_id("id", bad).is_err(), "{bad}");
/// }
/// ```
pub fn parse_id(name: &str, raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0 && raw.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| ApiError::invalid_parameter(name, "must be a positive integer id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restores_a_plus_lost_in_url_decoding() {
        assert_eq!(
            restore_plus("2026-11-24T15:00:00 03:00"),
            "2026-11-24T15:00:00+03:00"
        );
        assert_eq!(restore_plus("2026-11-24"), "2026-11-24");
        assert_eq!(restore_plus("2026-11-24 15:00"), "2026-11-24 15:00");
    }

    #[test]
    fn repeated_parameters_are_refused_by_name() {
        for query in ["status=lost&status=zzz", "limit=1&limit=2", "a=1&b=2&a=1"] {
            let e = QueryParams::parse(query).expect_err(query);
            assert_eq!(e.code, "invalid_parameter");
            let name = query.split('=').next().unwrap_or_default();
            assert_eq!(
                e.details
                    .and_then(|d| d.get("parameter")?.as_str().map(str::to_owned))
                    .as_deref(),
                Some(name)
            );
        }
        assert!(QueryParams::parse("a=1&b=1").is_ok());
    }

    #[test]
    fn control_characters_in_values_are_refused() {
        for query in ["q=%00", "q=a%0Ab", "q=%7F", "q=%1B", "q=%09x"] {
            let e = QueryParams::parse(query).expect_err(query);
            assert_eq!(
                e.details
                    .and_then(|d| d.get("parameter")?.as_str().map(str::to_owned))
                    .as_deref(),
                Some("q")
            );
        }
        assert!(QueryParams::parse("q=%D0%90%20b").is_ok());
    }

    #[test]
    fn int_in_rejects_out_of_range_and_non_integers() {
        let q = QueryParams::parse("limit=100000&offset=x&ok=5").expect("query");
        assert!(q.int_in("limit", 1, 200, 50).is_err());
        assert!(q.int_in("offset", 0, i64::MAX, 0).is_err());
        assert_eq!(q.int_in("ok", 1, 10, 1).ok(), Some(5));
        assert_eq!(q.int_in("missing", 1, 10, 7).ok(), Some(7));
    }
}
