//! Diesel implementations of the domain's repository traits, one module per entity.

mod audit;
mod catalog;
mod class_session;
mod console_session;
mod health;
mod idempotency;
mod lead;
mod lead_batch;
mod lead_batch_sql;
mod lead_query;
mod lead_stats;
pub(crate) mod lead_writer;
mod outbox;
mod rate_limit;
mod timetable;
mod timetable_slot;
mod webhook;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDateTime, Utc};
use cohai_domain::RepoResult;

pub(crate) use audit::DieselAuditRepository;
pub(crate) use catalog::{
    DieselLocationRepository, DieselMembershipPlanRepository, DieselProgramTypeRepository,
    DieselTrainerRepository,
};
pub(crate) use class_session::DieselClassSessionRepository;
pub(crate) use console_session::DieselConsoleSessionRepository;
pub(crate) use health::DieselDatabaseHealth;
pub(crate) use idempotency::DieselIdempotencyRepository;
pub(crate) use lead::DieselLeadRepository;
pub(crate) use outbox::DieselOutboxRepository;
pub(crate) use rate_limit::DieselRateLimitRepository;
pub(crate) use timetable::DieselTimetableRepository;
#[cfg(feature = "test-support")]
pub(crate) use timetable::GENERATION_LOCK;
pub(crate) use timetable_slot::DieselTimetableSlotRepository;
pub(crate) use webhook::DieselWebhookRepository;

use crate::connection::AnyConnection;
use crate::error::{StoreError, map_pool};
use crate::pool_events::PoolCounters;
use crate::{DatabaseUrl, DbPool};

/// The pool, with the ways the repositories use it.
#[derive(Clone)]
pub(crate) struct Db {
    pool: DbPool,
    /// SQLite allows one writer at a time. Writers queue here instead of in SQLite's busy
    /// handler, which polls with sleeps of up to 100 ms and so turns contention into latency.
    sqlite_writer: Option<Arc<Mutex<()>>>,
    /// Check-out statistics, for metrics.
    counters: Arc<PoolCounters>,
}

impl Db {
    pub(crate) fn new(pool: DbPool, url: &DatabaseUrl, counters: Arc<PoolCounters>) -> Self {
        let sqlite_writer = matches!(url, DatabaseUrl::Sqlite(_)).then(|| Arc::new(Mutex::new(())));
        Self {
            pool,
            sqlite_writer,
            counters,
        }
    }

    /// Check-outs, wait (µs) and time-outs so far.
    pub(crate) fn pool_totals(&self) -> (u64, u64, u64) {
        self.counters.totals()
    }

    /// Whether this is an SQLite database (single writer).
    pub(crate) fn is_sqlite(&self) -> bool {
        self.sqlite_writer.is_some()
    }

    pub(crate) fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// Checks out a connection and runs `f` on it, mapping every error to a `RepoError`.
    pub(crate) fn run<T>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
    ) -> RepoResult<T> {
        let mut conn = self.pool.get().map_err(map_pool)?;
        let done = f(&mut conn);
        if done.is_ok() {
            conn.mark_succeeded();
        }
        done.map_err(Into::into)
    }

    /// Like [`Db::run`] for a write transaction: on SQLite, one writer of this process at a time.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
    ) -> RepoResult<T> {
        // A poisoned lock only means another writer panicked; the database rolled it back.
        let _turn = self
            .sqlite_writer
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        self.run(f)
    }
}

/// A stored row that becomes a domain value; fails only if the database holds a value the
/// CHECK constraints should have kept out.
pub(crate) trait IntoDomain {
    type Output;
    fn into_domain(self) -> Result<Self::Output, StoreError>;
}

/// An optional row (`first(..).optional()`) becomes an optional domain value.
impl<R: IntoDomain> IntoDomain for Option<R> {
    type Output = Option<R::Output>;
    fn into_domain(self) -> Result<Self::Output, StoreError> {
        self.map(IntoDomain::into_domain).transpose()
    }
}

pub(crate) fn to_domain_vec<R: IntoDomain>(rows: Vec<R>) -> Result<Vec<R::Output>, StoreError> {
    rows.into_iter().map(IntoDomain::into_domain).collect()
}

/// Parses a stored enum value.
pub(crate) fn parse_stored<T: std::str::FromStr<Err = cohai_domain::error::UnknownValue>>(
    value: &str,
) -> Result<T, StoreError> {
    value
        .parse()
        .map_err(|e: cohai_domain::error::UnknownValue| {
            cohai_domain::RepoError::Internal(e.to_string()).into()
        })
}

/// Instants are stored as UTC without zone.
pub(crate) fn to_db_time(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc()
}

pub(crate) fn from_db_time(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}
