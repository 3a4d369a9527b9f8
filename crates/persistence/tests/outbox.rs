//! The notifications outbox (API.md §7) through the public repositories, on both backends:
//! what each lead write and session cancellation puts in it, erasure stripping it, routing to
//! webhooks and Telegram chats, claiming under leases with order per lead and Telegram pacing,
//! completing, the statistics and pruning — and, on PostgreSQL, claimers running at once.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Barrier;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use cohai_domain::outbox::{
    AttemptRecord, ClaimLimits, ClaimedDelivery, DeliveryTarget, EventType, NewWebhook, NextStep,
    OutboxStats, TelegramRouting, Webhook, WebhookChanges,
};
use cohai_domain::ports::SubmitError;
use cohai_domain::{
    ClassSessionFields, Lead, LeadChanges, LeadReference, LeadStatus, NewLead, RepoError,
    SessionStatus,
};
use cohai_persistence::testing::builders::{lead, phone};
use cohai_persistence::testing::{Backend, TestDatabase, TestLeads};
use cohai_persistence::{Repositories, backend_tests};
use common::{Catalog, base, catalog};
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamp};
use diesel::{QueryableByName, RunQueryDsl};

const KEY: [u8; 32] = [0x5c; 32];
const LEASE: Duration = Duration::from_secs(60);
const DEFAULT_CHAT: &str = "-1000";

/// `base() + seconds`.
fn sec(seconds: i64) -> DateTime<Utc> {
    base() + TimeDelta::seconds(seconds)
}

/// `base() + minutes`.
fn min(minutes: i64) -> DateTime<Utc> {
    base() + TimeDelta::minutes(minutes)
}

/// `base() + milliseconds`.
fn ms(millis: i64) -> DateTime<Utc> {
    base() + TimeDelta::milliseconds(millis)
}

// --- Raw reads -------------------------------------------------------------------------------

/// A row of `outbox_events`.
#[derive(Debug, Clone, QueryableByName)]
struct RawOutbox {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    event_id: String,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    lead_id: Option<i64>,
    #[diesel(sql_type = Bool)]
    from_website: bool,
    #[diesel(sql_type = Text)]
    payload: String,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
}

impl RawOutbox {
    fn data(&self) -> serde_json::Value {
        serde_json::from_str(&self.payload).expect("the payload is JSON")
    }
}

/// Every outbox event, in order.
fn outbox(t: &TestDatabase) -> Vec<RawOutbox> {
    let mut conn = t.db.pool().get().expect("raw connection");
    diesel::sql_query(
        "SELECT id, event_id, event_type, lead_id, from_website, payload, created_at \
         FROM outbox_events ORDER BY id",
    )
    .load(&mut **conn)
    .expect("read outbox_events")
}

/// The outbox events after the first `skip`.
fn outbox_after(t: &TestDatabase, skip: usize) -> Vec<RawOutbox> {
    outbox(t).into_iter().skip(skip).collect()
}

