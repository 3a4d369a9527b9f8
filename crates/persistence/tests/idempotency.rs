//! Idempotency keys: reservation, replay, mismatch, release, lease takeover, expiry and purge,
//! and exactly one reservation under concurrency, on both backends.

use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, Utc};
use cohai_domain::idempotency::{
    Begin, IdempotencyScope, IdempotentRequest, KEEP_FOR, KeptReply, LEASE, Lease, Reservation,
};
use cohai_domain::ports::IdempotencyRepository;
use cohai_persistence::testing::builders::at;
use cohai_persistence::testing::{Backend, TestDatabase};
use cohai_persistence::{Database, DatabaseUrl, PoolSettings, backend_tests};

fn t0() -> DateTime<Utc> {
    at("2026-12-01T09:00:00Z")
}

fn request(client: &str, endpoint: &str, key: &str, body: char) -> IdempotentRequest {
    IdempotentRequest {
        scope: IdempotencyScope::new(client, endpoint, key).expect("scope"),
        body_sha256: body.to_string().repeat(64),
    }
}

/// The lead form's key `k1` of one client, for a body whose hash is `body` × 64.
fn form(body: char) -> IdempotentRequest {
    request("ip:203.0.113.7", "POST /api/v1/leads", "k1", body)
}

fn reply() -> KeptReply {
    KeptReply {
        status: 201,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("location".into(), "/api/v1/admin/leads/7".into()),
        ],
        body: r#"{"id":7,"name":"Анна"}"#.into(),
    }
}

fn repo(t: &TestDatabase) -> Arc<dyn IdempotencyRepository> {
    t.db.repositories().idempotency
}

fn begin(repo: &dyn IdempotencyRepository, req: &IdempotentRequest, now: DateTime<Utc>) -> Begin {
    repo.begin(req, Lease::starting(now)).expect("begin")
}

fn started(begun: Begin) -> Reservation {
    match begun {
        Begin::Started(reservation) => reservation,
        other => panic!("expected a reservation, got {other:?}"),
    }
}

fn a_key_is_reserved_once_then_replayed_for_the_same_body_only(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repo = repo(&t);
    let mine = started(begin(&*repo, &form('a'), t0()));
    assert_eq!(mine.scope, form('a').scope);
    assert_eq!(begin(&*repo, &form('a'), t0()), Begin::InProgress);
    assert_eq!(begin(&*repo, &form('b'), t0()), Begin::Mismatch);
    assert!(
        repo.complete(&mine, &reply(), t0() + KEEP_FOR)
            .expect("complete")
    );
    assert!(
        !repo
            .complete(&mine, &reply(), t0() + KEEP_FOR)
            .expect("again"),
        "a kept reply is final"
    );
    let later = t0() + Duration::hours(23);
    assert_eq!(begin(&*repo, &form('a'), later), Begin::Replay(reply()));
    assert_eq!(begin(&*repo, &form('b'), later), Begin::Mismatch);
    assert!(!repo.release(&mine).expect("release"), "a kept reply stays");
    assert_eq!(begin(&*repo, &form('a'), later), Begin::Replay(reply()));
}

fn a_released_key_may_be_used_again_with_another_body(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repo = repo(&t);
    let first = started(begin(&*repo, &form('a'), t0()));
    assert!(repo.release(&first).expect("release"));
    assert!(!repo.release(&first).expect("twice"), "already free");
    let second = started(begin(&*repo, &form('b'), t0()));
    assert_ne!(first.token, second.token);
    assert!(
        repo.complete(&second, &reply(), t0() + KEEP_FOR)
            .expect("complete")
    );
    assert_eq!(begin(&*repo, &form('b'), t0()), Begin::Replay(reply()));
}

fn keys_are_scoped_per_client_and_endpoint(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repo = repo(&t);
    for (client, endpoint) in [
        ("ip:203.0.113.7", "POST /api/v1/leads"),
        ("ip:203.0.113.8", "POST /api/v1/leads"),
        ("admin:anna", "POST /api/v1/admin/leads"),
        ("admin:boris", "POST /api/v1/admin/leads"),
        ("admin:anna", "POST /api/v1/admin/locations"),
    ] {
        let req = request(client, endpoint, "k1", 'a');
        started(begin(&*repo, &req, t0()));
        assert_eq!(
            begin(&*repo, &req, t0()),
            Begin::InProgress,
            "{client} {endpoint}"
        );
    }
}

fn a_lease_that_ran_out_is_taken_over_and_the_old_holder_loses_it(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repo = repo(&t);
    let dead = started(begin(&*repo, &form('a'), t0()));
    assert_eq!(
        begin(&*repo, &form('a'), t0() + LEASE - Duration::seconds(1)),
        Begin::InProgress
    );
    // The first request died: after its lease, a retry (with any body) gets the key.
    let retry = started(begin(&*repo, &form('b'), t0() + LEASE));
    assert_ne!(dead.token, retry.token);
    assert!(!repo.renew(&dead, t0() + LEASE * 2).expect("renew"));
    assert!(
        !repo
            .complete(&dead, &reply(), t0() + KEEP_FOR)
            .expect("complete")
    );
    assert!(!repo.release(&dead).expect("release"));
    assert_eq!(begin(&*repo, &form('b'), t0() + LEASE), Begin::InProgress);
    assert!(
        repo.complete(&retry, &reply(), t0() + KEEP_FOR)
            .expect("complete")
    );
    assert_eq!(
        begin(&*repo, &form('b'), t0() + LEASE * 2),
        Begin::Replay(reply())
    );
}

