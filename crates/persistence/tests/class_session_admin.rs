//! Class sessions as the admin API writes them, on both backends: audited writes, the
//! trainer-overlap rule (also under concurrency), cancellations that record `session_cancelled`
//! on the leads that chose the session, and deletions refused while a lead names a session.

mod common;

use std::sync::Barrier;

use chrono::{DateTime, Duration, Utc};
use cohai_domain::{
    AdminClassSession, AdminSessionFilter, AuditAction, AuditEntity, AuditFilter,
    ClassSessionFields, LeadStatus, NewLead, RepoError, ScheduleFilter, SessionStatus,
    SessionWriteError,
};
use cohai_persistence::testing::builders::{self, phone};
use cohai_persistence::testing::{Backend, TestDatabase, count};
use cohai_persistence::{Repositories, backend_tests};
use common::{Catalog, at_min, base, catalog, exec, raw_events, window};

const ACTOR: &str = "anna";

/// A scheduled hour of `cat` from `starts_at`, for 12 people.
fn fields(cat: &Catalog, starts_at: DateTime<Utc>) -> ClassSessionFields {
    ClassSessionFields {
        location_id: cat.location.id,
        program_type_id: cat.program_type.id,
        trainer_id: cat.trainer.id,
        membership_plan_id: None,
        starts_at,
        ends_at: starts_at + Duration::hours(1),
        capacity: 12,
        status: SessionStatus::Scheduled,
        cancellation_reason: None,
    }
}

fn cancelled(f: ClassSessionFields, reason: &str) -> ClassSessionFields {
    ClassSessionFields {
        status: SessionStatus::Cancelled,
        cancellation_reason: Some(reason.to_owned()),
        ..f
    }
}

fn create(repos: &Repositories, f: &ClassSessionFields) -> AdminClassSession {
    repos
        .class_session_admin
        .create_audited(f, ACTOR, base())
        .expect("create")
}

fn audit_of(repos: &Repositories, id: i64) -> Vec<cohai_domain::AuditEntry> {
    repos
        .audit
        .search(&AuditFilter {
            entity: Some(AuditEntity::ClassSession),
            entity_id: Some(id),
            actor: None,
            limit: 200,
            offset: 0,
        })
        .expect("audit")
        .items
}

const AUDIT_ROWS: &str = "SELECT COUNT(*) AS n FROM audit_log";
const SESSIONS: &str = "SELECT COUNT(*) AS n FROM class_sessions";

fn create_stores_a_session_by_hand_with_its_created_entry(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let plan = repos
        .membership_plans
        .create(&builders::plan(cat.location.id, "Базовый", 400_000))
        .expect("plan");
    let new = ClassSessionFields {
        membership_plan_id: Some(plan.id),
        ..fields(&cat, base())
    };
    let created = create(&repos, &new);
    assert_eq!(ClassSessionFields::of(&created), new);
    assert_eq!(
        (
            created.version,
            created.edited_by_hand,
            created.timetable_slot_id
        ),
        (1, true, None)
    );
    assert_eq!(
        repos
            .class_session_admin
            .get_by_id(created.id)
            .expect("get"),
        Some(created.clone())
    );
    let entries = audit_of(&repos, created.id);
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].action, entries[0].actor.as_str()),
        (AuditAction::Created, ACTOR)
    );
    assert_eq!(entries[0].changes["capacity"]["to"], 12);
    assert_eq!(
        entries[0].changes["cancellation_reason"],
        serde_json::json!({"from": null, "to": null})
    );
}

