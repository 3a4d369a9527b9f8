//! Notifications (API.md §7): the events the outbox holds, the webhooks that subscribe to
//! them, the deliveries a dispatcher makes, and the ports storage implements for them.
//!
//! Every lead event and every session cancellation is written to the outbox in the same
//! transaction as the change (storage does it where it writes the event, so a new write
//! cannot forget it). A dispatcher then *routes* each event to its deliveries (one per
//! subscribed webhook, one to Telegram where §7 says so), *claims* due deliveries under an
//! expiring lease, delivers them, and *completes* them with the attempt's outcome. A crash
//! between delivering and completing lets the lease run out, so the delivery is made again:
//! at least once, never lost.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{LeadEventKind, RepoResult};

/// Defines [`EventType`] with its dotted wire names, written once.
macro_rules! event_types {
    // `$wire:tt`, not `literal`: the OpenAPI derive does not see a `literal` fragment in
    // `serde(rename = …)` and would document the variant names instead of the wire names.
    ($($(#[$meta:meta])* $variant:ident => $wire:tt),+ $(,)?) => {
        /// The type of an outbox event, as webhooks subscribe to it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum EventType {
            $($(#[$meta])* #[serde(rename = $wire)] $variant),+
        }

        impl EventType {
            /// Every type, in declaration order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),+];

            /// The wire (and database) name, e.g. `lead.created`.
            pub const fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $wire),+ }
            }
        }

        impl std::str::FromStr for EventType {
            type Err = crate::error::UnknownValue;

            /// Parses the exact wire name.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok(EventType::$variant),)+
                    other => Err(crate::error::UnknownValue {
                        kind: "EventType",
                        value: other.to_owned(),
                    }),
                }
            }
        }
    };
}

event_types! {
    /// A lead was created (`data.lead`).
    LeadCreated => "lead.created",
    /// The person submitted the form again while their lead was open.
    LeadResubmitted => "lead.resubmitted",
    /// A lead's status changed.
    LeadStatusChanged => "lead.status_changed",
    /// A lead's owner changed.
    LeadAssigned => "lead.assigned",
    /// Other fields of a lead changed.
    LeadUpdated => "lead.updated",
    /// A lead was erased (`data` is `{"lead_id": id}` only).
    LeadErased => "lead.erased",
    /// A class session was cancelled (`data` is `{"class_session", "lead_ids"}`).
    ClassSessionCancelled => "class_session.cancelled",
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EventType {
    /// The outbox event a lead event becomes. `None` for `session_cancelled`: a
    /// cancellation is one [`EventType::ClassSessionCancelled`] event per session, listing
    /// the leads (API.md §7), not one per lead.
    pub const fn of_lead_event(kind: LeadEventKind) -> Option<EventType> {
        match kind {
            LeadEventKind::Created => Some(EventType::LeadCreated),
            LeadEventKind::Resubmitted => Some(EventType::LeadResubmitted),
            LeadEventKind::StatusChanged => Some(EventType::LeadStatusChanged),
            LeadEventKind::Assigned => Some(EventType::LeadAssigned),
            LeadEventKind::Updated => Some(EventType::LeadUpdated),
            LeadEventKind::Erased => Some(EventType::LeadErased),
            LeadEventKind::SessionCancelled => None,
        }
    }
}

/// Where a delivery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A Telegram chat.
    Telegram,
    /// A webhook receiver.
    Webhook,
}

impl Channel {
    /// The wire (database and metrics label) name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Telegram => "telegram",
            Channel::Webhook => "webhook",
        }
    }
}

/// A registered webhook (API.md §7). Its signing key is never part of it: only the
/// dispatcher reads that, through [`DeliveryTarget::Webhook`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    /// Identifier.
    pub id: i64,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The event types it receives, in wire-name order.
    pub events: Vec<EventType>,
    /// Whether it receives events (deactivated after 3 days of failed deliveries).
    pub active: bool,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// Grows by one with every change (the `ETag`).
    #[serde(skip)]
    pub version: i64,
}

/// A webhook to store: the secret itself is never stored, only the key it signs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// Receiver URL, already checked.
    pub url: String,
    /// Subscribed types, non-empty.
    pub events: Vec<EventType>,
    /// Whether it starts active.
    pub active: bool,
    /// The HMAC key: SHA-256 of the secret (equal as an HMAC key, see `cohai-notify`).
    pub signing_key: [u8; 32],
}

/// A partial change of a webhook; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookChanges {
    /// New URL, already checked.
    pub url: Option<String>,
    /// New subscribed types, non-empty.
    pub events: Option<Vec<EventType>>,
    /// Activate or deactivate (deactivating drops its pending deliveries).
    pub active: Option<bool>,
}

