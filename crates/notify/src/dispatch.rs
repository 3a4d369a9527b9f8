//! The outbox's dispatcher (API.md §7): routes new events to their deliveries, claims due
//! deliveries under a lease, makes them (webhook POSTs, Telegram messages) and records each
//! attempt with what follows it (done, a retry on the schedule of [`crate::backoff`], giving
//! up, deactivating a webhook).
//!
//! It runs on a thread of its own with its own single-threaded runtime, so neither a slow
//! receiver nor Telegram can hold up the HTTP server's workers, and storage calls (which
//! block) go to that runtime's blocking pool. Every instant comes from a [`Clock`], so tests
//! move time instead of waiting. Several instances may each run one: claiming is safe
//! across them (see `cohai-persistence`'s `outbox.rs`).

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use cohai_domain::outbox::{
    AttemptRecord, Channel, ClaimLimits, ClaimedDelivery, Completion, DeliveryTarget, EventType,
    NextStep, OutboxRepository, OutboxStats, TelegramRouting,
};
use cohai_domain::{RepoError, RepoResult};
use tokio::task::JoinSet;

use crate::backoff;
use crate::telegram::{TelegramAttempt, TelegramClient};
use crate::text::{
    CancellationNotice, LeadNotice, LeadNoticeKind, cancellation_text, format_local_start,
    lead_text,
};
use crate::webhook::WebhookClient;

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told (tests of the retry schedule).
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Told what the dispatcher does, for metrics.
pub trait DispatchObserver: Send + Sync {
    /// One attempt on `channel` succeeded or failed.
    fn attempted(&self, channel: Channel, success: bool);
    /// How the outbox stands now.
    fn outbox(&self, stats: OutboxStats);
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl DispatchObserver for NoObserver {
    fn attempted(&self, _: Channel, _: bool) {}
    fn outbox(&self, _: OutboxStats) {}
}

/// Telegram, when a bot token is configured.
#[derive(Clone)]
pub struct TelegramDelivery {
    /// The Bot API client.
    pub client: TelegramClient,
    /// Which chat gets what.
    pub routing: TelegramRouting,
    /// Whether messages carry the person's name and phone.
    pub include_contact: bool,
}

/// How the dispatcher works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchSettings {
    /// How long a claimed delivery is reserved (longer than a delivery's time-out).
    pub lease: Duration,
    /// Most deliveries claimed (and made at once) per cycle.
    pub batch: i64,
    /// Most deliveries of one webhook made at once (over every instance): a receiver that
    /// answers slowly, with a backlog, takes no more of the batch than this.
    pub per_webhook: i64,
    /// Most events routed per cycle.
    pub route_batch: i64,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            batch: 32,
            per_webhook: 4,
            route_batch: 100,
        }
    }
}

/// What one cycle did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cycle {
    /// Events routed to their deliveries.
    pub routed: usize,
    /// Deliveries attempted.
    pub attempted: usize,
}

/// The dispatcher: call [`Dispatcher::run_once`] (tests), or [`start`] it on its thread.
pub struct Dispatcher {
    outbox: Arc<dyn OutboxRepository>,
    webhooks: WebhookClient,
    telegram: Option<TelegramDelivery>,
    clock: Arc<dyn Clock>,
    observer: Arc<dyn DispatchObserver>,
    settings: DispatchSettings,
}

/// Runs a storage call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> RepoResult<T> + Send + 'static,
) -> RepoResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RepoError::Internal(format!("a dispatcher storage call failed: {e}")))?
}

impl Dispatcher {
    /// A dispatcher over `outbox`; Telegram only when `telegram` is given.
    pub fn new(
        outbox: Arc<dyn OutboxRepository>,
        webhooks: WebhookClient,
        telegram: Option<TelegramDelivery>,
        clock: Arc<dyn Clock>,
        observer: Arc<dyn DispatchObserver>,
        settings: DispatchSettings,
    ) -> Self {
        Self {
            outbox,
            webhooks,
            telegram,
            clock,
            observer,
            settings,
        }
    }

