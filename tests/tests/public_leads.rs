//! `POST /api/v1/leads` (the website's sign-up form) over HTTP, on both backends.

use actix_web::body::MessageBody;
use actix_web::test::TestRequest;
use chrono::{Duration, Utc};
use cohai_domain::{LeadEventKind, LeadSource, LeadStatus, NewLead};
use cohai_e2e::{Backend, Reply, TestApp, TestLeads, admin, at, builders, call, e2e_tests, get};
use futures_util::future::join_all;
use serde_json::{Value, json};

/// A minimal valid form: name, phone and consent.
fn valid() -> Value {
    json!({"name": "Анна", "phone": "+7 916 123 45 67", "consent": true})
}

/// `body` with `key` set to `value`.
fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

/// `body` without `key`.
fn without(mut body: Value, key: &str) -> Value {
    body.as_object_mut().expect("object").remove(key);
    body
}

/// A valid form with its own phone number.
fn form_with_phone(i: usize) -> Value {
    with(valid(), "phone", json!(format!("+7916{i:07}")))
}

fn post(body: &Value) -> TestRequest {
    TestRequest::post().uri("/api/v1/leads").set_json(body)
}

async fn submit<S, B>(app: &S, body: &Value) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    call(app, post(body)).await
}

/// The admin list's `total` for `query`.
async fn total<S, B>(app: &S, query: &str) -> i64
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = call(
        app,
        admin(TestRequest::get().uri(&format!("/api/v1/admin/leads?{query}"))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["total"].as_i64().expect("total")
}

/// A lead as the admin API shows it.
async fn admin_lead<S, B>(app: &S, id: i64) -> Value
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = call(
        app,
        admin(TestRequest::get().uri(&format!("/api/v1/admin/leads/{id}"))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json
}

/// A lead's events as the admin API shows them.
async fn admin_events<S, B>(app: &S, id: i64) -> Vec<Value>
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = call(
        app,
        admin(TestRequest::get().uri(&format!("/api/v1/admin/leads/{id}/events"))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["items"].as_array().expect("items").clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect()
}

/// Asserts a 422 whose only invalid field is `field`.
fn assert_invalid_field(r: &Reply, field: &str, case: &str) {
    assert_eq!(r.status, 422, "{case}: {}", r.json);
    r.assert_error(422, "validation_failed");
    let fields = r.json["error"]["fields"].as_object().expect("fields");
    assert_eq!(
        fields.keys().collect::<Vec<_>>(),
        [field],
        "{case}: {}",
        r.json
    );
    let messages = fields[field].as_array().expect("messages");
    assert!(
        !messages.is_empty()
            && messages
                .iter()
                .all(|m| m.as_str().is_some_and(|m| !m.is_empty())),
        "{case}: {}",
        r.json
    );
}

/// Asserts a receipt: exactly `id`, `status` and `created_at`, no `Location`.
fn assert_receipt(r: &Reply, status: u16) -> i64 {
    assert_eq!(r.status, status, "{}", r.json);
    let body = r.json.as_object().expect("object");
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["created_at", "id", "status"], "{}", r.json);
    assert_eq!(r.json["status"], "new");
    let created_at = r.json["created_at"].as_str().expect("created_at");
    assert!(
        created_at.ends_with('Z') && at(created_at) <= Utc::now(),
        "{created_at}"
    );
    assert!(r.header("location").is_none(), "a lead has no public URL");
    let id = r.json["id"].as_i64().expect("id");
    assert!(id > 0);
    id
}

fn old_lead(phone: &str, hours_ago: i64) -> NewLead {
    builders::lead(
        "Старая заявка",
        phone,
        Utc::now() - Duration::hours(hours_ago),
    )
}

async fn a_valid_submission_is_stored_normalised_with_a_receipt_and_a_created_event(
    backend: Backend,
) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let (loc, pt) = (c.locations[0].id, c.program_types[1].id);
    let session = t.session(builders::session(
        loc,
        pt,
        c.trainers[0].id,
        at("2026-12-01T09:00:00Z"),
    ));
    let app = t.service().await;
    let r = submit(
        &app,
        &json!({
            "name": "  Анна Смирнова ", "phone": "+7 (916) 123-45-67", "email": "anna@example.com",
            "message": "Хочу на пробное", "location_id": loc, "program_type_id": pt,
            "class_session_id": session.id, "consent": true, "utm_source": "instagram",
            "utm_medium": "cpc", "utm_campaign": "spring", "website": ""
        }),
    )
    .await;
    let id = assert_receipt(&r, 201);

    let lead = admin_lead(&app, id).await;
    assert_eq!(lead["name"], "Анна Смирнова", "stored trimmed");
    assert_eq!(lead["phone"], "+79161234567", "stored as E.164");
    assert_eq!(lead["email"], "anna@example.com");
    assert_eq!(lead["message"], "Хочу на пробное");
    assert_eq!(lead["location_id"], loc);
    assert_eq!(lead["program_type_id"], pt);
    assert_eq!(lead["class_session_id"], session.id);
    assert_eq!(lead["source"], "website");
    assert_eq!(lead["status"], "new");
    assert_eq!(lead["notes"], Value::Null);
    assert_eq!(lead["utm_source"], "instagram");
    assert_eq!(lead["utm_medium"], "cpc");
    assert_eq!(lead["utm_campaign"], "spring");
    assert_eq!(lead["created_at"], r.json["created_at"]);

    let stored = t.repos.leads.get_by_id(id).expect("read").expect("stored");
    assert_eq!(stored.phone, "+79161234567");
    assert_eq!(stored.source, LeadSource::Website);
    assert_eq!(stored.status, LeadStatus::New);

    let events = admin_events(&app, id).await;
    assert_eq!(kinds(&events), ["created"]);
    assert_eq!(events[0]["actor"], "website");
    assert_eq!(events[0]["lead_id"], id);
    assert_eq!(total(&app, "").await, 1);
}

async fn unknown_fields_are_ignored_and_blank_optionals_are_absent(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let body = with(
        with(
            with(valid(), "utm_content", json!("banner")),
            "email",
            json!("  "),
        ),
        "message",
        json!(""),
    );
    let id = assert_receipt(&submit(&app, &body).await, 201);
    let lead = admin_lead(&app, id).await;
    assert_eq!(lead["email"], Value::Null);
    assert_eq!(lead["message"], Value::Null);
    assert!(lead.get("utm_content").is_none());
}

async fn name_is_required_and_1_to_100_characters_after_trimming(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let cases = [
        ("missing", without(valid(), "name")),
        ("null", with(valid(), "name", Value::Null)),
        ("empty", with(valid(), "name", json!(""))),
        ("blank", with(valid(), "name", json!("   \t "))),
        ("101 chars", with(valid(), "name", json!("я".repeat(101)))),
    ];
    for (case, body) in &cases {
        assert_invalid_field(&submit(&app, body).await, "name", case);
    }
    assert_eq!(total(&app, "").await, 0, "a 422 stores nothing");

    // 100 characters (200 bytes in UTF-8) padded with spaces: accepted, stored trimmed.
    let hundred = "я".repeat(100);
    let r = submit(
        &app,
        &with(valid(), "name", json!(format!("  {hundred}  "))),
    )
    .await;
    let id = assert_receipt(&r, 201);
    assert_eq!(admin_lead(&app, id).await["name"], hundred.as_str());
}

async fn phone_is_required_valid_and_normalised_to_e164(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let cases = [
        ("missing", without(valid(), "phone")),
        ("null", with(valid(), "phone", Value::Null)),
        ("empty", with(valid(), "phone", json!(""))),
        ("garbage", with(valid(), "phone", json!("позвоните мне"))),
        ("letters", with(valid(), "phone", json!("abc-def-ghij"))),
        ("too short", with(valid(), "phone", json!("+7 916 12"))),
        ("too short local", with(valid(), "phone", json!("12345"))),
        (
            "too long",
            with(valid(), "phone", json!("+7 916 123 45 67 89 01")),
        ),
        ("huge", with(valid(), "phone", json!("9".repeat(500)))),
    ];
    for (case, body) in &cases {
        assert_invalid_field(&submit(&app, body).await, "phone", case);
    }
    assert_eq!(total(&app, "").await, 0, "a 422 stores nothing");

    // Each format of the same number normalises to one E.164 value; the lead is closed
    // between submissions so that each creates its own lead.
    for (i, raw) in [
        "+7 916 123 45 67",
        "8(916)1234567",
        "9161234567",
        "+7 (916) 123-45-67",
        "8 916 123-45-67",
    ]
    .into_iter()
    .enumerate()
    {
        let r = submit(&app, &with(valid(), "phone", json!(raw))).await;
        let id = assert_receipt(&r, 201);
        let lead = admin_lead(&app, id).await;
        assert_eq!(lead["phone"], "+79161234567", "{raw}");
        let closed = call(
            &app,
            admin(
                TestRequest::patch()
                    .uri(&format!("/api/v1/admin/leads/{id}"))
                    .set_json(json!({"status": "lost"})),
            ),
        )
        .await;
        assert_eq!(closed.status, 200, "{}", closed.json);
        assert_eq!(total(&app, "").await, i64::try_from(i + 1).expect("small"));
    }
}

async fn consent_is_required_and_must_be_true(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    for (case, body) in [
        ("missing", without(valid(), "consent")),
        ("null", with(valid(), "consent", Value::Null)),
        ("false", with(valid(), "consent", json!(false))),
    ] {
        assert_invalid_field(&submit(&app, &body).await, "consent", case);
    }
    assert_eq!(total(&app, "").await, 0);
}

async fn optional_fields_are_validated(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let cases = [
        ("email", json!("not-an-email"), "no at sign"),
        ("email", json!("anna@"), "no domain"),
        ("email", json!("anna @example.com"), "space"),
        ("message", json!("ы".repeat(2001)), "2001 chars"),
        ("utm_source", json!("u".repeat(101)), "101 chars"),
        ("utm_medium", json!("м".repeat(101)), "101 chars"),
        ("utm_campaign", json!("c".repeat(101)), "101 chars"),
    ];
    for (field, value, case) in cases {
        let r = submit(&app, &with(valid(), field, value)).await;
        assert_invalid_field(&r, field, &format!("{field} {case}"));
    }
    // Several bad fields at once are all reported.
    let r = submit(
        &app,
        &json!({"name": "", "phone": "x", "email": "x", "consent": false}),
    )
    .await;
    r.assert_error(422, "validation_failed");
    let mut bad: Vec<&String> = r.json["error"]["fields"]
        .as_object()
        .expect("fields")
        .keys()
        .collect();
    bad.sort();
    assert_eq!(bad, ["consent", "email", "name", "phone"]);
    assert_eq!(total(&app, "").await, 0, "a 422 stores nothing");

    // The limits themselves are accepted.
    let body = json!({
        "name": "Анна", "phone": "+79161234567", "consent": true,
        "email": "anna.smirnova+site@example.co.uk", "message": "ы".repeat(2000),
        "utm_source": "u".repeat(100), "utm_medium": "м".repeat(100), "utm_campaign": "c".repeat(100),
    });
    let id = assert_receipt(&submit(&app, &body).await, 201);
    let lead = admin_lead(&app, id).await;
    assert_eq!(
        lead["message"].as_str().expect("message").chars().count(),
        2000
    );
    assert_eq!(lead["utm_medium"], "м".repeat(100).as_str());
}

async fn references_must_exist(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let app = t.service().await;
    for field in ["location_id", "program_type_id", "class_session_id"] {
        for value in [999_999, 0, -1] {
            let r = submit(&app, &with(valid(), field, json!(value))).await;
            assert_invalid_field(&r, field, &format!("{field}={value}"));
        }
    }
    assert_eq!(total(&app, "").await, 0, "a 422 stores nothing");
    let body = with(
        with(valid(), "location_id", json!(c.locations[1].id)),
        "program_type_id",
        json!(c.program_types[0].id),
    );
    let id = assert_receipt(&submit(&app, &body).await, 201);
    assert_eq!(admin_lead(&app, id).await["location_id"], c.locations[1].id);
}

async fn wrong_types_malformed_json_and_other_content_types_are_400(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let wrong_types = [
        with(valid(), "consent", json!("yes")),
        with(valid(), "consent", json!(1)),
        with(valid(), "name", json!(5)),
        with(valid(), "phone", json!(79_161_234_567_i64)),
        with(valid(), "location_id", json!("1")),
        with(valid(), "location_id", json!(1.5)),
        with(valid(), "email", json!(["a@b.c"])),
        json!([valid()]),
        // An array is not read positionally as the form's fields.
        json!([
            "Анна",
            "+79161234567",
            null,
            null,
            null,
            null,
            null,
            true,
            null,
            null,
            null,
            null
        ]),
        json!([]),
        json!("Анна"),
        Value::Null,
    ];
    for body in &wrong_types {
        let r = submit(&app, body).await;
        r.assert_error(400, "invalid_json");
        assert!(r.json["error"].get("fields").is_none(), "{}", r.json);
    }
    let valid_text = valid().to_string();
    let raw_bodies: [(Option<&str>, &str); 7] = [
        (Some("application/json"), "{\"name\": \"Анна\","),
        (Some("application/json"), "{name: 'Анна'}"),
        (Some("application/json"), ""),
        (Some("text/plain"), &valid_text),
        (Some("application/x-www-form-urlencoded"), "name=a&phone=b"),
        (Some("multipart/form-data; boundary=x"), &valid_text),
        (None, &valid_text),
    ];
    for (content_type, body) in raw_bodies {
        let mut req = TestRequest::post()
            .uri("/api/v1/leads")
            .set_payload(body.to_owned());
        if let Some(ct) = content_type {
            req = req.insert_header(("content-type", ct));
        }
        call(&app, req).await.assert_error(400, "invalid_json");
    }
    // Invalid UTF-8.
    call(
        &app,
        TestRequest::post()
            .uri("/api/v1/leads")
            .insert_header(("content-type", "application/json"))
            .set_payload(
                b"{\"name\": \"\xff\xfe\", \"phone\": \"+79161234567\", \"consent\": true}"
                    .to_vec(),
            ),
    )
    .await
    .assert_error(400, "invalid_json");
    // A JSON content type with parameters is still JSON.
    let r = call(
        &app,
        TestRequest::post()
            .uri("/api/v1/leads")
            .insert_header(("content-type", "application/json; charset=utf-8"))
            .set_payload(valid_text.clone()),
    )
    .await;
    assert_receipt(&r, 201);
    assert_eq!(total(&app, "").await, 1, "the 400s stored nothing");
}

async fn a_body_over_64_kib_is_413(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let big = with(valid(), "message", json!("x".repeat(64 * 1024)));
    submit(&app, &big)
        .await
        .assert_error(413, "payload_too_large");
    // Not even JSON, but too large: the size is checked first.
    call(
        &app,
        TestRequest::post()
            .uri("/api/v1/leads")
            .insert_header(("content-type", "text/plain"))
            .set_payload(vec![b'a'; 70_000]),
    )
    .await
    .assert_error(413, "payload_too_large");
    // Just under the limit: read, then rejected for the message's length.
    let near = with(valid(), "message", json!("x".repeat(60 * 1024)));
    assert_invalid_field(&submit(&app, &near).await, "message", "60 KiB message");
    assert_eq!(total(&app, "").await, 0);
}

async fn a_resubmission_of_an_open_lead_within_a_day_joins_it(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let app = t.service().await;
    let first = submit(&app, &with(valid(), "message", json!("Хочу на пробное"))).await;
    let id = assert_receipt(&first, 201);

    let again = submit(
        &app,
        &json!({"name": "Аня", "phone": "8 (916) 123-45-67", "consent": true,
                "message": "Перезвоните вечером", "location_id": c.locations[0].id,
                "utm_source": "vk"}),
    )
    .await;
    assert_eq!(assert_receipt(&again, 200), id, "the same lead");
    assert_eq!(again.json["created_at"], first.json["created_at"]);
    assert_eq!(total(&app, "").await, 1);

    let events = admin_events(&app, id).await;
    assert_eq!(kinds(&events), ["created", "resubmitted"]);
    let resubmitted = &events[1];
    assert_eq!(resubmitted["actor"], "website");
    assert_eq!(resubmitted["data"]["message"], "Перезвоните вечером");
    assert_eq!(resubmitted["data"]["location_id"], c.locations[0].id);
    assert_eq!(resubmitted["data"]["utm_source"], "vk");

    // `contacted` and `trial_scheduled` are still open.
    for status in ["contacted", "trial_scheduled"] {
        let r = call(
            &app,
            admin(
                TestRequest::patch()
                    .uri(&format!("/api/v1/admin/leads/{id}"))
                    .set_json(json!({"status": status})),
            ),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.json);
        let r = submit(&app, &with(valid(), "phone", json!("9161234567"))).await;
        assert_eq!(r.status, 200, "{status}: {}", r.json);
        assert_eq!(r.json["id"], id);
        assert_eq!(
            r.json["status"], status,
            "the receipt shows the lead's status"
        );
    }
    assert_eq!(total(&app, "").await, 1);
    let events = admin_events(&app, id).await;
    assert_eq!(
        kinds(&events),
        [
            "created",
            "resubmitted",
            "status_changed",
            "resubmitted",
            "status_changed",
            "resubmitted"
        ]
    );
    // A different phone is a different person.
    assert_receipt(&submit(&app, &form_with_phone(1)).await, 201);
    assert_eq!(total(&app, "").await, 2);
}

async fn a_lead_older_than_a_day_does_not_absorb_a_submission(backend: Backend) {
    let t = TestApp::new(backend);
    let old = t
        .repos
        .leads
        .created(&old_lead("+79161234567", 25), "website");
    let recent = t
        .repos
        .leads
        .created(&old_lead("+79031112233", 23), "website");
    let app = t.service().await;

    let r = submit(&app, &with(valid(), "phone", json!("8 916 123 45 67"))).await;
    let id = assert_receipt(&r, 201);
    assert_ne!(id, old.id, "25 hours old: outside the window");
    assert_eq!(kinds(&admin_events(&app, old.id).await), ["created"]);

    let r = submit(&app, &with(valid(), "phone", json!("+7 903 111-22-33"))).await;
    assert_eq!(r.status, 200, "23 hours old: inside the window; {}", r.json);
    assert_eq!(r.json["id"], recent.id);
    assert_eq!(
        kinds(&admin_events(&app, recent.id).await),
        ["created", "resubmitted"]
    );
    // The new lead now absorbs further submissions, not the old one.
    let r = submit(&app, &valid()).await;
    assert_eq!((r.status.as_u16(), r.json["id"].as_i64()), (200, Some(id)));
    assert_eq!(total(&app, "").await, 3);
}

async fn a_closed_lead_does_not_absorb_a_submission(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let mut ids = Vec::new();
    for closing in ["converted", "lost"] {
        let id = assert_receipt(&submit(&app, &valid()).await, 201);
        assert!(!ids.contains(&id));
        ids.push(id);
        let r = call(
            &app,
            admin(
                TestRequest::patch()
                    .uri(&format!("/api/v1/admin/leads/{id}"))
                    .set_json(json!({"status": closing})),
            ),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.json);
    }
    let id = assert_receipt(&submit(&app, &valid()).await, 201);
    assert!(!ids.contains(&id));
    assert_eq!(total(&app, "").await, 3);
    for closed in ids {
        assert_eq!(
            kinds(&admin_events(&app, closed).await),
            ["created", "status_changed"],
            "closed leads got no resubmission"
        );
    }
}

async fn concurrent_submissions_of_distinct_phones_all_create_leads(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let bodies: Vec<Value> = (0..200).map(form_with_phone).collect();
    let replies = join_all(bodies.iter().map(|b| submit(&app, b))).await;
    let mut ids: Vec<i64> = replies.iter().map(|r| assert_receipt(r, 201)).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 200, "distinct ids");
    assert_eq!(total(&app, "limit=1").await, 200);
    let mut created = 0;
    for id in &ids {
        let events = t.repos.leads.events(*id).expect("events").expect("lead");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, LeadEventKind::Created);
        assert_eq!(events[0].actor, "website");
        created += 1;
    }
    assert_eq!(created, 200);
}