fn types(events: &[RawOutbox]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

/// A row of `deliveries`.
#[derive(Debug, Clone, QueryableByName)]
struct RawDelivery {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    outbox_event_id: i64,
    #[diesel(sql_type = Text)]
    channel: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    webhook_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    chat_id: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    lead_id: Option<i64>,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
}

/// Every delivery, by id.
fn deliveries(t: &TestDatabase) -> Vec<RawDelivery> {
    let mut conn = t.db.pool().get().expect("raw connection");
    diesel::sql_query(
        "SELECT id, outbox_event_id, channel, webhook_id, chat_id, lead_id, state, attempts \
         FROM deliveries ORDER BY id",
    )
    .load(&mut **conn)
    .expect("read deliveries")
}

fn delivery(t: &TestDatabase, id: i64) -> RawDelivery {
    deliveries(t)
        .into_iter()
        .find(|d| d.id == id)
        .expect("the delivery exists")
}

/// The Telegram deliveries as (outbox event id, chat), by id.
fn telegram_deliveries(t: &TestDatabase) -> Vec<(i64, String)> {
    deliveries(t)
        .into_iter()
        .filter(|d| d.channel == "telegram")
        .map(|d| {
            (
                d.outbox_event_id,
                d.chat_id.expect("a Telegram delivery has a chat"),
            )
        })
        .collect()
}

fn rows(t: &TestDatabase, table: &str) -> i64 {
    cohai_persistence::testing::count(&t.db, &format!("SELECT COUNT(*) AS n FROM {table}"))
}

// --- Writes ----------------------------------------------------------------------------------

/// An active webhook subscribed to `events`, created at `at`.
fn hook(repos: &Repositories, events: &[EventType], at: DateTime<Utc>) -> Webhook {
    hook_with(repos, events, true, at)
}

fn hook_with(
    repos: &Repositories,
    events: &[EventType],
    active: bool,
    at: DateTime<Utc>,
) -> Webhook {
    repos
        .webhooks
        .create(
            &NewWebhook {
                url: "https://hooks.example.com/cohai".to_owned(),
                events: events.to_vec(),
                active,
                signing_key: KEY,
            },
            "anna",
            at,
        )
        .expect("create a webhook")
}

/// A website submission of `n` at `at` that creates a lead.
fn submitted(
    repos: &Repositories,
    n: u32,
    at: DateTime<Utc>,
    edit: impl FnOnce(&mut NewLead),
) -> Lead {
    let mut new = lead(&format!("Анна {n}"), phone(n), at);
    edit(&mut new);
    repos.leads.submitted_new(&new)
}

/// A lead `n` created by an admin at `at`.
fn admin_lead(
    repos: &Repositories,
    n: u32,
    at: DateTime<Utc>,
    edit: impl FnOnce(&mut NewLead),
) -> Lead {
    let mut new = lead(&format!("Борис {n}"), phone(n), at);
    edit(&mut new);
    repos.leads.created(&new, "admin")
}

fn set_status(repos: &Repositories, id: i64, status: LeadStatus, at: DateTime<Utc>) -> Lead {
    repos
        .leads
        .update(
            id,
            &LeadChanges {
                status: Some(status),
                ..LeadChanges::default()
            },
            None,
            "anna",
            at,
        )
        .expect("update")
        .expect("the lead exists")
}

fn stored(repos: &Repositories, id: i64) -> serde_json::Value {
    serde_json::to_value(
        repos
            .leads
            .get_by_id(id)
            .expect("get")
            .expect("the lead exists"),
    )
    .expect("a lead is JSON")
}

/// The admin fields of a scheduled hour of `cat` from `starts_at`.
fn session_fields(cat: &Catalog, starts_at: DateTime<Utc>) -> ClassSessionFields {
    ClassSessionFields {
        location_id: cat.location.id,
        program_type_id: cat.program_type.id,
        trainer_id: cat.trainer.id,
        membership_plan_id: None,
        starts_at,
        ends_at: starts_at + TimeDelta::hours(1),
        capacity: 12,
        status: SessionStatus::Scheduled,
        cancellation_reason: None,
    }
}

/// A session of `cat` from `starts_at`, stored through the admin repository.
fn admin_session(repos: &Repositories, cat: &Catalog, starts_at: DateTime<Utc>) -> i64 {
    repos
        .class_session_admin
        .create_audited(&session_fields(cat, starts_at), "anna", base())
        .expect("create a session")
        .id
}

/// Cancels session `id` of `cat` (starting at `starts_at`) with `reason` at `at`.
fn cancel(
    repos: &Repositories,
    cat: &Catalog,
    id: i64,
    starts_at: DateTime<Utc>,
    reason: &str,
    at: DateTime<Utc>,
) {
    repos
        .class_session_admin
        .update_audited(
            id,
            &ClassSessionFields {
                status: SessionStatus::Cancelled,
                cancellation_reason: Some(reason.to_owned()),
                ..session_fields(cat, starts_at)
            },
            None,
            "boris",
            at,
        )
        .expect("cancel")
        .expect("the session exists");
}

// --- The dispatcher's side -------------------------------------------------------------------

fn route(repos: &Repositories, telegram: Option<&TelegramRouting>, now: DateTime<Utc>) -> usize {
    repos.outbox.route(telegram, now, 1000).expect("route")
}

fn claim(repos: &Repositories, now: DateTime<Utc>) -> Vec<ClaimedDelivery> {
    repos
        .outbox
        .claim(now, LEASE, ClaimLimits::batch(100))
        .expect("claim")
}

fn claimed_ids(claimed: &[ClaimedDelivery]) -> BTreeSet<i64> {
    claimed.iter().map(|d| d.id).collect()
}

fn record(status: Option<i32>) -> AttemptRecord {
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    AttemptRecord {
        status_code: status,
        error: (!ok).then(|| {
            if status.is_some() {
                "status"
            } else {
                "timeout"
            }
            .to_owned()
        }),
        duration: Duration::from_millis(25),
    }
}

/// Completes `delivery` with `next`; whether the lease was still held.
fn complete(
    repos: &Repositories,
    delivery: &ClaimedDelivery,
    next: NextStep,
    now: DateTime<Utc>,
) -> bool {
    let status = if next == NextStep::Delivered {
        200
    } else {
        500
    };
    repos
        .outbox
        .complete(delivery, &record(Some(status)), &next, None, now)
        .expect("complete")
}

fn chat_of(delivery: &ClaimedDelivery) -> Option<&str> {
    match &delivery.target {
        DeliveryTarget::Telegram { chat_id } => Some(chat_id),
        DeliveryTarget::Webhook { .. } => None,
    }
}

fn webhook_of(delivery: &ClaimedDelivery) -> Option<i64> {
    match &delivery.target {
        DeliveryTarget::Webhook { webhook_id, .. } => Some(*webhook_id),
        DeliveryTarget::Telegram { .. } => None,
    }
}

/// A lead's deliveries among `claimed`, as (event type, webhook).
fn of_lead(claimed: &[ClaimedDelivery], lead_id: i64) -> Vec<(EventType, Option<i64>)> {
    let mut found: Vec<_> = claimed
        .iter()
        .filter(|d| d.event.data["lead"]["id"].as_i64() == Some(lead_id))
        .map(|d| (d.event.event_type, webhook_of(d)))
        .collect();
    found.sort();
    found
}

/// The delivery among `claimed` of lead `lead_id` to webhook `hook`.
fn find(claimed: &[ClaimedDelivery], lead_id: i64, hook: i64) -> &ClaimedDelivery {
    claimed
        .iter()
        .find(|d| webhook_of(d) == Some(hook) && d.event.data["lead"]["id"] == lead_id)
        .expect("claimed")
}

fn routing(location_chats: &[(i64, &str)]) -> TelegramRouting {
    TelegramRouting {
        default_chat: DEFAULT_CHAT.to_owned(),
        location_chats: location_chats
            .iter()
            .map(|(id, chat)| (*id, (*chat).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

// === 1. What lead writes put in the outbox ===================================================

fn a_submission_writes_one_lead_created_event_with_the_stored_lead(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let created = submitted(&repos, 1, min(1), |l| {
        l.email = Some("anna@example.com".to_owned())
    });
    let events = outbox(&t);
    assert_eq!(types(&events), ["lead.created"]);
    let event = &events[0];
    assert_eq!(event.lead_id, Some(created.id));
    assert!(event.from_website, "a submission comes from the website");
    assert_eq!(event.created_at, min(1).naive_utc());
    assert_eq!(
        event.data(),
        serde_json::json!({"lead": stored(&repos, created.id)})
    );
    assert_eq!(event.data()["lead"]["email"], "anna@example.com");
    assert_eq!(
        uuid::Uuid::parse_str(&event.event_id)
            .ok()
            .map(|u| u.get_version_num()),
        Some(4),
        "the event id is a random UUID: {}",
        event.event_id
    );
}

fn a_resubmission_writes_lead_resubmitted_with_the_open_lead(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let first = submitted(&repos, 1, min(1), |_| {});
    let again = repos.leads.resubmitted(&NewLead {
        message: Some("Можно в субботу?".to_owned()),
        ..lead("Анна 1", phone(1), min(30))
    });
    assert_eq!(again.id, first.id);
    let events = outbox(&t);
    assert_eq!(types(&events), ["lead.created", "lead.resubmitted"]);
    let event = &events[1];
    assert_eq!(
        (event.lead_id, event.from_website, event.created_at),
        (Some(first.id), true, min(30).naive_utc())
    );
    assert_eq!(
        event.data(),
        serde_json::json!({"lead": stored(&repos, first.id)})
    );
    assert_ne!(events[0].event_id, events[1].event_id);
}

fn an_admin_update_writes_one_event_per_kind_with_the_lead_after_it(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let created = admin_lead(&repos, 1, min(0), |_| {});
    let first = outbox(&t);
    assert_eq!(types(&first), ["lead.created"]);
    assert!(
        !first[0].from_website,
        "an admin's lead is not the website's"
    );
    assert_eq!(first[0].data(), serde_json::json!({"lead": created}));

    let after = repos
        .leads
        .update(
            created.id,
            &LeadChanges {
                status: Some(LeadStatus::Contacted),
                assignee: Some(Some("boris".to_owned())),
                notes: Some(Some("Перезвонить вечером".to_owned())),
                ..LeadChanges::default()
            },
            Some(created.version),
            "anna",
            min(5),
        )
        .expect("update")
        .expect("the lead exists");
    assert_eq!(
        (after.status, after.assignee.as_deref(), after.version),
        (LeadStatus::Contacted, Some("boris"), created.version + 1)
    );
    let new = outbox_after(&t, 1);
    assert_eq!(
        types(&new),
        ["lead.status_changed", "lead.assigned", "lead.updated"]
    );
    let now = stored(&repos, created.id);
    for event in &new {
        assert_eq!(
            (event.lead_id, event.from_website, event.created_at),
            (Some(created.id), false, min(5).naive_utc()),
            "{}",
            event.event_type
        );
        assert_eq!(
            event.data(),
            serde_json::json!({"lead": now}),
            "the lead after the change"
        );
    }
    let ids: HashSet<&str> = new.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids.len(), 3, "each event has its own id");

    // Only the kinds that changed.
    set_status(&repos, created.id, LeadStatus::TrialScheduled, min(6));
    assert_eq!(types(&outbox_after(&t, 4)), ["lead.status_changed"]);
    assert_eq!(
        outbox_after(&t, 4)[0].data()["lead"]["status"],
        "trial_scheduled"
    );
}

fn a_write_that_fails_or_changes_nothing_writes_no_event(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let created = admin_lead(&repos, 1, min(0), |_| {});
    let status = LeadChanges {
        status: Some(LeadStatus::Lost),
        lost_reason: Some(Some("Дорого".to_owned())),
        ..LeadChanges::default()
    };
    assert!(matches!(
        repos.leads.update(
            created.id,
            &status,
            Some(created.version + 1),
            "anna",
            min(1)
        ),
        Err(RepoError::Stale)
    ));
    assert!(matches!(
        repos
            .leads
            .delete(created.id, Some(created.version + 1), "anna", min(1)),
        Err(RepoError::Stale)
    ));
    // A change to what the lead already is.
    let same = repos
        .leads
        .update(
            created.id,
            &LeadChanges {
                status: Some(LeadStatus::New),
                ..LeadChanges::default()
            },
            None,
            "anna",
            min(1),
        )
        .expect("update")
        .expect("exists");
    assert_eq!(same.version, created.version);
    // A submission naming a session that does not exist is refused.
    let refused = repos.leads.submit_and_wait(&NewLead {
        class_session_id: Some(9_999),
        ..lead("Вера", phone(2), min(2))
    });
    assert!(
        matches!(
            refused,
            Err(SubmitError::MissingReference(LeadReference::ClassSession))
        ),
        "{refused:?}"
    );
    assert_eq!(types(&outbox(&t)), ["lead.created"], "only the creation");
    assert_eq!(
        repos.leads.get_by_id(created.id).expect("get"),
        Some(created)
    );
}

// === 2. Erasure ==============================================================================

fn erasing_a_lead_writes_lead_erased_with_its_id_only_and_strips_its_earlier_events(
    backend: Backend,
) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let webhook = hook(
        &repos,
        &[
            EventType::LeadCreated,
            EventType::LeadStatusChanged,
            EventType::LeadErased,
        ],
        base(),
    );
    let erased = submitted(&repos, 1, min(1), |l| {
        l.email = Some("anna@example.com".to_owned());
        l.utm_source = Some("vk".to_owned());
    });
    repos
        .leads
        .update(
            erased.id,
            &LeadChanges {
                status: Some(LeadStatus::Lost),
                lost_reason: Some(Some("Переехала".to_owned())),
                notes: Some(Some("Звонить после 18".to_owned())),
                ..LeadChanges::default()
            },
            None,
            "anna",
            min(2),
        )
        .expect("update")
        .expect("exists");
    let kept = submitted(&repos, 2, min(3), |_| {});
    let before = outbox(&t);

    assert!(
        repos
            .leads
            .delete(erased.id, None, "anna", min(4))
            .expect("erase")
    );
    let events = outbox(&t);
    assert_eq!(
        types(&events),
        [
            "lead.created",
            "lead.status_changed",
            "lead.updated",
            "lead.created",
            "lead.erased"
        ]
    );
    let erasure = &events[4];
    assert_eq!(erasure.lead_id, Some(erased.id));
    assert_eq!(erasure.created_at, min(4).naive_utc());
    assert_eq!(erasure.data(), serde_json::json!({"lead_id": erased.id}));

    let personal = ["name", "phone", "email", "message", "notes", "lost_reason"];
    for (old, new) in before
        .iter()
        .zip(&events)
        .filter(|(e, _)| e.lead_id == Some(erased.id))
    {
        let was = old.data()["lead"].clone();
        let is = new.data()["lead"].clone();
        for key in personal {
            assert!(
                is.get(key).is_none(),
                "{key} left in {}: {is}",
                new.event_type
            );
        }
        let mut expected = was.as_object().expect("a lead object").clone();
        for key in personal {
            expected.remove(key);
        }
        assert_eq!(is, serde_json::Value::Object(expected), "the rest stays");
        assert_eq!(is["id"], erased.id);
        assert_eq!(is["utm_source"], "vk");
        assert_eq!(new.event_id, old.event_id, "the same event");
    }
    assert_eq!(
        events[1].data()["lead"]["status"],
        "lost",
        "what the change was stays"
    );
    let other = events
        .iter()
        .find(|e| e.lead_id == Some(kept.id))
        .expect("kept's event");
    assert_eq!(
        other.payload, before[3].payload,
        "another lead's event is untouched"
    );
    assert_eq!(other.data()["lead"]["name"], "Анна 2");

    // What the dispatcher delivers is the stripped event.
    route(&repos, None, min(5));
    let claimed = claim(&repos, min(5));
    let firsts: Vec<&ClaimedDelivery> = claimed
        .iter()
        .filter(|d| d.event.data["lead"]["id"].as_i64() == Some(erased.id))
        .collect();
    assert_eq!(firsts.len(), 1, "the lead's first event only");
    assert_eq!(firsts[0].event.event_type, EventType::LeadCreated);
    assert_eq!(webhook_of(firsts[0]), Some(webhook.id));
    for key in personal {
        assert!(firsts[0].event.data["lead"].get(key).is_none(), "{key}");
    }
    for d in &claimed {
        assert!(complete(&repos, d, NextStep::Delivered, min(5)));
    }
    let next = claim(&repos, min(6));
    assert_eq!(
        next.iter().map(|d| d.event.event_type).collect::<Vec<_>>(),
        [EventType::LeadStatusChanged]
    );
    assert!(complete(&repos, &next[0], NextStep::Delivered, min(6)));
    let last = claim(&repos, min(7));
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].event.event_type, EventType::LeadErased);
    assert_eq!(
        last[0].event.data,
        serde_json::json!({"lead_id": erased.id})
    );
}

// === 3. Session cancellation =================================================================

fn cancelling_a_chosen_session_writes_one_class_session_cancelled_event_with_its_open_leads(
    backend: Backend,
) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cat = catalog(&repos, "A");
    let starts = min(24 * 60);
    let session = admin_session(&repos, &cat, starts);
    let other = admin_session(&repos, &cat, starts + TimeDelta::hours(3));
    let chooses = |n: u32, status: LeadStatus, session: i64| {
        admin_lead(&repos, n, min(1), |l| {
            l.status = status;
            l.class_session_id = Some(session);
        })
        .id
    };
    let new = chooses(1, LeadStatus::New, session);
    let trial = chooses(2, LeadStatus::TrialScheduled, session);
    chooses(3, LeadStatus::Converted, session);
    chooses(4, LeadStatus::Lost, session);
    let elsewhere = chooses(5, LeadStatus::New, other);
    let unchosen = admin_session(&repos, &cat, starts + TimeDelta::hours(6));
    let before = outbox(&t).len();

    cancel(&repos, &cat, session, starts, "Тренер заболел", min(10));
    let events = outbox_after(&t, before);
    assert_eq!(
        types(&events),
        ["class_session.cancelled"],
        "one event for the session"
    );
    let event = &events[0];
    assert_eq!(
        (event.lead_id, event.from_website, event.created_at),
        (None, false, min(10).naive_utc())
    );
    let public = repos
        .class_sessions
        .get_by_id(session)
        .expect("get")
        .expect("exists");
    assert_eq!(
        event.data(),
        serde_json::json!({
            "class_session": serde_json::to_value(&public).expect("JSON"),
            "lead_ids": [new, trial],
        })
    );
    assert_eq!(event.data()["class_session"]["status"], "cancelled");
    assert_eq!(
        event.data()["class_session"]["cancellation_reason"],
        "Тренер заболел"
    );
    assert_eq!(
        event.data()["class_session"]["location"]["id"],
        cat.location.id
    );

    // A new reason for a cancelled session notifies nobody again.
    cancel(&repos, &cat, session, starts, "Ремонт зала", min(11));
    assert_eq!(outbox(&t).len(), before + 1);
    // Each session its own event, with its own leads; one nobody chose lists none.
    cancel(
        &repos,
        &cat,
        other,
        starts + TimeDelta::hours(3),
        "Ремонт",
        min(12),
    );
    cancel(
        &repos,
        &cat,
        unchosen,
        starts + TimeDelta::hours(6),
        "Ремонт",
        min(12),
    );
    let last = outbox_after(&t, before + 1);
    assert_eq!(
        types(&last),
        ["class_session.cancelled", "class_session.cancelled"]
    );
    assert_eq!(last[0].data()["class_session"]["id"], other);
    assert_eq!(last[0].data()["lead_ids"], serde_json::json!([elsewhere]));
    assert_eq!(last[1].data()["class_session"]["id"], unchosen);
    assert_eq!(last[1].data()["lead_ids"], serde_json::json!([]));
}

