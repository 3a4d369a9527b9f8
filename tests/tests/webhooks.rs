//! Webhooks through the admin API (API.md §7): `/api/v1/admin/webhooks`, its deliveries log
//! and redelivery, on the real application. The outbox is driven through its repository (the
//! dispatcher does not run in these apps), so attempts are recorded as a dispatcher would.

use std::time::Duration;

use actix_web::test::TestRequest;
use chrono::Utc;
use cohai_domain::outbox::{AttemptRecord, ClaimLimits, ClaimedDelivery, NextStep};
use cohai_domain::{LeadScope, Role};
use cohai_e2e::{ADMIN_KEY, Backend, Reply, TestApp, TestLeads, admin, builders, call, e2e_tests};
use cohai_web::{AdminKey, AdminKeys};
use serde_json::{Value, json};

const HOOKS: &str = "/api/v1/admin/webhooks";
/// A public address: registering it needs no name lookup (nothing is ever sent to it here).
const PUBLIC_URL: &str = "https://8.8.8.8/cohai";
const MANAGER_KEY: &str = "manager-secret";

/// An app whose webhooks may target this machine (`webhooks.allow_private_targets`).
fn app_allowing_private_targets(backend: Backend) -> TestApp {
    TestApp::with(backend, |s| s.webhooks_allow_private_targets = true)
}

/// `POST path` with `body` as the admin.
async fn post<S, B>(app: &S, path: &str, body: Value) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    call(app, admin(TestRequest::post().uri(path).set_json(body))).await
}

/// `PATCH path` with `body` as the admin, with an optional `If-Match`.
async fn patch<S, B>(app: &S, path: &str, body: Value, if_match: Option<&str>) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    let mut req = admin(TestRequest::patch().uri(path).set_json(body));
    if let Some(tag) = if_match {
        req = req.insert_header(("if-match", tag));
    }
    call(app, req).await
}

/// `GET path` as the admin.
async fn get_admin<S, B>(app: &S, path: &str) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    call(app, admin(TestRequest::get().uri(path))).await
}

/// Registers a webhook for `lead.created` at `url`; its reply.
async fn register<S, B>(app: &S, url: &str) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    let r = post(app, HOOKS, json!({"url": url, "events": ["lead.created"]})).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r
}

/// Asserts a 422 with exactly `field` named.
fn assert_refused_on(r: &Reply, field: &str) {
    r.assert_error(422, "validation_failed");
    let fields = r.json["error"]["fields"].as_object().expect("fields");
    assert_eq!(fields.keys().collect::<Vec<_>>(), [field], "{}", r.json);
}

/// A lead created now (its `lead.created` event), routed to the subscribed webhooks.
fn lead_event(t: &TestApp, n: u32) {
    t.repos.leads.created(
        &builders::lead(&format!("Анна {n}"), builders::phone(n), Utc::now()),
        "admin",
    );
    t.repos.outbox.route(None, Utc::now(), 100).expect("route");
}

/// The deliveries due now, leased as a dispatcher would.
fn claim(t: &TestApp) -> Vec<ClaimedDelivery> {
    t.repos
        .outbox
        .claim(Utc::now(), Duration::from_secs(60), ClaimLimits::batch(10))
        .expect("claim")
}

/// Records an attempt of `delivery` answered with `status` (a failure is retried at once).
fn attempt(t: &TestApp, delivery: &ClaimedDelivery, status: i32) {
    let ok = (200..300).contains(&status);
    let record = AttemptRecord {
        status_code: Some(status),
        error: (!ok).then(|| "status".to_owned()),
        duration: Duration::from_millis(7),
    };
    let next = if ok {
        NextStep::Delivered
    } else {
        NextStep::RetryAt(Utc::now())
    };
    assert!(
        t.repos
            .outbox
            .complete(delivery, &record, &next, None, Utc::now())
            .expect("complete")
    );
}

/// Whether `text` holds a run of 64 hex digits (a secret's digits or a SHA-256).
fn has_hex_64(text: &str) -> bool {
    regex::Regex::new("[0-9a-f]{64}")
        .expect("pattern")
        .is_match(text)
}

