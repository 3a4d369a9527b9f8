//! The weekly timetable through the admin API (API.md §6): `/api/v1/admin/timetable-slots`,
//! `POST /api/v1/admin/timetable/generate` and `POST …/timetable-slots/{id}/apply`, with
//! the public schedule and the audit log.

use actix_web::test::TestRequest;
use cohai_e2e::{Backend, Catalog, Reply, TestApp, admin, at, call, e2e_tests, get};
use serde_json::{Value, json};

const SLOTS: &str = "/api/v1/admin/timetable-slots";
const GENERATE: &str = "/api/v1/admin/timetable/generate";

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
async fn admin_get<S, B>(app: &S, path: &str) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    call(app, admin(TestRequest::get().uri(path))).await
}

/// `DELETE path` as the admin.
async fn delete<S, B>(app: &S, path: &str) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    call(app, admin(TestRequest::delete().uri(path))).await
}

/// Asserts a 422 naming `field`.
fn assert_invalid(r: &Reply, field: &str) {
    r.assert_error(422, "validation_failed");
    assert!(
        r.json["error"]["fields"][field].is_array(),
        "{field}: {}",
        r.json
    );
}

/// A complete slot body: Tuesdays at 19:00 from 2027-03-01, of the catalog's first program
/// type and trainer, at `location_id`.
fn slot_body(c: &Catalog, location_id: i64) -> Value {
    json!({"location_id": location_id, "program_type_id": c.program_types[0].id,
           "trainer_id": c.trainers[0].id, "weekday": 2, "start_time": "19:00",
           "capacity": 12, "valid_from": "2027-03-01"})
}

/// Creates a slot from `body`; its id.
async fn create_slot<S, B>(app: &S, body: Value) -> i64
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    let r = post(app, SLOTS, body).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_i64().expect("id")
}

/// The public schedule's `starts_at` values for a location between two dates.
async fn public_starts<S, B>(app: &S, location_id: i64, from: &str, to: &str) -> Vec<String>
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    let r = get(
        app,
        &format!("/api/v1/schedule?location_id={location_id}&from={from}&to={to}"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["starts_at"].as_str().expect("starts_at").to_owned())
        .collect()
}

/// The ids of the sessions generated from `slot_id`, by start.
fn generated_ids(t: &TestApp, slot_id: i64) -> Vec<i64> {
    let sessions = t
        .repos
        .class_session_admin
        .search(&cohai_domain::AdminSessionFilter {
            schedule: cohai_domain::ScheduleFilter {
                location_id: None,
                program_type_id: None,
                trainer_id: None,
                window: cohai_domain::TimeWindow::new(
                    at("2026-01-01T00:00:00Z"),
                    at("2032-01-01T00:00:00Z"),
                    10_000,
                )
                .expect("window"),
            },
            status: None,
            limit: 1000,
            offset: 0,
        })
        .expect("sessions");
    sessions
        .items
        .into_iter()
        .filter(|s| s.timetable_slot_id == Some(slot_id))
        .map(|s| s.id)
        .collect()
}

