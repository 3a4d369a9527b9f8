//! Many concurrent submissions: the lead writer stores them in batches (several per
//! transaction), and the outcome must be the same as if they had run one after another. Also
//! the writer's bounds: a full queue and a long wait are refused, not stored late.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Barrier;
use std::task::{Context, Poll, Waker};
use std::time::Duration as StdDuration;

use cohai_domain::ports::{BoxFuture, SubmitError};
use cohai_domain::{LeadEventKind, NewLead, Phone, RepoError, Submission};
use cohai_persistence::backend_tests;
use cohai_persistence::testing::builders::{lead, phone};
use cohai_persistence::testing::{
    Backend, DEDUP_WINDOW, TestDatabase, TestLeads, block_on, count, lead_of, prepared_statements,
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

/// Event types of the outbox rows of lead `id`, in id order.
fn outbox_types(t: &TestDatabase, id: i64) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        event_type: String,
    }
    let mut conn = t.db.pool().get().expect("raw connection");
    let rows: Vec<Row> = diesel::RunQueryDsl::load(
        diesel::sql_query(format!(
            "SELECT event_type FROM outbox_events WHERE lead_id = {id} ORDER BY id"
        )),
        &mut **conn,
    )
    .expect("outbox rows");
    rows.into_iter().map(|r| r.event_type).collect()
}

/// What a sequence of submissions came to, comparable across databases: per submission its
/// outcome and the position of the submission whose lead it got (`None` for a lead stored
/// before); per such lead its event kinds and outbox event types, in id order.
type Summary = (
    Vec<(String, Option<usize>)>,
    Vec<(Vec<LeadEventKind>, Vec<String>)>,
);

fn summary(t: &TestDatabase, repos: &Repositories, outcomes: &[Outcome]) -> Summary {
    let mut first_of: BTreeMap<i64, usize> = BTreeMap::new();
    let per_submission = outcomes
        .iter()
        .enumerate()
        .map(|(i, outcome)| match outcome {
            Ok(Submission::Created(lead)) => {
                first_of.insert(lead.id, i);
                ("created".to_owned(), Some(i))
            }
            Ok(Submission::Resubmitted(lead)) => {
                ("resubmitted".to_owned(), first_of.get(&lead.id).copied())
            }
            Err(error) => (format!("{error:?}"), None),
        })
        .collect();
    let per_lead = first_of
        .keys()
        .map(|&id| {
            let kinds = repos
                .leads
                .events(id)
                .expect("events")
                .expect("lead")
                .into_iter()
                .map(|e| e.kind)
                .collect();
            (kinds, outbox_types(t, id))
        })
        .collect();
    (per_submission, per_lead)
}

/// The submissions of the batch test, with their windows' starts.
fn batch_cases() -> Vec<(NewLead, chrono::DateTime<chrono::Utc>)> {
    let day = base() - DEDUP_WINDOW;
    let mut nowhere = lead("Гость", phone(3), base());
    nowhere.location_id = Some(999_999);
    let mut owned = lead("Дарья", phone(4), base());
    owned.assignee = Some("anna".to_owned());
    let mut closed = lead("Галина", phone(6), base());
    closed.status = cohai_domain::LeadStatus::Converted;
    vec![
        (
            lead("Анна", phone(1), base() - chrono::TimeDelta::hours(3)),
            day,
        ),
        // Its window starts after the first one's lead: a second lead of phone 1.
        (
            lead("Анна снова", phone(1), base()),
            base() - chrono::TimeDelta::hours(1),
        ),
        // Joins the newest of the two.
        (lead("Анна в третий раз", phone(1), base()), day),
        (lead("Вера снова", phone(2), base()), day),
        (nowhere, day),
        (owned, day),
        (lead("Ольга снова", phone(5), base()), day),
        (closed, day),
        // The batch's converted lead of phone 6 is not open: a new one.
        (lead("Галина снова", phone(6), base()), day),
    ]
}

/// Stores the leads the batch test starts from: an open one (phone 2) and one older than a
/// day (phone 5).
fn batch_background(repos: &Repositories) {
    repos.leads.submitted_new(&lead("Вера", phone(2), base()));
    repos.leads.submitted_new(&lead(
        "Ольга",
        phone(5),
        base() - chrono::TimeDelta::hours(25),
    ));
}

