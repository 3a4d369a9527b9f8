//! Public catalog endpoints over HTTP, on both backends.

use actix_web::test::TestRequest;
use cohai_domain::NewTrainer;
use cohai_e2e::{Backend, TestApp, at, builders, call, e2e_tests, get};

async fn locations_list_active_ones_by_name_with_etag_and_304(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let app = t.service().await;
    let r = get(&app, "/api/v1/locations").await;
    assert_eq!(r.status, 200);
    let names: Vec<&str> = r.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|l| l["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        ["Berlin Mitte", "Центр"],
        "code-point order, inactive hidden"
    );
    let first = &r.json["items"][1];
    assert_eq!(first["timezone"], "Europe/Moscow");
    assert_eq!(first["id"], c.locations[0].id);
    assert!(first.get("is_active").is_none());
    assert_eq!(r.header("cache-control"), Some("public, max-age=60"));
    let etag = r.header("etag").expect("etag").to_owned();
    assert!(etag.starts_with('"'), "strong tag: {etag}");

    for inm in [etag.clone(), format!("\"x\", {etag}"), "*".to_owned()] {
        let r = call(
            &app,
            TestRequest::get()
                .uri("/api/v1/locations")
                .insert_header(("if-none-match", inm.clone())),
        )
        .await;
        assert_eq!(r.status, 304, "{inm}");
        assert!(r.body.is_empty());
    }
    let r = call(
        &app,
        TestRequest::get()
            .uri("/api/v1/locations")
            .insert_header(("if-none-match", "\"stale\"")),
    )
    .await;
    assert_eq!(r.status, 200);
}

async fn location_by_id_is_404_for_missing_and_inactive_and_400_for_malformed(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let app = t.service().await;
    let r = get(&app, &format!("/api/v1/locations/{}", c.locations[0].id)).await;
    assert_eq!(
        (r.status.as_u16(), r.json["name"].as_str()),
        (200, Some("Центр"))
    );
    assert!(r.header("etag").is_some());
    get(&app, &format!("/api/v1/locations/{}", c.locations[2].id))
        .await
        .assert_error(404, "not_found");
    let r = get(&app, "/api/v1/locations/999").await;
    r.assert_error(404, "not_found");
    assert_eq!(r.json["error"]["message"], "location 999 not found");
    for bad in ["abc", "0", "-1", "1.5", "99999999999999999999", "%20"] {
        let r = get(&app, &format!("/api/v1/locations/{bad}")).await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(r.json["error"]["details"]["parameter"], "id", "{bad}");
    }
}

async fn program_types_are_active_ones_by_name(backend: Backend) {
    let t = TestApp::new(backend);
    t.catalog();
    t.repos
        .program_types
        .create(&cohai_domain::NewProgramType {
            is_active: false,
            ..builders::program_type("Архив")
        })
        .expect("pt");
    let app = t.service().await;
    let r = get(&app, "/api/v1/program-types").await;
    let names: Vec<&str> = r.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["Йога", "Стретчинг"]);
    assert_eq!(r.json["items"][0]["level"], "all");
    assert_eq!(r.json["items"][0]["duration_minutes"], 60);
}

async fn trainers_filter_by_location_where_they_teach(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    t.repos
        .trainers
        .create(&NewTrainer {
            is_active: false,
            ..builders::trainer("Уволен")
        })
        .expect("trainer");
    t.session(builders::session(
        c.locations[1].id,
        c.program_types[0].id,
        c.trainers[1].id,
        at("2026-12-01T10:00:00Z"),
    ));
    let app = t.service().await;
    let all = get(&app, "/api/v1/trainers").await;
    assert_eq!(all.json["items"].as_array().map(Vec::len), Some(2));
    let there = get(
        &app,
        &format!("/api/v1/trainers?location_id={}", c.locations[1].id),
    )
    .await;
    assert_eq!(there.json["items"][0]["full_name"], "Борис Петров");
    assert_eq!(there.json["items"].as_array().map(Vec::len), Some(1));
    let none = get(
        &app,
        &format!("/api/v1/trainers?location_id={}", c.locations[0].id),
    )
    .await;
    assert_eq!(none.json["items"], serde_json::json!([]));
    get(&app, "/api/v1/trainers?location_id=999")
        .await
        .assert_error(404, "not_found");
    let r = get(&app, "/api/v1/trainers?location_id=abc").await;
    r.assert_error(400, "invalid_parameter");
    assert_eq!(r.json["error"]["details"]["parameter"], "location_id");
    let one = get(&app, &format!("/api/v1/trainers/{}", c.trainers[0].id)).await;
    assert_eq!(one.json["full_name"], "Анна Иванова");
    assert!(one.json.get("bio").is_some() && one.json.get("photo_url").is_some());
    get(&app, "/api/v1/trainers/424242")
        .await
        .assert_error(404, "not_found");
}

async fn memberships_by_price_then_id_and_filtered_by_location(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let tie = t
        .repos
        .membership_plans
        .create(&builders::plan(c.locations[1].id, "Берлин разовое", 90_000))
        .expect("plan");
    let app = t.service().await;
    let all = get(&app, "/api/v1/memberships").await;
    let ids: Vec<i64> = all.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, [c.plans[0].id, tie.id, c.plans[1].id]);
    let moscow = get(
        &app,
        &format!("/api/v1/memberships?location_id={}", c.locations[0].id),
    )
    .await;
    assert_eq!(moscow.json["items"].as_array().map(Vec::len), Some(2));
    let plan = &moscow.json["items"][0];
    assert_eq!(
        (
            plan["price_minor"].as_i64(),
            plan["currency"].as_str(),
            plan["visits"].as_i64()
        ),
        (Some(90_000), Some("RUB"), Some(8))
    );
    get(&app, "/api/v1/memberships?location_id=999")
        .await
        .assert_error(404, "not_found");
    for bad in ["0", "-3", "x", "1.5"] {
        get(&app, &format!("/api/v1/memberships?location_id={bad}"))
            .await
            .assert_error(400, "invalid_parameter");
    }
    let closed_plan = t
        .repos
        .membership_plans
        .create(&builders::plan(c.locations[2].id, "Закрытый", 1))
        .expect("plan");
    let listed = get(&app, "/api/v1/memberships").await;
    assert!(
        !listed.json["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|p| p["id"] == closed_plan.id),
        "closed studio's plans hidden"
    );
    get(&app, &format!("/api/v1/memberships/{}", closed_plan.id))
        .await
        .assert_error(404, "not_found");
    let one = get(&app, &format!("/api/v1/memberships/{}", c.plans[1].id)).await;
    assert_eq!(one.json["name"], "Безлимит");
    get(&app, "/api/v1/memberships/0")
        .await
        .assert_error(400, "invalid_parameter");
    get(&app, "/api/v1/memberships/77777")
        .await
        .assert_error(404, "not_found");
}

e2e_tests!(
    locations_list_active_ones_by_name_with_etag_and_304,
    location_by_id_is_404_for_missing_and_inactive_and_400_for_malformed,
    program_types_are_active_ones_by_name,
    trainers_filter_by_location_where_they_teach,
    memberships_by_price_then_id_and_filtered_by_location,
);
