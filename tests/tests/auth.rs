//! Bearer-key authentication of every admin endpoint, on both backends.

use actix_web::test::TestRequest;
use chrono::Utc;
use cohai_domain::LeadStatus;
use cohai_e2e::{ADMIN_KEY, Backend, TestApp, TestLeads, builders, call, e2e_tests};
use cohai_web::{AdminKey, AdminKeys};
use serde_json::json;

fn stored_lead(t: &TestApp) -> i64 {
    let new = builders::lead("Анна", "+79161234567", Utc::now());
    t.repos.leads.created(&new, "website").id
}

/// Builds a fresh request (a `TestRequest` is used up when sent).
type RequestFn = Box<dyn Fn() -> TestRequest>;

/// Every admin endpoint as `(label, request builder, status with the right key)`, for lead
/// `id`; the delete comes last.
fn endpoints(id: i64) -> Vec<(&'static str, RequestFn, u16)> {
    vec![
        (
            "list",
            Box::new(|| TestRequest::get().uri("/api/v1/admin/leads")),
            200,
        ),
        (
            "create",
            Box::new(|| {
                TestRequest::post()
                    .uri("/api/v1/admin/leads")
                    .set_json(json!({"name": "Борис", "phone": "+79031112233"}))
            }),
            201,
        ),
        (
            "get",
            Box::new(move || TestRequest::get().uri(&format!("/api/v1/admin/leads/{id}"))),
            200,
        ),
        (
            "patch",
            Box::new(move || {
                TestRequest::patch()
                    .uri(&format!("/api/v1/admin/leads/{id}"))
                    .set_json(json!({"status": "lost"}))
            }),
            200,
        ),
        (
            "events",
            Box::new(move || TestRequest::get().uri(&format!("/api/v1/admin/leads/{id}/events"))),
            200,
        ),
        (
            "delete",
            Box::new(move || TestRequest::delete().uri(&format!("/api/v1/admin/leads/{id}"))),
            204,
        ),
    ]
}

/// `Authorization` values that must not get in (`None`: no header).
fn bad_credentials() -> Vec<Option<String>> {
    vec![
        None,
        Some(String::new()),
        Some(format!("Basic {ADMIN_KEY}")),
        Some("Basic YWRtaW46dGVzdC1hZG1pbi1rZXk=".to_owned()),
        Some(format!("Token {ADMIN_KEY}")),
        Some(ADMIN_KEY.to_owned()),
        Some("Bearer".to_owned()),
        Some("Bearer ".to_owned()),
        Some("Bearer wrong-key".to_owned()),
        Some(format!("Bearer {}", ADMIN_KEY.to_uppercase())),
        Some(format!("Bearer {ADMIN_KEY}x")),
        Some(format!("Bearer {}", &ADMIN_KEY[..ADMIN_KEY.len() - 1])),
        Some(format!("Bearer{ADMIN_KEY}")),
    ]
}

fn with_credentials(req: TestRequest, credentials: Option<&str>) -> TestRequest {
    match credentials {
        Some(value) => req.insert_header(("authorization", value.to_owned())),
        None => req,
    }
}

