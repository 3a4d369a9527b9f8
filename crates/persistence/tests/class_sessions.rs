//! The timetable repository on both backends.

mod common;

use chrono::Duration;
use cohai_domain::{
    ClassSession, LocationRef, NewClassSession, NewLocation, ProgramTypeRef, RepoError,
    ScheduleFilter, SessionStatus, TrainerRef,
};
use cohai_persistence::backend_tests;
use cohai_persistence::testing::builders::{self, at, plan, session};
use cohai_persistence::testing::{Backend, TestDatabase};
use common::{at_min, base, catalog, schedule, session_ids};

fn create_returns_the_session_with_its_location_program_type_and_trainer(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let p = repos
        .membership_plans
        .create(&plan(cat.location.id, "Базовый", 400_000))
        .expect("plan");
    let new = NewClassSession {
        membership_plan_id: Some(p.id),
        capacity: 7,
        ..cat.session(base())
    };
    let created = repos.class_sessions.create(&new).expect("create");
    assert!(created.id > 0);
    assert_eq!(
        created,
        ClassSession {
            id: created.id,
            starts_at: base(),
            ends_at: base() + Duration::hours(1),
            status: SessionStatus::Scheduled,
            capacity: 7,
            location: LocationRef {
                id: cat.location.id,
                name: cat.location.name.clone(),
                timezone: cat.location.timezone.clone(),
            },
            program_type: ProgramTypeRef {
                id: cat.program_type.id,
                name: cat.program_type.name.clone(),
            },
            trainer: TrainerRef {
                id: cat.trainer.id,
                full_name: cat.trainer.full_name.clone(),
            },
            membership_plan_id: Some(p.id),
            cancellation_reason: None,
            version: 1,
        }
    );
    assert_eq!(
        repos.class_sessions.get_by_id(created.id).expect("get"),
        Some(created)
    );
}

fn create_stores_a_cancelled_session_as_cancelled(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let created = repos
        .class_sessions
        .create(&NewClassSession {
            status: SessionStatus::Cancelled,
            ..cat.session(base())
        })
        .expect("create");
    assert_eq!(created.status, SessionStatus::Cancelled);
}

fn instants_round_trip_to_the_microsecond(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let starts = at("2026-12-01T09:00:00.123456Z");
    let ends = at("2026-12-01T10:29:59.999999Z");
    let created = repos
        .class_sessions
        .create(&NewClassSession {
            ends_at: ends,
            ..cat.session(starts)
        })
        .expect("create");
    let got = repos
        .class_sessions
        .get_by_id(created.id)
        .expect("get")
        .expect("exists");
    assert_eq!((got.starts_at, got.ends_at), (starts, ends));
}

/// A scheduled session of `cat` lasting one microsecond from `starts_at`.
fn brief(cat: &common::Catalog, starts_at: chrono::DateTime<chrono::Utc>) -> NewClassSession {
    NewClassSession {
        ends_at: starts_at + Duration::microseconds(1),
        ..cat.session(starts_at)
    }
}

fn get_by_id_of_unknown_id_is_none(backend: Backend) {
    let t = TestDatabase::new(backend);
    assert_eq!(
        t.db.repositories()
            .class_sessions
            .get_by_id(42)
            .expect("get"),
        None
    );
}

fn get_by_id_finds_sessions_of_inactive_locations(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let s = cat.stored_session(&repos, base());
    deactivate(&repos, &cat.location);
    assert_eq!(repos.class_sessions.get_by_id(s.id).expect("get"), Some(s));
}

fn deactivate(repos: &cohai_persistence::Repositories, loc: &cohai_domain::Location) {
    repos
        .locations
        .update(
            loc.id,
            &NewLocation {
                name: loc.name.clone(),
                address: loc.address.clone(),
                city: loc.city.clone(),
                phone: loc.phone.clone(),
                timezone: loc.timezone.clone(),
                is_active: false,
            },
        )
        .expect("update")
        .expect("exists");
}

fn search_window_includes_from_and_excludes_to(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let from = base();
    let to = base() + Duration::days(1);
    // Sessions of one microsecond: one trainer's scheduled sessions must not overlap.
    let mk = |at| {
        repos
            .class_sessions
            .create(&brief(&cat, at))
            .expect("create")
    };
    let _before = mk(from - Duration::seconds(1));
    let at_from = mk(from);
    let inside = mk(from + Duration::hours(5));
    let last = mk(to - Duration::microseconds(1));
    let _at_to = mk(to);
    let _after = mk(to + Duration::hours(1));
    let found = repos
        .class_sessions
        .search(&schedule(from, to))
        .expect("search");
    assert_eq!(session_ids(&found), vec![at_from.id, inside.id, last.id]);
}