async fn a_webhook_is_registered_read_listed_changed_and_deleted(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let r = post(
        &app,
        HOOKS,
        json!({"url": "HTTPS://8.8.8.8:443/Cohai?k=1", "events": ["lead.updated", "lead.created"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let id = r.json["id"].as_i64().expect("id");
    let path = format!("{HOOKS}/{id}");
    assert_eq!(r.header("location"), Some(&*path));
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    assert_eq!(r.json["url"], "https://8.8.8.8/Cohai?k=1", "normalised");
    assert_eq!(
        r.json["events"],
        json!(["lead.created", "lead.updated"]),
        "wire-name order"
    );
    assert_eq!(r.json["active"], true, "default");
    let mut keys: Vec<&str> = r
        .json
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "active",
            "created_at",
            "events",
            "id",
            "secret",
            "updated_at",
            "url"
        ]
    );
    let etag = r.header("etag").expect("etag").to_owned();

    let got = get_admin(&app, &path).await;
    assert_eq!(
        (got.status.as_u16(), got.header("etag")),
        (200, Some(&*etag))
    );
    let mut without_secret = r.json.clone();
    without_secret
        .as_object_mut()
        .expect("object")
        .remove("secret");
    assert_eq!(got.json, without_secret);
    let not_modified = call(
        &app,
        admin(TestRequest::get().uri(&path)).insert_header(("if-none-match", etag.as_str())),
    )
    .await;
    assert_eq!(not_modified.status, 304);

    let other = register(&app, "https://8.8.4.4/").await;
    let list = get_admin(&app, HOOKS).await;
    assert_eq!(list.status, 200);
    let ids: Vec<i64> = list.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|h| h["id"].as_i64())
        .collect();
    assert_eq!(ids, [id, other.json["id"].as_i64().expect("id")], "by id");

    let changed = patch(
        &app,
        &path,
        json!({"events": ["class_session.cancelled"], "active": false}),
        Some(&etag),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.json);
    assert_eq!(changed.json["events"], json!(["class_session.cancelled"]));
    assert_eq!(changed.json["active"], false);
    assert_eq!(
        changed.json["url"], "https://8.8.8.8/Cohai?k=1",
        "absent fields stay"
    );
    assert_ne!(changed.header("etag"), Some(&*etag));

    let deleted = call(&app, admin(TestRequest::delete().uri(&path))).await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    get_admin(&app, &path).await.assert_error(404, "not_found");
    call(&app, admin(TestRequest::delete().uri(&path)))
        .await
        .assert_error(404, "not_found");
}

async fn the_secret_is_answered_once_and_never_again(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let r = register(&app, PUBLIC_URL).await;
    let secret = r.json["secret"].as_str().expect("secret").to_owned();
    assert!(
        regex::Regex::new("^whsec_[0-9a-f]{64}$")
            .expect("pattern")
            .is_match(&secret),
        "{secret}"
    );
    let second = register(&app, PUBLIC_URL).await;
    assert_ne!(
        second.json["secret"],
        secret.as_str(),
        "each webhook its own"
    );

    let path = format!("{HOOKS}/{}", r.json["id"]);
    let replies = [
        get_admin(&app, &path).await,
        get_admin(&app, HOOKS).await,
        patch(&app, &path, json!({"url": "https://8.8.4.4/v2"}), None).await,
        patch(&app, &path, json!({"active": false}), None).await,
        get_admin(&app, &format!("{path}/deliveries")).await,
        get_admin(&app, "/api/v1/admin/audit?entity=webhook").await,
    ];
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.json);
        let body = String::from_utf8_lossy(&reply.body);
        assert!(!body.contains(&secret), "{body}");
        assert!(
            !body.contains("whsec_") && !body.contains("secret"),
            "{body}"
        );
        assert!(!has_hex_64(&body), "no secret digits nor key: {body}");
    }
    let audit = &replies[5].json;
    assert_eq!(audit["total"], 4, "two creations and two changes: {audit}");
    assert_eq!(
        audit["items"][0]["changes"],
        json!({"active": {"from": true, "to": false}})
    );
}