    /// Routes what is new, then makes the deliveries due now (at once, up to the batch), and
    /// records them: one whole cycle, waiting for its slowest delivery (tests; the running
    /// dispatcher of [`start`] does not wait for them, see [`Dispatcher::claim_cycle`]).
    /// Needs a Tokio runtime (the blocking pool and timers).
    pub async fn run_once(&self) -> RepoResult<Cycle> {
        let (routed, claimed) = self.claim_cycle(0).await?;
        let attempted = claimed.len();
        let finished =
            futures_util::future::join_all(claimed.into_iter().map(|d| self.deliver(d))).await;
        self.record(finished).await;
        Ok(Cycle { routed, attempted })
    }

    /// Routes what is new and claims the deliveries due now, as many as the batch has room
    /// for beside the `in_flight` ones still being made: how many events were routed, and the
    /// claimed deliveries. A delivery in flight stays leased, so it is not claimed again, and
    /// a later event of its lead and target waits for it (only the first pending one of a lead
    /// and target is due).
    async fn claim_cycle(&self, in_flight: usize) -> RepoResult<(usize, Vec<ClaimedDelivery>)> {
        let now = self.clock.now();
        let routing = self.telegram.as_ref().map(|t| t.routing.clone());
        let (outbox, limit) = (Arc::clone(&self.outbox), self.settings.route_batch);
        let routed = blocking(move || outbox.route(routing.as_ref(), now, limit)).await?;
        let room = self
            .settings
            .batch
            .saturating_sub(i64::try_from(in_flight).unwrap_or(i64::MAX));
        if room <= 0 {
            return Ok((routed, Vec::new()));
        }
        let (outbox, lease) = (Arc::clone(&self.outbox), self.settings.lease);
        let limits = ClaimLimits {
            batch: room,
            per_webhook: self.settings.per_webhook,
        };
        let claimed = blocking(move || outbox.claim(now, lease, limits)).await?;
        Ok((routed, claimed))
    }

    /// Records finished deliveries, in one transaction.
    async fn record(&self, finished: Vec<RepoResult<Completion>>) {
        if finished.is_empty() {
            return;
        }
        let attempted = finished.len();
        let mut done = Vec::with_capacity(attempted);
        for result in finished {
            match result {
                Ok(completion) => done.push(completion),
                // The lease runs out and the delivery is made again: nothing is lost.
                Err(error) => log::warn!("outbox: preparing a delivery failed: {error}"),
            }
        }
        let now = self.clock.now();
        let outbox = Arc::clone(&self.outbox);
        let kept = blocking(move || outbox.complete_all(&done, now)).await;
        match kept {
            Ok(kept) => {
                let lost = kept.iter().filter(|k| !**k).count();
                if lost > 0 {
                    log::info!(
                        "outbox: {lost} deliveries' leases had run out before they were recorded"
                    );
                }
            }
            // Their leases run out and they are made again: at least once, never lost.
            Err(error) => log::warn!("outbox: recording {attempted} deliveries failed: {error}"),
        }
    }

    /// How the outbox stands.
    pub async fn stats(&self) -> RepoResult<OutboxStats> {
        let outbox = Arc::clone(&self.outbox);
        blocking(move || outbox.stats()).await
    }

    /// Deletes events older than `retention` with nothing left to deliver.
    pub async fn prune(&self, retention: TimeDelta) -> RepoResult<u64> {
        let outbox = Arc::clone(&self.outbox);
        let before = self.clock.now() - retention;
        blocking(move || outbox.prune(before)).await
    }

    /// Makes one delivery; what to record of it.
    async fn deliver(&self, delivery: ClaimedDelivery) -> RepoResult<Completion> {
        let started = self.clock.now();
        let (attempt, next, chat_pause) = match &delivery.target {
            DeliveryTarget::Webhook {
                url, signing_key, ..
            } => self.deliver_webhook(&delivery, url, signing_key).await,
            DeliveryTarget::Telegram { chat_id } => {
                self.deliver_telegram(&delivery, chat_id, started).await?
            }
        };
        self.observer.attempted(
            delivery.target.channel(),
            matches!(next, NextStep::Delivered),
        );
        Ok(Completion {
            delivery,
            attempt,
            next,
            chat_pause,
        })
    }

