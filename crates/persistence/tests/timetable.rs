//! The weekly timetable on both backends: slots, generation runs (idempotent, DST-correct,
//! never touching what was edited, cancelled or deleted, never double-booking a trainer,
//! safe when runs race), and `apply`.

mod common;

use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use cohai_domain::timetable::{DateRange, GenerationScope, RunAudit, RunLock};
use cohai_domain::{
    AuditAction, AuditEntity, AuditFilter, GenerationReport, GenerationRun, NewTimetableSlot,
    RepoError, StartTime, TimetableSlot,
};
use cohai_persistence::testing::builders::{at, location_in, program_type, session, trainer};
use cohai_persistence::testing::{Backend, TestDatabase, count};
use cohai_persistence::{Database, DatabaseUrl, PoolSettings, Repositories, backend_tests};
use common::exec;

const BERLIN: &str = "Europe/Berlin";

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid date")
}

/// A studio in Berlin with one program type (60 minutes) and two trainers.
struct Studio {
    location_id: i64,
    program_type_id: i64,
    trainers: [i64; 2],
}

fn studio(repos: &Repositories, tag: &str) -> Studio {
    let location = repos
        .locations
        .create(&location_in(&format!("Studio {tag}"), BERLIN))
        .expect("location");
    let program = repos
        .program_types
        .create(&program_type(&format!("Stretching {tag}")))
        .expect("program");
    let [a, b] = ["A", "B"].map(|t| {
        repos
            .trainers
            .create(&trainer(&format!("Trainer {t} {tag}")))
            .expect("trainer")
            .id
    });
    Studio {
        location_id: location.id,
        program_type_id: program.id,
        trainers: [a, b],
    }
}

impl Studio {
    /// An active slot of the first trainer, valid from 2027-01-01 without end.
    fn slot(&self, weekday: i32, start: &str) -> NewTimetableSlot {
        NewTimetableSlot {
            location_id: self.location_id,
            program_type_id: self.program_type_id,
            trainer_id: self.trainers[0],
            weekday,
            start_time: StartTime::parse(start).expect("valid time"),
            capacity: 12,
            valid_from: date("2027-01-01"),
            valid_until: None,
            is_active: true,
        }
    }
}

fn create(repos: &Repositories, new: &NewTimetableSlot) -> TimetableSlot {
    repos.timetable_slots.create(new).expect("create slot")
}

/// A manager's run over `from ..= to` (of every location).
fn run(from: &str, to: &str) -> GenerationRun {
    GenerationRun {
        scopes: vec![GenerationScope {
            location_id: None,
            range: DateRange::new(date(from), date(to), 400).expect("range"),
        }],
        lock: RunLock::Wait,
        audit: RunAudit::Always,
    }
}

fn generate(repos: &Repositories, run: &GenerationRun) -> GenerationReport {
    repos
        .timetable
        .generate(run, "anna", at("2027-01-01T00:00:00Z"))
        .expect("generate")
        .expect("a waiting run always runs")
}

/// Start instants of the slot's sessions, by start.
fn starts_of(db: &Database, slot_id: i64) -> Vec<DateTime<Utc>> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Start {
        #[diesel(sql_type = diesel::sql_types::Timestamp)]
        starts_at: chrono::NaiveDateTime,
    }
    let mut conn = db.pool().get().expect("connection");
    diesel::sql_query(format!(
        "SELECT starts_at FROM class_sessions WHERE timetable_slot_id = {slot_id} ORDER BY starts_at"
    ))
    .load::<Start>(&mut **conn)
    .expect("starts")
    .into_iter()
    .map(|s| s.starts_at.and_utc())
    .collect()
}

fn slot_sessions(db: &Database, slot_id: i64) -> i64 {
    count(
        db,
        &format!("SELECT COUNT(*) AS n FROM class_sessions WHERE timetable_slot_id = {slot_id}"),
    )
}

// ---------------------------------------------------------------- slots

