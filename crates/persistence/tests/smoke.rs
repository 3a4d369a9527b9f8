//! Quick end-to-end checks of the persistence layer on both backends.

use chrono::Utc;
use cohai_domain::{NewLead, NewLocation};
use cohai_persistence::backend_tests;
use cohai_persistence::testing::builders::{lead, location};
use cohai_persistence::testing::{Backend, TestDatabase, TestLeads};

fn migrations_go_up_down_and_up_again(backend: Backend) {
    let migrations = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations/sqlite"
    ))
    .expect("migrations folder")
    .count();
    let t = TestDatabase::new(backend);
    assert!(t.db.check().expect("check").is_empty());
    let mut conn = t.db.pool().get().expect("conn");
    assert_eq!(
        cohai_persistence::migrations::revert_all(&mut conn).expect("down"),
        migrations
    );
    drop(conn);
    assert!(!t.db.check().expect("check").is_empty());
    assert_eq!(t.db.migrate().expect("up again").len(), migrations);
    assert!(t.db.check().expect("check").is_empty());
}

fn public_submission_deduplicates(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let loc = repos
        .locations
        .create(&NewLocation {
            phone: None,
            ..location("Центр")
        })
        .expect("location");
    let new = NewLead {
        message: Some("hi".into()),
        location_id: Some(loc.id),
        ..lead("Анна", "89161234567", Utc::now())
    };
    let first = repos.leads.submitted_new(&new);
    let again = repos.leads.resubmitted(&new);
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