fn search_with_an_empty_window_finds_nothing(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    cat.stored_session(&repos, base());
    assert!(
        repos
            .class_sessions
            .search(&schedule(base(), base()))
            .expect("search")
            .is_empty()
    );
}

fn search_orders_by_start_then_id(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    // Sessions that start together have different trainers (one trainer's cannot overlap).
    let other = repos
        .trainers
        .create(&builders::trainer("Тренер A2"))
        .expect("trainer");
    let mk = |minutes, trainer_id| {
        repos
            .class_sessions
            .create(&NewClassSession {
                trainer_id,
                ..cat.session(at_min(minutes))
            })
            .expect("create")
            .id
    };
    let (first, second) = (cat.trainer.id, other.id);
    // Created out of order, two pairs starting at the same instant.
    let late = mk(300, first);
    let tie_a1 = mk(60, first);
    let early = mk(0, first);
    let tie_a2 = mk(60, second);
    let tie_b1 = mk(120, first);
    let tie_b2 = mk(120, second);
    let found = repos
        .class_sessions
        .search(&schedule(base(), base() + Duration::days(1)))
        .expect("search");
    assert_eq!(
        session_ids(&found),
        vec![early, tie_a1, tie_a2, tie_b1, tie_b2, late]
    );
}

fn search_returns_the_joined_refs(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let created = cat.stored_session(&repos, base());
    let found = repos
        .class_sessions
        .search(&schedule(base(), base() + Duration::hours(1)))
        .expect("search");
    assert_eq!(found, vec![created]);
}

/// Two locations, two program types, two trainers and one session for each combination.
struct Grid {
    cats: [common::Catalog; 2],
    /// Session ids indexed by `[location][program type][trainer]`.
    ids: [[[i64; 2]; 2]; 2],
}

fn grid(repos: &cohai_persistence::Repositories) -> Grid {
    let cats = [catalog(repos, "A"), catalog(repos, "B")];
    let mut ids = [[[0; 2]; 2]; 2];
    let mut n = 0;
    for (l, loc) in cats.iter().enumerate() {
        for (p, pt) in cats.iter().enumerate() {
            for (tr, trn) in cats.iter().enumerate() {
                n += 1;
                ids[l][p][tr] = repos
                    .class_sessions
                    .create(&session(
                        loc.location.id,
                        pt.program_type.id,
                        trn.trainer.id,
                        at_min(n * 60),
                    ))
                    .expect("create")
                    .id;
            }
        }
    }
    Grid { cats, ids }
}

fn day() -> ScheduleFilter {
    schedule(base(), base() + Duration::days(1))
}

fn search_filters_by_location(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let g = grid(&repos);
    let found = repos
        .class_sessions
        .search(&ScheduleFilter {
            location_id: Some(g.cats[1].location.id),
            ..day()
        })
        .expect("search");
    assert_eq!(
        session_ids(&found),
        vec![
            g.ids[1][0][0],
            g.ids[1][0][1],
            g.ids[1][1][0],
            g.ids[1][1][1]
        ]
    );
    assert!(found.iter().all(|s| s.location.id == g.cats[1].location.id));
}

fn search_filters_by_program_type(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let g = grid(&repos);
    let found = repos
        .class_sessions
        .search(&ScheduleFilter {
            program_type_id: Some(g.cats[0].program_type.id),
            ..day()
        })
        .expect("search");
    assert_eq!(
        session_ids(&found),
        vec![
            g.ids[0][0][0],
            g.ids[0][0][1],
            g.ids[1][0][0],
            g.ids[1][0][1]
        ]
    );
}

fn search_filters_by_trainer(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let g = grid(&repos);
    let found = repos
        .class_sessions
        .search(&ScheduleFilter {
            trainer_id: Some(g.cats[1].trainer.id),
            ..day()
        })
        .expect("search");
    assert_eq!(
        session_ids(&found),
        vec![
            g.ids[0][0][1],
            g.ids[0][1][1],
            g.ids[1][0][1],
            g.ids[1][1][1]
        ]
    );
}