fn slots_are_listed_by_location_weekday_and_start_time(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let (one, two) = (studio(&repos, "1"), studio(&repos, "2"));
    let late_monday = create(&repos, &one.slot(1, "19:00"));
    let tuesday = create(&repos, &one.slot(2, "08:00"));
    let early_monday = create(&repos, &one.slot(1, "07:30"));
    let other = create(&repos, &two.slot(1, "06:00"));
    let inactive = create(
        &repos,
        &NewTimetableSlot {
            is_active: false,
            ..one.slot(3, "10:00")
        },
    );
    let ids = |slots: Vec<TimetableSlot>| slots.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(repos.timetable_slots.list_all(None).expect("list")),
        [
            early_monday.id,
            late_monday.id,
            tuesday.id,
            inactive.id,
            other.id
        ]
    );
    assert_eq!(
        ids(repos.timetable_slots.list_all(Some(false)).expect("list")),
        [inactive.id]
    );
    assert_eq!(
        ids(repos
            .timetable_slots
            .list_by_location(two.location_id)
            .expect("list")),
        [other.id]
    );
    let got = repos
        .timetable_slots
        .get_by_id(late_monday.id)
        .expect("get")
        .expect("stored");
    assert_eq!(got, late_monday);
    assert_eq!(
        (got.start_time.to_string(), got.version, got.valid_until),
        ("19:00".to_owned(), 1, None)
    );
}

fn a_slot_change_is_audited_and_null_clears_its_end(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let s = studio(&repos, "1");
    let slot = create(
        &repos,
        &NewTimetableSlot {
            valid_until: Some(date("2027-06-30")),
            ..s.slot(2, "19:00")
        },
    );
    let changed = repos
        .timetable_slots
        .update_audited(
            slot.id,
            &NewTimetableSlot {
                valid_until: None,
                ..s.slot(2, "18:30")
            },
            Some(1),
            "anna",
            at("2027-01-02T10:00:00Z"),
        )
        .expect("update")
        .expect("exists");
    assert_eq!((changed.version, changed.valid_until), (2, None));
    let entries = repos
        .audit
        .search(&AuditFilter {
            entity: Some(AuditEntity::TimetableSlot),
            entity_id: Some(slot.id),
            actor: None,
            limit: 10,
            offset: 0,
        })
        .expect("audit");
    assert_eq!(entries.total, 2);
    let update = &entries.items[0];
    assert_eq!(
        (update.action, update.actor.as_str()),
        (AuditAction::Updated, "anna")
    );
    assert_eq!(
        update.changes,
        serde_json::json!({
            "start_time": {"from": "19:00", "to": "18:30"},
            "valid_until": {"from": "2027-06-30", "to": null},
        })
    );
    // A stale version changes nothing.
    assert_eq!(
        repos.timetable_slots.update_audited(
            slot.id,
            &s.slot(2, "17:00"),
            Some(1),
            "anna",
            at("2027-01-02T10:00:00Z")
        ),
        Err(RepoError::Stale)
    );
}

fn a_slot_with_sessions_cannot_be_deleted_until_they_are_gone(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let s = studio(&repos, "1");
    let slot = create(&repos, &s.slot(2, "19:00"));
    let report = generate(&repos, &run("2027-03-01", "2027-03-14"));
    assert_eq!(report.created, 2);
    let when = at("2027-03-01T00:00:00Z");
    let refused = repos
        .timetable_slots
        .delete_audited(slot.id, None, "anna", when);
    assert!(
        matches!(refused, Err(RepoError::Conflict(_))),
        "{refused:?}"
    );
    for generated in &report.sessions {
        assert!(
            repos
                .class_sessions
                .delete(generated.class_session_id)
                .expect("delete")
        );
    }
    // With the sessions gone, the slot alone keeps its location, program type and trainer.
    assert!(matches!(
        repos
            .trainers
            .delete_audited(s.trainers[0], None, "anna", when),
        Err(RepoError::Conflict(_))
    ));
    assert!(matches!(
        repos
            .program_types
            .delete_audited(s.program_type_id, None, "anna", when),
        Err(RepoError::Conflict(_))
    ));
    assert!(matches!(
        repos
            .locations
            .delete_audited(s.location_id, None, "anna", when),
        Err(RepoError::Conflict(_))
    ));
    // A slot whose generated sessions were all deleted may be deleted; its occurrence records
    // go with it.
    assert!(
        repos
            .timetable_slots
            .delete_audited(slot.id, None, "anna", when)
            .expect("delete")
    );
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) AS n FROM timetable_occurrences"),
        0
    );
    assert!(
        repos
            .trainers
            .delete_audited(s.trainers[0], None, "anna", when)
            .expect("delete")
    );
}