async fn slots_round_trip(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let r = post(&app, SLOTS, slot_body(&c, c.locations[0].id)).await;
    assert_eq!(r.status, 201, "{}", r.json);
    let id = r.json["id"].as_i64().expect("id");
    let path = format!("{SLOTS}/{id}");
    assert_eq!(r.header("location"), Some(path.as_str()));
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    assert_eq!(
        r.json,
        json!({"id": id, "location_id": c.locations[0].id, "program_type_id": c.program_types[0].id,
               "trainer_id": c.trainers[0].id, "weekday": 2, "start_time": "19:00", "capacity": 12,
               "valid_from": "2027-03-01", "valid_until": null, "active": true})
    );
    let etag = r.header("etag").expect("etag").to_owned();
    let got = admin_get(&app, &path).await;
    assert_eq!(
        (got.status.as_u16(), got.header("etag")),
        (200, Some(&*etag))
    );
    assert_eq!(got.json, r.json);
    let not_modified = call(
        &app,
        admin(TestRequest::get().uri(&path)).insert_header(("if-none-match", etag.as_str())),
    )
    .await;
    assert_eq!(not_modified.status, 304);

    let changed = patch(
        &app,
        &path,
        json!({"start_time": "07:05", "valid_until": "2027-06-30"}),
        Some(&etag),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.json);
    assert_eq!(
        (
            &changed.json["start_time"],
            &changed.json["valid_until"],
            &changed.json["capacity"]
        ),
        (&json!("07:05"), &json!("2027-06-30"), &json!(12)),
        "absent fields stay"
    );
    let new_etag = changed.header("etag").expect("etag").to_owned();
    assert_ne!(new_etag, etag);
    patch(&app, &path, json!({"capacity": 10}), Some(&etag))
        .await
        .assert_error(412, "precondition_failed");
    patch(
        &app,
        &format!("{SLOTS}/9999"),
        json!({"capacity": 10}),
        Some(&etag),
    )
    .await
    .assert_error(404, "not_found");
    let cleared = patch(&app, &path, json!({"valid_until": null}), Some(&new_etag)).await;
    assert_eq!(cleared.status, 200, "{}", cleared.json);
    assert_eq!(
        cleared.json["valid_until"],
        Value::Null,
        "null clears the end"
    );
    patch(&app, &path, json!({"room": "A"}), None)
        .await
        .assert_error(400, "invalid_json");

    // The list: by location, weekday, start time; inactive ones included.
    let berlin_monday = create_slot(&app, {
        let mut b = slot_body(&c, c.locations[1].id);
        b["weekday"] = json!(1);
        b
    })
    .await;
    let moscow_monday_late = create_slot(&app, {
        let mut b = slot_body(&c, c.locations[0].id);
        b["weekday"] = json!(1);
        b["start_time"] = json!("20:00");
        b["active"] = json!(false);
        b
    })
    .await;
    let moscow_monday_early = create_slot(&app, {
        let mut b = slot_body(&c, c.locations[0].id);
        b["weekday"] = json!(1);
        b["start_time"] = json!("09:00");
        b
    })
    .await;
    let list = |q: &'static str| {
        let app = &app;
        async move {
            let r = admin_get(app, &format!("{SLOTS}{q}")).await;
            assert_eq!(r.status, 200, "{}", r.json);
            r.json["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|s| s["id"].as_i64().expect("id"))
                .collect::<Vec<_>>()
        }
    };
    // Moscow (created first, so a smaller id) before Berlin.
    assert_eq!(
        list("").await,
        [moscow_monday_early, moscow_monday_late, id, berlin_monday]
    );
    assert!(!list("?active=true").await.contains(&moscow_monday_late));
    assert_eq!(list("?active=false").await, [moscow_monday_late]);
    admin_get(&app, &format!("{SLOTS}?active=1"))
        .await
        .assert_error(400, "invalid_parameter");
    admin_get(&app, &format!("{SLOTS}/abc"))
        .await
        .assert_error(400, "invalid_parameter");

    // Without sessions a slot is deleted.
    let gone = delete(&app, &path).await;
    assert_eq!(gone.status, 204);
    admin_get(&app, &path).await.assert_error(404, "not_found");
    delete(&app, &path).await.assert_error(404, "not_found");
}