async fn events_must_be_a_non_empty_list_of_known_types(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    for events in [
        json!([]),
        json!(["lead.created", "lead.deleted"]),
        json!(["LEAD.CREATED"]),
        json!(["session_cancelled"]),
        Value::Null,
    ] {
        let r = post(&app, HOOKS, json!({"url": PUBLIC_URL, "events": events})).await;
        assert_refused_on(&r, "events");
    }
    let missing = post(&app, HOOKS, json!({"url": PUBLIC_URL})).await;
    assert_refused_on(&missing, "events");
    assert_eq!(
        missing.json["error"]["fields"]["events"],
        json!(["is required"])
    );
    let missing_url = post(&app, HOOKS, json!({"events": ["lead.created"]})).await;
    assert_refused_on(&missing_url, "url");
    // Not a list of strings at all: the wrong JSON type.
    for events in [json!("lead.created"), json!([1])] {
        post(&app, HOOKS, json!({"url": PUBLIC_URL, "events": events}))
            .await
            .assert_error(400, "invalid_json");
    }
    let hook = register(&app, PUBLIC_URL).await;
    let path = format!("{HOOKS}/{}", hook.json["id"]);
    for body in [json!({"events": []}), json!({"events": ["lead.nope"]})] {
        assert_refused_on(&patch(&app, &path, body, None).await, "events");
    }
    assert_refused_on(
        &patch(&app, &path, json!({"active": null}), None).await,
        "active",
    );
}

async fn private_and_plain_http_targets_are_refused_without_the_setting(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let forbidden = "must not point to a private, loopback or link-local address";
    for (url, message) in [
        ("https://127.0.0.1/x", forbidden),
        ("https://10.0.0.1/", forbidden),
        ("https://[::1]/", forbidden),
        ("https://localhost/", forbidden),
        ("https://169.254.169.254/latest/meta-data", forbidden),
        ("https://[fd00::1]/", forbidden),
        ("http://8.8.8.8/", "must be an https URL"),
        ("ftp://8.8.8.8/", "must be an https URL"),
        (
            "https://user:pw@8.8.8.8/",
            "must not contain a user name or password",
        ),
        ("https://8.8.8.8/#top", "must not contain a fragment"),
        ("hooks.example.com/in", "must be an absolute URL"),
    ] {
        let r = post(&app, HOOKS, json!({"url": url, "events": ["lead.created"]})).await;
        assert_refused_on(&r, "url");
        assert_eq!(r.json["error"]["fields"]["url"], json!([message]), "{url}");
    }
    // A change of URL is checked as a registration is.
    let hook = register(&app, PUBLIC_URL).await;
    let path = format!("{HOOKS}/{}", hook.json["id"]);
    let r = patch(&app, &path, json!({"url": "https://192.168.1.10/"}), None).await;
    assert_refused_on(&r, "url");
    assert_eq!(
        get_admin(&app, &path).await.json["url"],
        PUBLIC_URL,
        "unchanged"
    );
}

async fn the_setting_admits_http_and_loopback_targets(backend: Backend) {
    let t = app_allowing_private_targets(backend);
    let app = t.service().await;
    for url in [
        "http://127.0.0.1:9/hook",
        "https://localhost/",
        "https://[::1]:8443/",
    ] {
        let r = register(&app, url).await;
        assert_eq!(r.json["active"], true, "{url}");
    }
    // Other schemes stay refused.
    let r = post(
        &app,
        HOOKS,
        json!({"url": "ftp://127.0.0.1/", "events": ["lead.created"]}),
    )
    .await;
    assert_refused_on(&r, "url");
}

async fn unknown_fields_are_refused(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    for field in ["secret", "signing_key", "id"] {
        let mut body = json!({"url": PUBLIC_URL, "events": ["lead.created"]});
        body[field] = json!("x");
        post(&app, HOOKS, body)
            .await
            .assert_error(400, "invalid_json");
    }
    let hook = register(&app, PUBLIC_URL).await;
    let path = format!("{HOOKS}/{}", hook.json["id"]);
    patch(&app, &path, json!({"secret": "whsec_mine"}), None)
        .await
        .assert_error(400, "invalid_json");
}

