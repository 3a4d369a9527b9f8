//! Telegram messages: one `sendMessage` call of the Bot API per call.
//!
//! The bot token is a secret and the Bot API puts it in the path
//! (`<api_base>/bot<token>/sendMessage`), so the request URL is never logged, returned or
//! printed, and `Debug` of the client leaves the token out. Text is sent without
//! `parse_mode`, as plain text, so nothing in it is read as markup.
//!
//! Unlike webhook targets, `api_base` is operator configuration and gets no private-address
//! check (tests point it at a loopback fake). Proxies from the environment (`HTTPS_PROXY`, …)
//! are honoured, for hosts that reach Telegram only through one.

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::NotifyError;
use crate::http::{client_builder, error_chain, read_capped};

/// Wait used when Telegram answers 429 without `parameters.retry_after` (it always sends it,
/// so this is only a guard); it is also the contract's first retry of a failed call.
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 30;

/// Longest part of Telegram's `description` kept in [`TelegramAttempt::Failed`], in characters.
const MAX_ERROR_CHARS: usize = 200;

/// What came of one `sendMessage` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TelegramAttempt {
    /// Telegram answered 2xx with `"ok": true`.
    Sent,
    /// Telegram asked to wait: its `parameters.retry_after`, or [`DEFAULT_RETRY_AFTER_SECS`]
    /// for a 429 without one.
    RetryAfter {
        /// Seconds to wait before the next call to this chat.
        seconds: u64,
        /// The HTTP status of the answer (429).
        status: u16,
    },
    /// Any other failure.
    Failed {
        /// The HTTP status when Telegram answered; `None` for a time-out or no connection.
        status_code: Option<u16>,
        /// Telegram's `description` (control characters removed, at most 200 characters),
        /// `HTTP <status>` when it gave none, or `"timeout"` / `"connect"`.
        error: String,
    },
}

/// The outbound client for the Telegram Bot API.
#[derive(Clone)]
pub struct TelegramClient {
    http: reqwest::Client,
    /// `<api_base>/bot<token>/sendMessage`: contains the token.
    send_url: Url,
    /// `api_base`'s host, for logs and `Debug`.
    api_host: String,
    timeout: Duration,
}

impl fmt::Debug for TelegramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramClient")
            .field("api_host", &self.api_host)
            .field("bot_token", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct SendMessage<'a> {
    chat_id: &'a str,
    text: &'a str,
}

/// The parts of a Bot API reply that matter here; everything else is ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Reply {
    ok: bool,
    description: Option<String>,
    parameters: ReplyParameters,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReplyParameters {
    retry_after: Option<u64>,
}

impl TelegramClient {
    /// Builds the client for the bot `bot_token` at `api_base` (`https://api.telegram.org` in
    /// production; with or without a trailing `/`, possibly with a path).
    ///
    /// `timeout` is the deadline of every call. Fails on an `api_base` that is not an
    /// `http(s)` URL without query and fragment, and on a token with characters other than
    /// letters, digits, `:`, `_` and `-` (which could change the request path).
    pub fn new(api_base: &str, bot_token: &str, timeout: Duration) -> Result<Self, NotifyError> {
        let valid_token = !bot_token.is_empty()
            && bot_token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'));
        if !valid_token {
            return Err(NotifyError::InvalidBotToken);
        }
        let base = Url::parse(api_base).map_err(|_| NotifyError::InvalidApiBase)?;
        let api_host = match base.host_str() {
            Some(host) if matches!(base.scheme(), "http" | "https") => host.to_owned(),
            _ => return Err(NotifyError::InvalidApiBase),
        };
        if base.query().is_some() || base.fragment().is_some() {
            return Err(NotifyError::InvalidApiBase);
        }
        let send_url = format!(
            "{}/bot{bot_token}/sendMessage",
            base.as_str().trim_end_matches('/')
        );
        let send_url = Url::parse(&send_url).map_err(|_| NotifyError::InvalidApiBase)?;
        let user_agent = concat!("Cohai-Notify/", env!("CARGO_PKG_VERSION"));
        let http = client_builder(timeout, user_agent)?
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(NotifyError::Client)?;
        Ok(Self {
            http,
            send_url,
            api_host,
            timeout,
        })
    }

