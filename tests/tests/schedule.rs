//! `GET /api/v1/schedule` over HTTP, on both backends.

use cohai_domain::SessionStatus;
use cohai_e2e::builders::{location_in, session};
use cohai_e2e::{Backend, TestApp, at, e2e_tests, get};

fn ids(r: &cohai_e2e::Reply) -> Vec<i64> {
    r.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["id"].as_i64().expect("id"))
        .collect()
}

async fn sessions_in_a_half_open_window_ordered_with_joined_refs(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let (loc, pt, tr) = (c.locations[0].id, c.program_types[0].id, c.trainers[0].id);
    let a = t.session(session(loc, pt, tr, at("2026-12-01T09:00:00Z")));
    let b = t.session(session(loc, pt, tr, at("2026-12-01T07:00:00Z")));
    let same_time = t.session(session(
        loc,
        c.program_types[1].id,
        c.trainers[1].id,
        at("2026-12-01T09:00:00Z"),
    ));
    let at_end = t.session(session(loc, pt, tr, at("2026-12-02T00:00:00Z")));
    let cancelled = t.session(cohai_domain::NewClassSession {
        status: SessionStatus::Cancelled,
        ..session(loc, pt, tr, at("2026-12-01T12:00:00Z"))
    });
    let app = t.service().await;
    let r = get(
        &app,
        "/api/v1/schedule?from=2026-12-01T07:00:00Z&to=2026-12-02T00:00:00Z",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        ids(&r),
        [b.id, a.id, same_time.id, cancelled.id],
        "from inclusive, to exclusive, ties by id"
    );
    assert!(!ids(&r).contains(&at_end.id));
    let s = &r.json["items"][1];
    assert_eq!(s["starts_at"], "2026-12-01T09:00:00Z");
    assert_eq!(s["ends_at"], "2026-12-01T10:00:00Z");
    assert_eq!(
        s["location"],
        serde_json::json!({"id": loc, "name": "Центр", "timezone": "Europe/Moscow"})
    );
    assert_eq!(
        s["program_type"],
        serde_json::json!({"id": pt, "name": "Стретчинг"})
    );
    assert_eq!(
        s["trainer"],
        serde_json::json!({"id": tr, "full_name": "Анна Иванова"})
    );
    assert_eq!(s["status"], "scheduled");
    assert_eq!(s["capacity"], 12);
    assert!(s.get("membership_plan_id").is_some());
    assert_eq!(r.json["items"][3]["status"], "cancelled");
    assert!(r.header("etag").is_some());
    let empty = get(
        &app,
        "/api/v1/schedule?from=2026-12-01T09:00:00Z&to=2026-12-01T09:00:00Z",
    )
    .await;
    assert_eq!(
        empty.json["items"],
        serde_json::json!([]),
        "from == to is empty"
    );
}

async fn filters_narrow_and_unknown_references_are_404(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let (m, b) = (c.locations[0].id, c.locations[1].id);
    let s1 = t.session(session(
        m,
        c.program_types[0].id,
        c.trainers[0].id,
        at("2026-12-01T09:00:00Z"),
    ));
    let s2 = t.session(session(
        b,
        c.program_types[1].id,
        c.trainers[1].id,
        at("2026-12-01T10:00:00Z"),
    ));
    // A session of the inactive studio: it must not make that studio's schedule visible.
    t.session(session(
        c.locations[2].id,
        c.program_types[0].id,
        c.trainers[0].id,
        at("2026-12-01T11:00:00Z"),
    ));
    let app = t.service().await;
    let window = "from=2026-12-01T00:00:00Z&to=2026-12-03T00:00:00Z";
    assert_eq!(
        ids(&get(&app, &format!("/api/v1/schedule?{window}&location_id={b}")).await),
        [s2.id]
    );
    assert_eq!(
        ids(&get(
            &app,
            &format!(
                "/api/v1/schedule?{window}&program_type_id={}",
                c.program_types[0].id
            )
        )
        .await),
        [s1.id]
    );
    assert_eq!(
        ids(&get(
            &app,
            &format!("/api/v1/schedule?{window}&trainer_id={}", c.trainers[1].id)
        )
        .await),
        [s2.id]
    );
    for (param, value) in [
        ("location_id", "999"),
        ("program_type_id", "999"),
        ("trainer_id", "999"),
    ] {
        get(&app, &format!("/api/v1/schedule?{window}&{param}={value}"))
            .await
            .assert_error(404, "not_found");
    }
    get(
        &app,
        &format!(
            "/api/v1/schedule?{window}&location_id={}",
            c.locations[2].id
        ),
    )
    .await
    .assert_error(404, "not_found");
    // An unknown studio is reported before a reversed window.
    get(
        &app,
        "/api/v1/schedule?from=2026-12-03T00:00:00Z&to=2026-12-01T00:00:00Z&location_id=999",
    )
    .await
    .assert_error(404, "not_found");
    for (param, value) in [
        ("location_id", "abc"),
        ("program_type_id", "0"),
        ("trainer_id", "-1"),
        ("location_id", "1.5"),
    ] {
        let r = get(&app, &format!("/api/v1/schedule?{window}&{param}={value}")).await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(r.json["error"]["details"]["parameter"], param);
    }
}

