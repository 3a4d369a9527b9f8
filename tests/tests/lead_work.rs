//! Working the leads (API.md §3.1) over HTTP, on both backends: owners, call-backs, lost
//! reasons and consent; the new list filters and order; the CSV export; the statistics; a
//! person's data.

use std::collections::BTreeMap;

use actix_web::body::MessageBody;
use actix_web::test::TestRequest;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use cohai_domain::{LeadSource, LeadStatus, NewLead};
use cohai_e2e::builders::{lead, phone};
use cohai_e2e::{ADMIN_KEY, Backend, Reply, TestApp, TestLeads, admin, at, call, e2e_tests};
use cohai_web::{AdminKey, AdminKeys};
use serde_json::{Value, json};

const LEADS: &str = "/api/v1/admin/leads";
const EXPORT: &str = "/api/v1/admin/leads/export.csv";
const STATS: &str = "/api/v1/admin/leads/stats";
const PERSONAL: &str = "/api/v1/admin/personal-data";

/// The CSV columns: the `Lead` fields of API.md §3 in order, then those of §3.1.
const COLUMNS: [&str; 20] = [
    "id",
    "name",
    "phone",
    "email",
    "message",
    "location_id",
    "program_type_id",
    "class_session_id",
    "source",
    "status",
    "notes",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "created_at",
    "updated_at",
    "assignee",
    "next_contact_at",
    "lost_reason",
    "consent_at",
];

/// An app whose admin keys are `admin` (the test key), `olga` and `boris`.
fn app(backend: Backend) -> TestApp {
    TestApp::with(backend, |settings| {
        settings.admin_keys = AdminKeys::new(
            [
                ("admin", ADMIN_KEY),
                ("olga", "olga-key"),
                ("boris", "boris-key"),
            ]
            .into_iter()
            .map(|(name, key)| AdminKey::from_plain(name, key).expect("key"))
            .collect(),
        )
        .expect("keys");
    })
}

async fn send<S, B>(app: &S, req: TestRequest) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    call(app, admin(req)).await
}

async fn get<S, B>(app: &S, uri: &str) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    send(app, TestRequest::get().uri(uri)).await
}

async fn create<S, B>(app: &S, body: &Value) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    send(app, TestRequest::post().uri(LEADS).set_json(body)).await
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

/// The events of lead `id` as `(kind, data)`, asserting a 200.
async fn events<S, B>(app: &S, id: i64) -> Vec<(String, Value)>
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = get(app, &format!("{LEADS}/{id}/events")).await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().expect("kind").to_owned(),
                e["data"].clone(),
            )
        })
        .collect()
}

/// The ids a list answers, asserting a 200.
async fn list_ids<S, B>(app: &S, query: &str) -> Vec<i64>
where
    S: cohai_e2e::TestService<B>,
    B: MessageBody,
{
    let r = get(app, &format!("{LEADS}?limit=200&{query}")).await;
    assert_eq!(r.status, 200, "{query}: {}", r.json);
    ids(&r.json["items"])
}

