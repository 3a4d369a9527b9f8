//! The notifications outbox (API.md §7): written with each change, routed, claimed and
//! completed by the dispatcher.
//!
//! **Writing.** [`RecordEvent::record_lead_event`] is the one way a lead event is stored: it
//! writes the `lead_events` row and, in the same transaction, the `outbox_events` row with
//! the lead as it is now. Session cancellations write theirs with
//! [`RecordEvent::record_outbox`]. (The bootstrap tool's bulk `create_many` stores synthetic
//! leads without outbox rows: a benchmark's million leads are not news for anyone.)
//!
//! **Routing** turns each event into its deliveries, in event order, one instance at a time
//! (a PostgreSQL advisory lock), so a lead's deliveries are created in the order of its events.
//! **Claiming** leases due deliveries; on PostgreSQL `FOR UPDATE SKIP LOCKED` lets several
//! instances claim at once without taking the same row, and the lease (not a lock) covers the
//! delivery itself, so an instance that dies lets it run out and another delivers again.
//! Only the first pending delivery of a target and lead is due (order per lead), and a
//! Telegram chat gets at most one message a second, counted in `telegram_chats` (locked while
//! claiming, so two instances cannot both send to one chat in the same second).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use cohai_domain::outbox::{
    AttemptRecord, ClaimLimits, ClaimedDelivery, Completion, DeliveryTarget, EventType, NextStep,
    NoticeContext, OutboxEvent, OutboxRepository, OutboxStats, TelegramRouting,
};
use cohai_domain::{Lead, LeadEventKind, RepoError, RepoResult, WEBSITE_ACTOR};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use super::audit::immediate_transaction;
use super::lead::LeadEventRecord;
use super::lead_batch_sql::{InsertLeadEvents, InsertOutboxEvents};
use super::{Db, from_db_time, to_db_time};
use crate::connection::{AnyConnection, with_backend};
use crate::error::StoreError;
use crate::schema::{
    class_sessions, deliveries, delivery_attempts, lead_events, leads, locations, outbox_events,
    program_types, telegram_chats, webhooks,
};

/// Least time between two messages to one Telegram chat (API.md §7).
const TELEGRAM_PACE: chrono::TimeDelta = chrono::TimeDelta::seconds(1);

/// A row of `outbox_events` to write.
#[derive(Insertable)]
#[diesel(table_name = outbox_events)]
pub(super) struct OutboxRecord {
    pub(super) event_id: String,
    pub(super) event_type: &'static str,
    pub(super) lead_id: Option<i64>,
    pub(super) from_website: bool,
    pub(super) payload: String,
    pub(super) created_at: chrono::NaiveDateTime,
}

impl OutboxRecord {
    /// An event of `event_type` with the delivery body's `data`.
    pub(super) fn new(
        event_type: EventType,
        lead_id: Option<i64>,
        from_website: bool,
        data: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            event_id: uuid::Uuid::new_v4().to_string(),
            event_type: event_type.as_str(),
            lead_id,
            from_website,
            payload: data.to_string(),
            created_at: to_db_time(at),
        }
    }
}

/// A lead event to store, with what its outbox row needs.
pub(super) struct LeadEventWrite<'a> {
    /// The lead.
    pub lead_id: i64,
    /// The lead as it is after the change; `None` for an erasure.
    pub lead: Option<&'a Lead>,
    /// What happened.
    pub kind: LeadEventKind,
    /// Who did it.
    pub actor: &'a str,
    /// The event's data (`lead_events.data`).
    pub data: &'a serde_json::Value,
    /// When.
    pub at: DateTime<Utc>,
}

impl LeadEventWrite<'_> {
    /// The outbox row, if the event is one (API.md §7).
    fn outbox_record(&self) -> Result<Option<OutboxRecord>, StoreError> {
        let Some(event_type) = EventType::of_lead_event(self.kind) else {
            return Ok(None);
        };
        // Serialised straight to text (no intermediate `Value`): this runs for every sign-up.
        #[derive(serde::Serialize)]
        struct LeadData<'l> {
            lead: &'l Lead,
        }
        let payload = match self.lead {
            Some(lead) => serde_json::to_string(&LeadData { lead }),
            None => Ok(serde_json::json!({ "lead_id": self.lead_id }).to_string()),
        }
        .map_err(|e| RepoError::Internal(format!("cannot serialise an outbox event: {e}")))?;
        Ok(Some(OutboxRecord {
            event_id: uuid::Uuid::new_v4().to_string(),
            event_type: event_type.as_str(),
            lead_id: Some(self.lead_id),
            from_website: self.actor == WEBSITE_ACTOR,
            payload,
            created_at: to_db_time(self.at),
        }))
    }
}