async fn time_parameters_are_validated(backend: Backend) {
    let t = TestApp::new(backend);
    t.catalog();
    let app = t.service().await;
    for (query, param) in [
        ("from=2026-12-01T00:00:00", "from"),
        ("to=tomorrow", "to"),
        ("from=2026-13-01", "from"),
        ("from=2026-12-10&to=2026-12-01", "to"),
        ("from=2026-01-01&to=2026-03-05", "to"),
    ] {
        let r = get(&app, &format!("/api/v1/schedule?{query}")).await;
        r.assert_error(400, "invalid_parameter");
        assert_eq!(r.json["error"]["details"]["parameter"], param, "{query}");
    }
    // 62 days exactly is allowed; an unencoded `+` offset is understood.
    assert_eq!(
        get(
            &app,
            "/api/v1/schedule?from=2026-01-01T00:00:00Z&to=2026-03-04T00:00:00Z"
        )
        .await
        .status,
        200
    );
    assert_eq!(
        get(&app, "/api/v1/schedule?from=2026-12-01T00:00:00+03:00")
            .await
            .status,
        200
    );
    assert_eq!(
        get(&app, "/api/v1/schedule?from=2026-12-01T00:00:00%2B03:00")
            .await
            .status,
        200
    );
}

async fn dates_are_local_days_of_the_location_across_dst(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let berlin = c.locations[1].id;
    // Neighbouring sessions have different trainers (one trainer's cannot overlap).
    let (pt, tr, other) = (c.program_types[0].id, c.trainers[0].id, c.trainers[1].id);
    // 2026-10-25 is the day Berlin leaves summer time: local midnight is 22:00Z the day
    // before, and the day ends at 23:00Z (25 hours).
    let before = t.session(session(berlin, pt, tr, at("2026-10-24T21:59:00Z")));
    let first = t.session(session(berlin, pt, other, at("2026-10-24T22:00:00Z")));
    let last = t.session(session(berlin, pt, tr, at("2026-10-25T22:59:00Z")));
    let next_day = t.session(session(berlin, pt, other, at("2026-10-25T23:00:00Z")));
    let app = t.service().await;
    let r = get(
        &app,
        &format!("/api/v1/schedule?location_id={berlin}&from=2026-10-25&to=2026-10-25"),
    )
    .await;
    assert_eq!(ids(&r), [first.id, last.id]);
    assert!(!ids(&r).contains(&before.id) && !ids(&r).contains(&next_day.id));
    // Without a location a date is a UTC day.
    let utc = get(&app, "/api/v1/schedule?from=2026-10-25&to=2026-10-25").await;
    assert_eq!(
        ids(&utc),
        [last.id, next_day.id],
        "UTC day 2026-10-25 is [00:00Z, 24:00Z)"
    );
}

async fn a_zone_with_a_half_hour_offset_is_honoured(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let kolkata = t
        .repos
        .locations
        .create(&location_in("Mumbai", "Asia/Kolkata"))
        .expect("location");
    let (pt, tr, other) = (c.program_types[0].id, c.trainers[0].id, c.trainers[1].id);
    // Local midnight of 2026-12-01 in India (UTC+05:30) is 2026-11-30T18:30Z.
    let out = t.session(session(kolkata.id, pt, tr, at("2026-11-30T18:29:00Z")));
    let inside = t.session(session(kolkata.id, pt, other, at("2026-11-30T18:30:00Z")));
    let app = t.service().await;
    let r = get(
        &app,
        &format!(
            "/api/v1/schedule?location_id={}&from=2026-12-01&to=2026-12-01",
            kolkata.id
        ),
    )
    .await;
    assert_eq!(ids(&r), [inside.id]);
    assert!(!ids(&r).contains(&out.id));
}

async fn default_window_is_the_next_seven_days(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let now = chrono::Utc::now();
    let (loc, pt, tr) = (c.locations[0].id, c.program_types[0].id, c.trainers[0].id);
    let past = t.session(session(loc, pt, tr, now - chrono::Duration::hours(1)));
    let soon = t.session(session(loc, pt, tr, now + chrono::Duration::days(6)));
    let later = t.session(session(loc, pt, tr, now + chrono::Duration::days(8)));
    let app = t.service().await;
    let r = get(&app, "/api/v1/schedule").await;
    assert_eq!(ids(&r), [soon.id]);
    assert!(!ids(&r).contains(&past.id) && !ids(&r).contains(&later.id));
}

e2e_tests!(
    sessions_in_a_half_open_window_ordered_with_joined_refs,
    filters_narrow_and_unknown_references_are_404,
    time_parameters_are_validated,
    dates_are_local_days_of_the_location_across_dst,
    a_zone_with_a_half_hour_offset_is_honoured,
    default_window_is_the_next_seven_days,
);