fn ids(items: &Value) -> Vec<i64> {
    items
        .as_array()
        .expect("items")
        .iter()
        .map(|l| l["id"].as_i64().expect("id"))
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

fn instant(r: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(r.as_str().expect("an instant"))
        .expect("RFC 3339")
        .to_utc()
}

// ---------------------------------------------------------------- the new fields

async fn each_new_field_refuses_a_bad_value_on_create_and_patch(backend: Backend) {
    let t = app(backend);
    let svc = t.service().await;
    let base = json!({"name": "Анна", "phone": "+79161234567"});
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let stored = create(&svc, &base).await;
    assert_eq!(stored.status, 201, "{}", stored.json);
    let id = stored.json["id"].as_i64().expect("id");
    let invalid: [(&str, Value); 10] = [
        ("assignee", json!("nobody")),
        ("assignee", json!("Olga")), // names are case-sensitive
        ("assignee", json!("")),
        ("assignee", json!(" olga")),
        ("next_contact_at", json!("2026-12-01T10:00:00")), // no offset
        ("next_contact_at", json!("tomorrow")),
        ("next_contact_at", json!("")),
        ("next_contact_at", json!("2026-13-01T10:00:00Z")),
        ("lost_reason", json!("я".repeat(201))),
        ("lost_reason", json!("дорого\u{1}")),
    ];
    for (field, value) in &invalid {
        let case = format!("{field} = {value}");
        assert_invalid_field(
            &create(&svc, &with(field, value.clone())).await,
            field,
            &case,
        );
        assert_invalid_field(
            &patch(&svc, id, &json!({*field: value})).await,
            field,
            &case,
        );
    }
    for (field, value) in [
        ("assignee", json!(5)),
        ("next_contact_at", json!(1_764_000_000)),
        ("lost_reason", json!(["x"])),
    ] {
        let case = format!("{field} = {value}");
        let r = create(&svc, &with(field, value.clone())).await;
        r.assert_error(400, "invalid_json");
        patch(&svc, id, &json!({field: value}))
            .await
            .assert_error(400, "invalid_json");
        assert!(
            r.json["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(field),
            "{case}"
        );
    }
    // consent_at is read-only: an unknown field in either body.
    for body in [
        json!({"consent_at": "2026-12-01T10:00:00Z"}),
        json!({"consent": true}),
    ] {
        patch(&svc, id, &body)
            .await
            .assert_error(400, "invalid_json");
    }
    create(&svc, &with("consent_at", json!("2026-12-01T10:00:00Z")))
        .await
        .assert_error(400, "invalid_json");
    // Nothing of the refused values was stored.
    let now = get(&svc, &format!("{LEADS}/{id}")).await;
    for field in ["assignee", "next_contact_at", "lost_reason", "consent_at"] {
        assert_eq!(now.json[field], Value::Null, "{field}");
    }
    assert_eq!(events(&svc, id).await.len(), 1, "only `created`");
    // At the limits, accepted.
    let ok = patch(
        &svc,
        id,
        &json!({"lost_reason": "я".repeat(200), "assignee": "olga"}),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.json);
}

async fn next_contact_at_takes_any_offset_and_answers_in_utc(backend: Backend) {
    let t = app(backend);
    let svc = t.service().await;
    let r = create(
        &svc,
        &json!({"name": "Анна", "phone": "+79161234567", "next_contact_at": "2026-12-01T15:30:00+03:00"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["next_contact_at"], "2026-12-01T12:30:00Z");
    let id = r.json["id"].as_i64().expect("id");
    for (sent, answered) in [
        (
            "2026-12-02T09:00:00.123456-05:00",
            "2026-12-02T14:00:00.123456Z",
        ),
        ("2026-12-03T00:00:00z", "2026-12-03T00:00:00Z"),
    ] {
        let r = patch(&svc, id, &json!({"next_contact_at": sent})).await;
        assert_eq!(r.status, 200, "{sent}: {}", r.json);
        assert_eq!(r.json["next_contact_at"], answered, "{sent}");
    }
    let cleared = patch(
        &svc,
        id,
        &json!({"next_contact_at": null, "lost_reason": null}),
    )
    .await;
    assert_eq!(cleared.json["next_contact_at"], Value::Null);
    let kinds: Vec<String> = events(&svc, id).await.into_iter().map(|e| e.0).collect();
    assert_eq!(kinds, ["created", "updated", "updated", "updated"]);
}

async fn every_change_of_assignee_records_one_assigned_event(backend: Backend) {
    let t = app(backend);
    let svc = t.service().await;
    let r = create(
        &svc,
        &json!({"name": "Анна", "phone": "+79161234567", "assignee": "olga"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["assignee"], "olga");
    let id = r.json["id"].as_i64().expect("id");
    let moved = patch(
        &svc,
        id,
        &json!({"assignee": "boris", "notes": "перезвонить"}),
    )
    .await;
    assert_eq!(moved.json["assignee"], "boris");
    let same = patch(&svc, id, &json!({"assignee": "boris"})).await;
    assert_eq!(
        same.header("etag"),
        moved.header("etag"),
        "no change, no new version"
    );
    let cleared = patch(&svc, id, &json!({"assignee": null})).await;
    assert_eq!(cleared.json["assignee"], Value::Null);
    let history = events(&svc, id).await;
    assert_eq!(history[0].0, "created");
    assert_eq!(
        history[1..],
        [
            ("assigned".to_owned(), json!({"from": null, "to": "olga"})),
            (
                "assigned".to_owned(),
                json!({"from": "olga", "to": "boris"})
            ),
            ("updated".to_owned(), json!({"fields": ["notes"]})),
            ("assigned".to_owned(), json!({"from": "boris", "to": null})),
        ],
        "one assigned event per change, never an updated one"
    );
}

async fn consent_is_recorded_by_the_form_and_by_an_admin_with_consent_true(backend: Backend) {
    let t = app(backend);
    let svc = t.service().await;
    let form = json!({"name": "Анна", "phone": "8 916 123-45-67", "consent": true});
    let first = call(
        &svc,
        TestRequest::post().uri("/api/v1/leads").set_json(&form),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.json);
    let id = first.json["id"].as_i64().expect("id");
    let stored = get(&svc, &format!("{LEADS}/{id}")).await;
    assert_eq!(stored.json["consent_at"], stored.json["created_at"]);
    let again = call(
        &svc,
        TestRequest::post().uri("/api/v1/leads").set_json(&form),
    )
    .await;
    assert_eq!(
        (again.status.as_u16(), again.json["id"].as_i64()),
        (200, Some(id))
    );
    let after = get(&svc, &format!("{LEADS}/{id}")).await;
    assert_eq!(
        after.json["consent_at"], stored.json["consent_at"],
        "a resubmission keeps it"
    );
    for (consent, recorded) in [
        (json!(true), true),
        (json!(false), false),
        (Value::Null, false),
    ] {
        let r = create(
            &svc,
            &json!({"name": "Борис", "phone": "+79160000001", "consent": consent}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.json);
        if recorded {
            assert_eq!(r.json["consent_at"], r.json["created_at"]);
        } else {
            assert_eq!(r.json["consent_at"], Value::Null, "consent {consent}");
        }
    }
}

// ---------------------------------------------------------------- list filters and order

async fn the_new_list_parameters_refuse_bad_values_with_400(backend: Backend) {
    let t = app(backend);
    let svc = t.service().await;
    for (query, parameter) in [
        ("assignee=", "assignee"),
        ("assignee=nobody", "assignee"),
        ("assignee=Olga", "assignee"),
        ("assignee=None", "assignee"),
        ("overdue=yes", "overdue"),
        ("overdue=TRUE", "overdue"),
        ("overdue=1", "overdue"),
        ("overdue=", "overdue"),
        ("next_contact_from=2026-12-01T10:00:00", "next_contact_from"),
        ("next_contact_to=tomorrow", "next_contact_to"),
        ("sort=Next_contact_at", "sort"),
        ("sort=next_contact", "sort"),
        ("sort=%2Bnext_contact_at", "sort"),
    ] {
        for path in [LEADS, EXPORT] {
            let r = get(&svc, &format!("{path}?{query}")).await;
            assert_bad_parameter(&r, parameter, &format!("{path}?{query}"));
        }
    }
}

async fn overdue_and_assignee_filter_and_call_backs_sort_nulls_last(backend: Backend) {
    let t = app(backend);
    let svc = t.service().await;
    let now = Utc::now().trunc_subsecs(6);
    let store = |n: u32, status, next: Option<DateTime<Utc>>, assignee: Option<&str>| {
        t.repos
            .leads
            .created(
                &NewLead {
                    status,
                    next_contact_at: next,
                    assignee: assignee.map(str::to_owned),
                    ..lead(&format!("Лид {n}"), phone(n), at("2026-01-01T10:00:00Z"))
                },
                "admin",
            )
            .id
    };
    let hour = Duration::hours(1);
    let late = store(1, LeadStatus::Contacted, Some(now - hour), Some("olga"));
    let later = store(2, LeadStatus::New, Some(now + hour), Some("olga"));
    let never = store(3, LeadStatus::New, None, None);
    let closed = store(
        4,
        LeadStatus::Converted,
        Some(now - hour * 2),
        Some("boris"),
    );
    let tie = store(5, LeadStatus::TrialScheduled, Some(now - hour), None);
    let undated = store(6, LeadStatus::Lost, None, Some("boris"));
    assert_eq!(
        list_ids(&svc, "overdue=true&sort=created_at").await,
        [late, tie]
    );
    assert_eq!(
        list_ids(&svc, "overdue=false&sort=created_at").await,
        [later, never, closed, undated]
    );
    assert_eq!(
        list_ids(&svc, "assignee=olga&sort=created_at").await,
        [late, later]
    );
    assert_eq!(
        list_ids(&svc, "assignee=none&sort=created_at").await,
        [never, tie]
    );
    assert_eq!(
        list_ids(&svc, "sort=next_contact_at").await,
        [closed, late, tie, later, never, undated]
    );
    assert_eq!(
        list_ids(&svc, "sort=-next_contact_at").await,
        [later, tie, late, closed, undated, never],
        "without one last; ties by id descending"
    );
    let from = enc(&(now - hour).to_rfc3339());
    assert_eq!(
        list_ids(
            &svc,
            &format!("next_contact_from={from}&sort=next_contact_at")
        )
        .await,
        [late, tie, later]
    );
    assert_eq!(
        list_ids(
            &svc,
            &format!("next_contact_to={from}&sort=next_contact_at")
        )
        .await,
        [closed]
    );
}

async fn an_overdue_list_is_never_served_from_the_list_cache(backend: Backend) {
    let t = TestApp::with_list_cache(backend, std::time::Duration::from_secs(60), |_| {});
    let svc = t.service().await;
    let due = Utc::now().trunc_subsecs(6) + Duration::milliseconds(1500);
    let id = t
        .repos
        .leads
        .created(
            &NewLead {
                next_contact_at: Some(due),
                ..lead("Анна", phone(1), Utc::now())
            },
            "admin",
        )
        .id;
    assert_eq!(list_ids(&svc, "overdue=true").await, Vec::<i64>::new());
    assert_eq!(list_ids(&svc, "overdue=false").await, [id]);
    std::thread::sleep(std::time::Duration::from_millis(1700));
    // No write happened, and the cache keeps pages for a minute: only the clock moved.
    assert_eq!(list_ids(&svc, "overdue=true").await, [id]);
    assert_eq!(list_ids(&svc, "overdue=false").await, Vec::<i64>::new());
}

// ---------------------------------------------------------------- CSV export

/// The export's body without its byte-order mark, asserting the answer's headers.
fn csv_text(r: &Reply) -> String {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    let disposition = r
        .header("content-disposition")
        .expect("Content-Disposition");
    assert!(
        disposition.starts_with("attachment; filename=\"leads-") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    assert!(
        r.body.starts_with(b"\xEF\xBB\xBF"),
        "a UTF-8 byte-order mark"
    );
    String::from_utf8(r.body[3..].to_vec()).expect("UTF-8")
}

/// The records of a CSV text, read by the `csv` crate's reader (RFC 4180), header first.
fn records(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| {
            r.expect("a valid record")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// Every line ends in CRLF: outside quoted cells (which may hold their own line breaks) no
/// `\n` without a `\r` before it, and no `\r` without a `\n` after it.
fn assert_crlf(text: &str) {
    assert!(text.ends_with("\r\n"), "the last line ends in CRLF");
    let bytes = text.as_bytes();
    let mut quoted = false;
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => assert_eq!(bytes[i - 1], b'\r', "LF at {i} without CR"),
            b'\r' if !quoted => assert_eq!(bytes.get(i + 1), Some(&b'\n'), "CR at {i} without LF"),
            _ => {}
        }
    }
    assert!(!quoted, "every quote closed");
}

async fn the_export_quotes_guards_and_matches_the_list(backend: Backend) {
    let t = app(backend);
    let svc = t.service().await;
    let tricky = [
        ("Иванова, Анна", "comma"),
        ("Анна \"Аня\"", "quote"),
        ("Анна\nвторая строка", "newline (in message)"),
    ];
    let mut made = Vec::new();
    for (i, (text, _)) in tricky.iter().enumerate() {
        let r = create(
            &svc,
            &json!({"name": format!("Лид {i}"), "phone": format!("+7916000000{i}"),
                    "message": text, "notes": text.replace('\n', " "), "source": "vk"}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.json);
        made.push(r.json);
    }
    let formulas = ["=1+2", "+1+2", "-1+2", "@SUM(A1)"];
    for (i, f) in formulas.iter().enumerate() {
        let r = create(
            &svc,
            &json!({"name": format!("Формула {i}"), "phone": format!("+7916100000{i}"),
                    "message": f, "utm_campaign": "=cmd|' /C calc'!A0",
                    "assignee": "olga", "consent": true,
                    "next_contact_at": "2026-12-01T15:00:00+03:00"}),
        )
        .await;
        assert_eq!(r.status, 201, "{f:?}: {}", r.json);
        made.push(r.json);
    }
    // The API trims text and refuses a carriage return, so cells that begin with a tab or a
    // CR come only from elsewhere (an import, the database): stored directly here.
    let raw = t.repos.leads.created(
        &NewLead {
            message: Some("\tTAB".into()),
            notes: Some("\rCR=1".into()),
            ..lead("Табуляция", phone(999), Utc::now())
        },
        "admin",
    );
    made.push(get(&svc, &format!("{LEADS}/{}", raw.id)).await.json);
    let r = get(&svc, &format!("{EXPORT}?sort=created_at")).await;
    let text = csv_text(&r);
    assert_crlf(&text);
    let rows = records(&text);
    assert_eq!(rows[0], COLUMNS, "the header row");
    assert_eq!(rows.len(), 1 + made.len());
    for (row, lead) in rows[1..].iter().zip(&made) {
        for (column, cell) in COLUMNS.iter().zip(row) {
            let expected = match &lead[*column] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let guarded = if expected.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{expected}")
            } else {
                expected
            };
            assert_eq!(cell, &guarded, "{column} of lead {}", lead["id"]);
        }
    }
    // Spelled out: the phone and every formula prefix read as text.
    assert_eq!(rows[1][2], "'+79160000000");
    let messages: Vec<&str> = rows[4..].iter().map(|r| r[4].as_str()).collect();
    assert_eq!(messages, ["'=1+2", "'+1+2", "'-1+2", "'@SUM(A1)", "'\tTAB"]);
    assert_eq!(
        rows[8][10], "'\rCR=1",
        "notes beginning with a carriage return"
    );
    assert!(text.contains("\"'\rCR=1\""), "a cell with a CR is quoted");
    assert!(
        rows[4..8].iter().all(|r| r[13] == "'=cmd|' /C calc'!A0"),
        "utm_campaign"
    );
    assert_eq!(
        rows[3][4], "Анна\nвторая строка",
        "a line break inside a quoted cell"
    );
    assert!(
        text.contains("\"Анна \"\"Аня\"\"\""),
        "quotes doubled inside quotes"
    );
    assert!(text.contains("\"Иванова, Анна\""), "a comma is quoted");

    // The same filters as the list, the same rows in the same order.
    for query in [
        "sort=-created_at",
        "source=vk",
        "assignee=olga&sort=next_contact_at",
        "assignee=none",
        "overdue=false&sort=-next_contact_at",
        "q=%D0%BB%D0%B8%D0%B4",
        "status=new,lost&created_from=2020-01-01",
    ] {
        let listed = get(&svc, &format!("{LEADS}?limit=200&{query}")).await;
        let rows = records(&csv_text(&get(&svc, &format!("{EXPORT}?{query}")).await));
        let exported: Vec<i64> = rows[1..]
            .iter()
            .map(|r| r[0].parse().expect("id"))
            .collect();
        assert_eq!(
            exported.len() as i64,
            listed.json["total"].as_i64().expect("total"),
            "{query}"
        );
        assert_eq!(exported, ids(&listed.json["items"]), "{query}");
    }
}

async fn the_export_streams_every_page_and_refuses_paging_and_bad_filters(backend: Backend) {
    let t = app(backend);
    let svc = t.service().await;
    let batch: Vec<NewLead> = (0..2_345)
        .map(|n| NewLead {
            source: if n % 3 == 0 {
                LeadSource::Vk
            } else {
                LeadSource::Website
            },
            ..lead(
                &format!("Лид {n}"),
                phone(n),
                at("2026-01-01T00:00:00Z") + Duration::seconds(i64::from(n / 2)),
            )
        })
        .collect();
    t.repos.leads.create_many(&batch, "admin").expect("leads");
    for (query, expected) in [
        ("", 2_345),
        ("source=vk", 782),
        ("source=vk&sort=updated_at", 782),
    ] {
        let rows = records(&csv_text(&get(&svc, &format!("{EXPORT}?{query}")).await));
        assert_eq!(rows.len() - 1, expected, "{query}");
        let listed = get(&svc, &format!("{LEADS}?{query}")).await;
        assert_eq!(listed.json["total"], expected, "{query}");
        let exported: Vec<i64> = rows[1..]
            .iter()
            .map(|r| r[0].parse().expect("id"))
            .collect();
        let mut unique = exported.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), exported.len(), "no lead twice: {query}");
    }
    let empty = records(&csv_text(
        &get(&svc, &format!("{EXPORT}?status=converted")).await,
    ));
    assert_eq!(
        empty,
        [COLUMNS.map(str::to_owned).to_vec()],
        "only the header"
    );
    for paging in ["limit=10", "offset=0"] {
        let name = paging.split('=').next().unwrap_or_default();
        assert_bad_parameter(
            &get(&svc, &format!("{EXPORT}?{paging}")).await,
            name,
            paging,
        );
    }
    get(&svc, &format!("{EXPORT}?location_id=999"))
        .await
        .assert_error(404, "not_found");
    assert_bad_parameter(
        &get(&svc, &format!("{EXPORT}?location_id=abc")).await,
        "location_id",
        "abc",
    );
    let anonymous = call(&svc, TestRequest::get().uri(EXPORT)).await;
    anonymous.assert_error(401, "unauthorized");
}

// ---------------------------------------------------------------- stats

async fn stats_agree_with_counts_computed_from_the_leads(backend: Backend) {
    let t = app(backend);
    let svc = t.service().await;
    let cat = t.catalog();
    let (a, b) = (cat.locations[0].id, cat.locations[1].id);
    let sources = [
        LeadSource::Website,
        LeadSource::Vk,
        LeadSource::Instagram,
        LeadSource::Phone,
    ];
    let utms = [Some("yandex"), None, Some("ig"), Some("Яндекс"), Some("ig")];
    let locations = [Some(a), Some(b), None, Some(b)];
    let statuses = [
        LeadStatus::New,
        LeadStatus::Contacted,
        LeadStatus::Converted,
        LeadStatus::Lost,
        LeadStatus::Converted,
    ];
    let mut stored = Vec::new();
    for n in 0..40u32 {
        let i = n as usize;
        let l = t.repos.leads.created(
            &NewLead {
                source: sources[i % sources.len()],
                utm_source: utms[i % utms.len()].map(str::to_owned),
                location_id: locations[i % locations.len()],
                ..lead(
                    &format!("Лид {n}"),
                    phone(n),
                    at("2026-03-01T00:00:00Z") + Duration::hours(i64::from(n)),
                )
            },
            "admin",
        );
        stored.push(l);
    }
    // Work the leads through the API, so the status changes are real events.
    for (i, l) in stored.iter().enumerate() {
        let status = statuses[i % statuses.len()];
        if status != LeadStatus::New {
            let r = patch(&svc, l.id, &json!({"status": status})).await;
            assert_eq!(r.status, 200, "{}", r.json);
        }
    }
    for (query, window) in [
        (String::new(), (None, None, None)),
        (
            "created_from=2026-03-01T05:00:00Z&created_to=2026-03-01T20:00:00%2B03:00".to_owned(),
            (
                Some(at("2026-03-01T05:00:00Z")),
                Some(at("2026-03-01T17:00:00Z")),
                None,
            ),
        ),
        (
            // A date as `to` includes that whole (UTC) day.
            "created_to=2026-03-01".to_owned(),
            (None, Some(at("2026-03-02T00:00:00Z")), None),
        ),
        (format!("location_id={b}"), (None, None, Some(b))),
    ] {
        let r = get(&svc, &format!("{STATS}?{query}")).await;
        assert_eq!(r.status, 200, "{query}: {}", r.json);
        assert_eq!(r.header("cache-control"), Some("private, no-store"));
        let inside: Vec<(usize, &cohai_domain::Lead)> = stored
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                window.0.is_none_or(|from| l.created_at >= from)
                    && window.1.is_none_or(|to| l.created_at < to)
                    && window.2.is_none_or(|id| l.location_id == Some(id))
            })
            .collect();
        let status_of = |i: usize| statuses[i % statuses.len()];
        assert_eq!(r.json["total"], inside.len(), "{query}");
        for s in LeadStatus::ALL {
            let n = inside.iter().filter(|(i, _)| status_of(*i) == *s).count();
            assert_eq!(r.json["by_status"][s.as_str()], n, "{query} {s}");
        }
        assert_eq!(
            r.json["by_status"].as_object().expect("by_status").len(),
            LeadStatus::ALL.len()
        );
        for s in LeadSource::ALL {
            let n = inside.iter().filter(|(_, l)| l.source == *s).count();
            assert_eq!(r.json["by_source"][s.as_str()], n, "{query} {s}");
        }
        // Groups: (key, total, converted), by total descending, then value, null last.
        fn groups<K: Ord + Clone>(
            keys: impl Iterator<Item = (Option<K>, bool)>,
        ) -> Vec<(Option<K>, usize, usize)> {
            let mut tally: BTreeMap<(bool, Option<K>), (usize, usize)> = BTreeMap::new();
            for (key, converted) in keys {
                let entry = tally.entry((key.is_none(), key)).or_default();
                entry.0 += 1;
                entry.1 += usize::from(converted);
            }
            let mut out: Vec<_> = tally
                .into_iter()
                .map(|((_, k), (n, c))| (k, n, c))
                .collect();
            out.sort_by_key(|g| std::cmp::Reverse(g.1)); // stable: key order within a total
            out
        }
        let converted = |i: usize| status_of(i) == LeadStatus::Converted;
        let expected_locations = groups(inside.iter().map(|(i, l)| (l.location_id, converted(*i))));
        let got_locations: Vec<(Option<i64>, usize, usize)> = r.json["by_location"]
            .as_array()
            .expect("by_location")
            .iter()
            .map(|g| {
                (
                    g["location_id"].as_i64(),
                    g["total"].as_u64().unwrap_or(0) as usize,
                    g["converted"].as_u64().unwrap_or(0) as usize,
                )
            })
            .collect();
        assert_eq!(got_locations, expected_locations, "{query}");
        let expected_utm = groups(
            inside
                .iter()
                .map(|(i, l)| (l.utm_source.clone(), converted(*i))),
        );
        let got_utm: Vec<(Option<String>, usize, usize)> = r.json["by_utm_source"]
            .as_array()
            .expect("by_utm_source")
            .iter()
            .map(|g| {
                (
                    g["utm_source"].as_str().map(str::to_owned),
                    g["total"].as_u64().unwrap_or(0) as usize,
                    g["converted"].as_u64().unwrap_or(0) as usize,
                )
            })
            .collect();
        assert_eq!(got_utm, expected_utm, "{query}");
        let conversions = inside.iter().filter(|(i, _)| converted(*i)).count();
        let rate = r.json["conversion_rate"].as_f64().expect("rate");
        assert!(
            (rate - conversions as f64 / inside.len() as f64).abs() < 1e-12,
            "{query}"
        );
        // The median of the minutes to each lead's status change, from its events.
        let mut minutes = Vec::new();
        for (i, l) in &inside {
            if status_of(*i) == LeadStatus::New {
                continue;
            }
            let r = get(&svc, &format!("{LEADS}/{}/events", l.id)).await;
            let changed = r.json["items"]
                .as_array()
                .expect("events")
                .iter()
                .find(|e| e["kind"] == "status_changed")
                .map(|e| instant(&e["created_at"]))
                .expect("a status change");
            minutes.push(
                (changed - l.created_at)
                    .num_microseconds()
                    .unwrap_or_default() as f64
                    / 60e6,
            );
        }
        minutes.sort_by(f64::total_cmp);
        let median = match minutes.len() {
            0 => None,
            n if n % 2 == 1 => Some(minutes[n / 2]),
            n => Some((minutes[n / 2 - 1] + minutes[n / 2]) / 2.0),
        };
        match (median, r.json["median_first_contact_minutes"].as_f64()) {
            (Some(want), Some(got)) => {
                assert!((want - got).abs() < 1e-6, "{query}: {want} vs {got}")
            }
            (want, got) => assert_eq!(want, got, "{query}"),
        }
    }
    let none = get(&svc, &format!("{STATS}?created_from=2030-01-01")).await;
    assert_eq!(
        (
            none.json["total"].as_i64(),
            none.json["conversion_rate"].as_f64()
        ),
        (Some(0), Some(0.0))
    );
    assert_eq!(none.json["median_first_contact_minutes"], Value::Null);
    assert_eq!(none.json["by_location"], json!([]));
    get(&svc, &format!("{STATS}?location_id=999"))
        .await
        .assert_error(404, "not_found");
    for (query, parameter) in [
        ("location_id=0", "location_id"),
        ("created_from=yesterday", "created_from"),
        ("created_to=2026-03-01T00:00:00", "created_to"),
    ] {
        assert_bad_parameter(
            &get(&svc, &format!("{STATS}?{query}")).await,
            parameter,
            query,
        );
    }
}

// ---------------------------------------------------------------- personal data

async fn personal_data_finds_every_spelling_of_one_phone(backend: Backend) {
    let t = app(backend);
    let svc = t.service().await;
    let form = |phone: &str, name: &str| json!({"name": name, "phone": phone, "consent": true});
    let first = call(
        &svc,
        TestRequest::post()
            .uri("/api/v1/leads")
            .set_json(form("8 (916) 555-12-34", "Анна")),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.json);
    let first_id = first.json["id"].as_i64().expect("id");
    // A second lead of the same person, entered by a manager; and someone else's.
    let second = create(
        &svc,
        &json!({"name": "Анна Петрова", "phone": "+7 916 555 12 34", "status": "lost"}),
    )
    .await;
    let second_id = second.json["id"].as_i64().expect("id");
    create(&svc, &json!({"name": "Борис", "phone": "+79165551235"})).await;
    patch(
        &svc,
        first_id,
        &json!({"status": "contacted", "assignee": "olga"}),
    )
    .await;
    let spellings = [
        "+79165551234",
        "8 916 555-12-34",
        "+7 (916) 555 12 34",
        "89165551234",
        "+7-916-555-12-34",
    ];
    let mut answers = Vec::new();
    for spelling in spellings {
        let r = get(&svc, &format!("{PERSONAL}?phone={}", enc(spelling))).await;
        assert_eq!(r.status, 200, "{spelling}: {}", r.json);
        assert_eq!(r.header("cache-control"), Some("private, no-store"));
        answers.push(r.json);
    }
    // An unencoded `+` (a space once decoded) is read as the plus it was.
    let raw_plus = get(&svc, &format!("{PERSONAL}?phone=+79165551234")).await;
    answers.push(raw_plus.json);
    for answer in &answers {
        assert_eq!(answer, &answers[0], "every spelling, the same answer");
    }
    let answer = &answers[0];
    assert_eq!(answer["phone"], "+79165551234");
    let leads = answer["leads"].as_array().expect("leads");
    assert_eq!(
        ids(&answer["leads"]),
        [first_id, second_id],
        "by created_at"
    );
    let kinds = |l: &Value| -> Vec<String> {
        l["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(kinds(&leads[0]), ["created", "status_changed", "assigned"]);
    assert_eq!(kinds(&leads[1]), ["created"]);
    // Each lead is the whole Lead, as the lead endpoint answers it, plus its events.
    let whole = get(&svc, &format!("{LEADS}/{first_id}")).await;
    let mut lead = leads[0].clone();
    lead.as_object_mut().expect("object").remove("events");
    assert_eq!(lead, whole.json);
    let events = get(&svc, &format!("{LEADS}/{first_id}/events")).await;
    assert_eq!(
        leads[0]["events"], events.json["items"],
        "oldest first, as the events endpoint"
    );

    let nobody = get(
        &svc,
        &format!("{PERSONAL}?phone={}", enc("+7 999 000-00-00")),
    )
    .await;
    assert_eq!(
        (nobody.status.as_u16(), &nobody.json["leads"]),
        (200, &json!([]))
    );
    assert_eq!(nobody.json["phone"], "+79990000000");
    for query in ["", "?phone=", "?phone=abc", "?phone=123", "?phone=%2B7916"] {
        assert_bad_parameter(
            &get(&svc, &format!("{PERSONAL}{query}")).await,
            "phone",
            query,
        );
    }
    call(
        &svc,
        TestRequest::get().uri(&format!("{PERSONAL}?phone=89165551234")),
    )
    .await
    .assert_error(401, "unauthorized");
}

e2e_tests!(
    each_new_field_refuses_a_bad_value_on_create_and_patch,
    next_contact_at_takes_any_offset_and_answers_in_utc,
    every_change_of_assignee_records_one_assigned_event,
    consent_is_recorded_by_the_form_and_by_an_admin_with_consent_true,
    the_new_list_parameters_refuse_bad_values_with_400,
    overdue_and_assignee_filter_and_call_backs_sort_nulls_last,
    an_overdue_list_is_never_served_from_the_list_cache,
    the_export_quotes_guards_and_matches_the_list,
    the_export_streams_every_page_and_refuses_paging_and_bad_filters,
    stats_agree_with_counts_computed_from_the_leads,
    personal_data_finds_every_spelling_of_one_phone,
);
