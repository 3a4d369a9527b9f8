//! Webhooks (API.md §7): the admin API's create, change and delete with their audit entries,
//! the `active_since` rule routing relies on, dropped deliveries on deactivation, the
//! deliveries log and redelivery — on both backends.

use std::time::Duration;

use chrono::{DateTime, Utc};
use cohai_domain::outbox::{
    AttemptRecord, ClaimLimits, ClaimedDelivery, EventType, NewWebhook, NextStep, Webhook,
    WebhookChanges,
};
use cohai_domain::{AuditAction, AuditEntity, AuditFilter, RepoError};
use cohai_persistence::testing::builders::{at, lead, phone};
use cohai_persistence::testing::{Backend, TestDatabase, TestLeads, count};
use cohai_persistence::{Repositories, backend_tests};
use diesel::sql_types::{Nullable, Text, Timestamp};
use diesel::{QueryableByName, RunQueryDsl};

const KEY: [u8; 32] = [0xab; 32];
const KEY_HEX: &str = "abababababababababababababababababababababababababababababababab";
const LEASE: Duration = Duration::from_secs(60);

fn minute(m: u32) -> DateTime<Utc> {
    at(&format!("2026-12-01T10:{m:02}:00Z"))
}

fn new_hook(url: &str, events: &[EventType], active: bool) -> NewWebhook {
    NewWebhook {
        url: url.to_owned(),
        events: events.to_vec(),
        active,
        signing_key: KEY,
    }
}

fn created(repos: &Repositories, active: bool, at: DateTime<Utc>) -> Webhook {
    repos
        .webhooks
        .create(
            &new_hook(
                "https://hooks.example.com/in",
                &[EventType::LeadCreated],
                active,
            ),
            "anna",
            at,
        )
        .expect("create a webhook")
}

fn change(repos: &Repositories, id: i64, changes: WebhookChanges, at: DateTime<Utc>) -> Webhook {
    repos
        .webhooks
        .update(id, &changes, None, "anna", at)
        .expect("update")
        .expect("the webhook exists")
}

#[derive(QueryableByName)]
struct RawHook {
    #[diesel(sql_type = Text)]
    events: String,
    #[diesel(sql_type = Text)]
    signing_key: String,
    #[diesel(sql_type = Nullable<Timestamp>)]
    active_since: Option<chrono::NaiveDateTime>,
}

fn raw_hook(t: &TestDatabase, id: i64) -> RawHook {
    let mut conn = t.db.pool().get().expect("raw connection");
    diesel::sql_query(format!(
        "SELECT events, signing_key, active_since FROM webhooks WHERE id = {id}"
    ))
    .get_result(&mut **conn)
    .expect("read the webhook row")
}

fn deliveries_in(t: &TestDatabase, hook: i64, state: &str) -> i64 {
    count(
        &t.db,
        &format!(
            "SELECT COUNT(*) AS n FROM deliveries WHERE webhook_id = {hook} AND state = '{state}'"
        ),
    )
}

/// A lead created at `at` (its `lead.created` event happens then), routed at `at`.
fn lead_event(repos: &Repositories, n: u32, at: DateTime<Utc>) {
    repos
        .leads
        .created(&lead(&format!("Анна {n}"), phone(n), at), "anna");
    repos.outbox.route(None, at, 100).expect("route");
}

/// Claims the due deliveries at `now`.
fn claim(repos: &Repositories, now: DateTime<Utc>) -> Vec<ClaimedDelivery> {
    repos
        .outbox
        .claim(now, LEASE, ClaimLimits::batch(10))
        .expect("claim")
}

/// Records an attempt of `delivery` answered with `status` at `now`.
fn attempt(repos: &Repositories, delivery: &ClaimedDelivery, status: i32, now: DateTime<Utc>) {
    let ok = (200..300).contains(&status);
    let record = AttemptRecord {
        status_code: Some(status),
        error: (!ok).then(|| "status".to_owned()),
        duration: Duration::from_millis(12),
    };
    let next = if ok {
        NextStep::Delivered
    } else {
        NextStep::RetryAt(now)
    };
    assert!(
        repos
            .outbox
            .complete(delivery, &record, &next, None, now)
            .expect("complete"),
        "the lease is held"
    );
}

