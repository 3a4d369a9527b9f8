//! Working the leads (API.md §3.1) in the lead repository, on both backends: owners and their
//! `assigned` events, call-backs, the new filters and orders, export pages, statistics and a
//! person's data.

mod common;

use chrono::{DateTime, Duration, Utc};
use cohai_domain::lead_stats::{LocationTally, UtmSourceTally};
use cohai_domain::{
    AssigneeFilter, Lead, LeadChanges, LeadCursor, LeadEventKind, LeadFilter, LeadSort, LeadSource,
    LeadStatsFilter, LeadStatus, NewLead, OverdueFilter, Phone,
};
use cohai_persistence::Repositories;
use cohai_persistence::backend_tests;
use cohai_persistence::testing::builders::{lead, phone};
use cohai_persistence::testing::{Backend, TestDatabase, TestLeads};
use common::{all_leads, at_min, base, catalog};
use serde_json::json;

const ADMIN: &str = "admin";

fn ids(leads: &[Lead]) -> Vec<i64> {
    leads.iter().map(|l| l.id).collect()
}

fn search_ids(repos: &Repositories, filter: &LeadFilter) -> Vec<i64> {
    ids(&repos.leads.search(filter).expect("search").items)
}

/// Stores lead number `n`, created `n` minutes after [`base`], as `adjust` makes it.
fn store(repos: &Repositories, n: u32, adjust: impl FnOnce(NewLead) -> NewLead) -> Lead {
    let new = adjust(lead(&format!("Лид {n}"), phone(n), at_min(i64::from(n))));
    repos.leads.created(&new, ADMIN)
}

fn change(repos: &Repositories, id: i64, changes: LeadChanges, at: DateTime<Utc>) -> Lead {
    repos
        .leads
        .update(id, &changes, None, ADMIN, at)
        .expect("update")
        .expect("exists")
}

fn events(repos: &Repositories, id: i64) -> Vec<(LeadEventKind, serde_json::Value)> {
    repos
        .leads
        .events(id)
        .expect("events")
        .expect("lead exists")
        .into_iter()
        .map(|e| (e.kind, e.data))
        .collect()
}

fn owned_by(name: &str) -> impl FnOnce(NewLead) -> NewLead + '_ {
    move |new| NewLead {
        assignee: Some(name.to_owned()),
        ..new
    }
}

fn calling_back(at: Option<DateTime<Utc>>) -> impl FnOnce(NewLead) -> NewLead {
    move |new| NewLead {
        next_contact_at: at,
        ..new
    }
}

// ---------------------------------------------------------------- owners

fn a_lead_created_with_an_owner_records_created_then_assigned(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let one = store(&repos, 1, owned_by("olga"));
    assert_eq!(one.assignee.as_deref(), Some("olga"));
    let kinds: Vec<LeadEventKind> = events(&repos, one.id).into_iter().map(|e| e.0).collect();
    assert_eq!(kinds, [LeadEventKind::Created, LeadEventKind::Assigned]);
    assert_eq!(
        events(&repos, one.id)[1].1,
        json!({"from": null, "to": "olga"})
    );
    let unowned = store(&repos, 2, |n| n);
    assert_eq!(
        events(&repos, unowned.id).len(),
        1,
        "no owner, no assigned event"
    );

    let batch: Vec<NewLead> = (10..13)
        .map(|n| NewLead {
            assignee: (n != 11).then(|| "boris".to_owned()),
            ..lead(&format!("Лид {n}"), phone(n), at_min(i64::from(n)))
        })
        .collect();
    assert_eq!(repos.leads.create_many(&batch, ADMIN).expect("batch"), 3);
    let stored = repos.leads.search(&all_leads()).expect("search").items;
    let per_lead: Vec<usize> = stored[2..]
        .iter()
        .map(|l| events(&repos, l.id).len())
        .collect();
    assert_eq!(per_lead, [2, 1, 2], "create_many records the same events");
}

