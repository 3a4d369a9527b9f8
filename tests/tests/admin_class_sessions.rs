//! Class-session administration (API.md §6): `/api/v1/admin/class-sessions` on both backends —
//! every rule with a bad value, the trainer-overlap rule (also for 20 simultaneous requests),
//! cancellations that the public schedule shows and the leads who chose the class hear of,
//! deletion against the leads' choices, the audit log and the public cache.

use actix_web::test::TestRequest;
use chrono::{DateTime, Days, Duration, SecondsFormat, Utc};
use cohai_domain::{LeadStatus, NewLead, NewProgramType, NewTrainer};
use cohai_e2e::{Backend, Catalog, Reply, TestApp, admin, builders, call, e2e_tests, get};
use futures_util::future::join_all;
use serde_json::{Value, json};

const PATH: &str = "/api/v1/admin/class-sessions";

/// A request as the admin: `method` on `path` with an optional JSON body and `If-Match`.
async fn send<S, B>(app: &S, req: TestRequest, body: Option<Value>, if_match: Option<&str>) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    let mut req = admin(req);
    if let Some(body) = body {
        req = req.set_json(body);
    }
    if let Some(tag) = if_match {
        req = req.insert_header(("if-match", tag));
    }
    call(app, req).await
}

async fn post<S, B>(app: &S, body: Value) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    send(app, TestRequest::post().uri(PATH), Some(body), None).await
}

async fn patch<S, B>(app: &S, id: i64, body: Value, if_match: Option<&str>) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    let uri = format!("{PATH}/{id}");
    send(app, TestRequest::patch().uri(&uri), Some(body), if_match).await
}

async fn delete<S, B>(app: &S, id: i64, if_match: Option<&str>) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    let uri = format!("{PATH}/{id}");
    send(app, TestRequest::delete().uri(&uri), None, if_match).await
}

async fn admin_get<S, B>(app: &S, uri: &str) -> Reply
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    send(app, TestRequest::get().uri(uri), None, None).await
}

/// Tomorrow (UTC) at `hour:minute`: inside the public schedule's default week.
fn tomorrow_at(hour: u32, minute: u32) -> DateTime<Utc> {
    (Utc::now().date_naive() + Days::new(1))
        .and_hms_opt(hour, minute, 0)
        .expect("a time of day")
        .and_utc()
}

/// An instant as the API writes it.
fn rfc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A session body at the first (Moscow) studio, with the first program type and trainer.
fn class(c: &Catalog, starts_at: DateTime<Utc>) -> Value {
    json!({
        "location_id": c.locations[0].id,
        "program_type_id": c.program_types[0].id,
        "trainer_id": c.trainers[0].id,
        "starts_at": rfc(starts_at),
        "capacity": 12,
    })
}

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

fn without(mut body: Value, field: &str) -> Value {
    body.as_object_mut().map(|o| o.remove(field));
    body
}

