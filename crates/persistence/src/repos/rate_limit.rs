//! The lead form's rate limit kept in the database, so that every server instance on one
//! PostgreSQL database counts a client's submissions together (the algorithm is in
//! [`cohai_domain::rate_limit`]).
//!
//! One statement per request: an `INSERT … ON CONFLICT DO UPDATE … WHERE` that moves the
//! client's theoretical arrival time only when the request is allowed, and returns nothing
//! when it is not. The row lock the upsert takes serialises concurrent requests of one client
//! across instances, so exactly the quota gets through. A refusal reads the row once more to
//! say how long to wait.

use chrono::{DateTime, Utc};
use cohai_domain::RepoResult;
use cohai_domain::rate_limit::{RateDecision, RateLimitRepository, RateQuota};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::Db;
use crate::connection::AnyConnection;
use crate::error::StoreError;
use crate::schema::rate_limits;

/// The upsert on PostgreSQL: `$1` client, `$2` now, `$3` interval, `$4` burst (µs).
const ACQUIRE_POSTGRES: &str = "INSERT INTO rate_limits AS r (client, tat_us) VALUES ($1, $2 + $3) \
     ON CONFLICT (client) DO UPDATE SET tat_us = GREATEST(r.tat_us, $2) + $3 \
     WHERE GREATEST(r.tat_us, $2) + $3 - $2 <= $4 \
     RETURNING tat_us";

/// The same on SQLite (`max` of two values is its `GREATEST`).
const ACQUIRE_SQLITE: &str = "INSERT INTO rate_limits AS r (client, tat_us) VALUES (?1, ?2 + ?3) \
     ON CONFLICT (client) DO UPDATE SET tat_us = max(r.tat_us, ?2) + ?3 \
     WHERE max(r.tat_us, ?2) + ?3 - ?2 <= ?4 \
     RETURNING tat_us";

diesel::define_sql_function! {
    /// SQL's `substr(text, start, length)` (1-based, in characters), on both backends.
    fn substr(text: Text, start: diesel::sql_types::Integer, length: diesel::sql_types::Integer) -> Text;
}

/// The client's new arrival time, when the upsert allowed the request.
#[derive(QueryableByName)]
struct Moved {
    #[diesel(sql_type = BigInt)]
    tat_us: i64,
}

/// Diesel implementation of [`RateLimitRepository`].
pub(crate) struct DieselRateLimitRepository {
    db: Db,
}

impl DieselRateLimitRepository {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

/// Runs the upsert; `Some(new arrival time)` when the request is allowed.
fn upsert(
    c: &mut AnyConnection,
    client: &str,
    quota: RateQuota,
    now_us: i64,
) -> Result<Option<i64>, StoreError> {
    let sql = match c {
        AnyConnection::Postgresql(_) => ACQUIRE_POSTGRES,
        AnyConnection::Sqlite(_) => ACQUIRE_SQLITE,
    };
    let query = diesel::sql_query(sql)
        .bind::<Text, _>(client)
        .bind::<BigInt, _>(now_us)
        .bind::<BigInt, _>(quota.interval_micros())
        .bind::<BigInt, _>(quota.burst_micros());
    let moved: Option<Moved> = match c {
        AnyConnection::Postgresql(pg) => query.get_result(pg).optional()?,
        AnyConnection::Sqlite(lite) => query.get_result(lite).optional()?,
    };
    Ok(moved.map(|m| m.tat_us))
}

impl RateLimitRepository for DieselRateLimitRepository {
    fn acquire(
        &self,
        client: &str,
        quota: RateQuota,
        now: DateTime<Utc>,
    ) -> RepoResult<RateDecision> {
        let now_us = now.timestamp_micros();
        self.db.write(|c| {
            if let Some(tat_micros) = upsert(c, client, quota, now_us)? {
                return Ok(RateDecision::Allowed { tat_micros });
            }
            // Refused: the row exists (only an allowed request is inserted).
            let tat: Option<i64> = rate_limits::table
                .find(client)
                .select(rate_limits::tat_us)
                .first(c)
                .optional()?;
            let retry_after = tat.map_or(std::time::Duration::ZERO, |tat| {
                quota.retry_after(tat, now_us)
            });
            Ok(RateDecision::Limited { retry_after })
        })
    }

    fn purge(&self, prefix: &str, now: DateTime<Utc>) -> RepoResult<u64> {
        let now_us = now.timestamp_micros();
        // An exact prefix test (`LIKE` would read `_` in `sign_in:` as a wildcard, and a key
        // range depends on the column's collation). The purge reads the whole table anyway:
        // `tat_us` has no index, and it runs hourly.
        let length = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
        self.db.write(|c| {
            let purged = diesel::delete(
                rate_limits::table
                    .filter(rate_limits::tat_us.le(now_us))
                    .filter(substr(rate_limits::client, 1, length).eq(prefix)),
            )
            .execute(c)?;
            Ok(purged as u64)
        })
    }
}