// ---------------------------------------------------------------- generation

fn a_run_creates_one_session_per_occurrence_and_a_second_run_none(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let s = studio(&repos, "1");
    let tuesday = create(&repos, &s.slot(2, "19:00"));
    let friday = create(&repos, &s.slot(5, "08:00"));
    // 2027-03-01 is a Monday: four Tuesdays and four Fridays.
    let first = generate(&repos, &run("2027-03-01", "2027-03-28"));
    assert_eq!((first.created, first.skipped), (8, 0));
    assert!(first.conflicts.is_empty());
    assert_eq!(first.sessions.len(), 8);
    let session = repos
        .class_session_admin
        .get_by_id(first.sessions[0].class_session_id)
        .expect("get")
        .expect("stored");
    assert_eq!(session.timetable_slot_id, Some(tuesday.id));
    assert!(!session.edited_by_hand);
    assert_eq!(session.status, cohai_domain::SessionStatus::Scheduled);
    assert_eq!((session.capacity, session.membership_plan_id), (12, None));
    assert_eq!(session.starts_at, at("2027-03-02T18:00:00Z"), "19:00 CET");
    assert_eq!(session.ends_at - session.starts_at, Duration::minutes(60));

    let second = generate(&repos, &run("2027-03-01", "2027-03-28"));
    assert_eq!((second.created, second.skipped), (0, 8));
    // A longer range adds only the new dates.
    let third = generate(&repos, &run("2027-03-01", "2027-04-04"));
    assert_eq!((third.created, third.skipped), (2, 8));
    assert_eq!(slot_sessions(&t.db, tuesday.id), 5);
    assert_eq!(slot_sessions(&t.db, friday.id), 5);

    // One `generated` entry per run, by the actor, without an entity id.
    let runs = repos
        .audit
        .search(&AuditFilter {
            entity: Some(AuditEntity::ClassSession),
            entity_id: None,
            actor: Some("anna".to_owned()),
            limit: 10,
            offset: 0,
        })
        .expect("audit");
    assert_eq!(runs.total, 3);
    let last = &runs.items[0];
    assert_eq!(
        (last.action, last.entity_id),
        (AuditAction::Generated, None)
    );
    assert_eq!(
        last.changes,
        serde_json::json!({"from": "2027-03-01", "to": "2027-04-04", "location_id": null, "created": 2})
    );
}

fn a_berlin_class_keeps_its_local_time_across_daylight_saving_changes(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let s = studio(&repos, "1");
    let sunday = create(&repos, &s.slot(7, "19:00"));
    generate(&repos, &run("2027-03-21", "2027-04-04"));
    generate(&repos, &run("2027-10-24", "2027-10-31"));
    // CET (+01:00), then CEST (+02:00) from the last Sunday of March, CET again from the
    // last Sunday of October: 19:00 local every time.
    assert_eq!(
        starts_of(&t.db, sunday.id),
        [
            at("2027-03-21T18:00:00Z"),
            at("2027-03-28T17:00:00Z"),
            at("2027-04-04T17:00:00Z"),
            at("2027-10-24T17:00:00Z"),
            at("2027-10-31T18:00:00Z"),
        ]
    );
}

