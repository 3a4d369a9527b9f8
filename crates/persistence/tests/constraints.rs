//! Database constraints and how the repositories report their violations, on both backends.

mod common;

use chrono::Duration;
use cohai_domain::LeadReference;
use cohai_domain::ports::SubmitError;
use cohai_domain::{
    LeadChanges, Money, NewClassSession, NewLead, NewLocation, NewMembershipPlan, NewProgramType,
    NewTrainer, RepoError,
};
use cohai_persistence::backend_tests;
use cohai_persistence::testing::builders::{lead, location, phone, plan, program_type, trainer};
use cohai_persistence::testing::{Backend, TestDatabase, TestLeads, count};
use common::{all_leads, base, catalog, exec};

#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(result: Result<T, RepoError>) {
    let err = result.expect_err("expected a conflict");
    assert!(matches!(err, RepoError::Conflict(_)), "{err:?}");
}

#[track_caller]
fn assert_missing_reference<T: std::fmt::Debug>(result: Result<T, RepoError>) {
    let err = result.expect_err("expected a missing reference");
    assert!(matches!(err, RepoError::MissingReference(_)), "{err:?}");
}

#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(result: Result<T, RepoError>) {
    let err = result.expect_err("expected a constraint violation");
    assert!(matches!(err, RepoError::Invalid(_)), "{err:?}");
}

// ---------------------------------------------------------------- uniqueness

fn duplicate_location_name_is_a_conflict(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let first = repos.locations.create(&location("Центр")).expect("create");
    assert_conflict(repos.locations.create(&NewLocation {
        is_active: false,
        ..location("Центр")
    }));
    assert_eq!(repos.locations.list_active().expect("list"), vec![first]);
    // Uniqueness is exact: another case is another name.
    repos
        .locations
        .create(&location("центр"))
        .expect("a name differing in case is allowed");
}

fn renaming_a_location_to_a_taken_name_is_a_conflict(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    repos.locations.create(&location("Центр")).expect("create");
    let other = repos.locations.create(&location("Север")).expect("create");
    assert_conflict(repos.locations.update(other.id, &location("Центр")));
    assert_eq!(
        repos.locations.get_by_id(other.id).expect("get"),
        Some(other.clone())
    );
    // Keeping its own name is fine.
    repos
        .locations
        .update(other.id, &location("Север"))
        .expect("update")
        .expect("exists");
}

fn duplicate_program_type_name_is_a_conflict(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    repos
        .program_types
        .create(&program_type("Шпагат"))
        .expect("create");
    assert_conflict(repos.program_types.create(&program_type("Шпагат")));
}

fn duplicate_trainer_name_is_a_conflict(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    repos
        .trainers
        .create(&trainer("Анна Иванова"))
        .expect("create");
    assert_conflict(repos.trainers.create(&trainer("Анна Иванова")));
}

fn duplicate_plan_name_is_a_conflict_within_a_location_only(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let a = repos.locations.create(&location("A")).expect("loc");
    let b = repos.locations.create(&location("B")).expect("loc");
    repos
        .membership_plans
        .create(&plan(a.id, "Утро", 100))
        .expect("create");
    assert_conflict(repos.membership_plans.create(&plan(a.id, "Утро", 200)));
    repos
        .membership_plans
        .create(&plan(b.id, "Утро", 100))
        .expect("the same name at another location is allowed");
}

// ---------------------------------------------------------------- foreign keys

fn plan_of_a_nonexistent_location_is_a_missing_reference(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    assert_missing_reference(repos.membership_plans.create(&plan(9_999, "Утро", 100)));
    let loc = repos.locations.create(&location("A")).expect("loc");
    let p = repos
        .membership_plans
        .create(&plan(loc.id, "Утро", 100))
        .expect("create");
    assert_missing_reference(
        repos
            .membership_plans
            .update(p.id, &plan(9_999, "Утро", 100)),
    );
    assert_eq!(
        repos.membership_plans.get_by_id(p.id).expect("get"),
        Some(p)
    );
}