async fn concurrent_submissions_of_one_phone_create_one_lead(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let formats = [
        "+7 916 123 45 67",
        "8(916)1234567",
        "9161234567",
        "+79161234567",
    ];
    let bodies: Vec<Value> = (0..20)
        .map(|i| {
            json!({"name": "Анна", "phone": formats[i % formats.len()], "consent": true,
                   "message": format!("попытка {i}")})
        })
        .collect();
    let replies = join_all(bodies.iter().map(|b| submit(&app, b))).await;
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(created.len(), 1, "exactly one lead is created");
    let id = assert_receipt(created[0], 201);
    for r in &replies {
        if r.status != 201 {
            assert_eq!(assert_receipt(r, 200), id);
        }
    }
    assert_eq!(total(&app, "").await, 1);
    let events = admin_events(&app, id).await;
    assert_eq!(events.len(), 20);
    assert_eq!(events[0]["kind"], "created");
    assert!(events[1..].iter().all(|e| e["kind"] == "resubmitted"));
    assert!(events.iter().all(|e| e["actor"] == "website"));
    let mut messages: Vec<String> = events[1..]
        .iter()
        .map(|e| e["data"]["message"].as_str().expect("message").to_owned())
        .collect();
    let lead = admin_lead(&app, id).await;
    messages.push(lead["message"].as_str().expect("message").to_owned());
    messages.sort_unstable();
    messages.dedup();
    assert_eq!(messages.len(), 20, "every submission is kept");
}