fn webhook_audit(repos: &Repositories) -> Vec<cohai_domain::AuditEntry> {
    repos
        .audit
        .search(&AuditFilter {
            entity: Some(AuditEntity::Webhook),
            entity_id: None,
            actor: None,
            limit: 200,
            offset: 0,
        })
        .expect("audit")
        .items
}

fn a_webhook_is_created_read_listed_changed_and_deleted(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let hook = created(&repos, true, minute(0));
    assert_eq!(hook.version, 1);
    assert_eq!(hook.url, "https://hooks.example.com/in");
    assert_eq!(hook.events, [EventType::LeadCreated]);
    assert!(hook.active);
    assert_eq!((hook.created_at, hook.updated_at), (minute(0), minute(0)));
    assert_eq!(
        repos.webhooks.get_by_id(hook.id).expect("get"),
        Some(hook.clone())
    );
    let other = created(&repos, false, minute(1));
    let listed: Vec<i64> = repos
        .webhooks
        .list()
        .expect("list")
        .iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(listed, [hook.id, other.id], "by id");

    let changed = change(
        &repos,
        hook.id,
        WebhookChanges {
            url: Some("https://hooks.example.com/v2".to_owned()),
            events: Some(vec![EventType::LeadErased]),
            ..WebhookChanges::default()
        },
        minute(2),
    );
    assert_eq!(changed.version, 2);
    assert_eq!(changed.url, "https://hooks.example.com/v2");
    assert_eq!(changed.events, [EventType::LeadErased]);
    assert_eq!(
        (changed.created_at, changed.updated_at),
        (minute(0), minute(2))
    );

    assert!(
        repos
            .webhooks
            .delete(hook.id, Some(2), "anna", minute(3))
            .expect("delete")
    );
    assert_eq!(repos.webhooks.get_by_id(hook.id).expect("get"), None);
    assert!(
        !repos
            .webhooks
            .delete(hook.id, None, "anna", minute(3))
            .expect("delete")
    );
    assert_eq!(
        repos
            .webhooks
            .update(hook.id, &WebhookChanges::default(), None, "anna", minute(3))
            .expect("update"),
        None
    );
}

fn every_write_is_audited_without_the_signing_key(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let hook = created(&repos, true, minute(0));
    assert_eq!(raw_hook(&t, hook.id).signing_key, KEY_HEX, "stored as hex");
    change(
        &repos,
        hook.id,
        WebhookChanges {
            active: Some(false),
            ..WebhookChanges::default()
        },
        minute(1),
    );
    repos
        .webhooks
        .delete(hook.id, None, "boris", minute(2))
        .expect("delete");
    let entries = webhook_audit(&repos);
    let actions: Vec<AuditAction> = entries.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::Deleted,
            AuditAction::Updated,
            AuditAction::Created
        ]
    );
    assert!(entries.iter().all(|e| e.entity_id == Some(hook.id)));
    assert_eq!(
        entries[2].changes,
        serde_json::json!({
            "url": {"from": null, "to": "https://hooks.example.com/in"},
            "events": {"from": null, "to": ["lead.created"]},
            "active": {"from": null, "to": true},
        })
    );
    assert_eq!(
        entries[1].changes,
        serde_json::json!({"active": {"from": true, "to": false}})
    );
    assert_eq!(entries[0].actor, "boris");
    for entry in &entries {
        let text = entry.changes.to_string();
        assert!(
            !text.contains(KEY_HEX) && !text.contains("signing_key"),
            "{text}"
        );
    }
}

