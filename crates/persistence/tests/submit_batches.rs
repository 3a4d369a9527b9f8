//! Many concurrent submissions: the lead writer stores them in batches (several per
//! transaction), and the outcome must be the same as if they had run one after another. Also
//! the writer's bounds: a full queue and a long wait are refused, not stored late.

mod common;

use std::collections::BTreeMap;
use std::sync::Barrier;
use std::task::{Context, Poll, Waker};
use std::time::Duration as StdDuration;

use cohai_domain::ports::{BoxFuture, SubmitError};
use cohai_domain::{LeadEventKind, NewLead, Phone, RepoError, Submission};
use cohai_persistence::backend_tests;
use cohai_persistence::testing::builders::{lead, phone};
use cohai_persistence::testing::{
    Backend, DEDUP_WINDOW, TestDatabase, TestLeads, block_on, count, lead_of,
};
use cohai_persistence::{
    ConnectionManager, LEAD_MAX_BATCH, LEAD_QUEUE_CAPACITY, PoolSettings, Repositories,
};
use common::{all_leads, base};
use diesel::connection::SimpleConnection;
use r2d2::PooledConnection;

/// Submits every lead from its own thread, all released at once; results in input order.
fn submit_all(repos: &Repositories, leads: &[NewLead]) -> Vec<Result<Submission, SubmitError>> {
    let barrier = Barrier::new(leads.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = leads
            .iter()
            .map(|new| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    repos.leads.submit_and_wait(new)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    })
}

fn mixed_duplicate_and_distinct_phones_give_one_lead_per_phone(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    // 10 phones submitted 6 times each, interleaved with 60 phones submitted once.
    let leads: Vec<NewLead> = (0..120u32)
        .map(|i| {
            let n = if i % 2 == 0 { i / 2 % 10 } else { 1000 + i };
            lead(&format!("Анна {i}"), phone(n), base())
        })
        .collect();
    let outcomes = submit_all(&repos, &leads);

    let mut by_phone: BTreeMap<&str, Vec<&Submission>> = BTreeMap::new();
    for (new, outcome) in leads.iter().zip(&outcomes) {
        let outcome = outcome.as_ref().expect("submit");
        by_phone
            .entry(new.phone.as_str())
            .or_default()
            .push(outcome);
    }
    assert_eq!(by_phone.len(), 70);
    for (phone, outcomes) in &by_phone {
        let created = outcomes
            .iter()
            .filter(|o| matches!(o, Submission::Created(_)))
            .count();
        assert_eq!(created, 1, "{phone}: {outcomes:?}");
        let id = lead_of(outcomes[0]).id;
        assert!(outcomes.iter().all(|o| lead_of(o).id == id), "{phone}");
        let kinds: Vec<LeadEventKind> = repos
            .leads
            .events(id)
            .expect("events")
            .expect("lead exists")
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds.len(), outcomes.len(), "{phone}");
        assert_eq!(kinds[0], LeadEventKind::Created);
        assert!(kinds[1..].iter().all(|k| *k == LeadEventKind::Resubmitted));
    }
    assert_eq!(repos.leads.search(&all_leads()).expect("search").total, 70);
    assert_eq!(count(&t.db, "SELECT COUNT(*) AS n FROM lead_events"), 120);
}

fn a_failing_submission_fails_alone_among_concurrent_ones(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    // Every eighth submission references a location that does not exist: the foreign key
    // rejects it (the service's reference check is bypassed here).
    let leads: Vec<NewLead> = (0..64u32)
        .map(|i| NewLead {
            location_id: (i % 8 == 3).then_some(999_999),
            ..lead(&format!("Анна {i}"), phone(i), base())
        })
        .collect();
    let outcomes = submit_all(&repos, &leads);

    for (new, outcome) in leads.iter().zip(&outcomes) {
        match (new.location_id, outcome) {
            (Some(_), Err(SubmitError::MissingReference(_)))
            | (None, Ok(Submission::Created(_))) => {}
            _ => panic!("{new:?}: unexpected {outcome:?}"),
        }
    }
    assert_eq!(repos.leads.search(&all_leads()).expect("search").total, 56);
    assert_eq!(count(&t.db, "SELECT COUNT(*) AS n FROM lead_events"), 56);
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(*) AS n FROM leads WHERE location_id IS NOT NULL"
        ),
        0
    );
}

