//! Property tests of the HTTP parameter parsers: ids and query strings never panic, and
//! only canonical positive integers are ids.

use cohai_web::params::{QueryParams, parse_id};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_text_is_an_id_or_a_400(raw in ".{0,30}") {
        match parse_id("id", &raw) {
            Ok(id) => {
                prop_assert!(id > 0);
                prop_assert!(raw.bytes().all(|b| b.is_ascii_digit()));
            }
            Err(e) => {
                prop_assert_eq!(e.status.as_u16(), 400);
                prop_assert_eq!(e.code, "invalid_parameter");
            }
        }
    }

    #[test]
    fn every_positive_i64_is_an_id(id in 1i64..=i64::MAX) {
        prop_assert_eq!(parse_id("id", &id.to_string()).ok(), Some(id));
    }

    #[test]
    fn any_query_string_parses_or_fails_cleanly(query in "[ -~]{0,60}") {
        if let Ok(params) = QueryParams::parse(&query) {
            for name in ["location_id", "limit", "from"] {
                let _ = params.id(name);
                let _ = params.int_in(name, 1, 200, 50);
                let _ = params.instant_or_date(name);
            }
        }
    }
}
