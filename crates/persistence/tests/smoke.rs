//! Quick end-to-end checks of the persistence layer on both backends.

use chrono::Utc;
use cohai_domain::{LeadSource, LeadStatus, NewLead, NewLocation, Phone, Submission};
use cohai_persistence::backend_tests;
use cohai_persistence::testing::{Backend, SubmitAndWait, TestDatabase};

fn migrations_go_up_down_and_up_again(backend: Backend) {
    let t = TestDatabase::new(backend);
    assert!(t.db.check().expect("check").is_empty());
    let mut conn = t.db.pool().get().expect("conn");
    assert_eq!(
        cohai_persistence::migrations::revert_all(&mut conn).expect("down"),
        2
    );
    drop(conn);
    assert!(!t.db.check().expect("check").is_empty());
    assert_eq!(t.db.migrate().expect("up again").len(), 2);
    assert!(t.db.check().expect("check").is_empty());
}

fn public_submission_deduplicates(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let loc = repos
        .locations
        .create(&NewLocation {
            name: "Центр".into(),
            address: "ул. Тверская, 1".into(),
            city: "Москва".into(),
            phone: None,
            timezone: "Europe/Moscow".into(),
            is_active: true,
        })
        .expect("location");
    let new = NewLead {
        name: "Анна".into(),
        phone: Phone::parse("89161234567").expect("phone"),
        email: None,
        message: Some("hi".into()),
        location_id: Some(loc.id),
        program_type_id: None,
        class_session_id: None,
        source: LeadSource::Website,
        status: LeadStatus::New,
        notes: None,
        utm_source: None,
        utm_medium: None,
        utm_campaign: None,
        created_at: Utc::now(),
    };
    let since = Utc::now() - chrono::Duration::hours(24);
    let Submission::Created(first) = repos.leads.submit_and_wait(&new, since).expect("submit")
    else {
        panic!("expected created")
    };
    let Submission::Resubmitted(again) = repos.leads.submit_and_wait(&new, since).expect("submit")
    else {
        panic!("expected resubmitted")
    };
    assert_eq!(first.id, again.id);
    let events = repos
        .leads
        .events(first.id)
        .expect("events")
        .expect("lead exists");
    assert_eq!(events.len(), 2);
}

backend_tests!(
    migrations_go_up_down_and_up_again,
    public_submission_deduplicates
);
