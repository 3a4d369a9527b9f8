//! Cancellation reasons and the change counter (`version`) of class sessions, on both backends.

mod common;

use cohai_domain::{ClassSession, MAX_CANCELLATION_REASON_CHARS, RepoError, SessionStatus};
use cohai_persistence::backend_tests;
use cohai_persistence::testing::{Backend, TestDatabase};
use common::{base, catalog, exec};

fn a_new_session_has_version_1_and_no_reason(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let s = cat.stored_session(&repos, base());
    assert_eq!((s.version, s.cancellation_reason), (1, None));
}

fn cancel_stores_the_reason_and_increments_the_version(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let s = cat.stored_session(&repos, base());
    let reason = "Тренер заболел;\nперенос на среду, 19:00";
    let cancelled = repos
        .class_sessions
        .cancel(s.id, reason)
        .expect("cancel")
        .expect("exists");
    assert_eq!(
        cancelled,
        ClassSession {
            status: SessionStatus::Cancelled,
            cancellation_reason: Some(reason.to_owned()),
            version: 2,
            ..s.clone()
        }
    );
    assert_eq!(
        repos.class_sessions.get_by_id(s.id).expect("get"),
        Some(cancelled.clone())
    );
    // Cancelling again with another reason is a change too.
    let again = repos
        .class_sessions
        .cancel(s.id, "Ремонт зала")
        .expect("cancel")
        .expect("exists");
    assert_eq!(again.version, 3);
    assert_eq!(again.cancellation_reason.as_deref(), Some("Ремонт зала"));
    // `set_status(cancelled)` keeps the reason; `scheduled` clears it.
    let kept = repos
        .class_sessions
        .set_status(s.id, SessionStatus::Cancelled)
        .expect("set")
        .expect("exists");
    assert_eq!(
        (kept.version, kept.cancellation_reason.as_deref()),
        (4, Some("Ремонт зала"))
    );
    let back = repos
        .class_sessions
        .set_status(s.id, SessionStatus::Scheduled)
        .expect("set")
        .expect("exists");
    assert_eq!(back, ClassSession { version: 5, ..s });
}

fn cancel_of_an_unknown_id_is_none(backend: Backend) {
    let t = TestDatabase::new(backend);
    assert_eq!(
        t.db.repositories()
            .class_sessions
            .cancel(42, "нет такого")
            .expect("cancel"),
        None
    );
}

fn a_reason_of_500_characters_is_kept_and_501_are_refused(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let s = cat.stored_session(&repos, base());
    // Two-byte characters: the limit counts characters, not bytes.
    let longest = "я".repeat(MAX_CANCELLATION_REASON_CHARS);
    let cancelled = repos
        .class_sessions
        .cancel(s.id, &longest)
        .expect("cancel")
        .expect("exists");
    assert_eq!(cancelled.cancellation_reason.as_deref(), Some(&*longest));
    let err = repos
        .class_sessions
        .cancel(s.id, &format!("{longest}я"))
        .expect_err("too long");
    assert!(matches!(err, RepoError::Invalid(_)), "{err:?}");
    assert_eq!(
        repos.class_sessions.get_by_id(s.id).expect("get"),
        Some(cancelled),
        "a refused change changes nothing, the version included"
    );
}

fn the_database_refuses_a_reason_on_a_scheduled_session(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let s = cat.stored_session(&repos, base());
    exec(
        &t.db,
        &format!(
            "UPDATE class_sessions SET cancellation_reason = 'x' WHERE id = {}",
            s.id
        ),
    )
    .expect_err("CHECK refuses a reason without cancellation");
    exec(
        &t.db,
        &format!(
            "UPDATE class_sessions SET status = 'cancelled', cancellation_reason = 'x' \
             WHERE id = {}",
            s.id
        ),
    )
    .expect("a cancelled session may have a reason");
}

backend_tests!(
    a_new_session_has_version_1_and_no_reason,
    cancel_stores_the_reason_and_increments_the_version,
    cancel_of_an_unknown_id_is_none,
    a_reason_of_500_characters_is_kept_and_501_are_refused,
    the_database_refuses_a_reason_on_a_scheduled_session,
);