fn a_slot_occurs_only_when_active_valid_and_its_references_are_active(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let s = studio(&repos, "1");
    let bounded = create(
        &repos,
        &NewTimetableSlot {
            valid_from: date("2027-03-09"),
            valid_until: Some(date("2027-03-16")),
            ..s.slot(2, "19:00")
        },
    );
    let inactive = create(
        &repos,
        &NewTimetableSlot {
            is_active: false,
            ..s.slot(3, "19:00")
        },
    );
    let other_trainer = create(
        &repos,
        &NewTimetableSlot {
            trainer_id: s.trainers[1],
            ..s.slot(4, "19:00")
        },
    );
    exec(
        &t.db,
        &format!(
            "UPDATE trainers SET is_active = {} WHERE id = {}",
            if backend == Backend::Sqlite {
                "0"
            } else {
                "false"
            },
            s.trainers[1]
        ),
    )
    .expect("deactivate the trainer");
    let report = generate(&repos, &run("2027-03-01", "2027-03-31"));
    assert_eq!((report.created, report.skipped), (2, 0));
    assert_eq!(
        starts_of(&t.db, bounded.id),
        [at("2027-03-09T18:00:00Z"), at("2027-03-16T18:00:00Z")],
        "valid_from and valid_until are included"
    );
    assert_eq!(slot_sessions(&t.db, inactive.id), 0);
    assert_eq!(slot_sessions(&t.db, other_trainer.id), 0);
}

fn a_scope_generates_only_its_location(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let (one, two) = (studio(&repos, "1"), studio(&repos, "2"));
    let here = create(&repos, &one.slot(2, "19:00"));
    let there = create(&repos, &two.slot(2, "19:00"));
    let mut only_one = run("2027-03-01", "2027-03-07");
    only_one.scopes[0].location_id = Some(one.location_id);
    assert_eq!(generate(&repos, &only_one).created, 1);
    assert_eq!(
        (
            slot_sessions(&t.db, here.id),
            slot_sessions(&t.db, there.id)
        ),
        (1, 0)
    );
}

fn edited_cancelled_and_deleted_sessions_are_never_recreated_or_overwritten(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let s = studio(&repos, "1");
    let slot = create(&repos, &s.slot(2, "19:00"));
    let first = generate(&repos, &run("2027-03-01", "2027-03-21"));
    assert_eq!(first.created, 3);
    let [edited, cancelled, deleted] = [0, 1, 2].map(|i| first.sessions[i].class_session_id);
    let truth = if backend == Backend::Sqlite {
        "1"
    } else {
        "true"
    };
    exec(
        &t.db,
        &format!(
            "UPDATE class_sessions SET capacity = 3, edited_by_hand = {truth}, version = version + 1 WHERE id = {edited}"
        ),
    )
    .expect("edit by hand");
    repos
        .class_sessions
        .cancel(cancelled, "Зал на ремонте")
        .expect("cancel")
        .expect("exists");
    assert!(repos.class_sessions.delete(deleted).expect("delete"));

    let again = generate(&repos, &run("2027-03-01", "2027-03-21"));
    assert_eq!(
        (again.created, again.skipped),
        (0, 3),
        "all three once had a session"
    );
    assert_eq!(slot_sessions(&t.db, slot.id), 2);
    let kept = repos
        .class_session_admin
        .get_by_id(edited)
        .expect("get")
        .expect("stored");
    assert_eq!(kept.capacity, 3);
    // The deleted session's occurrence is kept without its session.
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(*) AS n FROM timetable_occurrences WHERE class_session_id IS NULL"
        ),
        1
    );
}