// === 4. Routing ==============================================================================

fn route_gives_one_delivery_to_each_active_webhook_subscribed_since_before_the_event(
    backend: Backend,
) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let subscribed = hook(
        &repos,
        &[EventType::LeadCreated, EventType::LeadErased],
        base(),
    );
    let other_type = hook(&repos, &[EventType::LeadUpdated], base());
    let inactive = hook_with(&repos, &[EventType::LeadCreated], false, base());
    let late = hook_with(&repos, &[EventType::LeadCreated], false, base());
    let first = submitted(&repos, 1, min(1), |_| {});
    repos
        .webhooks
        .update(
            late.id,
            &WebhookChanges {
                active: Some(true),
                ..WebhookChanges::default()
            },
            None,
            "anna",
            min(2),
        )
        .expect("activate")
        .expect("exists");

    assert_eq!(route(&repos, None, min(3)), 1, "one event routed");
    let made = deliveries(&t);
    assert_eq!(made.len(), 1, "{made:?}");
    let d = &made[0];
    assert_eq!(
        (d.channel.as_str(), d.webhook_id, d.chat_id.as_deref()),
        ("webhook", Some(subscribed.id), None)
    );
    assert_eq!(
        (d.lead_id, d.state.as_str(), d.attempts),
        (Some(first.id), "pending", 0)
    );
    assert_eq!(d.outbox_event_id, outbox(&t)[0].id);
    assert_eq!(route(&repos, None, min(3)), 0, "nothing new");
    assert_eq!(deliveries(&t).len(), 1);

    // Once active, the late one gets the events that happen afterwards.
    let second = submitted(&repos, 2, min(4), |_| {});
    assert_eq!(route(&repos, None, min(5)), 1);
    let hooks: BTreeSet<i64> = deliveries(&t)
        .iter()
        .filter(|d| d.lead_id == Some(second.id))
        .filter_map(|d| d.webhook_id)
        .collect();
    assert_eq!(hooks, BTreeSet::from([subscribed.id, late.id]));
    assert!(
        deliveries(&t)
            .iter()
            .all(|d| d.webhook_id != Some(other_type.id) && d.webhook_id != Some(inactive.id))
    );
}