fn an_overlapping_session_of_the_trainer_is_refused_naming_the_other(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let elsewhere = catalog(&repos, "B");
    let first = create(&repos, &fields(&cat, base()));
    // Half an hour later, at another studio: the same trainer cannot be there.
    let clash = ClassSessionFields {
        location_id: elsewhere.location.id,
        program_type_id: elsewhere.program_type.id,
        ..fields(&cat, at_min(30))
    };
    let (audit_before, sessions_before) = (count(&t.db, AUDIT_ROWS), count(&t.db, SESSIONS));
    assert_eq!(
        repos
            .class_session_admin
            .create_audited(&clash, ACTOR, base()),
        Err(SessionWriteError::TrainerBusy {
            trainer_id: cat.trainer.id,
            class_session_id: first.id
        })
    );
    assert_eq!(
        (count(&t.db, AUDIT_ROWS), count(&t.db, SESSIONS)),
        (audit_before, sessions_before),
        "a refused session stores nothing"
    );
    // Back to back, another trainer, or cancelled: no clash.
    create(&repos, &fields(&cat, at_min(60)));
    create(
        &repos,
        &ClassSessionFields {
            trainer_id: elsewhere.trainer.id,
            ..clash.clone()
        },
    );
    create(&repos, &cancelled(clash, "Перенос"));
}

fn an_update_moves_the_session_under_the_overlap_rule(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let early = create(&repos, &fields(&cat, base()));
    let late = create(&repos, &fields(&cat, at_min(120)));
    let admin = &repos.class_session_admin;
    assert_eq!(
        admin.update_audited(late.id, &fields(&cat, at_min(30)), Some(1), ACTOR, base()),
        Err(SessionWriteError::TrainerBusy {
            trainer_id: cat.trainer.id,
            class_session_id: early.id
        })
    );
    // Moving within its own old time is no clash with itself.
    let moved = admin
        .update_audited(late.id, &fields(&cat, at_min(150)), Some(1), ACTOR, base())
        .expect("move")
        .expect("exists");
    assert_eq!(
        (moved.starts_at, moved.version, moved.edited_by_hand),
        (at_min(150), 2, true)
    );
    let entries = audit_of(&repos, late.id);
    assert_eq!(entries[0].action, AuditAction::Updated);
    assert_eq!(
        entries[0].changes,
        serde_json::json!({
            "starts_at": {"from": "2026-12-01T11:00:00Z", "to": "2026-12-01T11:30:00Z"},
            "ends_at": {"from": "2026-12-01T12:00:00Z", "to": "2026-12-01T12:30:00Z"},
        })
    );
    assert_eq!(
        admin.update_audited(late.id, &fields(&cat, at_min(200)), Some(1), ACTOR, base()),
        Err(SessionWriteError::Repo(RepoError::Stale))
    );
    assert_eq!(
        admin.update_audited(9_999, &fields(&cat, at_min(200)), Some(1), ACTOR, base()),
        Ok(None),
        "missing before stale"
    );
}

fn any_admin_change_marks_a_generated_session_edited_by_hand(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let s = create(&repos, &fields(&cat, base()));
    exec(&t.db, "UPDATE class_sessions SET edited_by_hand = FALSE").expect("as if generated");
    let untouched = repos
        .class_session_admin
        .get_by_id(s.id)
        .expect("get")
        .expect("exists");
    assert!(!untouched.edited_by_hand);
    let changed = repos
        .class_session_admin
        .update_audited(
            s.id,
            &ClassSessionFields {
                capacity: 20,
                ..fields(&cat, base())
            },
            None,
            ACTOR,
            base(),
        )
        .expect("update")
        .expect("exists");
    assert!(changed.edited_by_hand);
}

fn rescheduling_a_cancelled_session_must_pass_the_overlap_rule(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let off = create(&repos, &cancelled(fields(&cat, base()), "Ремонт"));
    let replacement = create(&repos, &fields(&cat, base()));
    assert_eq!(
        repos.class_session_admin.update_audited(
            off.id,
            &fields(&cat, base()),
            None,
            ACTOR,
            base()
        ),
        Err(SessionWriteError::TrainerBusy {
            trainer_id: cat.trainer.id,
            class_session_id: replacement.id
        })
    );
    let off_again = repos
        .class_session_admin
        .get_by_id(off.id)
        .expect("get")
        .expect("exists");
    assert_eq!(off_again, off, "unchanged");
}

/// A lead of `status` that chose session `id`.
fn lead_for(repos: &Repositories, n: u32, status: LeadStatus, session_id: i64) -> i64 {
    repos
        .leads
        .create(
            &NewLead {
                status,
                class_session_id: Some(session_id),
                ..builders::lead(&format!("Клиент {n}"), phone(n), base())
            },
            "website",
        )
        .expect("lead")
        .id
}

