//! Sessions of the managers' console (`/admin/`): a signed-in browser holds a random token in
//! an `HttpOnly` cookie; the server keeps only the token's SHA-256, the name of the admin key
//! that signed in and a fingerprint of that key, until the session expires or is closed. The
//! key itself is never stored, in the browser or here.
//!
//! Sessions live in the database, so every instance sharing it knows them and signing out on
//! one ends the session on all.

use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use cohai_domain::console_session::{ConsoleSessionRepository, StoredConsoleSession};

use crate::{ServiceError, ServiceResult};

/// Random bytes in a token, written as twice as many hex digits.
const TOKEN_RANDOM_BYTES: usize = 32;
/// Characters of a token: lower-case hex digits.
const TOKEN_LEN: usize = 2 * TOKEN_RANDOM_BYTES;

/// A session as the console checks it on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// The name of the admin key that signed in (the actor of the session's changes).
    pub key_name: String,
    /// The fingerprint of that key when it signed in: a session ends when the key is
    /// replaced, even under the same name.
    pub key_fingerprint: String,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

/// A session just opened: the token goes to the browser (once) and is kept nowhere else.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedSession {
    /// The session's secret: 64 hexadecimal characters of a CSPRNG.
    pub token: String,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for OpenedSession {
    /// Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedSession")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The console's sessions.
pub trait ConsoleSessionService: Send + Sync {
    /// Opens a session for the key `key_name` whose fingerprint is `key_fingerprint`; it
    /// lasts the service's configured lifetime.
    fn open(&self, key_name: &str, key_fingerprint: &str) -> ServiceResult<OpenedSession>;
    /// The open, unexpired session of `token`; `None` for a token that names none (a
    /// malformed one included).
    fn find(&self, token: &str) -> ServiceResult<Option<ConsoleSession>>;
    /// Ends the session of `token` (nothing happens when there is none).
    fn close(&self, token: &str) -> ServiceResult<()>;
    /// Deletes expired sessions; answers how many.
    fn purge_expired(&self) -> ServiceResult<usize>;
}

/// [`ConsoleSessionService`] over the console-session repository: the token is 64 lower-case
/// hex digits (256 bits from the thread-local CSPRNG, which the operating system seeds), and
/// only its SHA-256 (in hex) is stored.
pub struct ConsoleSessionServiceImpl {
    sessions: Arc<dyn ConsoleSessionRepository>,
    lifetime: Duration,
}

impl ConsoleSessionServiceImpl {
    /// The service over `repo`; a session lasts `lifetime` from its opening.
    pub fn new(repo: Arc<dyn ConsoleSessionRepository>, lifetime: Duration) -> Self {
        Self {
            sessions: repo,
            lifetime,
        }
    }
}

impl ConsoleSessionService for ConsoleSessionServiceImpl {
    fn open(&self, key_name: &str, key_fingerprint: &str) -> ServiceResult<OpenedSession> {
        let created_at = now();
        let expires_at = created_at
            .checked_add_signed(self.lifetime)
            .ok_or_else(|| {
                ServiceError::Internal(format!(
                    "a console session lasting {} does not end at a representable instant",
                    self.lifetime
                ))
            })?;
        let token = new_token();
        self.sessions.insert(&StoredConsoleSession {
            token_sha256: token_sha256(&token),
            key_name: key_name.to_owned(),
            key_fingerprint: key_fingerprint.to_owned(),
            created_at,
            expires_at,
        })?;
        Ok(OpenedSession { token, expires_at })
    }

    fn find(&self, token: &str) -> ServiceResult<Option<ConsoleSession>> {
        if !is_well_formed(token) {
            return Ok(None);
        }
        let found = self.sessions.find(&token_sha256(token), now())?;
        Ok(found.map(|stored| ConsoleSession {
            key_name: stored.key_name,
            key_fingerprint: stored.key_fingerprint,
            expires_at: stored.expires_at,
        }))
    }

    fn close(&self, token: &str) -> ServiceResult<()> {
        // A malformed token names no session: there is nothing to delete.
        if is_well_formed(token) {
            self.sessions.delete(&token_sha256(token))?;
        }
        Ok(())
    }

    fn purge_expired(&self) -> ServiceResult<usize> {
        Ok(self.sessions.purge_expired(now())?)
    }
}

/// A fresh token: [`TOKEN_LEN`] lower-case hex digits of [`TOKEN_RANDOM_BYTES`] random bytes.
fn new_token() -> String {
    use rand::RngCore as _;
    let mut bytes = [0_u8; TOKEN_RANDOM_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether `token` can be one [`new_token`] made: [`TOKEN_LEN`] lower-case hex digits.
fn is_well_formed(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What is stored of a token: the lower-case hex SHA-256 of its UTF-8 bytes.
fn token_sha256(token: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The current instant at the precision both databases store (microseconds).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use cohai_domain::{RepoError, RepoResult};

    use super::*;

    /// Sessions in memory, counting the calls made to it.
    #[derive(Default)]
    struct FakeSessions {
        rows: Mutex<Vec<StoredConsoleSession>>,
        calls: AtomicUsize,
    }

    impl FakeSessions {
        fn rows(&self) -> Vec<StoredConsoleSession> {
            self.rows.lock().expect("rows").clone()
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }

        fn called(&self) -> std::sync::MutexGuard<'_, Vec<StoredConsoleSession>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.rows.lock().expect("rows")
        }
    }

    impl ConsoleSessionRepository for FakeSessions {
        fn insert(&self, session: &StoredConsoleSession) -> RepoResult<()> {
            let mut rows = self.called();
            if rows.iter().any(|r| r.token_sha256 == session.token_sha256) {
                return Err(RepoError::Conflict("console_sessions_pkey".to_owned()));
            }
            rows.push(session.clone());
            Ok(())
        }

        fn find(
            &self,
            token_sha256: &str,
            now: DateTime<Utc>,
        ) -> RepoResult<Option<StoredConsoleSession>> {
            Ok(self
                .called()
                .iter()
                .find(|r| r.token_sha256 == token_sha256 && r.expires_at > now)
                .cloned())
        }

        fn delete(&self, token_sha256: &str) -> RepoResult<()> {
            self.called().retain(|r| r.token_sha256 != token_sha256);
            Ok(())
        }

        fn purge_expired(&self, now: DateTime<Utc>) -> RepoResult<usize> {
            let mut rows = self.called();
            let before = rows.len();
            rows.retain(|r| r.expires_at > now);
            Ok(before - rows.len())
        }
    }

    /// A service of twelve-hour sessions over a fresh fake, and the fake.
    fn service() -> (ConsoleSessionServiceImpl, Arc<FakeSessions>) {
        let fake = Arc::new(FakeSessions::default());
        let repo: Arc<dyn ConsoleSessionRepository> = fake.clone();
        (
            ConsoleSessionServiceImpl::new(repo, Duration::hours(12)),
            fake,
        )
    }

    fn is_lowercase_hex(text: &str) -> bool {
        text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    #[test]
    fn a_token_is_64_lowercase_hex_digits_and_fresh_each_time() {
        let (sessions, _) = service();
        let first = sessions.open("admin", "fp").expect("open");
        let second = sessions.open("admin", "fp").expect("open");
        for token in [&first.token, &second.token] {
            assert_eq!(token.len(), 64, "{token}");
            assert!(is_lowercase_hex(token), "{token}");
        }
        assert_ne!(first.token, second.token);
        assert!(
            !format!("{first:?}").contains(&first.token),
            "Debug hides the token"
        );
    }

    #[test]
    fn only_the_tokens_sha256_is_stored_never_the_token() {
        let (sessions, fake) = service();
        let opened = sessions.open("manager-anna", "5f2b9c1e").expect("open");
        let rows = fake.rows();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        use sha2::Digest as _;
        assert_eq!(
            row.token_sha256,
            hex::encode(sha2::Sha256::digest(opened.token.as_bytes()))
        );
        assert_ne!(row.token_sha256, opened.token);
        assert_eq!(
            (row.key_name.as_str(), row.key_fingerprint.as_str()),
            ("manager-anna", "5f2b9c1e")
        );
        let stored = format!("{row:?}");
        assert!(!stored.contains(&opened.token), "{stored}");
    }

    #[test]
    fn a_session_lasts_the_lifetime_from_an_instant_in_microseconds() {
        let (sessions, fake) = service();
        let before = Utc::now();
        let opened = sessions.open("admin", "fp").expect("open");
        let row = &fake.rows()[0];
        assert_eq!(row.created_at, row.created_at.trunc_subsecs(6));
        assert!(row.created_at >= before.trunc_subsecs(6), "{row:?}");
        assert!(row.created_at <= Utc::now(), "{row:?}");
        assert_eq!(row.expires_at, row.created_at + Duration::hours(12));
        assert_eq!(opened.expires_at, row.expires_at);
    }

    #[test]
    fn an_open_session_is_found_with_its_key() {
        let (sessions, _) = service();
        let opened = sessions.open("manager-anna", "5f2b9c1e").expect("open");
        assert_eq!(
            sessions.find(&opened.token).expect("find"),
            Some(ConsoleSession {
                key_name: "manager-anna".to_owned(),
                key_fingerprint: "5f2b9c1e".to_owned(),
                expires_at: opened.expires_at,
            })
        );
        let unknown = "0".repeat(64);
        assert_eq!(sessions.find(&unknown).expect("find"), None);
    }

    #[test]
    fn an_expired_session_is_not_found() {
        let fake = Arc::new(FakeSessions::default());
        let repo: Arc<dyn ConsoleSessionRepository> = fake.clone();
        let sessions = ConsoleSessionServiceImpl::new(repo, Duration::microseconds(-1));
        let opened = sessions.open("admin", "fp").expect("open");
        assert_eq!(fake.rows().len(), 1);
        assert_eq!(sessions.find(&opened.token).expect("find"), None);
    }

    #[test]
    fn a_malformed_token_finds_nothing_without_asking_the_repository() {
        let (sessions, fake) = service();
        let opened = sessions.open("admin", "fp").expect("open");
        let calls = fake.calls();
        for token in [
            String::new(),
            "abc".to_owned(),
            opened.token.to_uppercase(),
            format!("{}0", opened.token),
            opened.token[..63].to_owned(),
            format!("{}g", &opened.token[..63]),
            format!("{} ", &opened.token[..63]),
            "é".repeat(32),
        ] {
            assert_eq!(sessions.find(&token).expect("find"), None, "{token:?}");
            sessions.close(&token).expect("close");
        }
        assert_eq!(fake.calls(), calls, "no repository call");
        assert!(sessions.find(&opened.token).expect("find").is_some());
    }

    #[test]
    fn closing_a_session_ends_it_and_only_it() {
        let (sessions, fake) = service();
        let ended = sessions.open("admin", "fp").expect("open");
        let kept = sessions.open("admin", "fp").expect("open");
        sessions.close(&ended.token).expect("close");
        assert_eq!(sessions.find(&ended.token).expect("find"), None);
        assert!(sessions.find(&kept.token).expect("find").is_some());
        assert_eq!(fake.rows().len(), 1);
        sessions
            .close(&ended.token)
            .expect("closing again is no error");
    }

    #[test]
    fn purging_deletes_the_expired_sessions_and_counts_them() {
        let fake = Arc::new(FakeSessions::default());
        let repo: Arc<dyn ConsoleSessionRepository> = fake.clone();
        let expired = ConsoleSessionServiceImpl::new(repo.clone(), Duration::microseconds(-1));
        let live = ConsoleSessionServiceImpl::new(repo, Duration::hours(12));
        expired.open("admin", "fp").expect("open");
        expired.open("admin", "fp").expect("open");
        let kept = live.open("admin", "fp").expect("open");
        assert_eq!(live.purge_expired().expect("purge"), 2);
        assert_eq!(fake.rows().len(), 1);
        assert!(live.find(&kept.token).expect("find").is_some());
        assert_eq!(live.purge_expired().expect("purge again"), 0);
    }

    #[test]
    fn repository_errors_become_service_errors() {
        struct Down;
        impl ConsoleSessionRepository for Down {
            fn insert(&self, _: &StoredConsoleSession) -> RepoResult<()> {
                Err(RepoError::Unavailable("pool timed out".to_owned()))
            }
            fn find(&self, _: &str, _: DateTime<Utc>) -> RepoResult<Option<StoredConsoleSession>> {
                Err(RepoError::Unavailable("pool timed out".to_owned()))
            }
            fn delete(&self, _: &str) -> RepoResult<()> {
                Err(RepoError::Internal("boom".to_owned()))
            }
            fn purge_expired(&self, _: DateTime<Utc>) -> RepoResult<usize> {
                Err(RepoError::Internal("boom".to_owned()))
            }
        }
        let sessions = ConsoleSessionServiceImpl::new(Arc::new(Down), Duration::hours(12));
        let token = "a".repeat(64);
        assert!(matches!(
            sessions.open("admin", "fp"),
            Err(ServiceError::Unavailable(_))
        ));
        assert!(matches!(
            sessions.find(&token),
            Err(ServiceError::Unavailable(_))
        ));
        assert!(matches!(
            sessions.close(&token),
            Err(ServiceError::Internal(_))
        ));
        assert!(matches!(
            sessions.purge_expired(),
            Err(ServiceError::Internal(_))
        ));
    }

    #[test]
    fn a_lifetime_past_the_last_representable_instant_is_an_error_not_a_panic() {
        let fake = Arc::new(FakeSessions::default());
        let repo: Arc<dyn ConsoleSessionRepository> = fake.clone();
        let sessions = ConsoleSessionServiceImpl::new(repo, Duration::MAX);
        assert!(matches!(
            sessions.open("admin", "fp"),
            Err(ServiceError::Internal(_))
        ));
        assert!(fake.rows().is_empty());
    }
}