async fn every_rule_refuses_a_bad_value(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let base = slot_body(&c, c.locations[0].id);
    let with = |field: &str, value: Value| {
        let mut b = base.clone();
        b[field] = value;
        b
    };
    for (field, value) in [
        ("location_id", json!(0)),
        ("location_id", json!(9999)),
        ("location_id", json!(c.locations[2].id)),
        ("program_type_id", json!(9999)),
        ("trainer_id", json!(9999)),
        ("weekday", json!(0)),
        ("weekday", json!(8)),
        ("start_time", json!("24:00")),
        ("start_time", json!("19:60")),
        ("start_time", json!("9:00")),
        ("start_time", json!("19:00:00")),
        ("start_time", json!("")),
        ("start_time", json!(null)),
        ("capacity", json!(0)),
        ("capacity", json!(501)),
        ("valid_from", json!("2027-13-01")),
        ("valid_from", json!("01.03.2027")),
        ("valid_until", json!("2027-02-28")),
        ("valid_until", json!("2027-3-31")),
        ("active", json!(null)),
    ] {
        let r = post(&app, SLOTS, with(field, value.clone())).await;
        assert_invalid(&r, field);
        assert_eq!(
            r.json["error"]["fields"].as_object().map(|f| f.len()),
            Some(1),
            "{field} = {value}: only that field: {}",
            r.json
        );
    }
    // Every required field is named when missing.
    for field in [
        "location_id",
        "program_type_id",
        "trainer_id",
        "weekday",
        "start_time",
        "capacity",
        "valid_from",
    ] {
        let mut b = base.clone();
        b.as_object_mut().expect("object").remove(field);
        assert_invalid(&post(&app, SLOTS, b).await, field);
    }
    // Wrong JSON types and unknown fields are 400.
    for body in [with("weekday", json!("2")), with("room", json!("A"))] {
        post(&app, SLOTS, body)
            .await
            .assert_error(400, "invalid_json");
    }
    // Inactive references, and references changed by PATCH.
    let id = create_slot(&app, base.clone()).await;
    let path = format!("{SLOTS}/{id}");
    let off = patch(
        &app,
        &format!("/api/v1/admin/program-types/{}", c.program_types[1].id),
        json!({"active": false}),
        None,
    )
    .await;
    assert_eq!(off.status, 200, "{}", off.json);
    assert_invalid(
        &post(
            &app,
            SLOTS,
            with("program_type_id", json!(c.program_types[1].id)),
        )
        .await,
        "program_type_id",
    );
    assert_invalid(
        &patch(
            &app,
            &path,
            json!({"program_type_id": c.program_types[1].id}),
            None,
        )
        .await,
        "program_type_id",
    );
    assert_invalid(
        &patch(&app, &path, json!({"valid_until": "2027-01-01"}), None).await,
        "valid_until",
    );
    assert_invalid(
        &patch(&app, &path, json!({"capacity": null}), None).await,
        "capacity",
    );
    // A refused change changes nothing (and is not audited).
    let unchanged = admin_get(&app, &path).await;
    assert_eq!(unchanged.json["program_type_id"], c.program_types[0].id);
    let audit = admin_get(
        &app,
        &format!("/api/v1/admin/audit?entity=timetable_slot&entity_id={id}"),
    )
    .await;
    assert_eq!(audit.json["total"], 1, "{}", audit.json);
}

async fn generate_refuses_bad_ranges_and_locations(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    for (body, field) in [
        (json!({"to": "2027-03-01"}), "from"),
        (json!({"from": "2027-03-01"}), "to"),
        (json!({"from": "2027-3-1", "to": "2027-03-02"}), "from"),
        (
            json!({"from": "2027-03-01", "to": "2027-03-01T00:00:00Z"}),
            "to",
        ),
        (json!({"from": "2027-03-02", "to": "2027-03-01"}), "to"),
        (json!({"from": "2027-01-01", "to": "2027-04-03"}), "to"),
        (
            json!({"from": "2027-03-01", "to": "2027-03-02", "location_id": 9999}),
            "location_id",
        ),
        (
            json!({"from": "2027-03-01", "to": "2027-03-02", "location_id": 0}),
            "location_id",
        ),
    ] {
        assert_invalid(&post(&app, GENERATE, body).await, field);
    }
    post(
        &app,
        GENERATE,
        json!({"from": "2027-03-01", "to": "2027-03-02", "dry_run": true}),
    )
    .await
    .assert_error(400, "invalid_json");
    post(
        &app,
        GENERATE,
        json!({"from": 20270301, "to": "2027-03-02"}),
    )
    .await
    .assert_error(400, "invalid_json");
    // 91 days after `from` (92 dates) is the longest range.
    let longest = post(
        &app,
        GENERATE,
        json!({"from": "2027-01-01", "to": "2027-04-02", "location_id": c.locations[0].id}),
    )
    .await;
    assert_eq!(longest.status, 200, "{}", longest.json);
    assert_eq!(longest.json, json!({"created": 0, "skipped": 0}));
}