fn cancelling_records_session_cancelled_on_the_open_leads_that_chose_it(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let s = create(&repos, &fields(&cat, base()));
    let other = create(&repos, &fields(&cat, at_min(120)));
    let open: Vec<i64> = [
        LeadStatus::New,
        LeadStatus::Contacted,
        LeadStatus::TrialScheduled,
    ]
    .into_iter()
    .enumerate()
    .map(|(n, status)| lead_for(&repos, n as u32, status, s.id))
    .collect();
    lead_for(&repos, 10, LeadStatus::Converted, s.id);
    lead_for(&repos, 11, LeadStatus::Lost, s.id);
    lead_for(&repos, 12, LeadStatus::New, other.id);
    let events_before = raw_events(&t.db).len();

    let reason = "Тренер заболел";
    let after = repos
        .class_session_admin
        .update_audited(
            s.id,
            &cancelled(fields(&cat, base()), reason),
            Some(1),
            "boris",
            base(),
        )
        .expect("cancel")
        .expect("exists");
    assert_eq!(
        (after.status, after.cancellation_reason.as_deref()),
        (SessionStatus::Cancelled, Some(reason))
    );
    let events = raw_events(&t.db);
    let new: Vec<_> = events[events_before..].iter().collect();
    assert_eq!(
        new.iter().map(|e| e.lead_id).collect::<Vec<_>>(),
        open.iter().copied().map(Some).collect::<Vec<_>>(),
        "one event on each open lead of the session"
    );
    for e in new {
        assert_eq!(
            (e.kind.as_str(), e.actor.as_str()),
            ("session_cancelled", "boris")
        );
        assert_eq!(
            e.json(),
            serde_json::json!({"class_session_id": s.id, "cancellation_reason": reason})
        );
    }
    let entries = audit_of(&repos, s.id);
    assert_eq!(
        (entries[0].action, entries[0].actor.as_str()),
        (AuditAction::Cancelled, "boris")
    );
    assert_eq!(
        entries[0].changes["status"],
        serde_json::json!({"from": "scheduled", "to": "cancelled"})
    );

    // A new reason for a cancelled session is an update and notifies nobody again.
    let events_now = raw_events(&t.db).len();
    repos
        .class_session_admin
        .update_audited(
            s.id,
            &cancelled(fields(&cat, base()), "Ремонт зала"),
            None,
            ACTOR,
            base(),
        )
        .expect("update")
        .expect("exists");
    assert_eq!(raw_events(&t.db).len(), events_now);
    assert_eq!(audit_of(&repos, s.id)[0].action, AuditAction::Updated);
}

fn a_cancellation_that_fails_leaves_neither_audit_entry_nor_events(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let s = create(&repos, &fields(&cat, base()));
    lead_for(&repos, 1, LeadStatus::New, s.id);
    let events_before = raw_events(&t.db).len();
    let audit_before = count(&t.db, AUDIT_ROWS);
    // The audit entry is the transaction's last write: without its table it fails after the
    // session and the lead events were written.
    exec(&t.db, "ALTER TABLE audit_log RENAME TO audit_log_away").expect("hide the audit log");
    let failed = repos.class_session_admin.update_audited(
        s.id,
        &cancelled(fields(&cat, base()), "Болезнь"),
        None,
        ACTOR,
        base(),
    );
    exec(&t.db, "ALTER TABLE audit_log_away RENAME TO audit_log").expect("restore it");
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(raw_events(&t.db).len(), events_before, "no event");
    assert_eq!(count(&t.db, AUDIT_ROWS), audit_before, "no entry");
    let unchanged = repos
        .class_session_admin
        .get_by_id(s.id)
        .expect("get")
        .expect("exists");
    assert_eq!(unchanged, s, "the session is as it was");
}

