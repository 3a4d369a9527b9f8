//! The OpenAPI document: it covers the contract, and `docs/openapi.json` is what the server
//! serves (regenerate with `make openapi`).

use std::path::PathBuf;

use cohai_e2e::{Backend, TestApp, get};

/// Every operation of the contract (`shared/API.md`).
const CONTRACT: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/test-error"),
    ("get", "/api/v1/locations"),
    ("get", "/api/v1/locations/{id}"),
    ("get", "/api/v1/program-types"),
    ("get", "/api/v1/trainers"),
    ("get", "/api/v1/trainers/{id}"),
    ("get", "/api/v1/memberships"),
    ("get", "/api/v1/memberships/{id}"),
    ("get", "/api/v1/schedule"),
    ("get", "/api/v1/schedule.ics"),
    ("post", "/api/v1/leads"),
    ("get", "/api/v1/admin/leads"),
    ("post", "/api/v1/admin/leads"),
    ("get", "/api/v1/admin/leads/{id}"),
    ("patch", "/api/v1/admin/leads/{id}"),
    ("delete", "/api/v1/admin/leads/{id}"),
    ("get", "/api/v1/admin/leads/{id}/events"),
    ("get", "/api/v1/admin/leads/export.csv"),
    ("get", "/api/v1/admin/leads/stats"),
    ("get", "/api/v1/admin/personal-data"),
    ("get", "/api/v1/admin/locations"),
    ("post", "/api/v1/admin/locations"),
    ("get", "/api/v1/admin/locations/{id}"),
    ("patch", "/api/v1/admin/locations/{id}"),
    ("delete", "/api/v1/admin/locations/{id}"),
    ("get", "/api/v1/admin/program-types"),
    ("post", "/api/v1/admin/program-types"),
    ("get", "/api/v1/admin/program-types/{id}"),
    ("patch", "/api/v1/admin/program-types/{id}"),
    ("delete", "/api/v1/admin/program-types/{id}"),
    ("get", "/api/v1/admin/trainers"),
    ("post", "/api/v1/admin/trainers"),
    ("get", "/api/v1/admin/trainers/{id}"),
    ("patch", "/api/v1/admin/trainers/{id}"),
    ("delete", "/api/v1/admin/trainers/{id}"),
    ("get", "/api/v1/admin/memberships"),
    ("post", "/api/v1/admin/memberships"),
    ("get", "/api/v1/admin/memberships/{id}"),
    ("patch", "/api/v1/admin/memberships/{id}"),
    ("delete", "/api/v1/admin/memberships/{id}"),
    ("get", "/api/v1/admin/class-sessions"),
    ("post", "/api/v1/admin/class-sessions"),
    ("get", "/api/v1/admin/class-sessions/{id}"),
    ("patch", "/api/v1/admin/class-sessions/{id}"),
    ("delete", "/api/v1/admin/class-sessions/{id}"),
    ("get", "/api/v1/admin/audit"),
    ("get", "/api/v1/admin/timetable-slots"),
    ("post", "/api/v1/admin/timetable-slots"),
    ("get", "/api/v1/admin/timetable-slots/{id}"),
    ("patch", "/api/v1/admin/timetable-slots/{id}"),
    ("delete", "/api/v1/admin/timetable-slots/{id}"),
    ("post", "/api/v1/admin/timetable-slots/{id}/apply"),
    ("post", "/api/v1/admin/timetable/generate"),
    ("get", "/api/v1/admin/webhooks"),
    ("post", "/api/v1/admin/webhooks"),
    ("get", "/api/v1/admin/webhooks/{id}"),
    ("patch", "/api/v1/admin/webhooks/{id}"),
    ("delete", "/api/v1/admin/webhooks/{id}"),
    ("get", "/api/v1/admin/webhooks/{id}/deliveries"),
    (
        "post",
        "/api/v1/admin/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    ),
];

