//! Roles (API.md §3.1): every admin operation of the OpenAPI document, for each role — so a
//! route added without its authorisation declaration fails here.

use actix_web::test::TestRequest;
use chrono::Utc;
use cohai_domain::NewLead;
use cohai_domain::{LeadScope, Role};
use cohai_e2e::{ADMIN_KEY, Backend, TestApp, TestLeads, builders, call, e2e_tests, get};
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
    S: cohai_e2e::TestService<B>,
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
    let doc = get(&app, "/api/v1/openapi.json").await.json;
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
                let documented = &doc["paths"][path][method]["responses"]["403"];
                assert!(documented.is_object(), "{label} documents its 403");
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

fn as_key(key: &str, req: TestRequest) -> TestRequest {
    req.insert_header(("authorization", format!("Bearer {key}")))
}

/// Two studios (the scoped key "ivan" is limited to the first, id 1) with one lead each, and
/// a lead without a studio; returns `(inside, outside, without)` lead ids.
fn leads_in_two_studios(t: &TestApp) -> (i64, i64, i64) {
    let catalog = t.catalog();
    let (mine, other) = (&catalog.locations[0], &catalog.locations[1]);
    assert_eq!(mine.id, 1, "the scoped key's location");
    let now = Utc::now();
    let in_studio = |name: &str, phone: &str, location_id: Option<i64>| {
        let new = NewLead {
            location_id,
            ..builders::lead(name, phone, now)
        };
        t.repos.leads.created(&new, "website").id
    };
    (
        in_studio("Анна", "+79161234567", Some(mine.id)),
        in_studio("Борис", "+79031112233", Some(other.id)),
        in_studio("Вера", "+79261112233", None),
    )
}