fn delete_is_refused_while_a_lead_chose_the_session(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let chosen = create(&repos, &fields(&cat, base()));
    let free = create(&repos, &fields(&cat, at_min(120)));
    // Even a lead that is no longer open keeps the class it chose.
    let lead = lead_for(&repos, 1, LeadStatus::Lost, chosen.id);
    let admin = &repos.class_session_admin;
    assert_eq!(
        admin.delete_audited(chosen.id, None, ACTOR, base()),
        Err(SessionWriteError::ChosenByLead {
            class_session_id: chosen.id,
            lead_id: lead
        })
    );
    assert!(admin.get_by_id(chosen.id).expect("get").is_some());
    assert_eq!(audit_of(&repos, chosen.id).len(), 1, "only its creation");
    assert_eq!(
        admin.delete_audited(free.id, Some(2), ACTOR, base()),
        Err(SessionWriteError::Repo(RepoError::Stale))
    );
    assert_eq!(
        admin.delete_audited(free.id, Some(1), ACTOR, base()),
        Ok(true)
    );
    assert_eq!(admin.get_by_id(free.id).expect("get"), None);
    assert_eq!(
        admin.delete_audited(free.id, None, ACTOR, base()),
        Ok(false)
    );
    let entries = audit_of(&repos, free.id);
    assert_eq!(entries[0].action, AuditAction::Deleted);
    assert_eq!(
        entries[0].changes["capacity"],
        serde_json::json!({"from": 12, "to": null})
    );
}

fn search_filters_pages_and_includes_inactive_locations(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let a = catalog(&repos, "A");
    let b = catalog(&repos, "B");
    let ids: Vec<i64> = (0..5)
        .map(|i| {
            create(
                &repos,
                &fields(if i % 2 == 0 { &a } else { &b }, at_min(i * 60)),
            )
            .id
        })
        .collect();
    let off = create(&repos, &cancelled(fields(&a, at_min(600)), "Ремонт"));
    repos
        .locations
        .update(
            b.location.id,
            &cohai_domain::NewLocation {
                is_active: false,
                ..builders::location(&b.location.name)
            },
        )
        .expect("deactivate")
        .expect("exists");
    let filter = |schedule: ScheduleFilter, status, limit, offset| AdminSessionFilter {
        schedule,
        status,
        limit,
        offset,
    };
    let day = || common::schedule(base(), base() + Duration::days(1));
    let page = |f| {
        let page = repos.class_session_admin.search(&f).expect("search");
        (
            page.items.iter().map(|s| s.id).collect::<Vec<_>>(),
            page.total,
        )
    };
    let mut all = ids.clone();
    all.push(off.id);
    assert_eq!(
        page(filter(day(), None, 50, 0)),
        (all, 6),
        "inactive location included"
    );
    assert_eq!(
        page(filter(day(), None, 2, 2)),
        (vec![ids[2], ids[3]], 6),
        "paged"
    );
    assert_eq!(
        page(filter(day(), Some(SessionStatus::Cancelled), 50, 0)),
        (vec![off.id], 1)
    );
    assert_eq!(
        page(filter(
            ScheduleFilter {
                trainer_id: Some(b.trainer.id),
                ..day()
            },
            Some(SessionStatus::Scheduled),
            50,
            0
        )),
        (vec![ids[1], ids[3]], 2)
    );
    assert_eq!(
        page(filter(
            ScheduleFilter {
                location_id: Some(a.location.id),
                window: window(at_min(60), at_min(241)),
                ..day()
            },
            None,
            50,
            0
        )),
        (vec![ids[2], ids[4]], 2),
        "the window is half-open on starts_at"
    );
}

fn of_simultaneous_overlapping_creates_exactly_one_succeeds(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    const WRITERS: usize = 20;
    let barrier = Barrier::new(WRITERS);
    let results: Vec<Result<AdminClassSession, SessionWriteError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS as i64)
            .map(|i| {
                let (repos, cat, barrier) = (&repos, &cat, &barrier);
                s.spawn(move || {
                    // Each overlaps every other: starts a minute apart, lasting an hour.
                    let f = fields(cat, at_min(i));
                    barrier.wait();
                    repos.class_session_admin.create_audited(&f, ACTOR, base())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect()
    });
    let winners: Vec<&AdminClassSession> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let winner = winners[0].id;
    for r in &results {
        if let Err(e) = r {
            assert_eq!(
                e,
                &SessionWriteError::TrainerBusy {
                    trainer_id: cat.trainer.id,
                    class_session_id: winner
                }
            );
        }
    }
    assert_eq!(count(&t.db, SESSIONS), 1);
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(*) AS n FROM audit_log WHERE entity = 'class_session'"
        ),
        1,
        "only the winner is audited"
    );
}

