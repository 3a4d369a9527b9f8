//! `Idempotency-Key` on `POST /api/v1/leads` and the admin `POST`s (API.md §3.2) over HTTP,
//! on both backends.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::http::header::HeaderValue;
use actix_web::test::{self, TestRequest};
use chrono::Utc;
use cohai_domain::{LeadScope, Role};
use cohai_e2e::{ADMIN_KEY, Backend, Reply, TestApp, admin, call, e2e_tests};
use cohai_services::{IdempotencyService, IdempotencyServiceImpl};
use cohai_web::{AdminKey, AdminKeys};
use futures_util::future::join_all;
use serde_json::{Value, json};

const FORM: &str = "/api/v1/leads";
const ADMIN_LEADS: &str = "/api/v1/admin/leads";
const REPLAYED: &str = "idempotent-replayed";

/// A second admin key, named `boris`.
const BORIS_KEY: &str = "test-boris-key";

/// A manager key, named `maria`.
const MANAGER_KEY: &str = "test-manager-key";

fn form() -> Value {
    json!({"name": "Анна", "phone": "+7 916 123 45 67", "consent": true})
}

fn form_with_phone(phone: &str) -> Value {
    json!({"name": "Анна", "phone": phone, "consent": true})
}

fn keyed(req: TestRequest, key: &str) -> TestRequest {
    req.insert_header(("idempotency-key", key))
}

/// The public form from a client address, with `key`.
fn submit(body: &Value, key: &str) -> TestRequest {
    keyed(TestRequest::post().uri(FORM).set_json(body), key)
        .peer_addr("203.0.113.7:1234".parse().expect("address"))
}

/// An admin lead, with `key`.
fn create_lead(body: &Value, key: &str) -> TestRequest {
    admin(keyed(
        TestRequest::post().uri(ADMIN_LEADS).set_json(body),
        key,
    ))
}

/// The number of leads, as the admin list counts them.
async fn leads<S, B>(app: &S) -> i64
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = call(app, admin(TestRequest::get().uri(ADMIN_LEADS))).await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["total"].as_i64().expect("total")
}

