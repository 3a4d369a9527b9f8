//! The lead form's rate limit kept in the database, so that every server instance on one
//! PostgreSQL database counts a client's submissions together (the algorithm is in
//! [`cohai_domain::rate_limit`]).
//!
//! One prepared statement per request: an `INSERT … ON CONFLICT DO UPDATE … WHERE` that
//! moves the client's theoretical arrival time only when the request is allowed, and returns
//! nothing when it is not. The row lock the upsert takes serialises concurrent requests of one
//! client across instances, so exactly the quota gets through. A refusal reads the row once
//! more to say how long to wait. The table is `UNLOGGED` on PostgreSQL, so the upsert's commit
//! waits for no WAL flush.

use chrono::{DateTime, Utc};
use cohai_domain::RepoResult;
use cohai_domain::rate_limit::{RateDecision, RateLimitRepository, RateQuota};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Text, Untyped};
use diesel::sqlite::Sqlite;

use super::Db;
use crate::connection::{AnyConnection, with_backend};
use crate::error::StoreError;
use crate::schema::rate_limits;

/// The upsert of one request, as a statement Diesel keeps prepared on each connection (its
/// type is its cache key; `sql_query` would send and plan the text anew per request): it
/// moves the client's arrival time only when the request is allowed and returns the new one,
/// else nothing. A placeholder stands for one use of a bind, so `now` and the interval are
/// bound at each of their uses.
struct Acquire<'a> {
    client: &'a str,
    now_us: i64,
    interval_us: i64,
    burst_us: i64,
}

impl QueryId for Acquire<'_> {
    type QueryId = Acquire<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for Acquire<'_> {
    type SqlType = Untyped;
}

impl<C: diesel::Connection> RunQueryDsl<C> for Acquire<'_> {}

impl Acquire<'_> {
    /// Writes the statement; `greatest` is the backend's maximum of two values (PostgreSQL's
    /// `GREATEST`, SQLite's two-argument `max`).
    fn walk<'b, DB>(&'b self, mut out: AstPass<'_, 'b, DB>, greatest: &str) -> QueryResult<()>
    where
        DB: diesel::backend::Backend,
        DB: diesel::sql_types::HasSqlType<BigInt> + diesel::sql_types::HasSqlType<Text>,
        &'b str: diesel::serialize::ToSql<Text, DB>,
        i64: diesel::serialize::ToSql<BigInt, DB>,
    {
        out.push_sql("INSERT INTO rate_limits AS r (client, tat_us) VALUES (");
        out.push_bind_param::<Text, _>(&self.client)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&self.now_us)?;
        out.push_sql(" + ");
        out.push_bind_param::<BigInt, _>(&self.interval_us)?;
        out.push_sql(") ON CONFLICT (client) DO UPDATE SET tat_us = ");
        self.moved_tat(&mut out, greatest)?;
        // Allowed when the new arrival time lies at most the burst ahead of now.
        out.push_sql(" WHERE ");
        self.moved_tat(&mut out, greatest)?;
        out.push_sql(" - ");
        out.push_bind_param::<BigInt, _>(&self.now_us)?;
        out.push_sql(" <= ");
        out.push_bind_param::<BigInt, _>(&self.burst_us)?;
        out.push_sql(" RETURNING tat_us");
        Ok(())
    }

    /// `greatest(r.tat_us, now) + interval`: the stored client's arrival time after this
    /// request.
    fn moved_tat<'b, DB>(&'b self, out: &mut AstPass<'_, 'b, DB>, greatest: &str) -> QueryResult<()>
    where
        DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<BigInt>,
        i64: diesel::serialize::ToSql<BigInt, DB>,
    {
        out.push_sql(greatest);
        out.push_sql("(r.tat_us, ");
        out.push_bind_param::<BigInt, _>(&self.now_us)?;
        out.push_sql(") + ");
        out.push_bind_param::<BigInt, _>(&self.interval_us)?;
        Ok(())
    }
}

impl QueryFragment<Pg> for Acquire<'_> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.walk(out, "GREATEST")
    }
}

impl QueryFragment<Sqlite> for Acquire<'_> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.walk(out, "max")
    }
}

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
    let query = Acquire {
        client,
        now_us,
        interval_us: quota.interval_micros(),
        burst_us: quota.burst_micros(),
    };
    let moved: Option<Moved> = with_backend!(c, |c| query.get_result(c).optional())?;
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