async fn a_filled_honeypot_gets_a_receipt_and_stores_nothing(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    for trap in ["http://spam.example", "x"] {
        let r = submit(&app, &with(valid(), "website", json!(trap))).await;
        let id = assert_receipt(&r, 201);
        assert!(
            t.repos.leads.get_by_id(id).expect("read").is_none(),
            "no lead {id}"
        );
    }
    assert_eq!(total(&app, "").await, 0);
    // The trap answers an invalid form exactly as an invalid form without it: a bot cannot
    // tell that it was caught by comparing the two.
    let invalid = json!({"name": "x", "phone": "garbage", "consent": false, "email": "nope"});
    let plain = submit(&app, &invalid).await;
    let trapped = submit(
        &app,
        &with(invalid, "website", json!("http://spam.example")),
    )
    .await;
    plain.assert_error(422, "validation_failed");
    trapped.assert_error(422, "validation_failed");
    assert_eq!(
        trapped.json["error"]["fields"],
        plain.json["error"]["fields"]
    );
    // An empty honeypot is an ordinary submission.
    let id = assert_receipt(
        &submit(&app, &with(valid(), "website", json!(""))).await,
        201,
    );
    assert_eq!(total(&app, "").await, 1);
    // A trapped resubmission of an existing phone leaves the lead's history alone.
    let r = submit(&app, &with(valid(), "website", json!("bot"))).await;
    assert_eq!(r.status, 201);
    assert_eq!(kinds(&admin_events(&app, id).await), ["created"]);
}