fn route_takes_unrouted_events_in_order_up_to_its_limit(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let webhook = hook(&repos, &[EventType::LeadCreated], base());
    assert_eq!(route(&repos, None, min(0)), 0, "an empty outbox");
    let leads: Vec<i64> = (1..=3)
        .map(|n| admin_lead(&repos, n, min(i64::from(n)), |_| {}).id)
        .collect();
    assert_eq!(repos.outbox.route(None, min(5), 2).expect("route"), 2);
    let routed: Vec<Option<i64>> = deliveries(&t).iter().map(|d| d.lead_id).collect();
    assert_eq!(routed, [Some(leads[0]), Some(leads[1])], "the oldest first");
    assert_eq!(repos.outbox.route(None, min(5), 2).expect("route"), 1);
    assert_eq!(repos.outbox.route(None, min(5), 2).expect("route"), 0);
    assert_eq!(deliveries(&t).len(), 3);
    assert!(
        deliveries(&t)
            .iter()
            .all(|d| d.webhook_id == Some(webhook.id))
    );
    // An event no target wants is routed too, to nothing.
    set_status(&repos, leads[0], LeadStatus::Contacted, min(6));
    assert_eq!(route(&repos, None, min(7)), 1);
    assert_eq!(route(&repos, None, min(7)), 0);
    assert_eq!(deliveries(&t).len(), 3);
}

fn telegram_gets_website_leads_in_their_locations_chat_else_their_sessions_else_the_default(
    backend: Backend,
) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let a = catalog(&repos, "A");
    let b = catalog(&repos, "B");
    let unmapped = catalog(&repos, "C");
    let tg = routing(&[(a.location.id, "-100A"), (b.location.id, "-100B")]);
    let b_session = b.stored_session(&repos, min(24 * 60)).id;

    let at_a = submitted(&repos, 1, min(1), |l| l.location_id = Some(a.location.id));
    // Its session's location, not its own (none).
    let by_session = submitted(&repos, 2, min(2), |l| l.class_session_id = Some(b_session));
    let nowhere = submitted(&repos, 3, min(3), |_| {});
    let at_unmapped = submitted(&repos, 4, min(4), |l| {
        l.location_id = Some(unmapped.location.id);
    });
    // Its own location wins over its session's.
    let both = submitted(&repos, 5, min(5), |l| {
        l.location_id = Some(a.location.id);
        l.class_session_id = Some(b_session);
    });
    repos.leads.resubmitted(&NewLead {
        location_id: Some(b.location.id),
        ..lead("Анна 1", phone(1), min(6))
    });
    // Neither an admin's lead, nor changes, nor an erasure go to Telegram.
    admin_lead(&repos, 7, min(7), |l| l.location_id = Some(a.location.id));
    set_status(&repos, nowhere.id, LeadStatus::Contacted, min(8));
    repos
        .leads
        .delete(at_unmapped.id, None, "anna", min(9))
        .expect("erase");

    let events = outbox(&t);
    assert_eq!(route(&repos, Some(&tg), min(10)), events.len());
    let seq = |i: usize| events[i].id;
    assert_eq!(
        telegram_deliveries(&t),
        [
            (seq(0), "-100A".to_owned()),
            (seq(1), "-100B".to_owned()),
            (seq(2), DEFAULT_CHAT.to_owned()),
            (seq(3), DEFAULT_CHAT.to_owned()),
            (seq(4), "-100A".to_owned()),
            // The resubmission goes where the lead is (location A), whatever this form said.
            (seq(5), "-100A".to_owned()),
        ]
    );
    let lead_ids: Vec<Option<i64>> = deliveries(&t).iter().map(|d| d.lead_id).collect();
    assert_eq!(
        lead_ids,
        [
            at_a.id,
            by_session.id,
            nowhere.id,
            at_unmapped.id,
            both.id,
            at_a.id
        ]
        .map(Some)
    );
    assert_eq!(
        types(&events[5..6]),
        ["lead.resubmitted"],
        "the sixth event is the resubmission"
    );
    assert_eq!(route(&repos, Some(&tg), min(11)), 0);
}

fn without_telegram_routing_no_telegram_delivery_is_made(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    submitted(&repos, 1, min(1), |_| {});
    assert_eq!(route(&repos, None, min(2)), 1);
    assert!(deliveries(&t).is_empty());
    // Routed is routed: configuring Telegram later does not send old events.
    assert_eq!(route(&repos, Some(&routing(&[])), min(3)), 0);
    assert!(deliveries(&t).is_empty());
}

fn a_cancellation_goes_to_telegram_only_when_open_leads_chose_the_session(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let a = catalog(&repos, "A");
    let b = catalog(&repos, "B");
    let c = catalog(&repos, "C");
    let tg = routing(&[(a.location.id, "-100A"), (b.location.id, "-100B")]);
    let starts = min(24 * 60);
    let chosen = admin_session(&repos, &a, starts);
    let unchosen = admin_session(&repos, &b, starts);
    let only_closed = admin_session(&repos, &b, starts + TimeDelta::hours(2));
    let unmapped = admin_session(&repos, &c, starts);
    admin_lead(&repos, 1, min(1), |l| l.class_session_id = Some(chosen));
    admin_lead(&repos, 2, min(1), |l| l.class_session_id = Some(chosen));
    admin_lead(&repos, 3, min(1), |l| {
        l.class_session_id = Some(only_closed);
        l.status = LeadStatus::Converted;
    });
    admin_lead(&repos, 4, min(1), |l| l.class_session_id = Some(unmapped));
    route(&repos, Some(&tg), min(2));
    assert!(telegram_deliveries(&t).is_empty(), "admins' leads");

    let before = outbox(&t).len();
    cancel(&repos, &a, chosen, starts, "Болезнь", min(3));
    cancel(&repos, &b, unchosen, starts, "Болезнь", min(3));
    cancel(
        &repos,
        &b,
        only_closed,
        starts + TimeDelta::hours(2),
        "Болезнь",
        min(3),
    );
    cancel(&repos, &c, unmapped, starts, "Болезнь", min(3));
    let events = outbox_after(&t, before);
    assert_eq!(events.len(), 4);
    assert_eq!(route(&repos, Some(&tg), min(4)), 4);
    assert_eq!(
        telegram_deliveries(&t),
        [
            (events[0].id, "-100A".to_owned()),
            (events[3].id, DEFAULT_CHAT.to_owned()),
        ]
    );
    assert!(
        deliveries(&t).iter().all(|d| d.lead_id.is_none()),
        "a cancellation is no lead's event"
    );
}