async fn served_document() -> serde_json::Value {
    let t = TestApp::new(Backend::Sqlite);
    let app = t.service().await;
    let r = get(&app, "/api/v1/openapi.json").await;
    assert_eq!(r.status, 200);
    assert!(r.header("etag").is_some());
    r.json
}

#[actix_web::test]
async fn document_lists_every_operation_of_the_contract() {
    let doc = served_document().await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    for (method, path) in CONTRACT {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is missing"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|p| p.as_object().map_or(0, |o| o.len()))
        .sum();
    assert_eq!(documented, CONTRACT.len(), "no undocumented extras");
}

#[actix_web::test]
async fn every_operation_has_a_unique_descriptive_operation_id() {
    let doc = served_document().await;
    let mut seen = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            // lowerCamelCase, a verb first: `listLeads`, not the handler's `list`.
            assert!(
                id.len() > 6
                    && id.starts_with(|c: char| c.is_ascii_lowercase())
                    && id.chars().all(|c| c.is_ascii_alphanumeric())
                    && id.chars().any(|c| c.is_ascii_uppercase()),
                "{method} {path}: operationId {id:?} is not descriptive lowerCamelCase"
            );
            if let Some(other) = seen.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("operationId {id:?} is used by {other} and {method} {path}");
            }
        }
    }
    assert_eq!(seen.len(), CONTRACT.len());
    assert_eq!(seen["getLead"], "get /api/v1/admin/leads/{id}");
    assert_eq!(seen["listLocations"], "get /api/v1/locations");
}

/// The schema of every parameter of every operation, with the operation's label.
fn parameters(doc: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            for p in op["parameters"].as_array().into_iter().flatten() {
                out.push((format!("{method} {path} {}", p["name"]), p.clone()));
            }
        }
    }
    out
}

/// The schema a `$ref` points to, or the schema itself.
fn resolve<'a>(doc: &'a serde_json::Value, schema: &'a serde_json::Value) -> &'a serde_json::Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[actix_web::test]
async fn parameters_declare_what_the_server_enforces() {
    // A client generated from the document must not send what the server refuses: an id of
    // 0, an empty `sort=` or `from=`, `If-Match: null`.
    let doc = served_document().await;
    let params = parameters(&doc);
    assert!(!params.is_empty());
    for (label, p) in &params {
        let name = p["name"].as_str().expect("name");
        let schema = resolve(&doc, &p["schema"]);
        assert!(
            !schema["type"]
                .as_array()
                .is_some_and(|t| t.contains(&"null".into())),
            "{label}: a parameter is never null"
        );
        if name == "id" || name.ends_with("_id") {
            assert_eq!(schema["minimum"], 1, "{label}: ids are positive");
        }
        if schema["type"] == "string" {
            assert!(
                schema["pattern"].is_string() || schema["enum"].is_array(),
                "{label}: a free string parameter needs a pattern or an enum"
            );
        }
        if schema["type"].is_null() {
            assert!(
                schema["anyOf"].is_array() || schema["enum"].is_array(),
                "{label}: {schema}"
            );
        }
        if let Some(values) = schema["enum"].as_array() {
            assert!(!values.contains(&"".into()), "{label}: no empty enum value");
        }
    }
    let date = &doc["components"]["schemas"]["DateTimeOrDate"]["anyOf"];
    assert_eq!(date[0]["format"], "date-time");
    assert_eq!(date[1]["format"], "date");
}