fn id_of(r: &Reply) -> i64 {
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_i64().expect("id")
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

/// Asserts the 409 of the overlap rule, naming `other`.
fn assert_overlap(r: &Reply, other: i64) {
    r.assert_error(409, "conflict");
    assert_eq!(
        r.json["error"]["details"],
        json!({"class_session_id": other}),
        "{}",
        r.json
    );
}

/// A lead of `status` that chose session `id`.
fn lead_for(t: &TestApp, n: u32, status: LeadStatus, session_id: i64) -> i64 {
    t.repos
        .leads
        .create(
            &NewLead {
                status,
                class_session_id: Some(session_id),
                ..builders::lead(
                    &format!("Клиент {n}"),
                    builders::phone(n),
                    Utc::now() - Duration::hours(1),
                )
            },
            "website",
        )
        .expect("lead")
        .id
}

async fn sessions_round_trip(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let starts = tomorrow_at(10, 0);
    let r = post(
        &app,
        with(
            class(&c, starts),
            "membership_plan_id",
            json!(c.plans[0].id),
        ),
    )
    .await;
    let id = id_of(&r);
    assert_eq!(r.header("location"), Some(&*format!("{PATH}/{id}")));
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
    assert_eq!(
        r.json,
        json!({
            "id": id, "starts_at": rfc(starts), "ends_at": rfc(starts + Duration::minutes(60)),
            "status": "scheduled", "capacity": 12, "location_id": c.locations[0].id,
            "program_type_id": c.program_types[0].id, "trainer_id": c.trainers[0].id,
            "membership_plan_id": c.plans[0].id, "cancellation_reason": null,
            "timetable_slot_id": null,
        }),
        "ends_at defaults to the program's duration, status to scheduled"
    );
    let etag = r.header("etag").expect("etag").to_owned();
    let item = format!("{PATH}/{id}");
    let got = admin_get(&app, &item).await;
    assert_eq!(
        (got.status.as_u16(), got.header("etag")),
        (200, Some(&*etag))
    );
    assert_eq!(got.json, r.json);
    let not_modified = call(
        &app,
        admin(TestRequest::get().uri(&item)).insert_header(("if-none-match", etag.as_str())),
    )
    .await;
    assert_eq!(not_modified.status, 304);

    // A new start alone moves the end, keeping the duration; null clears the plan.
    let later = tomorrow_at(12, 30);
    let moved = patch(
        &app,
        id,
        json!({"starts_at": rfc(later), "membership_plan_id": null}),
        Some(&etag),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.json);
    assert_eq!(
        (
            moved.json["starts_at"].clone(),
            moved.json["ends_at"].clone()
        ),
        (json!(rfc(later)), json!(rfc(later + Duration::minutes(60))))
    );
    assert_eq!(moved.json["membership_plan_id"], Value::Null);
    assert_eq!(moved.json["capacity"], 12, "absent fields stay");
    let new_etag = moved.header("etag").expect("etag").to_owned();
    assert_ne!(new_etag, etag, "the ETag changes with a change");
    // An offset other than Z is read and answered in UTC; ends_at can be set alone.
    let longer = patch(
        &app,
        id,
        json!({"ends_at": rfc(later + Duration::minutes(90)).replace('Z', "+00:00")}),
        None,
    )
    .await;
    assert_eq!(longer.status, 200, "{}", longer.json);
    assert_eq!(
        longer.json["ends_at"],
        json!(rfc(later + Duration::minutes(90)))
    );

    patch(&app, id, json!({"capacity": 20}), Some(&etag))
        .await
        .assert_error(412, "precondition_failed");
    patch(&app, 999_999, json!({"capacity": 20}), Some(&etag))
        .await
        .assert_error(404, "not_found");
    patch(&app, id, json!({"timetable_slot_id": 1}), None)
        .await
        .assert_error(400, "invalid_json");
    patch(&app, id, json!({"active": false}), None)
        .await
        .assert_error(400, "invalid_json");
    admin_get(&app, &format!("{PATH}/abc"))
        .await
        .assert_error(400, "invalid_parameter");

    let current = admin_get(&app, &item).await;
    delete(&app, id, Some(&etag))
        .await
        .assert_error(412, "precondition_failed");
    let deleted = delete(&app, id, current.header("etag")).await;
    assert_eq!(deleted.status, 204);
    admin_get(&app, &item).await.assert_error(404, "not_found");
    delete(&app, id, None).await.assert_error(404, "not_found");
}

async fn every_rule_refuses_a_bad_value(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let retired_program = t
        .repos
        .program_types
        .create(&NewProgramType {
            is_active: false,
            ..builders::program_type("Архивная программа")
        })
        .expect("program");
    let retired_trainer = t
        .repos
        .trainers
        .create(&NewTrainer {
            is_active: false,
            ..builders::trainer("Ушедший тренер")
        })
        .expect("trainer");
    let retired_plan = t
        .repos
        .membership_plans
        .create(&cohai_domain::NewMembershipPlan {
            is_active: false,
            ..builders::plan(c.locations[0].id, "Старый", 1_000)
        })
        .expect("plan");
    let base = class(&c, tomorrow_at(10, 0));
    let starts = tomorrow_at(10, 0);
    for field in [
        "location_id",
        "program_type_id",
        "trainer_id",
        "starts_at",
        "capacity",
    ] {
        assert_invalid(&post(&app, without(base.clone(), field)).await, field);
    }
    for (field, value) in [
        ("capacity", json!(0)),
        ("capacity", json!(501)),
        ("capacity", Value::Null),
        ("starts_at", json!("2026-12-01T10:00:00")),
        ("starts_at", json!("завтра")),
        ("starts_at", json!("10000-01-01T00:00:00Z")),
        ("ends_at", json!(rfc(starts))),
        ("ends_at", json!(rfc(starts - Duration::minutes(1)))),
        ("ends_at", Value::Null),
        ("location_id", json!(999_999)),
        ("location_id", json!(c.locations[2].id)),
        ("location_id", json!(0)),
        ("program_type_id", json!(999_999)),
        ("program_type_id", json!(retired_program.id)),
        ("trainer_id", json!(999_999)),
        ("trainer_id", json!(retired_trainer.id)),
        ("membership_plan_id", json!(999_999)),
        ("membership_plan_id", json!(retired_plan.id)),
        ("status", json!("postponed")),
        ("status", Value::Null),
        ("cancellation_reason", json!("Болезнь")),
    ] {
        assert_invalid(&post(&app, with(base.clone(), field, value)).await, field);
    }
    // A plan of another studio.
    let in_berlin = with(
        with(base.clone(), "location_id", json!(c.locations[1].id)),
        "membership_plan_id",
        json!(c.plans[0].id),
    );
    assert_invalid(&post(&app, in_berlin).await, "membership_plan_id");
    let cancelled = with(base.clone(), "status", json!("cancelled"));
    assert_invalid(&post(&app, cancelled.clone()).await, "cancellation_reason");
    for reason in [
        json!(""),
        json!("   "),
        json!("a".repeat(501)),
        json!("a\u{1}b"),
    ] {
        assert_invalid(
            &post(&app, with(cancelled.clone(), "cancellation_reason", reason)).await,
            "cancellation_reason",
        );
    }
    for (field, value) in [
        ("capacity", json!("12")),
        ("location_id", json!("1")),
        ("starts_at", json!(1_700_000_000)),
        ("extra", json!(1)),
        ("timetable_slot_id", json!(1)),
    ] {
        post(&app, with(base.clone(), field, value))
            .await
            .assert_error(400, "invalid_json");
    }
    // The bounds themselves are accepted, a multi-line reason too.
    let big = post(&app, with(base.clone(), "capacity", json!(500))).await;
    let id = id_of(&big);
    let created_cancelled = post(
        &app,
        with(
            with(cancelled.clone(), "capacity", json!(1)),
            "cancellation_reason",
            json!("Тренер заболел;\nперенос на среду"),
        ),
    )
    .await;
    assert_eq!(created_cancelled.json["status"], "cancelled");
    assert_eq!(
        created_cancelled.json["cancellation_reason"],
        "Тренер заболел;\nперенос на среду"
    );

    // PATCH: the same rules, on the merged session.
    for (body, field) in [
        (json!({"capacity": 0}), "capacity"),
        (json!({"ends_at": rfc(starts)}), "ends_at"),
        // A later start with the old end would end before it starts.
        (
            json!({"starts_at": rfc(starts + Duration::hours(2)), "ends_at": rfc(starts + Duration::hours(1))}),
            "ends_at",
        ),
        (json!({"starts_at": null}), "starts_at"),
        (json!({"status": "cancelled"}), "cancellation_reason"),
        (
            json!({"status": "cancelled", "cancellation_reason": " "}),
            "cancellation_reason",
        ),
        (json!({"cancellation_reason": "x"}), "cancellation_reason"),
        (json!({"trainer_id": retired_trainer.id}), "trainer_id"),
        (json!({"location_id": c.locations[2].id}), "location_id"),
        (
            json!({"membership_plan_id": retired_plan.id}),
            "membership_plan_id",
        ),
        (json!({"location_id": null}), "location_id"),
    ] {
        assert_invalid(&patch(&app, id, body.clone(), None).await, field);
    }
    let unchanged = admin_get(&app, &format!("{PATH}/{id}")).await;
    assert_eq!(unchanged.json, big.json, "no refused change was stored");
}

async fn a_trainer_cannot_teach_two_overlapping_scheduled_sessions(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let ten = tomorrow_at(10, 0);
    let first = id_of(&post(&app, class(&c, ten)).await);
    // Half an hour later at the other studio: the trainer is still in the first class.
    let clash = with(
        class(&c, ten + Duration::minutes(30)),
        "location_id",
        json!(c.locations[1].id),
    );
    let refused = post(&app, clash.clone()).await;
    assert_overlap(&refused, first);
    assert!(
        refused.json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&first.to_string())),
        "{}",
        refused.json
    );
    // Back to back, another trainer, or cancelled: fine.
    let next = id_of(&post(&app, class(&c, ten + Duration::minutes(60))).await);
    id_of(
        &post(
            &app,
            with(clash.clone(), "trainer_id", json!(c.trainers[1].id)),
        )
        .await,
    );
    let off = id_of(
        &post(
            &app,
            with(
                with(clash.clone(), "status", json!("cancelled")),
                "cancellation_reason",
                json!("Перенос"),
            ),
        )
        .await,
    );
    // Back to scheduled must pass the rule, and names the first session in the way.
    assert_overlap(
        &patch(&app, off, json!({"status": "scheduled"}), None).await,
        first,
    );
    // Moving a session onto another, or giving it to a busy trainer.
    assert_overlap(
        &patch(
            &app,
            next,
            json!({"starts_at": rfc(ten + Duration::minutes(15))}),
            None,
        )
        .await,
        first,
    );
    // Boris's class just before his half past ten, given to the first trainer.
    let boris_early = id_of(
        &post(
            &app,
            with(
                class(&c, ten - Duration::minutes(30)),
                "trainer_id",
                json!(c.trainers[1].id),
            ),
        )
        .await,
    );
    assert_overlap(
        &patch(
            &app,
            boris_early,
            json!({"trainer_id": c.trainers[0].id}),
            None,
        )
        .await,
        first,
    );
    // Moving a session within its own time is no clash with itself.
    let shifted = patch(
        &app,
        first,
        json!({"starts_at": rfc(ten - Duration::minutes(30))}),
        None,
    )
    .await;
    assert_eq!(shifted.status, 200, "{}", shifted.json);
}

