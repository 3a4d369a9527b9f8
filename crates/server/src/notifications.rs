//! Starts the outbox's dispatcher (API.md §7) from the settings: the webhook client, Telegram
//! when a bot token is configured, and the metrics it reports to.

use std::sync::Arc;
use std::time::Duration;

use cohai_config::Settings;
use cohai_domain::outbox::{Channel, OutboxRepository, OutboxStats, TelegramRouting};
use cohai_notify::dispatch::{
    self, Clock, DispatchObserver, DispatchSettings, Dispatcher, LoopSettings, RunningDispatcher,
    SystemClock, TelegramDelivery,
};
use cohai_notify::{TelegramClient, WebhookClient, WebhookClientConfig};
use cohai_web::Metrics;

use crate::compose::VERSION;

/// How long one Telegram call may take.
const TELEGRAM_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the dispatcher could not be started.
#[derive(Debug, thiserror::Error)]
pub enum NotificationsError {
    /// A client could not be built from the settings.
    #[error("notifications: {0}")]
    Client(#[from] cohai_notify::NotifyError),
    /// A bot token without any chat to send to.
    #[error("telegram.bot_token is set but telegram.chat_id is empty")]
    NoChat,
    /// The lease must outlast a delivery's time-out, or a slow delivery would be made twice.
    #[error("outbox.lease_secs must be more than the 10-second delivery time-out")]
    LeaseTooShort,
    /// The thread could not be started.
    #[error("notifications: {0}")]
    Io(#[from] std::io::Error),
}

/// Reports to the server's metrics.
struct MetricsObserver {
    metrics: Metrics,
    clock: Arc<dyn Clock>,
}

impl DispatchObserver for MetricsObserver {
    fn attempted(&self, channel: Channel, success: bool) {
        self.metrics.delivery_attempted(channel, success);
    }

    fn outbox(&self, stats: OutboxStats) {
        self.metrics.outbox(stats, self.clock.now());
    }
}

/// The dispatcher the settings describe, with `clock` (the system's in production).
pub fn dispatcher(
    settings: &Settings,
    outbox: Arc<dyn OutboxRepository>,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
) -> Result<Dispatcher, NotificationsError> {
    let webhooks = WebhookClient::new(WebhookClientConfig {
        timeout: WebhookClientConfig::PRODUCTION_TIMEOUT,
        allow_private_targets: settings.webhooks.allow_private_targets,
        user_agent: format!("cohai-webhooks/{VERSION}"),
    })?;
    let telegram = &settings.telegram;
    let telegram = if telegram.bot_token.is_empty() {
        None
    } else {
        if telegram.chat_id.is_empty() {
            return Err(NotificationsError::NoChat);
        }
        Some(TelegramDelivery {
            client: TelegramClient::new(&telegram.api_base, &telegram.bot_token, TELEGRAM_TIMEOUT)?,
            routing: TelegramRouting {
                default_chat: telegram.chat_id.clone(),
                location_chats: telegram.location_chats.clone(),
            },
            include_contact: telegram.include_contact,
        })
    };
    let lease = Duration::from_secs(settings.outbox.lease_secs);
    if lease <= WebhookClientConfig::PRODUCTION_TIMEOUT {
        return Err(NotificationsError::LeaseTooShort);
    }
    let observer = Arc::new(MetricsObserver {
        metrics,
        clock: Arc::clone(&clock),
    });
    Ok(Dispatcher::new(
        outbox,
        webhooks,
        telegram,
        clock,
        observer,
        DispatchSettings {
            lease,
            ..DispatchSettings::default()
        },
    ))
}

/// Starts the dispatcher on its thread, unless `outbox.dispatch` is off (`None`).
pub fn start(
    settings: &Settings,
    outbox: Arc<dyn OutboxRepository>,
    metrics: Metrics,
) -> Result<Option<RunningDispatcher>, NotificationsError> {
    if !settings.outbox.dispatch {
        log::info!("notifications: this instance does not dispatch (outbox.dispatch = false)");
        return Ok(None);
    }
    let dispatcher = dispatcher(settings, outbox, metrics, Arc::new(SystemClock))?;
    log::info!(
        "notifications: dispatching webhooks{}",
        if settings.telegram.bot_token.is_empty() {
            " (Telegram off: no telegram.bot_token)"
        } else {
            " and Telegram messages"
        }
    );
    let running = dispatch::start(
        dispatcher,
        LoopSettings {
            poll_interval: Duration::from_millis(settings.outbox.poll_interval_ms.max(10)),
            retention: chrono::TimeDelta::days(i64::from(settings.outbox.retention_days)),
        },
    )?;
    Ok(Some(running))
}