/// Stores lead events and their outbox rows in two prepared inserts (`lead_batch_sql.rs`), in
/// the order given (so their ids follow it): the set-based form of
/// [`RecordEvent::record_lead_event`] for the lead writer's batches on PostgreSQL
/// (`lead_batch.rs`).
pub(super) fn record_lead_events_postgres(
    c: &mut PgConnection,
    events: &[LeadEventWrite<'_>],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let records: Vec<LeadEventRecord<'_>> = events
        .iter()
        .map(|e| LeadEventRecord::new(e.lead_id, e.kind, e.actor, e.data, e.at))
        .collect();
    InsertLeadEvents::new(&records).execute(c)?;
    let mut outbox = Vec::with_capacity(events.len());
    for event in events {
        outbox.extend(event.outbox_record()?);
    }
    if !outbox.is_empty() {
        InsertOutboxEvents::new(&outbox).execute(c)?;
    }
    Ok(())
}

/// Event writes inside a transaction, on any connection type.
pub(super) trait RecordEvent {
    /// Stores a lead event and its outbox row.
    fn record_lead_event(&mut self, event: &LeadEventWrite<'_>) -> Result<(), StoreError>;
    /// Stores an outbox row.
    fn record_outbox(&mut self, record: &OutboxRecord) -> Result<(), StoreError>;
    /// Strips the personal data from the outbox events of lead `lead_id` (its erasure).
    fn strip_outbox_personal_data(&mut self, lead_id: i64) -> Result<(), StoreError>;
}

/// Implements [`RecordEvent`] once per connection type: the bodies are the same.
macro_rules! impl_record_event {
    ($($conn:ty),+) => {$(
        impl RecordEvent for $conn {
            fn record_lead_event(&mut self, event: &LeadEventWrite<'_>) -> Result<(), StoreError> {
                diesel::insert_into(lead_events::table)
                    .values(LeadEventRecord::new(
                        event.lead_id,
                        event.kind,
                        event.actor,
                        event.data,
                        event.at,
                    ))
                    .execute(self)?;
                if let Some(record) = event.outbox_record()? {
                    self.record_outbox(&record)?;
                }
                Ok(())
            }

            fn record_outbox(&mut self, record: &OutboxRecord) -> Result<(), StoreError> {
                diesel::insert_into(outbox_events::table)
                    .values(record)
                    .execute(self)?;
                Ok(())
            }

            fn strip_outbox_personal_data(&mut self, lead_id: i64) -> Result<(), StoreError> {
                let rows: Vec<(i64, String)> = outbox_events::table
                    .filter(outbox_events::lead_id.eq(lead_id))
                    .select((outbox_events::id, outbox_events::payload))
                    .load(self)?;
                for (id, payload) in rows {
                    let stripped = strip_payload(&payload)?;
                    if stripped != payload {
                        diesel::update(outbox_events::table.find(id))
                            .set(outbox_events::payload.eq(stripped))
                            .execute(self)?;
                    }
                }
                Ok(())
            }
        }
    )+};
}
impl_record_event!(PgConnection, SqliteConnection, AnyConnection);

/// An event's payload without the lead's personal data (the same fields as its events').
fn strip_payload(payload: &str) -> Result<String, StoreError> {
    let mut data: serde_json::Value = serde_json::from_str(payload)
        .map_err(|e| RepoError::Internal(format!("an outbox payload is unreadable: {e}")))?;
    if let Some(lead) = data.get_mut("lead") {
        let mut stripped = cohai_domain::lead::strip_personal_data(lead.take());
        if let Some(object) = stripped.as_object_mut() {
            for key in cohai_domain::lead::PERSONAL_LEAD_FIELDS {
                object.remove(*key);
            }
        }
        *lead = stripped;
    }
    Ok(data.to_string())
}

/// Diesel implementation of [`OutboxRepository`].
pub(crate) struct DieselOutboxRepository {
    db: Db,
}

impl DieselOutboxRepository {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

/// A delivery row to write.
#[derive(Insertable)]
#[diesel(table_name = deliveries)]
struct NewDelivery {
    outbox_event_id: i64,
    channel: &'static str,
    webhook_id: Option<i64>,
    chat_id: Option<String>,
    target: String,
    lead_id: Option<i64>,
    state: &'static str,
    attempts: i32,
    next_attempt_at: chrono::NaiveDateTime,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

impl NewDelivery {
    /// A pending delivery of `event` to webhook `webhook_id`.
    fn webhook(event: &UnroutedEvent, webhook_id: i64, now: DateTime<Utc>) -> Self {
        let key = format!("webhook:{webhook_id}");
        Self::new(event, "webhook", Some(webhook_id), None, key, now)
    }

    /// A pending delivery of `event` to Telegram chat `chat_id`.
    fn telegram(event: &UnroutedEvent, chat_id: String, now: DateTime<Utc>) -> Self {
        let key = format!("telegram:{chat_id}");
        Self::new(event, "telegram", None, Some(chat_id), key, now)
    }

    fn new(
        event: &UnroutedEvent,
        channel: &'static str,
        webhook_id: Option<i64>,
        chat_id: Option<String>,
        key: String,
        now: DateTime<Utc>,
    ) -> Self {
        let now = to_db_time(now);
        Self {
            outbox_event_id: event.id,
            channel,
            webhook_id,
            chat_id,
            target: key,
            lead_id: event.lead_id,
            state: "pending",
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Queryable)]
struct UnroutedEvent {
    id: i64,
    event_type: String,
    lead_id: Option<i64>,
    from_website: bool,
    payload: String,
    created_at: chrono::NaiveDateTime,
}

/// A webhook as routing sees it.
struct Subscriber {
    id: i64,
    events: HashSet<EventType>,
    active_since: DateTime<Utc>,
}

/// Which Telegram chat, if any, gets a message about `event` (API.md §7 "Settled details").
fn telegram_chat(
    c: &mut AnyConnection,
    routing: &TelegramRouting,
    event_type: EventType,
    from_website: bool,
    data: &serde_json::Value,
) -> Result<Option<String>, StoreError> {
    let location_id = match event_type {
        EventType::LeadCreated if from_website => lead_location(c, &data["lead"])?,
        EventType::LeadResubmitted => lead_location(c, &data["lead"])?,
        EventType::ClassSessionCancelled => {
            let chosen = data["lead_ids"]
                .as_array()
                .is_some_and(|ids| !ids.is_empty());
            if !chosen {
                return Ok(None);
            }
            data["class_session"]["location"]["id"].as_i64()
        }
        _ => return Ok(None),
    };
    Ok(Some(routing.chat_for(location_id).to_owned()))
}

/// A lead's location: its own, else its chosen session's.
fn lead_location(
    c: &mut AnyConnection,
    lead: &serde_json::Value,
) -> Result<Option<i64>, StoreError> {
    if let Some(id) = lead["location_id"].as_i64() {
        return Ok(Some(id));
    }
    let Some(session) = lead["class_session_id"].as_i64() else {
        return Ok(None);
    };
    Ok(class_sessions::table
        .find(session)
        .select(class_sessions::location_id)
        .first(c)
        .optional()?)
}

/// Serialises routing across instances: a transaction-scoped advisory lock (SQLite's single
/// writer already does). `false` when another instance holds it.
fn lock_routing(c: &mut AnyConnection) -> Result<bool, StoreError> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    match c {
        AnyConnection::Postgresql(pg) => {
            let row: Locked = diesel::sql_query(
                "SELECT pg_try_advisory_xact_lock(hashtextextended('cohai:outbox:route', 0)) AS locked",
            )
            .get_result(pg)?;
            Ok(row.locked)
        }
        AnyConnection::Sqlite(_) => Ok(true),
    }
}

/// The candidates for claiming: due, not leased, and first of their target and lead.
/// `deliveries.state = 'pending'`, the predicate of the partial indexes `deliveries_due_idx`
/// and `deliveries_order_idx`, as SQL text: a planner uses a partial index only for a query
/// that states its predicate, and not with a bound parameter in its place (SQLite, built with
/// `ENABLE_QPSG`, never plans by bound values). With `state = ?` the claim read every
/// delivery and sorted them while holding SQLite's write lock: with a dead webhook's backlog
/// it took half the server's time, and the lead form's p99 went to hundreds of milliseconds.
const PENDING: &str = "deliveries.state = 'pending'";

/// [`PENDING`] for the alias `earlier` of `deliveries`.
const EARLIER_PENDING: &str = "earlier.state = 'pending'";

///
/// `$full_webhooks`: webhooks whose deliveries are passed over (at their limit of leases);
/// `$held`: deliveries this claim already holds. Both `&[i64]`, empty for none.
macro_rules! due_deliveries {
    ($now:expr, $limit:expr) => {
        due_deliveries!($now, $limit, &[] as &[i64], &[] as &[i64])
    };
    ($now:expr, $limit:expr, $full_webhooks:expr, $held:expr) => {{
        let earlier = diesel::alias!(deliveries as earlier);
        deliveries::table
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(PENDING))
            .filter(deliveries::next_attempt_at.le($now))
            .filter(
                deliveries::leased_until
                    .is_null()
                    .or(deliveries::leased_until.lt($now)),
            )
            .filter(
                deliveries::webhook_id.is_null().or(deliveries::webhook_id
                    .assume_not_null()
                    .ne_all($full_webhooks)),
            )
            .filter(deliveries::id.ne_all($held))
            .filter(not(exists(
                earlier
                    .filter(earlier.field(deliveries::target).eq(deliveries::target))
                    .filter(earlier.field(deliveries::lead_id).eq(deliveries::lead_id))
                    .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(EARLIER_PENDING))
                    .filter(
                        earlier
                            .field(deliveries::outbox_event_id)
                            .lt(deliveries::outbox_event_id),
                    ),
            )))
            // Not to a chat that may not have a message now (pacing, a 429's pause): its
            // waiting messages would fill the batch and hold back what can go.
            .filter(not(exists(
                telegram_chats::table
                    .filter(telegram_chats::chat_id.nullable().eq(deliveries::chat_id))
                    .filter(telegram_chats::next_send_at.gt($now)),
            )))
            .order((deliveries::next_attempt_at.asc(), deliveries::id.asc()))
            .limit($limit)
            .select((
                deliveries::id,
                deliveries::webhook_id,
                deliveries::chat_id,
                deliveries::outbox_event_id,
                deliveries::attempts,
                deliveries::failing_since,
            ))
    }};
}

type Candidate = (
    i64,
    Option<i64>,
    Option<String>,
    i64,
    i32,
    Option<chrono::NaiveDateTime>,
);

/// How many deliveries of each webhook are under lease at `$now` (being made by some
/// instance, not yet recorded), as `(webhook, count)` rows. The predicate of the partial
/// index `deliveries_leased_idx` is SQL text, for the reason [`PENDING`] gives.
macro_rules! leased_per_webhook {
    ($now:expr) => {
        deliveries::table
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "deliveries.leased_until IS NOT NULL",
            ))
            .filter(deliveries::leased_until.ge($now))
            .filter(deliveries::webhook_id.is_not_null())
            .group_by(deliveries::webhook_id)
            .select((
                deliveries::webhook_id.assume_not_null(),
                diesel::dsl::count_star(),
            ))
    };
}

