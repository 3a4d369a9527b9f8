//! Webhooks and their deliveries log (API.md §7): the admin API's create, change and delete
//! (each with its audit entry, never the signing key), the log of attempts, redelivery, and
//! the deactivation the dispatcher applies after 3 days of failures.
//!
//! `active_since` is the instant a webhook last became active (created active, or activated
//! by a `PATCH`), NULL while it is inactive (a CHECK keeps the two together): routing gives a
//! webhook only the events that happened since. Deactivating drops its pending deliveries.

use chrono::{DateTime, NaiveDateTime, Utc};
use cohai_domain::outbox::{
    DeliveryAttempt, DeliveryAttemptPage, EventType, NewWebhook, Webhook, WebhookChanges,
    WebhookRepository,
};
use cohai_domain::{RepoError, RepoResult};
use diesel::prelude::*;

use super::audit::{Written, immediate_transaction, write_audited};
use super::outbox::parse_events;
use super::{Db, IntoDomain, from_db_time, parse_stored, to_db_time, to_domain_vec};
use crate::connection::AnyConnection;
use crate::error::StoreError;
use crate::schema::{deliveries, delivery_attempts, outbox_events, webhooks};

/// Deactivates webhook `id` after its retry window ran out, dropping its pending deliveries
/// (API.md §7: a webhook gets events only while it is active).
pub(super) fn deactivate(
    c: &mut AnyConnection,
    id: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = to_db_time(at);
    diesel::update(webhooks::table.find(id).filter(webhooks::active.eq(true)))
        .set((
            webhooks::active.eq(false),
            webhooks::active_since.eq(None::<chrono::NaiveDateTime>),
            webhooks::version.eq(webhooks::version + 1),
            webhooks::updated_at.eq(at),
        ))
        .execute(c)?;
    drop_pending(c, id, at)
}

/// Drops webhook `id`'s pending deliveries (it was deactivated).
pub(super) fn drop_pending(
    c: &mut AnyConnection,
    id: i64,
    at: chrono::NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(
        deliveries::table
            .filter(deliveries::webhook_id.eq(id))
            .filter(deliveries::state.eq("pending")),
    )
    .set((
        deliveries::state.eq("dropped"),
        deliveries::leased_until.eq(None::<chrono::NaiveDateTime>),
        deliveries::lease_token.eq(None::<String>),
        deliveries::updated_at.eq(at),
    ))
    .execute(c)?;
    Ok(())
}

/// The columns of a webhook that become a [`Webhook`] (never `signing_key`: the admin API
/// does not read it), with `active_since` for the activation rule.
type WebhookColumns = (
    webhooks::id,
    webhooks::url,
    webhooks::events,
    webhooks::active,
    webhooks::active_since,
    webhooks::version,
    webhooks::created_at,
    webhooks::updated_at,
);

const WEBHOOK_COLUMNS: WebhookColumns = (
    webhooks::id,
    webhooks::url,
    webhooks::events,
    webhooks::active,
    webhooks::active_since,
    webhooks::version,
    webhooks::created_at,
    webhooks::updated_at,
);

