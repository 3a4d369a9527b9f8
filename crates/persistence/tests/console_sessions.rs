//! Sessions of the managers' console kept in the database: a stored session is found by its
//! token's hash until it expires, a deleted one is gone, the token hash is unique and only
//! 64 characters long, and purging deletes only expired sessions — on both backends.

use chrono::{DateTime, TimeDelta, Utc};
use cohai_domain::RepoError;
use cohai_domain::console_session::StoredConsoleSession;
use cohai_persistence::backend_tests;
use cohai_persistence::testing::builders::at;
use cohai_persistence::testing::{Backend, TestDatabase, count};

fn noon() -> DateTime<Utc> {
    at("2026-12-01T12:00:00Z")
}

/// A session of `anna` whose token hash is 64 times `c`, opened at noon (with microseconds,
/// which the database keeps) and lasting `lasts`.
fn session(c: char, lasts: TimeDelta) -> StoredConsoleSession {
    let created_at = noon() + TimeDelta::microseconds(123_456);
    StoredConsoleSession {
        token_sha256: c.to_string().repeat(64),
        key_name: "manager-anna".to_owned(),
        key_fingerprint: "5f2b9c1e".to_owned(),
        created_at,
        expires_at: created_at + lasts,
    }
}

fn sessions_in(t: &TestDatabase) -> i64 {
    count(&t.db, "SELECT COUNT(*) AS n FROM console_sessions")
}

fn a_stored_session_is_found_by_its_token_hash_as_it_was_stored(backend: Backend) {
    let t = TestDatabase::new(backend);
    let sessions = t.db.repositories().console_sessions;
    let stored = session('a', TimeDelta::hours(12));
    sessions.insert(&stored).expect("insert");
    assert_eq!(
        sessions
            .find(&stored.token_sha256, noon() + TimeDelta::hours(1))
            .expect("find"),
        Some(stored)
    );
    assert_eq!(
        sessions
            .find(&"b".repeat(64), noon() + TimeDelta::hours(1))
            .expect("find"),
        None,
        "another hash names no session"
    );
}

fn an_expired_session_is_not_found(backend: Backend) {
    let t = TestDatabase::new(backend);
    let sessions = t.db.repositories().console_sessions;
    let stored = session('a', TimeDelta::hours(1));
    sessions.insert(&stored).expect("insert");
    let just_before = stored.expires_at - TimeDelta::microseconds(1);
    assert!(
        sessions
            .find(&stored.token_sha256, just_before)
            .expect("find")
            .is_some()
    );
    assert_eq!(
        sessions
            .find(&stored.token_sha256, stored.expires_at)
            .expect("find"),
        None,
        "it ends at expires_at"
    );
    assert_eq!(
        sessions
            .find(&stored.token_sha256, noon() + TimeDelta::days(1))
            .expect("find"),
        None
    );
}

fn a_deleted_session_is_gone_and_deleting_none_is_no_error(backend: Backend) {
    let t = TestDatabase::new(backend);
    let sessions = t.db.repositories().console_sessions;
    let (ended, kept) = (
        session('a', TimeDelta::hours(12)),
        session('b', TimeDelta::hours(12)),
    );
    sessions.insert(&ended).expect("insert");
    sessions.insert(&kept).expect("insert");
    sessions.delete(&ended.token_sha256).expect("delete");
    assert_eq!(
        sessions.find(&ended.token_sha256, noon()).expect("find"),
        None
    );
    assert!(
        sessions
            .find(&kept.token_sha256, noon())
            .expect("find")
            .is_some(),
        "the other session stays"
    );
    sessions.delete(&ended.token_sha256).expect("delete again");
    sessions
        .delete(&"c".repeat(64))
        .expect("delete one never stored");
    assert_eq!(sessions_in(&t), 1);
}

fn a_token_hash_is_stored_once_and_must_be_64_characters(backend: Backend) {
    let t = TestDatabase::new(backend);
    let sessions = t.db.repositories().console_sessions;
    let stored = session('a', TimeDelta::hours(12));
    sessions.insert(&stored).expect("insert");
    let err = sessions.insert(&stored).expect_err("the same hash twice");
    assert!(matches!(err, RepoError::Conflict(_)), "{err:?}");
    let short = StoredConsoleSession {
        token_sha256: "a".repeat(63),
        ..session('a', TimeDelta::hours(12))
    };
    let err = sessions.insert(&short).expect_err("63 characters");
    assert!(matches!(err, RepoError::Invalid(_)), "{err:?}");
    assert_eq!(sessions_in(&t), 1);
}

fn purging_deletes_only_expired_sessions_and_counts_them(backend: Backend) {
    let t = TestDatabase::new(backend);
    let sessions = t.db.repositories().console_sessions;
    let short = [
        session('a', TimeDelta::minutes(30)),
        session('b', TimeDelta::hours(1)),
    ];
    let long = session('c', TimeDelta::hours(12));
    for stored in short.iter().chain([&long]) {
        sessions.insert(stored).expect("insert");
    }
    assert_eq!(sessions.purge_expired(noon()).expect("purge"), 0);
    assert_eq!(
        sessions
            .purge_expired(noon() + TimeDelta::hours(2))
            .expect("purge"),
        2
    );
    assert_eq!(sessions_in(&t), 1);
    assert_eq!(
        sessions
            .find(&long.token_sha256, noon() + TimeDelta::hours(2))
            .expect("find"),
        Some(long)
    );
    assert_eq!(
        sessions
            .purge_expired(noon() + TimeDelta::hours(2))
            .expect("purge again"),
        0
    );
}

backend_tests!(
    a_stored_session_is_found_by_its_token_hash_as_it_was_stored,
    an_expired_session_is_not_found,
    a_deleted_session_is_gone_and_deleting_none_is_no_error,
    a_token_hash_is_stored_once_and_must_be_64_characters,
    purging_deletes_only_expired_sessions_and_counts_them,
);
