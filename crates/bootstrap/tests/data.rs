//! `seed` and `generate` on fresh SQLite and PostgreSQL databases.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use cohai_bootstrap::generate::{ACTOR, bench_location_name};
use cohai_bootstrap::{BootstrapError, GenerateOptions, NoProgress, SeedReport, Tally, demo_data};
use cohai_domain::{LeadEventKind, LeadFilter, Phone, ScheduleFilter, SessionStatus, TimeWindow};
use cohai_persistence::Repositories;
use cohai_persistence::testing::builders::at;
use cohai_persistence::testing::{Backend, TestDatabase};

fn tally(created: usize, existing: usize) -> Tally {
    Tally { created, existing }
}

/// Sessions of a location starting in `[from, to)`.
fn sessions_at(
    repos: &Repositories,
    location_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> i64 {
    repos
        .class_sessions
        .count_by_location(location_id, from, to)
        .expect("count sessions")
}

fn seed_twice_creates_nothing_the_second_time(backend: Backend) {
    // Seed migrates by itself.
    let t = TestDatabase::unmigrated(backend);
    // 21:30 UTC is already the next day in Moscow (00:30) and Yekaterinburg (02:30).
    let now = at("2026-11-23T21:30:00Z");

    let first = cohai_bootstrap::seed(&t.db, now).expect("first seed");
    assert!(!first.migrations.is_empty(), "seed applies the migrations");
    let per_studio = 14 * 8;
    let slots_per_studio = 7 * 8;
    assert!(
        (4..=12).contains(&first.cancelled),
        "about one in forty is cancelled: {}",
        first.cancelled
    );
    assert_eq!(
        SeedReport {
            migrations: first.migrations.clone(),
            locations: tally(3, 0),
            program_types: tally(6, 0),
            trainers: tally(8, 0),
            membership_plans: tally(12, 0),
            timetable_slots: tally(3 * slots_per_studio, 0),
            class_sessions: tally(3 * per_studio, 0),
            cancelled: first.cancelled,
        },
        first
    );

    let second = cohai_bootstrap::seed(&t.db, now).expect("second seed");
    assert_eq!(
        SeedReport {
            migrations: Vec::new(),
            locations: tally(0, 3),
            program_types: tally(0, 6),
            trainers: tally(0, 8),
            membership_plans: tally(0, 12),
            timetable_slots: tally(0, 3 * slots_per_studio),
            class_sessions: tally(0, 3 * per_studio),
            cancelled: 0,
        },
        second
    );
    assert_eq!(second.created_total(), 0);

    let repos = t.db.repositories();
    assert_eq!(repos.locations.list_active().expect("locations").len(), 3);
    assert_eq!(
        repos.program_types.list_active().expect("programs").len(),
        6
    );
    assert_eq!(repos.trainers.list_active().expect("trainers").len(), 8);

    let far = Duration::days(60);
    for demo in demo_data::LOCATIONS {
        let location = repos
            .locations
            .find_by_name(demo.name)
            .expect("find")
            .expect("seeded location");
        assert_eq!(location.timezone, demo.timezone);
        let plans = repos
            .membership_plans
            .list_by_location(location.id)
            .expect("plans");
        assert_eq!(plans.len(), 4, "{}", demo.name);
        assert!(
            plans
                .iter()
                .all(|p| p.currency == "RUB" && p.price_minor > 0)
        );
        assert_eq!(
            sessions_at(&repos, location.id, now - far, now + far),
            i64::try_from(per_studio).expect("small"),
            "{}",
            demo.name
        );
        // Every trainer of the studio teaches there, and only they do.
        let mut teachers: Vec<String> = repos
            .trainers
            .list_active_by_location(location.id)
            .expect("trainers")
            .into_iter()
            .map(|t| t.full_name)
            .collect();
        teachers.sort();
        let mut expected: Vec<String> = demo
            .trainers
            .iter()
            .map(|&i| demo_data::TRAINERS[i].full_name.to_owned())
            .collect();
        expected.sort();
        assert_eq!(teachers, expected, "{}", demo.name);
    }

    // The first local day is 2026-11-24 everywhere; classes start at 08:00 local time.
    let patriarshie = repos
        .locations
        .find_by_name("Cohai Патриаршие")
        .expect("find")
        .expect("seeded");
    let day = repos
        .class_sessions
        .search(&ScheduleFilter {
            location_id: Some(patriarshie.id),
            program_type_id: None,
            trainer_id: None,
            window: TimeWindow::new(at("2026-11-23T21:00:00Z"), at("2026-11-24T21:00:00Z"), 62)
                .expect("window"),
        })
        .expect("schedule");
    assert_eq!(day.len(), 8);
    assert_eq!(day[0].starts_at, at("2026-11-24T05:00:00Z"));
    assert_eq!(day[7].starts_at, at("2026-11-24T17:30:00Z"));
    assert!(day.iter().all(|s| (8..=16).contains(&s.capacity)));
    // Every session was generated from a weekly slot of the studio (slots name no plan).
    let slots = repos
        .timetable_slots
        .list_by_location(patriarshie.id)
        .expect("slots");
    assert_eq!(slots.len(), slots_per_studio);
    for session in &day {
        let stored = repos
            .class_session_admin
            .get_by_id(session.id)
            .expect("get")
            .expect("stored");
        let slot_id = stored.timetable_slot_id.expect("generated from a slot");
        let slot = slots
            .iter()
            .find(|s| s.id == slot_id)
            .expect("the studio's");
        assert_eq!(slot.capacity, session.capacity);
        assert_eq!(session.membership_plan_id, None);
        assert!(session.ends_at > session.starts_at);
    }
    let ekb = repos
        .locations
        .find_by_name("Cohai Екатеринбург")
        .expect("find")
        .expect("seeded");
    assert_eq!(
        sessions_at(
            &repos,
            ekb.id,
            at("2026-11-24T03:00:00Z"),
            at("2026-11-24T03:00:01Z")
        ),
        1,
        "08:00 in Yekaterinburg is 03:00 UTC"
    );
    // Nothing before the first local day.
    assert_eq!(
        sessions_at(&repos, ekb.id, now - far, at("2026-11-23T19:00:00Z")),
        0
    );

    // A day later only the new fourteenth day is added.
    let later = cohai_bootstrap::seed(&t.db, now + Duration::days(1)).expect("seed a day later");
    assert_eq!(later.class_sessions, tally(3 * 8, 3 * 13 * 8));
    assert_eq!(later.created_total(), 3 * 8);
    assert_eq!(later.timetable_slots, tally(0, 3 * slots_per_studio));
}

fn generate_stores_exactly_the_requested_counts(backend: Backend) {
    let t = TestDatabase::new(backend);
    let now = at("2026-11-24T12:00:00Z");
    let options = GenerateOptions {
        batch_size: 128,
        seed: 7,
        ..GenerateOptions::new(2, 500, 300, now)
    };
    let report = cohai_bootstrap::generate(&t.db, &options, &mut NoProgress).expect("generate");
    assert_eq!(report.locations, tally(2, 0));
    assert_eq!(report.program_types.created, 6);
    assert_eq!(report.trainers.created, 12);
    assert_eq!((report.class_sessions, report.leads), (500, 300));
    assert_eq!(report.rows(), 800);

    let repos = t.db.repositories();
    assert!(
        repos
            .locations
            .find_by_name(&bench_location_name(3))
            .expect("find")
            .is_none()
    );
    let span = Duration::days(cohai_bootstrap::generate::SESSION_SPAN_DAYS);
    let window = (
        now - span - Duration::days(2),
        now + span + Duration::days(2),
    );
    let mut sessions = 0;
    for n in 1..=2 {
        let location = repos
            .locations
            .find_by_name(&bench_location_name(n))
            .expect("find")
            .expect("bench studio");
        let here = sessions_at(&repos, location.id, window.0, window.1);
        assert_eq!(here, 250, "sessions are spread evenly over the studios");
        sessions += here;
        // Both ends of the span are covered.
        let edge = span - Duration::days(65);
        assert!(sessions_at(&repos, location.id, window.0, now - edge) > 0);
        assert!(sessions_at(&repos, location.id, now + edge, window.1) > 0);
    }
    assert_eq!(sessions, 500);

    let leads = repos
        .leads
        .search(&LeadFilter {
            limit: 1_000,
            ..LeadFilter::default()
        })
        .expect("leads");
    assert_eq!(leads.total, 300);
    assert_eq!(leads.items.len(), 300);
    let phones: HashSet<&str> = leads.items.iter().map(|l| l.phone.as_str()).collect();
    assert_eq!(phones.len(), 300, "phones are distinct");
    for lead in &leads.items {
        assert_eq!(
            Phone::parse(&lead.phone).map(Phone::into_string),
            Ok(lead.phone.clone())
        );
        assert!(lead.created_at <= now && lead.created_at >= now - Duration::days(366));
        let events = repos
            .leads
            .events(lead.id)
            .expect("events")
            .expect("lead exists");
        // Created, then `assigned` when the generator gave the lead an owner (API.md §3.1:
        // an owner set on creation is recorded like any other assignment).
        let expected: &[LeadEventKind] = if lead.assignee.is_some() {
            &[LeadEventKind::Created, LeadEventKind::Assigned]
        } else {
            &[LeadEventKind::Created]
        };
        let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, expected, "lead {}", lead.id);
        assert_eq!(events[0].actor, ACTOR);
        assert_eq!(events[0].created_at, lead.created_at);
    }
    let statuses: HashSet<_> = leads.items.iter().map(|l| l.status).collect();
    assert!(statuses.len() >= 4, "statuses vary: {statuses:?}");
    let sources: HashSet<_> = leads.items.iter().map(|l| l.source).collect();
    assert!(sources.len() >= 4, "sources vary: {sources:?}");

    // A second run reuses the catalog, adds as many rows again, and keeps phones distinct.
    let again =
        cohai_bootstrap::generate(&t.db, &options, &mut NoProgress).expect("generate again");
    assert_eq!(again.locations, tally(0, 2));
    assert_eq!(
        (again.program_types, again.trainers),
        (tally(0, 6), tally(0, 12))
    );
    let all = repos
        .leads
        .search(&LeadFilter {
            limit: 1_000,
            ..LeadFilter::default()
        })
        .expect("leads");
    assert_eq!(all.total, 600);
    let phones: HashSet<&str> = all.items.iter().map(|l| l.phone.as_str()).collect();
    assert_eq!(phones.len(), 600);
}