    async fn deliver_webhook(
        &self,
        delivery: &ClaimedDelivery,
        url: &str,
        signing_key: &[u8; 32],
    ) -> (AttemptRecord, NextStep, Option<DateTime<Utc>>) {
        let event = &delivery.event;
        let body = serde_json::json!({
            "id": event.event_id,
            "type": event.event_type,
            "created_at": event.created_at,
            "data": event.data,
        });
        // A `Value` always serialises.
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let now = self.clock.now();
        let attempt = self
            .webhooks
            .deliver(url, &event.event_id, body, signing_key, now.timestamp())
            .await;
        let success = attempt.outcome.is_success();
        let error = match attempt.outcome.error_label() {
            Some(label) => Some(label.to_owned()),
            None if !success => Some("status".to_owned()),
            None => None,
        };
        if attempt.outcome == crate::webhook::AttemptOutcome::Refused {
            log::warn!(
                "webhook delivery refused: the target of webhook {} is not allowed",
                webhook_id(delivery)
            );
        }
        let record = AttemptRecord {
            status_code: attempt.status_code.map(i32::from),
            error,
            duration: attempt.duration,
        };
        let now = self.clock.now();
        let next = if success {
            NextStep::Delivered
        } else {
            backoff::after_webhook_failure(delivery.attempt, delivery.failing_since, now)
        };
        (record, next, None)
    }

    async fn deliver_telegram(
        &self,
        delivery: &ClaimedDelivery,
        chat_id: &str,
        now: DateTime<Utc>,
    ) -> RepoResult<(AttemptRecord, NextStep, Option<DateTime<Utc>>)> {
        let Some(telegram) = &self.telegram else {
            // Routed while a token was configured; kept for when one is again (or given up
            // after the window).
            let record = AttemptRecord {
                status_code: None,
                error: Some("not_configured".to_owned()),
                duration: Duration::ZERO,
            };
            let next =
                backoff::after_telegram_failure(delivery.attempt, delivery.failing_since, now);
            return Ok((record, next, None));
        };
        let text = self.telegram_text(telegram, delivery).await?;
        let started = Instant::now();
        let attempt = telegram.client.send_message(chat_id, &text).await;
        let duration = started.elapsed();
        let now = self.clock.now();
        Ok(match attempt {
            TelegramAttempt::Sent => (
                AttemptRecord {
                    status_code: Some(200),
                    error: None,
                    duration,
                },
                NextStep::Delivered,
                None,
            ),
            TelegramAttempt::RetryAfter { seconds, status } => {
                let wait = TimeDelta::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 1000));
                (
                    AttemptRecord {
                        status_code: Some(i32::from(status)),
                        error: Some(format!("retry_after {seconds}")),
                        duration,
                    },
                    backoff::after_telegram_rate_limit(wait, delivery.failing_since, now),
                    Some(now + wait),
                )
            }
            TelegramAttempt::Failed { status_code, error } => (
                AttemptRecord {
                    status_code: status_code.map(i32::from),
                    error: Some(error),
                    duration,
                },
                backoff::after_telegram_failure(delivery.attempt, delivery.failing_since, now),
                None,
            ),
        })
    }

    /// The message for a delivery's event, from the event as stored (so an erased lead's
    /// message has no contact) and the catalog's names now.
    async fn telegram_text(
        &self,
        telegram: &TelegramDelivery,
        delivery: &ClaimedDelivery,
    ) -> RepoResult<String> {
        let data = &delivery.event.data;
        let contact = telegram.include_contact;
        if delivery.event.event_type == EventType::ClassSessionCancelled {
            let session = &data["class_session"];
            let ids: Vec<i64> = data["lead_ids"]
                .as_array()
                .map(|ids| ids.iter().filter_map(serde_json::Value::as_i64).collect())
                .unwrap_or_default();
            let contacts = if contact {
                let outbox = Arc::clone(&self.outbox);
                let ids = ids.clone();
                blocking(move || outbox.lead_contacts(&ids)).await?
            } else {
                Default::default()
            };
            let local = local_start(
                session["starts_at"].as_str(),
                session["location"]["timezone"].as_str(),
            );
            return Ok(cancellation_text(&CancellationNotice {
                studio: text_of(&session["location"]["name"]),
                program: text_of(&session["program_type"]["name"]),
                class_start: local.unwrap_or_default(),
                reason: text_of(&session["cancellation_reason"]),
                leads: ids
                    .into_iter()
                    .map(|id| {
                        let found = contacts.get(&id);
                        (id, found.map(|c| c.0.clone()), found.map(|c| c.1.clone()))
                    })
                    .collect(),
            }));
        }
        let lead = &data["lead"];
        let (location, program, session) = (
            lead["location_id"].as_i64(),
            lead["program_type_id"].as_i64(),
            lead["class_session_id"].as_i64(),
        );
        let outbox = Arc::clone(&self.outbox);
        let context = blocking(move || outbox.notice_context(location, program, session)).await?;
        let class_start = match (context.class_start, context.timezone.as_deref()) {
            (Some(start), Some(zone)) => zone
                .parse::<chrono_tz::Tz>()
                .ok()
                .map(|tz| format_local_start(start.with_timezone(&tz))),
            _ => None,
        };
        let kind = if delivery.event.event_type == EventType::LeadResubmitted {
            LeadNoticeKind::Resubmitted
        } else {
            LeadNoticeKind::New
        };
        Ok(lead_text(&LeadNotice {
            kind,
            lead_id: lead["id"].as_i64().unwrap_or_default(),
            studio: context.studio,
            program: context.program,
            class_start,
            name: contact
                .then(|| lead["name"].as_str().map(str::to_owned))
                .flatten(),
            phone: contact
                .then(|| lead["phone"].as_str().map(str::to_owned))
                .flatten(),
            message: None,
        }))
    }
}