fn an_occurrence_overlapping_the_trainers_other_session_is_a_conflict_tried_again_later(
    backend: Backend,
) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let s = studio(&repos, "1");
    let slot = create(&repos, &s.slot(2, "19:00"));
    // The trainer teaches 18:30–19:30 local on 2027-03-09 elsewhere (a session made by hand).
    let busy = repos
        .class_sessions
        .create(&session(
            s.location_id,
            s.program_type_id,
            s.trainers[0],
            at("2027-03-09T17:30:00Z"),
        ))
        .expect("session");
    // Back to back is fine: 18:00–19:00 local on 2027-03-02.
    repos
        .class_sessions
        .create(&session(
            s.location_id,
            s.program_type_id,
            s.trainers[0],
            at("2027-03-02T17:00:00Z"),
        ))
        .expect("session");
    let report = generate(&repos, &run("2027-03-01", "2027-03-14"));
    assert_eq!((report.created, report.skipped), (1, 0));
    assert_eq!(report.conflicts.len(), 1);
    let conflict = &report.conflicts[0];
    assert_eq!(
        (
            conflict.timetable_slot_id,
            conflict.date,
            conflict.class_session_id
        ),
        (slot.id, date("2027-03-09"), Some(busy.id))
    );
    // Not recorded: once the other session is cancelled, the next run creates it.
    repos
        .class_sessions
        .cancel(busy.id, "Перенесено")
        .expect("cancel")
        .expect("exists");
    let later = generate(&repos, &run("2027-03-01", "2027-03-14"));
    assert_eq!((later.created, later.skipped), (1, 1));
    assert!(later.conflicts.is_empty());
    // Two slots of one trainer at the same time: the second one conflicts with the first's.
    let twin = create(&repos, &s.slot(4, "10:00"));
    let clash = create(&repos, &s.slot(4, "10:30"));
    let report = generate(&repos, &run("2027-03-04", "2027-03-04"));
    assert_eq!(report.created, 1);
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(report.conflicts[0].timetable_slot_id, clash.id);
    assert_eq!(
        report.conflicts[0].class_session_id,
        Some(report.sessions[0].class_session_id)
    );
    assert_eq!(report.sessions[0].timetable_slot_id, twin.id);
}

/// A second handle on the same database, with a pool of its own (another server instance).
fn second_instance(t: &TestDatabase) -> Database {
    Database::open(
        DatabaseUrl::parse(&t.url),
        &PoolSettings {
            max_size: 4,
            ..PoolSettings::default()
        },
    )
    .expect("open the database again")
}

fn simultaneous_runs_create_each_session_once(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let s = studio(&repos, "1");
    for weekday in 1..=7 {
        create(&repos, &s.slot(weekday, "08:00"));
        create(
            &repos,
            &NewTimetableSlot {
                trainer_id: s.trainers[1],
                ..s.slot(weekday, "19:00")
            },
        );
    }
    // Four instances, each running a manager's run and a horizon run at the same moment.
    let instances: Vec<Database> = (0..4).map(|_| second_instance(&t)).collect();
    let barrier = Arc::new(Barrier::new(instances.len() * 2));
    let mut threads = Vec::new();
    for db in &instances {
        for lock in [RunLock::Wait, RunLock::SkipIfBusy] {
            let (db, barrier) = (db.clone(), barrier.clone());
            threads.push(std::thread::spawn(move || {
                let repos = db.repositories();
                let run = GenerationRun {
                    lock,
                    ..run("2027-03-01", "2027-04-11")
                };
                barrier.wait();
                repos
                    .timetable
                    .generate(&run, "anna", at("2027-03-01T00:00:00Z"))
                    .expect("generate")
            }));
        }
    }
    let reports: Vec<Option<GenerationReport>> = threads
        .into_iter()
        .map(|h| h.join().expect("no panic"))
        .collect();
    let total = 6 * 7 * 2;
    let created: u64 = reports.iter().flatten().map(|r| r.created).sum();
    assert_eq!(
        created, total,
        "each occurrence is created by exactly one run"
    );
    for report in reports.iter().flatten() {
        assert_eq!(report.created + report.skipped, total);
        assert!(report.conflicts.is_empty());
    }
    // Every waiting run ran.
    assert!(reports.iter().filter(|r| r.is_some()).count() >= 4);
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) AS n FROM class_sessions"),
        i64::try_from(total).expect("small")
    );
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) AS n FROM timetable_occurrences"),
        i64::try_from(total).expect("small")
    );
}

// ---------------------------------------------------------------- apply