fn generate_rejects_sessions_without_locations(backend: Backend) {
    let t = TestDatabase::new(backend);
    let options = GenerateOptions::new(0, 10, 0, Utc::now());
    let err = cohai_bootstrap::generate(&t.db, &options, &mut NoProgress).expect_err("no studios");
    assert!(matches!(err, BootstrapError::InvalidOptions(_)), "{err:?}");

    // Leads alone need no studio.
    let leads_only = GenerateOptions::new(0, 0, 5, Utc::now());
    let report =
        cohai_bootstrap::generate(&t.db, &leads_only, &mut NoProgress).expect("leads only");
    assert_eq!((report.class_sessions, report.leads), (0, 5));
}

fn cancelled_sessions_are_rare_but_present(backend: Backend) {
    let t = TestDatabase::new(backend);
    let now = at("2026-11-24T12:00:00Z");
    cohai_bootstrap::seed(&t.db, now).expect("seed");
    let repos = t.db.repositories();
    let mut total = 0;
    let mut cancelled = 0;
    for location in repos.locations.list_active().expect("locations") {
        let sessions = repos
            .class_sessions
            .search(&ScheduleFilter {
                location_id: Some(location.id),
                program_type_id: None,
                trainer_id: None,
                window: TimeWindow::new(now - Duration::days(2), now + Duration::days(20), 62)
                    .expect("window"),
            })
            .expect("schedule");
        total += sessions.len();
        cancelled += sessions
            .iter()
            .filter(|s| s.status == SessionStatus::Cancelled)
            .count();
    }
    assert_eq!(total, 336);
    assert!(
        (4..=12).contains(&cancelled),
        "{cancelled} of {total} cancelled"
    );
}