fn session_with_a_nonexistent_reference_is_a_missing_reference(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let ok = cat.session(base());
    assert_missing_reference(repos.class_sessions.create(&NewClassSession {
        location_id: 9_999,
        ..ok.clone()
    }));
    assert_missing_reference(repos.class_sessions.create(&NewClassSession {
        program_type_id: 9_999,
        ..ok.clone()
    }));
    assert_missing_reference(repos.class_sessions.create(&NewClassSession {
        trainer_id: 9_999,
        ..ok.clone()
    }));
    assert_missing_reference(repos.class_sessions.create(&NewClassSession {
        membership_plan_id: Some(9_999),
        ..ok.clone()
    }));
    assert_missing_reference(repos.class_sessions.create_many(&[
        ok.clone(),
        NewClassSession {
            trainer_id: 9_999,
            ..ok.clone()
        },
    ]));
    assert_eq!(
        repos
            .class_sessions
            .count_by_location(cat.location.id, base(), base() + Duration::days(1))
            .expect("count"),
        0
    );
}

fn lead_with_a_nonexistent_reference_is_a_missing_reference(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let ok = lead("Анна", phone(1), base());
    assert_missing_reference(repos.leads.create(
        &NewLead {
            location_id: Some(9_999),
            ..ok.clone()
        },
        "admin",
    ));
    assert_missing_reference(repos.leads.create(
        &NewLead {
            program_type_id: Some(9_999),
            ..ok.clone()
        },
        "admin",
    ));
    let refused = repos.leads.submit_and_wait(&NewLead {
        class_session_id: Some(9_999),
        ..ok.clone()
    });
    assert!(
        matches!(
            refused,
            Err(SubmitError::MissingReference(LeadReference::ClassSession))
        ),
        "{refused:?}"
    );
    assert_eq!(repos.leads.search(&all_leads()).expect("search").total, 0);
    assert_eq!(count(&t.db, "SELECT COUNT(*) AS n FROM lead_events"), 0);
}

fn failed_lead_update_changes_nothing_and_records_no_event(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let l = repos
        .leads
        .created(&lead("Анна", phone(1), base()), "admin");
    assert_missing_reference(repos.leads.update(
        l.id,
        &LeadChanges {
            location_id: Some(Some(9_999)),
            status: Some(cohai_domain::LeadStatus::Contacted),
            ..LeadChanges::default()
        },
        Some(1),
        "admin",
        base() + Duration::minutes(1),
    ));
    assert_eq!(repos.leads.get_by_id(l.id).expect("get"), Some(l.clone()));
    assert_eq!(
        repos
            .leads
            .events(l.id)
            .expect("events")
            .expect("exists")
            .len(),
        1
    );
}

// ---------------------------------------------------------------- CHECK constraints

fn session_ending_at_or_before_its_start_is_invalid(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    assert_invalid(repos.class_sessions.create(&NewClassSession {
        ends_at: base(),
        ..cat.session(base())
    }));
    assert_invalid(repos.class_sessions.create(&NewClassSession {
        ends_at: base() - Duration::minutes(30),
        ..cat.session(base())
    }));
    // One microsecond is long enough.
    repos
        .class_sessions
        .create(&NewClassSession {
            ends_at: base() + Duration::microseconds(1),
            ..cat.session(base())
        })
        .expect("a positive length is valid");
}

fn session_without_places_is_invalid(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    for capacity in [0, -1] {
        assert_invalid(repos.class_sessions.create(&NewClassSession {
            capacity,
            ..cat.session(base())
        }));
    }
    assert_eq!(
        repos
            .class_sessions
            .create(&NewClassSession {
                capacity: 1,
                ..cat.session(base())
            })
            .expect("one place is valid")
            .capacity,
        1
    );
}

fn blank_catalog_names_are_invalid(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    assert_invalid(repos.locations.create(&location("   ")));
    assert_invalid(repos.program_types.create(&program_type("")));
    assert_invalid(repos.trainers.create(&trainer(" ")));
    let loc = repos.locations.create(&location("A")).expect("loc");
    assert_invalid(repos.membership_plans.create(&plan(loc.id, "  ", 100)));
}

fn non_positive_durations_and_counts_are_invalid(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    assert_invalid(repos.program_types.create(&NewProgramType {
        duration_minutes: 0,
        ..program_type("Ноль")
    }));
    let loc = repos.locations.create(&location("A")).expect("loc");
    assert_invalid(repos.membership_plans.create(&NewMembershipPlan {
        validity_days: 0,
        ..plan(loc.id, "Ноль дней", 100)
    }));
    assert_invalid(repos.membership_plans.create(&NewMembershipPlan {
        visits: Some(0),
        ..plan(loc.id, "Ноль визитов", 100)
    }));
    assert_invalid(repos.locations.create(&NewLocation {
        timezone: String::new(),
        ..location("Без зоны")
    }));
    let unnamed = NewTrainer {
        full_name: String::new(),
        ..trainer("x")
    };
    assert_invalid(repos.trainers.create(&unnamed));
}