async fn generation_keeps_local_time_across_dst_and_is_idempotent(backend: Backend) {
    // The public cache is on: a generation run shows at once on this instance.
    let t = TestApp::with(backend, |s| {
        s.public_cache_ttl = std::time::Duration::from_secs(60);
    });
    let app = t.service().await;
    let c = t.catalog();
    let berlin = c.locations[1].id;
    let sunday = create_slot(&app, {
        let mut b = slot_body(&c, berlin);
        b["weekday"] = json!(7);
        b
    })
    .await;
    assert!(
        public_starts(&app, berlin, "2027-03-20", "2027-04-05")
            .await
            .is_empty()
    );
    let body = json!({"from": "2027-03-21", "to": "2027-04-04", "location_id": berlin});
    let first = post(&app, GENERATE, body.clone()).await;
    assert_eq!(first.status, 200, "{}", first.json);
    assert_eq!(first.header("cache-control"), Some("private, no-store"));
    assert_eq!(first.json, json!({"created": 3, "skipped": 0}));
    // 19:00 in Berlin: CET (UTC+1) before the last Sunday of March, CEST (UTC+2) from it.
    assert_eq!(
        public_starts(&app, berlin, "2027-03-20", "2027-04-05").await,
        [
            "2027-03-21T18:00:00Z",
            "2027-03-28T17:00:00Z",
            "2027-04-04T17:00:00Z"
        ]
    );
    let second = post(&app, GENERATE, body).await;
    assert_eq!(second.json, json!({"created": 0, "skipped": 3}));
    // Without a location: every location's slots (Moscow has none).
    let all = post(
        &app,
        GENERATE,
        json!({"from": "2027-03-21", "to": "2027-04-11"}),
    )
    .await;
    assert_eq!(all.json, json!({"created": 1, "skipped": 3}));
    assert_eq!(generated_ids(&t, sunday).len(), 4);

    // Each run is one `generated` entry by the key's name.
    let audit = admin_get(&app, "/api/v1/admin/audit?entity=class_session").await;
    assert_eq!(audit.json["total"], 3, "{}", audit.json);
    let newest = &audit.json["items"][0];
    assert_eq!(
        (&newest["action"], &newest["entity_id"], &newest["actor"]),
        (&json!("generated"), &Value::Null, &json!("admin"))
    );
    assert_eq!(
        newest["changes"],
        json!({"from": "2027-03-21", "to": "2027-04-11", "location_id": null, "created": 1})
    );
    assert_eq!(
        audit.json["items"][2]["changes"],
        json!({"from": "2027-03-21", "to": "2027-04-04", "location_id": berlin, "created": 3})
    );
}

async fn sessions_changed_by_hand_are_never_recreated_or_overwritten(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let slot = create_slot(&app, slot_body(&c, c.locations[0].id)).await;
    // Tuesdays 2027-03-02 … 2027-03-23.
    let range = json!({"from": "2027-03-01", "to": "2027-03-28"});
    assert_eq!(
        post(&app, GENERATE, range.clone()).await.json,
        json!({"created": 4, "skipped": 0})
    );
    let ids = generated_ids(&t, slot);
    assert_eq!(ids.len(), 4);
    let session = |id: i64| format!("/api/v1/admin/class-sessions/{id}");
    let edited = patch(&app, &session(ids[0]), json!({"capacity": 5}), None).await;
    assert_eq!(edited.status, 200, "{}", edited.json);
    let cancelled = patch(
        &app,
        &session(ids[1]),
        json!({"status": "cancelled", "cancellation_reason": "Зал на ремонте"}),
        None,
    )
    .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.json);
    assert_eq!(delete(&app, &session(ids[2])).await.status, 204);

    // Nothing is generated again: all four occurrences had a session.
    assert_eq!(
        post(&app, GENERATE, range).await.json,
        json!({"created": 0, "skipped": 4})
    );
    assert_eq!(generated_ids(&t, slot), [ids[0], ids[1], ids[3]]);

    // Applying a change reaches only the untouched session.
    let changed = patch(
        &app,
        &format!("{SLOTS}/{slot}"),
        json!({"start_time": "18:30", "capacity": 20}),
        None,
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.json);
    let applied = post(
        &app,
        &format!("{SLOTS}/{slot}/apply"),
        json!({"from": "2027-03-01"}),
    )
    .await;
    assert_eq!(applied.status, 200, "{}", applied.json);
    assert_eq!(applied.json, json!({"updated": 1}));
    let kept = admin_get(&app, &session(ids[0])).await;
    assert_eq!(
        (&kept.json["capacity"], &kept.json["starts_at"]),
        (&json!(5), &json!("2027-03-02T16:00:00Z")),
        "edited by hand: 19:00 Moscow as it was"
    );
    let still_cancelled = admin_get(&app, &session(ids[1])).await;
    assert_eq!(
        (
            &still_cancelled.json["status"],
            &still_cancelled.json["capacity"]
        ),
        (&json!("cancelled"), &json!(12))
    );
    let moved = admin_get(&app, &session(ids[3])).await;
    assert_eq!(
        (
            &moved.json["starts_at"],
            &moved.json["ends_at"],
            &moved.json["capacity"],
            &moved.json["timetable_slot_id"]
        ),
        (
            &json!("2027-03-23T15:30:00Z"),
            &json!("2027-03-23T16:30:00Z"),
            &json!(20),
            &json!(slot)
        )
    );
}