    /// Sends `text` to `chat_id` (as given, e.g. `"-1002"`: Telegram accepts a number or a
    /// string) as plain text, once, and reports how it went. Never fails: every problem is a
    /// [`TelegramAttempt`].
    pub async fn send_message(&self, chat_id: &str, text: &str) -> TelegramAttempt {
        let body = match serde_json::to_vec(&SendMessage { chat_id, text }) {
            Ok(body) => body,
            Err(_) => return failed(None, "could not encode the message".to_owned()),
        };
        let request = self
            .http
            .post(self.send_url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let exchange = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            Ok::<_, reqwest::Error>((status, read_capped(response).await))
        };
        let host = &self.api_host;
        let attempt = match tokio::time::timeout(self.timeout, exchange).await {
            Err(_elapsed) => failed(None, "timeout".to_owned()),
            Ok(Err(e)) => {
                let label = if e.is_timeout() { "timeout" } else { "connect" };
                // `without_url`: the URL holds the bot token.
                let e = e.without_url();
                log::debug!(
                    "telegram sendMessage via {host} to chat {chat_id}: {}",
                    error_chain(&e)
                );
                failed(None, label.to_owned())
            }
            Ok(Ok((status, body))) => interpret(status, &body),
        };
        if attempt != TelegramAttempt::Sent {
            log::debug!("telegram sendMessage via {host} to chat {chat_id}: {attempt:?}");
        }
        attempt
    }
}

fn failed(status_code: Option<u16>, error: String) -> TelegramAttempt {
    TelegramAttempt::Failed { status_code, error }
}

