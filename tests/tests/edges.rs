//! The HTTP edge as a stranger meets it (issue 11): control characters, enum values and
//! parser messages in bodies; repeated and control-character query parameters; HEAD and
//! `Allow`; preconditions on PATCH and DELETE; CORS refusals; bounded metrics. Both backends.

use actix_web::body::MessageBody;
use actix_web::http::Method;
use actix_web::test::TestRequest;
use cohai_e2e::{Backend, Reply, TestApp, admin, call, e2e_tests, get};
use serde_json::{Value, json};

const LEADS: &str = "/api/v1/admin/leads";

/// Every text field of the public form, the admin create and the admin PATCH, and whether it
/// is a multi-line field (where `\n` and `\t` are allowed).
const PUBLIC_TEXT_FIELDS: &[(&str, bool)] = &[
    ("name", false),
    ("phone", false),
    ("email", false),
    ("message", true),
    ("utm_source", false),
    ("utm_medium", false),
    ("utm_campaign", false),
];
const ADMIN_TEXT_FIELDS: &[(&str, bool)] = &[
    ("name", false),
    ("phone", false),
    ("email", false),
    ("message", true),
    ("notes", true),
    ("utm_source", false),
    ("utm_medium", false),
    ("utm_campaign", false),
];
const PATCH_TEXT_FIELDS: &[(&str, bool)] = &[
    ("name", false),
    ("phone", false),
    ("email", false),
    ("message", true),
    ("notes", true),
];

/// Characters refused in every text field, and those refused in single-line fields only.
const ALWAYS_REFUSED: &[&str] = &[
    "\u{0}", "\u{1}", "\u{8}", "\u{b}", "\u{d}", "\u{1b}", "\u{1f}", "\u{7f}",
];
const SINGLE_LINE_REFUSED: &[&str] = &["\n", "\t"];

fn valid_form() -> Value {
    json!({"name": "Анна", "phone": "+7 916 123 45 67", "consent": true,
           "email": "anna@example.com", "message": "Хочу", "utm_source": "ig",
           "utm_medium": "cpc", "utm_campaign": "spring"})
}

fn valid_admin_form() -> Value {
    json!({"name": "Анна", "phone": "+7 916 123 45 68", "email": "anna@example.com",
           "message": "Хочу", "notes": "перезвонить", "utm_source": "ig", "utm_medium": "cpc",
           "utm_campaign": "spring"})
}

/// A valid value of `field` with `bad` inside it.
fn poisoned(field: &str, bad: &str) -> String {
    match field {
        "phone" => format!("+7916{bad}1234567"),
        "email" => format!("an{bad}na@example.com"),
        _ => format!("ab{bad}cd"),
    }
}

async fn total<S, B>(app: &S) -> i64
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = call(app, admin(TestRequest::get().uri(LEADS))).await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["total"].as_i64().expect("total")
}

/// Asserts a 422 whose `fields` name exactly `field`.
fn assert_field_error(r: &Reply, field: &str, case: &str) {
    assert_eq!(r.status, 422, "{case}: {}", r.json);
    r.assert_error(422, "validation_failed");
    let fields = r.json["error"]["fields"].as_object().expect("fields");
    assert!(fields.contains_key(field), "{case}: {}", r.json);
    assert_eq!(fields.len(), 1, "{case}: only {field}: {}", r.json);
}