/// A lead's events, by kind.
async fn event_kinds<S, B>(app: &S, id: i64) -> Vec<String>
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = call(
        app,
        admin(TestRequest::get().uri(&format!("{ADMIN_LEADS}/{id}/events"))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind").to_owned())
        .collect()
}

/// Asserts that `r` is the first reply (processed), with `status`.
fn assert_first(r: &Reply, status: u16) {
    assert_eq!(r.status.as_u16(), status, "{}", r.json);
    assert_eq!(r.header(REPLAYED), None, "the first reply is not a replay");
}

/// Asserts that `r` replays `first`: same status, body and kept headers, marked.
fn assert_replays(r: &Reply, first: &Reply) {
    assert_eq!(r.status, first.status, "{}", r.json);
    assert_eq!(r.body, first.body);
    assert_eq!(r.header(REPLAYED), Some("true"));
    for name in ["content-type", "location", "etag", "cache-control"] {
        assert_eq!(r.header(name), first.header(name), "{name}");
    }
    assert_ne!(
        r.header("x-request-id"),
        first.header("x-request-id"),
        "the replaying request has its own id"
    );
}

async fn a_repeat_of_the_form_replays_the_first_reply_and_stores_nothing(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let first = call(&app, submit(&form(), "form-1")).await;
    assert_first(&first, 201);
    let again = call(&app, submit(&form(), "form-1")).await;
    assert_replays(&again, &first);
    assert_eq!(leads(&app).await, 1);
    let id = first.json["id"].as_i64().expect("id");
    assert_eq!(
        event_kinds(&app, id).await,
        ["created"],
        "no resubmission recorded"
    );
    // Without the key the form works as ever: the same phone joins the open lead.
    let plain = call(&app, TestRequest::post().uri(FORM).set_json(form())).await;
    assert_first(&plain, 200);
}

async fn a_repeat_of_an_admin_post_replays_its_location_and_etag(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let body = json!({"name": "Борис", "phone": "+79161234567", "source": "phone"});
    let first = call(&app, create_lead(&body, "crm-1")).await;
    assert_first(&first, 201);
    assert!(first.header("location").is_some() && first.header("etag").is_some());
    let again = call(&app, create_lead(&body, "crm-1")).await;
    assert_replays(&again, &first);
    assert_eq!(leads(&app).await, 1, "the admin form has no de-duplication");
    let location = json!({"name": "Север", "address": "ул. Северная, 1", "city": "Москва",
        "timezone": "Europe/Moscow"});
    let req = |key| {
        admin(keyed(
            TestRequest::post()
                .uri("/api/v1/admin/locations")
                .set_json(&location),
            key,
        ))
    };
    let created = call(&app, req("loc-1")).await;
    assert_first(&created, 201);
    assert_replays(&call(&app, req("loc-1")).await, &created);
}

async fn the_key_with_another_body_is_refused(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    assert_first(&call(&app, submit(&form(), "k")).await, 201);
    let other = form_with_phone("+79160000001");
    call(&app, submit(&other, "k"))
        .await
        .assert_error(422, "idempotency_key_reused");
    // Byte-identical is what counts: the same JSON spelled differently is another body.
    let respelled = keyed(
        TestRequest::post()
            .uri(FORM)
            .insert_header(("content-type", "application/json"))
            .set_payload(serde_json::to_string_pretty(&form()).expect("json")),
        "k",
    )
    .peer_addr("203.0.113.7:1234".parse().expect("address"));
    call(&app, respelled)
        .await
        .assert_error(422, "idempotency_key_reused");
    assert_eq!(leads(&app).await, 1);
}

async fn concurrent_repeats_are_processed_once(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    for (endpoint, requests) in [
        (
            "form",
            (0..10)
                .map(|_| submit(&form(), "burst"))
                .collect::<Vec<_>>(),
        ),
        (
            "admin",
            (0..10)
                .map(|_| create_lead(&form_with_phone("+79160000002"), "burst"))
                .collect(),
        ),
    ] {
        let replies = join_all(requests.into_iter().map(|r| call(&app, r))).await;
        let first: Vec<&Reply> = replies
            .iter()
            .filter(|r| r.status == 201 && r.header(REPLAYED).is_none())
            .collect();
        assert_eq!(first.len(), 1, "{endpoint}: processed once");
        for r in &replies {
            match (r.status.as_u16(), r.header(REPLAYED)) {
                (201, None) => {}
                (201, Some(_)) => assert_replays(r, first[0]),
                (409, None) => r.assert_error(409, "conflict"),
                other => panic!("{endpoint}: unexpected {other:?}: {}", r.json),
            }
        }
    }
    assert_eq!(leads(&app).await, 2, "one lead per endpoint");
}

async fn a_failed_request_is_not_kept(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let bad = form_with_phone("not a phone");
    let refused = call(&app, submit(&bad, "fix-me")).await;
    refused.assert_error(422, "validation_failed");
    // The same body again is processed again (and refused again), not replayed.
    let again = call(&app, submit(&bad, "fix-me")).await;
    again.assert_error(422, "validation_failed");
    assert_eq!(again.header(REPLAYED), None);
    let fixed = call(&app, submit(&form(), "fix-me")).await;
    assert_first(&fixed, 201);
    assert_replays(&call(&app, submit(&form(), "fix-me")).await, &fixed);
    // An admin POST refused by the handler frees its key too.
    let no_phone = json!({"name": "Борис"});
    call(&app, create_lead(&no_phone, "crm-fix"))
        .await
        .assert_error(422, "validation_failed");
    let body = json!({"name": "Борис", "phone": "+79160000003"});
    assert_first(&call(&app, create_lead(&body, "crm-fix")).await, 201);
    assert_eq!(leads(&app).await, 2);
}

async fn keys_are_scoped_per_client_and_endpoint(backend: Backend) {
    let t = TestApp::with(backend, |s| {
        s.trusted_proxies = vec!["10.0.0.1".parse().expect("ip")];
        s.admin_keys = AdminKeys::new(vec![
            AdminKey::from_plain("admin", ADMIN_KEY).expect("key"),
            AdminKey::from_plain("boris", BORIS_KEY).expect("key"),
        ])
        .expect("keys");
    });
    let app = t.service().await;
    let from = |body: &Value, peer: &str, forwarded: Option<&str>| {
        let req = keyed(TestRequest::post().uri(FORM).set_json(body), "shared")
            .peer_addr(peer.parse::<SocketAddr>().expect("address"));
        match forwarded {
            Some(client) => req.insert_header(("x-forwarded-for", client)),
            None => req,
        }
    };
    // Another client's use of the key is its own: another body is processed, not refused.
    let first = call(&app, from(&form(), "203.0.113.7:1", None)).await;
    assert_first(&first, 201);
    let other_ip = call(
        &app,
        from(&form_with_phone("+79160000004"), "203.0.113.8:1", None),
    )
    .await;
    assert_first(&other_ip, 201);
    // Behind the trusted proxy, the forwarded address is the client.
    let proxied =
        |phone: &str, client: &str| from(&form_with_phone(phone), "10.0.0.1:1", Some(client));
    let behind = call(&app, proxied("+79160000005", "198.51.100.1")).await;
    assert_first(&behind, 201);
    assert_first(
        &call(&app, proxied("+79160000006", "198.51.100.2")).await,
        201,
    );
    assert_replays(
        &call(&app, proxied("+79160000005", "198.51.100.1")).await,
        &behind,
    );
    // Admin keys: per key name, and per endpoint.
    let as_key = |req: TestRequest, key: &str| {
        keyed(req, "shared").insert_header(("authorization", format!("Bearer {key}")))
    };
    let lead = |phone: &str| {
        TestRequest::post()
            .uri(ADMIN_LEADS)
            .set_json(form_with_phone(phone))
    };
    assert_first(
        &call(&app, as_key(lead("+79160000007"), ADMIN_KEY)).await,
        201,
    );
    assert_first(
        &call(&app, as_key(lead("+79160000008"), BORIS_KEY)).await,
        201,
    );
    let location = TestRequest::post().uri("/api/v1/admin/locations").set_json(
        json!({"name": "Юг", "address": "ул. Южная, 2", "city": "Москва",
            "timezone": "Europe/Moscow"}),
    );
    assert_first(&call(&app, as_key(location, ADMIN_KEY)).await, 201);
    assert_eq!(leads(&app).await, 6);
}

async fn malformed_keys_are_400(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let long = "k".repeat(256);
    let bad: Vec<HeaderValue> = vec![
        HeaderValue::from_static(""),
        HeaderValue::from_str(&long).expect("header"),
        HeaderValue::from_bytes("ключ".as_bytes()).expect("header"),
        HeaderValue::from_static("a\tb"),
        HeaderValue::from_static("a b"),
    ];
    for value in &bad {
        for req in [
            TestRequest::post().uri(FORM).set_json(form()),
            admin(TestRequest::post().uri(ADMIN_LEADS).set_json(form())),
        ] {
            let r = call(&app, req.insert_header(("idempotency-key", value.clone()))).await;
            r.assert_error(400, "invalid_parameter");
            assert_eq!(r.json["error"]["details"]["parameter"], "Idempotency-Key");
        }
    }
    let twice = TestRequest::post()
        .uri(FORM)
        .set_json(form())
        .append_header(("idempotency-key", "a"))
        .append_header(("idempotency-key", "b"));
    call(&app, twice)
        .await
        .assert_error(400, "invalid_parameter");
    // 255 visible characters are fine.
    assert_first(&call(&app, submit(&form(), &"~".repeat(255))).await, 201);
    assert_eq!(leads(&app).await, 1);
    // Other methods ignore the header.
    let listed = call(
        &app,
        admin(keyed(TestRequest::get().uri(ADMIN_LEADS), "a b")),
    )
    .await;
    assert_eq!(listed.status, 200);
}

async fn a_key_is_kept_until_purged_after_a_day(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let first = call(&app, submit(&form(), "day")).await;
    assert_first(&first, 201);
    let keys = IdempotencyServiceImpl::new(t.repos.idempotency.clone());
    let purged = keys
        .purge_expired(Utc::now() + chrono::Duration::hours(23))
        .expect("purge");
    assert_eq!(purged, 0);
    assert_replays(&call(&app, submit(&form(), "day")).await, &first);
    let purged = keys
        .purge_expired(Utc::now() + chrono::Duration::hours(25))
        .expect("purge");
    assert_eq!(purged, 1);
    // Processed again: the open lead of the phone absorbs it.
    let after = call(&app, submit(&form(), "day")).await;
    assert_first(&after, 200);
    assert_eq!(after.json["id"], first.json["id"]);
    assert_eq!(leads(&app).await, 1);
}

async fn replays_count_towards_the_rate_limit(backend: Backend) {
    let t = TestApp::with(backend, |s| s.lead_rate_per_minute = 2);
    let app = t.service().await;
    assert_first(&call(&app, submit(&form(), "rl")).await, 201);
    let replay = call(&app, submit(&form(), "rl")).await;
    assert_eq!(replay.header(REPLAYED), Some("true"));
    call(&app, submit(&form(), "rl"))
        .await
        .assert_error(429, "rate_limited");
}

/// `req` with a body that never arrives.
fn stalled(req: TestRequest) -> actix_http::Request {
    let req = req
        .insert_header(("content-type", "application/json"))
        .insert_header(("content-length", "100"))
        .to_request();
    let never: actix_http::BoxedPayloadStream = Box::pin(futures_util::stream::pending::<
        Result<actix_web::web::Bytes, actix_http::error::PayloadError>,
    >());
    req.replace_payload(actix_http::Payload::Stream { payload: never })
        .0
}

/// The status `app` answers `req` with (an error a middleware returns is answered by actix).
async fn status_of<S, B>(app: &S, req: actix_http::Request) -> u16
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    match test::try_call_service(app, req).await {
        Ok(res) => res.status().as_u16(),
        Err(error) => error.as_response_error().status_code().as_u16(),
    }
}