async fn every_admin_endpoint_requires_a_valid_bearer_key(backend: Backend) {
    let t = TestApp::new(backend);
    let id = stored_lead(&t);
    let app = t.service().await;
    for (label, request, _) in endpoints(id) {
        for credentials in bad_credentials() {
            let r = call(&app, with_credentials(request(), credentials.as_deref())).await;
            let case = format!("{label} with {credentials:?}");
            assert_eq!(r.status, 401, "{case}: {}", r.json);
            r.assert_error(401, "unauthorized");
            assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{case}");
            assert!(
                !String::from_utf8_lossy(&r.body).contains(ADMIN_KEY),
                "{case}: the key is not echoed"
            );
        }
    }
    // Authentication comes first: a missing lead, a malformed id or a bad body are not revealed.
    for req in [
        TestRequest::get().uri("/api/v1/admin/leads/999999"),
        TestRequest::get().uri("/api/v1/admin/leads/abc"),
        TestRequest::get().uri("/api/v1/admin/leads?limit=0"),
        TestRequest::patch()
            .uri(&format!("/api/v1/admin/leads/{id}"))
            .set_json(json!({"foo": 1})),
        TestRequest::post()
            .uri("/api/v1/admin/leads")
            .insert_header(("content-type", "text/plain"))
            .set_payload("x"),
    ] {
        call(&app, req).await.assert_error(401, "unauthorized");
    }
    // Nothing was changed by the refused requests.
    let lead = t.repos.leads.get_by_id(id).expect("read").expect("lead");
    assert_eq!(lead.status, LeadStatus::New);
    assert_eq!(
        t.repos
            .leads
            .events(id)
            .expect("read")
            .expect("events")
            .len(),
        1
    );

    // The right key opens every endpoint; the scheme is case-insensitive (RFC 9110 §11.1).
    for (i, (label, request, status)) in endpoints(id).into_iter().enumerate() {
        let scheme = ["Bearer", "bearer", "BEARER"][i % 3];
        let r = call(
            &app,
            request().insert_header(("authorization", format!("{scheme} {ADMIN_KEY}"))),
        )
        .await;
        assert_eq!(r.status, status, "{label}: {}", r.json);
        assert!(r.header("www-authenticate").is_none(), "{label}");
    }
    assert!(
        t.repos.leads.get_by_id(id).expect("read").is_none(),
        "deleted"
    );
}

async fn without_configured_keys_every_admin_request_is_401(backend: Backend) {
    let t = TestApp::with(backend, |s| s.admin_keys = AdminKeys::default());
    let id = stored_lead(&t);
    let app = t.service().await;
    for (label, request, _) in endpoints(id) {
        for credentials in [
            Some(format!("Bearer {ADMIN_KEY}")),
            Some("Bearer ".to_owned()),
            None,
        ] {
            let r = call(&app, with_credentials(request(), credentials.as_deref())).await;
            assert_eq!(r.status, 401, "{label} with {credentials:?}: {}", r.json);
            r.assert_error(401, "unauthorized");
            assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        }
    }
    assert!(t.repos.leads.get_by_id(id).expect("read").is_some());
    // The public API is unaffected.
    let r = call(
        &app,
        TestRequest::post()
            .uri("/api/v1/leads")
            .set_json(json!({"name": "Борис", "phone": "+79031112233", "consent": true})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
}

async fn each_key_is_recorded_by_name_as_the_actor(backend: Backend) {
    let t = TestApp::with(backend, |s| {
        s.admin_keys = AdminKeys::new(vec![
            AdminKey::from_plain("admin", ADMIN_KEY).expect("key"),
            AdminKey::from_plain("manager-olga", "olga-secret").expect("key"),
        ])
        .expect("distinct names");
    });
    let app = t.service().await;
    let as_key =
        |key: &str, req: TestRequest| req.insert_header(("authorization", format!("Bearer {key}")));
    let r = call(
        &app,
        as_key(
            "olga-secret",
            TestRequest::post()
                .uri("/api/v1/admin/leads")
                .set_json(json!({"name": "Анна", "phone": "+79161234567"})),
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let id = r.json["id"].as_i64().expect("id");
    let r = call(
        &app,
        as_key(
            ADMIN_KEY,
            TestRequest::patch()
                .uri(&format!("/api/v1/admin/leads/{id}"))
                .set_json(json!({"status": "contacted"})),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let r = call(
        &app,
        as_key(
            "olga-secret",
            TestRequest::patch()
                .uri(&format!("/api/v1/admin/leads/{id}"))
                .set_json(json!({"notes": "пробное в субботу"})),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let r = call(
        &app,
        as_key(
            ADMIN_KEY,
            TestRequest::get().uri(&format!("/api/v1/admin/leads/{id}/events")),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let actors: Vec<&str> = r.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["actor"].as_str().expect("actor"))
        .collect();
    assert_eq!(actors, ["manager-olga", "admin", "manager-olga"]);
    // The name is not a key.
    let r = call(
        &app,
        as_key(
            "manager-olga",
            TestRequest::get().uri("/api/v1/admin/leads"),
        ),
    )
    .await;
    r.assert_error(401, "unauthorized");
}

e2e_tests!(
    every_admin_endpoint_requires_a_valid_bearer_key,
    without_configured_keys_every_admin_request_is_401,
    each_key_is_recorded_by_name_as_the_actor,
);