fn search_combines_all_filters(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let g = grid(&repos);
    let found = repos
        .class_sessions
        .search(&ScheduleFilter {
            location_id: Some(g.cats[1].location.id),
            program_type_id: Some(g.cats[0].program_type.id),
            trainer_id: Some(g.cats[1].trainer.id),
            ..day()
        })
        .expect("search");
    assert_eq!(session_ids(&found), vec![g.ids[1][0][1]]);
    let none = repos
        .class_sessions
        .search(&ScheduleFilter {
            location_id: Some(9_999),
            ..day()
        })
        .expect("search");
    assert!(none.is_empty());
}

fn search_excludes_sessions_of_inactive_locations(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let g = grid(&repos);
    deactivate(&repos, &g.cats[0].location);
    let found = repos.class_sessions.search(&day()).expect("search");
    assert_eq!(
        session_ids(&found),
        vec![
            g.ids[1][0][0],
            g.ids[1][0][1],
            g.ids[1][1][0],
            g.ids[1][1][1]
        ]
    );
    let filtered = repos
        .class_sessions
        .search(&ScheduleFilter {
            location_id: Some(g.cats[0].location.id),
            ..day()
        })
        .expect("search");
    assert!(
        filtered.is_empty(),
        "asking for the inactive location by id finds nothing"
    );
}

fn search_lists_cancelled_sessions(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let s = cat.stored_session(&repos, base());
    repos
        .class_sessions
        .set_status(s.id, SessionStatus::Cancelled)
        .expect("cancel");
    let found = repos.class_sessions.search(&day()).expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].status, SessionStatus::Cancelled);
}

fn create_many_stores_every_session_and_returns_the_count(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let p = repos
        .membership_plans
        .create(&plan(cat.location.id, "Базовый", 1))
        .expect("plan");
    let batch: Vec<NewClassSession> = (0..5)
        .map(|i| NewClassSession {
            membership_plan_id: (i % 2 == 0).then_some(p.id),
            status: if i == 4 {
                SessionStatus::Cancelled
            } else {
                SessionStatus::Scheduled
            },
            capacity: 10 + i as i32,
            ..cat.session(at_min(i * 60))
        })
        .collect();
    assert_eq!(repos.class_sessions.create_many(&batch).expect("many"), 5);
    let found = repos.class_sessions.search(&day()).expect("search");
    let got: Vec<(
        chrono::DateTime<chrono::Utc>,
        Option<i64>,
        SessionStatus,
        i32,
    )> = found
        .iter()
        .map(|s| (s.starts_at, s.membership_plan_id, s.status, s.capacity))
        .collect();
    let want: Vec<_> = batch
        .iter()
        .map(|n| (n.starts_at, n.membership_plan_id, n.status, n.capacity))
        .collect();
    assert_eq!(got, want);
}

fn create_many_of_nothing_stores_nothing(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    assert_eq!(repos.class_sessions.create_many(&[]).expect("many"), 0);
}

fn create_many_stores_batches_larger_than_one_insert_chunk(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    // Back to back, a minute each: one trainer's scheduled sessions must not overlap.
    let batch: Vec<NewClassSession> = (0..2_345)
        .map(|i| NewClassSession {
            ends_at: at_min(i + 1),
            ..cat.session(at_min(i))
        })
        .collect();
    assert_eq!(
        repos.class_sessions.create_many(&batch).expect("many"),
        2_345
    );
    assert_eq!(
        repos
            .class_sessions
            .count_by_location(cat.location.id, base(), base() + Duration::days(30))
            .expect("count"),
        2_345
    );
}

fn create_many_is_atomic_when_one_session_is_invalid(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let mut batch: Vec<NewClassSession> = (0..3).map(|i| cat.session(at_min(i * 60))).collect();
    batch.push(NewClassSession {
        capacity: 0,
        ..cat.session(at_min(600))
    });
    let err = repos
        .class_sessions
        .create_many(&batch)
        .expect_err("invalid capacity");
    assert!(matches!(err, RepoError::Invalid(_)), "{err:?}");
    assert_eq!(
        repos
            .class_sessions
            .count_by_location(cat.location.id, base(), base() + Duration::days(1))
            .expect("count"),
        0
    );
}

