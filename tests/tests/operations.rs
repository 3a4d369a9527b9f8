//! Cross-cutting behaviour: request ids, error shapes, security headers, CORS, metrics.

use actix_web::test::TestRequest;
use cohai_e2e::{Backend, TestApp, call, e2e_tests, get};

async fn every_response_carries_a_request_id_echoing_the_clients(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let r = call(
        &app,
        TestRequest::get()
            .uri("/health")
            .insert_header(("x-request-id", "abc-123")),
    )
    .await;
    assert_eq!(r.header("x-request-id"), Some("abc-123"));
    let r = call(
        &app,
        TestRequest::get()
            .uri("/nowhere")
            .insert_header(("x-request-id", "trace-7")),
    )
    .await;
    r.assert_error(404, "not_found");
    assert_eq!(r.json["error"]["request_id"], "trace-7");
    // A value unfit for logs is replaced.
    let r = call(
        &app,
        TestRequest::get()
            .uri("/health")
            .insert_header(("x-request-id", "a b\tc")),
    )
    .await;
    assert!(
        r.header("x-request-id")
            .is_some_and(|id| id != "a b\tc" && !id.is_empty())
    );
    let generated = get(&app, "/health").await;
    assert!(
        generated
            .header("x-request-id")
            .is_some_and(|id| id.len() >= 16)
    );
}

async fn unknown_routes_wrong_methods_and_bad_bodies_use_the_error_shape(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    get(&app, "/api/v1/nothing")
        .await
        .assert_error(404, "not_found");
    call(&app, TestRequest::delete().uri("/api/v1/locations"))
        .await
        .assert_error(405, "method_not_allowed");
    call(&app, TestRequest::put().uri("/api/v1/leads"))
        .await
        .assert_error(405, "method_not_allowed");
    let r = get(&app, "/api/v1/test-error").await;
    r.assert_error(500, "internal");
    assert_eq!(r.json["error"]["message"], "internal server error");
}

async fn responses_carry_security_headers(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let api = get(&app, "/api/v1/locations").await;
    assert_eq!(api.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        api.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );
    let docs = get(&app, "/docs/").await;
    assert!(
        docs.header("content-security-policy")
            .is_some_and(|csp| csp.contains("default-src 'self'"))
    );
}

async fn cors_allows_only_configured_origins(backend: Backend) {
    let t = TestApp::with(backend, |s| {
        s.cors_origins = vec!["https://cohai.example".to_owned()]
    });
    let app = t.service().await;
    let preflight = |origin: &str| {
        TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/api/v1/leads")
            .insert_header(("origin", origin.to_owned()))
            .insert_header(("access-control-request-method", "POST"))
            .insert_header(("access-control-request-headers", "content-type"))
    };
    let ok = call(&app, preflight("https://cohai.example")).await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://cohai.example")
    );
    let evil = call(&app, preflight("https://evil.example")).await;
    assert!(evil.header("access-control-allow-origin").is_none());
    assert!(evil.status.is_client_error());
    let simple = call(
        &app,
        TestRequest::get()
            .uri("/api/v1/locations")
            .insert_header(("origin", "https://cohai.example")),
    )
    .await;
    assert_eq!(
        simple.header("access-control-allow-origin"),
        Some("https://cohai.example")
    );
}