/// A stored webhook without its key.
#[derive(Queryable)]
struct WebhookRow {
    id: i64,
    url: String,
    events: String,
    active: bool,
    active_since: Option<NaiveDateTime>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl IntoDomain for WebhookRow {
    type Output = Webhook;
    fn into_domain(self) -> Result<Webhook, StoreError> {
        Ok(Webhook {
            id: self.id,
            url: self.url,
            events: parse_events(&self.events)?,
            active: self.active,
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
            version: self.version,
        })
    }
}

/// The stored form of an event list: a JSON array of wire names in code-point order, each
/// once (what routing reads with [`parse_events`]).
fn encode_events(events: &[EventType]) -> String {
    let mut names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    serde_json::Value::from(names).to_string()
}

/// The stored form of a signing key: 64 lower-case hex digits.
fn encode_signing_key(key: &[u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Insertable)]
#[diesel(table_name = webhooks)]
struct NewWebhookRecord {
    url: String,
    events: String,
    active: bool,
    signing_key: String,
    active_since: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(AsChangeset)]
#[diesel(table_name = webhooks, treat_none_as_null = true)]
struct WebhookChangeset {
    url: String,
    events: String,
    active: bool,
    active_since: Option<NaiveDateTime>,
    version: i64,
    updated_at: NaiveDateTime,
}

/// Reads webhook `id` with its `active_since`.
fn find(
    c: &mut AnyConnection,
    id: i64,
) -> Result<Option<(Webhook, Option<NaiveDateTime>)>, StoreError> {
    webhooks::table
        .find(id)
        .select(WEBHOOK_COLUMNS)
        .first::<WebhookRow>(c)
        .optional()?
        .map(|row| {
            let since = row.active_since;
            row.into_domain().map(|hook| (hook, since))
        })
        .transpose()
}

/// Whether webhook `id` is active, locking its row until the transaction ends (PostgreSQL;
/// SQLite's write transaction already excludes other writers), so that a concurrent
/// deactivation cannot slip between reading it and acting on it. `None` when it does not exist.
fn lock_active(c: &mut AnyConnection, id: i64) -> Result<Option<bool>, StoreError> {
    let query = webhooks::table.find(id).select(webhooks::active);
    Ok(match c {
        AnyConnection::Postgresql(pg) => query.for_update().first(pg).optional()?,
        AnyConnection::Sqlite(sq) => query.first(sq).optional()?,
    })
}

/// One row of a webhook's deliveries log.
#[derive(Queryable)]
struct AttemptRow {
    id: i64,
    event_id: String,
    event_type: String,
    attempt: i32,
    status_code: Option<i32>,
    error: Option<String>,
    duration_ms: i64,
    created_at: NaiveDateTime,
}

impl IntoDomain for AttemptRow {
    type Output = DeliveryAttempt;
    fn into_domain(self) -> Result<DeliveryAttempt, StoreError> {
        Ok(DeliveryAttempt {
            id: self.id,
            event_id: self.event_id,
            event_type: parse_stored(&self.event_type)?,
            attempt: self.attempt,
            status_code: self.status_code,
            error: self.error,
            duration_ms: self.duration_ms,
            created_at: from_db_time(self.created_at),
        })
    }
}

/// Diesel implementation of [`WebhookRepository`]. Every write goes through
/// [`write_audited`], so a change and its audit entry are stored together.
pub(crate) struct DieselWebhookRepository {
    db: Db,
}

impl DieselWebhookRepository {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

impl WebhookRepository for DieselWebhookRepository {
    fn list(&self) -> RepoResult<Vec<Webhook>> {
        self.db.run(|c| {
            to_domain_vec(
                webhooks::table
                    .order(webhooks::id.asc())
                    .select(WEBHOOK_COLUMNS)
                    .load::<WebhookRow>(c)?,
            )
        })
    }

    fn get_by_id(&self, id: i64) -> RepoResult<Option<Webhook>> {
        self.db.run(|c| Ok(find(c, id)?.map(|(hook, _)| hook)))
    }

    fn create(&self, new: &NewWebhook, actor: &str, at: DateTime<Utc>) -> RepoResult<Webhook> {
        let now = to_db_time(at);
        let record = NewWebhookRecord {
            url: new.url.clone(),
            events: encode_events(&new.events),
            active: new.active,
            signing_key: encode_signing_key(&new.signing_key),
            // It gets the events that happen from now on (API.md §7).
            active_since: new.active.then_some(now),
            created_at: now,
            updated_at: now,
        };
        let written = write_audited(&self.db, actor, at, |c| {
            let row = diesel::insert_into(webhooks::table)
                .values(&record)
                .returning(WEBHOOK_COLUMNS)
                .get_result::<WebhookRow>(c)?;
            Ok(Written::Created(row.into_domain()?))
        })?;
        match written {
            Written::Created(created) => Ok(created),
            _ => Err(RepoError::Internal("an insert stored no row".to_owned())),
        }
    }

