//! The timetable's rolling horizon in real server processes: two instances on one database
//! keep it together without duplicate sessions, and it stops with the server.

mod common;

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use cohai_domain::{NewTimetableSlot, StartTime};
use cohai_persistence::backend_tests;
use cohai_persistence::testing::builders::{location, program_type, trainer};
use cohai_persistence::testing::{Backend, TestDatabase, count};
use common::Server;

/// Two weekly slots on every weekday (two trainers), valid since 2020: 2 × 15 occurrences in
/// a horizon of 14 days.
fn weekly_timetable(t: &TestDatabase) {
    let repos = t.db.repositories();
    let studio = repos
        .locations
        .create(&location("Центр"))
        .expect("location");
    let program = repos
        .program_types
        .create(&program_type("Стретчинг"))
        .expect("program");
    let trainers =
        ["Анна", "Борис"].map(|name| repos.trainers.create(&trainer(name)).expect("trainer"));
    for weekday in 1..=7 {
        for (trainer, start) in trainers.iter().zip(["10:00", "19:00"]) {
            repos
                .timetable_slots
                .create(&NewTimetableSlot {
                    location_id: studio.id,
                    program_type_id: program.id,
                    trainer_id: trainer.id,
                    weekday,
                    start_time: StartTime::parse(start).expect("valid"),
                    capacity: 12,
                    valid_from: NaiveDate::from_ymd_opt(2020, 1, 1).expect("valid"),
                    valid_until: None,
                    is_active: true,
                })
                .expect("slot");
        }
    }
}

fn sessions(t: &TestDatabase) -> i64 {
    count(&t.db, "SELECT COUNT(*) AS n FROM class_sessions")
}

fn two_instances_keep_the_horizon_once(backend: Backend) {
    let t = TestDatabase::new(backend);
    weekly_timetable(&t);
    let env = [("COHAI_SCHEDULE_HORIZON_DAYS", "14")];
    // Both start (and run the horizon) at the same moment.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Server::start(&t.url, &env));
        let b = s.spawn(|| Server::start(&t.url, &env));
        (a.join().expect("first"), b.join().expect("second"))
    });
    let mut servers = [a, b];
    let expected = 2 * 15;
    let deadline = Instant::now() + Duration::from_secs(20);
    while sessions(&t) < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sessions(&t), expected);
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(*) AS n FROM (SELECT DISTINCT timetable_slot_id, starts_at FROM class_sessions) AS d"
        ),
        expected,
        "no slot has two sessions at one time"
    );
    // The runs that created something are audited by the system; together they created all.
    let (status, audit) =
        servers[0].admin_get("/api/v1/admin/audit?entity=class_session&actor=system");
    assert_eq!(status, 200, "{audit}");
    let created: i64 = audit["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            assert_eq!(e["action"], "generated");
            e["changes"]["created"].as_i64().expect("created")
        })
        .sum();
    assert_eq!(created, expected);
    // The public schedule shows them.
    let (status, schedule) = servers[1].get("/api/v1/schedule");
    assert_eq!(status, 200);
    assert!(!schedule["items"].as_array().expect("items").is_empty());
    // The job stops with the server.
    for server in &mut servers {
        server.signal("TERM");
        assert!(server.wait_exit(Duration::from_secs(10)).success());
    }
}

#[test]
fn a_horizon_of_zero_days_generates_nothing() {
    let t = TestDatabase::new(Backend::Sqlite);
    weekly_timetable(&t);
    let mut server = Server::start(&t.url, &[("COHAI_SCHEDULE_HORIZON_DAYS", "0")]);
    assert_eq!(server.get("/ready").0, 200);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sessions(&t), 0);
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(10)).success());
}

backend_tests!(two_instances_keep_the_horizon_once);