fn apply_changes_untouched_future_sessions_from_the_date_on(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let s = studio(&repos, "1");
    let slot = create(&repos, &s.slot(2, "19:00"));
    // Tuesdays 2027-03-02 … 2027-03-30.
    let report = generate(&repos, &run("2027-03-01", "2027-03-31"));
    let ids: Vec<i64> = report.sessions.iter().map(|s| s.class_session_id).collect();
    assert_eq!(ids.len(), 5);
    let truth = if backend == Backend::Sqlite {
        "1"
    } else {
        "true"
    };
    exec(
        &t.db,
        &format!(
            "UPDATE class_sessions SET edited_by_hand = {truth}, version = version + 1 WHERE id = {}",
            ids[3]
        ),
    )
    .expect("edit by hand");
    repos
        .class_sessions
        .cancel(ids[4], "Праздник")
        .expect("cancel")
        .expect("exists");
    // Later: 18:30 with 20 places and the other trainer.
    let changed = repos
        .timetable_slots
        .update(
            slot.id,
            &NewTimetableSlot {
                capacity: 20,
                trainer_id: s.trainers[1],
                ..s.slot(2, "18:30")
            },
        )
        .expect("update")
        .expect("exists");
    assert_eq!(changed.capacity, 20);
    // Now is during the 2027-03-02 class; apply from 2027-03-09 (so not 2027-03-02 anyway).
    let now = at("2027-03-02T18:10:00Z");
    let applied = repos
        .timetable
        .apply(slot.id, date("2027-03-09"), now, "anna")
        .expect("apply")
        .expect("exists");
    assert_eq!(applied.updated, 2, "2027-03-09 and 2027-03-16");
    assert!(applied.conflicts.is_empty());
    let get = |id: i64| {
        repos
            .class_session_admin
            .get_by_id(id)
            .expect("get")
            .expect("stored")
    };
    let moved = get(ids[1]);
    assert_eq!(
        (
            moved.starts_at,
            moved.ends_at,
            moved.capacity,
            moved.trainer_id
        ),
        (
            at("2027-03-09T17:30:00Z"),
            at("2027-03-09T18:30:00Z"),
            20,
            s.trainers[1]
        )
    );
    assert_eq!(moved.version, 2);
    assert!(!moved.edited_by_hand, "still the timetable's");
    assert_eq!(
        get(ids[0]).starts_at,
        at("2027-03-02T18:00:00Z"),
        "before `from`"
    );
    assert_eq!(get(ids[3]).capacity, 12, "edited by hand");
    assert_eq!(get(ids[4]).capacity, 12, "cancelled");
    // One `updated` entry per changed session.
    let entries = repos
        .audit
        .search(&AuditFilter {
            entity: Some(AuditEntity::ClassSession),
            entity_id: Some(ids[1]),
            actor: None,
            limit: 10,
            offset: 0,
        })
        .expect("audit");
    assert_eq!(entries.total, 1);
    assert_eq!(entries.items[0].action, AuditAction::Updated);
    assert_eq!(
        entries.items[0].changes["capacity"],
        serde_json::json!({"from": 12, "to": 20})
    );
    assert_eq!(
        entries.items[0].changes["starts_at"],
        serde_json::json!({"from": "2027-03-09T18:00:00Z", "to": "2027-03-09T17:30:00Z"})
    );
    // Applying again changes nothing.
    let again = repos
        .timetable
        .apply(slot.id, date("2027-03-09"), now, "anna")
        .expect("apply")
        .expect("exists");
    assert_eq!(again.updated, 0);
    assert_eq!(
        repos
            .timetable
            .apply(9999, date("2027-03-09"), now, "anna")
            .expect("apply"),
        None
    );
}