#[actix_web::test]
async fn patch_fields_that_cannot_be_cleared_are_not_nullable() {
    let doc = served_document().await;
    let patch = &doc["components"]["schemas"]["LeadPatch"]["properties"];
    let nullable = |field: &str| {
        let f = &patch[field];
        f["type"]
            .as_array()
            .is_some_and(|t| t.contains(&"null".into()))
            || f["oneOf"]
                .as_array()
                .is_some_and(|o| o.iter().any(|s| s["type"] == "null"))
    };
    for field in ["name", "phone", "status", "source"] {
        assert!(patch[field].is_object(), "{field}");
        assert!(!nullable(field), "{field} must not be nullable");
    }
    for field in [
        "email",
        "message",
        "notes",
        "location_id",
        "program_type_id",
        "class_session_id",
    ] {
        assert!(nullable(field), "{field} is cleared with null");
    }
    for form in ["LeadForm", "AdminLeadForm"] {
        let form = &doc["components"]["schemas"][form];
        for field in ["name", "phone"] {
            assert_eq!(form["properties"][field]["type"], "string", "{field}");
            assert!(
                form["required"]
                    .as_array()
                    .expect("required")
                    .contains(&field.into())
            );
        }
    }
}

#[actix_web::test]
async fn admin_operations_require_the_bearer_scheme_and_errors_use_the_error_schema() {
    let doc = served_document().await;
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for (method, path) in CONTRACT {
        let op = &doc["paths"][path][method];
        if path.starts_with("/api/v1/admin") {
            assert_eq!(
                op["security"],
                serde_json::json!([{"bearer": []}]),
                "{method} {path}"
            );
            assert!(
                op["responses"]["401"].is_object(),
                "{method} {path} documents 401"
            );
        }
        for (status, response) in op["responses"].as_object().expect("responses") {
            if status.starts_with('4') || status.starts_with('5') {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/ErrorResponse",
                    "{method} {path} {status}"
                );
            }
        }
    }
}

#[actix_web::test]
async fn docs_copy_matches_what_the_server_serves() {
    let doc = served_document().await;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    let pretty = serde_json::to_string_pretty(&doc).expect("serialise") + "\n";
    if std::env::var_os("COHAI_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, pretty).expect("write docs/openapi.json");
        return;
    }
    let stored =
        std::fs::read_to_string(&path).expect("docs/openapi.json exists (run `make openapi`)");
    let stored: serde_json::Value =
        serde_json::from_str(&stored).expect("docs/openapi.json is JSON");
    assert!(
        stored == doc,
        "docs/openapi.json is out of date: run `make openapi`"
    );
}

#[actix_web::test]
async fn every_documented_admin_operation_refuses_requests_without_a_valid_key() {
    let doc = served_document().await;
    let t = TestApp::new(Backend::Sqlite);
    let app = t.service().await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/v1/admin") {
            continue;
        }
        let uri = path.replace("{id}", "1");
        for method in item.as_object().expect("operations").keys() {
            let method = actix_web::http::Method::from_bytes(method.to_uppercase().as_bytes())
                .expect("method");
            for auth in [
                None,
                Some("Bearer wrong-key"),
                Some("Basic YWRtaW46YWRtaW4="),
            ] {
                let mut req = actix_web::test::TestRequest::default()
                    .method(method.clone())
                    .uri(&uri);
                if let Some(auth) = auth {
                    req = req.insert_header(("authorization", auth));
                }
                let r = cohai_e2e::call(&app, req.set_json(serde_json::json!({}))).await;
                r.assert_error(401, "unauthorized");
                assert_eq!(
                    r.header("www-authenticate"),
                    Some("Bearer"),
                    "{method} {uri}"
                );
                checked += 1;
            }
        }
    }
    let admin_operations = CONTRACT
        .iter()
        .filter(|(_, path)| path.starts_with("/api/v1/admin"))
        .count();
    assert_eq!(
        checked,
        admin_operations * 3,
        "every admin operation of the contract, three bad credentials each"
    );
}

#[actix_web::test]
async fn swagger_ui_is_served_from_the_binary() {
    let t = TestApp::new(Backend::Sqlite);
    let app = t.service().await;
    let r = get(&app, "/docs").await;
    assert_eq!(
        (r.status.as_u16(), r.header("location")),
        (308, Some("/docs/"))
    );
    let r = get(&app, "/docs/").await;
    assert_eq!(r.status, 200);
    let html = String::from_utf8_lossy(&r.body);
    assert!(html.contains("swagger"), "{html}");
    assert!(!html.contains("cdn") && !html.contains("unpkg"), "no CDN");
    let init = get(&app, "/docs/swagger-initializer.js").await;
    assert!(String::from_utf8_lossy(&init.body).contains("/api/v1/openapi.json"));
}

