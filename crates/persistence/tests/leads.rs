//! The lead repository (leads and their events) on both backends.

mod common;

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Duration;
use cohai_domain::{
    Lead, LeadChanges, LeadEventKind, LeadFilter, LeadSort, LeadSource, LeadStatus, NewLead,
    RepoError, Submission, WEBSITE_ACTOR,
};
use cohai_persistence::Repositories;
use cohai_persistence::backend_tests;
use cohai_persistence::testing::builders::{lead, phone};
use cohai_persistence::testing::{Backend, TestDatabase, TestLeads, count};
use common::{all_leads, at_min, base, catalog, raw_events};
use serde_json::json;

const ADMIN: &str = "admin-anna";

fn ids(leads: &[Lead]) -> Vec<i64> {
    leads.iter().map(|l| l.id).collect()
}

fn search_ids(repos: &Repositories, filter: &LeadFilter) -> Vec<i64> {
    ids(&repos.leads.search(filter).expect("search").items)
}

fn events_of(repos: &Repositories, id: i64) -> Vec<cohai_domain::LeadEvent> {
    repos
        .leads
        .events(id)
        .expect("events")
        .expect("lead exists")
}

fn kinds(repos: &Repositories, id: i64) -> Vec<LeadEventKind> {
    events_of(repos, id).into_iter().map(|e| e.kind).collect()
}

/// A lead with every optional field and reference filled in.
fn full_lead(repos: &Repositories) -> NewLead {
    let cat = catalog(repos, "A");
    let s = repos
        .class_sessions
        .create(&cat.session(base()))
        .expect("session");
    NewLead {
        email: Some("Anna@Example.RU".into()),
        message: Some("Можно в субботу?".into()),
        location_id: Some(cat.location.id),
        program_type_id: Some(cat.program_type.id),
        class_session_id: Some(s.id),
        source: LeadSource::Instagram,
        status: LeadStatus::Contacted,
        notes: Some("VIP".into()),
        utm_source: Some("ig".into()),
        utm_medium: Some("stories".into()),
        utm_campaign: Some("winter".into()),
        ..lead("Анна Петрова", phone(1_234_567), base())
    }
}

fn set_status(repos: &Repositories, id: i64, status: LeadStatus) -> Lead {
    repos
        .leads
        .update(
            id,
            &LeadChanges {
                status: Some(status),
                ..LeadChanges::default()
            },
            None,
            ADMIN,
            at_min(1),
        )
        .expect("update")
        .expect("exists")
}

// ---------------------------------------------------------------- create

fn create_stores_every_field_with_version_one_and_a_created_event(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let new = full_lead(&repos);
    let stored = repos.leads.created(&new, ADMIN);
    assert_eq!(
        stored,
        Lead {
            id: stored.id,
            name: new.name.clone(),
            phone: "+79161234567".into(),
            email: new.email.clone(),
            message: new.message.clone(),
            location_id: new.location_id,
            program_type_id: new.program_type_id,
            class_session_id: new.class_session_id,
            source: LeadSource::Instagram,
            status: LeadStatus::Contacted,
            notes: new.notes.clone(),
            utm_source: new.utm_source.clone(),
            utm_medium: new.utm_medium.clone(),
            utm_campaign: new.utm_campaign.clone(),
            created_at: base(),
            updated_at: base(),
            assignee: None,
            next_contact_at: None,
            lost_reason: None,
            consent_at: None,
            version: 1,
        }
    );
    assert_eq!(
        repos.leads.get_by_id(stored.id).expect("get"),
        Some(stored.clone())
    );
    let events = events_of(&repos, stored.id);
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (e.lead_id, e.kind, e.actor.as_str(), &e.data, e.created_at),
        (
            stored.id,
            LeadEventKind::Created,
            ADMIN,
            &new.created_event_data(),
            base()
        )
    );
}

fn get_by_id_of_unknown_lead_is_none(backend: Backend) {
    let t = TestDatabase::new(backend);
    assert_eq!(t.db.repositories().leads.get_by_id(1).expect("get"), None);
}

fn create_many_stores_every_lead_each_with_its_created_event(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let full = full_lead(&repos);
    let batch = vec![
        lead("Ольга", phone(1), at_min(0)),
        NewLead {
            source: LeadSource::WalkIn,
            ..lead("Ирина", phone(2), at_min(1))
        },
        NewLead {
            created_at: at_min(2),
            ..full
        },
    ];
    assert_eq!(repos.leads.create_many(&batch, ADMIN).expect("many"), 3);
    let stored = repos.leads.search(&all_leads()).expect("search").items;
    assert_eq!(stored.len(), 3);
    for (lead, new) in stored.iter().zip(&batch) {
        assert_eq!(
            (
                lead.name.as_str(),
                lead.phone.as_str(),
                lead.source,
                lead.location_id,
                lead.created_at,
                lead.version
            ),
            (
                new.name.as_str(),
                new.phone.as_str(),
                new.source,
                new.location_id,
                new.created_at,
                1
            )
        );
        let events = events_of(&repos, lead.id);
        assert_eq!(events.len(), 1, "{}", lead.name);
        let e = &events[0];
        assert_eq!(
            (e.kind, e.actor.as_str(), &e.data, e.created_at),
            (
                LeadEventKind::Created,
                ADMIN,
                &new.created_event_data(),
                new.created_at
            ),
            "{}",
            lead.name
        );
    }
}

fn create_many_of_nothing_stores_nothing(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    assert_eq!(repos.leads.create_many(&[], ADMIN).expect("many"), 0);
    assert_eq!(repos.leads.search(&all_leads()).expect("search").total, 0);
}