fn from_ip(body: &Value, ip: &str) -> TestRequest {
    let ip: std::net::IpAddr = ip.parse().expect("ip address");
    post(body).peer_addr(std::net::SocketAddr::new(ip, 1234))
}

async fn the_form_is_rate_limited_per_client_ip(backend: Backend) {
    let t = TestApp::with(backend, |s| s.lead_rate_per_minute = 3);
    let app = t.service().await;
    for i in 0..3 {
        let r = call(&app, from_ip(&form_with_phone(i), "203.0.113.5")).await;
        assert_receipt(&r, 201);
    }
    let r = call(&app, from_ip(&form_with_phone(3), "203.0.113.5")).await;
    r.assert_error(429, "rate_limited");
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=20).contains(&retry), "one request per 20 s: {retry}");
    // Invalid bodies are limited too, and X-Forwarded-For from an untrusted peer is ignored.
    call(
        &app,
        from_ip(&json!({}), "203.0.113.5").insert_header(("x-forwarded-for", "198.51.100.1")),
    )
    .await
    .assert_error(429, "rate_limited");
    // Another client is unaffected.
    let r = call(&app, from_ip(&form_with_phone(4), "198.51.100.7")).await;
    assert_receipt(&r, 201);
    let r = call(&app, from_ip(&form_with_phone(5), "2001:db8::1")).await;
    assert_receipt(&r, 201);
    assert_eq!(
        total(&app, "").await,
        5,
        "the rejected requests stored nothing"
    );
    // Only the form is limited.
    let r = call(
        &app,
        TestRequest::get()
            .uri("/api/v1/locations")
            .peer_addr("203.0.113.5:1234".parse().expect("socket address")),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = call(
        &app,
        admin(
            TestRequest::post()
                .uri("/api/v1/admin/leads")
                .set_json(json!({"name": "Звонок", "phone": "+79031112233"})),
        )
        .peer_addr("203.0.113.5:1234".parse().expect("socket address")),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
}

async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(backend: Backend) {
    let t = TestApp::with(backend, |s| {
        s.lead_rate_per_minute = 1;
        s.trusted_proxies = vec!["10.0.0.1".parse().expect("ip")];
    });
    let app = t.service().await;
    let via_proxy = |i: usize, client: &str| {
        from_ip(&form_with_phone(i), "10.0.0.1")
            .insert_header(("x-forwarded-for", client.to_owned()))
    };
    assert_receipt(&call(&app, via_proxy(0, "198.51.100.1")).await, 201);
    assert_receipt(&call(&app, via_proxy(1, "198.51.100.2")).await, 201);
    call(&app, via_proxy(2, "198.51.100.1"))
        .await
        .assert_error(429, "rate_limited");
    // A spoofed left-most hop does not help: the right-most untrusted hop is the client.
    call(&app, via_proxy(3, "6.6.6.6, 198.51.100.2"))
        .await
        .assert_error(429, "rate_limited");
}

async fn a_rate_limited_client_recovers_after_the_period(backend: Backend) {
    // 12 a minute: a burst of 12, then one more every 5 seconds (slow enough that a loaded
    // machine cannot take so long over the burst that a token comes back in between).
    let t = TestApp::with(backend, |s| s.lead_rate_per_minute = 12);
    let app = t.service().await;
    let ip = "203.0.113.9";
    // The burst is sent at once (invalid bodies: they count, and cost no database writes).
    let burst: Vec<Value> = (0..12).map(|_| json!({})).collect();
    let replies = join_all(burst.iter().map(|b| call(&app, from_ip(b, ip)))).await;
    assert!(
        replies.iter().all(|r| r.status == 422),
        "the whole burst is let through"
    );
    let r = call(&app, from_ip(&form_with_phone(0), ip)).await;
    r.assert_error(429, "rate_limited");
    let retry_after: u64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=5).contains(&retry_after), "Retry-After {retry_after}");
    actix_web::rt::time::sleep(std::time::Duration::from_millis(5100)).await;
    assert_receipt(&call(&app, from_ip(&form_with_phone(1), ip)).await, 201);
    // The recovered request used the one replenished token (the next comes 5 s later).
    call(&app, from_ip(&form_with_phone(2), ip))
        .await
        .assert_error(429, "rate_limited");
    assert_eq!(total(&app, "").await, 1);
}