async fn a_wrong_admin_key_is_401_before_the_body_is_read(backend: Backend) {
    // A body read would end in 408 after this deadline; the answer must come before.
    let t = TestApp::with(backend, |s| {
        s.body_read_timeout = Duration::from_millis(50);
        s.admin_keys = AdminKeys::new(vec![
            AdminKey::from_plain("admin", ADMIN_KEY).expect("key"),
            AdminKey::from_plain("maria", MANAGER_KEY)
                .and_then(|k| k.with_access(Role::Manager, LeadScope::All))
                .expect("key"),
        ])
        .expect("keys");
    });
    let app = t.service().await;
    let wrong = keyed(TestRequest::post().uri(ADMIN_LEADS), "k")
        .insert_header(("authorization", "Bearer wrong-key"));
    assert_eq!(status_of(&app, stalled(wrong)).await, 401);
    // A manager on an admin-only POST: 403, also before the body.
    let manager = keyed(TestRequest::post().uri("/api/v1/admin/locations"), "k")
        .insert_header(("authorization", format!("Bearer {MANAGER_KEY}")));
    assert_eq!(status_of(&app, stalled(manager)).await, 403);
    // With the right key the body is read, and a stalled one still ends in 408.
    let right = admin(keyed(TestRequest::post().uri(ADMIN_LEADS), "k"));
    assert_eq!(status_of(&app, stalled(right)).await, 408);
    let form = keyed(TestRequest::post().uri(FORM), "k");
    assert_eq!(status_of(&app, stalled(form)).await, 408);
    // Neither kept the key: it works at once.
    assert_first(
        &call(&app, create_lead(&form_with_phone("+79160000009"), "k")).await,
        201,
    );
}