/// Pairs of scheduled sessions of one trainer whose times overlap.
fn double_bookings(t: &TestDatabase) -> i64 {
    cohai_persistence::testing::count(
        &t.db,
        "SELECT COUNT(*) AS n FROM class_sessions a JOIN class_sessions b \
         ON a.trainer_id = b.trainer_id AND a.id < b.id \
         AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at \
         WHERE a.status = 'scheduled' AND b.status = 'scheduled'",
    )
}

fn generate_never_double_books_a_trainer_even_when_run_twice(backend: Backend) {
    let t = TestDatabase::new(backend);
    // Five classes a day at one studio with twelve trainers and eight class times: some
    // draws collide; the second run (same seed, same times) collides everywhere.
    let options = GenerateOptions {
        batch_size: 500,
        ..GenerateOptions::new(1, 7_300, 0, at("2026-11-24T12:00:00Z"))
    };
    for run in 1..=2 {
        let report = cohai_bootstrap::generate(&t.db, &options, &mut NoProgress)
            .unwrap_or_else(|e| panic!("run {run}: {e}"));
        assert_eq!(report.class_sessions, 7_300, "run {run}");
        assert_eq!(double_bookings(&t), 0, "run {run}");
    }
    let scheduled = cohai_persistence::testing::count(
        &t.db,
        "SELECT COUNT(*) AS n FROM class_sessions WHERE status = 'scheduled'",
    );
    assert!(
        scheduled > 7_300,
        "most of the second run's classes found another trainer: {scheduled}"
    );
}

cohai_persistence::backend_tests!(
    generate_never_double_books_a_trainer_even_when_run_twice,
    seed_twice_creates_nothing_the_second_time,
    generate_stores_exactly_the_requested_counts,
    generate_rejects_sessions_without_locations,
    cancelled_sessions_are_rare_but_present,
);