async fn apply_follows_the_slot_and_reports_what_it_could_not_move(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let slot = create_slot(&app, slot_body(&c, c.locations[0].id)).await;
    post(
        &app,
        GENERATE,
        json!({"from": "2027-03-01", "to": "2027-03-21"}),
    )
    .await;
    let ids = generated_ids(&t, slot);
    assert_eq!(ids.len(), 3);
    let before = admin_get(&app, &format!("/api/v1/admin/class-sessions/{}", ids[1])).await;
    // Boris teaches 19:00–20:00 Moscow on 2027-03-16 (made by hand).
    let busy = post(
        &app,
        "/api/v1/admin/class-sessions",
        json!({"location_id": c.locations[0].id, "program_type_id": c.program_types[0].id,
               "trainer_id": c.trainers[1].id, "starts_at": "2027-03-16T19:00:00+03:00",
               "capacity": 10}),
    )
    .await;
    assert_eq!(busy.status, 201, "{}", busy.json);
    let busy_id = busy.json["id"].as_i64().expect("id");
    let path = format!("{SLOTS}/{slot}");
    assert_eq!(
        patch(
            &app,
            &path,
            json!({"trainer_id": c.trainers[1].id, "program_type_id": c.program_types[1].id}),
            None
        )
        .await
        .status,
        200
    );
    let applied = post(
        &app,
        &format!("{path}/apply"),
        json!({"from": "2027-03-09"}),
    )
    .await;
    assert_eq!(applied.status, 200, "{}", applied.json);
    assert_eq!(
        applied.json,
        json!({"updated": 1, "conflicts": [
            {"timetable_slot_id": slot, "date": "2027-03-16", "class_session_id": busy_id}]})
    );
    let moved = admin_get(&app, &format!("/api/v1/admin/class-sessions/{}", ids[1])).await;
    assert_eq!(
        (&moved.json["trainer_id"], &moved.json["program_type_id"]),
        (&json!(c.trainers[1].id), &json!(c.program_types[1].id))
    );
    assert_ne!(
        moved.header("etag"),
        before.header("etag"),
        "its version grew"
    );
    let first = admin_get(&app, &format!("/api/v1/admin/class-sessions/{}", ids[0])).await;
    assert_eq!(first.json["trainer_id"], c.trainers[0].id, "before `from`");
    // The change is audited on the session, by the key's name.
    let audit = admin_get(
        &app,
        &format!(
            "/api/v1/admin/audit?entity=class_session&entity_id={}",
            ids[1]
        ),
    )
    .await;
    assert_eq!(audit.json["total"], 1, "{}", audit.json);
    assert_eq!(audit.json["items"][0]["action"], "updated");
    assert_eq!(audit.json["items"][0]["actor"], "admin");
    assert_eq!(
        audit.json["items"][0]["changes"]["trainer_id"],
        json!({"from": c.trainers[0].id, "to": c.trainers[1].id})
    );

    // The body's rules, and an unknown slot.
    assert_invalid(
        &post(&app, &format!("{path}/apply"), json!({})).await,
        "from",
    );
    assert_invalid(
        &post(
            &app,
            &format!("{path}/apply"),
            json!({"from": "16.03.2027"}),
        )
        .await,
        "from",
    );
    post(
        &app,
        &format!("{path}/apply"),
        json!({"from": "2027-03-09", "to": "2027-04-01"}),
    )
    .await
    .assert_error(400, "invalid_json");
    post(
        &app,
        &format!("{SLOTS}/9999/apply"),
        json!({"from": "2027-03-09"}),
    )
    .await
    .assert_error(404, "not_found");
    post(
        &app,
        &format!("{SLOTS}/x/apply"),
        json!({"from": "2027-03-09"}),
    )
    .await
    .assert_error(400, "invalid_parameter");
}