async fn a_scoped_manager_sees_and_changes_only_its_studios_leads(backend: Backend) {
    let t = app_with_roles(backend);
    let (inside, outside, without) = leads_in_two_studios(&t);
    let app = t.service().await;
    let scoped = |req| as_key(SCOPED_KEY, req);

    // Lists, export, stats and personal data leave the other leads out.
    let list = call(&app, scoped(TestRequest::get().uri("/api/v1/admin/leads"))).await;
    assert_eq!(list.status, 200, "{}", list.json);
    let ids: Vec<i64> = list.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|l| l["id"].as_i64())
        .collect();
    assert_eq!(ids, [inside]);
    assert_eq!(list.json["total"], 1);
    let all = call(
        &app,
        as_key(ADMIN_KEY, TestRequest::get().uri("/api/v1/admin/leads")),
    )
    .await;
    assert_eq!(all.json["total"], 3, "an admin sees all three");

    let csv = call(
        &app,
        scoped(TestRequest::get().uri("/api/v1/admin/leads/export.csv")),
    )
    .await;
    assert_eq!(csv.status, 200);
    let text = String::from_utf8(csv.body.clone()).expect("utf-8");
    assert_eq!(text.lines().count(), 2, "header and one lead: {text}");
    assert!(text.contains("Анна") && !text.contains("Борис") && !text.contains("Вера"));

    let stats = call(
        &app,
        scoped(TestRequest::get().uri("/api/v1/admin/leads/stats")),
    )
    .await;
    assert_eq!(stats.status, 200, "{}", stats.json);
    assert_eq!(stats.json["total"], 1);
    for (phone, expected) in [("%2B79161234567", 1), ("%2B79031112233", 0)] {
        let data = call(
            &app,
            scoped(TestRequest::get().uri(&format!("/api/v1/admin/personal-data?phone={phone}"))),
        )
        .await;
        assert_eq!(data.status, 200, "{}", data.json);
        assert_eq!(
            data.json["leads"].as_array().map(Vec::len),
            Some(expected),
            "{phone}"
        );
    }

    // Another studio's lead, or one without a studio, is "not found" for every operation.
    for id in [outside, without] {
        let uri = format!("/api/v1/admin/leads/{id}");
        let requests = [
            TestRequest::get().uri(&uri),
            TestRequest::get().uri(&format!("{uri}/events")),
            TestRequest::patch()
                .uri(&uri)
                .set_json(json!({"status": "lost"})),
            // Even with an invalid value: the lead's existence is not given away by a 422.
            TestRequest::patch()
                .uri(&uri)
                .set_json(json!({"name": " "})),
            TestRequest::delete().uri(&uri),
        ];
        for req in requests {
            let r = call(&app, scoped(req)).await;
            assert_eq!(r.status, 404, "lead {id}: {}", r.json);
            assert_eq!(r.json["error"]["code"], "not_found");
        }
        let still = call(&app, as_key(ADMIN_KEY, TestRequest::get().uri(&uri))).await;
        assert_eq!(still.status, 200, "nothing changed");
        assert_eq!(still.json["status"], "new");
    }

    // Its own lead it can work, but not move elsewhere.
    let uri = format!("/api/v1/admin/leads/{inside}");
    let r = call(
        &app,
        scoped(
            TestRequest::patch()
                .uri(&uri)
                .set_json(json!({"status": "contacted"})),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    for location in [json!(2), json!(null)] {
        let r = call(
            &app,
            scoped(
                TestRequest::patch()
                    .uri(&uri)
                    .set_json(json!({"location_id": location})),
            ),
        )
        .await;
        assert_eq!(r.status, 422, "{}", r.json);
        assert!(
            r.json["error"]["fields"]["location_id"].is_array(),
            "{}",
            r.json
        );
    }
    let r = call(
        &app,
        scoped(TestRequest::get().uri(&format!("{uri}/events"))),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = call(&app, scoped(TestRequest::delete().uri(&uri))).await;
    assert_eq!(r.status, 204);
}

async fn a_scoped_manager_creates_leads_only_in_its_studios(backend: Backend) {
    let t = app_with_roles(backend);
    leads_in_two_studios(&t);
    let app = t.service().await;
    let create = |body: serde_json::Value| {
        as_key(
            SCOPED_KEY,
            TestRequest::post()
                .uri("/api/v1/admin/leads")
                .set_json(body),
        )
    };
    for body in [
        json!({"name": "Гена", "phone": "+79051112233", "location_id": 2}),
        json!({"name": "Гена", "phone": "+79051112233"}),
    ] {
        let r = call(&app, create(body.clone())).await;
        assert_eq!(r.status, 422, "{body}: {}", r.json);
        assert!(
            r.json["error"]["fields"]["location_id"].is_array(),
            "{}",
            r.json
        );
    }
    let r = call(
        &app,
        create(json!({"name": "Гена", "phone": "+79051112233", "location_id": 1})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["location_id"], 1);
}

async fn a_lead_is_assigned_only_to_a_manager_of_its_studio(backend: Backend) {
    let t = app_with_roles(backend);
    let (inside, outside, without) = leads_in_two_studios(&t);
    let app = t.service().await;
    let assign = |id: i64, to: &str| {
        as_key(
            ADMIN_KEY,
            TestRequest::patch()
                .uri(&format!("/api/v1/admin/leads/{id}"))
                .set_json(json!({"assignee": to})),
        )
    };
    for id in [outside, without] {
        let r = call(&app, assign(id, "ivan")).await;
        assert_eq!(r.status, 422, "{}", r.json);
        assert!(
            r.json["error"]["fields"]["assignee"].is_array(),
            "{}",
            r.json
        );
    }
    let r = call(&app, assign(inside, "ivan")).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["assignee"], "ivan");
    // An unlimited manager may own any lead.
    let r = call(&app, assign(outside, "olga")).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let r = call(
        &app,
        as_key(
            ADMIN_KEY,
            TestRequest::post().uri("/api/v1/admin/leads").set_json(
                json!({"name": "Гена", "phone": "+79051112233", "location_id": 2, "assignee": "ivan"}),
            ),
        ),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.json);
    assert!(r.json["error"]["fields"]["assignee"].is_array());
}

e2e_tests!(
    every_admin_operation_admits_exactly_the_roles_the_contract_names,
    a_manager_is_refused_before_the_body_is_read,
    a_scoped_manager_sees_and_changes_only_its_studios_leads,
    a_scoped_manager_creates_leads_only_in_its_studios,
    a_lead_is_assigned_only_to_a_manager_of_its_studio,
);
