//! The leads CRM (`/api/v1/admin/leads…`) over HTTP, on both backends.

use actix_web::body::MessageBody;
use actix_web::test::TestRequest;
use chrono::{DateTime, Utc};
use cohai_domain::{Lead, LeadSource, LeadStatus, NewLead};
use cohai_e2e::builders::{lead, phone};
use cohai_e2e::{Backend, Reply, TestApp, TestLeads, admin, at, builders, call, e2e_tests};
use serde_json::{Value, json};

const LEADS: &str = "/api/v1/admin/leads";

/// Stores a lead through the repository.
fn store(t: &TestApp, new: &NewLead) -> Lead {
    t.repos.leads.created(new, "admin")
}

/// Stores one lead created at each instant (RFC 3339), in order: their ids.
fn store_at(t: &TestApp, instants: &[&str]) -> Vec<i64> {
    (0..)
        .zip(instants)
        .map(|(i, when)| store(t, &lead(&format!("Лид {i}"), phone(i), at(when))).id)
        .collect()
}

async fn send<S, B>(app: &S, req: TestRequest) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    call(app, admin(req)).await
}

async fn list<S, B>(app: &S, query: &str) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    send(app, TestRequest::get().uri(&format!("{LEADS}?{query}"))).await
}

/// The ids a list answers, asserting a 200.
async fn list_ids<S, B>(app: &S, query: &str) -> Vec<i64>
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = list(app, query).await;
    assert_eq!(r.status, 200, "{query}: {}", r.json);
    ids(&r)
}

/// `s` percent-encoded for a query string (everything but RFC 3986 unreserved characters).
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

fn ids(r: &Reply) -> Vec<i64> {
    r.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|l| l["id"].as_i64().expect("id"))
        .collect()
}

async fn get_lead<S, B>(app: &S, id: i64) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    send(app, TestRequest::get().uri(&format!("{LEADS}/{id}"))).await
}

async fn patch<S, B>(app: &S, id: i64, body: &Value) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    send(
        app,
        TestRequest::patch()
            .uri(&format!("{LEADS}/{id}"))
            .set_json(body),
    )
    .await
}

async fn create<S, B>(app: &S, body: &Value) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    send(app, TestRequest::post().uri(LEADS).set_json(body)).await
}

async fn events<S, B>(app: &S, id: i64) -> Vec<Value>
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = send(app, TestRequest::get().uri(&format!("{LEADS}/{id}/events"))).await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["items"].as_array().expect("items").clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect()
}

fn assert_bad_parameter(r: &Reply, parameter: &str, case: &str) {
    assert_eq!(r.status, 400, "{case}: {}", r.json);
    r.assert_error(400, "invalid_parameter");
    assert_eq!(
        r.json["error"]["details"]["parameter"], parameter,
        "{case}: {}",
        r.json
    );
}

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
}

fn etag(r: &Reply) -> String {
    let tag = r.header("etag").expect("ETag").to_owned();
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && tag.len() > 2,
        "a strong tag: {tag}"
    );
    tag
}

const LEAD_KEYS: [&str; 20] = [
    "assignee",
    "class_session_id",
    "consent_at",
    "created_at",
    "email",
    "id",
    "location_id",
    "lost_reason",
    "message",
    "name",
    "next_contact_at",
    "notes",
    "phone",
    "program_type_id",
    "source",
    "status",
    "updated_at",
    "utm_campaign",
    "utm_medium",
    "utm_source",
];

fn assert_lead_shape(lead: &Value) {
    let mut keys: Vec<&str> = lead
        .as_object()
        .expect("lead object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, LEAD_KEYS, "{lead}");
}

async fn list_pagination_is_bounded_and_echoed(backend: Backend) {
    let t = TestApp::new(backend);
    let stored: Vec<Lead> = (0..5)
        .map(|i| {
            store(
                &t,
                &lead(
                    &format!("Лид {i}"),
                    phone(i),
                    at("2025-06-01T10:00:00Z") + chrono::Duration::minutes(i64::from(i)),
                ),
            )
        })
        .collect();
    let app = t.service().await;
    for (param, value) in [
        ("limit", "0"),
        ("limit", "201"),
        ("limit", "-1"),
        ("limit", "x"),
        ("limit", "1.5"),
        ("limit", ""),
        ("limit", "100000000000000000000"),
        ("offset", "-1"),
        ("offset", "x"),
        ("offset", "1e3"),
    ] {
        let r = list(&app, &format!("{param}={value}")).await;
        assert_bad_parameter(&r, param, &format!("{param}={value}"));
    }
    let r = list(&app, "").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (&r.json["total"], &r.json["limit"], &r.json["offset"]),
        (&json!(5), &json!(50), &json!(0)),
        "defaults"
    );
    assert_eq!(r.json["items"].as_array().expect("items").len(), 5);
    assert_lead_shape(&r.json["items"][0]);

    let r = list(&app, "limit=200").await;
    assert_eq!((r.status.as_u16(), &r.json["limit"]), (200, &json!(200)));
    let r = list(&app, "limit=1").await;
    assert_eq!((ids(&r), &r.json["total"]), (vec![stored[4].id], &json!(5)));

    let r = list(&app, "limit=2&offset=1").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        ids(&r),
        [stored[3].id, stored[2].id],
        "newest first, skip 1"
    );
    assert_eq!(
        (&r.json["total"], &r.json["limit"], &r.json["offset"]),
        (&json!(5), &json!(2), &json!(1))
    );
    let r = list(&app, "limit=2&offset=4").await;
    assert_eq!(ids(&r), [stored[0].id]);
    let r = list(&app, "offset=5").await;
    assert_eq!(
        (ids(&r), &r.json["total"], &r.json["offset"]),
        (vec![], &json!(5), &json!(5)),
        "past the end: empty page, real total"
    );
}