// === 5. Claiming and completing ==============================================================

fn a_leads_later_event_waits_until_its_earlier_delivery_is_delivered(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let events = [EventType::LeadCreated, EventType::LeadStatusChanged];
    let one = hook(&repos, &events, base());
    let two = hook(&repos, &events, base());
    let first = admin_lead(&repos, 1, min(1), |_| {});
    set_status(&repos, first.id, LeadStatus::Contacted, min(2));
    let second = admin_lead(&repos, 2, min(3), |_| {});
    route(&repos, None, min(4));
    assert_eq!(deliveries(&t).len(), 6);

    let claimed = claim(&repos, min(4));
    assert_eq!(claimed.len(), 4, "each lead's first event, to each webhook");
    for lead in [first.id, second.id] {
        assert_eq!(
            of_lead(&claimed, lead),
            [
                (EventType::LeadCreated, Some(one.id)),
                (EventType::LeadCreated, Some(two.id))
            ]
        );
    }
    assert!(
        claim(&repos, min(4)).is_empty(),
        "leased, and the rest wait"
    );

    // A retried first delivery still holds back the lead's next one to that webhook.
    assert!(complete(
        &repos,
        find(&claimed, first.id, one.id),
        NextStep::RetryAt(min(6)),
        min(4)
    ));
    assert!(complete(
        &repos,
        find(&claimed, first.id, two.id),
        NextStep::Delivered,
        min(4)
    ));
    let next = claim(&repos, min(5));
    assert_eq!(
        of_lead(&next, first.id),
        [(EventType::LeadStatusChanged, Some(two.id))],
        "the other webhook goes on; this one waits"
    );
    let retried = claim(&repos, min(6));
    assert_eq!(
        of_lead(&retried, first.id),
        [(EventType::LeadCreated, Some(one.id))]
    );
    let retried = find(&retried, first.id, one.id);
    assert_eq!(retried.attempt, 2);
    assert!(complete(&repos, retried, NextStep::Delivered, min(6)));
    let last = claim(&repos, min(6));
    assert_eq!(
        of_lead(&last, first.id),
        [(EventType::LeadStatusChanged, Some(one.id))]
    );
    assert_eq!(find(&last, first.id, one.id).attempt, 1);
}

fn giving_up_keeps_the_failure_and_lets_the_leads_next_delivery_go(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let webhook = hook(
        &repos,
        &[EventType::LeadCreated, EventType::LeadStatusChanged],
        base(),
    );
    let lead = admin_lead(&repos, 1, min(1), |_| {});
    set_status(&repos, lead.id, LeadStatus::Contacted, min(2));
    route(&repos, None, min(3));
    let first = claim(&repos, min(3));
    assert_eq!(first.len(), 1);
    assert!(complete(&repos, &first[0], NextStep::GiveUp, min(3)));
    assert_eq!(delivery(&t, first[0].id).state, "failed");
    assert_eq!(delivery(&t, first[0].id).attempts, 1);
    assert!(
        repos
            .webhooks
            .get_by_id(webhook.id)
            .expect("get")
            .expect("exists")
            .active,
        "giving up does not deactivate"
    );
    let next = claim(&repos, min(3));
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].event.event_type, EventType::LeadStatusChanged);
    assert!(
        claim(&repos, min(30)).iter().all(|d| d.id != first[0].id),
        "never again"
    );
}

fn a_claimed_delivery_is_not_claimed_again_until_its_lease_runs_out(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let webhook = hook(&repos, &[EventType::LeadCreated], base());
    let lead = submitted(&repos, 1, min(1), |_| {});
    route(&repos, None, min(1));
    let first = claim(&repos, sec(60));
    assert_eq!(first.len(), 1);
    let d = &first[0];
    assert_eq!(d.attempt, 1);
    assert_eq!(d.failing_since, None);
    assert_eq!(
        d.target,
        DeliveryTarget::Webhook {
            webhook_id: webhook.id,
            url: "https://hooks.example.com/cohai".to_owned(),
            signing_key: KEY,
        }
    );
    assert_eq!(d.event.event_type, EventType::LeadCreated);
    assert_eq!(d.event.event_id, outbox(&t)[0].event_id);
    assert_eq!(d.event.seq, outbox(&t)[0].id);
    assert_eq!(d.event.created_at, min(1));
    assert_eq!(
        d.event.data,
        serde_json::json!({"lead": stored(&repos, lead.id)})
    );

    assert!(claim(&repos, sec(60 + 30)).is_empty(), "leased");
    assert!(claim(&repos, sec(60 + 59)).is_empty(), "still leased");
    let again = claim(&repos, sec(60 + 61));
    assert_eq!(
        claimed_ids(&again),
        BTreeSet::from([d.id]),
        "the lease ran out"
    );
    assert_eq!(again[0].attempt, 1, "nothing was completed");
    assert_ne!(again[0].lease_token, d.lease_token);
    assert!(
        claim(&repos, sec(60 + 62)).is_empty(),
        "leased to the new holder"
    );
}

fn a_retry_is_due_at_its_instant_with_the_next_attempt_number(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    hook(&repos, &[EventType::LeadCreated], base());
    submitted(&repos, 1, min(1), |_| {});
    route(&repos, None, min(1));
    let first = claim(&repos, min(1));
    assert!(complete(
        &repos,
        &first[0],
        NextStep::RetryAt(min(10)),
        min(2)
    ));
    let row = delivery(&t, first[0].id);
    assert_eq!((row.state.as_str(), row.attempts), ("pending", 1));
    assert!(
        claim(&repos, min(10) - TimeDelta::seconds(1)).is_empty(),
        "not before"
    );
    let second = claim(&repos, min(10));
    assert_eq!(claimed_ids(&second), BTreeSet::from([first[0].id]));
    assert_eq!(second[0].attempt, 2);
    assert_eq!(second[0].failing_since, Some(min(2)), "the first failure");
    assert!(complete(
        &repos,
        &second[0],
        NextStep::RetryAt(min(20)),
        min(11)
    ));
    let third = claim(&repos, min(20));
    assert_eq!(third[0].attempt, 3);
    assert_eq!(
        third[0].failing_since,
        Some(min(2)),
        "the window's start stays"
    );
    assert!(complete(&repos, &third[0], NextStep::Delivered, min(21)));
    let row = delivery(&t, first[0].id);
    assert_eq!((row.state.as_str(), row.attempts), ("delivered", 3));
    assert!(claim(&repos, min(60)).is_empty());
    assert_eq!(rows(&t, "delivery_attempts"), 3, "each attempt logged");
}