/// How many times a claim looks again for due deliveries after passing over a webhook's
/// that went past its limit (each look passes over at least one more webhook).
const CLAIM_LOOKS: usize = 4;

/// The due deliveries a claim leases, in due order, within `limits` (see
/// [`OutboxRepository::claim`]). Deliveries of a webhook at its limit are passed over and the
/// claim looks again, so a backlog for one slow receiver does not crowd out the others.
fn choose_due(
    c: &mut AnyConnection,
    now: DateTime<Utc>,
    limits: ClaimLimits,
) -> Result<Vec<Candidate>, StoreError> {
    let db_now = to_db_time(now);
    let mut room: HashMap<i64, i64> = HashMap::new();
    let mut full: Vec<i64> = Vec::new();
    if limits.per_webhook < limits.batch {
        let leased: Vec<(i64, i64)> = leased_per_webhook!(db_now).load(c)?;
        for (webhook, leased) in leased {
            let left = limits.per_webhook.saturating_sub(leased);
            if left <= 0 {
                full.push(webhook);
            }
            room.insert(webhook, left);
        }
    }
    let mut chosen: Vec<Candidate> = Vec::new();
    for _ in 0..CLAIM_LOOKS {
        let wanted = limits.batch - i64::try_from(chosen.len()).unwrap_or(i64::MAX);
        if wanted <= 0 {
            break;
        }
        let held: Vec<i64> = chosen.iter().map(|candidate| candidate.0).collect();
        let candidates: Vec<Candidate> = match c {
            AnyConnection::Postgresql(pg) => due_deliveries!(db_now, wanted, &full, &held)
                .for_update()
                .skip_locked()
                .load(pg)?,
            AnyConnection::Sqlite(sq) => due_deliveries!(db_now, wanted, &full, &held).load(sq)?,
        };
        if candidates.is_empty() {
            break;
        }
        let mut passed_over_some = false;
        let mut fitting = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let Some(webhook) = candidate.1 else {
                fitting.push(candidate);
                continue;
            };
            let left = room.entry(webhook).or_insert(limits.per_webhook);
            if *left > 0 {
                *left -= 1;
                if *left == 0 {
                    full.push(webhook);
                }
                fitting.push(candidate);
            } else {
                passed_over_some = true;
            }
        }
        chosen.extend(pace_telegram(c, fitting, now)?);
        if !passed_over_some {
            break;
        }
    }
    Ok(chosen)
}