    fn update(
        &self,
        id: i64,
        changes: &WebhookChanges,
        expected_version: Option<i64>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<Option<Webhook>> {
        let now = to_db_time(at);
        let written = write_audited(&self.db, actor, at, |c| {
            let Some((before, since)) = find(c, id)? else {
                return Ok(Written::Missing);
            };
            if expected_version.is_some_and(|v| v != before.version) {
                return Err(RepoError::Stale.into());
            }
            let active = changes.active.unwrap_or(before.active);
            // Activated now: it gets the events from now on; deactivated: none until
            // activated again; otherwise it keeps its instant.
            let active_since = match (before.active, active) {
                (false, true) => Some(now),
                (_, false) => None,
                (true, true) => since.or(Some(now)),
            };
            let set = WebhookChangeset {
                url: changes.url.clone().unwrap_or_else(|| before.url.clone()),
                events: encode_events(changes.events.as_deref().unwrap_or(&before.events)),
                active,
                active_since,
                version: before.version + 1,
                updated_at: now,
            };
            // Only if still the version read: a concurrent writer that committed in between
            // makes this match nothing (a lost update otherwise).
            let after = diesel::update(
                webhooks::table
                    .find(id)
                    .filter(webhooks::version.eq(before.version)),
            )
            .set(&set)
            .returning(WEBHOOK_COLUMNS)
            .get_result::<WebhookRow>(c)
            .optional()?
            .ok_or(RepoError::Stale)?
            .into_domain()?;
            if before.active && !after.active {
                drop_pending(c, id, now)?;
            }
            Ok(Written::Updated { before, after })
        })?;
        Ok(match written {
            Written::Updated { after, .. } => Some(after),
            _ => None,
        })
    }

    fn delete(
        &self,
        id: i64,
        expected_version: Option<i64>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<bool> {
        let written = write_audited(&self.db, actor, at, |c| {
            let Some((before, _)) = find(c, id)? else {
                return Ok(Written::Missing);
            };
            if expected_version.is_some_and(|v| v != before.version) {
                return Err(RepoError::Stale.into());
            }
            // Its deliveries and their log go with it (ON DELETE CASCADE); the events stay
            // for the other targets.
            let deleted = diesel::delete(
                webhooks::table
                    .find(id)
                    .filter(webhooks::version.eq(before.version)),
            )
            .execute(c)?;
            if deleted == 0 {
                return Err(RepoError::Stale.into());
            }
            Ok(Written::Deleted(before))
        })?;
        Ok(matches!(written, Written::Deleted(_)))
    }

    fn attempts(
        &self,
        webhook_id: i64,
        limit: i64,
        offset: i64,
    ) -> RepoResult<Option<DeliveryAttemptPage>> {
        self.db.run(|c| {
            let exists = webhooks::table
                .find(webhook_id)
                .select(webhooks::id)
                .first::<i64>(c)
                .optional()?;
            if exists.is_none() {
                return Ok(None);
            }
            let total: i64 = delivery_attempts::table
                .filter(delivery_attempts::webhook_id.eq(webhook_id))
                .count()
                .get_result(c)?;
            let rows: Vec<AttemptRow> = delivery_attempts::table
                .inner_join(deliveries::table.inner_join(outbox_events::table))
                .filter(delivery_attempts::webhook_id.eq(webhook_id))
                .order(delivery_attempts::id.desc())
                .limit(limit)
                .offset(offset)
                .select((
                    delivery_attempts::id,
                    outbox_events::event_id,
                    outbox_events::event_type,
                    delivery_attempts::attempt,
                    delivery_attempts::status_code,
                    delivery_attempts::error,
                    delivery_attempts::duration_ms,
                    delivery_attempts::created_at,
                ))
                .load(c)?;
            Ok(Some(DeliveryAttemptPage {
                items: to_domain_vec(rows)?,
                total,
            }))
        })
    }

    fn redeliver(&self, webhook_id: i64, attempt_id: i64, at: DateTime<Utc>) -> RepoResult<bool> {
        let now = to_db_time(at);
        self.db.write(|c| {
            immediate_transaction(c, |c| {
                let Some(active) = lock_active(c, webhook_id)? else {
                    return Ok(false);
                };
                let delivery = delivery_attempts::table
                    .filter(delivery_attempts::id.eq(attempt_id))
                    .filter(delivery_attempts::webhook_id.eq(webhook_id))
                    .select(delivery_attempts::delivery_id)
                    .first::<i64>(c)
                    .optional()?;
                let Some(delivery) = delivery else {
                    return Ok(false);
                };
                if !active {
                    // An inactive webhook gets nothing (API.md §7); activate it first.
                    return Err(
                        RepoError::Conflict(format!("webhook {webhook_id} is not active")).into(),
                    );
                }
                // Due now, under nobody's lease; `attempts` stays, so the count continues.
                // `failing_since` is cleared: an asked-for redelivery opens a new retry
                // window instead of being given up at its first failure.
                diesel::update(deliveries::table.find(delivery))
                    .set((
                        deliveries::state.eq("pending"),
                        deliveries::next_attempt_at.eq(now),
                        deliveries::leased_until.eq(None::<NaiveDateTime>),
                        deliveries::lease_token.eq(None::<String>),
                        deliveries::failing_since.eq(None::<NaiveDateTime>),
                        deliveries::updated_at.eq(now),
                    ))
                    .execute(c)?;
                Ok(true)
            })
        })
    }
}
