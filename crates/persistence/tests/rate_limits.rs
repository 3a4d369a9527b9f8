//! The lead form's rate limit kept in the database (used on PostgreSQL by every instance):
//! exactly the quota gets through, also from many threads at once, for several clients and
//! through two instances (two pools) on one database; a refusal says how long to
//! wait and uses no allowance; allowance comes back with time; purging forgets only clients
//! whose allowance is whole — on both backends.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use cohai_domain::rate_limit::{RateDecision, RateQuota};
use cohai_persistence::backend_tests;
use cohai_persistence::testing::builders::at;
use cohai_persistence::testing::{Backend, TestDatabase, count, prepared_statements};
use cohai_persistence::{Database, DatabaseUrl, PoolSettings};

fn ten_a_minute() -> RateQuota {
    RateQuota::per_minute(10).expect("a quota")
}

fn noon() -> DateTime<Utc> {
    at("2026-12-01T12:00:00Z")
}

fn allowed(decision: RateDecision) -> bool {
    matches!(decision, RateDecision::Allowed { .. })
}

fn exactly_the_quota_gets_through_then_a_refusal_says_how_long_to_wait(backend: Backend) {
    let t = TestDatabase::new(backend);
    let limits = t.db.repositories().rate_limits;
    for n in 0..10 {
        let decision = limits
            .acquire("lead:203.0.113.9", ten_a_minute(), noon())
            .expect("acquire");
        assert!(allowed(decision), "request {n}: {decision:?}");
    }
    let later = noon() + TimeDelta::milliseconds(2_500);
    assert_eq!(
        limits
            .acquire("lead:203.0.113.9", ten_a_minute(), later)
            .expect("acquire"),
        RateDecision::Limited {
            retry_after: Duration::from_millis(3_500)
        }
    );
    // Another client has its own allowance.
    assert!(allowed(
        limits
            .acquire("lead:198.51.100.7", ten_a_minute(), later)
            .expect("acquire")
    ));
}

fn allowance_comes_back_with_time_and_refusals_use_none(backend: Backend) {
    let t = TestDatabase::new(backend);
    let limits = t.db.repositories().rate_limits;
    let client = "lead:2001:db8::1";
    let tries = |at: DateTime<Utc>, times: usize| {
        (0..times)
            .filter(|_| allowed(limits.acquire(client, ten_a_minute(), at).expect("acquire")))
            .count()
    };
    assert_eq!(tries(noon(), 30), 10);
    assert_eq!(tries(noon() + TimeDelta::milliseconds(5_999), 5), 0);
    assert_eq!(
        tries(noon() + TimeDelta::seconds(6), 5),
        1,
        "one back in 6 s"
    );
    assert_eq!(tries(noon() + TimeDelta::minutes(5), 30), 10, "whole again");
}