async fn the_form_answers_only_post(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    get(&app, "/api/v1/leads")
        .await
        .assert_error(405, "method_not_allowed");
    let r = submit(&app, &valid()).await;
    assert_receipt(&r, 201);
    assert!(r.header("x-request-id").is_some());
}

/// On PostgreSQL the limit is counted in the database, shared by every instance. When it
/// cannot count (here its table is gone), submissions go through: a customer is not refused
/// for the counter's sake.
#[actix_web::test]
async fn postgres_a_rate_limit_that_cannot_count_lets_submissions_through() {
    let t = TestApp::with(Backend::Postgres, |s| s.lead_rate_per_minute = 1);
    let app = t.service().await;
    assert_receipt(
        &call(&app, from_ip(&form_with_phone(0), "203.0.113.5")).await,
        201,
    );
    call(&app, from_ip(&form_with_phone(1), "203.0.113.5"))
        .await
        .assert_error(429, "rate_limited");
    cohai_persistence::testing::execute(&t.db.db, "DROP TABLE rate_limits");
    assert_receipt(
        &call(&app, from_ip(&form_with_phone(2), "203.0.113.5")).await,
        201,
    );
    assert_eq!(total(&app, "").await, 2);
}

e2e_tests!(
    a_valid_submission_is_stored_normalised_with_a_receipt_and_a_created_event,
    unknown_fields_are_ignored_and_blank_optionals_are_absent,
    name_is_required_and_1_to_100_characters_after_trimming,
    phone_is_required_valid_and_normalised_to_e164,
    consent_is_required_and_must_be_true,
    optional_fields_are_validated,
    references_must_exist,
    wrong_types_malformed_json_and_other_content_types_are_400,
    a_body_over_64_kib_is_413,
    a_resubmission_of_an_open_lead_within_a_day_joins_it,
    a_lead_older_than_a_day_does_not_absorb_a_submission,
    a_closed_lead_does_not_absorb_a_submission,
    concurrent_submissions_of_distinct_phones_all_create_leads,
    concurrent_submissions_of_one_phone_create_one_lead,
    a_filled_honeypot_gets_a_receipt_and_stores_nothing,
    the_form_is_rate_limited_per_client_ip,
    behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit,
    a_rate_limited_client_recovers_after_the_period,
    the_form_answers_only_post,
);