/// Submissions stored in one batch come to exactly what storing them one by one in arrival
/// order does — outcomes, which lead each got, each lead's events and outbox rows in order —
/// through a phone created twice in one batch (the windows differ), joins of the batch's own
/// lead and of a stored one, a stored lead outside the window, a missing reference, a new
/// lead with an owner (`created`, `assigned`) and one that is not open. On PostgreSQL the
/// batch is the set-based one (`lead_batch.rs`); one writer, held while the batch queues,
/// makes it a single batch.
fn a_batch_stores_what_one_by_one_in_arrival_order_would(backend: Backend) {
    let one_writer = PoolSettings {
        // Half the pool is PostgreSQL's writer count: one writer, so one queue and one batch.
        max_size: 2,
        connection_timeout: StdDuration::from_secs(60),
        ..PoolSettings::default()
    };
    let batched = TestDatabase::with_settings(backend, &one_writer);
    batched.db.migrate().expect("migrate");
    let repos = batched.db.repositories();
    batch_background(&repos);
    let block = WriterBlock::hold(&batched, backend, &phone(9));
    let blocker = queue(&repos, lead("Пробка", phone(9), base()));
    std::thread::sleep(StdDuration::from_millis(200)); // the writer takes it and waits
    let futures: Vec<_> = batch_cases()
        .into_iter()
        .map(|(new, since)| repos.leads.submit(new, since))
        .collect();
    block.release();
    assert!(matches!(block_on(blocker), Ok(Submission::Created(_))));
    let outcomes: Vec<Outcome> = futures.into_iter().map(block_on).collect();

    let alone = TestDatabase::new(backend);
    let alone_repos = alone.db.repositories();
    batch_background(&alone_repos);
    let one_by_one: Vec<Outcome> = batch_cases()
        .into_iter()
        .map(|(new, since)| block_on(alone_repos.leads.submit(new, since)))
        .collect();

    let expected = summary(&alone, &alone_repos, &one_by_one);
    assert_eq!(summary(&batched, &repos, &outcomes), expected);
    // And what that is, spelled out for the cases that matter.
    let (per_submission, _) = &expected;
    let got: Vec<(&str, Option<usize>)> = per_submission
        .iter()
        .map(|(kind, of)| (kind.as_str(), *of))
        .collect();
    assert_eq!(
        &got[..4],
        [
            ("created", Some(0)),
            ("created", Some(1)),
            ("resubmitted", Some(1)),
            ("resubmitted", None),
        ]
    );
    assert!(got[4].0.contains("MissingReference"), "{got:?}");
    assert_eq!(
        &got[5..],
        [
            ("created", Some(5)),
            ("created", Some(6)),
            ("created", Some(7)),
            ("created", Some(8)),
        ]
    );
}

/// On PostgreSQL each of the batch's statements has one text whatever the batch's size, so a
/// connection prepares it once and runs it for every batch (rather than PostgreSQL parsing and
/// planning each batch's text anew): after batches of 1, 1 and 10 submissions, each is one
/// prepared statement that ran three times (on whichever connection the writer had).
#[test]
fn postgres_batches_of_any_size_run_one_prepared_statement_each() {
    let t = TestDatabase::with_settings(
        Backend::Postgres,
        &PoolSettings {
            max_size: 2, // one writer
            connection_timeout: StdDuration::from_secs(60),
            ..PoolSettings::default()
        },
    );
    t.db.migrate().expect("migrate");
    let repos = t.db.repositories();
    block_on(queue(&repos, lead("Один", phone(1), base()))).expect("stored alone");
    let block = WriterBlock::hold(&t, Backend::Postgres, &phone(9));
    let blocker = queue(&repos, lead("Пробка", phone(9), base()));
    // The writer took the blocker alone and waits for its phone's lock (seen from a
    // connection of its own: the pool's two are the block's and the writer's).
    #[derive(diesel::QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut observer =
        <diesel::PgConnection as diesel::Connection>::establish(&t.url).expect("connect");
    let deadline = std::time::Instant::now() + StdDuration::from_secs(10);
    loop {
        let waiting: Waiting = diesel::RunQueryDsl::get_result(
            diesel::sql_query(
                "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
            ),
            &mut observer,
        )
        .expect("pg_locks");
        if waiting.n > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never waited"
        );
        std::thread::sleep(StdDuration::from_millis(10));
    }
    let queued: Vec<_> = (0..10)
        .map(|i| queue(&repos, lead(&format!("Анна {i}"), phone(100 + i), base())))
        .collect();
    block.release();
    block_on(blocker).expect("the blocker is stored");
    for future in queued {
        block_on(future).expect("stored in one batch");
    }

    // Both connections of the pool, held at once so that they are the two.
    let mut conns = [
        t.db.pool().get().expect("first"),
        t.db.pool().get().expect("second"),
    ];
    let prepared: Vec<(String, i64)> = conns
        .iter_mut()
        .flat_map(|conn| prepared_statements(conn))
        .collect();
    for start in [
        "SELECT pg_advisory_xact_lock(",
        "SELECT l.* FROM unnest(",
        "INSERT INTO leads (",
        "INSERT INTO lead_events (",
        "INSERT INTO outbox_events (",
    ] {
        // The writer may have used either connection (each prepares its own copy).
        let found: Vec<&(String, i64)> = prepared
            .iter()
            .filter(|(statement, _)| statement.starts_with(start))
            .collect();
        let texts: BTreeSet<&str> = found
            .iter()
            .map(|(statement, _)| statement.as_str())
            .collect();
        assert_eq!(texts.len(), 1, "one text of `{start}…`: {texts:?}");
        let runs: i64 = found.iter().map(|(_, runs)| runs).sum();
        assert_eq!(runs, 3, "`{start}…` ran once for each batch");
    }
}

backend_tests!(
    a_batch_stores_what_one_by_one_in_arrival_order_would,
    mixed_duplicate_and_distinct_phones_give_one_lead_per_phone,
    a_failing_submission_fails_alone_among_concurrent_ones,
    a_rejected_submission_does_not_count_as_the_phones_open_lead,
    submissions_and_other_writes_interleave_safely,
    a_full_queue_refuses_more_submissions_at_once,
    a_submission_that_waited_longer_than_the_pool_timeout_is_refused,
);