fn create_many_gives_one_created_event_to_each_lead_of_a_large_batch_only(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let earlier = repos
        .leads
        .created(&lead("Раньше", phone(9_000_000), base()), ADMIN);
    let batch: Vec<NewLead> = (0..2_100)
        .map(|i| lead(&format!("Лид {i}"), phone(i), at_min(i64::from(i))))
        .collect();
    assert_eq!(repos.leads.create_many(&batch, ADMIN).expect("many"), 2_100);
    assert_eq!(
        repos.leads.search(&all_leads()).expect("search").total,
        2_101
    );
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(*) AS n FROM lead_events WHERE kind = 'created'"
        ),
        2_101
    );
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(DISTINCT lead_id) AS n FROM lead_events"
        ),
        2_101
    );
    assert_eq!(kinds(&repos, earlier.id), vec![LeadEventKind::Created]);
}

fn create_many_gives_no_event_to_leads_created_concurrently(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let done = AtomicBool::new(false);
    let batch: Vec<NewLead> = (0..2_500)
        .map(|i| lead(&format!("Пакет {i}"), phone(i), base()))
        .collect();
    let singles = std::thread::scope(|s| {
        let single = s.spawn(|| {
            let mut n = 0u32;
            while !done.load(Ordering::SeqCst) {
                repos
                    .leads
                    .created(&lead("Одиночка", phone(5_000_000 + n), base()), ADMIN);
                n += 1;
            }
            n
        });
        let stored = repos.leads.create_many(&batch, "import").expect("many");
        done.store(true, Ordering::SeqCst);
        assert_eq!(stored, 2_500);
        single.join().expect("thread")
    });
    let leads = 2_500 + i64::from(singles);
    assert_eq!(count(&t.db, "SELECT COUNT(*) AS n FROM leads"), leads);
    assert_eq!(count(&t.db, "SELECT COUNT(*) AS n FROM lead_events"), leads);
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(DISTINCT lead_id) AS n FROM lead_events"
        ),
        leads
    );
    assert_eq!(
        count(
            &t.db,
            "SELECT COUNT(*) AS n FROM lead_events e JOIN leads l ON l.id = e.lead_id \
             WHERE e.actor = 'import' AND l.name NOT LIKE 'Пакет %'"
        ),
        0,
        "a lead created by someone else got an event of the batch"
    );
}

fn create_many_is_atomic_when_one_lead_is_invalid(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let batch = vec![
        lead("Ольга", phone(1), base()),
        lead(&"Я".repeat(101), phone(2), base()),
    ];
    let err = repos
        .leads
        .create_many(&batch, ADMIN)
        .expect_err("name too long");
    assert!(matches!(err, RepoError::Invalid(_)), "{err:?}");
    assert_eq!(repos.leads.search(&all_leads()).expect("search").total, 0);
    assert_eq!(count(&t.db, "SELECT COUNT(*) AS n FROM lead_events"), 0);
}

// ---------------------------------------------------------------- submit

fn submit_of_a_new_phone_creates_a_lead_with_a_created_event_by_the_website(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let new = full_lead(&repos);
    let lead = repos.leads.submitted_new(&new);
    assert_eq!(
        repos.leads.get_by_id(lead.id).expect("get"),
        Some(lead.clone())
    );
    let events = events_of(&repos, lead.id);
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].kind, events[0].actor.as_str(), &events[0].data),
        (
            LeadEventKind::Created,
            WEBSITE_ACTOR,
            &new.created_event_data()
        )
    );
}

fn submit_within_the_window_records_a_resubmission_on_the_open_lead(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let first = repos.leads.submitted_new(&lead("Анна", phone(1), base()));
    let again_at = base() + Duration::hours(23);
    let again = NewLead {
        message: Some("Ещё раз: хочу в субботу".into()),
        utm_source: Some("vk".into()),
        utm_campaign: Some("spring".into()),
        ..lead("Анна П.", phone(1), again_at)
    };
    let joined = repos.leads.resubmitted(&again);
    assert_eq!(joined, first, "the lead itself is not changed");
    assert_eq!(repos.leads.search(&all_leads()).expect("search").total, 1);
    let events = events_of(&repos, first.id);
    assert_eq!(events.len(), 2);
    let e = &events[1];
    assert_eq!(
        (e.kind, e.actor.as_str(), &e.data, e.created_at, e.lead_id),
        (
            LeadEventKind::Resubmitted,
            WEBSITE_ACTOR,
            &again.resubmission_event_data(),
            again_at,
            first.id
        )
    );
    assert_eq!(e.data["message"], json!("Ещё раз: хочу в субботу"));
}

fn submit_exactly_at_the_window_start_still_joins_the_lead(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let first = repos.leads.submitted_new(&lead("Анна", phone(1), base()));
    let at = base() + Duration::hours(24);
    let joined = repos.leads.resubmitted(&lead("Анна", phone(1), at));
    assert_eq!(joined.id, first.id);
}

fn submit_after_the_window_creates_a_new_lead(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let first = repos.leads.submitted_new(&lead("Анна", phone(1), base()));
    let at = base() + Duration::hours(24) + Duration::seconds(1);
    let second = repos.leads.submitted_new(&lead("Анна", phone(1), at));
    assert_ne!(second.id, first.id);
    assert_eq!(kinds(&repos, first.id), vec![LeadEventKind::Created]);
    assert_eq!(kinds(&repos, second.id), vec![LeadEventKind::Created]);
}