fn overlong_lead_fields_are_invalid(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let ok = lead("Анна", phone(1), base());
    // Limits count characters, not bytes: 100 Cyrillic letters fit.
    repos.leads.created(
        &NewLead {
            name: "Я".repeat(100),
            ..ok.clone()
        },
        "admin",
    );
    assert_invalid(repos.leads.create(
        &NewLead {
            name: "Я".repeat(101),
            ..ok.clone()
        },
        "admin",
    ));
    assert_invalid(repos.leads.create(
        &NewLead {
            message: Some("м".repeat(2_001)),
            ..ok.clone()
        },
        "admin",
    ));
    assert_invalid(repos.leads.create(
        &NewLead {
            name: String::new(),
            ..ok.clone()
        },
        "admin",
    ));
    assert_invalid(repos.leads.create(&ok, ""));
}

fn negative_price_cannot_be_built_and_is_rejected_by_the_database(backend: Backend) {
    assert!(Money::new(-1, "RUB").is_none());
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let loc = repos.locations.create(&location("A")).expect("loc");
    let insert = |name: &str, price: i64, currency: &str| {
        exec(
            &t.db,
            &format!(
                "INSERT INTO membership_plans (location_id, name, price_minor, currency, validity_days, is_active) \
                 VALUES ({}, '{name}', {price}, '{currency}', 30, TRUE)",
                loc.id
            ),
        )
    };
    assert!(insert("Минус", -1, "RUB").is_err(), "negative price");
    assert!(
        insert("Строчные", 100, "rub").is_err(),
        "lower-case currency"
    );
    assert!(
        insert("Длинная", 100, "RUBL").is_err(),
        "four-letter currency"
    );
    insert("Ноль", 0, "RUB").expect("a zero price is valid");
    let names: Vec<String> = repos
        .membership_plans
        .list_by_location(loc.id)
        .expect("list")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["Ноль"]);
}

fn unknown_enum_values_are_rejected_by_the_database(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let s = repos
        .class_sessions
        .create(&cat.session(base()))
        .expect("session");
    let l = repos
        .leads
        .created(&lead("Анна", phone(1), base()), "admin");
    for sql in [
        format!(
            "UPDATE class_sessions SET status = 'postponed' WHERE id = {}",
            s.id
        ),
        format!("UPDATE leads SET status = 'archived' WHERE id = {}", l.id),
        format!("UPDATE leads SET source = 'tiktok' WHERE id = {}", l.id),
        format!("UPDATE leads SET phone = '89161234567' WHERE id = {}", l.id),
        format!("UPDATE leads SET version = 0 WHERE id = {}", l.id),
        format!(
            "UPDATE program_types SET level = 'expert' WHERE id = {}",
            cat.program_type.id
        ),
        format!(
            "UPDATE lead_events SET kind = 'deleted' WHERE lead_id = {}",
            l.id
        ),
    ] {
        assert!(exec(&t.db, &sql).is_err(), "{sql}");
    }
    assert_eq!(repos.leads.get_by_id(l.id).expect("get"), Some(l));
}

backend_tests!(
    duplicate_location_name_is_a_conflict,
    renaming_a_location_to_a_taken_name_is_a_conflict,
    duplicate_program_type_name_is_a_conflict,
    duplicate_trainer_name_is_a_conflict,
    duplicate_plan_name_is_a_conflict_within_a_location_only,
    plan_of_a_nonexistent_location_is_a_missing_reference,
    session_with_a_nonexistent_reference_is_a_missing_reference,
    lead_with_a_nonexistent_reference_is_a_missing_reference,
    failed_lead_update_changes_nothing_and_records_no_event,
    session_ending_at_or_before_its_start_is_invalid,
    session_without_places_is_invalid,
    blank_catalog_names_are_invalid,
    non_positive_durations_and_counts_are_invalid,
    overlong_lead_fields_are_invalid,
    negative_price_cannot_be_built_and_is_rejected_by_the_database,
    unknown_enum_values_are_rejected_by_the_database,
);
