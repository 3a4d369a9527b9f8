//! The calendar feed `GET /api/v1/schedule.ics` (RFC 5545) and cancellation reasons on the
//! public schedule, over HTTP on both backends. The feed is also read by an independent
//! parser (`scripts/check-ics.py`, PyPI `icalendar`) when `python3` is available.

use std::path::PathBuf;
use std::process::Command;

use actix_web::test::TestRequest;
use chrono::{DateTime, Duration, DurationRound, Utc};
use cohai_domain::{NewClassSession, NewLocation, SessionStatus};
use cohai_e2e::builders::{self, session};
use cohai_e2e::{Backend, Reply, TestApp, call, e2e_tests, get};

const FEED: &str = "/api/v1/schedule.ics";

/// The next full hour: sessions a whole number of hours from it start on whole seconds.
fn hour() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::hours(1))
        .expect("truncate")
        + Duration::hours(1)
}

/// `2026-12-01T16:00:00Z` as iCalendar writes it: `20261201T160000Z`.
fn ics_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The feed's content lines, unfolded (RFC 5545 §3.1).
fn lines(r: &Reply) -> Vec<String> {
    let text = std::str::from_utf8(&r.body).expect("UTF-8 feed");
    let mut out: Vec<String> = Vec::new();
    for physical in text.trim_end_matches("\r\n").split("\r\n") {
        assert!(physical.len() <= 75, "{physical:?} is over 75 octets");
        match physical.strip_prefix(' ') {
            Some(rest) => out.last_mut().expect("a line to continue").push_str(rest),
            None => out.push(physical.to_owned()),
        }
    }
    out
}

/// The feed's events as maps from property name to value (the value part of each line).
fn events(r: &Reply) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut events = Vec::new();
    let mut current: Option<std::collections::BTreeMap<String, String>> = None;
    for line in lines(r) {
        match line.as_str() {
            "BEGIN:VEVENT" => current = Some(Default::default()),
            "END:VEVENT" => events.push(current.take().expect("an open event")),
            _ => {
                if let Some(event) = current.as_mut() {
                    let (name, value) = line.split_once(':').expect("name:value");
                    event.insert(name.to_owned(), value.to_owned());
                }
            }
        }
    }
    events
}

fn uids(r: &Reply) -> Vec<String> {
    events(r).into_iter().map(|e| e["UID"].clone()).collect()
}

fn uid(id: i64) -> String {
    format!("session-{id}@cohai")
}

