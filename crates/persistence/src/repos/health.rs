//! Readiness: the database answers and its schema is current.

use cohai_domain::ports::{DatabaseHealth, PoolStats};
use cohai_domain::{RepoError, RepoResult};
use diesel::connection::SimpleConnection;

use super::Db;
use crate::migrations;

/// Diesel implementation of [`DatabaseHealth`].
pub(crate) struct DieselDatabaseHealth {
    db: Db,
}

impl DieselDatabaseHealth {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

impl DatabaseHealth for DieselDatabaseHealth {
    fn check_ready(&self) -> RepoResult<()> {
        self.db.run(|c| {
            c.batch_execute("SELECT 1")?;
            match migrations::has_pending(c) {
                Ok(false) => Ok(()),
                Ok(true) => Err(RepoError::Unavailable("migrations are pending".to_owned()).into()),
                Err(e) => Err(RepoError::Unavailable(e.to_string()).into()),
            }
        })
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