fn a_completion_with_a_lost_lease_returns_false_but_is_logged(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let webhook = hook(&repos, &[EventType::LeadCreated], base());
    submitted(&repos, 1, min(1), |_| {});
    route(&repos, None, min(1));
    let old = claim(&repos, min(1)).remove(0);
    // The lease runs out and another dispatcher takes the delivery over.
    let new = claim(&repos, min(3)).remove(0);
    assert_eq!(new.id, old.id);
    assert!(
        !repos
            .outbox
            .complete(&old, &record(Some(200)), &NextStep::Delivered, None, min(3))
            .expect("complete"),
        "the lease is lost"
    );
    let forged = ClaimedDelivery {
        lease_token: "not-a-lease".to_owned(),
        ..new.clone()
    };
    assert!(!complete(
        &repos,
        &forged,
        NextStep::RetryAt(min(3)),
        min(3)
    ));
    let row = delivery(&t, old.id);
    assert_eq!(
        (row.state.as_str(), row.attempts),
        ("pending", 0),
        "left to its holder"
    );
    assert!(
        claim(&repos, min(3)).is_empty(),
        "still leased by the holder"
    );
    let log = repos
        .webhooks
        .attempts(webhook.id, 50, 0)
        .expect("attempts")
        .expect("exists");
    assert_eq!(log.total, 2, "both attempts are logged");
    assert_eq!(
        log.items
            .iter()
            .map(|a| (a.attempt, a.status_code))
            .collect::<Vec<_>>(),
        [(1, Some(500)), (1, Some(200))]
    );
    assert!(complete(&repos, &new, NextStep::Delivered, min(3)));
    assert_eq!(delivery(&t, old.id).state, "delivered");
}

fn telegram_gets_at_most_one_message_per_chat_a_second(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let a = catalog(&repos, "A");
    let tg = routing(&[(a.location.id, "-100A")]);
    let webhook = hook(&repos, &[EventType::LeadCreated], base());
    for n in 1..=3 {
        submitted(&repos, n, min(1), |_| {});
    }
    submitted(&repos, 4, min(1), |l| l.location_id = Some(a.location.id));
    route(&repos, Some(&tg), min(1));
    assert_eq!(telegram_deliveries(&t).len(), 4);

    let now = ms(60_000);
    let first = claim(&repos, now);
    let chats: Vec<&str> = first.iter().filter_map(chat_of).collect();
    assert_eq!(
        chats.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from(["-100A", DEFAULT_CHAT])
    );
    assert_eq!(chats.len(), 2, "one per chat");
    assert_eq!(
        first
            .iter()
            .filter(|d| webhook_of(d) == Some(webhook.id))
            .count(),
        4,
        "webhooks are not paced"
    );
    assert!(claim(&repos, now).is_empty());
    assert!(
        claim(&repos, now + TimeDelta::milliseconds(999)).is_empty(),
        "within a second"
    );
    let second = claim(&repos, now + TimeDelta::seconds(1));
    assert_eq!(
        second.iter().filter_map(chat_of).collect::<Vec<_>>(),
        [DEFAULT_CHAT]
    );
    assert!(claim(&repos, now + TimeDelta::milliseconds(1500)).is_empty());
    let third = claim(&repos, now + TimeDelta::seconds(2));
    assert_eq!(
        third.iter().filter_map(chat_of).collect::<Vec<_>>(),
        [DEFAULT_CHAT]
    );
    assert!(
        claim(&repos, now + TimeDelta::seconds(3)).is_empty(),
        "all sent"
    );
    let all: BTreeSet<i64> = first
        .iter()
        .chain(&second)
        .chain(&third)
        .map(|d| d.id)
        .collect();
    assert_eq!(all.len(), 8, "each delivery once");
}

fn a_paced_chats_waiting_messages_do_not_hold_back_other_due_deliveries(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let a = catalog(&repos, "A");
    let tg = routing(&[(a.location.id, "-100A")]);
    let webhook = hook(&repos, &[EventType::LeadCreated], base());
    // A burst of website leads to one chat: each event a webhook and a Telegram delivery.
    for n in 1..=12 {
        submitted(&repos, n, min(1), |_| {});
    }
    // And one to another chat, routed after the burst.
    let other_chat = submitted(&repos, 13, min(1), |l| l.location_id = Some(a.location.id));
    route(&repos, Some(&tg), min(1));
    assert_eq!(deliveries(&t).len(), 26);

    // A dispatcher claims small batches at one instant until nothing is due.
    let now = min(2);
    let mut claimed = Vec::new();
    loop {
        let batch = repos
            .outbox
            .claim(now, LEASE, ClaimLimits::batch(4))
            .expect("claim");
        if batch.is_empty() {
            break;
        }
        claimed.extend(batch);
    }
    let to_webhook = claimed
        .iter()
        .filter(|d| webhook_of(d) == Some(webhook.id))
        .count();
    assert_eq!(
        to_webhook, 13,
        "every webhook delivery goes out at once, however many messages wait for the chat"
    );
    let chats: Vec<&str> = claimed.iter().filter_map(chat_of).collect();
    assert_eq!(
        chats.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([DEFAULT_CHAT, "-100A"]),
        "the other chat's message is not held back either"
    );
    assert_eq!(chats.len(), 2, "one message per chat");
    assert!(
        claimed
            .iter()
            .any(|d| chat_of(d) == Some("-100A") && d.event.data["lead"]["id"] == other_chat.id)
    );
}

fn a_webhooks_leases_stop_at_its_limit_and_the_claim_looks_past_its_backlog(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let slow = hook(&repos, &[EventType::LeadCreated], base());
    // A backlog of ten leads for the slow webhook, then a second webhook and two more leads:
    // in due order ten of the slow one's, then the two leads' deliveries to each.
    for n in 1..=10 {
        submitted(&repos, n, min(1), |_| {});
    }
    route(&repos, None, min(1));
    let other = hook(&repos, &[EventType::LeadCreated], min(2));
    for n in 11..=12 {
        submitted(&repos, n, min(3), |_| {});
    }
    route(&repos, None, min(3));
    assert_eq!(deliveries(&t).len(), 14);
    let limits = ClaimLimits {
        batch: 5,
        per_webhook: 3,
    };
    let to = |claimed: &[ClaimedDelivery], hook: i64| {
        claimed
            .iter()
            .filter(|d| webhook_of(d) == Some(hook))
            .count()
    };

    // The first five due are all the slow webhook's: three are taken, and the claim looks
    // past the rest to the other webhook's.
    let now = min(4);
    let first = repos.outbox.claim(now, LEASE, limits).expect("claim");
    assert_eq!(
        (to(&first, slow.id), to(&first, other.id)),
        (3, 2),
        "{first:?}"
    );
    let oldest: BTreeSet<i64> = deliveries(&t)
        .iter()
        .filter(|d| d.webhook_id == Some(slow.id))
        .take(3)
        .map(|d| d.id)
        .collect();
    assert!(
        oldest.is_subset(&claimed_ids(&first)),
        "the slow webhook's oldest go first"
    );
    // Its three leases count against it until they are recorded or run out.
    assert!(
        repos
            .outbox
            .claim(sec(4 * 60 + 30), LEASE, limits)
            .expect("claim")
            .is_empty(),
        "the slow webhook is at its limit and the other has nothing more due"
    );
    let done = first
        .iter()
        .find(|d| webhook_of(d) == Some(slow.id))
        .expect("a slow webhook delivery");
    assert!(complete(
        &repos,
        done,
        NextStep::Delivered,
        sec(4 * 60 + 40)
    ));
    let next = repos
        .outbox
        .claim(sec(4 * 60 + 41), LEASE, limits)
        .expect("claim");
    assert_eq!(
        to(&next, slow.id),
        1,
        "one recorded, one more made: {next:?}"
    );
    // Leases that ran out (their holder died) count no more.
    let later = repos
        .outbox
        .claim(now + TimeDelta::minutes(2), LEASE, limits)
        .expect("claim");
    assert_eq!(to(&later, slow.id), 3, "{later:?}");
    assert_eq!(
        to(&later, other.id),
        2,
        "the other webhook's expired leases too"
    );
    // With no limit per webhook the batch is what it was.
    let unlimited = repos
        .outbox
        .claim(now + TimeDelta::minutes(4), LEASE, ClaimLimits::batch(5))
        .expect("claim");
    assert_eq!(to(&unlimited, slow.id), 5, "{unlimited:?}");
}