async fn metrics_count_requests_by_route_pattern_and_leads_by_source(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let app = t.service().await;
    for _ in 0..3 {
        get(&app, &format!("/api/v1/locations/{}", c.locations[0].id)).await;
    }
    get(&app, "/api/v1/locations/999999").await;
    let lead = call(
        &app,
        TestRequest::post().uri("/api/v1/leads").set_json(
            serde_json::json!({"name": "Анна", "phone": "+79161234567", "consent": true}),
        ),
    )
    .await;
    assert_eq!(lead.status, 201);
    let r = get(&app, "/metrics").await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain"))
    );
    let text = String::from_utf8_lossy(&r.body);
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.starts_with(needle))
            .map(str::to_owned)
    };
    assert_eq!(
        line(r#"http_requests_total{method="GET",route="/api/v1/locations/{id}",status="200"}"#)
            .as_deref(),
        Some(r#"http_requests_total{method="GET",route="/api/v1/locations/{id}",status="200"} 3"#),
        "{text}"
    );
    assert!(
        line(r#"http_requests_total{method="GET",route="/api/v1/locations/{id}",status="404"} 1"#)
            .is_some(),
        "{text}"
    );
    assert!(line(r#"http_request_duration_seconds_bucket{method="GET",route="/api/v1/locations/{id}",status="200",le="+Inf"} 3"#).is_some(), "{text}");
    assert!(
        line(r#"cohai_leads_created_total{source="website"} 1"#).is_some(),
        "{text}"
    );
    assert!(line("cohai_db_pool_max_connections 16").is_some(), "{text}");
    assert!(line("cohai_db_pool_connections ").is_some(), "{text}");
    let checkouts: u64 = line("cohai_db_pool_checkouts_total ")
        .and_then(|l| l.rsplit(' ').next().and_then(|n| n.parse().ok()))
        .expect("checkouts counter");
    assert!(
        checkouts >= 4,
        "the requests above checked connections out: {checkouts}"
    );
    assert!(
        line("cohai_db_pool_wait_seconds_total ").is_some(),
        "{text}"
    );
    assert!(line("cohai_db_pool_timeouts_total 0").is_some(), "{text}");
    assert!(text.contains("cohai_build_info{commit="), "{text}");
    assert!(
        !text.contains("/api/v1/locations/999999"),
        "raw paths never become labels"
    );
}

async fn public_responses_are_cached_for_the_ttl_then_refreshed(backend: Backend) {
    let t = TestApp::with(backend, |s| {
        s.public_cache_ttl = std::time::Duration::from_millis(1000)
    });
    let c = t.catalog();
    let app = t.service().await;
    let count = |r: &cohai_e2e::Reply| r.json["items"].as_array().map(Vec::len);
    let first = get(&app, "/api/v1/locations").await;
    assert_eq!(count(&first), Some(2));
    t.repos
        .locations
        .create(&cohai_e2e::builders::location("Новая"))
        .expect("location");
    let cached = get(&app, "/api/v1/locations").await;
    assert_eq!(
        (count(&cached), cached.header("etag")),
        (Some(2), first.header("etag")),
        "served from the cache"
    );
    // Errors are not cached, and other queries are separate entries.
    get(&app, "/api/v1/locations/999")
        .await
        .assert_error(404, "not_found");
    let plans = get(
        &app,
        &format!("/api/v1/memberships?location_id={}", c.locations[0].id),
    )
    .await;
    assert_eq!(count(&plans), Some(2));
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1050)).await;
    let fresh = get(&app, "/api/v1/locations").await;
    assert_eq!(count(&fresh), Some(3), "refreshed after the TTL");
    assert_ne!(fresh.header("etag"), first.header("etag"));
}

async fn the_admin_list_cache_never_hides_a_change_made_through_the_api(backend: Backend) {
    let t = TestApp::with_list_cache(backend, std::time::Duration::from_secs(60), |_| {});
    let app = t.service().await;
    let list = || cohai_e2e::admin(TestRequest::get().uri("/api/v1/admin/leads"));
    assert_eq!(call(&app, list()).await.json["total"], 0);
    let form = serde_json::json!({"name": "Анна", "phone": "+79161234567", "consent": true});
    let created = call(
        &app,
        TestRequest::post().uri("/api/v1/leads").set_json(&form),
    )
    .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        call(&app, list()).await.json["total"],
        1,
        "a submission shows at once"
    );
    let id = created.json["id"].as_i64().expect("id");
    let patch = cohai_e2e::admin(TestRequest::patch().uri(&format!("/api/v1/admin/leads/{id}")))
        .set_json(serde_json::json!({"status": "lost"}));
    assert_eq!(call(&app, patch).await.status, 200);
    assert_eq!(
        call(&app, list()).await.json["items"][0]["status"],
        "lost",
        "an update shows at once"
    );
    let delete = cohai_e2e::admin(TestRequest::delete().uri(&format!("/api/v1/admin/leads/{id}")));
    assert_eq!(call(&app, delete).await.status, 204);
    assert_eq!(
        call(&app, list()).await.json["total"],
        0,
        "an erasure shows at once"
    );
}

e2e_tests!(
    the_admin_list_cache_never_hides_a_change_made_through_the_api,
    public_responses_are_cached_for_the_ttl_then_refreshed,
    every_response_carries_a_request_id_echoing_the_clients,
    unknown_routes_wrong_methods_and_bad_bodies_use_the_error_shape,
    responses_carry_security_headers,
    cors_allows_only_configured_origins,
    metrics_count_requests_by_route_pattern_and_leads_by_source,
);