fn events_are_stored_in_wire_name_order_once(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let hook = repos
        .webhooks
        .create(
            &new_hook(
                "https://hooks.example.com/in",
                &[
                    EventType::LeadUpdated,
                    EventType::ClassSessionCancelled,
                    EventType::LeadCreated,
                    EventType::LeadUpdated,
                ],
                true,
            ),
            "anna",
            minute(0),
        )
        .expect("create");
    assert_eq!(
        raw_hook(&t, hook.id).events,
        r#"["class_session.cancelled","lead.created","lead.updated"]"#
    );
    assert_eq!(
        hook.events,
        [
            EventType::ClassSessionCancelled,
            EventType::LeadCreated,
            EventType::LeadUpdated
        ]
    );
}

fn active_since_is_the_last_activation_and_null_while_inactive(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let naive = |at: DateTime<Utc>| Some(at.naive_utc());
    let active = created(&repos, true, minute(0));
    assert_eq!(raw_hook(&t, active.id).active_since, naive(minute(0)));
    let inactive = created(&repos, false, minute(0));
    assert_eq!(raw_hook(&t, inactive.id).active_since, None);

    let activate = |on: bool| WebhookChanges {
        active: Some(on),
        ..WebhookChanges::default()
    };
    change(&repos, inactive.id, activate(true), minute(5));
    assert_eq!(raw_hook(&t, inactive.id).active_since, naive(minute(5)));
    // Staying active (here with another change) keeps the instant.
    change(
        &repos,
        inactive.id,
        WebhookChanges {
            url: Some("https://hooks.example.com/v2".to_owned()),
            active: Some(true),
            ..WebhookChanges::default()
        },
        minute(6),
    );
    assert_eq!(raw_hook(&t, inactive.id).active_since, naive(minute(5)));
    change(&repos, inactive.id, activate(false), minute(7));
    assert_eq!(raw_hook(&t, inactive.id).active_since, None);
    change(&repos, inactive.id, activate(true), minute(8));
    assert_eq!(raw_hook(&t, inactive.id).active_since, naive(minute(8)));
}

fn a_webhook_gets_only_the_events_since_it_became_active(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let hook = created(&repos, false, minute(0));
    lead_event(&repos, 1, minute(1));
    change(
        &repos,
        hook.id,
        WebhookChanges {
            active: Some(true),
            ..WebhookChanges::default()
        },
        minute(2),
    );
    lead_event(&repos, 2, minute(3));
    assert_eq!(
        deliveries_in(&t, hook.id, "pending"),
        1,
        "only the later event"
    );
}

fn a_stale_version_is_refused_and_changes_nothing(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let hook = created(&repos, true, minute(0));
    let changes = WebhookChanges {
        active: Some(false),
        ..WebhookChanges::default()
    };
    assert!(matches!(
        repos
            .webhooks
            .update(hook.id, &changes, Some(7), "anna", minute(1)),
        Err(RepoError::Stale)
    ));
    assert!(matches!(
        repos.webhooks.delete(hook.id, Some(7), "anna", minute(1)),
        Err(RepoError::Stale)
    ));
    assert_eq!(repos.webhooks.get_by_id(hook.id).expect("get"), Some(hook));
    assert_eq!(webhook_audit(&repos).len(), 1, "only the creation");
}

fn deactivating_drops_pending_deliveries_and_keeps_finished_ones(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let hook = created(&repos, true, minute(0));
    lead_event(&repos, 1, minute(1));
    for delivery in claim(&repos, minute(1)) {
        attempt(&repos, &delivery, 204, minute(1));
    }
    lead_event(&repos, 2, minute(2));
    assert_eq!(deliveries_in(&t, hook.id, "pending"), 1);
    change(
        &repos,
        hook.id,
        WebhookChanges {
            active: Some(false),
            ..WebhookChanges::default()
        },
        minute(3),
    );
    assert_eq!(deliveries_in(&t, hook.id, "pending"), 0);
    assert_eq!(deliveries_in(&t, hook.id, "dropped"), 1);
    assert_eq!(deliveries_in(&t, hook.id, "delivered"), 1);
    assert!(
        claim(&repos, minute(4)).is_empty(),
        "nothing left to deliver"
    );
}