fn every_change_of_owner_is_one_assigned_event_and_no_updated_event(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let l = store(&repos, 1, |n| n);
    let owner = |name: Option<&str>| LeadChanges {
        assignee: Some(name.map(str::to_owned)),
        ..LeadChanges::default()
    };
    let set = change(&repos, l.id, owner(Some("olga")), at_min(10));
    assert_eq!((set.assignee.as_deref(), set.version), (Some("olga"), 2));
    let moved = change(&repos, l.id, owner(Some("boris")), at_min(11));
    let same = change(&repos, l.id, owner(Some("boris")), at_min(12));
    assert_eq!(
        same.version, moved.version,
        "the same owner changes nothing"
    );
    let cleared = change(&repos, l.id, owner(None), at_min(13));
    assert_eq!(cleared.assignee, None);
    assert_eq!(
        events(&repos, l.id)[1..],
        [
            (LeadEventKind::Assigned, json!({"from": null, "to": "olga"})),
            (
                LeadEventKind::Assigned,
                json!({"from": "olga", "to": "boris"})
            ),
            (
                LeadEventKind::Assigned,
                json!({"from": "boris", "to": null})
            ),
        ]
    );
}

fn call_backs_and_lost_reasons_are_stored_cleared_and_named_in_updated_events(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let l = store(&repos, 1, |n| n);
    let when = at_min(60 * 24) + Duration::microseconds(123_456);
    let after = change(
        &repos,
        l.id,
        LeadChanges {
            next_contact_at: Some(Some(when)),
            lost_reason: Some(Some("Дорого".into())),
            status: Some(LeadStatus::Lost),
            ..LeadChanges::default()
        },
        at_min(5),
    );
    assert_eq!(after.next_contact_at, Some(when), "microseconds kept");
    assert_eq!(after.lost_reason.as_deref(), Some("Дорого"));
    assert_eq!(repos.leads.get_by_id(l.id).expect("get"), Some(after));
    let cleared = change(
        &repos,
        l.id,
        LeadChanges {
            next_contact_at: Some(None),
            lost_reason: Some(None),
            ..LeadChanges::default()
        },
        at_min(6),
    );
    assert_eq!((cleared.next_contact_at, cleared.lost_reason), (None, None));
    assert_eq!(
        events(&repos, l.id)[1..],
        [
            (
                LeadEventKind::StatusChanged,
                json!({"from": "new", "to": "lost"})
            ),
            (
                LeadEventKind::Updated,
                json!({"fields": ["next_contact_at", "lost_reason"]})
            ),
            (
                LeadEventKind::Updated,
                json!({"fields": ["next_contact_at", "lost_reason"]})
            ),
        ]
    );
}

fn consent_is_stored_as_given_and_a_resubmission_keeps_it(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let consented = lead("Анна", phone(1), base());
    let first = repos.leads.submitted_new(&NewLead {
        consent_at: Some(base()),
        ..consented.clone()
    });
    assert_eq!(first.consent_at, Some(base()));
    let later = NewLead {
        created_at: at_min(30),
        consent_at: Some(at_min(30)),
        ..consented
    };
    let joined = repos.leads.resubmitted(&later);
    assert_eq!(joined.id, first.id);
    let stored = repos.leads.get_by_id(first.id).expect("get").expect("lead");
    assert_eq!(
        stored.consent_at,
        Some(base()),
        "unchanged by the resubmission"
    );
}

// ---------------------------------------------------------------- filters

fn the_assignee_filter_finds_a_name_exactly_or_the_unowned(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let olga = store(&repos, 1, owned_by("olga")).id;
    let boris = store(&repos, 2, owned_by("boris")).id;
    let nobody = store(&repos, 3, |n| n).id;
    let by = |a| LeadFilter {
        assignee: Some(a),
        ..all_leads()
    };
    assert_eq!(
        search_ids(&repos, &by(AssigneeFilter::Named("olga".into()))),
        [olga]
    );
    assert_eq!(
        search_ids(&repos, &by(AssigneeFilter::Named("Olga".into()))),
        Vec::<i64>::new(),
        "case-sensitive"
    );
    assert_eq!(
        search_ids(&repos, &by(AssigneeFilter::Named("boris".into()))),
        [boris]
    );
    assert_eq!(
        search_ids(&repos, &by(AssigneeFilter::Unassigned)),
        [nobody]
    );
}