/// The attempt an answer with `status` and `body` means.
fn interpret(status: u16, body: &[u8]) -> TelegramAttempt {
    let reply: Reply = serde_json::from_slice(body).unwrap_or_default();
    if (200..300).contains(&status) && reply.ok {
        return TelegramAttempt::Sent;
    }
    if let Some(seconds) = reply.parameters.retry_after {
        return TelegramAttempt::RetryAfter { seconds, status };
    }
    if status == 429 {
        return TelegramAttempt::RetryAfter {
            seconds: DEFAULT_RETRY_AFTER_SECS,
            status,
        };
    }
    let error = reply
        .description
        .map(|d| {
            d.chars()
                .filter(|c| !c.is_control())
                .take(MAX_ERROR_CHARS)
                .collect::<String>()
        })
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| format!("HTTP {status}"));
    failed(Some(status), error)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::test_server::{FakeServer, Reply as Canned, closed_port};

    const TOKEN: &str = "123456:AAE-secret_token";

    fn client(base: &str) -> TelegramClient {
        TelegramClient::new(base, TOKEN, Duration::from_secs(5)).unwrap()
    }

    #[tokio::test]
    async fn a_message_is_posted_as_json_to_the_bots_send_message_path() {
        let server = FakeServer::start(Canned::json(200, r#"{"ok":true,"result":{}}"#)).await;
        let attempt = client(&server.url(""))
            .send_message("-1002", "Новая заявка №42\nИмя: Анна")
            .await;
        assert_eq!(attempt, TelegramAttempt::Sent);
        let r = &server.requests()[0];
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, format!("/bot{TOKEN}/sendMessage"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"chat_id": "-1002", "text": "Новая заявка №42\nИмя: Анна"})
        );
    }

    #[tokio::test]
    async fn the_api_base_may_end_with_a_slash_and_have_a_path() {
        let server = FakeServer::start(Canned::json(200, r#"{"ok":true}"#)).await;
        for base in [server.url("/"), server.url("/tg"), server.url("/tg/")] {
            let attempt = client(&base).send_message("1", "x").await;
            assert_eq!(attempt, TelegramAttempt::Sent, "{base}");
        }
        let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(
            paths,
            [
                format!("/bot{TOKEN}/sendMessage"),
                format!("/tg/bot{TOKEN}/sendMessage"),
                format!("/tg/bot{TOKEN}/sendMessage"),
            ]
        );
    }

    #[tokio::test]
    async fn a_429_reports_telegrams_retry_after() {
        let server = FakeServer::start(Canned::json(
            429,
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}"#,
        ))
        .await;
        let attempt = client(&server.url("")).send_message("1", "x").await;
        assert_eq!(
            attempt,
            TelegramAttempt::RetryAfter {
                seconds: 5,
                status: 429
            }
        );
    }

    #[tokio::test]
    async fn a_500_is_a_failure_with_its_status_and_description() {
        let server = FakeServer::start(Canned::json(
            500,
            r#"{"ok":false,"error_code":500,"description":"Internal Server Error"}"#,
        ))
        .await;
        let attempt = client(&server.url("")).send_message("1", "x").await;
        assert_eq!(
            attempt,
            TelegramAttempt::Failed {
                status_code: Some(500),
                error: "Internal Server Error".to_owned()
            }
        );
    }

    #[tokio::test]
    async fn a_timeout_and_a_closed_port_fail_without_a_status() {
        let mut slow = Canned::json(200, r#"{"ok":true}"#);
        slow.delay = Duration::from_secs(5);
        let server = FakeServer::start(slow).await;
        let quick =
            TelegramClient::new(&server.url(""), TOKEN, Duration::from_millis(300)).unwrap();
        assert_eq!(
            quick.send_message("1", "x").await,
            failed(None, "timeout".to_owned())
        );

        let port = closed_port().await;
        let attempt = client(&format!("http://127.0.0.1:{port}"))
            .send_message("1", "x")
            .await;
        assert_eq!(attempt, failed(None, "connect".to_owned()));
    }

    #[test]
    fn a_429_without_retry_after_waits_the_default() {
        assert_eq!(
            interpret(429, b"not json"),
            TelegramAttempt::RetryAfter {
                seconds: DEFAULT_RETRY_AFTER_SECS,
                status: 429
            }
        );
    }

    #[test]
    fn a_2xx_without_ok_true_is_a_failure() {
        assert_eq!(
            interpret(200, br#"{"ok":false,"description":"odd"}"#),
            failed(Some(200), "odd".to_owned())
        );
        assert_eq!(
            interpret(200, b"<html>"),
            failed(Some(200), "HTTP 200".to_owned())
        );
    }

    #[test]
    fn a_long_description_is_cut_to_200_characters_without_control_characters() {
        let description = format!("Bad Request:\n{}", "ж".repeat(500));
        let body = serde_json::json!({"ok": false, "description": description}).to_string();
        let TelegramAttempt::Failed { status_code, error } = interpret(400, body.as_bytes()) else {
            panic!("expected a failure");
        };
        assert_eq!(status_code, Some(400));
        assert_eq!(error.chars().count(), 200);
        assert!(error.starts_with("Bad Request:жжж"));
    }

    #[test]
    fn a_failure_without_a_description_names_the_status() {
        assert_eq!(
            interpret(502, b"Bad Gateway"),
            failed(Some(502), "HTTP 502".to_owned())
        );
    }

    #[test]
    fn debug_does_not_show_the_token() {
        let shown = format!("{:?}", client("https://api.telegram.org"));
        assert!(shown.contains("api.telegram.org"));
        assert!(!shown.contains("secret_token") && !shown.contains("123456"));
    }

    #[test]
    fn a_token_that_would_change_the_path_is_refused() {
        for token in ["", "123/../x", "12?x=1", "12#x", "12 34", "12%2f"] {
            let result =
                TelegramClient::new("https://api.telegram.org", token, Duration::from_secs(1));
            assert!(
                matches!(result, Err(NotifyError::InvalidBotToken)),
                "{token:?}"
            );
        }
    }

    #[test]
    fn an_api_base_that_is_not_an_http_url_is_refused() {
        for base in [
            "api.telegram.org",
            "ftp://api.telegram.org",
            "https://h/?q=1",
            "https://h/#f",
            "mailto:x@y",
        ] {
            let result = TelegramClient::new(base, TOKEN, Duration::from_secs(1));
            assert!(matches!(result, Err(NotifyError::InvalidApiBase)), "{base}");
        }
    }

    #[test]
    fn errors_do_not_show_the_token() {
        let e = TelegramClient::new("nope", TOKEN, Duration::from_secs(1)).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("secret_token"));
    }
}