async fn the_feed_lists_the_next_62_days_with_stable_uids_and_utc_times(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let (loc, pt, tr) = (c.locations[0].id, c.program_types[0].id, c.trainers[0].id);
    let start = hour();
    let soon = t.session(session(loc, pt, tr, start));
    let later = t.session(session(
        c.locations[1].id,
        c.program_types[1].id,
        c.trainers[1].id,
        start + Duration::days(3),
    ));
    let called_off = t.session(session(loc, pt, tr, start + Duration::days(5)));
    t.repos
        .class_sessions
        .cancel(called_off.id, "Тренер заболел")
        .expect("cancel")
        .expect("exists");
    let past = t.session(session(loc, pt, tr, start - Duration::hours(3)));
    let too_far = t.session(session(loc, pt, tr, start + Duration::days(63)));
    // Another trainer: one trainer's scheduled sessions cannot overlap.
    let closed = t.session(session(c.locations[2].id, pt, c.trainers[1].id, start));
    let app = t.service().await;

    let r = get(&app, FEED).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/calendar; charset=utf-8")
    );
    assert!(r.header("etag").is_some());
    assert_eq!(r.header("cache-control"), Some("public, max-age=60"));
    let text = std::str::from_utf8(&r.body).expect("UTF-8");
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "CRLF line ends only"
    );
    let all = lines(&r);
    assert_eq!(all.first().map(String::as_str), Some("BEGIN:VCALENDAR"));
    assert_eq!(all.last().map(String::as_str), Some("END:VCALENDAR"));
    for line in [
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Cohai Stretching",
    ] {
        assert!(all.iter().any(|l| l == line), "{line}");
    }
    assert!(all.iter().any(|l| l.starts_with("PRODID:")));
    assert_eq!(
        uids(&r),
        [uid(soon.id), uid(later.id), uid(called_off.id)],
        "by start; not the past ({}), beyond 62 days ({}) or at an inactive studio ({})",
        past.id,
        too_far.id,
        closed.id
    );
    let e = events(&r);
    assert_eq!(e[0]["DTSTART"], ics_time(start));
    assert_eq!(e[0]["DTEND"], ics_time(start + Duration::hours(1)));
    assert_eq!(e[0]["STATUS"], "CONFIRMED");
    assert_eq!(e[0]["SEQUENCE"], "0");
    assert_eq!(e[0]["SUMMARY"], "Стретчинг — Анна Иванова");
    assert_eq!(
        e[0]["LOCATION"],
        format!(
            "Центр\\, {}",
            builders::location("Центр").address.replace(',', "\\,")
        )
    );
    assert_eq!(
        e[0]["DTSTAMP"],
        ics_time(Utc::now().duration_trunc(Duration::days(1)).expect("day"))
    );
    assert_eq!(e[1]["SUMMARY"], "Йога — Борис Петров");
    assert!(e[1]["LOCATION"].starts_with("Berlin Mitte\\, "));
    assert_eq!(e[2]["STATUS"], "CANCELLED");
    assert_eq!(e[2]["SEQUENCE"], "1");
    assert_eq!(e[2]["DESCRIPTION"], "Отменено: Тренер заболел");

    // The same sessions give the same UIDs and the same bytes.
    let again = get(&app, FEED).await;
    assert_eq!(uids(&again), uids(&r));
    assert_eq!(again.header("etag"), r.header("etag"));
}

async fn sequence_grows_with_every_change_of_a_session(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let s = t.session(session(
        c.locations[0].id,
        c.program_types[0].id,
        c.trainers[0].id,
        hour(),
    ));
    let app = t.service().await;
    let first = get(&app, FEED).await;
    assert_eq!(events(&first)[0]["SEQUENCE"], "0");
    assert_eq!(events(&first)[0]["STATUS"], "CONFIRMED");

    t.repos
        .class_sessions
        .cancel(s.id, "Ремонт; зал закрыт")
        .expect("cancel")
        .expect("exists");
    let cancelled = get(&app, FEED).await;
    let e = &events(&cancelled)[0];
    assert_eq!(e["UID"], uid(s.id), "the UID stays");
    assert_eq!(e["SEQUENCE"], "1");
    assert_eq!(e["STATUS"], "CANCELLED");
    assert_eq!(e["DESCRIPTION"], "Отменено: Ремонт\\; зал закрыт");
    assert_ne!(cancelled.header("etag"), first.header("etag"));

    t.repos
        .class_sessions
        .set_status(s.id, SessionStatus::Scheduled)
        .expect("set")
        .expect("exists");
    let restored = get(&app, FEED).await;
    let e = &events(&restored)[0];
    assert_eq!(e["SEQUENCE"], "2", "back to scheduled is a change too");
    assert_eq!(e["STATUS"], "CONFIRMED");
    assert!(!e.contains_key("DESCRIPTION"), "the reason is gone");
    assert_ne!(restored.header("etag"), first.header("etag"));
}

