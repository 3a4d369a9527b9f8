//! Roles (API.md §3.1): every admin operation of the OpenAPI document, for each role — so a
//! route added without its authorisation declaration fails here.

use actix_web::test::TestRequest;
use cohai_domain::{LeadScope, Role};
use cohai_e2e::{ADMIN_KEY, Backend, TestApp, call, e2e_tests, get};
use cohai_web::{AdminKey, AdminKeys};
use serde_json::json;

const MANAGER_KEY: &str = "manager-secret";
const SCOPED_KEY: &str = "scoped-manager-secret";

fn app_with_roles(backend: Backend) -> TestApp {
    TestApp::with(backend, |s| {
        let manager = AdminKey::from_plain("olga", MANAGER_KEY)
            .and_then(|k| k.with_access(Role::Manager, LeadScope::All))
            .expect("manager key");
        let scoped = AdminKey::from_plain("ivan", SCOPED_KEY)
            .and_then(|k| k.with_access(Role::Manager, LeadScope::from_locations(Some(&[1]))))
            .expect("scoped key");
        s.admin_keys = AdminKeys::new(vec![
            AdminKey::from_plain("admin", ADMIN_KEY).expect("admin key"),
            manager,
            scoped,
        ])
        .expect("distinct names");
    })
}

/// Every admin operation of the served document, as `(method, path)`.
async fn admin_operations<S, B>(app: &S) -> Vec<(String, String)>
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let doc = get(app, "/api/v1/openapi.json").await.json;
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/v1/admin/") {
            continue;
        }
        for method in item.as_object().expect("operations").keys() {
            ops.push((method.clone(), path.clone()));
        }
    }
    assert!(ops.len() >= 20, "the document lists the admin API: {ops:?}");
    ops
}

/// A request for `method path` with every path parameter a (non-existent) id and an empty
/// JSON object as the body of a write: authorisation must be decided before either matters.
fn request(method: &str, path: &str, key: Option<&str>) -> TestRequest {
    let mut uri = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        uri.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        uri.push_str("999999");
        rest = &rest[close..];
    }
    uri.push_str(rest);
    let req = match method {
        "get" => TestRequest::get(),
        "post" => TestRequest::post().set_json(json!({})),
        "patch" => TestRequest::patch().set_json(json!({})),
        "delete" => TestRequest::delete(),
        other => panic!("unexpected method {other}"),
    }
    .uri(&uri);
    match key {
        Some(key) => req.insert_header(("authorization", format!("Bearer {key}"))),
        None => req,
    }
}

/// The operations a manager may use: the leads endpoints (§3.1).
fn is_lead_operation(path: &str) -> bool {
    path.starts_with("/api/v1/admin/leads") || path == "/api/v1/admin/personal-data"
}

async fn every_admin_operation_admits_exactly_the_roles_the_contract_names(backend: Backend) {
    let t = app_with_roles(backend);
    let app = t.service().await;
    let ops = admin_operations(&app).await;
    let mut lead_ops = 0;
    for (method, path) in &ops {
        let label = format!("{method} {path}");
        let anonymous = call(&app, request(method, path, None)).await;
        assert_eq!(anonymous.status, 401, "{label} without a key");
        assert_eq!(anonymous.json["error"]["code"], "unauthorized", "{label}");
        let wrong = call(&app, request(method, path, Some("not-a-key"))).await;
        assert_eq!(wrong.status, 401, "{label} with a wrong key");

        let admin = call(&app, request(method, path, Some(ADMIN_KEY))).await;
        assert!(
            ![401, 403, 500].contains(&admin.status.as_u16()),
            "{label} as admin: {} {}",
            admin.status,
            admin.json
        );
        for key in [MANAGER_KEY, SCOPED_KEY] {
            let manager = call(&app, request(method, path, Some(key))).await;
            if is_lead_operation(path) {
                assert!(
                    ![401, 403, 500].contains(&manager.status.as_u16()),
                    "{label} as a manager: {} {}",
                    manager.status,
                    manager.json
                );
            } else {
                assert_eq!(
                    manager.status, 403,
                    "{label} as a manager: {}",
                    manager.json
                );
                assert_eq!(manager.json["error"]["code"], "forbidden", "{label}");
            }
        }
        lead_ops += usize::from(is_lead_operation(path));
    }
    assert!(lead_ops >= 6, "the leads endpoints are among them");
}

async fn a_manager_is_refused_before_the_body_is_read(backend: Backend) {
    let t = app_with_roles(backend);
    let app = t.service().await;
    // Not JSON at all: a handler would say 400; the role check answers first.
    let r = call(
        &app,
        TestRequest::post()
            .uri("/api/v1/admin/locations")
            .insert_header(("authorization", format!("Bearer {MANAGER_KEY}")))
            .insert_header(("content-type", "application/json"))
            .set_payload("{not json"),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.json);
    let r = call(
        &app,
        TestRequest::post()
            .uri("/api/v1/admin/locations")
            .insert_header(("content-type", "application/json"))
            .set_payload("{not json"),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.json);
}

e2e_tests!(
    every_admin_operation_admits_exactly_the_roles_the_contract_names,
    a_manager_is_refused_before_the_body_is_read,
);
