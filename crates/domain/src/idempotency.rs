//! Idempotent creation (API.md §3.2): a client's `Idempotency-Key` on a `POST` makes a retry
//! of that request get the first reply again instead of doing the work twice.
//!
//! A key is scoped by client and endpoint ([`IdempotencyScope`]). Its life:
//! 1. the first request *reserves* it ([`Begin::Started`]) with a lease (`locked_until`) and a
//!    token of its own, and is processed;
//! 2. a 2xx reply is *kept* ([`KeptReply`]) for [`KEEP_FOR`]; any other reply *releases* the
//!    key, so the request may be retried with the same or another body;
//! 3. while the first is in progress, a repeat is refused ([`Begin::InProgress`]); once it is
//!    kept, a repeat with the byte-identical body gets the kept reply ([`Begin::Replay`]) and one
//!    with another body is refused ([`Begin::Mismatch`]).
//!
//! A reservation whose request died with its process is not stuck: once its lease has run out
//! another request takes it over. Long requests renew their lease while they run.

use chrono::{DateTime, Duration, Utc};

/// How long a kept reply is replayed, counted from its completion.
pub const KEEP_FOR: Duration = Duration::hours(24);

/// How long a reservation holds its key without being renewed: a request still running renews
/// it (every third of this); one whose process died frees the key this long after its last
/// renewal.
pub const LEASE: Duration = Duration::seconds(60);

/// Longest key accepted (API.md §3.2).
pub const MAX_KEY_LEN: usize = 255;

/// Longest client identity stored (`admin:<key name>` or `ip:<address>`).
pub const MAX_CLIENT_LEN: usize = 512;

/// Longest endpoint stored (`POST <path>`); no route of the API comes near it.
pub const MAX_ENDPOINT_LEN: usize = 1024;

/// Whether `key` is an acceptable `Idempotency-Key`: 1–[`MAX_KEY_LEN`] visible ASCII
/// characters (`!` to `~`; no space, no control character).
///
/// ```
/// use cohai_domain::idempotency::is_valid_key;
/// assert!(is_valid_key(b"order-2026-12-01/7"));
/// assert!(!is_valid_key(b""));
/// assert!(!is_valid_key(b"two words"));
/// assert!(!is_valid_key("ключ".as_bytes()));
/// assert!(!is_valid_key(&[b'k'; 256]));
/// ```
pub fn is_valid_key(key: &[u8]) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len()) && key.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// Which key of which client at which endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyScope {
    /// `admin:<key name>` or `ip:<client address>`.
    pub client: String,
    /// `POST <path>`.
    pub endpoint: String,
    /// The client's key.
    pub key: String,
}

/// Why a scope cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// The key is empty, too long or has characters other than visible ASCII.
    #[error("the Idempotency-Key must be 1 to 255 visible ASCII characters")]
    InvalidKey,
    /// The client or endpoint is empty or longer than the storage takes.
    #[error("the client or endpoint of an idempotency key is empty or too long")]
    TooLong,
}

impl IdempotencyScope {
    /// A checked scope.
    pub fn new(
        client: impl Into<String>,
        endpoint: impl Into<String>,
        key: impl Into<String>,
    ) -> Result<Self, ScopeError> {
        let (client, endpoint, key) = (client.into(), endpoint.into(), key.into());
        if !is_valid_key(key.as_bytes()) {
            return Err(ScopeError::InvalidKey);
        }
        if !(1..=MAX_CLIENT_LEN).contains(&client.len())
            || !(1..=MAX_ENDPOINT_LEN).contains(&endpoint.len())
        {
            return Err(ScopeError::TooLong);
        }
        Ok(Self {
            client,
            endpoint,
            key,
        })
    }
}

/// A request carrying a key: its scope and the SHA-256 of its exact body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentRequest {
    /// The key's scope.
    pub scope: IdempotencyScope,
    /// Lower-case hex SHA-256 of the request body (64 characters).
    pub body_sha256: String,
}

/// A reply kept for replay: only 2xx replies are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptReply {
    /// The HTTP status (200–299).
    pub status: u16,
    /// The headers worth replaying (content type, location, entity tag, cache control), as
    /// lower-case name and value.
    pub headers: Vec<(String, String)>,
    /// The body (the API's replies are JSON: UTF-8 text).
    pub body: String,
}

/// A request's hold on its key: completing or releasing it needs the token, so a request
/// whose lease was taken over cannot touch its successor's reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The key's scope.
    pub scope: IdempotencyScope,
    /// This reservation's own token.
    pub token: String,
}

/// The outcome of presenting a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// The key is this request's: process it, then complete or release the reservation.
    Started(Reservation),
    /// A request with the key and the same body is being processed (its lease is live).
    InProgress,
    /// The key's kept reply, for a byte-identical body.
    Replay(KeptReply),
    /// The key is held (in progress or kept) for a request with another body.
    Mismatch,
}

/// The instants of a reservation: its lease and its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Now, as the caller's clock says.
    pub now: DateTime<Utc>,
    /// Until when the reservation holds the key unless renewed.
    pub locked_until: DateTime<Utc>,
    /// When the row may be purged (also an abandoned reservation's).
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    /// The lease of a reservation made or renewed at `now`.
    pub fn starting(now: DateTime<Utc>) -> Self {
        Self {
            now,
            locked_until: now + LEASE,
            expires_at: now + KEEP_FOR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_1_to_255() {
        assert!(is_valid_key(&[b'!'; 255]));
        assert!(is_valid_key(b"~"));
        for bad in [
            &b""[..],
            &[b'a'; 256][..],
            b"a b",
            b"a\tb",
            b"a\x7f",
            b"\x00",
            "é".as_bytes(),
        ] {
            assert!(!is_valid_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn scopes_refuse_empty_or_oversized_parts() {
        assert!(IdempotencyScope::new("ip:1.2.3.4", "POST /api/v1/leads", "k").is_ok());
        assert_eq!(
            IdempotencyScope::new("", "POST /x", "k"),
            Err(ScopeError::TooLong)
        );
        assert_eq!(
            IdempotencyScope::new("c", "x".repeat(MAX_ENDPOINT_LEN + 1), "k"),
            Err(ScopeError::TooLong)
        );
        assert_eq!(
            IdempotencyScope::new("c", "POST /x", " "),
            Err(ScopeError::InvalidKey)
        );
    }

    #[test]
    fn a_lease_holds_for_a_minute_and_expires_after_a_day() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let lease = Lease::starting(now);
        assert_eq!(lease.locked_until - now, LEASE);
        assert_eq!(lease.expires_at - now, KEEP_FOR);
    }
}