async fn an_overlapping_occurrence_is_reported_not_created(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let slot = create_slot(&app, slot_body(&c, c.locations[0].id)).await;
    // Anna teaches 19:30–20:30 Moscow on 2027-03-09 at Berlin's studio (any location counts).
    let busy = post(
        &app,
        "/api/v1/admin/class-sessions",
        json!({"location_id": c.locations[1].id, "program_type_id": c.program_types[0].id,
               "trainer_id": c.trainers[0].id, "starts_at": "2027-03-09T16:30:00Z",
               "capacity": 10}),
    )
    .await;
    assert_eq!(busy.status, 201, "{}", busy.json);
    let busy_id = busy.json["id"].as_i64().expect("id");
    let r = post(
        &app,
        GENERATE,
        json!({"from": "2027-03-01", "to": "2027-03-14"}),
    )
    .await;
    assert_eq!(
        r.json,
        json!({"created": 1, "skipped": 0, "conflicts": [
            {"timetable_slot_id": slot, "date": "2027-03-09", "class_session_id": busy_id}]})
    );
    // Once the other session is gone, the occurrence is generated.
    assert_eq!(
        delete(&app, &format!("/api/v1/admin/class-sessions/{busy_id}"))
            .await
            .status,
        204
    );
    let again = post(
        &app,
        GENERATE,
        json!({"from": "2027-03-01", "to": "2027-03-14"}),
    )
    .await;
    assert_eq!(again.json, json!({"created": 1, "skipped": 1}));
}

async fn a_slot_with_generated_sessions_is_deactivated_not_deleted(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let slot = create_slot(&app, slot_body(&c, c.locations[0].id)).await;
    let path = format!("{SLOTS}/{slot}");
    post(
        &app,
        GENERATE,
        json!({"from": "2027-03-01", "to": "2027-03-14"}),
    )
    .await;
    delete(&app, &path).await.assert_error(409, "conflict");
    // Its location, program type and trainer are referenced too.
    delete(
        &app,
        &format!("/api/v1/admin/trainers/{}", c.trainers[0].id),
    )
    .await
    .assert_error(409, "conflict");
    // Deactivated, it generates nothing more.
    assert_eq!(
        patch(&app, &path, json!({"active": false}), None)
            .await
            .status,
        200
    );
    assert_eq!(
        post(
            &app,
            GENERATE,
            json!({"from": "2027-03-15", "to": "2027-03-31"})
        )
        .await
        .json,
        json!({"created": 0, "skipped": 0})
    );
    // Once its sessions are deleted, it may be deleted.
    for id in generated_ids(&t, slot) {
        assert_eq!(
            delete(&app, &format!("/api/v1/admin/class-sessions/{id}"))
                .await
                .status,
            204
        );
    }
    assert_eq!(delete(&app, &path).await.status, 204);
    let audit = admin_get(
        &app,
        &format!("/api/v1/admin/audit?entity=timetable_slot&entity_id={slot}"),
    )
    .await;
    let actions: Vec<&str> = audit.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(actions, ["deleted", "updated", "created"]);
    assert_eq!(
        audit.json["items"][2]["changes"]["start_time"],
        json!({"from": null, "to": "19:00"})
    );
    assert_eq!(
        audit.json["items"][1]["changes"],
        json!({"active": {"from": true, "to": false}})
    );
}

async fn two_simultaneous_runs_create_each_session_once(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    for weekday in 1..=7 {
        let mut b = slot_body(&c, c.locations[0].id);
        b["weekday"] = json!(weekday);
        create_slot(&app, b).await;
    }
    let body = json!({"from": "2027-03-01", "to": "2027-05-30"});
    let (a, b) = futures_util::future::join(
        post(&app, GENERATE, body.clone()),
        post(&app, GENERATE, body),
    )
    .await;
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (200, 200));
    let created = |r: &Reply| r.json["created"].as_u64().expect("created");
    let skipped = |r: &Reply| r.json["skipped"].as_u64().expect("skipped");
    // 91 days: 13 weeks of 7 slots.
    assert_eq!(created(&a) + created(&b), 91, "{} {}", a.json, b.json);
    assert_eq!(created(&a) + skipped(&a), 91);
    assert_eq!(created(&b) + skipped(&b), 91);
    assert_eq!(
        cohai_persistence::testing::count(
            &t.db.db,
            "SELECT COUNT(*) AS n FROM class_sessions WHERE timetable_slot_id IS NOT NULL"
        ),
        91
    );
}