fn overdue_is_an_open_lead_called_back_before_now_and_false_is_every_other(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let now = at_min(1000);
    let status = |s| move |n: NewLead| NewLead { status: s, ..n };
    let due = |at: Option<DateTime<Utc>>, s: LeadStatus| {
        move |n: NewLead| NewLead {
            next_contact_at: at,
            status: s,
            ..n
        }
    };
    let late_new = store(
        &repos,
        1,
        due(Some(now - Duration::minutes(1)), LeadStatus::New),
    )
    .id;
    let late_trial = store(
        &repos,
        2,
        due(Some(now - Duration::days(3)), LeadStatus::TrialScheduled),
    )
    .id;
    let at_now = store(&repos, 3, due(Some(now), LeadStatus::Contacted)).id;
    let future = store(
        &repos,
        4,
        due(Some(now + Duration::minutes(1)), LeadStatus::New),
    )
    .id;
    let never = store(&repos, 5, status(LeadStatus::Contacted)).id;
    let converted = store(
        &repos,
        6,
        due(Some(now - Duration::days(1)), LeadStatus::Converted),
    )
    .id;
    let lost = store(
        &repos,
        7,
        due(Some(now - Duration::days(1)), LeadStatus::Lost),
    )
    .id;
    let overdue = |overdue| LeadFilter {
        overdue: Some(OverdueFilter { overdue, now }),
        ..all_leads()
    };
    assert_eq!(search_ids(&repos, &overdue(true)), [late_new, late_trial]);
    assert_eq!(
        search_ids(&repos, &overdue(false)),
        [at_now, future, never, converted, lost]
    );
    let page = repos.leads.search(&overdue(true)).expect("search");
    assert_eq!(page.total, 2);
}

fn the_call_back_window_is_half_open_and_leaves_out_leads_without_one(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let at = |m| Some(at_min(m));
    let before = store(&repos, 1, calling_back(at(99))).id;
    let from = store(&repos, 2, calling_back(at(100))).id;
    let inside = store(&repos, 3, calling_back(at(150))).id;
    let to = store(&repos, 4, calling_back(at(200))).id;
    store(&repos, 5, calling_back(None));
    let window = |from, to| LeadFilter {
        next_contact_from: from,
        next_contact_to: to,
        ..all_leads()
    };
    assert_eq!(
        search_ids(&repos, &window(at(100), at(200))),
        [from, inside]
    );
    assert_eq!(
        search_ids(&repos, &window(at(100), None)),
        [from, inside, to]
    );
    assert_eq!(search_ids(&repos, &window(None, at(100))), [before]);
    assert_eq!(
        search_ids(&repos, &window(at(100), at(100))),
        Vec::<i64>::new()
    );
}