fn apply_leaves_a_session_that_would_overlap_and_reports_it(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let s = studio(&repos, "1");
    let slot = create(&repos, &s.slot(2, "19:00"));
    let report = generate(&repos, &run("2027-03-01", "2027-03-14"));
    let ids: Vec<i64> = report.sessions.iter().map(|s| s.class_session_id).collect();
    // The other trainer teaches 19:00 local on 2027-03-09.
    let busy = repos
        .class_sessions
        .create(&session(
            s.location_id,
            s.program_type_id,
            s.trainers[1],
            at("2027-03-09T18:00:00Z"),
        ))
        .expect("session");
    repos
        .timetable_slots
        .update(
            slot.id,
            &NewTimetableSlot {
                trainer_id: s.trainers[1],
                ..s.slot(2, "19:00")
            },
        )
        .expect("update")
        .expect("exists");
    let applied = repos
        .timetable
        .apply(
            slot.id,
            date("2027-03-01"),
            at("2027-03-01T00:00:00Z"),
            "anna",
        )
        .expect("apply")
        .expect("exists");
    assert_eq!(applied.updated, 1);
    assert_eq!(applied.conflicts.len(), 1);
    assert_eq!(
        (
            applied.conflicts[0].date,
            applied.conflicts[0].class_session_id
        ),
        (date("2027-03-09"), Some(busy.id))
    );
    let left = repos
        .class_session_admin
        .get_by_id(ids[1])
        .expect("get")
        .expect("stored");
    assert_eq!((left.trainer_id, left.version), (s.trainers[0], 1));
}

fn apply_keeps_a_session_at_its_own_studio_and_in_its_time_zone(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let s = studio(&repos, "1");
    let slot = create(&repos, &s.slot(2, "19:00"));
    let report = generate(&repos, &run("2027-03-08", "2027-03-14"));
    let id = report.sessions[0].class_session_id;
    // The slot moves to a Moscow studio at 18:00: later generations are there, but the
    // Berlin session generated already stays in Berlin, at 18:00 Berlin time.
    let moscow = repos
        .locations
        .create(&cohai_persistence::testing::builders::location("Москва"))
        .expect("location");
    repos
        .timetable_slots
        .update(
            slot.id,
            &NewTimetableSlot {
                location_id: moscow.id,
                ..s.slot(2, "18:00")
            },
        )
        .expect("update")
        .expect("exists");
    let applied = repos
        .timetable
        .apply(
            slot.id,
            date("2027-03-01"),
            at("2027-03-01T00:00:00Z"),
            "anna",
        )
        .expect("apply")
        .expect("exists");
    assert_eq!(applied.updated, 1);
    let moved = repos
        .class_session_admin
        .get_by_id(id)
        .expect("get")
        .expect("stored");
    assert_eq!(
        (moved.location_id, moved.starts_at),
        (s.location_id, at("2027-03-09T17:00:00Z"))
    );
    let next = generate(&repos, &run("2027-03-15", "2027-03-21"));
    let there = repos
        .class_session_admin
        .get_by_id(next.sessions[0].class_session_id)
        .expect("get")
        .expect("stored");
    assert_eq!(
        (there.location_id, there.starts_at),
        (moscow.id, at("2027-03-16T15:00:00Z"))
    );
}

backend_tests!(
    apply_keeps_a_session_at_its_own_studio_and_in_its_time_zone,
    slots_are_listed_by_location_weekday_and_start_time,
    a_slot_change_is_audited_and_null_clears_its_end,
    a_slot_with_sessions_cannot_be_deleted_until_they_are_gone,
    a_run_creates_one_session_per_occurrence_and_a_second_run_none,
    a_berlin_class_keeps_its_local_time_across_daylight_saving_changes,
    a_slot_occurs_only_when_active_valid_and_its_references_are_active,
    a_scope_generates_only_its_location,
    edited_cancelled_and_deleted_sessions_are_never_recreated_or_overwritten,
    an_occurrence_overlapping_the_trainers_other_session_is_a_conflict_tried_again_later,
    simultaneous_runs_create_each_session_once,
    apply_changes_untouched_future_sessions_from_the_date_on,
    apply_leaves_a_session_that_would_overlap_and_reports_it,
);