async fn filters_narrow_the_feed_and_fail_like_the_schedule(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let start = hour();
    let s1 = t.session(session(
        c.locations[0].id,
        c.program_types[0].id,
        c.trainers[0].id,
        start,
    ));
    let s2 = t.session(session(
        c.locations[1].id,
        c.program_types[1].id,
        c.trainers[1].id,
        start + Duration::hours(2),
    ));
    let app = t.service().await;
    let feed = |query: String| {
        let app = &app;
        async move { get(app, &format!("{FEED}?{query}")).await }
    };
    assert_eq!(
        uids(&feed(format!("location_id={}", c.locations[1].id)).await),
        [uid(s2.id)]
    );
    assert_eq!(
        uids(&feed(format!("program_type_id={}", c.program_types[0].id)).await),
        [uid(s1.id)]
    );
    assert_eq!(
        uids(&feed(format!("trainer_id={}", c.trainers[1].id)).await),
        [uid(s2.id)]
    );
    assert_eq!(
        uids(
            &feed(format!(
                "location_id={}&trainer_id={}",
                c.locations[0].id, c.trainers[1].id
            ))
            .await
        ),
        Vec::<String>::new()
    );
    for param in ["location_id", "program_type_id", "trainer_id"] {
        for bad in ["abc", "0", "-1", "1.5"] {
            let r = feed(format!("{param}={bad}")).await;
            r.assert_error(400, "invalid_parameter");
            assert_eq!(
                r.json["error"]["details"]["parameter"], param,
                "{param}={bad}"
            );
        }
        feed(format!("{param}=999999"))
            .await
            .assert_error(404, "not_found");
    }
    feed(format!("location_id={}", c.locations[2].id))
        .await
        .assert_error(404, "not_found");
    feed("location_id=1&location_id=2".to_owned())
        .await
        .assert_error(400, "invalid_parameter");
}

async fn etag_gives_304_and_head_answers_like_get(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    t.session(session(
        c.locations[0].id,
        c.program_types[0].id,
        c.trainers[0].id,
        hour(),
    ));
    let app = t.service().await;
    let r = get(&app, FEED).await;
    let etag = r.header("etag").expect("etag").to_owned();
    for header in [etag.clone(), format!("\"other\", {etag}"), "*".to_owned()] {
        let not_modified = call(
            &app,
            TestRequest::get()
                .uri(FEED)
                .insert_header(("if-none-match", header.as_str())),
        )
        .await;
        assert_eq!(not_modified.status, 304, "{header}");
        assert!(not_modified.body.is_empty());
        assert_eq!(not_modified.header("etag"), Some(etag.as_str()));
    }
    let stale = call(
        &app,
        TestRequest::get()
            .uri(FEED)
            .insert_header(("if-none-match", "\"stale\"")),
    )
    .await;
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, r.body);

    let head = call(
        &app,
        TestRequest::default()
            .method(actix_web::http::Method::HEAD)
            .uri(FEED),
    )
    .await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-type"),
        Some("text/calendar; charset=utf-8")
    );
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    // (The HTTP server drops a HEAD response's body on the wire; the test service does not.)
}

async fn uids_use_the_configured_domain(backend: Backend) {
    let t = TestApp::with(backend, |s| {
        s.calendar_uid_domain = "studio.example".to_owned();
    });
    let c = t.catalog();
    let s = t.session(session(
        c.locations[0].id,
        c.program_types[0].id,
        c.trainers[0].id,
        hour(),
    ));
    let app = t.service().await;
    assert_eq!(
        uids(&get(&app, FEED).await),
        [format!("session-{}@studio.example", s.id)]
    );
}

async fn the_public_schedule_shows_the_cancellation_reason(backend: Backend) {
    let t = TestApp::new(backend);
    let c = t.catalog();
    let (loc, pt, tr) = (c.locations[0].id, c.program_types[0].id, c.trainers[0].id);
    let start = hour();
    let kept = t.session(session(loc, pt, tr, start));
    let off = t.session(session(loc, pt, tr, start + Duration::hours(2)));
    let reason = "Тренер заболел.\nПеренос на среду";
    t.repos
        .class_sessions
        .cancel(off.id, reason)
        .expect("cancel")
        .expect("exists");
    let bare = t.session(NewClassSession {
        status: SessionStatus::Cancelled,
        ..session(loc, pt, tr, start + Duration::hours(4))
    });
    let app = t.service().await;
    let r = get(&app, "/api/v1/schedule").await;
    assert_eq!(r.status, 200);
    let items = r.json["items"].as_array().expect("items");
    let by_id = |id: i64| {
        items
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("session {id} listed"))
    };
    assert_eq!(
        by_id(kept.id)["cancellation_reason"],
        serde_json::Value::Null
    );
    assert!(
        by_id(kept.id)
            .as_object()
            .expect("object")
            .contains_key("cancellation_reason"),
        "the field is always present"
    );
    assert!(
        by_id(kept.id).get("version").is_none(),
        "version is internal"
    );
    assert_eq!(by_id(off.id)["status"], "cancelled");
    assert_eq!(by_id(off.id)["cancellation_reason"], reason);
    assert_eq!(by_id(bare.id)["status"], "cancelled");
    assert_eq!(
        by_id(bare.id)["cancellation_reason"],
        serde_json::Value::Null
    );
}