/// One attempt in a webhook's deliveries log (API.md §7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryAttempt {
    /// Identifier of this attempt (what `redeliver` takes).
    pub id: i64,
    /// The event's UUID (the body's `id`, header `Cohai-Event-Id`).
    pub event_id: String,
    /// The event's type.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// 1 for the first attempt at this event, counting on through redeliveries.
    pub attempt: i32,
    /// The receiver's HTTP status; `null` when it did not answer.
    pub status_code: Option<i32>,
    /// `null` on success; `"status"`, `"timeout"`, `"connect"` or `"refused"` otherwise.
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration_ms: i64,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A page of a webhook's deliveries log, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttemptPage {
    /// The attempts on this page.
    pub items: Vec<DeliveryAttempt>,
    /// Attempts in the whole log.
    pub total: i64,
}

/// Storage of webhooks and their deliveries log.
pub trait WebhookRepository: Send + Sync {
    /// Every webhook, by id.
    fn list(&self) -> RepoResult<Vec<Webhook>>;
    /// One webhook.
    fn get_by_id(&self, id: i64) -> RepoResult<Option<Webhook>>;
    /// Stores a new webhook (version 1) with its audit entry by `actor` (never the key).
    fn create(&self, new: &NewWebhook, actor: &str, at: DateTime<Utc>) -> RepoResult<Webhook>;
    /// Changes a webhook; `None` when it does not exist; [`crate::RepoError::Stale`] when
    /// `expected_version` is given and differs. Deactivating drops its pending deliveries.
    fn update(
        &self,
        id: i64,
        changes: &WebhookChanges,
        expected_version: Option<i64>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<Option<Webhook>>;
    /// Deletes a webhook with its deliveries; `false` when it did not exist.
    fn delete(
        &self,
        id: i64,
        expected_version: Option<i64>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<bool>;
    /// A page of `webhook_id`'s attempts, newest first; `None` when the webhook does not exist.
    fn attempts(
        &self,
        webhook_id: i64,
        limit: i64,
        offset: i64,
    ) -> RepoResult<Option<DeliveryAttemptPage>>;
    /// Makes the delivery of attempt `attempt_id` (of `webhook_id`) due again at `at`,
    /// continuing its attempt count; `false` when there is no such attempt.
    fn redeliver(&self, webhook_id: i64, attempt_id: i64, at: DateTime<Utc>) -> RepoResult<bool>;
}

/// Where the dispatcher sends Telegram messages (API.md §7 "Settled details").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TelegramRouting {
    /// The default chat.
    pub default_chat: String,
    /// Chats by location id.
    pub location_chats: BTreeMap<i64, String>,
}

impl TelegramRouting {
    /// The chat for an event at `location_id` (the lead's, else its session's).
    pub fn chat_for(&self, location_id: Option<i64>) -> &str {
        location_id
            .and_then(|id| self.location_chats.get(&id))
            .map_or(self.default_chat.as_str(), String::as_str)
    }
}

/// An event as the dispatcher delivers it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Row id (its order).
    pub seq: i64,
    /// The event's UUID.
    pub event_id: String,
    /// Its type.
    pub event_type: EventType,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// The delivery body's `data` object.
    pub data: serde_json::Value,
}

/// The target of a claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryTarget {
    /// A Telegram chat.
    Telegram {
        /// Chat id, as configured.
        chat_id: String,
    },
    /// A webhook.
    Webhook {
        /// Its id.
        webhook_id: i64,
        /// Its URL now.
        url: String,
        /// Its HMAC key.
        signing_key: [u8; 32],
    },
}

impl DeliveryTarget {
    /// The channel it is on.
    pub const fn channel(&self) -> Channel {
        match self {
            DeliveryTarget::Telegram { .. } => Channel::Telegram,
            DeliveryTarget::Webhook { .. } => Channel::Webhook,
        }
    }
}

/// A delivery a dispatcher has leased: nobody else makes it until the lease runs out.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    /// Delivery id.
    pub id: i64,
    /// Proves the lease when completing.
    pub lease_token: String,
    /// Where it goes.
    pub target: DeliveryTarget,
    /// What it delivers.
    pub event: OutboxEvent,
    /// The number this attempt will have (1 for the first).
    pub attempt: i32,
    /// When its first failed attempt since the last success was (the retry window's start).
    pub failing_since: Option<DateTime<Utc>>,
}

/// What one attempt did, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// HTTP status, when there was an answer.
    pub status_code: Option<i32>,
    /// `None` on success; a short label otherwise.
    pub error: Option<String>,
    /// How long it took.
    pub duration: Duration,
}

/// An attempt to record, with what follows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The delivery, as claimed.
    pub delivery: ClaimedDelivery,
    /// What the attempt did.
    pub attempt: AttemptRecord,
    /// What follows.
    pub next: NextStep,
    /// Hold the Telegram chat until then (a `retry_after`).
    pub chat_pause: Option<DateTime<Utc>>,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// Delivered: done.
    Delivered,
    /// Try again at this instant.
    RetryAt(DateTime<Utc>),
    /// Give up and keep the failure (Telegram after 24 hours).
    GiveUp,
    /// Give up and deactivate the webhook (after 3 days of failures), dropping its other
    /// pending deliveries.
    Deactivate,
}