fn deleting_a_webhook_deletes_its_deliveries_and_log_but_not_the_events(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let hook = created(&repos, true, minute(0));
    lead_event(&repos, 1, minute(1));
    for delivery in claim(&repos, minute(1)) {
        attempt(&repos, &delivery, 500, minute(1));
    }
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) AS n FROM delivery_attempts"),
        1
    );
    assert!(
        repos
            .webhooks
            .delete(hook.id, None, "anna", minute(2))
            .expect("delete")
    );
    assert_eq!(count(&t.db, "SELECT COUNT(*) AS n FROM deliveries"), 0);
    assert_eq!(
        count(&t.db, "SELECT COUNT(*) AS n FROM delivery_attempts"),
        0
    );
    assert_eq!(count(&t.db, "SELECT COUNT(*) AS n FROM outbox_events"), 1);
}

fn the_deliveries_log_is_paged_newest_first_with_each_events_id_and_type(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let hook = created(&repos, true, minute(0));
    let other = created(&repos, true, minute(0));
    lead_event(&repos, 1, minute(1));
    // Two failures and a success of the one event, for each webhook.
    let mut event_id = String::new();
    for (m, status) in [(1, 500), (2, 503), (3, 200)] {
        for delivery in claim(&repos, minute(m)) {
            event_id = delivery.event.event_id.clone();
            attempt(&repos, &delivery, status, minute(m));
        }
    }
    let page = repos
        .webhooks
        .attempts(hook.id, 2, 0)
        .expect("attempts")
        .expect("the webhook exists");
    assert_eq!(page.total, 3, "its own attempts only");
    let numbers: Vec<i32> = page.items.iter().map(|a| a.attempt).collect();
    assert_eq!(numbers, [3, 2], "newest first");
    let newest = &page.items[0];
    assert_eq!(newest.event_id, event_id);
    assert_eq!(newest.event_type, EventType::LeadCreated);
    assert_eq!(
        (newest.status_code, newest.error.as_deref()),
        (Some(200), None)
    );
    assert_eq!((newest.duration_ms, newest.created_at), (12, minute(3)));
    assert_eq!(
        (page.items[1].status_code, page.items[1].error.as_deref()),
        (Some(503), Some("status"))
    );
    assert!(page.items[0].id > page.items[1].id);
    let rest = repos
        .webhooks
        .attempts(hook.id, 2, 2)
        .expect("attempts")
        .expect("exists");
    assert_eq!(
        rest.items.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        [1]
    );
    assert_eq!(rest.total, 3);
    let past = repos
        .webhooks
        .attempts(hook.id, 2, 10)
        .expect("attempts")
        .expect("exists");
    assert!(past.items.is_empty());
    assert_eq!(
        repos
            .webhooks
            .attempts(other.id, 50, 0)
            .expect("attempts")
            .expect("exists")
            .total,
        3
    );
    assert!(
        repos
            .webhooks
            .attempts(other.id + 100, 50, 0)
            .expect("attempts")
            .is_none()
    );
}

fn a_redelivery_is_due_at_once_and_continues_the_attempt_count(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let hook = created(&repos, true, minute(0));
    lead_event(&repos, 1, minute(1));
    let first = claim(&repos, minute(1));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempt, 1);
    attempt(&repos, &first[0], 200, minute(1));
    assert!(claim(&repos, minute(2)).is_empty(), "delivered");
    let logged = repos
        .webhooks
        .attempts(hook.id, 50, 0)
        .expect("attempts")
        .expect("exists")
        .items;
    assert!(
        repos
            .webhooks
            .redeliver(hook.id, logged[0].id, minute(5))
            .expect("redeliver")
    );
    assert!(
        claim(&repos, minute(4)).is_empty(),
        "due at the instant asked"
    );
    let again = claim(&repos, minute(5));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 2, "the count continues");
    assert_eq!(
        again[0].event.event_id, logged[0].event_id,
        "the same event"
    );
    assert_eq!(again[0].failing_since, None);
    attempt(&repos, &again[0], 200, minute(5));
    let log = repos
        .webhooks
        .attempts(hook.id, 50, 0)
        .expect("attempts")
        .expect("exists");
    assert_eq!(
        log.items.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        [2, 1]
    );
}