fn submit_joins_open_leads_of_every_open_status(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    for (i, status) in LeadStatus::OPEN.iter().enumerate() {
        let p = phone(u32::try_from(i).expect("small") + 1);
        let first = repos.leads.created(
            &NewLead {
                status: *status,
                ..lead("Анна", p.clone(), base())
            },
            ADMIN,
        );
        let joined = repos.leads.resubmitted(&lead("Анна", p, at_min(10)));
        assert_eq!(joined.id, first.id, "{status}");
    }
}

fn submit_does_not_join_a_converted_or_lost_lead(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    for (i, closed) in [LeadStatus::Converted, LeadStatus::Lost]
        .into_iter()
        .enumerate()
    {
        let p = phone(u32::try_from(i).expect("small") + 1);
        let first = repos.leads.submitted_new(&lead("Анна", p.clone(), base()));
        set_status(&repos, first.id, closed);
        let second = repos.leads.submitted_new(&lead("Анна", p, at_min(10)));
        assert_ne!(second.id, first.id, "{closed}");
        assert!(
            !kinds(&repos, first.id).contains(&LeadEventKind::Resubmitted),
            "{closed}"
        );
    }
}

fn submit_of_another_phone_creates_a_new_lead(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let a = repos.leads.submitted_new(&lead("Анна", phone(1), base()));
    let b = repos.leads.submitted_new(&lead("Анна", phone(2), base()));
    assert_ne!(a.id, b.id);
}

fn submit_joins_the_newest_open_lead_of_the_phone(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let older = repos
        .leads
        .created(&lead("Анна", phone(1), at_min(0)), ADMIN);
    let newer = repos
        .leads
        .created(&lead("Анна", phone(1), at_min(30)), ADMIN);
    let joined = repos.leads.resubmitted(&lead("Анна", phone(1), at_min(60)));
    assert_eq!(joined.id, newer.id);
    assert_eq!(kinds(&repos, older.id), vec![LeadEventKind::Created]);
}