/// The catalog admin resources: the collection, its `POST` and `PATCH` body schemas, and the
/// fields API.md §6 requires on `POST` (every non-nullable field without a default).
const CATALOG_CREATE: &[(&str, &str, &str, &[&str])] = &[
    (
        "/api/v1/admin/locations",
        "NewLocationInput",
        "LocationInput",
        &["name", "address", "city", "timezone"],
    ),
    (
        "/api/v1/admin/program-types",
        "NewProgramTypeInput",
        "ProgramTypeInput",
        &["name", "duration_minutes", "level"],
    ),
    (
        "/api/v1/admin/trainers",
        "NewTrainerInput",
        "TrainerInput",
        &["full_name"],
    ),
    (
        "/api/v1/admin/memberships",
        "NewMembershipPlanInput",
        "MembershipPlanInput",
        &[
            "location_id",
            "name",
            "price_minor",
            "currency",
            "validity_days",
        ],
    ),
];

/// The component a request body of `method path` refers to.
fn request_body_schema<'a>(
    doc: &'a serde_json::Value,
    method: &str,
    path: &str,
) -> (&'a str, &'a serde_json::Value) {
    let body = &doc["paths"][path][method]["requestBody"];
    assert_eq!(body["required"], true, "{method} {path}");
    let reference = body["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap_or_else(|| panic!("{method} {path}: the body is a named schema"));
    let name = reference.trim_start_matches("#/components/schemas/");
    (name, &doc["components"]["schemas"][name])
}

fn is_nullable(field: &serde_json::Value) -> bool {
    field["type"]
        .as_array()
        .is_some_and(|t| t.contains(&"null".into()))
}

#[actix_web::test]
async fn each_catalog_create_schema_requires_the_fields_the_contract_names() {
    let doc = served_document().await;
    for (path, create, update, required) in CATALOG_CREATE {
        let (name, post) = request_body_schema(&doc, "post", path);
        assert_eq!(name, *create, "POST {path}");
        let mut listed: Vec<&str> = post["required"]
            .as_array()
            .unwrap_or_else(|| panic!("POST {path} lists required fields"))
            .iter()
            .map(|f| f.as_str().expect("a field name"))
            .collect();
        listed.sort_unstable();
        let mut expected = required.to_vec();
        expected.sort_unstable();
        assert_eq!(listed, expected, "POST {path}");
        assert_eq!(post["additionalProperties"], false, "POST {path}");
        let properties = post["properties"].as_object().expect("properties");
        for field in *required {
            let schema = &properties[*field];
            assert!(schema.is_object(), "POST {path}: {field} is declared");
            assert!(!is_nullable(schema), "POST {path}: {field} cannot be null");
        }
        assert_eq!(properties["active"]["default"], true, "POST {path}");

        // `PATCH` keeps its own schema: the same fields, none required, unknown ones refused.
        let (name, patch) = request_body_schema(&doc, "patch", &format!("{path}/{{id}}"));
        assert_eq!(name, *update, "PATCH {path}/{{id}}");
        assert!(
            patch["required"].is_null(),
            "PATCH {path}/{{id}} requires nothing"
        );
        assert_eq!(patch["additionalProperties"], false, "PATCH {path}/{{id}}");
        assert_eq!(
            patch["properties"], post["properties"],
            "PATCH and POST of {path} declare the same fields and rules"
        );
    }
}

#[actix_web::test]
async fn catalog_bodies_declare_the_rules_the_server_enforces() {
    use cohai_services::catalog_admin::{
        MULTI_LINE_PATTERN, NAME_PATTERN, PHONE_PATTERN, PHOTO_URL_PATTERN, TIMEZONE_PATTERN,
    };
    let doc = served_document().await;
    let schemas = &doc["components"]["schemas"];
    let field = |schema: &str, field: &str| schemas[schema]["properties"][field].clone();
    for (schema, name) in [
        ("NewLocationInput", "name"),
        ("NewLocationInput", "address"),
        ("NewLocationInput", "city"),
        ("NewProgramTypeInput", "name"),
        ("NewTrainerInput", "full_name"),
        ("NewMembershipPlanInput", "name"),
    ] {
        let f = field(schema, name);
        assert_eq!(f["pattern"], NAME_PATTERN, "{schema}.{name}");
        assert_eq!(
            (f["minLength"].clone(), f["maxLength"].clone()),
            (1.into(), 200.into())
        );
    }
    for (schema, text) in [
        ("NewProgramTypeInput", "description"),
        ("NewTrainerInput", "bio"),
        ("NewMembershipPlanInput", "description"),
    ] {
        let f = field(schema, text);
        assert_eq!(f["pattern"], MULTI_LINE_PATTERN, "{schema}.{text}");
        assert_eq!(f["maxLength"], 5000, "{schema}.{text}");
        assert!(is_nullable(&f), "{schema}.{text}");
    }
    assert_eq!(field("NewLocationInput", "phone")["pattern"], PHONE_PATTERN);
    assert_eq!(
        field("NewTrainerInput", "photo_url")["pattern"],
        PHOTO_URL_PATTERN
    );
    let program = field("NewProgramTypeInput", "duration_minutes");
    assert_eq!(
        (program["minimum"].clone(), program["maximum"].clone()),
        (15.into(), 480.into())
    );
    let plan = |name: &str| field("NewMembershipPlanInput", name);
    assert_eq!(plan("price_minor")["minimum"], 0);
    assert_eq!(plan("currency")["pattern"], "^[A-Z]{3}$");
    assert_eq!(plan("visits")["minimum"], 1);
    assert!(is_nullable(&plan("visits")));
    assert_eq!(plan("validity_days")["minimum"], 1);
    assert_eq!(plan("location_id")["minimum"], 1);

    // Every character the server counts as visible satisfies a name's pattern, one
    // character at a time over all of Unicode: the document never refuses a name the server
    // takes. (The converse does not hold: see `NAME_PATTERN`.)
    let name = regex::Regex::new(NAME_PATTERN).expect("the pattern compiles");
    let mut buf = [0u8; 4];
    let refused: Vec<String> = (0..=0x10FFFF_u32)
        .filter_map(char::from_u32)
        .filter(|c| cohai_domain::text::is_visible(*c) && !name.is_match(c.encode_utf8(&mut buf)))
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect();
    assert!(
        refused.is_empty(),
        "visible, yet refused by the pattern: {refused:?}"
    );

    // Every zone the server accepts fits the documented shape of a time-zone name.
    let timezone = field("NewLocationInput", "timezone");
    assert_eq!(timezone["pattern"], TIMEZONE_PATTERN);
    let shape = regex::Regex::new(TIMEZONE_PATTERN).expect("the pattern compiles");
    let longest = timezone["maxLength"].as_u64().expect("maxLength") as usize;
    for zone in chrono_tz::TZ_VARIANTS {
        let name = zone.name();
        assert!(shape.is_match(name) && name.len() <= longest, "{name}");
    }
    let url = regex::Regex::new(PHOTO_URL_PATTERN).expect("the pattern compiles");
    for ok in [
        "https://example.com/anna.jpg",
        "https://cdn-1.example.com:8443/a b?x#y",
    ] {
        assert!(url.is_match(ok), "{ok}");
    }
    for refused in [
        "",
        " ",
        "http://example.com/a.jpg",
        "https://",
        "https://u:p@example.com/",
        "https://1.2.3.4/",
    ] {
        assert!(!url.is_match(refused), "{refused:?}");
    }
}