async fn of_twenty_simultaneous_overlapping_creates_one_succeeds(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let ten = tomorrow_at(10, 0);
    // Each starts a minute after the one before and lasts an hour: all overlap one another.
    let bodies: Vec<Value> = (0..20)
        .map(|i| class(&c, ten + Duration::minutes(i)))
        .collect();
    let replies = join_all(bodies.into_iter().map(|b| post(&app, b))).await;
    let created: Vec<i64> = replies
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.json["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(created.len(), 1, "exactly one is created");
    for r in replies.iter().filter(|r| r.status != 201) {
        assert_overlap(r, created[0]);
    }
    let list = admin_get(
        &app,
        &format!("{PATH}?trainer_id={}&from={}", c.trainers[0].id, rfc(ten)),
    )
    .await;
    assert_eq!(list.json["total"], 1, "{}", list.json);
    let audit = admin_get(&app, "/api/v1/admin/audit?entity=class_session").await;
    assert_eq!(audit.json["total"], 1, "only the stored one is audited");
}

/// `kind`s of a lead's events, with their data, as the admin API shows them.
async fn events_of<S, B>(app: &S, lead: i64) -> Vec<Value>
where
    S: cohai_e2e::TestService<B>,
    B: actix_web::body::MessageBody,
{
    let r = admin_get(app, &format!("/api/v1/admin/leads/{lead}/events")).await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["items"].as_array().expect("items").clone()
}

async fn cancelling_tells_the_open_leads_and_the_public_schedule(backend: Backend) {
    let t = TestApp::with(backend, |s| {
        s.public_cache_ttl = std::time::Duration::from_secs(600)
    });
    let app = t.service().await;
    let c = t.catalog();
    let ten = tomorrow_at(10, 0);
    let id = id_of(&post(&app, class(&c, ten)).await);
    let other = id_of(&post(&app, class(&c, ten + Duration::hours(2))).await);
    let open = [
        lead_for(&t, 1, LeadStatus::New, id),
        lead_for(&t, 2, LeadStatus::Contacted, id),
        lead_for(&t, 3, LeadStatus::TrialScheduled, id),
    ];
    let closed = [
        lead_for(&t, 4, LeadStatus::Converted, id),
        lead_for(&t, 5, LeadStatus::Lost, id),
    ];
    let elsewhere = lead_for(&t, 6, LeadStatus::New, other);
    let schedule = format!("/api/v1/schedule?location_id={}", c.locations[0].id);
    // The public schedule and feed are cached before the change.
    let before = get(&app, &schedule).await;
    assert_eq!(before.json["items"][0]["status"], "scheduled");
    let feed = "/api/v1/schedule.ics";
    let ics_before = get(&app, feed).await;
    assert!(!String::from_utf8_lossy(&ics_before.body).contains("STATUS:CANCELLED"));

    let reason = "Тренер заболел";
    let r = patch(
        &app,
        id,
        json!({"status": "cancelled", "cancellation_reason": reason}),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        (
            r.json["status"].clone(),
            r.json["cancellation_reason"].clone()
        ),
        (json!("cancelled"), json!(reason))
    );
    for lead in open {
        let events = events_of(&app, lead).await;
        let last = events.last().expect("an event");
        assert_eq!(
            (
                last["kind"].clone(),
                last["actor"].clone(),
                last["data"].clone()
            ),
            (
                json!("session_cancelled"),
                json!("admin"),
                json!({"class_session_id": id, "cancellation_reason": reason})
            ),
            "lead {lead}"
        );
    }
    for lead in closed.into_iter().chain([elsewhere]) {
        assert!(
            events_of(&app, lead)
                .await
                .iter()
                .all(|e| e["kind"] != "session_cancelled"),
            "lead {lead}"
        );
    }
    // At once on the public API: the schedule shows it struck through with its reason.
    let after = get(&app, &schedule).await;
    let shown = &after.json["items"][0];
    assert_eq!(
        (
            shown["id"].clone(),
            shown["status"].clone(),
            shown["cancellation_reason"].clone()
        ),
        (json!(id), json!("cancelled"), json!(reason))
    );
    assert_ne!(after.header("etag"), before.header("etag"));
    let ics = get(&app, feed).await;
    assert!(String::from_utf8_lossy(&ics.body).contains("STATUS:CANCELLED"));

    let audit = admin_get(
        &app,
        &format!("/api/v1/admin/audit?entity=class_session&entity_id={id}"),
    )
    .await;
    assert_eq!(
        audit.json["items"][0]["action"], "cancelled",
        "{}",
        audit.json
    );
    assert_eq!(audit.json["items"][0]["actor"], "admin");
    assert_eq!(
        audit.json["items"][0]["changes"]["status"],
        json!({"from": "scheduled", "to": "cancelled"})
    );

    // Back to scheduled clears the reason; nobody is told again.
    let back = patch(&app, id, json!({"status": "scheduled"}), None).await;
    assert_eq!(
        (
            back.json["status"].clone(),
            back.json["cancellation_reason"].clone()
        ),
        (json!("scheduled"), Value::Null)
    );
    assert_eq!(
        events_of(&app, open[0]).await.len(),
        2,
        "created and cancelled only"
    );
}

async fn a_refused_cancellation_leaves_neither_audit_entry_nor_events(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let created = post(&app, class(&c, tomorrow_at(10, 0))).await;
    let id = id_of(&created);
    let etag = created.header("etag").expect("etag").to_owned();
    let lead = lead_for(&t, 1, LeadStatus::New, id);
    patch(&app, id, json!({"capacity": 20}), None).await;
    let audit = || {
        let app = &app;
        async move {
            admin_get(
                app,
                &format!("/api/v1/admin/audit?entity=class_session&entity_id={id}"),
            )
            .await
            .json["total"]
                .clone()
        }
    };
    let (audit_before, events_before) = (audit().await, events_of(&app, lead).await.len());
    let cancel = json!({"status": "cancelled", "cancellation_reason": "Болезнь"});
    patch(&app, id, cancel.clone(), Some(&etag))
        .await
        .assert_error(412, "precondition_failed");
    assert_invalid(
        &patch(&app, id, with(cancel.clone(), "capacity", json!(0)), None).await,
        "capacity",
    );
    assert_invalid(
        &patch(&app, id, json!({"status": "cancelled"}), None).await,
        "cancellation_reason",
    );
    assert_eq!(audit().await, audit_before, "no audit entry");
    assert_eq!(
        events_of(&app, lead).await.len(),
        events_before,
        "no lead event"
    );
    let session = admin_get(&app, &format!("{PATH}/{id}")).await;
    assert_eq!(session.json["status"], "scheduled");
}

async fn a_session_a_lead_chose_is_cancelled_not_deleted(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let id = id_of(&post(&app, class(&c, tomorrow_at(10, 0))).await);
    let lead = lead_for(&t, 1, LeadStatus::Lost, id);
    let refused = delete(&app, id, None).await;
    refused.assert_error(409, "conflict");
    assert_eq!(refused.json["error"]["details"], json!({"lead_id": lead}));
    assert_eq!(admin_get(&app, &format!("{PATH}/{id}")).await.status, 200);
    // Once the lead chooses no class, the session can go.
    let freed = send(
        &app,
        TestRequest::patch().uri(&format!("/api/v1/admin/leads/{lead}")),
        Some(json!({"class_session_id": null})),
        None,
    )
    .await;
    assert_eq!(freed.status, 200, "{}", freed.json);
    assert_eq!(delete(&app, id, None).await.status, 204);
}

async fn the_list_takes_the_schedule_filters_a_status_and_pages(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let ten = tomorrow_at(10, 0);
    // Sessions an hour apart, alternately at the Moscow and Berlin studios and trainers.
    let mut ids = Vec::new();
    for i in 0..6 {
        let body = with(
            with(
                class(&c, ten + Duration::hours(i)),
                "location_id",
                json!(c.locations[(i % 2) as usize].id),
            ),
            "trainer_id",
            json!(c.trainers[(i % 2) as usize].id),
        );
        ids.push(id_of(&post(&app, body).await));
    }
    patch(
        &app,
        ids[5],
        json!({"status": "cancelled", "cancellation_reason": "Ремонт"}),
        None,
    )
    .await;
    // The Berlin studio closes: its sessions stay in the admin list.
    t.repos
        .locations
        .update(
            c.locations[1].id,
            &cohai_domain::NewLocation {
                is_active: false,
                ..builders::location_in("Berlin Mitte", "Europe/Berlin")
            },
        )
        .expect("deactivate")
        .expect("exists");
    let from = format!("from={}", rfc(ten));
    let list = |q: String| {
        let app = &app;
        async move {
            let r = admin_get(app, &format!("{PATH}?{q}")).await;
            assert_eq!(r.status, 200, "{q}: {}", r.json);
            assert_eq!(r.header("cache-control"), Some("private, no-store"));
            let items: Vec<i64> = r.json["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|s| s["id"].as_i64().expect("id"))
                .collect();
            (
                items,
                r.json["total"].clone(),
                r.json["limit"].clone(),
                r.json["offset"].clone(),
            )
        }
    };
    assert_eq!(
        list(from.clone()).await,
        (ids.clone(), json!(6), json!(50), json!(0)),
        "by starts_at, every studio and status"
    );
    assert_eq!(
        list(format!("{from}&limit=2&offset=2")).await,
        (ids[2..4].to_vec(), json!(6), json!(2), json!(2))
    );
    assert_eq!(list(format!("{from}&status=cancelled")).await.0, [ids[5]]);
    assert_eq!(
        list(format!(
            "{from}&status=scheduled&location_id={}",
            c.locations[1].id
        ))
        .await
        .0,
        [ids[1], ids[3]],
        "an inactive studio is a valid filter here"
    );
    assert_eq!(
        list(format!("{from}&trainer_id={}", c.trainers[0].id))
            .await
            .0,
        [ids[0], ids[2], ids[4]]
    );
    assert_eq!(
        list(format!("{from}&program_type_id={}", c.program_types[1].id))
            .await
            .1,
        json!(0)
    );
    assert_eq!(
        list(format!(
            "from={}&to={}",
            rfc(ten + Duration::hours(1)),
            rfc(ten + Duration::hours(3))
        ))
        .await
        .0,
        [ids[1], ids[2]],
        "half-open window"
    );
    // A date means the studio's local day.
    let day = ten.date_naive();
    assert_eq!(
        list(format!(
            "location_id={}&from={day}&to={day}",
            c.locations[0].id
        ))
        .await
        .0,
        [ids[0], ids[2], ids[4]]
    );
    for (q, parameter) in [
        ("status=postponed", "status"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("offset=-1", "offset"),
        ("location_id=abc", "location_id"),
        ("from=2026-12-01T10:00:00", "from"),
        ("from=2026-12-10&to=2026-12-01", "to"),
        ("from=2026-01-01&to=2026-06-01", "to"),
        ("status=scheduled&status=cancelled", "status"),
    ] {
        let r = admin_get(&app, &format!("{PATH}?{q}")).await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(r.json["error"]["details"]["parameter"], parameter, "{q}");
    }
    for q in [
        "location_id=999999",
        "program_type_id=999999",
        "trainer_id=999999",
    ] {
        admin_get(&app, &format!("{PATH}?{q}"))
            .await
            .assert_error(404, "not_found");
    }
}

async fn every_change_is_audited_with_the_key_name(backend: Backend) {
    let t = TestApp::new(backend);
    let app = t.service().await;
    let c = t.catalog();
    let id = id_of(&post(&app, class(&c, tomorrow_at(10, 0))).await);
    patch(&app, id, json!({"capacity": 14}), None).await;
    // A body that changes nothing writes nothing.
    patch(&app, id, json!({"capacity": 14}), None).await;
    patch(
        &app,
        id,
        json!({"status": "cancelled", "cancellation_reason": "Болезнь"}),
        None,
    )
    .await;
    assert_eq!(delete(&app, id, None).await.status, 204);
    let audit = admin_get(
        &app,
        &format!("/api/v1/admin/audit?entity=class_session&entity_id={id}"),
    )
    .await;
    let items = audit.json["items"].as_array().expect("items");
    let actions: Vec<&str> = items
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(actions, ["deleted", "cancelled", "updated", "created"]);
    assert!(
        items
            .iter()
            .all(|e| e["actor"] == "admin" && e["entity"] == "class_session")
    );
    assert_eq!(
        items[2]["changes"],
        json!({"capacity": {"from": 12, "to": 14}})
    );
    assert_eq!(
        items[3]["changes"]["timetable_slot_id"],
        json!({"from": null, "to": null}),
        "a creation lists every field"
    );
    assert_eq!(
        items[0]["changes"]["cancellation_reason"],
        json!({"from": "Болезнь", "to": null}),
        "a deletion lists every field"
    );
}

async fn the_public_schedule_shows_an_admin_change_at_once(backend: Backend) {
    let t = TestApp::with(backend, |s| {
        s.public_cache_ttl = std::time::Duration::from_secs(600)
    });
    let app = t.service().await;
    let c = t.catalog();
    let schedule = "/api/v1/schedule";
    let ids = |r: Reply| -> Vec<(i64, i64)> {
        r.json["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|s| {
                (
                    s["id"].as_i64().unwrap_or_default(),
                    s["capacity"].as_i64().unwrap_or_default(),
                )
            })
            .collect()
    };
    assert_eq!(ids(get(&app, schedule).await), Vec::<(i64, i64)>::new());
    let id = id_of(&post(&app, class(&c, tomorrow_at(10, 0))).await);
    assert_eq!(ids(get(&app, schedule).await), [(id, 12)]);
    patch(&app, id, json!({"capacity": 7}), None).await;
    assert_eq!(ids(get(&app, schedule).await), [(id, 7)]);
    let feed = String::from_utf8_lossy(&get(&app, "/api/v1/schedule.ics").await.body).into_owned();
    assert!(feed.contains(&format!("session-{id}@")), "{feed}");
    assert_eq!(delete(&app, id, None).await.status, 204);
    assert_eq!(ids(get(&app, schedule).await), Vec::<(i64, i64)>::new());
    let feed = String::from_utf8_lossy(&get(&app, "/api/v1/schedule.ics").await.body).into_owned();
    assert!(!feed.contains(&format!("session-{id}@")), "{feed}");
}

e2e_tests!(
    sessions_round_trip,
    every_rule_refuses_a_bad_value,
    a_trainer_cannot_teach_two_overlapping_scheduled_sessions,
    of_twenty_simultaneous_overlapping_creates_one_succeeds,
    cancelling_tells_the_open_leads_and_the_public_schedule,
    a_refused_cancellation_leaves_neither_audit_entry_nor_events,
    a_session_a_lead_chose_is_cancelled_not_deleted,
    the_list_takes_the_schedule_filters_a_status_and_pages,
    every_change_is_audited_with_the_key_name,
    the_public_schedule_shows_an_admin_change_at_once,
);