async fn managers_may_not_use_the_webhooks_api(backend: Backend) {
    let t = TestApp::with(backend, |s| {
        let manager = AdminKey::from_plain("olga", MANAGER_KEY)
            .and_then(|k| k.with_access(Role::Manager, LeadScope::All))
            .expect("manager key");
        s.admin_keys = AdminKeys::new(vec![
            AdminKey::from_plain("admin", ADMIN_KEY).expect("admin key"),
            manager,
        ])
        .expect("distinct names");
    });
    let app = t.service().await;
    let hook = register(&app, PUBLIC_URL).await;
    let path = format!("{HOOKS}/{}", hook.json["id"]);
    let as_manager =
        |req: TestRequest| req.insert_header(("authorization", format!("Bearer {MANAGER_KEY}")));
    for req in [
        TestRequest::get().uri(HOOKS),
        TestRequest::post()
            .uri(HOOKS)
            .set_json(json!({"url": PUBLIC_URL, "events": ["lead.created"]})),
        TestRequest::get().uri(&path),
        TestRequest::patch()
            .uri(&path)
            .set_json(json!({"active": false})),
        TestRequest::delete().uri(&path),
        TestRequest::get().uri(&format!("{path}/deliveries")),
        TestRequest::post().uri(&format!("{path}/deliveries/1/redeliver")),
    ] {
        call(&app, as_manager(req))
            .await
            .assert_error(403, "forbidden");
    }
    assert_eq!(
        get_admin(&app, &path).await.json["active"],
        true,
        "unchanged"
    );
}

async fn a_stale_if_match_is_a_412_and_a_missing_webhook_a_404(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let hook = register(&app, PUBLIC_URL).await;
    let path = format!("{HOOKS}/{}", hook.json["id"]);
    let first = hook.header("etag").expect("etag").to_owned();
    let changed = patch(&app, &path, json!({"active": false}), Some(&first)).await;
    assert_eq!(changed.status, 200);
    patch(&app, &path, json!({"active": true}), Some(&first))
        .await
        .assert_error(412, "precondition_failed");
    call(
        &app,
        admin(TestRequest::delete().uri(&path)).insert_header(("if-match", first.as_str())),
    )
    .await
    .assert_error(412, "precondition_failed");
    let current = changed.header("etag").expect("etag");
    let deleted = call(
        &app,
        admin(TestRequest::delete().uri(&path)).insert_header(("if-match", current)),
    )
    .await;
    assert_eq!(deleted.status, 204);
    for missing in [&path, &format!("{HOOKS}/999999")] {
        patch(&app, missing, json!({"active": true}), Some(&first))
            .await
            .assert_error(404, "not_found");
        get_admin(&app, &format!("{missing}/deliveries"))
            .await
            .assert_error(404, "not_found");
    }
    for bad in ["abc", "0", "-1"] {
        get_admin(&app, &format!("{HOOKS}/{bad}"))
            .await
            .assert_error(400, "invalid_parameter");
    }
}

async fn the_deliveries_log_pages_attempts_newest_first(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let hook = register(&app, PUBLIC_URL).await;
    let path = format!("{HOOKS}/{}/deliveries", hook.json["id"]);
    let empty = get_admin(&app, &path).await;
    assert_eq!(
        empty.json,
        json!({"items": [], "total": 0, "limit": 50, "offset": 0})
    );
    lead_event(&t, 1);
    let mut event_id = String::new();
    for status in [500, 503, 200] {
        for delivery in claim(&t) {
            event_id = delivery.event.event_id.clone();
            attempt(&t, &delivery, status);
        }
    }
    let page = get_admin(&app, &format!("{path}?limit=2")).await;
    assert_eq!(page.status, 200, "{}", page.json);
    assert_eq!(
        (page.json["total"].as_i64(), page.json["limit"].as_i64()),
        (Some(3), Some(2))
    );
    let items = page.json["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    let newest = &items[0];
    let mut keys: Vec<&str> = newest
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "attempt",
            "created_at",
            "duration_ms",
            "error",
            "event_id",
            "id",
            "status_code",
            "type"
        ]
    );
    assert_eq!(newest["attempt"], 3);
    assert_eq!(newest["event_id"], event_id.as_str());
    assert_eq!(newest["type"], "lead.created");
    assert_eq!(
        (newest["status_code"].as_i64(), newest["error"].is_null()),
        (Some(200), true)
    );
    assert_eq!(newest["duration_ms"], 7);
    assert_eq!(
        (items[1]["attempt"].as_i64(), items[1]["error"].as_str()),
        (Some(2), Some("status"))
    );
    let rest = get_admin(&app, &format!("{path}?limit=2&offset=2")).await;
    let attempts: Vec<i64> = rest.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|a| a["attempt"].as_i64())
        .collect();
    assert_eq!(attempts, [1]);
    assert_eq!(rest.json["offset"], 2);
}

