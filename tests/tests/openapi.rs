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
    ("post", "/api/v1/leads"),
    ("get", "/api/v1/admin/leads"),
    ("post", "/api/v1/admin/leads"),
    ("get", "/api/v1/admin/leads/{id}"),
    ("patch", "/api/v1/admin/leads/{id}"),
    ("delete", "/api/v1/admin/leads/{id}"),
    ("get", "/api/v1/admin/leads/{id}/events"),
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
    assert_eq!(
        checked,
        6 * 3,
        "six admin operations, three bad credentials each"
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