fn a_location_limit_leaves_out_other_locations_and_leads_without_one(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let (a, b) = (
        catalog(&repos, "A").location.id,
        catalog(&repos, "B").location.id,
    );
    let at = |id| {
        move |n: NewLead| NewLead {
            location_id: id,
            phone: phone(7),
            ..n
        }
    };
    let in_a = store(&repos, 1, at(Some(a))).id;
    let in_b = store(&repos, 2, at(Some(b))).id;
    store(&repos, 3, at(None));
    let limited = |ids: Vec<i64>| LeadFilter {
        location_limit: Some(ids),
        ..all_leads()
    };
    assert_eq!(search_ids(&repos, &limited(vec![a])), [in_a]);
    assert_eq!(search_ids(&repos, &limited(vec![a, b])), [in_a, in_b]);
    assert_eq!(search_ids(&repos, &limited(Vec::new())), Vec::<i64>::new());
    let exported = repos
        .leads
        .export_page(&limited(vec![b]), None, 10)
        .expect("export");
    assert_eq!(ids(&exported), [in_b]);
    let stats = |limit| {
        repos
            .leads
            .stats(&LeadStatsFilter {
                location_limit: limit,
                ..LeadStatsFilter::default()
            })
            .expect("stats")
            .total
    };
    assert_eq!(
        (stats(None), stats(Some(vec![a])), stats(Some(Vec::new()))),
        (3, 1, 0)
    );
    let person = |limit: Option<&[i64]>| {
        repos
            .leads
            .find_by_phone(&phone(7), limit)
            .expect("find")
            .into_iter()
            .map(|h| h.lead.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(person(Some(&[b])), [in_b]);
    assert_eq!(person(None).len(), 3);
}

// ---------------------------------------------------------------- orders and pages

/// Leads with call-backs at minutes 50, 10, 10, none, 30, none (so ties and both parts).
fn call_back_leads(repos: &Repositories) -> Vec<i64> {
    [Some(50), Some(10), Some(10), None, Some(30), None]
        .into_iter()
        .zip(1..)
        .map(|(m, n)| store(repos, n, calling_back(m.map(at_min))).id)
        .collect()
}

fn the_call_back_order_puts_leads_without_one_last_in_both_directions(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let l = call_back_leads(&repos);
    let sorted = |sort| LeadFilter {
        sort,
        ..all_leads()
    };
    let ascending = [l[1], l[2], l[4], l[0], l[3], l[5]];
    let descending = [l[0], l[4], l[2], l[1], l[5], l[3]];
    assert_eq!(
        search_ids(&repos, &sorted(LeadSort::NextContactAsc)),
        ascending
    );
    assert_eq!(
        search_ids(&repos, &sorted(LeadSort::NextContactDesc)),
        descending
    );
    // Every page by limit and offset is the slice of the whole order, across the two parts.
    for (sort, whole) in [
        (LeadSort::NextContactAsc, ascending),
        (LeadSort::NextContactDesc, descending),
    ] {
        for limit in 1..=4 {
            for offset in 0..=7 {
                let page = repos
                    .leads
                    .search(&LeadFilter {
                        sort,
                        limit,
                        offset,
                        ..LeadFilter::default()
                    })
                    .expect("page");
                let start = (offset as usize).min(whole.len());
                let end = (start + limit as usize).min(whole.len());
                assert_eq!(
                    ids(&page.items),
                    whole[start..end],
                    "{sort:?} {limit} {offset}"
                );
                assert_eq!(page.total, 6);
            }
        }
    }
}

/// Every lead of `filter` by export pages of `size`.
fn exported(repos: &Repositories, filter: &LeadFilter, size: i64) -> Vec<i64> {
    let mut all = Vec::new();
    let mut after: Option<LeadCursor> = None;
    loop {
        let page = repos
            .leads
            .export_page(filter, after.as_ref(), size)
            .expect("export page");
        all.extend(ids(&page));
        match page.last() {
            Some(last) if page.len() as i64 == size => after = Some(LeadCursor::from(last)),
            _ => return all,
        }
    }
}

fn export_pages_by_key_follow_the_list_order_for_every_sort(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    call_back_leads(&repos);
    // Ties in created_at and updated_at too.
    for n in 7..10 {
        repos.leads.created(
            &NewLead {
                next_contact_at: (n == 8).then(|| at_min(10)),
                ..lead(&format!("Лид {n}"), phone(n), at_min(3))
            },
            ADMIN,
        );
    }
    let first = repos.leads.search(&all_leads()).expect("all").items[0].id;
    change(
        &repos,
        first,
        LeadChanges {
            notes: Some(Some("позвонить".into())),
            ..LeadChanges::default()
        },
        at_min(3),
    );
    for sort in [
        LeadSort::CreatedAsc,
        LeadSort::CreatedDesc,
        LeadSort::UpdatedAsc,
        LeadSort::UpdatedDesc,
        LeadSort::NextContactAsc,
        LeadSort::NextContactDesc,
    ] {
        let filter = LeadFilter {
            sort,
            limit: 200,
            ..LeadFilter::default()
        };
        let listed = search_ids(&repos, &filter);
        assert_eq!(listed.len(), 9);
        for size in [1, 2, 3, 4, 9, 10] {
            assert_eq!(
                exported(&repos, &filter, size),
                listed,
                "{sort:?} by {size}"
            );
        }
    }
    let contacted = LeadFilter {
        statuses: vec![LeadStatus::Contacted],
        ..all_leads()
    };
    assert_eq!(exported(&repos, &contacted, 2), Vec::<i64>::new());
}

// ---------------------------------------------------------------- stats

fn set_status(repos: &Repositories, id: i64, status: LeadStatus, at: DateTime<Utc>) {
    change(
        repos,
        id,
        LeadChanges {
            status: Some(status),
            ..LeadChanges::default()
        },
        at,
    );
}

fn stats_count_every_status_source_location_and_campaign_in_the_window(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let (a, b) = (
        catalog(&repos, "A").location.id,
        catalog(&repos, "B").location.id,
    );
    let made = |n, location, source, utm: Option<&str>, status| {
        let utm = utm.map(str::to_owned);
        store(&repos, n, move |l| NewLead {
            location_id: location,
            source,
            utm_source: utm,
            status,
            ..l
        })
    };
    use LeadSource::{Instagram, Vk, Website};
    use LeadStatus::{Contacted, Converted, Lost, New};
    made(1, Some(a), Website, Some("yandex"), Converted);
    made(2, Some(a), Website, Some("yandex"), New);
    made(3, Some(b), Instagram, Some("ig"), Converted);
    made(4, None, Vk, None, Lost);
    made(5, Some(b), Website, Some("ig"), Contacted);
    made(6, Some(b), Website, None, New);
    let all = repos
        .leads
        .stats(&LeadStatsFilter::default())
        .expect("stats");
    assert_eq!(all.total, 6);
    assert_eq!(
        all.by_status,
        [
            (New, 2),
            (Contacted, 1),
            (LeadStatus::TrialScheduled, 0),
            (Converted, 2),
            (Lost, 1)
        ]
    );
    let source = |s| all.by_source.iter().find(|(k, _)| *k == s).map(|(_, n)| *n);
    assert_eq!(
        (source(Website), source(Instagram), source(Vk)),
        (Some(4), Some(1), Some(1))
    );
    assert_eq!(source(LeadSource::Referral), Some(0));
    assert_eq!(all.by_source.len(), LeadSource::ALL.len());
    let loc = |location_id, total, converted| LocationTally {
        location_id,
        total,
        converted,
    };
    assert_eq!(
        all.by_location,
        [loc(Some(b), 3, 1), loc(Some(a), 2, 1), loc(None, 1, 0)]
    );
    let utm = |s: Option<&str>, total, converted| UtmSourceTally {
        utm_source: s.map(str::to_owned),
        total,
        converted,
    };
    assert_eq!(
        all.by_utm_source,
        [
            utm(Some("ig"), 2, 1),
            utm(Some("yandex"), 2, 1),
            utm(None, 2, 0),
        ],
        "ties by value, null last"
    );
    assert!((all.conversion_rate - 2.0 / 6.0).abs() < 1e-12);

    let window = repos
        .leads
        .stats(&LeadStatsFilter {
            created_from: Some(at_min(2)),
            created_to: Some(at_min(5)),
            location_id: Some(b),
            ..LeadStatsFilter::default()
        })
        .expect("stats");
    assert_eq!(window.total, 1, "lead 3 only");
    assert_eq!(window.conversion_rate, 1.0);
    let empty = repos
        .leads
        .stats(&LeadStatsFilter {
            created_from: Some(at_min(100)),
            ..LeadStatsFilter::default()
        })
        .expect("stats");
    assert_eq!((empty.total, empty.conversion_rate), (0, 0.0));
    assert!(empty.by_location.is_empty() && empty.by_utm_source.is_empty());
    assert_eq!(empty.median_first_contact_minutes, None);
}

fn the_median_is_of_each_leads_first_status_change_away_from_new(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let median = |repos: &Repositories, f: &LeadStatsFilter| {
        repos
            .leads
            .stats(f)
            .expect("stats")
            .median_first_contact_minutes
    };
    let all = LeadStatsFilter::default();
    assert_eq!(median(&repos, &all), None);
    // Leads created at minutes 1, 2, 3, 4 (and 5, never contacted).
    let l: Vec<i64> = (1..=5).map(|n| store(&repos, n, |x| x).id).collect();
    let created = |i: usize| at_min(i as i64 + 1);
    // First contact after 10 minutes; later changes do not count.
    set_status(
        &repos,
        l[0],
        LeadStatus::Contacted,
        created(0) + Duration::minutes(10),
    );
    set_status(
        &repos,
        l[0],
        LeadStatus::New,
        created(0) + Duration::minutes(11),
    );
    set_status(
        &repos,
        l[0],
        LeadStatus::Lost,
        created(0) + Duration::minutes(500),
    );
    // 90 seconds.
    set_status(
        &repos,
        l[1],
        LeadStatus::TrialScheduled,
        created(1) + Duration::seconds(90),
    );
    // 100 seconds and a microsecond: unrounded.
    let odd = Duration::seconds(100) + Duration::microseconds(1);
    set_status(&repos, l[2], LeadStatus::Converted, created(2) + odd);
    let got = median(&repos, &all).expect("a median");
    assert!(
        (got - 100.000_001 / 60.0).abs() < 1e-9,
        "the middle one: {got}"
    );
    // A fourth: 60 minutes; the median of 1.5, 1.6…, 10, 60 is the mean of the middle two.
    set_status(
        &repos,
        l[3],
        LeadStatus::Contacted,
        created(3) + Duration::minutes(60),
    );
    let middle = (100.000_001 / 60.0 + 10.0) / 2.0;
    let got = median(&repos, &all).expect("a median");
    assert!((got - middle).abs() < 1e-9, "{got} vs {middle}");
    // The window counts only its leads.
    let window = LeadStatsFilter {
        created_from: Some(created(1)),
        created_to: Some(created(3)),
        ..LeadStatsFilter::default()
    };
    let got = median(&repos, &window).expect("a median");
    assert!(
        (got - middle_of(&[1.5, 100.000_001 / 60.0])).abs() < 1e-9,
        "{got}"
    );
    // A lead created past `new` and changed later has no change away from `new`.
    let contacted = repos.leads.created(
        &NewLead {
            status: LeadStatus::Contacted,
            ..lead("Позвонил сам", phone(99), at_min(50))
        },
        ADMIN,
    );
    set_status(&repos, contacted.id, LeadStatus::Converted, at_min(51));
    let got = median(&repos, &all).expect("a median");
    assert!((got - middle).abs() < 1e-9, "unchanged: {got}");
    // An erased lead's events stay, but it is no longer counted.
    repos
        .leads
        .delete(l[3], None, ADMIN, at_min(900))
        .expect("delete");
    let got = median(&repos, &all).expect("a median");
    assert!((got - 100.000_001 / 60.0).abs() < 1e-9, "{got}");
}

fn middle_of(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

// ---------------------------------------------------------------- personal data

fn a_phone_finds_its_leads_oldest_first_each_with_its_events(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let person = Phone::parse("+7 916 555-00-11").expect("phone");
    let later = repos
        .leads
        .created(&lead("Анна", person.clone(), at_min(50)), ADMIN);
    let earlier = repos
        .leads
        .created(&lead("Анна П.", person.clone(), at_min(5)), ADMIN);
    let other = store(&repos, 3, |n| n);
    set_status(&repos, later.id, LeadStatus::Contacted, at_min(60));
    let found = repos.leads.find_by_phone(&person, None).expect("find");
    let found_ids: Vec<i64> = found.iter().map(|h| h.lead.id).collect();
    assert_eq!(found_ids, [earlier.id, later.id]);
    let kinds: Vec<Vec<LeadEventKind>> = found
        .iter()
        .map(|h| h.events.iter().map(|e| e.kind).collect())
        .collect();
    assert_eq!(
        kinds,
        [
            vec![LeadEventKind::Created],
            vec![LeadEventKind::Created, LeadEventKind::StatusChanged]
        ]
    );
    assert!(
        found
            .iter()
            .all(|h| h.events.iter().all(|e| e.lead_id == h.lead.id))
    );
    assert!(!found_ids.contains(&other.id));
    let nobody = Phone::parse("+7 999 000-00-00").expect("phone");
    assert!(
        repos
            .leads
            .find_by_phone(&nobody, None)
            .expect("find")
            .is_empty()
    );
}

backend_tests!(
    a_lead_created_with_an_owner_records_created_then_assigned,
    every_change_of_owner_is_one_assigned_event_and_no_updated_event,
    call_backs_and_lost_reasons_are_stored_cleared_and_named_in_updated_events,
    consent_is_stored_as_given_and_a_resubmission_keeps_it,
    the_assignee_filter_finds_a_name_exactly_or_the_unowned,
    overdue_is_an_open_lead_called_back_before_now_and_false_is_every_other,
    the_call_back_window_is_half_open_and_leaves_out_leads_without_one,
    a_location_limit_leaves_out_other_locations_and_leads_without_one,
    the_call_back_order_puts_leads_without_one_last_in_both_directions,
    export_pages_by_key_follow_the_list_order_for_every_sort,
    stats_count_every_status_source_location_and_campaign_in_the_window,
    the_median_is_of_each_leads_first_status_change_away_from_new,
    a_phone_finds_its_leads_oldest_first_each_with_its_events,
);
