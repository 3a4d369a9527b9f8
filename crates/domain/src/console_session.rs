//! Sessions of the managers' console (`/admin/`) as they are stored: keyed by the SHA-256 of
//! the token the browser holds (never the token itself), with the admin key that signed in.
//!
//! The database keeps them, so every server instance sharing it knows a session, and closing
//! it on one ends it on all.

use chrono::{DateTime, Utc};

use crate::RepoResult;

/// One stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConsoleSession {
    /// Lower-case hex SHA-256 of the session's token (64 characters).
    pub token_sha256: String,
    /// The name of the admin key that signed in.
    pub key_name: String,
    /// The fingerprint of that key when it signed in.
    pub key_fingerprint: String,
    /// When the session was opened.
    pub created_at: DateTime<Utc>,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// The console's sessions, as kept in the database.
pub trait ConsoleSessionRepository: Send + Sync {
    /// Stores a new session; [`crate::RepoError::Conflict`] when one with the same token hash
    /// exists.
    fn insert(&self, session: &StoredConsoleSession) -> RepoResult<()>;
    /// The session whose token hashes to `token_sha256`, if it has not expired at `now`.
    fn find(
        &self,
        token_sha256: &str,
        now: DateTime<Utc>,
    ) -> RepoResult<Option<StoredConsoleSession>>;
    /// Deletes the session whose token hashes to `token_sha256` (nothing happens when there is
    /// none).
    fn delete(&self, token_sha256: &str) -> RepoResult<()>;
    /// Deletes the sessions expired at `now`; returns how many.
    fn purge_expired(&self, now: DateTime<Utc>) -> RepoResult<usize>;
}