fn a_chat_pause_holds_the_chat_until_then(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let tg = routing(&[]);
    submitted(&repos, 1, min(1), |_| {});
    submitted(&repos, 2, min(1), |_| {});
    route(&repos, Some(&tg), min(1));
    let now = min(2);
    let first = claim(&repos, now);
    assert_eq!(first.len(), 1);
    // Telegram answered 429 with retry_after 30.
    assert!(
        repos
            .outbox
            .complete(
                &first[0],
                &record(Some(429)),
                &NextStep::RetryAt(now + TimeDelta::seconds(30)),
                Some(now + TimeDelta::seconds(30)),
                now,
            )
            .expect("complete")
    );
    for later in [1, 5, 29] {
        assert!(
            claim(&repos, now + TimeDelta::seconds(later)).is_empty(),
            "the chat is paused at +{later}s"
        );
    }
    let resumed = claim(&repos, now + TimeDelta::seconds(30));
    assert_eq!(resumed.len(), 1, "one message again");
    assert_eq!(chat_of(&resumed[0]), Some(DEFAULT_CHAT));
    assert!(
        claim(&repos, now + TimeDelta::seconds(31)).len() == 1,
        "and the next a second later"
    );
    assert_eq!(telegram_deliveries(&t).len(), 2);
}

fn deactivate_deactivates_the_webhook_and_drops_its_other_pending_deliveries(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let failing = hook(&repos, &[EventType::LeadCreated], base());
    let healthy = hook(&repos, &[EventType::LeadCreated], base());
    submitted(&repos, 1, min(1), |_| {});
    submitted(&repos, 2, min(1), |_| {});
    route(&repos, None, min(1));
    let claimed = claim(&repos, min(1));
    assert_eq!(claimed.len(), 4);
    let mine: Vec<&ClaimedDelivery> = claimed
        .iter()
        .filter(|d| webhook_of(d) == Some(failing.id))
        .collect();
    assert_eq!(mine.len(), 2);
    assert!(complete(&repos, mine[0], NextStep::Deactivate, min(2)));

    let after = repos
        .webhooks
        .get_by_id(failing.id)
        .expect("get")
        .expect("exists");
    assert!(!after.active);
    assert_eq!(after.version, failing.version + 1);
    assert_eq!(delivery(&t, mine[0].id).state, "failed");
    assert_eq!(delivery(&t, mine[1].id).state, "dropped");
    assert!(
        !complete(&repos, mine[1], NextStep::Delivered, min(2)),
        "a dropped delivery's lease is gone"
    );
    assert_eq!(
        delivery(&t, mine[1].id).state,
        "dropped",
        "and it stays dropped"
    );
    let others: Vec<&ClaimedDelivery> = claimed
        .iter()
        .filter(|d| webhook_of(d) == Some(healthy.id))
        .collect();
    for d in &others {
        assert_eq!(delivery(&t, d.id).state, "pending", "another webhook's");
    }
    // A later event goes to the healthy webhook only; nothing more for the deactivated one.
    submitted(&repos, 3, min(3), |_| {});
    route(&repos, None, min(3));
    let later = claim(&repos, min(10));
    assert!(
        later.iter().all(|d| webhook_of(d) == Some(healthy.id)),
        "{later:?}"
    );
    assert_eq!(later.len(), 3, "the two expired leases and the new event");
}

// === 6. Claimers at once (PostgreSQL) ========================================================

fn concurrent_claims_never_hand_out_one_delivery_twice(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    hook(&repos, &[EventType::LeadCreated], base());
    hook(&repos, &[EventType::LeadCreated], base());
    for n in 1..=100 {
        admin_lead(&repos, n, min(1), |_| {});
    }
    route(&repos, None, min(1));
    let all: BTreeSet<i64> = deliveries(&t).iter().map(|d| d.id).collect();
    assert_eq!(all.len(), 200);

    let start = Barrier::new(2);
    let now = min(2);
    let claimers: Vec<Vec<i64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let outbox = repos.outbox.clone();
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    let mut mine = Vec::new();
                    loop {
                        let got = outbox
                            .claim(now, LEASE, ClaimLimits::batch(7))
                            .expect("claim");
                        if got.is_empty() {
                            return mine;
                        }
                        mine.extend(got.iter().map(|d| d.id));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("claimer"))
            .collect()
    });
    let total: usize = claimers.iter().map(Vec::len).sum();
    let union: BTreeSet<i64> = claimers.iter().flatten().copied().collect();
    assert_eq!(total, union.len(), "no delivery was claimed twice");
    assert_eq!(union, all, "every delivery was claimed");
    assert!(
        claimers.iter().all(|c| !c.is_empty()),
        "both claimed: {:?}",
        claimers.iter().map(Vec::len).collect::<Vec<_>>()
    );
}

fn concurrent_claims_send_at_most_one_message_per_chat_a_second(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let cats: Vec<Catalog> = (0..6).map(|i| catalog(&repos, &format!("L{i}"))).collect();
    let chats: Vec<(i64, String)> = cats
        .iter()
        .map(|c| (c.location.id, format!("-100{}", c.location.id)))
        .collect();
    let tg = TelegramRouting {
        default_chat: DEFAULT_CHAT.to_owned(),
        location_chats: chats.iter().cloned().collect(),
    };
    let per_chat = 5;
    for n in 0..(per_chat * cats.len()) {
        let location = cats[n % cats.len()].location.id;
        submitted(&repos, n as u32 + 1, min(1), |l| {
            l.location_id = Some(location);
        });
    }
    route(&repos, Some(&tg), min(1));
    let all: BTreeSet<i64> = deliveries(&t).iter().map(|d| d.id).collect();
    assert_eq!(all.len(), per_chat * cats.len());

    let rounds = 3 * per_chat;
    let barrier = Barrier::new(2);
    // Each claimer's deliveries as (round, chat, id), and its failed claims (kept rather than
    // panicking, so the other claimer is not left waiting at the barrier).
    type Claimed = (Vec<(usize, String, i64)>, Vec<String>);
    let results: Vec<Claimed> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let outbox = repos.outbox.clone();
                let barrier = &barrier;
                s.spawn(move || {
                    let (mut mine, mut errors) = (Vec::new(), Vec::new());
                    for round in 0..rounds {
                        barrier.wait();
                        let now = min(2) + TimeDelta::seconds(round as i64);
                        match outbox.claim(now, LEASE, ClaimLimits::batch(10)) {
                            Ok(got) => {
                                for d in got {
                                    let chat = chat_of(&d).expect("Telegram").to_owned();
                                    mine.push((round, chat, d.id));
                                }
                            }
                            Err(e) => errors.push(format!("round {round}: {e:?}")),
                        }
                    }
                    (mine, errors)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("claimer"))
            .collect()
    });
    let errors: Vec<&String> = results.iter().flat_map(|(_, e)| e).collect();
    assert!(errors.is_empty(), "claims failed: {errors:?}");
    let sent: Vec<&Vec<(usize, String, i64)>> = results.iter().map(|(s, _)| s).collect();
    let every: Vec<&(usize, String, i64)> = sent.iter().copied().flatten().collect();
    let ids: BTreeSet<i64> = every.iter().map(|(_, _, id)| *id).collect();
    assert_eq!(ids.len(), every.len(), "no delivery claimed twice");
    assert_eq!(ids, all, "every message sent");
    let per_second: HashSet<(usize, &str)> = every
        .iter()
        .map(|(round, chat, _)| (*round, chat.as_str()))
        .collect();
    assert_eq!(
        per_second.len(),
        every.len(),
        "at most one message per chat a second, across both claimers"
    );
}

// === 7. Statistics and pruning ===============================================================