fn a_rejected_submission_does_not_count_as_the_phones_open_lead(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    // Per phone: one submission with a bad reference and two valid ones, all at once. The bad
    // one is rejected when it would create the lead, and joins the lead (a resubmission never
    // writes the reference) when a valid one came first. Either way: one lead per phone.
    let leads: Vec<NewLead> = (0..16u32)
        .flat_map(|p| {
            let valid = lead(&format!("Анна {p}"), phone(p), base());
            let bad = NewLead {
                class_session_id: Some(999_999),
                ..valid.clone()
            };
            [bad, valid.clone(), valid]
        })
        .collect();
    let outcomes = submit_all(&repos, &leads);

    let mut joined = 0;
    for (new, outcome) in leads.iter().zip(&outcomes) {
        match (new.class_session_id, outcome) {
            (Some(_), Err(SubmitError::MissingReference(_))) | (None, Ok(_)) => {}
            (Some(_), Ok(Submission::Resubmitted(_))) => joined += 1,
            _ => panic!("{new:?}: unexpected {outcome:?}"),
        }
    }
    assert_eq!(repos.leads.search(&all_leads()).expect("search").total, 16);
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(*) AS n FROM leads WHERE class_session_id IS NOT NULL"
        ),
        0
    );
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(*) AS n FROM lead_events WHERE kind = 'created'"
        ),
        16
    );
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(*) AS n FROM lead_events WHERE kind = 'resubmitted'"
        ),
        16 + joined
    );
}

fn submissions_and_other_writes_interleave_safely(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    // Admin creations (the writer lock, no batching) alongside public submissions.
    let barrier = Barrier::new(40);
    std::thread::scope(|s| {
        for i in 0..40u32 {
            let (repos, barrier) = (&repos, &barrier);
            s.spawn(move || {
                let new = lead(&format!("Анна {i}"), phone(i), base());
                barrier.wait();
                if i < 20 {
                    repos.leads.submitted(&new);
                } else {
                    repos.leads.created(&new, "admin");
                }
            });
        }
    });
    assert_eq!(repos.leads.search(&all_leads()).expect("search").total, 40);
    assert_eq!(count(&t.db, "SELECT COUNT(*) AS n FROM lead_events"), 40);
}

/// Holds what the lead writer needs until released: SQLite's write lock, or on PostgreSQL the
/// per-phone lock of `phone`. The writer's batch waits for it meanwhile.
struct WriterBlock {
    conn: PooledConnection<ConnectionManager>,
    backend: Backend,
}

impl WriterBlock {
    fn hold(t: &TestDatabase, backend: Backend, phone: &Phone) -> Self {
        let mut conn = t.db.pool().get().expect("connection");
        let sql = match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE".to_owned(),
            Backend::Postgres => format!(
                "SELECT pg_advisory_lock(hashtextextended('{}', 0))",
                phone.as_str()
            ),
        };
        conn.batch_execute(&sql).expect("take the lock");
        Self { conn, backend }
    }

    fn release(mut self) {
        let sql = match self.backend {
            Backend::Sqlite => "ROLLBACK",
            Backend::Postgres => "SELECT pg_advisory_unlock_all()",
        };
        self.conn.batch_execute(sql).expect("release the lock");
    }
}

type Outcome = Result<Submission, SubmitError>;

/// Queues `new`; the future resolves with its outcome.
fn queue(repos: &Repositories, new: NewLead) -> BoxFuture<Outcome> {
    repos.leads.submit(new, base() - DEDUP_WINDOW)
}