/// On PostgreSQL, a conflicting session that another transaction has inserted but not yet
/// committed passes the check before writing; the exclusion constraint then refuses the admin's
/// write once that transaction commits, and the refusal still names the session in the way.
/// On SQLite the other writer would hold the single write lock, so there is nothing to race.
fn a_race_lost_to_the_postgresql_constraint_names_the_winner(backend: Backend) {
    if backend == Backend::Sqlite {
        return;
    }
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    // The plain repository's write takes no lock on the trainer, like any other writer.
    let mut other = t.db.pool().get().expect("a second connection");
    diesel::connection::SimpleConnection::batch_execute(
        &mut **other,
        &format!(
            "BEGIN; INSERT INTO class_sessions \
             (location_id, program_type_id, trainer_id, starts_at, ends_at, capacity, status) \
             VALUES ({}, {}, {}, '2026-12-01 09:00:00', '2026-12-01 10:00:00', 10, 'scheduled')",
            cat.location.id, cat.program_type.id, cat.trainer.id
        ),
    )
    .expect("an uncommitted session");
    let result = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            repos
                .class_session_admin
                .create_audited(&fields(&cat, at_min(30)), ACTOR, base())
        });
        // Long enough for the writer to pass its check and wait on the constraint.
        std::thread::sleep(std::time::Duration::from_millis(500));
        diesel::connection::SimpleConnection::batch_execute(&mut **other, "COMMIT")
            .expect("commit");
        writer.join().expect("writer thread")
    });
    let winner = repos
        .class_session_admin
        .search(&AdminSessionFilter {
            schedule: common::schedule(base(), base() + Duration::days(1)),
            status: None,
            limit: 10,
            offset: 0,
        })
        .expect("search")
        .items;
    assert_eq!(winner.len(), 1, "only the committed one");
    assert_eq!(
        result,
        Err(SessionWriteError::TrainerBusy {
            trainer_id: cat.trainer.id,
            class_session_id: winner[0].id
        })
    );
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(*) AS n FROM audit_log WHERE entity = 'class_session'"
        ),
        0
    );
}

/// PostgreSQL's refusal of an overlap by any writer is a conflict named after the constraint.
fn the_postgresql_constraint_refuses_overlaps_of_any_writer_as_a_conflict(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    cat.stored_session(&repos, base());
    let second = repos.class_sessions.create(&cat.session(at_min(30)));
    match backend {
        Backend::Postgres => assert_eq!(
            second.map(|s| s.id),
            Err(RepoError::Conflict(
                "class_sessions_trainer_overlap_excl".to_owned()
            ))
        ),
        // SQLite has no such constraint: only the admin's writes check the rule.
        Backend::Sqlite => assert!(second.is_ok()),
    }
}

backend_tests!(
    create_stores_a_session_by_hand_with_its_created_entry,
    an_overlapping_session_of_the_trainer_is_refused_naming_the_other,
    an_update_moves_the_session_under_the_overlap_rule,
    any_admin_change_marks_a_generated_session_edited_by_hand,
    rescheduling_a_cancelled_session_must_pass_the_overlap_rule,
    cancelling_records_session_cancelled_on_the_open_leads_that_chose_it,
    a_cancellation_that_fails_leaves_neither_audit_entry_nor_events,
    delete_is_refused_while_a_lead_chose_the_session,
    search_filters_pages_and_includes_inactive_locations,
    of_simultaneous_overlapping_creates_exactly_one_succeeds,
    a_race_lost_to_the_postgresql_constraint_names_the_winner,
    the_postgresql_constraint_refuses_overlaps_of_any_writer_as_a_conflict,
);