async fn deliveries_log_parameters_out_of_range_are_a_400(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let hook = register(&app, PUBLIC_URL).await;
    let path = format!("{HOOKS}/{}/deliveries", hook.json["id"]);
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=abc", "limit"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
    ] {
        let r = get_admin(&app, &format!("{path}?{query}")).await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(
            r.json["error"]["details"]["parameter"], parameter,
            "{query}"
        );
    }
    let edge = get_admin(&app, &format!("{path}?limit=200&offset=0")).await;
    assert_eq!(edge.status, 200);
}

async fn a_redelivery_is_accepted_and_continues_the_attempt_count(backend: Backend) {
    let t = app_allowing_private_targets(backend);
    let app = t.service().await;
    let hook = register(&app, "http://127.0.0.1:9/hook").await;
    let id = hook.json["id"].as_i64().expect("id");
    lead_event(&t, 1);
    for delivery in claim(&t) {
        attempt(&t, &delivery, 200);
    }
    assert!(claim(&t).is_empty(), "delivered");
    let log = get_admin(&app, &format!("{HOOKS}/{id}/deliveries")).await;
    let attempt_id = log.json["items"][0]["id"].as_i64().expect("an attempt");
    let r = post(
        &app,
        &format!("{HOOKS}/{id}/deliveries/{attempt_id}/redeliver"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.json);
    assert!(r.body.is_empty());
    let again = claim(&t);
    assert_eq!(again.len(), 1, "due again");
    assert_eq!(again[0].attempt, 2, "the count continues");
    assert_eq!(
        again[0].event.event_id,
        log.json["items"][0]["event_id"]
            .as_str()
            .unwrap_or_default()
    );
}

async fn a_redelivery_needs_an_attempt_of_an_active_webhook(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let hook = register(&app, PUBLIC_URL).await;
    let other = register(&app, "https://8.8.4.4/").await;
    let id = hook.json["id"].as_i64().expect("id");
    lead_event(&t, 1);
    for delivery in claim(&t) {
        attempt(&t, &delivery, 500);
    }
    let log = get_admin(&app, &format!("{HOOKS}/{id}/deliveries")).await;
    let attempt_id = log.json["items"][0]["id"].as_i64().expect("an attempt");
    let redeliver =
        |hook: &Value, attempt: i64| format!("{HOOKS}/{hook}/deliveries/{attempt}/redeliver");
    for uri in [
        redeliver(&other.json["id"], attempt_id),
        redeliver(&hook.json["id"], attempt_id + 1000),
        redeliver(&json!(999999), attempt_id),
    ] {
        post(&app, &uri, json!({}))
            .await
            .assert_error(404, "not_found");
    }
    post(
        &app,
        &format!("{HOOKS}/{id}/deliveries/x/redeliver"),
        json!({}),
    )
    .await
    .assert_error(400, "invalid_parameter");

    let path = format!("{HOOKS}/{id}");
    assert_eq!(
        patch(&app, &path, json!({"active": false}), None)
            .await
            .status,
        200
    );
    let r = post(&app, &redeliver(&hook.json["id"], attempt_id), json!({})).await;
    r.assert_error(409, "conflict");
    assert_eq!(r.json["error"]["details"]["webhook_id"], id);
}

async fn deactivating_a_webhook_drops_its_pending_deliveries(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let hook = register(&app, PUBLIC_URL).await;
    let path = format!("{HOOKS}/{}", hook.json["id"]);
    lead_event(&t, 1);
    assert_eq!(
        patch(&app, &path, json!({"active": false}), None)
            .await
            .status,
        200
    );
    assert!(claim(&t).is_empty(), "nothing left to deliver");
    // Activated again, it gets the events from then on, not the dropped one.
    assert_eq!(
        patch(&app, &path, json!({"active": true}), None)
            .await
            .status,
        200
    );
    assert!(claim(&t).is_empty());
    lead_event(&t, 2);
    assert_eq!(claim(&t).len(), 1);
}

async fn the_document_shows_the_secret_only_in_the_creating_reply_and_the_wire_names(
    backend: Backend,
) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let doc = cohai_e2e::get(&app, "/api/v1/openapi.json").await.json;
    let schemas = &doc["components"]["schemas"];
    let wire: Vec<&str> = cohai_domain::outbox::EventType::ALL
        .iter()
        .map(|e| e.as_str())
        .collect();
    assert_eq!(schemas["EventType"]["enum"], json!(wire));
    let created = &doc["paths"][HOOKS]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
        ["$ref"];
    assert_eq!(created, "#/components/schemas/CreatedWebhookResponse");
    let text = schemas["CreatedWebhookResponse"].to_string();
    assert!(text.contains("\"secret\""), "{text}");
    for name in [
        "Webhook",
        "WebhookList",
        "DeliveryAttempt",
        "DeliveryAttemptPageResponse",
    ] {
        assert!(schemas[name]["properties"]["secret"].is_null(), "{name}");
    }
    let redeliver = &doc["paths"][&format!("{HOOKS}/{{id}}/deliveries/{{delivery_id}}/redeliver")]
        ["post"]["responses"];
    for status in ["202", "404", "409"] {
        assert!(
            redeliver[status].is_object(),
            "redeliver documents {status}"
        );
    }
}

