//! Many concurrent submissions: on SQLite they are group-committed (several per transaction,
//! each in its own savepoint); on PostgreSQL each has its own transaction. The outcome must be
//! the same as if they had run one after another.

mod common;

use std::collections::BTreeMap;
use std::sync::Barrier;

use chrono::Duration;
use cohai_domain::{LeadEventKind, NewLead, RepoError, RepoResult, Submission};
use cohai_persistence::Repositories;
use cohai_persistence::backend_tests;
use cohai_persistence::testing::{Backend, TestDatabase};
use common::{all_leads, base, count, lead, phone};

/// Submits every lead from its own thread, all released at once; results in input order.
fn submit_all(repos: &Repositories, leads: &[NewLead]) -> Vec<RepoResult<Submission>> {
    let barrier = Barrier::new(leads.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = leads
            .iter()
            .map(|new| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    repos.leads.submit(new, base() - Duration::hours(24))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    })
}

fn lead_id(submission: &Submission) -> i64 {
    match submission {
        Submission::Created(l) | Submission::Resubmitted(l) => l.id,
    }
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
        let id = lead_id(outcomes[0]);
        assert!(outcomes.iter().all(|o| lead_id(o) == id), "{phone}");
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
            (Some(_), Err(RepoError::MissingReference(_))) | (None, Ok(Submission::Created(_))) => {
            }
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
            (Some(_), Err(RepoError::MissingReference(_))) | (None, Ok(_)) => {}
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
                    repos
                        .leads
                        .submit(&new, base() - Duration::hours(24))
                        .expect("submit");
                } else {
                    repos.leads.create(&new, "admin").expect("create");
                }
            });
        }
    });
    assert_eq!(repos.leads.search(&all_leads()).expect("search").total, 40);
    assert_eq!(count(&t.db, "SELECT COUNT(*) AS n FROM lead_events"), 40);
}

backend_tests!(
    mixed_duplicate_and_distinct_phones_give_one_lead_per_phone,
    a_failing_submission_fails_alone_among_concurrent_ones,
    a_rejected_submission_does_not_count_as_the_phones_open_lead,
    submissions_and_other_writes_interleave_safely,
);