async fn list_sorts_by_created_or_updated_with_ties_by_id(backend: Backend) {
    let t = TestApp::new(backend);
    let t0 = at("2025-06-01T10:00:00Z");
    let t1 = at("2025-06-01T11:00:00Z");
    let a = store(&t, &lead("A", phone(1), t0));
    let d = store(&t, &lead("D", phone(4), at("2025-06-01T12:00:00Z")));
    let b = store(&t, &lead("B", phone(2), t1));
    let c = store(&t, &lead("C", phone(3), t1));
    let app = t.service().await;
    let (a, b, c, d) = (a.id, b.id, c.id, d.id);
    assert_eq!(list_ids(&app, "sort=created_at").await, [a, b, c, d]);
    assert_eq!(list_ids(&app, "sort=-created_at").await, [d, c, b, a]);
    assert_eq!(
        list_ids(&app, "").await,
        [d, c, b, a],
        "default -created_at"
    );
    // Ties (b and c share both instants) are broken by id in the sort's direction.
    assert_eq!(list_ids(&app, "sort=updated_at").await, [a, b, c, d]);
    assert_eq!(list_ids(&app, "sort=-updated_at").await, [d, c, b, a]);
    // Touching the oldest lead makes it the most recently updated.
    let r = patch(&app, a, &json!({"notes": "перезвонить"})).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(list_ids(&app, "sort=updated_at").await, [b, c, d, a]);
    assert_eq!(list_ids(&app, "sort=-updated_at").await, [a, d, c, b]);
    assert_eq!(
        list_ids(&app, "sort=created_at").await,
        [a, b, c, d],
        "created_at is unaffected"
    );
    // Pages follow the order.
    assert_eq!(
        list_ids(&app, "sort=created_at&limit=2&offset=1").await,
        [b, c]
    );
    assert_eq!(
        list_ids(&app, "sort=-updated_at&limit=2&offset=2").await,
        [c, b]
    );

    for bad in [
        "CREATED_AT",
        "Created_At",
        "-CREATED_AT",
        "name",
        "-name",
        "id",
        "%2Bcreated_at",
        "created_at%20",
        "created_at,updated_at",
        "--created_at",
        "created",
        "",
    ] {
        let r = list(&app, &format!("sort={bad}")).await;
        assert_bad_parameter(&r, "sort", bad);
    }
}

async fn list_filters_by_status_and_source(backend: Backend) {
    let t = TestApp::new(backend);
    let base = at("2025-06-01T10:00:00Z");
    let mut by_status = Vec::new();
    for (i, (status, source)) in [
        (LeadStatus::New, LeadSource::Website),
        (LeadStatus::Contacted, LeadSource::Instagram),
        (LeadStatus::TrialScheduled, LeadSource::Website),
        (LeadStatus::Converted, LeadSource::WalkIn),
        (LeadStatus::Lost, LeadSource::Instagram),
        (LeadStatus::New, LeadSource::Other),
    ]
    .into_iter()
    .enumerate()
    {
        let created = base + chrono::Duration::minutes(i64::try_from(i).expect("small"));
        let lead = store(
            &t,
            &NewLead {
                status,
                source,
                ..lead(
                    &format!("Лид {i}"),
                    phone(u32::try_from(i).expect("small")),
                    created,
                )
            },
        );
        by_status.push(lead.id);
    }
    let app = t.service().await;
    let ids_sorted = |q: &'static str| {
        let app = &app;
        async move {
            let mut v = list_ids(app, q).await;
            v.sort_unstable();
            v
        }
    };
    let s = &by_status;
    assert_eq!(ids_sorted("status=new").await, [s[0], s[5]]);
    assert_eq!(ids_sorted("status=trial_scheduled").await, [s[2]]);
    assert_eq!(ids_sorted("status=converted").await, [s[3]]);
    assert_eq!(ids_sorted("status=new,contacted").await, [s[0], s[1], s[5]]);
    assert_eq!(
        ids_sorted("status=converted,lost,trial_scheduled").await,
        [s[2], s[3], s[4]]
    );
    let r = list(&app, "status=new,contacted&limit=1").await;
    assert_eq!(r.json["total"], 3, "total counts the filtered leads");
    for bad in ["done", "NEW", "new,done", "new,", "open", "new%20"] {
        assert_bad_parameter(&list(&app, &format!("status={bad}")).await, "status", bad);
    }

    assert_eq!(ids_sorted("source=instagram").await, [s[1], s[4]]);
    assert_eq!(ids_sorted("source=walk_in").await, [s[3]]);
    assert_eq!(ids_sorted("source=telegram").await, Vec::<i64>::new());
    assert_eq!(
        ids_sorted("source=website&status=trial_scheduled").await,
        [s[2]],
        "filters combine"
    );
    for bad in ["facebook", "Website", "website,instagram", "walk-in"] {
        assert_bad_parameter(&list(&app, &format!("source={bad}")).await, "source", bad);
    }
}

async fn list_filters_by_location(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let (moscow, berlin, closed) = (c.locations[0].id, c.locations[1].id, c.locations[2].id);
    let base = at("2025-06-01T10:00:00Z");
    let in_moscow = store(
        &t,
        &NewLead {
            location_id: Some(moscow),
            ..lead("Москва", phone(1), base)
        },
    );
    let in_closed = store(
        &t,
        &NewLead {
            location_id: Some(closed),
            ..lead("Закрытая", phone(2), base)
        },
    );
    store(&t, &lead("Без студии", phone(3), base));
    let app = t.service().await;
    assert_eq!(
        list_ids(&app, &format!("location_id={moscow}")).await,
        [in_moscow.id]
    );
    assert_eq!(
        list_ids(&app, &format!("location_id={berlin}")).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        list_ids(&app, &format!("location_id={closed}")).await,
        [in_closed.id],
        "an inactive location still exists"
    );
    list(&app, "location_id=999999")
        .await
        .assert_error(404, "not_found");
    for bad in ["abc", "0", "-1", "1.5", ""] {
        assert_bad_parameter(
            &list(&app, &format!("location_id={bad}")).await,
            "location_id",
            bad,
        );
    }
}