async fn a_replayed_registration_answers_without_the_secret_which_is_never_stored(
    backend: Backend,
) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let body = json!({"url": PUBLIC_URL, "events": ["lead.created"]});
    let send = || {
        admin(
            TestRequest::post()
                .uri(HOOKS)
                .insert_header(("idempotency-key", "hook-1"))
                .set_json(body.clone()),
        )
    };
    let first = call(&app, send()).await;
    assert_eq!(first.status, 201, "{}", first.json);
    let secret = first.json["secret"].as_str().expect("secret").to_owned();
    let replay = call(&app, send()).await;
    assert_eq!(replay.status, 201, "{}", replay.json);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        replay.json["id"], first.json["id"],
        "the same webhook, not a second"
    );
    assert!(replay.json.get("secret").is_none(), "{}", replay.json);
    let kept = cohai_persistence::testing::count(
        &t.db.db,
        &format!(
            "SELECT COUNT(*) AS n FROM idempotency_keys WHERE response_body LIKE '%{secret}%'"
        ),
    );
    assert_eq!(kept, 0, "the kept reply does not hold the secret");
}

e2e_tests!(
    a_replayed_registration_answers_without_the_secret_which_is_never_stored,
    the_document_shows_the_secret_only_in_the_creating_reply_and_the_wire_names,
    a_webhook_is_registered_read_listed_changed_and_deleted,
    the_secret_is_answered_once_and_never_again,
    events_must_be_a_non_empty_list_of_known_types,
    private_and_plain_http_targets_are_refused_without_the_setting,
    the_setting_admits_http_and_loopback_targets,
    unknown_fields_are_refused,
    managers_may_not_use_the_webhooks_api,
    a_stale_if_match_is_a_412_and_a_missing_webhook_a_404,
    the_deliveries_log_pages_attempts_newest_first,
    deliveries_log_parameters_out_of_range_are_a_400,
    a_redelivery_is_accepted_and_continues_the_attempt_count,
    a_redelivery_needs_an_attempt_of_an_active_webhook,
    deactivating_a_webhook_drops_its_pending_deliveries,
);