fn a_redelivery_of_a_leased_delivery_takes_the_lease_away(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let hook = created(&repos, true, minute(0));
    lead_event(&repos, 1, minute(1));
    let first = claim(&repos, minute(1));
    attempt(&repos, &first[0], 500, minute(1));
    let leased = claim(&repos, minute(2));
    assert_eq!(leased.len(), 1);
    let logged = repos
        .webhooks
        .attempts(hook.id, 50, 0)
        .expect("attempts")
        .expect("exists")
        .items;
    assert!(
        repos
            .webhooks
            .redeliver(hook.id, logged[0].id, minute(2))
            .expect("redeliver")
    );
    let retaken = claim(&repos, minute(2));
    assert_eq!(retaken.len(), 1, "no longer leased");
    assert_ne!(retaken[0].lease_token, leased[0].lease_token);
}

fn a_redelivery_names_an_attempt_of_that_webhook(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let hook = created(&repos, true, minute(0));
    let other = created(&repos, true, minute(0));
    lead_event(&repos, 1, minute(1));
    for delivery in claim(&repos, minute(1)) {
        attempt(&repos, &delivery, 200, minute(1));
    }
    let mine = repos
        .webhooks
        .attempts(hook.id, 50, 0)
        .expect("attempts")
        .expect("exists")
        .items[0]
        .id;
    assert!(
        !repos
            .webhooks
            .redeliver(other.id, mine, minute(2))
            .expect("redeliver")
    );
    assert!(
        !repos
            .webhooks
            .redeliver(hook.id, mine + 100, minute(2))
            .expect("redeliver")
    );
    assert!(
        !repos
            .webhooks
            .redeliver(hook.id + 100, mine, minute(2))
            .expect("redeliver")
    );
    assert_eq!(deliveries_in(&t, hook.id, "pending"), 0, "nothing changed");
}

fn a_redelivery_to_an_inactive_webhook_is_a_conflict(backend: Backend) {
    let t = TestDatabase::new(backend);
    let repos = t.db.repositories();
    let hook = created(&repos, true, minute(0));
    lead_event(&repos, 1, minute(1));
    for delivery in claim(&repos, minute(1)) {
        attempt(&repos, &delivery, 200, minute(1));
    }
    let logged = repos
        .webhooks
        .attempts(hook.id, 50, 0)
        .expect("attempts")
        .expect("exists")
        .items;
    change(
        &repos,
        hook.id,
        WebhookChanges {
            active: Some(false),
            ..WebhookChanges::default()
        },
        minute(2),
    );
    assert!(matches!(
        repos.webhooks.redeliver(hook.id, logged[0].id, minute(3)),
        Err(RepoError::Conflict(_))
    ));
    assert_eq!(deliveries_in(&t, hook.id, "pending"), 0);
}

backend_tests!(
    a_webhook_is_created_read_listed_changed_and_deleted,
    every_write_is_audited_without_the_signing_key,
    events_are_stored_in_wire_name_order_once,
    active_since_is_the_last_activation_and_null_while_inactive,
    a_webhook_gets_only_the_events_since_it_became_active,
    a_stale_version_is_refused_and_changes_nothing,
    deactivating_drops_pending_deliveries_and_keeps_finished_ones,
    deleting_a_webhook_deletes_its_deliveries_and_log_but_not_the_events,
    the_deliveries_log_is_paged_newest_first_with_each_events_id_and_type,
    a_redelivery_is_due_at_once_and_continues_the_attempt_count,
    a_redelivery_of_a_leased_delivery_takes_the_lease_away,
    a_redelivery_names_an_attempt_of_that_webhook,
    a_redelivery_to_an_inactive_webhook_is_a_conflict,
);