async fn list_searches_name_email_and_phone_case_insensitively(backend: Backend) {
    let t = TestApp::new(backend);
    let base = at("2025-06-01T10:00:00Z");
    let anna = store(
        &t,
        &NewLead {
            email: Some("Anna.S@Example.com".to_owned()),
            ..lead("Анна Смирнова", "+79161234567", base)
        },
    );
    let lower = store(&t, &lead("анна петрова", "+79162223344", base));
    let zhanna = store(&t, &lead("Жанна", "+79163334455", base));
    let boris = store(
        &t,
        &NewLead {
            email: Some("boris@mail.ru".to_owned()),
            notes: Some("звонила анна, просила перезвонить".to_owned()),
            message: Some("Анна посоветовала".to_owned()),
            ..lead("Борис", "+79031112233", base)
        },
    );
    let alyona = store(&t, &lead("Алёна ANNETTE", "+79035556677", base));
    let app = t.service().await;
    let search = |q: &str| {
        let uri = format!("q={}&sort=created_at", enc(q));
        let app = &app;
        async move { list_ids(app, &uri).await }
    };
    let annas = vec![anna.id, lower.id, zhanna.id];
    assert_eq!(search("АННА").await, annas, "Cyrillic upper finds lower");
    assert_eq!(search("анна").await, annas, "and lower finds upper");
    assert_eq!(search("аННа").await, annas);
    assert_eq!(search(" анна ").await, annas, "trimmed");
    assert_eq!(search("АЛЁНА").await, [alyona.id]);
    assert_eq!(search("annette").await, [alyona.id], "Latin folds too");
    assert_eq!(search("example.COM").await, [anna.id], "e-mail");
    assert_eq!(search("ANNA.S@").await, [anna.id]);
    assert_eq!(search("MAIL.RU").await, [boris.id]);
    assert_eq!(search("903111").await, [boris.id], "phone digits");
    assert_eq!(search("+7903").await, [boris.id, alyona.id], "E.164 prefix");
    assert_eq!(
        search("посоветовала").await,
        Vec::<i64>::new(),
        "not the message"
    );
    assert_eq!(
        search("перезвонить").await,
        Vec::<i64>::new(),
        "not the notes"
    );
    // LIKE's wildcards are literal characters.
    assert_eq!(search("%").await, Vec::<i64>::new());
    assert_eq!(search("_").await, Vec::<i64>::new());
    assert_eq!(search("а%а").await, Vec::<i64>::new());
    assert_eq!(
        search(&"я".repeat(200)).await,
        Vec::<i64>::new(),
        "200 chars are fine"
    );
    // An empty q does not filter.
    assert_eq!(list_ids(&app, "q=").await.len(), 5);
    let r = list(&app, &format!("q={}&limit=1", enc("анна"))).await;
    assert_eq!(r.json["total"], 3);
    assert_bad_parameter(
        &list(&app, &format!("q={}", enc(&"я".repeat(201)))).await,
        "q",
        "201 chars",
    );
}

async fn list_filters_by_a_half_open_creation_range(backend: Backend) {
    let t = TestApp::new(backend);
    let stored = store_at(
        &t,
        &[
            "2026-03-01T00:00:00Z",
            "2026-03-01T23:59:59Z",
            "2026-03-02T00:00:00Z",
            "2026-03-02T12:00:00Z",
            "2026-03-03T00:00:00Z",
        ],
    );
    let app = t.service().await;
    let range = |q: &str| {
        let uri = format!("{q}&sort=created_at");
        let app = &app;
        async move { list_ids(app, &uri).await }
    };
    let s = &stored;
    assert_eq!(
        range("created_from=2026-03-01T23:59:59Z&created_to=2026-03-02T12:00:00Z").await,
        [s[1], s[2]],
        "from inclusive, to exclusive"
    );
    assert_eq!(range("created_to=2026-03-02T00:00:00Z").await, [s[0], s[1]]);
    assert_eq!(
        range("created_from=2026-03-02T00:00:00Z").await,
        [s[2], s[3], s[4]]
    );
    assert_eq!(
        range("created_from=2026-03-02T00:00:00Z&created_to=2026-03-02T00:00:00Z").await,
        Vec::<i64>::new(),
        "from == to is empty"
    );
    // Dates are UTC days; a `to` date includes its whole day.
    assert_eq!(range("created_from=2026-03-02").await, [s[2], s[3], s[4]]);
    assert_eq!(range("created_to=2026-03-01").await, [s[0], s[1]]);
    assert_eq!(
        range("created_from=2026-03-01&created_to=2026-03-02").await,
        [s[0], s[1], s[2], s[3]]
    );
    assert_eq!(
        range("created_from=2026-03-02&created_to=2026-03-02").await,
        [s[2], s[3]]
    );
    // Offsets other than Z, encoded or not.
    assert_eq!(
        range("created_from=2026-03-02T03:00:00%2B03:00").await,
        [s[2], s[3], s[4]]
    );
    assert_eq!(
        range("created_to=2026-03-02T03:00:00+03:00").await,
        [s[0], s[1]]
    );
    assert_eq!(
        range("created_from=2026-03-02T09:00:00-03:00").await,
        [s[3], s[4]]
    );
    for (param, value) in [
        ("created_from", "2026-03-01T00:00:00"),
        ("created_to", "2026-03-01T00:00:00"),
        ("created_from", "2026-02-30"),
        ("created_to", "01.03.2026"),
        ("created_from", "yesterday"),
        ("created_to", ""),
    ] {
        let r = list(&app, &format!("{param}={value}")).await;
        assert_bad_parameter(&r, param, &format!("{param}={value}"));
    }
}