fn webhook_id(delivery: &ClaimedDelivery) -> i64 {
    match delivery.target {
        DeliveryTarget::Webhook { webhook_id, .. } => webhook_id,
        DeliveryTarget::Telegram { .. } => 0,
    }
}

fn text_of(value: &serde_json::Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// An RFC 3339 instant in a time zone, as messages show it.
fn local_start(instant: Option<&str>, zone: Option<&str>) -> Option<String> {
    let start = DateTime::parse_from_rfc3339(instant?).ok()?;
    let tz = zone?.parse::<chrono_tz::Tz>().ok()?;
    Some(format_local_start(start.with_timezone(&tz)))
}

/// How the dispatcher's thread runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopSettings {
    /// Pause when there was nothing to do.
    pub poll_interval: Duration,
    /// How long finished events are kept.
    pub retention: TimeDelta,
}

/// How often finished events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);
/// How often the outbox's gauges are refreshed. Every dispatching instance counts the whole
/// outbox (its unrouted events and pending deliveries), so this is a query per instance per
/// period; on PostgreSQL under the lead form's full load it took 20–60 ms of a backend's CPU
/// while dead index entries of routed events waited for vacuum. Five seconds is well inside a
/// scrape interval (Prometheus' default is a minute, 15 s is common).
const STATS_EVERY: Duration = Duration::from_secs(5);
/// Pause between cycles while there is work: bounds how often the dispatcher takes the
/// database's write lock (on SQLite the lead form's writer waits for it meanwhile).
const BUSY_PAUSE: Duration = Duration::from_millis(100);