/// Keeps at most one candidate per Telegram chat, and only for chats whose pacing allows a
/// message now; those chats' next message is then [`TELEGRAM_PACE`] later.
fn pace_telegram(
    c: &mut AnyConnection,
    candidates: Vec<Candidate>,
    now: DateTime<Utc>,
) -> Result<Vec<Candidate>, StoreError> {
    // In sorted order: two instances claiming at once lock their chats' rows in the same
    // order, so they cannot deadlock on them (a `HashSet`'s order differs between sets).
    let chats: Vec<String> = candidates
        .iter()
        .filter_map(|c| c.2.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut open: HashSet<String> = HashSet::new();
    let db_now = to_db_time(now);
    for chat in chats {
        // Make sure the row exists, then lock it (PostgreSQL), so two instances see each
        // other's sends to this chat.
        let existing: Option<chrono::NaiveDateTime> = match c {
            AnyConnection::Postgresql(pg) => {
                diesel::insert_into(telegram_chats::table)
                    .values((
                        telegram_chats::chat_id.eq(&chat),
                        telegram_chats::next_send_at.eq(db_now),
                    ))
                    .on_conflict_do_nothing()
                    .execute(pg)?;
                telegram_chats::table
                    .find(&chat)
                    .select(telegram_chats::next_send_at)
                    .for_update()
                    .first(pg)
                    .optional()?
            }
            AnyConnection::Sqlite(sq) => telegram_chats::table
                .find(&chat)
                .select(telegram_chats::next_send_at)
                .first(sq)
                .optional()?,
        };
        if existing.is_none_or(|next| next <= db_now) {
            set_chat_next_send(c, &chat, now + TELEGRAM_PACE)?;
            open.insert(chat);
        }
    }
    Ok(candidates
        .into_iter()
        .filter(|candidate| match &candidate.2 {
            // `remove`: one message per chat per claim.
            Some(chat) => open.remove(chat),
            None => true,
        })
        .collect())
}

/// Sets when chat `chat` may get its next message.
fn set_chat_next_send(
    c: &mut AnyConnection,
    chat: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = to_db_time(at);
    with_backend!(c, |c| {
        diesel::insert_into(telegram_chats::table)
            .values((
                telegram_chats::chat_id.eq(chat),
                telegram_chats::next_send_at.eq(at),
            ))
            .on_conflict(telegram_chats::chat_id)
            .do_update()
            .set(telegram_chats::next_send_at.eq(at))
            .execute(c)
    })?;
    Ok(())
}

fn parse_event_type(raw: &str) -> Result<EventType, StoreError> {
    raw.parse::<EventType>()
        .map_err(|e| RepoError::Internal(format!("outbox: {e}")).into())
}

fn parse_payload(raw: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(raw)
        .map_err(|e| RepoError::Internal(format!("an outbox payload is unreadable: {e}")).into())
}

/// Parses a webhook's stored event list.
pub(super) fn parse_events(raw: &str) -> Result<Vec<EventType>, StoreError> {
    let names: Vec<String> = serde_json::from_str(raw)
        .map_err(|e| RepoError::Internal(format!("a webhook's events are unreadable: {e}")))?;
    names.iter().map(|n| parse_event_type(n)).collect()
}

/// Parses a stored hex signing key.
pub(super) fn parse_signing_key(raw: &str) -> Result<[u8; 32], StoreError> {
    let mut key = [0u8; 32];
    if raw.len() != 64 {
        return Err(RepoError::Internal("a webhook's signing key is malformed".to_owned()).into());
    }
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&raw[2 * i..2 * i + 2], 16)
            .map_err(|_| RepoError::Internal("a webhook's signing key is malformed".to_owned()))?;
    }
    Ok(key)
}