fn concurrent_submissions_of_one_phone_create_exactly_one_lead(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    const THREADS: usize = 20;
    let barrier = Barrier::new(THREADS);
    let outcomes: Vec<Submission> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let repos = repos.clone();
                let barrier = &barrier;
                s.spawn(move || {
                    let new = lead(&format!("Анна {i}"), phone(7_777_777), base());
                    barrier.wait();
                    repos.leads.submitted(&new)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let created_ids: Vec<i64> = outcomes
        .iter()
        .filter_map(|o| match o {
            Submission::Created(l) => Some(l.id),
            Submission::Resubmitted(_) => None,
        })
        .collect();
    assert_eq!(created_ids.len(), 1, "{outcomes:?}");
    let id = created_ids[0];
    assert!(outcomes.iter().all(|o| match o {
        Submission::Created(l) | Submission::Resubmitted(l) => l.id == id,
    }));
    assert_eq!(repos.leads.search(&all_leads()).expect("search").total, 1);
    let events = kinds(&repos, id);
    assert_eq!(events.len(), THREADS);
    assert_eq!(events[0], LeadEventKind::Created);
    assert!(events[1..].iter().all(|k| *k == LeadEventKind::Resubmitted));
}

fn concurrent_submissions_of_distinct_phones_create_one_lead_each(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    const THREADS: u32 = 50;
    let barrier = Barrier::new(THREADS as usize);
    let outcomes: Vec<Submission> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let repos = repos.clone();
                let barrier = &barrier;
                s.spawn(move || {
                    let new = lead(&format!("Анна {i}"), phone(100 + i), base());
                    barrier.wait();
                    repos.leads.submitted(&new)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert!(
        outcomes.iter().all(|o| matches!(o, Submission::Created(_))),
        "{outcomes:?}"
    );
    let page = repos.leads.search(&all_leads()).expect("search");
    assert_eq!(page.total, i64::from(THREADS));
    let mut phones: Vec<&str> = page.items.iter().map(|l| l.phone.as_str()).collect();
    phones.sort_unstable();
    phones.dedup();
    assert_eq!(phones.len(), THREADS as usize);
    for l in &page.items {
        assert_eq!(kinds(&repos, l.id), vec![LeadEventKind::Created]);
    }
}

// ---------------------------------------------------------------- search

fn search_filters_by_any_of_the_statuses(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let mut by_status = Vec::new();
    for (i, status) in LeadStatus::ALL.iter().enumerate() {
        let n = u32::try_from(i).expect("small");
        let l = repos.leads.created(
            &NewLead {
                status: *status,
                ..lead("Анна", phone(n), at_min(i64::from(n)))
            },
            ADMIN,
        );
        by_status.push((*status, l.id));
    }
    let id_of = |s: LeadStatus| {
        by_status
            .iter()
            .find(|(st, _)| *st == s)
            .map(|(_, id)| *id)
            .expect("created")
    };
    for status in LeadStatus::ALL {
        let filter = LeadFilter {
            statuses: vec![*status],
            ..all_leads()
        };
        assert_eq!(
            search_ids(&repos, &filter),
            vec![id_of(*status)],
            "{status}"
        );
    }
    let filter = LeadFilter {
        statuses: vec![LeadStatus::Lost, LeadStatus::New, LeadStatus::Contacted],
        ..all_leads()
    };
    let page = repos.leads.search(&filter).expect("search");
    assert_eq!(
        ids(&page.items),
        vec![
            id_of(LeadStatus::New),
            id_of(LeadStatus::Contacted),
            id_of(LeadStatus::Lost)
        ]
    );
    assert_eq!(page.total, 3);
    assert_eq!(
        search_ids(&repos, &all_leads()).len(),
        LeadStatus::ALL.len()
    );
}

fn search_filters_by_source(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let mk = |n: u32, source| {
        repos
            .leads
            .created(
                &NewLead {
                    source,
                    ..lead("Анна", phone(n), at_min(i64::from(n)))
                },
                ADMIN,
            )
            .id
    };
    let vk1 = mk(1, LeadSource::Vk);
    let _web = mk(2, LeadSource::Website);
    let vk2 = mk(3, LeadSource::Vk);
    let tg = mk(4, LeadSource::Telegram);
    let f = |source| LeadFilter {
        source: Some(source),
        ..all_leads()
    };
    assert_eq!(search_ids(&repos, &f(LeadSource::Vk)), vec![vk1, vk2]);
    assert_eq!(search_ids(&repos, &f(LeadSource::Telegram)), vec![tg]);
    assert!(search_ids(&repos, &f(LeadSource::Referral)).is_empty());
}

fn search_filters_by_location(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let a = catalog(&repos, "A").location;
    let b = catalog(&repos, "B").location;
    let mk = |n: u32, location_id| {
        repos
            .leads
            .created(
                &NewLead {
                    location_id,
                    ..lead("Анна", phone(n), at_min(i64::from(n)))
                },
                ADMIN,
            )
            .id
    };
    let in_a = mk(1, Some(a.id));
    let _nowhere = mk(2, None);
    let in_b = mk(3, Some(b.id));
    let in_a2 = mk(4, Some(a.id));
    let f = |id| LeadFilter {
        location_id: Some(id),
        ..all_leads()
    };
    assert_eq!(search_ids(&repos, &f(a.id)), vec![in_a, in_a2]);
    assert_eq!(search_ids(&repos, &f(b.id)), vec![in_b]);
    assert!(search_ids(&repos, &f(9_999)).is_empty());
}

fn q(text: &str) -> LeadFilter {
    LeadFilter {
        q: Some(text.to_owned()),
        ..all_leads()
    }
}

fn search_q_matches_name_email_or_phone_ignoring_case_also_in_cyrillic(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let mk = |name: &str, email: Option<&str>, n: u32| {
        repos
            .leads
            .created(
                &NewLead {
                    email: email.map(str::to_owned),
                    ..lead(name, phone(n), at_min(i64::from(n)))
                },
                ADMIN,
            )
            .id
    };
    let anna = mk("Анна Петрова", Some("Anna.P@Example.RU"), 1_111_111);
    let yolka = mk("Ёлка Ёжикова", None, 2_222_222);
    let john = mk("JOHN Smith", Some("john@mail.com"), 3_333_333);
    assert_eq!(search_ids(&repos, &q("аННа")), vec![anna]);
    assert_eq!(search_ids(&repos, &q("ПЕТРОВ")), vec![anna]);
    assert_eq!(search_ids(&repos, &q("ёжик")), vec![yolka]);
    assert_eq!(search_ids(&repos, &q("ЁЛКА")), vec![yolka]);
    assert_eq!(
        search_ids(&repos, &q("елка")),
        Vec::<i64>::new(),
        "е is not ё"
    );
    assert_eq!(search_ids(&repos, &q("john")), vec![john]);
    assert_eq!(search_ids(&repos, &q("sMiTh")), vec![john]);
    assert_eq!(search_ids(&repos, &q("example.ru")), vec![anna]);
    assert_eq!(search_ids(&repos, &q("MAIL.COM")), vec![john]);
    assert_eq!(search_ids(&repos, &q("2222")), vec![yolka]);
    assert_eq!(search_ids(&repos, &q("+7916333")), vec![john]);
    assert_eq!(search_ids(&repos, &q("+7916")), vec![anna, yolka, john]);
    assert!(search_ids(&repos, &q("нет такого")).is_empty());
    let page = repos.leads.search(&q("а")).expect("search");
    assert_eq!((ids(&page.items), page.total), (vec![anna, yolka], 2));
}

fn search_q_treats_like_wildcards_literally(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let mk = |name: &str, n: u32| {
        repos
            .leads
            .created(&lead(name, phone(n), at_min(i64::from(n))), ADMIN)
            .id
    };
    let percent = mk("Скидка 100% Анна", 1);
    let _no_percent = mk("Скидка 1000 Анна", 2);
    let underscore = mk("anna_b", 3);
    let letter = mk("annaxb", 4);
    let backslash = mk("a\\b", 5);
    let ab = mk("ab", 6);
    assert_eq!(search_ids(&repos, &q("100%")), vec![percent]);
    assert_eq!(search_ids(&repos, &q("%")), vec![percent]);
    assert_eq!(search_ids(&repos, &q("anna_b")), vec![underscore]);
    assert_eq!(search_ids(&repos, &q("_")), vec![underscore]);
    assert_eq!(search_ids(&repos, &q("a\\b")), vec![backslash]);
    assert_eq!(search_ids(&repos, &q("\\")), vec![backslash]);
    assert_eq!(search_ids(&repos, &q("annaxb")), vec![letter]);
    assert_eq!(search_ids(&repos, &q("ab")), vec![ab]);
}

fn search_with_an_empty_q_matches_everything(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    for n in 0..3 {
        repos
            .leads
            .created(&lead("Анна", phone(n), at_min(i64::from(n))), ADMIN);
    }
    assert_eq!(repos.leads.search(&q("")).expect("search").total, 3);
}

fn search_q_finds_the_new_name_and_phone_after_an_update(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let l = repos.leads.created(&lead("Анна", phone(1), base()), ADMIN);
    repos
        .leads
        .update(
            l.id,
            &LeadChanges {
                name: Some("Зоя".into()),
                phone: Some(phone(5_555_555)),
                email: Some(Some("Zoya@Example.RU".into())),
                ..LeadChanges::default()
            },
            None,
            ADMIN,
            at_min(1),
        )
        .expect("update");
    assert!(search_ids(&repos, &q("анна")).is_empty());
    assert_eq!(search_ids(&repos, &q("ЗОЯ")), vec![l.id]);
    assert_eq!(search_ids(&repos, &q("5555555")), vec![l.id]);
    assert_eq!(search_ids(&repos, &q("zoya@example")), vec![l.id]);
    assert!(search_ids(&repos, &q("0000001")).is_empty());
}

fn search_created_window_is_half_open(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let from = base();
    let to = base() + Duration::days(1);
    let mk = |n: u32, at| repos.leads.created(&lead("Анна", phone(n), at), ADMIN).id;
    let before = mk(1, from - Duration::microseconds(1));
    let at_from = mk(2, from);
    let last = mk(3, to - Duration::microseconds(1));
    let at_to = mk(4, to);
    let both = LeadFilter {
        created_from: Some(from),
        created_to: Some(to),
        ..all_leads()
    };
    assert_eq!(search_ids(&repos, &both), vec![at_from, last]);
    let only_from = LeadFilter {
        created_from: Some(from),
        ..all_leads()
    };
    assert_eq!(search_ids(&repos, &only_from), vec![at_from, last, at_to]);
    let only_to = LeadFilter {
        created_to: Some(to),
        ..all_leads()
    };
    assert_eq!(search_ids(&repos, &only_to), vec![before, at_from, last]);
    let empty = LeadFilter {
        created_from: Some(from),
        created_to: Some(from),
        ..all_leads()
    };
    assert_eq!(repos.leads.search(&empty).expect("search").total, 0);
}

fn search_sorts_by_created_at_with_id_breaking_ties(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let mk = |n: u32, minutes| {
        repos
            .leads
            .created(&lead("Анна", phone(n), at_min(minutes)), ADMIN)
            .id
    };
    let late = mk(1, 60);
    let tie1 = mk(2, 30);
    let early = mk(3, 0);
    let tie2 = mk(4, 30);
    let sorted = |sort| {
        search_ids(
            &repos,
            &LeadFilter {
                sort,
                ..all_leads()
            },
        )
    };
    assert_eq!(sorted(LeadSort::CreatedAsc), vec![early, tie1, tie2, late]);
    assert_eq!(sorted(LeadSort::CreatedDesc), vec![late, tie2, tie1, early]);
    assert_eq!(
        search_ids(
            &repos,
            &LeadFilter {
                limit: 10,
                ..LeadFilter::default()
            }
        ),
        vec![late, tie2, tie1, early],
        "newest first by default"
    );
}

fn search_sorts_by_updated_at_with_id_breaking_ties(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let mk = |n: u32| {
        repos
            .leads
            .created(&lead("Анна", phone(n), base()), ADMIN)
            .id
    };
    let a = mk(1);
    let b = mk(2);
    let c = mk(3);
    let d = mk(4);
    let touch = |id, minutes| {
        repos
            .leads
            .update(
                id,
                &LeadChanges {
                    notes: Some(Some(format!("touched at {minutes}"))),
                    ..LeadChanges::default()
                },
                None,
                ADMIN,
                at_min(minutes),
            )
            .expect("update")
            .expect("exists")
    };
    // updated_at: a = base, b = +20, c = +10, d = +20.
    assert_eq!(touch(b, 20).updated_at, at_min(20));
    touch(c, 10);
    touch(d, 20);
    let sorted = |sort| {
        search_ids(
            &repos,
            &LeadFilter {
                sort,
                ..all_leads()
            },
        )
    };
    assert_eq!(sorted(LeadSort::UpdatedAsc), vec![a, c, b, d]);
    assert_eq!(sorted(LeadSort::UpdatedDesc), vec![d, b, c, a]);
    assert_eq!(sorted(LeadSort::CreatedAsc), vec![a, b, c, d]);
}

fn search_pages_with_limit_and_offset_and_counts_every_match(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let mut all = Vec::new();
    for n in 0..7 {
        all.push(
            repos
                .leads
                .created(
                    &NewLead {
                        source: if n == 3 {
                            LeadSource::Other
                        } else {
                            LeadSource::Website
                        },
                        ..lead("Анна", phone(n), at_min(i64::from(n)))
                    },
                    ADMIN,
                )
                .id,
        );
    }
    let page = |limit, offset| {
        repos
            .leads
            .search(&LeadFilter {
                source: Some(LeadSource::Website),
                limit,
                offset,
                ..all_leads()
            })
            .expect("search")
    };
    let website: Vec<i64> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3)
        .map(|(_, id)| *id)
        .collect();
    let p1 = page(4, 0);
    assert_eq!((ids(&p1.items), p1.total), (website[..4].to_vec(), 6));
    let p2 = page(4, 4);
    assert_eq!((ids(&p2.items), p2.total), (website[4..].to_vec(), 6));
    let p3 = page(4, 8);
    assert_eq!((ids(&p3.items), p3.total), (vec![], 6));
    let p4 = page(0, 0);
    assert_eq!((ids(&p4.items), p4.total), (vec![], 6));
    let p5 = page(2, 1);
    assert_eq!((ids(&p5.items), p5.total), (website[1..3].to_vec(), 6));
}

fn search_combines_filters(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let loc = catalog(&repos, "A").location;
    let mk = |n: u32, status, source, location_id, name: &str| {
        repos
            .leads
            .created(
                &NewLead {
                    status,
                    source,
                    location_id,
                    ..lead(name, phone(n), at_min(i64::from(n)))
                },
                ADMIN,
            )
            .id
    };
    let hit = mk(1, LeadStatus::New, LeadSource::Vk, Some(loc.id), "Анна");
    mk(2, LeadStatus::Lost, LeadSource::Vk, Some(loc.id), "Анна");
    mk(
        3,
        LeadStatus::New,
        LeadSource::Website,
        Some(loc.id),
        "Анна",
    );
    mk(4, LeadStatus::New, LeadSource::Vk, None, "Анна");
    mk(5, LeadStatus::New, LeadSource::Vk, Some(loc.id), "Ольга");
    mk(60, LeadStatus::New, LeadSource::Vk, Some(loc.id), "Анна");
    let filter = LeadFilter {
        statuses: vec![LeadStatus::New, LeadStatus::Contacted],
        source: Some(LeadSource::Vk),
        location_id: Some(loc.id),
        q: Some("анн".into()),
        created_from: Some(at_min(1)),
        created_to: Some(at_min(60)),
        ..all_leads()
    };
    let page = repos.leads.search(&filter).expect("search");
    assert_eq!((ids(&page.items), page.total), (vec![hit], 1));
}

// ---------------------------------------------------------------- update

fn update_changes_only_the_given_fields_and_bumps_the_version(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let before = repos.leads.created(&full_lead(&repos), ADMIN);
    let at = base() + Duration::hours(2);
    let after = repos
        .leads
        .update(
            before.id,
            &LeadChanges {
                notes: Some(Some("Перезвонить".into())),
                source: Some(LeadSource::Referral),
                ..LeadChanges::default()
            },
            None,
            ADMIN,
            at,
        )
        .expect("update")
        .expect("exists");
    assert_eq!(
        after,
        Lead {
            notes: Some("Перезвонить".into()),
            source: LeadSource::Referral,
            updated_at: at,
            version: 2,
            ..before.clone()
        }
    );
    assert_eq!(repos.leads.get_by_id(before.id).expect("get"), Some(after));
}

fn update_with_some_none_clears_nullable_fields(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let before = repos.leads.created(&full_lead(&repos), ADMIN);
    let after = repos
        .leads
        .update(
            before.id,
            &LeadChanges {
                email: Some(None),
                message: Some(None),
                location_id: Some(None),
                program_type_id: Some(None),
                class_session_id: Some(None),
                notes: Some(None),
                ..LeadChanges::default()
            },
            None,
            ADMIN,
            at_min(5),
        )
        .expect("update")
        .expect("exists");
    assert_eq!(
        after,
        Lead {
            email: None,
            message: None,
            location_id: None,
            program_type_id: None,
            class_session_id: None,
            notes: None,
            updated_at: at_min(5),
            version: 2,
            ..before.clone()
        }
    );
    assert_eq!(repos.leads.get_by_id(before.id).expect("get"), Some(after));
    let last = events_of(&repos, before.id).pop().expect("event");
    assert_eq!(
        (last.kind, last.data),
        (
            LeadEventKind::Updated,
            json!({"fields": ["email", "message", "location_id", "program_type_id", "class_session_id", "notes"]})
        )
    );
}

fn update_sets_every_editable_field(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let before = repos.leads.created(&lead("Анна", phone(1), base()), ADMIN);
    let cat = catalog(&repos, "B");
    let s = repos
        .class_sessions
        .create(&cat.session(base()))
        .expect("session");
    let after = repos
        .leads
        .update(
            before.id,
            &LeadChanges {
                name: Some("Анна Мария".into()),
                phone: Some(phone(2)),
                email: Some(Some("am@example.ru".into())),
                message: Some(Some("Новое".into())),
                location_id: Some(Some(cat.location.id)),
                program_type_id: Some(Some(cat.program_type.id)),
                class_session_id: Some(Some(s.id)),
                status: Some(LeadStatus::TrialScheduled),
                source: Some(LeadSource::Phone),
                notes: Some(Some("Пробное в пятницу".into())),
                assignee: Some(Some("manager-olga".into())),
                next_contact_at: Some(Some(at_min(60 * 24))),
                lost_reason: Some(Some("Пока думает".into())),
            },
            Some(1),
            ADMIN,
            at_min(3),
        )
        .expect("update")
        .expect("exists");
    assert_eq!(
        after,
        Lead {
            name: "Анна Мария".into(),
            phone: "+79160000002".into(),
            email: Some("am@example.ru".into()),
            message: Some("Новое".into()),
            location_id: Some(cat.location.id),
            program_type_id: Some(cat.program_type.id),
            class_session_id: Some(s.id),
            status: LeadStatus::TrialScheduled,
            source: LeadSource::Phone,
            notes: Some("Пробное в пятницу".into()),
            assignee: Some("manager-olga".into()),
            next_contact_at: Some(at_min(60 * 24)),
            lost_reason: Some("Пока думает".into()),
            updated_at: at_min(3),
            version: 2,
            ..before.clone()
        }
    );
    assert_eq!(repos.leads.get_by_id(before.id).expect("get"), Some(after));
}

fn update_records_status_changed_and_updated_events_naming_the_changed_fields(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let l = repos.leads.created(&lead("Анна", phone(1), base()), ADMIN);
    let at = at_min(42);
    repos
        .leads
        .update(
            l.id,
            &LeadChanges {
                status: Some(LeadStatus::Contacted),
                name: Some("Анна".into()), // unchanged: not named
                phone: Some(phone(1)),     // unchanged: not named
                email: Some(Some("a@example.ru".into())), // changed
                notes: Some(Some("позвонили".into())), // changed
                ..LeadChanges::default()
            },
            None,
            "manager-olga",
            at,
        )
        .expect("update")
        .expect("exists");
    let events = events_of(&repos, l.id);
    assert_eq!(events.len(), 3);
    let got: Vec<_> = events[1..]
        .iter()
        .map(|e| {
            (
                e.lead_id,
                e.kind,
                e.actor.as_str(),
                e.data.clone(),
                e.created_at,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                l.id,
                LeadEventKind::StatusChanged,
                "manager-olga",
                json!({"from": "new", "to": "contacted"}),
                at
            ),
            (
                l.id,
                LeadEventKind::Updated,
                "manager-olga",
                json!({"fields": ["email", "notes"]}),
                at
            ),
        ]
    );
    // Only the status: one event.
    set_status(&repos, l.id, LeadStatus::Converted);
    let last = events_of(&repos, l.id);
    assert_eq!(last.len(), 4);
    assert_eq!(
        (last[3].kind, &last[3].data),
        (
            LeadEventKind::StatusChanged,
            &json!({"from": "contacted", "to": "converted"})
        )
    );
}

fn update_with_the_current_version_succeeds_and_with_another_is_stale(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let l = repos.leads.created(&lead("Анна", phone(1), base()), ADMIN);
    let change = |notes: &str, expected| {
        repos.leads.update(
            l.id,
            &LeadChanges {
                notes: Some(Some(notes.to_owned())),
                ..LeadChanges::default()
            },
            expected,
            ADMIN,
            at_min(1),
        )
    };
    let v2 = change("first", Some(1)).expect("update").expect("exists");
    assert_eq!(v2.version, 2);
    let stale = change("lost update", Some(1)).expect_err("stale");
    assert!(matches!(stale, RepoError::Stale), "{stale:?}");
    let stale = change("from the future", Some(3)).expect_err("stale");
    assert!(matches!(stale, RepoError::Stale), "{stale:?}");
    assert_eq!(repos.leads.get_by_id(l.id).expect("get"), Some(v2.clone()));
    assert_eq!(
        events_of(&repos, l.id).len(),
        2,
        "a stale update records nothing"
    );
    let v3 = change("second", Some(2)).expect("update").expect("exists");
    assert_eq!((v3.version, v3.notes.as_deref()), (3, Some("second")));
    let v4 = change("third", None).expect("update").expect("exists");
    assert_eq!(v4.version, 4, "no expected version: no check");
}

fn update_that_changes_nothing_keeps_the_version_and_records_no_event(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let l = repos.leads.created(&full_lead(&repos), ADMIN);
    let same = LeadChanges {
        name: Some(l.name.clone()),
        phone: Some(phone(1_234_567)),
        email: Some(l.email.clone()),
        message: Some(l.message.clone()),
        location_id: Some(l.location_id),
        program_type_id: Some(l.program_type_id),
        class_session_id: Some(l.class_session_id),
        status: Some(l.status),
        source: Some(l.source),
        notes: Some(l.notes.clone()),
        assignee: Some(l.assignee.clone()),
        next_contact_at: Some(l.next_contact_at),
        lost_reason: Some(l.lost_reason.clone()),
    };
    for changes in [same, LeadChanges::default()] {
        let after = repos
            .leads
            .update(l.id, &changes, Some(1), ADMIN, at_min(99))
            .expect("update")
            .expect("exists");
        assert_eq!(after, l, "version and updated_at unchanged");
    }
    assert_eq!(repos.leads.get_by_id(l.id).expect("get"), Some(l.clone()));
    assert_eq!(kinds(&repos, l.id), vec![LeadEventKind::Created]);
}

fn update_of_an_unknown_lead_is_none(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let changes = LeadChanges {
        notes: Some(Some("x".into())),
        ..LeadChanges::default()
    };
    assert_eq!(
        repos
            .leads
            .update(42, &changes, None, ADMIN, base())
            .expect("update"),
        None
    );
    assert_eq!(
        repos
            .leads
            .update(42, &changes, Some(1), ADMIN, base())
            .expect("update"),
        None
    );
}

// ---------------------------------------------------------------- delete

fn delete_removes_the_lead_and_its_events_endpoint(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let gone = repos.leads.created(&lead("Анна", phone(1), base()), ADMIN);
    let kept = repos.leads.created(&lead("Ольга", phone(2), base()), ADMIN);
    assert!(
        repos
            .leads
            .delete(gone.id, None, ADMIN, at_min(1))
            .expect("delete")
    );
    assert_eq!(repos.leads.get_by_id(gone.id).expect("get"), None);
    assert_eq!(repos.leads.events(gone.id).expect("events"), None);
    assert!(
        !repos
            .leads
            .delete(gone.id, None, ADMIN, at_min(2))
            .expect("delete again")
    );
    assert!(
        !repos
            .leads
            .delete(9_999, None, ADMIN, at_min(2))
            .expect("delete unknown")
    );
    assert_eq!(search_ids(&repos, &all_leads()), vec![kept.id]);
    assert_eq!(kinds(&repos, kept.id), vec![LeadEventKind::Created]);
    assert!(search_ids(&repos, &q("анна")).is_empty());
}

fn delete_strips_messages_from_events_detaches_them_and_records_an_erased_event(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let l = repos.leads.submitted_new(&lead("Анна", phone(1), base()));
    let other = repos.leads.submitted_new(&lead("Ольга", phone(2), base()));
    let again = NewLead {
        message: Some("Мой адрес: ул. Ленина, 5".into()),
        utm_source: Some("vk".into()),
        ..lead("Анна", phone(1), at_min(10))
    };
    repos.leads.resubmitted(&again);
    repos
        .leads
        .resubmitted(&lead("Ольга", phone(2), at_min(11)));
    set_status(&repos, l.id, LeadStatus::Contacted);
    assert_eq!(events_of(&repos, l.id).len(), 3);

    assert!(
        repos
            .leads
            .delete(l.id, None, "dpo", at_min(20))
            .expect("delete")
    );

    let rows = raw_events(&t.db);
    let erased_rows: Vec<_> = rows.iter().filter(|e| e.lead_id.is_none()).collect();
    assert_eq!(
        erased_rows
            .iter()
            .map(|e| e.kind.as_str())
            .collect::<Vec<_>>(),
        ["created", "resubmitted", "status_changed", "erased"]
    );
    assert_eq!(
        count(
            &t.db,
            &format!(
                "SELECT COUNT(*) AS n FROM lead_events WHERE lead_id = {}",
                l.id
            )
        ),
        0
    );
    for e in &erased_rows {
        assert!(e.json().get("message").is_none(), "{e:?}");
    }
    let resub = erased_rows[1].json();
    let mut expected = again.resubmission_event_data();
    expected.as_object_mut().expect("object").remove("message");
    assert_eq!(resub, expected, "only the message is removed");
    assert_eq!(
        erased_rows[2].json(),
        json!({"from": "new", "to": "contacted"})
    );
    let erased = erased_rows[3];
    assert_eq!((erased.actor.as_str(), erased.json()), ("dpo", json!({})));
    // The other lead keeps its events and its message.
    let other_events = events_of(&repos, other.id);
    assert_eq!(other_events.len(), 2);
    assert_eq!(
        other_events[1].data["message"],
        json!("Хочу на пробное занятие")
    );
}

// ---------------------------------------------------------------- events

fn events_are_listed_oldest_first(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let l = repos.leads.created(&lead("Анна", phone(1), base()), ADMIN);
    set_status(&repos, l.id, LeadStatus::Contacted);
    repos.leads.resubmitted(&lead("Анна", phone(1), at_min(5)));
    repos
        .leads
        .update(
            l.id,
            &LeadChanges {
                notes: Some(Some("n".into())),
                ..LeadChanges::default()
            },
            None,
            ADMIN,
            at_min(9),
        )
        .expect("update");
    let events = events_of(&repos, l.id);
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![
            LeadEventKind::Created,
            LeadEventKind::StatusChanged,
            LeadEventKind::Resubmitted,
            LeadEventKind::Updated
        ]
    );
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    assert!(
        events
            .windows(2)
            .all(|w| w[0].created_at <= w[1].created_at)
    );
}

fn events_of_an_unknown_lead_is_none(backend: Backend) {
    let t = TestDatabase::new(backend);
    assert_eq!(t.db.repositories().leads.events(42).expect("events"), None);
}

backend_tests!(
    create_stores_every_field_with_version_one_and_a_created_event,
    get_by_id_of_unknown_lead_is_none,
    create_many_stores_every_lead_each_with_its_created_event,
    create_many_of_nothing_stores_nothing,
    create_many_gives_one_created_event_to_each_lead_of_a_large_batch_only,
    create_many_gives_no_event_to_leads_created_concurrently,
    create_many_is_atomic_when_one_lead_is_invalid,
    submit_of_a_new_phone_creates_a_lead_with_a_created_event_by_the_website,
    submit_within_the_window_records_a_resubmission_on_the_open_lead,
    submit_exactly_at_the_window_start_still_joins_the_lead,
    submit_after_the_window_creates_a_new_lead,
    submit_joins_open_leads_of_every_open_status,
    submit_does_not_join_a_converted_or_lost_lead,
    submit_of_another_phone_creates_a_new_lead,
    submit_joins_the_newest_open_lead_of_the_phone,
    concurrent_submissions_of_one_phone_create_exactly_one_lead,
    concurrent_submissions_of_distinct_phones_create_one_lead_each,
    search_filters_by_any_of_the_statuses,
    search_filters_by_source,
    search_filters_by_location,
    search_q_matches_name_email_or_phone_ignoring_case_also_in_cyrillic,
    search_q_treats_like_wildcards_literally,
    search_with_an_empty_q_matches_everything,
    search_q_finds_the_new_name_and_phone_after_an_update,
    search_created_window_is_half_open,
    search_sorts_by_created_at_with_id_breaking_ties,
    search_sorts_by_updated_at_with_id_breaking_ties,
    search_pages_with_limit_and_offset_and_counts_every_match,
    search_combines_filters,
    update_changes_only_the_given_fields_and_bumps_the_version,
    update_with_some_none_clears_nullable_fields,
    update_sets_every_editable_field,
    update_records_status_changed_and_updated_events_naming_the_changed_fields,
    update_with_the_current_version_succeeds_and_with_another_is_stale,
    update_that_changes_nothing_keeps_the_version_and_records_no_event,
    update_of_an_unknown_lead_is_none,
    delete_removes_the_lead_and_its_events_endpoint,
    delete_strips_messages_from_events_detaches_them_and_records_an_erased_event,
    events_are_listed_oldest_first,
    events_of_an_unknown_lead_is_none,
);