/// The running dispatcher; dropping it stops the thread once the deliveries in flight have
/// ended (each within its client's time-out) and are recorded.
pub struct RunningDispatcher {
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

/// Starts `dispatcher` on a thread of its own. Each cycle routes, claims what is due (up to
/// the batch, less what is still in flight) and starts each delivery as a task; they go on
/// while the loop does anything else, and what finished is recorded shortly after (see
/// `finish_during`). So a receiver that answers slowly holds up only its own deliveries: the
/// next cycle's Telegram messages and other webhooks go out meanwhile, while fewer than the
/// batch are in flight.
pub fn start(dispatcher: Dispatcher, settings: LoopSettings) -> std::io::Result<RunningDispatcher> {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()?;
    let thread = std::thread::Builder::new()
        .name("outbox-dispatcher".to_owned())
        .spawn(move || {
            let dispatcher = Arc::new(dispatcher);
            runtime.block_on(async move {
                let mut last_prune: Option<Instant> = None;
                let mut last_stats: Option<Instant> = None;
                let mut failing = false;
                // Each delivery is a task of this runtime: it goes on while the loop awaits
                // anything else (storage calls, stats, the hourly prune, the pause).
                let mut in_flight: JoinSet<RepoResult<Completion>> = JoinSet::new();
                while !*stopped.borrow() {
                    let busy = match dispatcher.claim_cycle(in_flight.len()).await {
                        Ok((routed, claimed)) => {
                            if failing {
                                log::info!("outbox: the dispatcher works again");
                                failing = false;
                            }
                            let busy = routed > 0 || !claimed.is_empty();
                            for delivery in claimed {
                                let dispatcher = Arc::clone(&dispatcher);
                                in_flight.spawn(async move { dispatcher.deliver(delivery).await });
                            }
                            busy
                        }
                        Err(error) => {
                            // Once per outage, not once per cycle.
                            if !failing {
                                log::warn!("outbox: the dispatcher cannot reach storage: {error}");
                                failing = true;
                            }
                            false
                        }
                    };
                    if last_stats.is_none_or(|at| at.elapsed() >= STATS_EVERY) {
                        if let Ok(stats) = dispatcher.stats().await {
                            dispatcher.observer.outbox(stats);
                        }
                        last_stats = Some(Instant::now());
                    }
                    if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                        match dispatcher.prune(settings.retention).await {
                            Ok(0) => {}
                            Ok(n) => log::info!("outbox: pruned {n} delivered events"),
                            Err(error) => log::warn!("outbox: pruning failed: {error}"),
                        }
                        last_prune = Some(Instant::now());
                    }
                    // A short breath even with work waiting: on SQLite every cycle takes the
                    // single write lock, which the lead form needs too.
                    let pause = if busy {
                        BUSY_PAUSE
                    } else {
                        settings.poll_interval
                    };
                    let finished = finish_during(&mut in_flight, pause, &mut stopped).await;
                    dispatcher.record(finished).await;
                }
                // Stopping: the deliveries under way end within their time-outs.
                let mut finished = Vec::new();
                while let Some(joined) = in_flight.join_next().await {
                    finished.extend(completion_of(joined));
                }
                dispatcher.record(finished).await;
            });
        })?;
    Ok(RunningDispatcher {
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// Waits out `pause` (or until told to stop) while the deliveries in flight go on; those that
/// finished meanwhile. Once one has finished, it waits at most [`BUSY_PAUSE`] longer, so a
/// delivery is recorded soon after it ends (well inside its lease), whatever the pause.
async fn finish_during(
    in_flight: &mut JoinSet<RepoResult<Completion>>,
    pause: Duration,
    stopped: &mut tokio::sync::watch::Receiver<bool>,
) -> Vec<RepoResult<Completion>> {
    let mut finished = Vec::new();
    let sleep = tokio::time::sleep(pause);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            () = &mut sleep => break,
            _ = stopped.changed() => break,
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                finished.extend(completion_of(joined));
                let soon = tokio::time::Instant::now() + BUSY_PAUSE;
                if soon < sleep.deadline() {
                    sleep.as_mut().reset(soon);
                }
            }
        }
    }
    finished
}

/// A delivery task's outcome; `None` (logged) when the task panicked: its lease runs out and
/// it is made again.
fn completion_of(
    joined: Result<RepoResult<Completion>, tokio::task::JoinError>,
) -> Option<RepoResult<Completion>> {
    match joined {
        Ok(result) => Some(result),
        Err(error) => {
            log::error!("outbox: a delivery task failed: {error}");
            None
        }
    }
}

impl Drop for RunningDispatcher {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            log::error!("the outbox dispatcher panicked");
        }
    }
}