/// Records one attempt and what follows it, inside the caller's transaction (see
/// [`OutboxRepository::complete`]).
fn complete_one(
    c: &mut AnyConnection,
    delivery: &ClaimedDelivery,
    attempt: &AttemptRecord,
    next: &NextStep,
    chat_pause: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let exists: Option<Option<i64>> = deliveries::table
        .find(delivery.id)
        .select(deliveries::webhook_id)
        .first(c)
        .optional()?;
    let Some(webhook_id) = exists else {
        // Deleted with its webhook meanwhile: nothing to record against.
        return Ok(false);
    };
    let duration_ms = i64::try_from(attempt.duration.as_millis()).unwrap_or(i64::MAX);
    diesel::insert_into(delivery_attempts::table)
        .values((
            delivery_attempts::delivery_id.eq(delivery.id),
            delivery_attempts::webhook_id.eq(webhook_id),
            delivery_attempts::attempt.eq(delivery.attempt),
            delivery_attempts::status_code.eq(attempt.status_code),
            delivery_attempts::error.eq(attempt.error.as_deref()),
            delivery_attempts::duration_ms.eq(duration_ms),
            delivery_attempts::created_at.eq(to_db_time(now)),
        ))
        .execute(c)?;
    let mine = deliveries::table
        .filter(deliveries::id.eq(delivery.id))
        .filter(deliveries::lease_token.eq(&delivery.lease_token));
    let failing_since = to_db_time(delivery.failing_since.unwrap_or(now));
    let db_now = to_db_time(now);
    let released = (
        deliveries::attempts.eq(delivery.attempt),
        deliveries::leased_until.eq(None::<chrono::NaiveDateTime>),
        deliveries::lease_token.eq(None::<String>),
        deliveries::updated_at.eq(db_now),
    );
    let updated = match next {
        NextStep::Delivered => diesel::update(mine)
            .set((
                released,
                deliveries::state.eq("delivered"),
                deliveries::failing_since.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(c)?,
        NextStep::RetryAt(at) => diesel::update(mine)
            .set((
                released,
                deliveries::next_attempt_at.eq(to_db_time(*at)),
                deliveries::failing_since.eq(Some(failing_since)),
            ))
            .execute(c)?,
        NextStep::GiveUp | NextStep::Deactivate => diesel::update(mine)
            .set((
                released,
                deliveries::state.eq("failed"),
                deliveries::failing_since.eq(Some(failing_since)),
            ))
            .execute(c)?,
    };
    // Telegram's `retry_after` holds the chat whoever holds the delivery now.
    if let (Some(pause), DeliveryTarget::Telegram { chat_id }) = (chat_pause, &delivery.target) {
        set_chat_next_send(c, chat_id, pause)?;
    }
    if updated == 0 {
        // Another dispatcher holds it now: what follows is its decision.
        return Ok(false);
    }
    if let (NextStep::Deactivate, Some(webhook_id)) = (next, webhook_id) {
        super::webhook::deactivate(c, webhook_id, now)?;
    }
    Ok(true)
}

impl OutboxRepository for DieselOutboxRepository {
    fn route(
        &self,
        telegram: Option<&TelegramRouting>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> RepoResult<usize> {
        // A read first: an idle dispatcher must not take the (SQLite) write lock each poll.
        let waiting: bool = self.db.run(|c| {
            Ok(diesel::select(exists(
                outbox_events::table.filter(outbox_events::routed_at.is_null()),
            ))
            .get_result(c)?)
        })?;
        if !waiting {
            return Ok(0);
        }
        self.db.write(|c| {
            let body = |c: &mut AnyConnection| -> Result<usize, StoreError> {
                if !lock_routing(c)? {
                    return Ok(0);
                }
                let events: Vec<UnroutedEvent> = outbox_events::table
                    .filter(outbox_events::routed_at.is_null())
                    .order(outbox_events::id.asc())
                    .limit(limit)
                    .select((
                        outbox_events::id,
                        outbox_events::event_type,
                        outbox_events::lead_id,
                        outbox_events::from_website,
                        outbox_events::payload,
                        outbox_events::created_at,
                    ))
                    .load(c)?;
                if events.is_empty() {
                    return Ok(0);
                }
                let rows: Vec<(i64, String, Option<chrono::NaiveDateTime>)> = webhooks::table
                    .filter(webhooks::active.eq(true))
                    .select((webhooks::id, webhooks::events, webhooks::active_since))
                    .load(c)?;
                let mut subscribers = Vec::with_capacity(rows.len());
                for (id, events, since) in rows {
                    subscribers.push(Subscriber {
                        id,
                        events: parse_events(&events)?.into_iter().collect(),
                        active_since: since.map_or(now, from_db_time),
                    });
                }
                let mut new = Vec::new();
                for event in &events {
                    let event_type = parse_event_type(&event.event_type)?;
                    let happened = from_db_time(event.created_at);
                    for hook in &subscribers {
                        if hook.events.contains(&event_type) && hook.active_since <= happened {
                            new.push(NewDelivery::webhook(event, hook.id, now));
                        }
                    }
                    if let Some(routing) = telegram {
                        let data = parse_payload(&event.payload)?;
                        if let Some(chat_id) =
                            telegram_chat(c, routing, event_type, event.from_website, &data)?
                        {
                            new.push(NewDelivery::telegram(event, chat_id, now));
                        }
                    }
                }
                for row in &new {
                    diesel::insert_into(deliveries::table)
                        .values(row)
                        .execute(c)?;
                }
                let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
                diesel::update(outbox_events::table.filter(outbox_events::id.eq_any(&ids)))
                    .set(outbox_events::routed_at.eq(Some(to_db_time(now))))
                    .execute(c)?;
                Ok(events.len())
            };
            immediate_transaction(c, body)
        })
    }

    fn claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limits: ClaimLimits,
    ) -> RepoResult<Vec<ClaimedDelivery>> {
        let lease = chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::MAX);
        // A read first, as in `route`.
        let db_now = to_db_time(now);
        let due: Vec<Candidate> = self.db.run(|c| Ok(due_deliveries!(db_now, 1).load(c)?))?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        self.db.write(|c| {
            immediate_transaction(c, |c| {
                let chosen = choose_due(c, now, limits)?;
                if chosen.is_empty() {
                    return Ok(Vec::new());
                }
                let token = uuid::Uuid::new_v4().to_string();
                let ids: Vec<i64> = chosen.iter().map(|c| c.0).collect();
                diesel::update(deliveries::table.filter(deliveries::id.eq_any(&ids)))
                    .set((
                        deliveries::leased_until.eq(Some(to_db_time(now + lease))),
                        deliveries::lease_token.eq(Some(&token)),
                    ))
                    .execute(c)?;
                let event_ids: Vec<i64> = chosen.iter().map(|c| c.3).collect();
                let events: HashMap<i64, OutboxEvent> = outbox_events::table
                    .filter(outbox_events::id.eq_any(&event_ids))
                    .select((
                        outbox_events::id,
                        outbox_events::event_id,
                        outbox_events::event_type,
                        outbox_events::payload,
                        outbox_events::created_at,
                    ))
                    .load::<(i64, String, String, String, chrono::NaiveDateTime)>(c)?
                    .into_iter()
                    .map(|(seq, event_id, event_type, payload, created_at)| {
                        Ok((
                            seq,
                            OutboxEvent {
                                seq,
                                event_id,
                                event_type: parse_event_type(&event_type)?,
                                created_at: from_db_time(created_at),
                                data: parse_payload(&payload)?,
                            },
                        ))
                    })
                    .collect::<Result<_, StoreError>>()?;
                let hook_ids: Vec<i64> = chosen.iter().filter_map(|c| c.1).collect();
                let hooks: HashMap<i64, (String, [u8; 32])> = webhooks::table
                    .filter(webhooks::id.eq_any(&hook_ids))
                    .select((webhooks::id, webhooks::url, webhooks::signing_key))
                    .load::<(i64, String, String)>(c)?
                    .into_iter()
                    .map(|(id, url, key)| Ok((id, (url, parse_signing_key(&key)?))))
                    .collect::<Result<_, StoreError>>()?;
                let mut claimed = Vec::with_capacity(chosen.len());
                for (id, webhook_id, chat_id, event_seq, attempts, failing_since) in chosen {
                    let Some(event) = events.get(&event_seq) else {
                        continue;
                    };
                    let target = match (webhook_id, chat_id) {
                        (Some(webhook_id), _) => {
                            let Some((url, signing_key)) = hooks.get(&webhook_id) else {
                                continue;
                            };
                            DeliveryTarget::Webhook {
                                webhook_id,
                                url: url.clone(),
                                signing_key: *signing_key,
                            }
                        }
                        (None, Some(chat_id)) => DeliveryTarget::Telegram { chat_id },
                        (None, None) => continue,
                    };
                    claimed.push(ClaimedDelivery {
                        id,
                        lease_token: token.clone(),
                        target,
                        event: event.clone(),
                        attempt: attempts + 1,
                        failing_since: failing_since.map(from_db_time),
                    });
                }
                Ok(claimed)
            })
        })
    }

    fn complete_all(&self, done: &[Completion], now: DateTime<Utc>) -> RepoResult<Vec<bool>> {
        if done.is_empty() {
            return Ok(Vec::new());
        }
        self.db.write(|c| {
            immediate_transaction(c, |c| {
                done.iter()
                    .map(|d| complete_one(c, &d.delivery, &d.attempt, &d.next, d.chat_pause, now))
                    .collect()
            })
        })
    }

    fn prune(&self, before: DateTime<Utc>) -> RepoResult<u64> {
        self.db.write(|c| {
            immediate_transaction(c, |c| {
                let before = to_db_time(before);
                let busy = deliveries::table
                    .filter(deliveries::outbox_event_id.eq(outbox_events::id))
                    .filter(deliveries::state.eq("pending"));
                let done = outbox_events::table
                    .filter(outbox_events::created_at.lt(before))
                    .filter(outbox_events::routed_at.is_not_null())
                    .filter(not(exists(busy)))
                    .select(outbox_events::id);
                let ids: Vec<i64> = done.load(c)?;
                let mut pruned = 0;
                for chunk in ids.chunks(500) {
                    // Attempts and deliveries go with their event (ON DELETE CASCADE), but
                    // deleting them first keeps SQLite from needing the pragma's help.
                    let delivery_ids = deliveries::table
                        .filter(deliveries::outbox_event_id.eq_any(chunk))
                        .select(deliveries::id);
                    diesel::delete(
                        delivery_attempts::table
                            .filter(delivery_attempts::delivery_id.eq_any(delivery_ids)),
                    )
                    .execute(c)?;
                    diesel::delete(
                        deliveries::table.filter(deliveries::outbox_event_id.eq_any(chunk)),
                    )
                    .execute(c)?;
                    pruned += diesel::delete(
                        outbox_events::table.filter(outbox_events::id.eq_any(chunk)),
                    )
                    .execute(c)? as u64;
                }
                diesel::delete(
                    telegram_chats::table.filter(telegram_chats::next_send_at.lt(before)),
                )
                .execute(c)?;
                Ok(pruned)
            })
        })
    }

    fn stats(&self) -> RepoResult<OutboxStats> {
        self.db.run(|c| {
            let unrouted: (i64, Option<chrono::NaiveDateTime>) = outbox_events::table
                .filter(outbox_events::routed_at.is_null())
                .select((
                    diesel::dsl::count_star(),
                    diesel::dsl::min(outbox_events::created_at),
                ))
                .first(c)?;
            let pending: (i64, Option<chrono::NaiveDateTime>) = deliveries::table
                .inner_join(outbox_events::table)
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(PENDING))
                .select((
                    diesel::dsl::count_star(),
                    diesel::dsl::min(outbox_events::created_at),
                ))
                .first(c)?;
            let oldest = [unrouted.1, pending.1].into_iter().flatten().min();
            Ok(OutboxStats {
                pending: unrouted.0 + pending.0,
                oldest_pending: oldest.map(from_db_time),
            })
        })
    }

    fn notice_context(
        &self,
        location_id: Option<i64>,
        program_type_id: Option<i64>,
        class_session_id: Option<i64>,
    ) -> RepoResult<NoticeContext> {
        self.db.run(|c| {
            let session: Option<(i64, i64, chrono::NaiveDateTime)> = match class_session_id {
                Some(id) => class_sessions::table
                    .find(id)
                    .select((
                        class_sessions::location_id,
                        class_sessions::program_type_id,
                        class_sessions::starts_at,
                    ))
                    .first(c)
                    .optional()?,
                None => None,
            };
            let location_id = location_id.or(session.map(|s| s.0));
            let program_type_id = program_type_id.or(session.map(|s| s.1));
            let location: Option<(String, String)> = match location_id {
                Some(id) => locations::table
                    .find(id)
                    .select((locations::name, locations::timezone))
                    .first(c)
                    .optional()?,
                None => None,
            };
            let program: Option<String> = match program_type_id {
                Some(id) => program_types::table
                    .find(id)
                    .select(program_types::name)
                    .first(c)
                    .optional()?,
                None => None,
            };
            let (studio, timezone) = location.unzip();
            Ok(NoticeContext {
                studio,
                timezone,
                program,
                class_start: session.map(|s| from_db_time(s.2)),
            })
        })
    }

    fn lead_contacts(&self, ids: &[i64]) -> RepoResult<BTreeMap<i64, (String, String)>> {
        self.db.run(|c| {
            Ok(leads::table
                .filter(leads::id.eq_any(ids))
                .select((leads::id, leads::name, leads::phone))
                .load::<(i64, String, String)>(c)?
                .into_iter()
                .map(|(id, name, phone)| (id, (name, phone)))
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite's plan for the claim's query, on a migrated in-memory database.
    fn claim_plan() -> Vec<String> {
        use diesel::sql_types::{BigInt, Text, Timestamp};

        #[derive(QueryableByName)]
        struct Step {
            #[diesel(sql_type = Text)]
            detail: String,
        }
        let mut conn = AnyConnection::Sqlite(
            SqliteConnection::establish(":memory:").expect("in-memory database"),
        );
        crate::migrations::run_pending(&mut conn).expect("migrations");
        let AnyConnection::Sqlite(sqlite) = &mut conn else {
            unreachable!("opened as SQLite")
        };
        let now = to_db_time(Utc::now());
        let query = due_deliveries!(now, 32);
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query).to_string();
        let sql = sql.split(" -- binds:").next().expect("the SQL");
        // The binds in the order the query states them: three instants and the limit.
        diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(32_i64)
            .load::<Step>(sqlite)
            .expect("plan")
            .into_iter()
            .map(|step| step.detail)
            .collect()
    }

    #[test]
    fn counting_a_webhooks_leases_reads_only_the_leased_index() {
        let mut conn = AnyConnection::Sqlite(
            SqliteConnection::establish(":memory:").expect("in-memory database"),
        );
        crate::migrations::run_pending(&mut conn).expect("migrations");
        let AnyConnection::Sqlite(sqlite) = &mut conn else {
            unreachable!("opened as SQLite")
        };
        let query = leased_per_webhook!(to_db_time(Utc::now()));
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query).to_string();
        let sql = sql.split(" -- binds:").next().expect("the SQL");
        let plan: Vec<String> = plan_of(sqlite, &format!("EXPLAIN QUERY PLAN {sql}"));
        assert!(
            plan.iter()
                .any(|s| s.contains("USING COVERING INDEX deliveries_leased_idx")),
            "{plan:#?}"
        );
    }

    /// The `detail` column of SQLite's `EXPLAIN QUERY PLAN` for `explain`, its one bind an
    /// instant.
    fn plan_of(sqlite: &mut SqliteConnection, explain: &str) -> Vec<String> {
        use diesel::sql_types::{Text, Timestamp};

        #[derive(QueryableByName)]
        struct Step {
            #[diesel(sql_type = Text)]
            detail: String,
        }
        diesel::sql_query(explain)
            .bind::<Timestamp, _>(to_db_time(Utc::now()))
            .load::<Step>(sqlite)
            .expect("plan")
            .into_iter()
            .map(|step| step.detail)
            .collect()
    }

    #[test]
    fn the_claim_walks_the_due_index_in_order_and_probes_the_order_index() {
        let plan = claim_plan();
        assert!(
            plan.iter()
                .any(|s| s.contains("SEARCH deliveries USING INDEX deliveries_due_idx")),
            "{plan:#?}"
        );
        assert!(
            plan.iter()
                .any(|s| s.contains("SEARCH earlier USING INDEX deliveries_order_idx")),
            "{plan:#?}"
        );
        assert!(
            !plan.iter().any(|s| s.contains("TEMP B-TREE")),
            "no sort: the index gives the order: {plan:#?}"
        );
    }

    #[test]
    fn an_erased_leads_payload_keeps_no_personal_data() {
        let payload = serde_json::json!({"lead": {
            "id": 3, "name": "Анна", "phone": "+79161234567", "email": "a@example.com",
            "message": "позвоните", "notes": "n", "status": "new", "location_id": 1
        }})
        .to_string();
        let stripped: serde_json::Value =
            serde_json::from_str(&strip_payload(&payload).expect("strip")).expect("json");
        for key in ["name", "phone", "email", "message", "notes"] {
            assert!(stripped["lead"].get(key).is_none(), "{key}: {stripped}");
        }
        assert_eq!(stripped["lead"]["id"], 3);
        assert_eq!(stripped["lead"]["location_id"], 1);
    }

    #[test]
    fn a_signing_key_is_read_back_from_its_hex() {
        let hex: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
        let key = parse_signing_key(&hex).expect("key");
        assert_eq!(key[31], 31);
        assert!(parse_signing_key("zz").is_err());
    }
}