fn a_renewed_lease_holds_the_key_longer(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repo = repo(&t);
    let running = started(begin(&*repo, &form('a'), t0()));
    assert!(repo.renew(&running, t0() + LEASE * 2).expect("renew"));
    assert_eq!(
        begin(&*repo, &form('a'), t0() + LEASE + Duration::seconds(1)),
        Begin::InProgress
    );
    started(begin(&*repo, &form('a'), t0() + LEASE * 2));
}

fn an_expired_key_may_be_used_again(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repo = repo(&t);
    let first = started(begin(&*repo, &form('a'), t0()));
    assert!(
        repo.complete(&first, &reply(), t0() + KEEP_FOR)
            .expect("complete")
    );
    assert_eq!(
        begin(&*repo, &form('b'), t0() + KEEP_FOR - Duration::seconds(1)),
        Begin::Mismatch
    );
    // Expired (not yet purged): the key is free for another body, the old reply is gone.
    let second = started(begin(&*repo, &form('b'), t0() + KEEP_FOR));
    assert_eq!(
        begin(&*repo, &form('b'), t0() + KEEP_FOR),
        Begin::InProgress
    );
    assert!(repo.release(&second).expect("release"));
}

fn purge_removes_only_expired_keys(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repo = repo(&t);
    let kept = started(begin(&*repo, &form('a'), t0()));
    assert!(
        repo.complete(&kept, &reply(), t0() + KEEP_FOR)
            .expect("complete")
    );
    // A reservation whose request died expires a day after it began.
    let abandoned = request("admin:anna", "POST /api/v1/admin/leads", "k1", 'a');
    started(begin(&*repo, &abandoned, t0() + Duration::hours(1)));
    assert_eq!(
        repo.purge_expired(t0() + Duration::hours(23))
            .expect("purge"),
        0
    );
    assert_eq!(begin(&*repo, &form('a'), t0()), Begin::Replay(reply()));
    assert_eq!(repo.purge_expired(t0() + KEEP_FOR).expect("purge"), 1);
    assert_eq!(
        repo.purge_expired(t0() + KEEP_FOR + Duration::hours(1))
            .expect("purge"),
        1
    );
    assert_eq!(repo.purge_expired(t0() + KEEP_FOR * 2).expect("purge"), 0);
    started(begin(&*repo, &form('a'), t0()));
}

/// `n` threads present `req` at once at `now`: their outcomes.
fn at_once(
    repo: &Arc<dyn IdempotencyRepository>,
    req: &IdempotentRequest,
    now: DateTime<Utc>,
) -> Vec<Begin> {
    const N: usize = 10;
    let barrier = Barrier::new(N);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..N)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    begin(&**repo, req, now)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    })
}

fn concurrent_requests_reserve_a_key_once(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repo = repo(&t);
    let outcomes = at_once(&repo, &form('a'), t0());
    let reserved = outcomes
        .iter()
        .filter(|b| matches!(b, Begin::Started(_)))
        .count();
    assert_eq!(reserved, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|b| matches!(b, Begin::Started(_) | Begin::InProgress)),
        "{outcomes:?}"
    );
}

fn two_instances_sharing_the_database_reserve_a_key_once(backend: Backend) {
    let t = TestDatabase::new(backend);
    // A second instance: its own pool (and, on SQLite, its own writer lock) on the same database.
    let other = Database::open(DatabaseUrl::parse(&t.url), &PoolSettings::default())
        .expect("second instance");
    let repos = [repo(&t), other.repositories().idempotency];
    const N: usize = 10;
    let barrier = Barrier::new(N);
    let outcomes: Vec<Begin> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let (repo, barrier) = (&repos[i % 2], &barrier);
                s.spawn(move || {
                    barrier.wait();
                    begin(&**repo, &form('a'), t0())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let reserved = outcomes
        .iter()
        .filter(|b| matches!(b, Begin::Started(_)))
        .count();
    assert_eq!(reserved, 1, "{outcomes:?}");
}

fn concurrent_takeovers_of_a_dead_lease_reserve_it_once(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repo = repo(&t);
    started(begin(&*repo, &form('a'), t0()));
    let outcomes = at_once(&repo, &form('a'), t0() + LEASE);
    let reserved = outcomes
        .iter()
        .filter(|b| matches!(b, Begin::Started(_)))
        .count();
    assert_eq!(reserved, 1, "{outcomes:?}");
}

backend_tests!(
    a_key_is_reserved_once_then_replayed_for_the_same_body_only,
    a_released_key_may_be_used_again_with_another_body,
    keys_are_scoped_per_client_and_endpoint,
    a_lease_that_ran_out_is_taken_over_and_the_old_holder_loses_it,
    a_renewed_lease_holds_the_key_longer,
    an_expired_key_may_be_used_again,
    purge_removes_only_expired_keys,
    concurrent_requests_reserve_a_key_once,
    concurrent_takeovers_of_a_dead_lease_reserve_it_once,
    two_instances_sharing_the_database_reserve_a_key_once,
);