fn stats_count_unrouted_events_and_pending_deliveries_from_the_oldest(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let stats = || repos.outbox.stats().expect("stats");
    assert_eq!(
        stats(),
        OutboxStats {
            pending: 0,
            oldest_pending: None
        }
    );
    hook(&repos, &[EventType::LeadCreated], base());
    hook(&repos, &[EventType::LeadCreated], base());
    let first = admin_lead(&repos, 1, min(1), |_| {});
    admin_lead(&repos, 2, min(2), |_| {});
    assert_eq!(
        stats(),
        OutboxStats {
            pending: 2,
            oldest_pending: Some(min(1))
        },
        "unrouted"
    );
    route(&repos, None, min(3));
    assert_eq!(
        stats(),
        OutboxStats {
            pending: 4,
            oldest_pending: Some(min(1))
        },
        "2 × 2 deliveries"
    );
    // An event nobody wants is pending until routed, then not.
    set_status(&repos, first.id, LeadStatus::Contacted, min(4));
    assert_eq!(stats().pending, 5);
    for d in claim(&repos, min(5)) {
        let done = d.event.data["lead"]["id"] == first.id;
        let next = if done {
            NextStep::Delivered
        } else {
            NextStep::GiveUp
        };
        assert!(complete(&repos, &d, next, min(5)));
    }
    // First's deliveries delivered, second's given up; the status change not routed yet.
    assert_eq!(
        stats(),
        OutboxStats {
            pending: 1,
            oldest_pending: Some(min(4))
        }
    );
    route(&repos, None, min(6));
    assert_eq!(
        stats(),
        OutboxStats {
            pending: 0,
            oldest_pending: None
        }
    );
    admin_lead(&repos, 3, min(7), |_| {});
    route(&repos, None, min(7));
    let claimed = claim(&repos, min(7));
    assert!(complete(
        &repos,
        &claimed[0],
        NextStep::RetryAt(min(9)),
        min(8)
    ));
    assert_eq!(
        stats(),
        OutboxStats {
            pending: 2,
            oldest_pending: Some(min(7))
        },
        "a retrying delivery and a leased one are pending"
    );
}

fn prune_deletes_only_old_events_with_nothing_left_to_deliver(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let webhook = hook(&repos, &[EventType::LeadCreated], base());
    let delivered = admin_lead(&repos, 1, min(1), |_| {});
    let retrying = admin_lead(&repos, 2, min(2), |_| {});
    let failed = admin_lead(&repos, 3, min(3), |_| {});
    route(&repos, None, min(3));
    for d in claim(&repos, min(3)) {
        let lead = d.event.data["lead"]["id"].as_i64();
        let next = if lead == Some(delivered.id) {
            NextStep::Delivered
        } else if lead == Some(retrying.id) {
            NextStep::RetryAt(min(60))
        } else {
            assert_eq!(lead, Some(failed.id));
            NextStep::GiveUp
        };
        assert!(complete(&repos, &d, next, min(3)));
    }
    // Routed to nobody (the webhook wants creations only).
    set_status(&repos, delivered.id, LeadStatus::Contacted, min(4));
    route(&repos, None, min(4));
    // Delivered, but newer than the cut.
    let recent = admin_lead(&repos, 4, min(20), |_| {});
    route(&repos, None, min(20));
    let claimed = claim(&repos, min(20));
    assert_eq!(claimed.len(), 1);
    assert!(complete(&repos, &claimed[0], NextStep::Delivered, min(20)));
    // Old, but not routed yet.
    let unrouted = admin_lead(&repos, 5, min(5), |_| {});
    assert_eq!(rows(&t, "delivery_attempts"), 4);
    let before: Vec<RawOutbox> = outbox(&t);
    assert_eq!(before.len(), 6);

    assert_eq!(
        repos.outbox.prune(min(10)).expect("prune"),
        3,
        "the delivered, the failed and the one routed to nobody"
    );
    let left: Vec<(Option<i64>, String)> = outbox(&t)
        .into_iter()
        .map(|e| (e.lead_id, e.event_type))
        .collect();
    let created = |id: i64| (Some(id), "lead.created".to_owned());
    assert_eq!(
        left,
        [
            created(retrying.id),
            created(recent.id),
            created(unrouted.id)
        ],
        "the pending, the recent and the unrouted stay"
    );
    let kept: Vec<(Option<i64>, String)> = deliveries(&t)
        .into_iter()
        .map(|d| (d.lead_id, d.state))
        .collect();
    assert_eq!(
        kept,
        [
            (Some(retrying.id), "pending".to_owned()),
            (Some(recent.id), "delivered".to_owned())
        ],
        "the pruned events' deliveries went with them"
    );
    assert_eq!(
        rows(&t, "delivery_attempts"),
        2,
        "the retrying one's and the recent one's"
    );
    assert!(
        deliveries(&t)
            .iter()
            .all(|d| d.webhook_id == Some(webhook.id))
    );
    assert_eq!(repos.outbox.prune(min(10)).expect("prune"), 0);

    // The pending one is still delivered later, and while leased is still pending.
    let retried = claim(&repos, min(60));
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].event.data["lead"]["id"], retrying.id);
    assert_eq!(retried[0].attempt, 2);
    assert_eq!(
        repos.outbox.prune(min(10_000)).expect("prune"),
        1,
        "only the recent one"
    );
    let left: Vec<Option<i64>> = outbox(&t).iter().map(|e| e.lead_id).collect();
    assert_eq!(left, [Some(retrying.id), Some(unrouted.id)]);
}

backend_tests!(
    a_submission_writes_one_lead_created_event_with_the_stored_lead,
    a_resubmission_writes_lead_resubmitted_with_the_open_lead,
    an_admin_update_writes_one_event_per_kind_with_the_lead_after_it,
    a_write_that_fails_or_changes_nothing_writes_no_event,
    erasing_a_lead_writes_lead_erased_with_its_id_only_and_strips_its_earlier_events,
    cancelling_a_chosen_session_writes_one_class_session_cancelled_event_with_its_open_leads,
    route_gives_one_delivery_to_each_active_webhook_subscribed_since_before_the_event,
    route_takes_unrouted_events_in_order_up_to_its_limit,
    telegram_gets_website_leads_in_their_locations_chat_else_their_sessions_else_the_default,
    without_telegram_routing_no_telegram_delivery_is_made,
    a_cancellation_goes_to_telegram_only_when_open_leads_chose_the_session,
    a_leads_later_event_waits_until_its_earlier_delivery_is_delivered,
    giving_up_keeps_the_failure_and_lets_the_leads_next_delivery_go,
    a_claimed_delivery_is_not_claimed_again_until_its_lease_runs_out,
    a_retry_is_due_at_its_instant_with_the_next_attempt_number,
    a_completion_with_a_lost_lease_returns_false_but_is_logged,
    telegram_gets_at_most_one_message_per_chat_a_second,
    a_paced_chats_waiting_messages_do_not_hold_back_other_due_deliveries,
    a_webhooks_leases_stop_at_its_limit_and_the_claim_looks_past_its_backlog,
    a_chat_pause_holds_the_chat_until_then,
    deactivate_deactivates_the_webhook_and_drops_its_other_pending_deliveries,
    stats_count_unrouted_events_and_pending_deliveries_from_the_oldest,
    prune_deletes_only_old_events_with_nothing_left_to_deliver,
);

/// Claimers in separate transactions at once: only PostgreSQL runs them concurrently.
mod postgres_concurrency {
    use cohai_persistence::testing::Backend;

    #[test]
    fn concurrent_claims_never_hand_out_one_delivery_twice() {
        super::concurrent_claims_never_hand_out_one_delivery_twice(Backend::Postgres);
    }

    #[test]
    fn concurrent_claims_send_at_most_one_message_per_chat_a_second() {
        super::concurrent_claims_send_at_most_one_message_per_chat_a_second(Backend::Postgres);
    }
}