async fn the_horizon_starts_at_each_locations_local_today(backend: Backend) {
    use cohai_services::TimetableService as _;
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let moscow = create_slot(&app, slot_body(&c, c.locations[0].id)).await;
    let berlin = create_slot(&app, slot_body(&c, c.locations[1].id)).await;
    let r = &t.repos;
    // The API refuses a slot of an inactive studio; one made before it closed stays.
    let closed = r
        .timetable_slots
        .create(&cohai_domain::NewTimetableSlot {
            location_id: c.locations[2].id,
            program_type_id: c.program_types[0].id,
            trainer_id: c.trainers[1].id,
            weekday: 2,
            start_time: cohai_domain::StartTime::parse("19:00").expect("valid"),
            capacity: 12,
            valid_from: chrono::NaiveDate::from_ymd_opt(2027, 3, 1).expect("valid"),
            valid_until: None,
            is_active: true,
        })
        .expect("slot")
        .id;
    let service = cohai_services::TimetableServiceImpl::new(
        r.timetable.clone(),
        r.locations.clone(),
        cohai_services::PublicChanges::new(),
    );
    // 22:30 UTC on Monday 2027-03-01: already Tuesday in Moscow (01:30), still Monday in Berlin.
    let now = at("2027-03-01T22:30:00Z");
    let report = service
        .keep_horizon(7, now)
        .expect("horizon")
        .expect("nothing else runs");
    assert_eq!((report.created, report.skipped), (3, 0));
    assert_eq!(
        generated_ids(&t, moscow).len(),
        2,
        "Tuesdays 03-02 and 03-09"
    );
    assert_eq!(generated_ids(&t, berlin).len(), 1, "Tuesday 03-02 only");
    assert!(
        generated_ids(&t, closed).is_empty(),
        "an inactive studio has no horizon"
    );
    let audit = admin_get(
        &app,
        "/api/v1/admin/audit?entity=class_session&actor=system",
    )
    .await;
    let mut ranges: Vec<Value> = audit.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["changes"].clone())
        .collect();
    ranges.sort_by_key(|c| c["location_id"].as_i64());
    assert_eq!(
        ranges,
        [
            json!({"from": "2027-03-02", "to": "2027-03-09", "location_id": c.locations[0].id, "created": 2}),
            json!({"from": "2027-03-01", "to": "2027-03-08", "location_id": c.locations[1].id, "created": 1}),
        ]
    );
    // An hour later it is Tuesday in Berlin too: its horizon reaches the next Tuesday.
    let later = now + chrono::Duration::hours(1);
    let again = service
        .keep_horizon(7, later)
        .expect("horizon")
        .expect("nothing else runs");
    assert_eq!((again.created, again.skipped), (1, 3));
    assert_eq!(generated_ids(&t, berlin).len(), 2);
    // Then nothing is new, and a run that creates nothing is not audited.
    let idle = service
        .keep_horizon(7, later)
        .expect("horizon")
        .expect("nothing else runs");
    assert_eq!((idle.created, idle.skipped), (0, 4));
    let audit = admin_get(
        &app,
        "/api/v1/admin/audit?entity=class_session&actor=system",
    )
    .await;
    assert_eq!(audit.json["total"], 3);
}

e2e_tests!(
    the_horizon_starts_at_each_locations_local_today,
    slots_round_trip,
    every_rule_refuses_a_bad_value,
    generate_refuses_bad_ranges_and_locations,
    generation_keeps_local_time_across_dst_and_is_idempotent,
    sessions_changed_by_hand_are_never_recreated_or_overwritten,
    apply_follows_the_slot_and_reports_what_it_could_not_move,
    an_overlapping_occurrence_is_reported_not_created,
    a_slot_with_generated_sessions_is_deactivated_not_deleted,
    two_simultaneous_runs_create_each_session_once,
);