/// Input hygiene on the form: phone spellings, invisible and decomposed names.
mod input_hygiene {
    use super::*;

    async fn every_spelling_of_one_phone_is_stored_as_one_number_and_resubmits_the_lead(
        backend: Backend,
    ) {
        let t = TestApp::new(backend);
        let app = t.service().await;
        let first = submit(&app, &with(valid(), "phone", json!("+7916123-45-67"))).await;
        let id = assert_receipt(&first, 201);
        assert_eq!(admin_lead(&app, id).await["phone"], "+79161234567");
        let spellings = [
            "+7916 123 45 67",
            "+7-916-123-45-67",
            "8.916.123.45.67",
            "8 (916) 123/45/67",
            "8\u{a0}916\u{a0}123\u{a0}45\u{a0}67",
            "+7\u{202f}916\u{2009}123\u{2013}45\u{2014}67",
            "8\u{2011}916\u{2010}123\u{2212}45\u{2012}67",
            "\u{202a}+7 (916) 123-45-67\u{202c}",
            "916-123-45-67",
        ];
        for raw in spellings {
            let r = submit(&app, &with(valid(), "phone", json!(raw))).await;
            assert_eq!(assert_receipt(&r, 200), id, "{raw:?} joins the open lead");
        }
        assert_eq!(total(&app, "").await, 1);
        let events = admin_events(&app, id).await;
        assert_eq!(events.len(), 1 + spellings.len());
        assert!(kinds(&events[1..]).iter().all(|k| *k == "resubmitted"));
        // Separators do not make garbage a number.
        for raw in [
            "+7 916 123 45 67 доб. 2",
            "7+9161234567",
            "8 916 123 45 6x",
            "(-)",
        ] {
            let r = submit(&app, &with(valid(), "phone", json!(raw))).await;
            assert_invalid_field(&r, "phone", raw);
        }
        assert_eq!(total(&app, "").await, 1);
    }