/// How the outbox stands, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Events not yet routed plus deliveries not yet done.
    pub pending: i64,
    /// When the oldest of those happened.
    pub oldest_pending: Option<DateTime<Utc>>,
}

/// Facts about a lead's or session's catalog references, to write a Telegram message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoticeContext {
    /// The studio's name.
    pub studio: Option<String>,
    /// The studio's time zone (IANA).
    pub timezone: Option<String>,
    /// The program's name.
    pub program: Option<String>,
    /// The chosen class's start.
    pub class_start: Option<DateTime<Utc>>,
}

/// How much one claim may lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimLimits {
    /// Most deliveries this claim leases.
    pub batch: i64,
    /// Most deliveries of one webhook under lease at once, counting those that are already
    /// leased and not yet recorded (by any instance): one slow receiver's backlog can then
    /// take only this many of the dispatcher's slots, and the rest go to everyone else. The
    /// count takes no lock: two instances claiming at the same moment may together go past
    /// it by what each takes then, which a receiver can bear and which ends with the leases.
    pub per_webhook: i64,
}

impl ClaimLimits {
    /// Up to `batch` deliveries, with no limit per webhook beyond that.
    pub fn batch(batch: i64) -> Self {
        Self {
            batch,
            per_webhook: i64::MAX,
        }
    }
}

/// The outbox as the dispatcher uses it. All instants come from the caller's clock.
pub trait OutboxRepository: Send + Sync {
    /// Routes up to `limit` events not yet routed, in order: one delivery per active
    /// webhook subscribed to the type since before the event, and one Telegram delivery
    /// when `telegram` is set and §7 sends a message for it. Returns how many events it routed;
    /// 0 also when another instance is routing.
    fn route(
        &self,
        telegram: Option<&TelegramRouting>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> RepoResult<usize>;
    /// Leases due deliveries for `lease`, within `limits`: only the first pending one per
    /// target and lead (order per lead), at most one per Telegram chat whose pacing allows a
    /// message now (and the chat's next message is then a second later), and no more of one
    /// webhook than [`ClaimLimits::per_webhook`] leased at once.
    fn claim(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limits: ClaimLimits,
    ) -> RepoResult<Vec<ClaimedDelivery>>;
    /// Records an attempt and what follows it. `chat_pause` holds a Telegram chat until then
    /// (a `retry_after`). Returns `false` when the lease had been lost (the attempt is still
    /// logged; the delivery is left to its new holder).
    fn complete(
        &self,
        delivery: &ClaimedDelivery,
        attempt: &AttemptRecord,
        next: &NextStep,
        chat_pause: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> RepoResult<bool> {
        let done = [Completion {
            delivery: delivery.clone(),
            attempt: attempt.clone(),
            next: next.clone(),
            chat_pause,
        }];
        Ok(self
            .complete_all(&done, now)?
            .first()
            .copied()
            .unwrap_or(false))
    }
    /// [`OutboxRepository::complete`] for a cycle's attempts at once, in one transaction
    /// (so a busy dispatcher takes the database's write lock once per cycle, not once per
    /// delivery); one flag per completion, in order.
    fn complete_all(&self, done: &[Completion], now: DateTime<Utc>) -> RepoResult<Vec<bool>>;
    /// Deletes events older than `before` that have nothing left to deliver, with their
    /// deliveries and log. Returns how many events.
    fn prune(&self, before: DateTime<Utc>) -> RepoResult<u64>;
    /// Pending work.
    fn stats(&self) -> RepoResult<OutboxStats>;
    /// Names and times for a Telegram message about a lead or session at these references.
    fn notice_context(
        &self,
        location_id: Option<i64>,
        program_type_id: Option<i64>,
        class_session_id: Option<i64>,
    ) -> RepoResult<NoticeContext>;
    /// Name and phone of each of these leads that still exists, by id.
    fn lead_contacts(&self, ids: &[i64]) -> RepoResult<BTreeMap<i64, (String, String)>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_through_their_wire_names() {
        for &t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
            let json = serde_json::to_string(&t).expect("serialise");
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
        assert!("lead.session_cancelled".parse::<EventType>().is_err());
    }

    #[test]
    fn every_lead_event_but_session_cancelled_is_an_event_type() {
        for &kind in LeadEventKind::ALL {
            let mapped = EventType::of_lead_event(kind);
            assert_eq!(
                mapped.is_none(),
                kind == LeadEventKind::SessionCancelled,
                "{kind}"
            );
            if let Some(t) = mapped {
                assert_eq!(t.as_str(), format!("lead.{kind}"));
            }
        }
    }

    #[test]
    fn telegram_chat_is_the_locations_else_the_default() {
        let routing = TelegramRouting {
            default_chat: "-1".to_owned(),
            location_chats: BTreeMap::from([(7, "-1007".to_owned())]),
        };
        assert_eq!(routing.chat_for(Some(7)), "-1007");
        assert_eq!(routing.chat_for(Some(8)), "-1");
        assert_eq!(routing.chat_for(None), "-1");
    }
}