/// Runs `request(n)` on `threads` threads released at once; their results in thread order.
fn at_once<T: Send + 'static>(
    threads: usize,
    request: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let start = Arc::new(std::sync::Barrier::new(threads));
    let request = Arc::new(request);
    let handles: Vec<_> = (0..threads)
        .map(|n| {
            let (start, request) = (Arc::clone(&start), Arc::clone(&request));
            std::thread::spawn(move || {
                start.wait();
                request(n)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a thread"))
        .collect()
}

fn concurrent_requests_of_one_client_are_counted_exactly(backend: Backend) {
    let t = TestDatabase::new(backend);
    let limits = t.db.repositories().rate_limits;
    let quota = RateQuota::per_minute(25).expect("a quota");
    let through: usize = at_once(8, move |_| {
        (0..10)
            .filter(|_| {
                allowed(
                    limits
                        .acquire("lead:203.0.113.50", quota, noon())
                        .expect("acquire"),
                )
            })
            .count()
    })
    .into_iter()
    .sum();
    assert_eq!(through, 25, "80 requests at once, a quota of 25");
}

fn concurrent_requests_of_several_clients_are_each_counted_exactly(backend: Backend) {
    let t = TestDatabase::new(backend);
    let limits = t.db.repositories().rate_limits;
    // 16 threads, four per client, 12 requests each: 48 a client against a quota of 10.
    let decided = at_once(16, move |n| {
        let client = format!("lead:203.0.113.{}", n % 4);
        (0..12)
            .map(|_| {
                limits
                    .acquire(&client, ten_a_minute(), noon())
                    .expect("acquire")
            })
            .collect::<Vec<_>>()
    });
    let mut allowed_per_client = [0; 4];
    for (n, decisions) in decided.into_iter().enumerate() {
        for decision in decisions {
            match decision {
                RateDecision::Allowed { .. } => allowed_per_client[n % 4] += 1,
                RateDecision::Limited { retry_after } => {
                    assert_eq!(retry_after, Duration::from_secs(6), "one interval from now");
                }
            }
        }
    }
    assert_eq!(allowed_per_client, [10; 4]);
    assert_eq!(count(&t.db, "SELECT COUNT(*) AS n FROM rate_limits"), 4);
}

fn two_instances_count_their_clients_together(backend: Backend) {
    let t = TestDatabase::new(backend);
    // A second instance: its own pool (and, on SQLite, its own writer lock) on the same database.
    let other = Database::open(DatabaseUrl::parse(&t.url), &PoolSettings::default())
        .expect("a second instance");
    let instances = [
        t.db.repositories().rate_limits,
        other.repositories().rate_limits,
    ];
    // 16 threads over two instances, each asking for the same four clients in its own order.
    let through: usize = at_once(16, move |n| {
        (0..24)
            .filter(|k| {
                let client = format!("lead:198.51.100.{}", (n + k) % 4);
                allowed(
                    instances[n % 2]
                        .acquire(&client, ten_a_minute(), noon())
                        .expect("acquire"),
                )
            })
            .count()
    })
    .into_iter()
    .sum();
    assert_eq!(through, 40, "four clients, ten each, over both instances");
}

fn purging_forgets_only_clients_whose_allowance_is_whole(backend: Backend) {
    let t = TestDatabase::new(backend);
    let limits = t.db.repositories().rate_limits;
    limits
        .acquire("lead:a", ten_a_minute(), noon())
        .expect("acquire");
    for _ in 0..10 {
        limits
            .acquire("lead:b", ten_a_minute(), noon())
            .expect("acquire");
    }
    // a's allowance is whole 6 s after its one request, b's a minute after its ten.
    // Another limit's client, whole again too, is not this purge's.
    limits
        .acquire("sign_in:a", ten_a_minute(), noon())
        .expect("acquire");
    let purged = limits
        .purge("lead:", noon() + TimeDelta::seconds(30))
        .expect("purge");
    assert_eq!(purged, 1);
    assert_eq!(
        limits
            .purge("sign_in:", noon() + TimeDelta::seconds(30))
            .expect("purge"),
        1
    );
    assert_eq!(count(&t.db, "SELECT COUNT(*) AS n FROM rate_limits"), 1);
    // b kept its state: half a minute gave it back half its allowance, not all of it.
    let half_a_minute_on = (0..10)
        .filter(|_| {
            allowed(
                limits
                    .acquire("lead:b", ten_a_minute(), noon() + TimeDelta::seconds(30))
                    .expect("acquire"),
            )
        })
        .count();
    assert_eq!(half_a_minute_on, 5);
    assert_eq!(
        limits
            .purge("lead:", noon() + TimeDelta::minutes(2))
            .expect("purge"),
        1
    );
    assert_eq!(count(&t.db, "SELECT COUNT(*) AS n FROM rate_limits"), 0);
}

/// The upsert runs as one statement that PostgreSQL parsed and planned once per connection,
/// whoever the client and whatever the quota (SQLite prepares statements in-process; on
/// PostgreSQL a text sent anew is parsed and planned again for each request).
#[test]
fn postgres_runs_the_upsert_as_one_prepared_statement() {
    let t = TestDatabase::with_settings(
        Backend::Postgres,
        &PoolSettings {
            max_size: 1,
            ..PoolSettings::default()
        },
    );
    t.db.migrate().expect("migrate");
    let limits = t.db.repositories().rate_limits;
    for (n, client) in ["lead:203.0.113.1", "lead:203.0.113.2", "sign_in:a"]
        .into_iter()
        .enumerate()
    {
        let quota = RateQuota::per_minute(5 + n as u32).expect("a quota");
        for _ in 0..3 {
            limits.acquire(client, quota, noon()).expect("acquire");
        }
    }

    // The pool's one connection, on which every request ran.
    let mut conn = t.db.pool().get().expect("the connection");
    let upserts: Vec<(String, i64)> = prepared_statements(&mut conn)
        .into_iter()
        .filter(|(statement, _)| statement.starts_with("INSERT INTO rate_limits"))
        .collect();
    assert_eq!(upserts.len(), 1, "one text for every client and quota");
    assert_eq!(upserts[0].1, 9, "{}", upserts[0].0);
}

backend_tests!(
    exactly_the_quota_gets_through_then_a_refusal_says_how_long_to_wait,
    allowance_comes_back_with_time_and_refusals_use_none,
    concurrent_requests_of_one_client_are_counted_exactly,
    concurrent_requests_of_several_clients_are_each_counted_exactly,
    two_instances_count_their_clients_together,
    purging_forgets_only_clients_whose_allowance_is_whole,
);