async fn create_answers_201_with_location_etag_and_the_lead(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let (loc, pt) = (c.locations[0].id, c.program_types[0].id);
    let session = t.session(builders::session(
        loc,
        pt,
        c.trainers[0].id,
        at("2026-12-01T09:00:00Z"),
    ));
    let app = t.service().await;
    let r = create(
        &app,
        &json!({
            "name": "  Борис  ", "phone": "8 (903) 111-22-33", "email": "boris@mail.ru",
            "message": "Позвонил сам", "location_id": loc, "program_type_id": pt,
            "class_session_id": session.id, "status": "contacted", "source": "phone",
            "notes": "Хочет утренние занятия", "utm_source": "radio", "utm_medium": "offline",
            "utm_campaign": "autumn", "consent": true
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let lead = &r.json;
    assert_lead_shape(lead);
    let id = lead["id"].as_i64().expect("id");
    assert_eq!(
        r.header("location").map(str::to_owned),
        Some(format!("/api/v1/admin/leads/{id}"))
    );
    let tag = etag(&r);
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    assert_eq!(lead["name"], "Борис");
    assert_eq!(lead["phone"], "+79031112233");
    assert_eq!(lead["email"], "boris@mail.ru");
    assert_eq!(lead["message"], "Позвонил сам");
    assert_eq!(lead["location_id"], loc);
    assert_eq!(lead["program_type_id"], pt);
    assert_eq!(lead["class_session_id"], session.id);
    assert_eq!(lead["status"], "contacted");
    assert_eq!(lead["source"], "phone");
    assert_eq!(lead["notes"], "Хочет утренние занятия");
    assert_eq!(lead["utm_source"], "radio");
    assert_eq!(lead["utm_medium"], "offline");
    assert_eq!(lead["utm_campaign"], "autumn");
    assert_eq!(lead["created_at"], lead["updated_at"]);

    let got = get_lead(&app, id).await;
    assert_eq!(got.json, *lead, "the Location names the stored lead");
    assert_eq!(etag(&got), tag);
    let ev = events(&app, id).await;
    assert_eq!(kinds(&ev), ["created"]);
    assert_eq!(ev[0]["actor"], "admin");

    // Defaults: status new, source other; consent is not required.
    let r = create(&app, &json!({"name": "Анна", "phone": "+79161234567"})).await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["status"], "new");
    assert_eq!(r.json["source"], "other");
    for nullable in ["email", "message", "notes", "location_id", "utm_source"] {
        assert_eq!(r.json[nullable], Value::Null, "{nullable}");
    }
    for source in [
        "website",
        "instagram",
        "telegram",
        "vk",
        "walk_in",
        "referral",
    ] {
        let r = create(
            &app,
            &json!({"name": "Анна", "phone": "+79161234567", "source": source, "status": "lost"}),
        )
        .await;
        assert_eq!(
            (r.status.as_u16(), &r.json["source"], &r.json["status"]),
            (201, &json!(source), &json!("lost"))
        );
    }
}

async fn create_does_not_deduplicate(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let first = create(&app, &json!({"name": "Анна", "phone": "+7 916 123 45 67"})).await;
    let second = create(&app, &json!({"name": "Анна", "phone": "8 916 123-45-67"})).await;
    assert_eq!((first.status.as_u16(), second.status.as_u16()), (201, 201));
    assert_ne!(first.json["id"], second.json["id"]);
    assert_eq!(first.json["phone"], second.json["phone"]);
    assert_eq!(list(&app, "").await.json["total"], 2);
    assert_eq!(
        kinds(&events(&app, first.json["id"].as_i64().expect("id")).await),
        ["created"]
    );
}

async fn create_rejects_unknown_fields_wrong_types_and_invalid_values(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let valid = json!({"name": "Анна", "phone": "+79161234567"});
    let with = |key: &str, value: Value| {
        let mut body = valid.clone();
        body[key] = value;
        body
    };
    for body in [
        with("website", json!("http://spam.example")),
        with("foo", json!(1)),
        with("id", json!(5)),
        with("created_at", json!("2026-01-01T00:00:00Z")),
        with("status", json!(1)),
        with("name", json!(5)),
        with("consent", json!("yes")),
        with("location_id", json!("1")),
        json!([valid.clone()]),
        json!(["Анна", "+79161234567"]),
    ] {
        let r = create(&app, &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.json);
        r.assert_error(400, "invalid_json");
    }
    call(
        &app,
        admin(
            TestRequest::post()
                .uri(LEADS)
                .insert_header(("content-type", "text/plain"))
                .set_payload(valid.to_string()),
        ),
    )
    .await
    .assert_error(400, "invalid_json");
    call(
        &app,
        admin(
            TestRequest::post()
                .uri(LEADS)
                .insert_header(("content-type", "application/json"))
                .set_payload("{\"name\": "),
        ),
    )
    .await
    .assert_error(400, "invalid_json");
    let mut missing_name = valid.clone();
    missing_name.as_object_mut().expect("object").remove("name");
    let mut missing_phone = valid.clone();
    missing_phone
        .as_object_mut()
        .expect("object")
        .remove("phone");
    for (field, body) in [
        ("name", missing_name),
        ("name", with("name", json!("   "))),
        ("name", with("name", json!("я".repeat(101)))),
        ("phone", missing_phone),
        ("phone", with("phone", json!("garbage"))),
        ("phone", with("phone", json!("12345"))),
        // A string that is not one of an enum's values is a 422 on the field (API.md §1).
        ("status", with("status", json!("done"))),
        ("source", with("source", json!("facebook"))),
        ("source", with("source", json!("Website"))),
        ("email", with("email", json!("not-an-email"))),
        ("message", with("message", json!("ы".repeat(2001)))),
        ("notes", with("notes", json!("н".repeat(5001)))),
        ("utm_source", with("utm_source", json!("u".repeat(101)))),
        ("location_id", with("location_id", json!(999_999))),
        ("program_type_id", with("program_type_id", json!(999_999))),
        ("class_session_id", with("class_session_id", json!(999_999))),
    ] {
        let r = create(&app, &body).await;
        assert_invalid_field(&r, field, &body.to_string());
    }
    let big = with("notes", json!("x".repeat(64 * 1024)));
    create(&app, &big)
        .await
        .assert_error(413, "payload_too_large");
    assert_eq!(list(&app, "").await.json["total"], 0, "nothing stored");
    // The limits themselves are fine.
    let r = create(&app, &with("notes", json!("н".repeat(5000)))).await;
    assert_eq!(r.status, 201, "{}", r.json);
}

async fn get_has_an_etag_and_answers_404_and_400(backend: Backend) {
    let t = TestApp::new(backend);
    let lead = store(
        &t,
        &lead("Анна", "+79161234567", at("2025-06-01T10:00:00Z")),
    );
    let app = t.service().await;
    let r = get_lead(&app, lead.id).await;
    assert_eq!(r.status, 200);
    assert_lead_shape(&r.json);
    assert_eq!(r.json["id"], lead.id);
    assert_eq!(r.json["name"], "Анна");
    assert_eq!(r.json["created_at"], "2025-06-01T10:00:00Z");
    let tag = etag(&r);
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    assert_eq!(
        etag(&get_lead(&app, lead.id).await),
        tag,
        "stable while unchanged"
    );

    let r = send(
        &app,
        TestRequest::get()
            .uri(&format!("{LEADS}/{}", lead.id))
            .insert_header(("if-none-match", tag.clone())),
    )
    .await;
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(tag.as_str()));
    assert_eq!(
        r.header("cache-control"),
        Some("private, no-store"),
        "a 304 repeats the Cache-Control of the 200 (RFC 9110 §15.4.5)"
    );

    get_lead(&app, lead.id + 1000)
        .await
        .assert_error(404, "not_found");
    for bad in ["abc", "0", "-1", "1.5", "%201"] {
        let r = send(&app, TestRequest::get().uri(&format!("{LEADS}/{bad}"))).await;
        assert_bad_parameter(&r, "id", bad);
    }
}

async fn patch_leaves_absent_fields_and_clears_nulls(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let (loc, pt) = (c.locations[0].id, c.program_types[0].id);
    let session = t.session(builders::session(
        loc,
        pt,
        c.trainers[0].id,
        at("2026-12-01T09:00:00Z"),
    ));
    let app = t.service().await;
    let created = create(
        &app,
        &json!({"name": "Анна", "phone": "+79161234567", "email": "anna@example.com",
                "message": "Хочу на пробное", "location_id": loc, "program_type_id": pt,
                "class_session_id": session.id, "notes": "VIP", "utm_source": "vk"}),
    )
    .await;
    assert_eq!(created.status, 201);
    let id = created.json["id"].as_i64().expect("id");
    let before = created.json.clone();

    // An empty patch changes nothing, not even the ETag.
    let r = patch(&app, id, &json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json, before);
    assert_eq!(etag(&r), etag(&created));
    assert_eq!(kinds(&events(&app, id).await), ["created"]);

    let r = patch(&app, id, &json!({"notes": null})).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["notes"], Value::Null);
    for kept in [
        "name",
        "phone",
        "email",
        "message",
        "location_id",
        "program_type_id",
        "class_session_id",
        "status",
        "source",
        "utm_source",
        "created_at",
    ] {
        assert_eq!(r.json[kept], before[kept], "{kept} is unchanged");
    }
    assert!(
        at(r.json["updated_at"].as_str().expect("updated_at"))
            > at(before["updated_at"].as_str().expect("updated_at")),
        "updated_at moves"
    );

    let r = patch(
        &app,
        id,
        &json!({"email": null, "message": null, "location_id": null,
                "program_type_id": null, "class_session_id": null}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    for cleared in [
        "email",
        "message",
        "location_id",
        "program_type_id",
        "class_session_id",
        "notes",
    ] {
        assert_eq!(r.json[cleared], Value::Null, "{cleared}");
    }
    assert_eq!(r.json["name"], "Анна");

    let r = patch(
        &app,
        id,
        &json!({"name": "  Анна Смирнова ", "phone": "8 903 111-22-33", "source": "vk",
                "email": "anna@mail.ru", "location_id": c.locations[1].id}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["name"], "Анна Смирнова");
    assert_eq!(r.json["phone"], "+79031112233");
    assert_eq!(r.json["source"], "vk");
    assert_eq!(r.json["email"], "anna@mail.ru");
    assert_eq!(r.json["location_id"], c.locations[1].id);
    assert_eq!(
        get_lead(&app, id).await.json,
        r.json,
        "the change is stored"
    );
    // The search text follows the changes.
    let found = list(&app, &format!("q={}", enc("смирнова"))).await;
    assert_eq!(ids(&found), [id]);
    assert_eq!(ids(&list(&app, "q=903111").await), [id]);
    assert_eq!(ids(&list(&app, "q=example.com").await), Vec::<i64>::new());
}

async fn patch_rejects_unknown_fields_wrong_types_and_invalid_values(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let created = create(
        &app,
        &json!({"name": "Анна", "phone": "+79161234567", "email": "anna@example.com"}),
    )
    .await;
    let id = created.json["id"].as_i64().expect("id");
    let tag = etag(&created);
    for body in [
        json!({"consent": true}),
        json!({"website": "x"}),
        json!({"foo": 1}),
        json!({"id": 7}),
        json!({"utm_source": "x"}),
        json!({"created_at": "2026-01-01T00:00:00Z"}),
        json!({"status": 1}),
        json!({"name": 5}),
        json!({"location_id": "1"}),
        json!({"notes": ["a"]}),
        json!([]),
        // Not read positionally as name and phone.
        json!(["Новое имя", "+79031112233"]),
        json!("Анна"),
    ] {
        let r = patch(&app, id, &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.json);
        r.assert_error(400, "invalid_json");
    }
    call(
        &app,
        admin(
            TestRequest::patch()
                .uri(&format!("{LEADS}/{id}"))
                .insert_header(("content-type", "application/json"))
                .set_payload("{\"notes\": "),
        ),
    )
    .await
    .assert_error(400, "invalid_json");
    call(
        &app,
        admin(
            TestRequest::patch()
                .uri(&format!("{LEADS}/{id}"))
                .insert_header(("content-type", "text/plain"))
                .set_payload("{}"),
        ),
    )
    .await
    .assert_error(400, "invalid_json");
    for (field, body) in [
        ("name", json!({"name": null})),
        ("name", json!({"name": "   "})),
        ("name", json!({"name": "я".repeat(101)})),
        ("phone", json!({"phone": null})),
        ("phone", json!({"phone": "garbage"})),
        ("phone", json!({"phone": "+7 916 12"})),
        ("status", json!({"status": null})),
        ("status", json!({"status": "done"})),
        ("status", json!({"status": "NEW"})),
        ("source", json!({"source": null})),
        ("source", json!({"source": "facebook"})),
        ("email", json!({"email": "not-an-email"})),
        ("message", json!({"message": "ы".repeat(2001)})),
        ("notes", json!({"notes": "н".repeat(5001)})),
        ("location_id", json!({"location_id": 999_999})),
        ("program_type_id", json!({"program_type_id": 0})),
        ("class_session_id", json!({"class_session_id": 999_999})),
    ] {
        let r = patch(&app, id, &body).await;
        assert_invalid_field(&r, field, &body.to_string());
    }
    // A valid change together with an invalid one is not applied either.
    let r = patch(&app, id, &json!({"notes": "ok", "phone": "garbage"})).await;
    assert_invalid_field(&r, "phone", "mixed");

    let after = get_lead(&app, id).await;
    assert_eq!(after.json, created.json, "nothing changed");
    assert_eq!(etag(&after), tag);
    assert_eq!(kinds(&events(&app, id).await), ["created"]);

    patch(&app, id + 1000, &json!({"notes": "x"}))
        .await
        .assert_error(404, "not_found");
    let r = send(
        &app,
        TestRequest::patch()
            .uri(&format!("{LEADS}/abc"))
            .set_json(json!({"notes": "x"})),
    )
    .await;
    assert_bad_parameter(&r, "id", "abc");
}

async fn patch_records_status_changes_and_updated_fields(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let created = create(&app, &json!({"name": "Анна", "phone": "+79161234567"})).await;
    let id = created.json["id"].as_i64().expect("id");
    let mut tags = vec![etag(&created)];
    // Asserts a 200 with an ETag never seen before, which GET then shows too.
    macro_rules! expect_tag_change {
        ($r:expr) => {{
            let r: &Reply = $r;
            assert_eq!(r.status, 200, "{}", r.json);
            let tag = etag(r);
            assert!(!tags.contains(&tag), "a new ETag after every update: {tag}");
            assert_eq!(etag(&get_lead(&app, id).await), tag, "GET agrees");
            tags.push(tag);
        }};
    }

    let r = patch(&app, id, &json!({"status": "contacted"})).await;
    expect_tag_change!(&r);
    assert_eq!(r.json["status"], "contacted");
    let ev = events(&app, id).await;
    assert_eq!(kinds(&ev), ["created", "status_changed"]);
    assert_eq!(ev[1]["actor"], "admin");
    assert_eq!(ev[1]["data"], json!({"from": "new", "to": "contacted"}));
    assert_eq!(ev[1]["lead_id"], id);

    let r = patch(
        &app,
        id,
        &json!({"notes": "перезвонить", "email": "anna@example.com"}),
    )
    .await;
    expect_tag_change!(&r);
    let ev = events(&app, id).await;
    assert_eq!(kinds(&ev), ["created", "status_changed", "updated"]);
    assert_eq!(ev[2]["actor"], "admin");
    assert_eq!(
        ev[2]["data"],
        json!({"fields": ["email", "notes"]}),
        "names only, no personal data"
    );

    // Setting the current values is not a change.
    let r = patch(
        &app,
        id,
        &json!({"status": "contacted", "notes": "перезвонить", "name": "Анна"}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(etag(&r), *tags.last().expect("tag"));
    assert_eq!(events(&app, id).await.len(), 3);

    // Status and other fields at once: one event each; any transition is allowed.
    let r = patch(
        &app,
        id,
        &json!({"status": "lost", "notes": null, "source": "telegram"}),
    )
    .await;
    expect_tag_change!(&r);
    let r = patch(&app, id, &json!({"status": "new"})).await;
    expect_tag_change!(&r);
    let r = patch(&app, id, &json!({"status": "converted"})).await;
    expect_tag_change!(&r);
    let ev = events(&app, id).await;
    assert_eq!(
        kinds(&ev),
        [
            "created",
            "status_changed",
            "updated",
            "status_changed",
            "updated",
            "status_changed",
            "status_changed"
        ]
    );
    assert_eq!(ev[3]["data"], json!({"from": "contacted", "to": "lost"}));
    assert_eq!(ev[4]["data"], json!({"fields": ["source", "notes"]}));
    assert_eq!(ev[5]["data"], json!({"from": "lost", "to": "new"}));
    assert_eq!(ev[6]["data"], json!({"from": "new", "to": "converted"}));
    assert!(ev[1..].iter().all(|e| e["actor"] == "admin"));
}

async fn patch_if_match_guards_against_lost_updates(backend: Backend) {
    let t = TestApp::new(backend);
    let other = store(
        &t,
        &lead("Другой", "+79031112233", at("2025-06-01T10:00:00Z")),
    );
    let app = t.service().await;
    let created = create(&app, &json!({"name": "Анна", "phone": "+79161234567"})).await;
    let id = created.json["id"].as_i64().expect("id");
    let e0 = etag(&created);
    let if_match = |tag: &str, body: Value| {
        TestRequest::patch()
            .uri(&format!("{LEADS}/{id}"))
            .insert_header(("if-match", tag.to_owned()))
            .set_json(body)
    };

    let r = send(&app, if_match(&e0, json!({"notes": "1"}))).await;
    assert_eq!(r.status, 200, "current tag: {}", r.json);
    let e1 = etag(&r);
    assert_ne!(e1, e0);

    let r = send(&app, if_match(&e0, json!({"notes": "2", "status": "lost"}))).await;
    r.assert_error(412, "precondition_failed");
    let now = get_lead(&app, id).await;
    assert_eq!(
        (&now.json["notes"], &now.json["status"]),
        (&json!("1"), &json!("new")),
        "a stale tag changes nothing"
    );
    assert_eq!(etag(&now), e1);
    assert_eq!(kinds(&events(&app, id).await), ["created", "updated"]);

    let r = send(&app, if_match("*", json!({"notes": "3"}))).await;
    assert_eq!(r.status, 200, "*: {}", r.json);
    let e2 = etag(&r);
    assert_ne!(e2, e1);

    let r = send(
        &app,
        if_match(&format!("\"nope\", {e2}"), json!({"notes": "4"})),
    )
    .await;
    assert_eq!(r.status, 200, "a list with the current tag: {}", r.json);
    let e3 = etag(&r);

    for stale in [
        e2.clone(),
        format!("W/{e3}"),
        "\"garbage\"".to_owned(),
        etag(&get_lead(&app, other.id).await),
    ] {
        let r = send(&app, if_match(&stale, json!({"notes": "5"}))).await;
        r.assert_error(412, "precondition_failed");
    }
    assert_eq!(get_lead(&app, id).await.json["notes"], "4");
    // Without If-Match the change is unconditional.
    let r = patch(&app, id, &json!({"notes": "6"})).await;
    assert_eq!(r.status, 200);
    assert_ne!(etag(&r), e3);
}

async fn delete_erases_the_lead(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let submitted = call(
        &app,
        TestRequest::post().uri("/api/v1/leads").set_json(json!({
            "name": "Анна", "phone": "+79161234567", "consent": true, "message": "личное"
        })),
    )
    .await;
    assert_eq!(submitted.status, 201);
    let id = submitted.json["id"].as_i64().expect("id");
    let keep = create(&app, &json!({"name": "Борис", "phone": "+79031112233"})).await;
    let keep_id = keep.json["id"].as_i64().expect("id");
    assert_eq!(
        patch(&app, id, &json!({"status": "contacted"}))
            .await
            .status,
        200
    );

    let r = send(&app, TestRequest::delete().uri(&format!("{LEADS}/{id}"))).await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());

    get_lead(&app, id).await.assert_error(404, "not_found");
    send(
        &app,
        TestRequest::get().uri(&format!("{LEADS}/{id}/events")),
    )
    .await
    .assert_error(404, "not_found");
    patch(&app, id, &json!({"notes": "x"}))
        .await
        .assert_error(404, "not_found");
    send(&app, TestRequest::delete().uri(&format!("{LEADS}/{id}")))
        .await
        .assert_error(404, "not_found");
    assert!(t.repos.leads.get_by_id(id).expect("read").is_none());
    assert!(t.repos.leads.events(id).expect("read").is_none());
    assert_eq!(
        ids(&list(&app, "").await),
        [keep_id],
        "the other lead stays"
    );
    assert_eq!(kinds(&events(&app, keep_id).await), ["created"]);
    // The erased lead no longer absorbs submissions of its phone.
    let again = call(
        &app,
        TestRequest::post().uri("/api/v1/leads").set_json(json!({
            "name": "Анна", "phone": "+79161234567", "consent": true
        })),
    )
    .await;
    assert_eq!(again.status, 201, "{}", again.json);
    assert_ne!(again.json["id"], id);
    for bad in ["abc", "0"] {
        let r = send(&app, TestRequest::delete().uri(&format!("{LEADS}/{bad}"))).await;
        assert_bad_parameter(&r, "id", bad);
    }
}

async fn events_are_oldest_first_with_actors(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let app = t.service().await;
    let form = |message: &str| {
        TestRequest::post().uri("/api/v1/leads").set_json(json!({
            "name": "Анна", "phone": "+79161234567", "consent": true, "message": message,
            "location_id": c.locations[0].id
        }))
    };
    let first = call(&app, form("первая")).await;
    assert_eq!(first.status, 201);
    let id = first.json["id"].as_i64().expect("id");
    assert_eq!(call(&app, form("вторая")).await.status, 200);
    assert_eq!(
        patch(&app, id, &json!({"status": "contacted"}))
            .await
            .status,
        200
    );
    assert_eq!(patch(&app, id, &json!({"notes": "ок"})).await.status, 200);

    let r = send(
        &app,
        TestRequest::get().uri(&format!("{LEADS}/{id}/events")),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    let ev = r.json["items"].as_array().expect("items");
    assert_eq!(
        kinds(ev),
        ["created", "resubmitted", "status_changed", "updated"]
    );
    let actors: Vec<&str> = ev
        .iter()
        .map(|e| e["actor"].as_str().expect("actor"))
        .collect();
    assert_eq!(actors, ["website", "website", "admin", "admin"]);
    for e in ev {
        let mut keys: Vec<&str> = e
            .as_object()
            .expect("event")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["actor", "created_at", "data", "id", "kind", "lead_id"]
        );
        assert_eq!(e["lead_id"], id);
        assert!(e["data"].is_object());
    }
    let event_ids: Vec<i64> = ev.iter().map(|e| e["id"].as_i64().expect("id")).collect();
    assert!(event_ids.windows(2).all(|w| w[0] < w[1]), "{event_ids:?}");
    let times: Vec<DateTime<Utc>> = ev
        .iter()
        .map(|e| at(e["created_at"].as_str().expect("created_at")))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(ev[0]["data"]["source"], "website");
    assert_eq!(ev[0]["data"]["location_id"], c.locations[0].id);
    assert_eq!(ev[1]["data"]["message"], "вторая");

    send(
        &app,
        TestRequest::get().uri(&format!("{LEADS}/{}/events", id + 1000)),
    )
    .await
    .assert_error(404, "not_found");
    let r = send(&app, TestRequest::get().uri(&format!("{LEADS}/x/events"))).await;
    assert_bad_parameter(&r, "id", "x");
}

async fn admin_responses_are_private_and_not_stored(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let created = create(&app, &json!({"name": "Анна", "phone": "+79161234567"})).await;
    let id = created.json["id"].as_i64().expect("id");
    let replies = [
        ("create", created),
        ("list", list(&app, "").await),
        ("get", get_lead(&app, id).await),
        ("patch", patch(&app, id, &json!({"notes": "x"})).await),
        (
            "events",
            send(
                &app,
                TestRequest::get().uri(&format!("{LEADS}/{id}/events")),
            )
            .await,
        ),
    ];
    for (what, r) in replies {
        assert!(r.status.is_success(), "{what}: {}", r.json);
        assert_eq!(
            r.header("cache-control"),
            Some("private, no-store"),
            "{what}"
        );
        assert!(r.header("x-request-id").is_some(), "{what}");
    }
}

e2e_tests!(
    list_pagination_is_bounded_and_echoed,
    list_sorts_by_created_or_updated_with_ties_by_id,
    list_filters_by_status_and_source,
    list_filters_by_location,
    list_searches_name_email_and_phone_case_insensitively,
    list_filters_by_a_half_open_creation_range,
    create_answers_201_with_location_etag_and_the_lead,
    create_does_not_deduplicate,
    create_rejects_unknown_fields_wrong_types_and_invalid_values,
    get_has_an_etag_and_answers_404_and_400,
    patch_leaves_absent_fields_and_clears_nulls,
    patch_rejects_unknown_fields_wrong_types_and_invalid_values,
    patch_records_status_changes_and_updated_fields,
    patch_if_match_guards_against_lost_updates,
    delete_erases_the_lead,
    events_are_oldest_first_with_actors,
    admin_responses_are_private_and_not_stored,
);

/// Input hygiene in the CRM: phone spellings, invisible and decomposed names, the last date.
mod input_hygiene {
    use super::*;

    /// Names that show nothing: zero-width space, right-to-left mark, byte-order mark, a lone
    /// combining accent, a zero-width space between spaces.
    const INVISIBLE_NAMES: [&str; 5] =
        ["\u{200b}", "\u{200f}", "\u{feff}", "\u{301}", " \u{200b} "];

    fn assert_invisible_name_rejected(r: &Reply, case: &str) {
        assert_invalid_field(r, "name", case);
        assert_eq!(
            r.json["error"]["fields"]["name"],
            json!(["must contain at least one visible character"]),
            "{case}: {}",
            r.json
        );
    }

    async fn create_stores_every_spelling_of_one_phone_as_the_same_number(backend: Backend) {
        let t = TestApp::new(backend);
        let app = t.service().await;
        let spellings = [
            "+7916123-45-67",
            "+7916 123 45 67",
            "8.916.123.45.67",
            "8\u{a0}916\u{a0}123\u{2013}45\u{2013}67",
            "(916) 123/45/67",
            "\u{202a}+7 916 123\u{2011}45\u{2011}67\u{202c}",
        ];
        for raw in spellings {
            let r = create(&app, &json!({"name": "Анна", "phone": raw})).await;
            assert_eq!(r.status, 201, "{raw:?}: {}", r.json);
            assert_eq!(r.json["phone"], "+79161234567", "{raw:?}");
        }
        assert_eq!(list_ids(&app, "q=79161234567").await.len(), spellings.len());
        let r = create(
            &app,
            &json!({"name": "Анна", "phone": "+7 916 123 45 67 доб. 2"}),
        )
        .await;
        assert_invalid_field(&r, "phone", "text after the number");
    }

    async fn create_rejects_invisible_names_with_422_and_stores_nothing(backend: Backend) {
        let t = TestApp::new(backend);
        let app = t.service().await;
        for name in INVISIBLE_NAMES {
            let r = create(&app, &json!({"name": name, "phone": "+79161234567"})).await;
            assert_invisible_name_rejected(&r, &format!("{name:?}"));
        }
        assert_eq!(
            list(&app, "").await.json["total"],
            0,
            "a 422 stores nothing"
        );
        // A visible character anywhere makes it a name.
        let r = create(
            &app,
            &json!({"name": "\u{200b}A\u{200b}", "phone": "+79161234567"}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.json);
    }

    async fn patch_rejects_invisible_names_with_422_and_keeps_the_name(backend: Backend) {
        let t = TestApp::new(backend);
        let app = t.service().await;
        let created = create(&app, &json!({"name": "Анна", "phone": "+79161234567"})).await;
        assert_eq!(created.status, 201, "{}", created.json);
        let id = created.json["id"].as_i64().expect("id");
        for name in INVISIBLE_NAMES {
            let r = patch(&app, id, &json!({"name": name})).await;
            assert_invisible_name_rejected(&r, &format!("{name:?}"));
        }
        let lead = get_lead(&app, id).await;
        assert_eq!(lead.json, created.json, "nothing changed");
        assert_eq!(kinds(&events(&app, id).await), ["created"]);
        assert_eq!(list(&app, "").await.json["total"], 1);
    }

    async fn names_are_stored_nfc_and_found_by_either_form(backend: Backend) {
        let t = TestApp::new(backend);
        let app = t.service().await;
        let (nfc, nfd) = ("Zo\u{eb} Jos\u{e9}", "Zoe\u{308} Jose\u{301}");
        let created = create(&app, &json!({"name": nfd, "phone": "+79161234567"})).await;
        assert_eq!(created.status, 201, "{}", created.json);
        assert_eq!(created.json["name"], nfc, "stored composed");
        let id = created.json["id"].as_i64().expect("id");
        for q in [nfc, nfd, "zoe\u{308}", "JOSÉ", "jose\u{301}"] {
            assert_eq!(
                list_ids(&app, &format!("q={}", enc(q))).await,
                [id],
                "{q:?}"
            );
        }
        assert_eq!(
            list_ids(&app, &format!("q={}", enc("zoe j"))).await,
            Vec::<i64>::new()
        );

        // PATCH stores NFC too; the length limit counts the composed characters.
        let (ji, ji_nfd) = ("й".repeat(100), "и\u{306}".repeat(100));
        let r = patch(&app, id, &json!({"name": ji_nfd})).await;
        assert_eq!(r.status, 200, "100 composed characters fit: {}", r.json);
        assert_eq!(r.json["name"], ji.as_str());
        assert_eq!(
            list_ids(&app, &format!("q={}", enc("и\u{306}и\u{306}"))).await,
            [id]
        );
        let r = patch(&app, id, &json!({"name": format!("{ji_nfd}и")})).await;
        assert_invalid_field(&r, "name", "101 composed characters");
        // The decomposed spelling of the stored name is the same name: no change, no event.
        let r = patch(&app, id, &json!({"name": ji_nfd})).await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(kinds(&events(&app, id).await), ["created", "updated"]);
    }

    async fn list_created_to_the_last_date_9999_12_31_includes_every_lead(backend: Backend) {
        let t = TestApp::new(backend);
        let stored = store_at(
            &t,
            &[
                "1970-01-01T00:00:00Z",
                "2026-03-01T12:00:00Z",
                "9999-12-31T12:00:00Z",
            ],
        );
        let app = t.service().await;
        let range = |q: &str| {
            let uri = format!("{q}&sort=created_at");
            let app = &app;
            async move { list_ids(app, &uri).await }
        };
        for q in [
            "created_to=9999-12-31".to_owned(),
            "created_to=9999-12-31T23:59:59Z".to_owned(),
            "created_to=9999-12-31T23:59:59.999999Z".to_owned(),
            format!("created_to={}", enc("9999-12-31T23:00:00-05:00")),
            "created_from=0000-01-01&created_to=9999-12-31".to_owned(),
            format!(
                "created_from={}&created_to=9999-12-31",
                enc("0000-01-01T00:00:00+14:00")
            ),
        ] {
            assert_eq!(range(&q).await, stored, "{q}");
        }
        assert_eq!(range("created_from=9999-12-31").await, [stored[2]]);
        assert_eq!(
            range("created_from=2026-01-01&created_to=9999-12-31").await,
            [stored[1], stored[2]]
        );
        assert_eq!(
            range(&format!(
                "created_from={}",
                enc("9999-12-31T23:00:00-05:00")
            ))
            .await,
            Vec::<i64>::new(),
            "a start past the last instant matches nothing"
        );
        assert_eq!(
            range(&format!("created_to={}", enc("0000-01-01T00:00:00+14:00"))).await,
            Vec::<i64>::new(),
            "an end before the first instant matches nothing"
        );
    }

    e2e_tests!(
        create_stores_every_spelling_of_one_phone_as_the_same_number,
        create_rejects_invisible_names_with_422_and_stores_nothing,
        patch_rejects_invisible_names_with_422_and_keeps_the_name,
        names_are_stored_nfc_and_found_by_either_form,
        list_created_to_the_last_date_9999_12_31_includes_every_lead,
    );
}
