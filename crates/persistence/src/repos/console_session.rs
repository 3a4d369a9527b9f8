//! Sessions of the managers' console, one row each, keyed by the SHA-256 of the token (see
//! [`cohai_domain::console_session`]). Every call is one statement; writes go through the
//! process's single writer on SQLite ([`Db::write`]) like every other write.

use chrono::{DateTime, NaiveDateTime, Utc};
use cohai_domain::RepoResult;
use cohai_domain::console_session::{ConsoleSessionRepository, StoredConsoleSession};
use diesel::prelude::*;

use super::{Db, from_db_time, to_db_time};
use crate::schema::console_sessions as sessions;

/// A session as its row is written.
#[derive(Insertable)]
#[diesel(table_name = sessions)]
struct NewRow<'a> {
    token_sha256: &'a str,
    key_name: &'a str,
    key_fingerprint: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

/// A session as its row is read (every column, in order).
#[derive(Queryable)]
struct Row {
    token_sha256: String,
    key_name: String,
    key_fingerprint: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

impl From<Row> for StoredConsoleSession {
    fn from(row: Row) -> Self {
        Self {
            token_sha256: row.token_sha256,
            key_name: row.key_name,
            key_fingerprint: row.key_fingerprint,
            created_at: from_db_time(row.created_at),
            expires_at: from_db_time(row.expires_at),
        }
    }
}

/// Diesel implementation of [`ConsoleSessionRepository`].
pub(crate) struct DieselConsoleSessionRepository {
    db: Db,
}

impl DieselConsoleSessionRepository {
    /// The repository over `db`.
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

impl ConsoleSessionRepository for DieselConsoleSessionRepository {
    fn insert(&self, session: &StoredConsoleSession) -> RepoResult<()> {
        let row = NewRow {
            token_sha256: &session.token_sha256,
            key_name: &session.key_name,
            key_fingerprint: &session.key_fingerprint,
            created_at: to_db_time(session.created_at),
            expires_at: to_db_time(session.expires_at),
        };
        self.db.write(|c| {
            diesel::insert_into(sessions::table)
                .values(&row)
                .execute(c)?;
            Ok(())
        })
    }

    fn find(
        &self,
        token_sha256: &str,
        now: DateTime<Utc>,
    ) -> RepoResult<Option<StoredConsoleSession>> {
        self.db.run(|c| {
            let row: Option<Row> = sessions::table
                .find(token_sha256)
                .filter(sessions::expires_at.gt(to_db_time(now)))
                .first(c)
                .optional()?;
            Ok(row.map(StoredConsoleSession::from))
        })
    }

    fn delete(&self, token_sha256: &str) -> RepoResult<()> {
        self.db.write(|c| {
            diesel::delete(sessions::table.find(token_sha256)).execute(c)?;
            Ok(())
        })
    }

    fn purge_expired(&self, now: DateTime<Utc>) -> RepoResult<usize> {
        self.db.write(|c| {
            let purged =
                diesel::delete(sessions::table.filter(sessions::expires_at.le(to_db_time(now))))
                    .execute(c)?;
            Ok(purged)
        })
    }
}