/// What only PostgreSQL can show: several instances' transactions at once.
mod postgres_races {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection};

    use super::*;

    fn connect(t: &TestDatabase) -> PgConnection {
        PgConnection::establish(&t.url).expect("a raw connection")
    }

    /// Waits until some transaction of the database waits for a lock.
    fn until_someone_waits(t: &TestDatabase) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while count(
            &t.db,
            "SELECT COUNT(*) AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE NOT l.granted AND a.datname = current_database()",
        ) == 0
        {
            assert!(std::time::Instant::now() < deadline, "nobody waits");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[test]
    fn a_session_another_transaction_commits_during_a_run_is_a_conflict_not_an_error() {
        let t = TestDatabase::new(Backend::Postgres);
        let repos = t.db.repositories();
        let s = studio(&repos, "1");
        let slot = create(&repos, &s.slot(2, "19:00"));
        // Another writer (the class-session admin of another instance) has inserted, not yet
        // committed, a session of the trainer at 19:00 CET on 2027-03-09: the run's check
        // cannot see it, so the exclusion constraint is what stops the run's insert.
        let mut other = connect(&t);
        other
            .batch_execute(&format!(
                "BEGIN; INSERT INTO class_sessions \
                 (location_id, program_type_id, trainer_id, starts_at, ends_at, capacity, status) \
                 VALUES ({}, {}, {}, '2027-03-09 18:15:00', '2027-03-09 19:15:00', 10, 'scheduled')",
                s.location_id, s.program_type_id, s.trainers[0]
            ))
            .expect("an uncommitted session");
        let db = t.db.clone();
        let running = std::thread::spawn(move || {
            generate(&db.repositories(), &run("2027-03-01", "2027-03-14"))
        });
        until_someone_waits(&t);
        other.batch_execute("COMMIT").expect("commit");
        let report = running.join().expect("no panic");
        let committed = count(
            &t.db,
            &format!(
                "SELECT MAX(id) AS n FROM class_sessions WHERE timetable_slot_id IS NULL AND trainer_id = {}",
                s.trainers[0]
            ),
        );
        assert_eq!((report.created, report.skipped), (1, 0), "{report:?}");
        assert_eq!(
            report.conflicts,
            [cohai_domain::OccurrenceConflict {
                timetable_slot_id: slot.id,
                date: date("2027-03-09"),
                class_session_id: Some(committed),
            }]
        );
        // The rest of the run was kept; the conflicting occurrence was not recorded.
        assert_eq!(slot_sessions(&t.db, slot.id), 1);
        assert_eq!(
            count(&t.db, "SELECT COUNT(*) AS n FROM timetable_occurrences"),
            1
        );
    }

    #[test]
    fn a_background_run_gives_way_to_a_run_in_progress_and_a_requested_one_waits() {
        let t = TestDatabase::new(Backend::Postgres);
        let repos = t.db.repositories();
        let s = studio(&repos, "1");
        let slot = create(&repos, &s.slot(2, "19:00"));
        // Another instance's run holds the lock.
        let mut other = connect(&t);
        other
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({})",
                cohai_persistence::testing::TIMETABLE_GENERATION_LOCK
            ))
            .expect("hold the lock");
        let background = GenerationRun {
            lock: RunLock::SkipIfBusy,
            audit: RunAudit::WhenCreated,
            ..run("2027-03-01", "2027-03-14")
        };
        assert_eq!(
            repos
                .timetable
                .generate(&background, "system", at("2027-03-01T00:00:00Z"))
                .expect("generate"),
            None,
            "nothing done"
        );
        assert_eq!(slot_sessions(&t.db, slot.id), 0);
        let db = t.db.clone();
        let requested = std::thread::spawn(move || {
            generate(&db.repositories(), &run("2027-03-01", "2027-03-14"))
        });
        until_someone_waits(&t);
        other.batch_execute("COMMIT").expect("release");
        assert_eq!(requested.join().expect("no panic").created, 2);
        // No audit entry for the background run that did nothing.
        assert_eq!(
            count(
                &t.db,
                "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'generated'"
            ),
            1
        );
    }
}