/// `python3`, when this machine has it.
fn python3() -> Option<&'static str> {
    Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "python3")
}

async fn an_independent_parser_reads_the_feed(backend: Backend) {
    let Some(python) = python3() else {
        eprintln!("python3 is not available: the independent ICS check is skipped");
        return;
    };
    let t = TestApp::new(backend);
    let c = t.catalog();
    let start = hour();
    // Names that need escaping (`,` `;` `\`) and, together, a line far over 75 octets.
    let program = t
        .repos
        .program_types
        .create(&builders::program_type(
            "Стретчинг; глубокий, для всех уровней подготовки \\ с акцентом на шпагат",
        ))
        .expect("program");
    let studio = t
        .repos
        .locations
        .create(&NewLocation {
            address: "Ленинский проспект, д. 1; корпус 2, вход со двора".to_owned(),
            ..builders::location("Студия на Ленинском")
        })
        .expect("location");
    let long = t.session(session(studio.id, program.id, c.trainers[0].id, start));
    let cancelled = t.session(session(
        c.locations[0].id,
        c.program_types[0].id,
        c.trainers[1].id,
        start + Duration::days(1),
    ));
    let reason = "Ремонт зала;\nзанятие переносится, извините";
    t.repos
        .class_sessions
        .cancel(cancelled.id, reason)
        .expect("cancel")
        .expect("exists");
    let app = t.service().await;
    let r = get(&app, FEED).await;
    assert_eq!(r.status, 200);

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("schedule.ics");
    std::fs::write(&file, &r.body).expect("write feed");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/check-ics.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(&file)
        .output()
        .expect("run scripts/check-ics.py");
    assert!(
        out.status.success(),
        "check-ics.py failed:\n{}\nfeed:\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&r.body)
    );
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON events");
    let stamp = Utc::now()
        .duration_trunc(Duration::days(1))
        .expect("day")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let rfc3339 = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    assert_eq!(
        parsed,
        serde_json::json!([
            {
                "uid": uid(long.id),
                "status": "CONFIRMED",
                "sequence": 0,
                "summary": format!("{} — Анна Иванова", program.name),
                "location": format!("Студия на Ленинском, {}", studio.address),
                "description": null,
                "dtstamp": stamp,
                "dtstart": rfc3339(start),
                "dtend": rfc3339(start + Duration::hours(1)),
            },
            {
                "uid": uid(cancelled.id),
                "status": "CANCELLED",
                "sequence": 1,
                "summary": "Стретчинг — Борис Петров",
                "location": format!("Центр, {}", c.locations[0].address),
                "description": format!("Отменено: {reason}"),
                "dtstamp": stamp,
                "dtstart": rfc3339(start + Duration::days(1)),
                "dtend": rfc3339(start + Duration::days(1) + Duration::hours(1)),
            },
        ])
    );
    let folded = std::str::from_utf8(&r.body)
        .expect("UTF-8")
        .matches("\r\n ")
        .count();
    assert!(folded >= 2, "the long lines were folded ({folded} folds)");
}

e2e_tests!(
    the_feed_lists_the_next_62_days_with_stable_uids_and_utc_times,
    sequence_grows_with_every_change_of_a_session,
    filters_narrow_the_feed_and_fail_like_the_schedule,
    etag_gives_304_and_head_answers_like_get,
    uids_use_the_configured_domain,
    the_public_schedule_shows_the_cancellation_reason,
    an_independent_parser_reads_the_feed,
);
