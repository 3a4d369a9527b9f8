//! What the webhook and Telegram clients share: TLS set-up and bounded reading of replies.

use std::sync::Arc;

use crate::NotifyError;

/// Most of a reply body that is read; the rest is dropped with the connection.
pub(crate) const MAX_REPLY_BYTES: usize = 64 * 1024;

/// rustls with the `ring` provider, trusting only the Mozilla roots built into the binary, and
/// offering HTTP/1.1 (the only version the clients are built with).
pub(crate) fn tls_config() -> Result<rustls::ClientConfig, NotifyError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    // The provider is given here rather than installed process-wide, so that this crate
    // neither depends on nor disturbs what the rest of the process chose.
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(NotifyError::Tls)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A reqwest client builder with what both clients want: the TLS above, HTTP/1.1, no
/// automatic retries (every call is one attempt, as the dispatcher counts and paces them)
/// and a total deadline.
pub(crate) fn client_builder(
    timeout: std::time::Duration,
    user_agent: &str,
) -> Result<reqwest::ClientBuilder, NotifyError> {
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .http1_only()
        .retry(reqwest::retry::never())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(user_agent))
}

/// Reads at most [`MAX_REPLY_BYTES`] of the reply body.
///
/// A body that breaks off is returned as far as it came: the status line is what counts.
pub(crate) async fn read_capped(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_REPLY_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_REPLY_BYTES {
            break;
        }
    }
    body
}

/// The error and its sources, one after another, for a log line.
///
/// Only for errors that carry no URL (reqwest errors after `without_url()`).
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_tls_configuration_builds_with_the_bundled_roots() {
        let config = tls_config().unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
    }

    #[test]
    fn a_client_builds() {
        client_builder(std::time::Duration::from_secs(1), "test")
            .unwrap()
            .build()
            .unwrap();
    }
}