async fn control_characters_in_any_body_text_field_are_a_422_and_store_nothing(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let created = call(
        &app,
        admin(TestRequest::post().uri(LEADS).set_json(valid_admin_form())),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.json);
    let id = created.json["id"].as_i64().expect("id");
    let before = created.json.clone();

    for (fields, kind) in [
        (PUBLIC_TEXT_FIELDS, "public"),
        (ADMIN_TEXT_FIELDS, "admin"),
        (PATCH_TEXT_FIELDS, "patch"),
    ] {
        for (field, multi_line) in fields {
            let refused: Vec<&str> = if *multi_line {
                ALWAYS_REFUSED.to_vec()
            } else {
                ALWAYS_REFUSED
                    .iter()
                    .chain(SINGLE_LINE_REFUSED)
                    .copied()
                    .collect()
            };
            for bad in refused {
                let value = poisoned(field, bad);
                let req = match kind {
                    "public" => {
                        let mut body = valid_form();
                        body[*field] = json!(value);
                        TestRequest::post().uri("/api/v1/leads").set_json(body)
                    }
                    "admin" => {
                        let mut body = valid_admin_form();
                        body[*field] = json!(value);
                        admin(TestRequest::post().uri(LEADS).set_json(body))
                    }
                    _ => admin(
                        TestRequest::patch()
                            .uri(&format!("{LEADS}/{id}"))
                            .set_json(json!({ *field: value })),
                    ),
                };
                let r = call(&app, req).await;
                assert_field_error(&r, field, &format!("{kind} {field} {bad:?}"));
            }
        }
    }
    assert_eq!(total(&app).await, 1, "nothing stored");
    let after = call(
        &app,
        admin(TestRequest::get().uri(&format!("{LEADS}/{id}"))),
    )
    .await;
    assert_eq!(after.json, before, "nothing changed");

    // Multi-line fields keep their newlines and tabs.
    let r = call(
        &app,
        admin(
            TestRequest::patch()
                .uri(&format!("{LEADS}/{id}"))
                .set_json(json!({"notes": "строка 1\nстрока\t2", "message": "a\nb"})),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["notes"], "строка 1\nстрока\t2");
}

async fn control_characters_and_repeats_in_query_parameters_are_a_400_naming_them(
    backend: Backend,
) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    for (uri, parameter) in [
        (format!("{LEADS}?q=%00"), "q"),
        (format!("{LEADS}?q=a%0Ab"), "q"),
        (format!("{LEADS}?q=%7F"), "q"),
        (format!("{LEADS}?status=lost&status=zzz"), "status"),
        (format!("{LEADS}?limit=5&limit=500"), "limit"),
        (format!("{LEADS}?sort=created_at&sort=created_at"), "sort"),
        (
            format!("{LEADS}?location_id=1&location_id=2"),
            "location_id",
        ),
        (
            "/api/v1/schedule?from=2026-01-01&from=2026-01-02".to_owned(),
            "from",
        ),
        (
            "/api/v1/memberships?location_id=1&location_id=1".to_owned(),
            "location_id",
        ),
        ("/api/v1/locations?x=%01".to_owned(), "x"),
    ] {
        let r = call(&app, admin(TestRequest::get().uri(&uri))).await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(r.json["error"]["details"]["parameter"], parameter, "{uri}");
    }
}