    async fn an_invisible_name_is_422_on_name_and_stores_nothing(backend: Backend) {
        let t = TestApp::new(backend);
        let app = t.service().await;
        for name in [
            "\u{200b}",
            "\u{200f}",
            "\u{feff}",
            "\u{301}",
            " \u{200b} ",
            "\u{3164}",
        ] {
            let r = submit(&app, &with(valid(), "name", json!(name))).await;
            let case = format!("{name:?}");
            assert_invalid_field(&r, "name", &case);
            assert_eq!(
                r.json["error"]["fields"]["name"],
                json!(["must contain at least one visible character"]),
                "{case}: {}",
                r.json
            );
        }
        assert_eq!(total(&app, "").await, 0, "a 422 stores nothing");
    }

    async fn a_decomposed_name_is_stored_nfc_and_found_by_either_form(backend: Backend) {
        let t = TestApp::new(backend);
        let app = t.service().await;
        let (nfc, nfd) = ("Алёна Йорк", "Але\u{308}на И\u{306}орк");
        let r = submit(&app, &with(valid(), "name", json!(format!(" {nfd} ")))).await;
        let id = assert_receipt(&r, 201);
        assert_eq!(
            admin_lead(&app, id).await["name"],
            nfc,
            "stored trimmed and composed"
        );
        let stored = t.repos.leads.get_by_id(id).expect("read").expect("stored");
        assert_eq!(stored.name, nfc);
        for q in [nfc, nfd, "алёна", "але\u{308}на", "йорк", "и\u{306}орк"] {
            let query = format!("q={}", enc(q));
            assert_eq!(total(&app, &query).await, 1, "{q:?}");
        }
        // 100 characters once composed fit, though typed as 200 code points.
        let long = "и\u{306}".repeat(100);
        let r = submit(&app, &with(form_with_phone(1), "name", json!(long))).await;
        let id = assert_receipt(&r, 201);
        assert_eq!(admin_lead(&app, id).await["name"], "й".repeat(100));
    }

    /// `s` percent-encoded for a query string.
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    e2e_tests!(
        every_spelling_of_one_phone_is_stored_as_one_number_and_resubmits_the_lead,
        an_invisible_name_is_422_on_name_and_stores_nothing,
        a_decomposed_name_is_stored_nfc_and_found_by_either_form,
    );
}