/// The outcome if it is known without waiting (a refusal is ready at once).
fn outcome_now(future: &mut BoxFuture<Outcome>) -> Option<Outcome> {
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(outcome) => Some(outcome),
        Poll::Pending => None,
    }
}

fn a_full_queue_refuses_more_submissions_at_once(backend: Backend) {
    let t = TestDatabase::with_settings(
        backend,
        &PoolSettings {
            // No submission may count as waiting too long while the writer is held.
            connection_timeout: StdDuration::from_secs(60),
            ..PoolSettings::default()
        },
    );
    t.db.migrate().expect("migrate");
    let repos = t.db.repositories();
    let block = WriterBlock::hold(&t, backend, &phone(0));
    let first = queue(&repos, lead("Анна", phone(0), base()));
    std::thread::sleep(StdDuration::from_millis(200)); // the writer takes it and waits
    // One phone throughout: on PostgreSQL each phone has its writer (and queue), and this
    // one's is held.
    let total = LEAD_QUEUE_CAPACITY + LEAD_MAX_BATCH + 10;
    let rest: Vec<_> = (1..total as u32)
        .map(|i| queue(&repos, lead(&format!("Анна {i}"), phone(0), base())))
        .collect();
    // Refusals come at once, on the submitting thread: collect them before releasing.
    let mut rest = rest;
    let at_once: Vec<Option<Outcome>> = rest.iter_mut().map(outcome_now).collect();
    block.release();

    assert!(matches!(block_on(first), Ok(Submission::Created(_))));
    let mut refused = 0;
    for (future, early) in rest.into_iter().zip(at_once) {
        match early {
            Some(Err(SubmitError::Repo(RepoError::Unavailable(_)))) => refused += 1,
            Some(other) => panic!("an outcome before the writer could store: {other:?}"),
            None => assert!(matches!(block_on(future), Ok(Submission::Resubmitted(_)))),
        }
    }
    // The writer held one batch (up to LEAD_MAX_BATCH) when the queue filled up behind it.
    let accepted = total - refused;
    assert!(
        (LEAD_QUEUE_CAPACITY + 1..=LEAD_QUEUE_CAPACITY + LEAD_MAX_BATCH).contains(&accepted),
        "{accepted} accepted of {total}"
    );
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) AS n FROM lead_events"),
        accepted as i64,
        "every accepted submission is recorded, no refused one"
    );
}

fn a_submission_that_waited_longer_than_the_pool_timeout_is_refused(backend: Backend) {
    let t = TestDatabase::with_settings(
        backend,
        &PoolSettings {
            connection_timeout: StdDuration::from_millis(300),
            ..PoolSettings::default()
        },
    );
    t.db.migrate().expect("migrate");
    let repos = t.db.repositories();
    let block = WriterBlock::hold(&t, backend, &phone(0));
    let first = queue(&repos, lead("Анна", phone(0), base()));
    std::thread::sleep(StdDuration::from_millis(100)); // the writer takes it and waits
    // Same phone, so the same (held) writer on PostgreSQL too.
    let late = queue(&repos, lead("Борис", phone(0), base()));
    std::thread::sleep(StdDuration::from_millis(700));
    block.release();

    assert!(matches!(block_on(first), Ok(Submission::Created(_))));
    assert!(matches!(
        block_on(late),
        Err(SubmitError::Repo(RepoError::Unavailable(_)))
    ));
    assert_eq!(count(&t.db, "SELECT COUNT(*) AS n FROM lead_events"), 1);
}

backend_tests!(
    mixed_duplicate_and_distinct_phones_give_one_lead_per_phone,
    a_failing_submission_fails_alone_among_concurrent_ones,
    a_rejected_submission_does_not_count_as_the_phones_open_lead,
    submissions_and_other_writes_interleave_safely,
    a_full_queue_refuses_more_submissions_at_once,
    a_submission_that_waited_longer_than_the_pool_timeout_is_refused,
);