async fn every_documented_post_takes_the_key(backend: Backend) {
    // The middleware is declared per route group: a group that forgot it fails here.
    let t = TestApp::new(backend);
    let app = t.service().await;
    let doc = call(&app, TestRequest::get().uri("/api/v1/openapi.json")).await;
    let mut checked = 0;
    for (path, item) in doc.json["paths"].as_object().expect("paths") {
        let Some(post) = item.get("post") else {
            continue;
        };
        if path != FORM && !path.starts_with("/api/v1/admin/") {
            continue;
        }
        let documented = post["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header");
        assert!(documented, "POST {path}: the header is documented");
        let uri = path.replace("{id}", "1").replace("{delivery_id}", "1");
        let req = admin(keyed(
            TestRequest::post().uri(&uri).set_json(json!({})),
            "not valid",
        ));
        let r = call(&app, req).await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(
            r.json["error"]["details"]["parameter"], "Idempotency-Key",
            "POST {path}"
        );
        checked += 1;
    }
    assert!(checked >= 6, "the form and the admin POSTs: {checked}");
}

e2e_tests!(
    every_documented_post_takes_the_key,
    a_repeat_of_the_form_replays_the_first_reply_and_stores_nothing,
    a_repeat_of_an_admin_post_replays_its_location_and_etag,
    the_key_with_another_body_is_refused,
    concurrent_repeats_are_processed_once,
    a_failed_request_is_not_kept,
    keys_are_scoped_per_client_and_endpoint,
    malformed_keys_are_400,
    a_key_is_kept_until_purged_after_a_day,
    replays_count_towards_the_rate_limit,
    a_wrong_admin_key_is_401_before_the_body_is_read,
);