fn set_status_changes_and_returns_the_session(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let s = cat.stored_session(&repos, base());
    let cancelled = repos
        .class_sessions
        .set_status(s.id, SessionStatus::Cancelled)
        .expect("set")
        .expect("exists");
    assert_eq!(
        cancelled,
        ClassSession {
            status: SessionStatus::Cancelled,
            version: s.version + 1,
            ..s.clone()
        }
    );
    assert_eq!(
        repos.class_sessions.get_by_id(s.id).expect("get"),
        Some(cancelled)
    );
    let again = repos
        .class_sessions
        .set_status(s.id, SessionStatus::Scheduled)
        .expect("set")
        .expect("exists");
    assert_eq!(
        again,
        ClassSession {
            version: s.version + 2,
            ..s
        },
        "every change increments the version"
    );
}

fn set_status_of_unknown_id_is_none(backend: Backend) {
    let t = TestDatabase::new(backend);
    assert_eq!(
        t.db.repositories()
            .class_sessions
            .set_status(42, SessionStatus::Cancelled)
            .expect("set"),
        None
    );
}

fn delete_removes_the_session_and_reports_false_the_second_time(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let gone = cat.stored_session(&repos, base());
    let kept = repos
        .class_sessions
        .create(&cat.session(at_min(60)))
        .expect("create");
    assert!(repos.class_sessions.delete(gone.id).expect("delete"));
    assert_eq!(repos.class_sessions.get_by_id(gone.id).expect("get"), None);
    assert!(!repos.class_sessions.delete(gone.id).expect("delete again"));
    assert_eq!(
        repos.class_sessions.search(&day()).expect("search"),
        vec![kept]
    );
}

fn count_by_location_counts_all_statuses_in_the_half_open_window(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let here = catalog(&repos, "A");
    let there = catalog(&repos, "B");
    let from = base();
    let to = base() + Duration::days(1);
    // Sessions of one microsecond: one trainer's scheduled sessions must not overlap.
    let mk = |cat: &common::Catalog, at| {
        repos
            .class_sessions
            .create(&brief(cat, at))
            .expect("create")
    };
    mk(&here, from - Duration::seconds(1));
    mk(&here, from);
    let cancelled = mk(&here, from + Duration::hours(3));
    repos
        .class_sessions
        .set_status(cancelled.id, SessionStatus::Cancelled)
        .expect("cancel");
    mk(&here, to - Duration::seconds(1));
    mk(&here, to);
    mk(&there, from + Duration::hours(1));
    assert_eq!(
        repos
            .class_sessions
            .count_by_location(here.location.id, from, to)
            .expect("count"),
        3
    );
    assert_eq!(
        repos
            .class_sessions
            .count_by_location(there.location.id, from, to)
            .expect("count"),
        1
    );
    assert_eq!(
        repos
            .class_sessions
            .count_by_location(here.location.id, from, from)
            .expect("count"),
        0
    );
    assert_eq!(
        repos
            .class_sessions
            .count_by_location(9_999, from, to)
            .expect("count"),
        0
    );
}

fn count_by_location_counts_sessions_of_an_inactive_location(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    cat.stored_session(&repos, base());
    deactivate(&repos, &cat.location);
    assert_eq!(
        repos
            .class_sessions
            .count_by_location(cat.location.id, base(), base() + Duration::hours(1))
            .expect("count"),
        1
    );
}

backend_tests!(
    create_returns_the_session_with_its_location_program_type_and_trainer,
    create_stores_a_cancelled_session_as_cancelled,
    instants_round_trip_to_the_microsecond,
    get_by_id_of_unknown_id_is_none,
    get_by_id_finds_sessions_of_inactive_locations,
    search_window_includes_from_and_excludes_to,
    search_with_an_empty_window_finds_nothing,
    search_orders_by_start_then_id,
    search_returns_the_joined_refs,
    search_filters_by_location,
    search_filters_by_program_type,
    search_filters_by_trainer,
    search_combines_all_filters,
    search_excludes_sessions_of_inactive_locations,
    search_lists_cancelled_sessions,
    create_many_stores_every_session_and_returns_the_count,
    create_many_of_nothing_stores_nothing,
    create_many_stores_batches_larger_than_one_insert_chunk,
    create_many_is_atomic_when_one_session_is_invalid,
    set_status_changes_and_returns_the_session,
    set_status_of_unknown_id_is_none,
    delete_removes_the_session_and_reports_false_the_second_time,
    count_by_location_counts_all_statuses_in_the_half_open_window,
    count_by_location_counts_sessions_of_an_inactive_location,
);
