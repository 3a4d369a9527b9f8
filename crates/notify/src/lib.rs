//! Outbound notifications of the Cohai Stretching backend: the HTTP adapter that sends signed
//! webhook deliveries and Telegram messages (API §7).
//!
//! The clients make one HTTP attempt when asked and report what happened. The dispatcher
//! drives them from the outbox through the domain's `OutboxRepository` port; this crate
//! knows nothing of the database behind it.
//!
//! - [`webhook`]: [`WebhookClient::deliver`] POSTs a signed event body, refusing targets on
//!   private addresses at the moment of connecting (see [`cohai_domain::webhook_target`]).
//! - [`telegram`]: [`TelegramClient::send_message`] calls the Bot API's `sendMessage`.
//! - [`signature`]: webhook secrets, the stored signing key and the `Cohai-Signature` header.
//! - [`text`]: the Russian plain-text messages sent to Telegram.
//! - [`dispatch`]: the outbox's dispatcher, which uses all of the above; [`backoff`]: its
//!   retry schedules.
//!
//! TLS is rustls with the `ring` provider and the Mozilla roots compiled into the binary
//! (`webpki-roots`): nothing is read from the system's certificate store.

pub mod backoff;
pub mod dispatch;
pub mod signature;
pub mod telegram;
pub mod text;
pub mod webhook;

mod http;
#[cfg(test)]
mod test_server;

pub use signature::signature_header;
pub use telegram::{TelegramAttempt, TelegramClient};
pub use text::{
    CancellationNotice, LeadNotice, LeadNoticeKind, cancellation_text, format_local_start,
    lead_text,
};
pub use webhook::{AttemptOutcome, WebhookAttempt, WebhookClient, WebhookClientConfig};

/// Why a client could not be built. Raised at start-up, from configuration; never by a call.
///
/// No variant carries the bot token or a URL with it.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The TLS configuration could not be built (no protocol version the provider supports).
    #[error("could not configure TLS")]
    Tls(#[source] rustls::Error),
    /// reqwest refused the client configuration.
    #[error("could not build the HTTP client")]
    Client(#[source] reqwest::Error),
    /// `telegram.api_base` is not an absolute `http` or `https` URL without query and fragment.
    #[error("telegram.api_base must be an http or https URL without a query or fragment")]
    InvalidApiBase,
    /// `telegram.bot_token` is empty or has characters that would change the request path.
    #[error("telegram.bot_token must be a bot token (letters, digits, ':', '_' and '-')")]
    InvalidBotToken,
}