async fn two_authorization_headers_are_a_401(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let valid = format!("Bearer {}", cohai_e2e::ADMIN_KEY);
    // Whichever comes first: neither "first wins" nor "last wins" may let it through.
    for (first, second) in [
        (valid.as_str(), "Bearer wrong"),
        ("Bearer wrong", valid.as_str()),
    ] {
        let r = call(
            &app,
            TestRequest::get()
                .uri(LEADS)
                .append_header(("authorization", first.to_owned()))
                .append_header(("authorization", second.to_owned())),
        )
        .await;
        r.assert_error(401, "unauthorized");
    }
    // The valid key alone is accepted, so the 401s above come from the repetition.
    let r = call(
        &app,
        TestRequest::get()
            .uri(LEADS)
            .insert_header(("authorization", valid)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
}

async fn unknown_enum_values_are_a_422_and_wrong_types_a_400(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let created = call(
        &app,
        admin(TestRequest::post().uri(LEADS).set_json(valid_admin_form())),
    )
    .await;
    let id = created.json["id"].as_i64().expect("id");
    let statuses = "must be one of new, contacted, trial_scheduled, converted, lost";
    let sources =
        "must be one of website, instagram, telegram, vk, phone, walk_in, referral, other";
    for (field, expected) in [("status", statuses), ("source", sources)] {
        for bad in [
            json!("bogus"),
            json!("NEW"),
            json!("Website"),
            json!("new\u{16}"),
            json!(""),
        ] {
            let mut body = valid_admin_form();
            body[field] = bad.clone();
            for req in [
                admin(TestRequest::post().uri(LEADS).set_json(body)),
                admin(
                    TestRequest::patch()
                        .uri(&format!("{LEADS}/{id}"))
                        .set_json(json!({ field: bad })),
                ),
            ] {
                let r = call(&app, req).await;
                assert_field_error(&r, field, &format!("{field} = {bad}"));
                assert_eq!(r.json["error"]["fields"][field], json!([expected]));
            }
        }
        for wrong_type in [json!(1), json!(true), json!(["new"]), json!({"a": 1})] {
            let mut body = valid_admin_form();
            body[field] = wrong_type.clone();
            let r = call(&app, admin(TestRequest::post().uri(LEADS).set_json(body))).await;
            r.assert_error(400, "invalid_json");
            assert_eq!(
                r.json["error"]["message"],
                format!("{field} must be a string"),
                "{wrong_type}"
            );
        }
    }
    assert_eq!(total(&app).await, 1, "nothing stored");
}

async fn error_messages_name_the_field_and_never_echo_input_or_rust_types(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let cases = [
        (
            json!({"name": "x", "phone": "+79161112255", "consent": true, "location_id": "1"}),
            "location_id must be an integer",
        ),
        (
            json!({"name": "x", "phone": "+79161112255", "consent": "yes"}),
            "consent must be true or false",
        ),
        (
            json!({"name": 12, "phone": "+79161112255", "consent": true}),
            "name must be a string",
        ),
    ];
    for (body, message) in cases {
        let r = call(
            &app,
            TestRequest::post().uri("/api/v1/leads").set_json(body),
        )
        .await;
        r.assert_error(400, "invalid_json");
        assert_eq!(r.json["error"]["message"], message);
    }
    let leaky = [
        admin(
            TestRequest::post()
                .uri(LEADS)
                .set_json(json!({"secret_field_xyz": 1})),
        ),
        admin(
            TestRequest::post()
                .uri(LEADS)
                .set_json(json!({"status": "secret-value"})),
        ),
        admin(
            TestRequest::post()
                .uri(LEADS)
                .set_json(json!({"location_id": "secret-value"})),
        ),
        TestRequest::post()
            .uri("/api/v1/leads")
            .insert_header(("content-type", "application/json"))
            .set_payload("{\"name\": \"secret-value"),
        admin(TestRequest::get().uri(&format!("{LEADS}?status=secret-value"))),
        admin(TestRequest::get().uri(&format!("{LEADS}?source=secret-value"))),
    ];
    for req in leaky {
        let r = call(&app, req).await;
        assert!(r.status.is_client_error(), "{}", r.json);
        let text = r.json["error"].to_string();
        for leak in [
            "secret-value",
            "i64",
            "Option<",
            "expected",
            "line 1",
            "column",
            "variant",
        ] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
    }
    // An unknown field is named (it is one of ours to name, not free text).
    let r = call(
        &app,
        admin(TestRequest::post().uri(LEADS).set_json(json!({"zzz": 1}))),
    )
    .await;
    assert_eq!(r.json["error"]["message"], "unknown field zzz");
}

async fn integer_valued_numbers_with_a_fraction_are_accepted(backend: Backend) {
    let t = TestApp::new(backend);
    let location = t.catalog().locations[0].id;
    let app = t.service().await;
    let body = format!(
        r#"{{"name": "Анна", "phone": "+79161112255", "consent": true, "location_id": {location}.0}}"#
    );
    let r = call(
        &app,
        TestRequest::post()
            .uri("/api/v1/leads")
            .insert_header(("content-type", "application/json"))
            .set_payload(body),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let id = r.json["id"].as_i64().expect("id");
    let stored = call(
        &app,
        admin(TestRequest::get().uri(&format!("{LEADS}/{id}"))),
    )
    .await;
    assert_eq!(
        stored.json["location_id"], location,
        "the value was read, not dropped"
    );
}

/// Every GET path of the OpenAPI document with `{id}` filled in.
async fn get_paths<S, B>(app: &S) -> Vec<String>
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let doc = get(app, "/api/v1/openapi.json").await.json;
    let paths = doc["paths"].as_object().expect("paths");
    let mut out: Vec<String> = paths
        .iter()
        .filter(|(_, ops)| ops.get("get").is_some())
        .map(|(path, _)| path.replace("{id}", "1"))
        .collect();
    out.push("/docs/".to_owned());
    out.push("/docs/index.html".to_owned());
    out
}

async fn every_get_route_answers_head_and_a_405_allows_head(backend: Backend) {
    let t = TestApp::new(backend);
    t.catalog();
    let app = t.service().await;
    let paths = get_paths(&app).await;
    assert!(paths.len() > 10, "{paths:?}");
    for path in paths {
        let g = call(&app, admin(TestRequest::get().uri(&path))).await;
        let h = call(
            &app,
            admin(TestRequest::default().method(Method::HEAD).uri(&path)),
        )
        .await;
        assert_eq!(h.status, g.status, "HEAD {path}");
        assert_ne!(h.status, 405, "HEAD {path}");
        assert_eq!(
            h.header("content-type"),
            g.header("content-type"),
            "HEAD {path}"
        );
        assert_eq!(h.header("etag"), g.header("etag"), "HEAD {path}");
    }
    // A 405 lists HEAD wherever GET is allowed.
    let r = call(&app, TestRequest::put().uri("/api/v1/locations")).await;
    r.assert_error(405, "method_not_allowed");
    let allow = r.header("allow").expect("Allow");
    assert!(allow.contains("GET") && allow.contains("HEAD"), "{allow}");
    let r = call(&app, TestRequest::get().uri("/api/v1/leads")).await;
    r.assert_error(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
}

async fn preconditions_on_patch_and_delete_follow_rfc_9110(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let created = call(
        &app,
        admin(TestRequest::post().uri(LEADS).set_json(valid_admin_form())),
    )
    .await;
    let id = created.json["id"].as_i64().expect("id");
    let v1 = created.header("etag").expect("etag").to_owned();
    let uri = format!("{LEADS}/{id}");
    let patched = call(
        &app,
        admin(
            TestRequest::patch()
                .uri(&uri)
                .insert_header(("if-match", v1.as_str()))
                .set_json(json!({"notes": "v2"})),
        ),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.json);
    let v2 = patched.header("etag").expect("etag").to_owned();

    // A stale, unquoted, weak or foreign tag: 412 on PATCH and DELETE, nothing changes.
    let unquoted = v2.trim_matches('"').to_owned();
    let weak = format!("W/{v2}");
    for tag in [
        v1.as_str(),
        unquoted.as_str(),
        weak.as_str(),
        "\"lead-999-v2\"",
        "null",
    ] {
        for req in [
            TestRequest::patch()
                .uri(&uri)
                .set_json(json!({"notes": "x"})),
            TestRequest::delete().uri(&uri),
        ] {
            let r = call(&app, admin(req.insert_header(("if-match", tag)))).await;
            r.assert_error(412, "precondition_failed");
        }
    }
    let now = call(&app, admin(TestRequest::get().uri(&uri))).await;
    assert_eq!(
        (now.status.as_u16(), now.json["notes"].as_str()),
        (200, Some("v2"))
    );

    // An unquoted tag does not match If-None-Match either: the full answer comes back.
    let r = call(
        &app,
        admin(
            TestRequest::get()
                .uri(&uri)
                .insert_header(("if-none-match", unquoted.as_str())),
        ),
    )
    .await;
    assert_eq!(r.status, 200);

    // A precondition on a missing lead is a 404, not a 412.
    for req in [
        TestRequest::patch()
            .uri(&format!("{LEADS}/999999"))
            .set_json(json!({"notes": "x"})),
        TestRequest::delete().uri(&format!("{LEADS}/999999")),
    ] {
        call(&app, admin(req.insert_header(("if-match", v2.as_str()))))
            .await
            .assert_error(404, "not_found");
    }

    // The current tag lets the erasure through.
    let r = call(
        &app,
        admin(
            TestRequest::delete()
                .uri(&uri)
                .insert_header(("if-match", v2.as_str())),
        ),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.json);
}

async fn a_preflight_from_a_foreign_origin_is_a_403_in_the_contract_shape(backend: Backend) {
    let t = TestApp::with(backend, |s| {
        s.cors_origins = vec!["https://cohai.example".to_owned()];
    });
    let app = t.service().await;
    let preflight = |origin: &str| {
        TestRequest::default()
            .method(Method::OPTIONS)
            .uri("/api/v1/locations")
            .insert_header(("origin", origin.to_owned()))
            .insert_header(("access-control-request-method", "GET"))
    };
    let r = call(&app, preflight("http://evil.example")).await;
    r.assert_error(403, "forbidden");
    assert!(
        r.json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("origin")),
        "{}",
        r.json
    );
    assert!(r.header("access-control-allow-origin").is_none());
    let ok = call(&app, preflight("https://cohai.example")).await;
    assert!(ok.status.is_success(), "{}", ok.status);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://cohai.example")
    );
}

async fn labelled_counters_exist_at_zero_and_odd_methods_share_one_label(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let metrics = get(&app, "/metrics").await;
    let text = String::from_utf8_lossy(&metrics.body).to_string();
    for source in [
        "website",
        "instagram",
        "telegram",
        "vk",
        "phone",
        "walk_in",
        "referral",
        "other",
    ] {
        assert!(
            text.contains(&format!(
                "cohai_leads_created_total{{source=\"{source}\"}} 0"
            )),
            "{source}: {text}"
        );
    }
    for i in 0..100 {
        let method =
            Method::from_bytes(format!("M{i}{}", "X".repeat(2000)).as_bytes()).expect("a token");
        call(&app, TestRequest::default().method(method).uri("/health")).await;
    }
    let after = get(&app, "/metrics").await;
    let text = String::from_utf8_lossy(&after.body).to_string();
    assert!(text.contains("method=\"other\""), "{text}");
    assert!(!text.contains("XXXX"), "no made-up method became a label");
    assert!(
        after.body.len() < metrics.body.len() + 8_000,
        "metrics grew from {} to {} bytes",
        metrics.body.len(),
        after.body.len()
    );
}

e2e_tests!(
    control_characters_in_any_body_text_field_are_a_422_and_store_nothing,
    control_characters_and_repeats_in_query_parameters_are_a_400_naming_them,
    two_authorization_headers_are_a_401,
    unknown_enum_values_are_a_422_and_wrong_types_a_400,
    error_messages_name_the_field_and_never_echo_input_or_rust_types,
    integer_valued_numbers_with_a_fraction_are_accepted,
    every_get_route_answers_head_and_a_405_allows_head,
    preconditions_on_patch_and_delete_follow_rfc_9110,
    a_preflight_from_a_foreign_origin_is_a_403_in_the_contract_shape,
    labelled_counters_exist_at_zero_and_odd_methods_share_one_label,
);
