//! Readiness: the database answers and its schema is current.

use std::time::{Duration, Instant};

use cohai_domain::ports::{DatabaseHealth, PoolStats};
use cohai_domain::{RepoError, RepoResult};
use diesel::Connection;
use diesel::connection::SimpleConnection;

use super::Db;
use crate::connection::AnyConnection;
use crate::error::{StoreError, map_pool};
use crate::migrations;

/// Diesel implementation of [`DatabaseHealth`].
pub(crate) struct DieselDatabaseHealth {
    db: Db,
    /// The check's whole budget: check-out and queries.
    timeout: Duration,
}

impl DieselDatabaseHealth {
    pub(crate) fn new(db: Db, timeout: Duration) -> Self {
        Self { db, timeout }
    }
}

/// The database answers and no migration is pending.
fn answers_and_is_migrated(c: &mut AnyConnection) -> Result<(), StoreError> {
    c.batch_execute("SELECT 1")?;
    match migrations::has_pending(c) {
        Ok(false) => Ok(()),
        Ok(true) => Err(RepoError::Unavailable("migrations are pending".to_owned()).into()),
        Err(e) => Err(RepoError::Unavailable(e.to_string()).into()),
    }
}

impl DatabaseHealth for DieselDatabaseHealth {
    fn check_ready(&self) -> RepoResult<()> {
        let deadline = Instant::now() + self.timeout;
        // Its own short wait for a connection, not the pool's (meant for requests, 3 s by
        // default): during an outage the check-out is what takes long, as the pool keeps
        // trying to connect. Connections are opened on the pool's threads, so a connect that
        // hangs does not hold this wait past its time-out.
        let mut conn = self.db.pool().get_timeout(self.timeout).map_err(map_pool)?;
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let conn: &mut AnyConnection = &mut conn;
        let checked = if matches!(conn, AnyConnection::Postgresql(_)) {
            // A server that is slow or waits for a lock (e.g. another instance migrating)
            // cancels the statements at the deadline. `SET LOCAL` ends with the transaction,
            // so the pooled connection keeps its settings.
            conn.transaction(|c| {
                c.batch_execute(&format!(
                    "SET LOCAL statement_timeout = {}",
                    left.as_millis()
                ))?;
                answers_and_is_migrated(c)
            })
        } else {
            // SQLite: reads in WAL mode wait for no writer.
            answers_and_is_migrated(conn)
        };
        // Whatever failed (a cancelled statement, a broken connection), the database is not
        // ready: 503, never 500.
        checked.map_err(|e| match RepoError::from(e) {
            RepoError::Unavailable(detail) => RepoError::Unavailable(detail),
            other => RepoError::Unavailable(other.to_string()),
        })
    }

    fn ready_timeout(&self) -> Duration {
        self.timeout
    }

    fn pool_stats(&self) -> PoolStats {
        let state = self.db.pool().state();
        let (checkouts, wait_micros, timeouts) = self.db.pool_totals();
        PoolStats {
            connections: state.connections,
            idle: state.idle_connections,
            max_size: self.db.pool().max_size(),
            checkouts,
            wait_micros,
            timeouts,
        }
    }
}

#[cfg(all(test, feature = "test-support"))]
mod tests {
    use super::*;
    use crate::testing::{Backend, TestDatabase};

    #[test]
    fn a_postgres_lock_does_not_hold_the_check_past_its_timeout() {
        let t = TestDatabase::new(Backend::Postgres);
        let health = t.db.repositories().health;
        assert_eq!(health.ready_timeout(), Duration::from_millis(800));
        // As another instance applying a migration would.
        let mut locker = t.db.pool().get().expect("conn");
        locker
            .batch_execute("BEGIN; LOCK TABLE __diesel_schema_migrations IN ACCESS EXCLUSIVE MODE;")
            .expect("lock");
        let started = Instant::now();
        let err = health.check_ready().expect_err("the lock is held");
        let took = started.elapsed();
        assert!(
            matches!(&err, RepoError::Unavailable(m) if m.contains("statement timeout")),
            "{err:?}"
        );
        assert!(
            took < Duration::from_millis(1500),
            "cancelled at its deadline, took {took:?}"
        );
        locker.batch_execute("COMMIT").expect("unlock");
        health
            .check_ready()
            .expect("ready once the lock is released");
    }
}
