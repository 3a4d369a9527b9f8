//! Readiness of the service's dependencies.

use std::sync::Arc;
use std::time::Duration;

use cohai_domain::ports::{DatabaseHealth, PoolStats};

use crate::ServiceResult;

/// Answers whether the service can do its work.
pub trait HealthService: Send + Sync {
    /// `Ok` when the database answers and its migrations are applied.
    fn readiness(&self) -> ServiceResult<()>;
    /// The longest [`HealthService::readiness`] should take; a caller that must answer in time
    /// stops waiting after it (a connection that hangs in the driver can hold the check longer).
    fn ready_timeout(&self) -> Duration;
    /// Database connection pool occupancy, for metrics.
    fn pool_stats(&self) -> PoolStats;
}

/// [`HealthService`] over the database's health port.
pub struct HealthServiceImpl {
    database: Arc<dyn DatabaseHealth>,
}

impl HealthServiceImpl {
    /// Checks `database`.
    pub fn new(database: Arc<dyn DatabaseHealth>) -> Self {
        Self { database }
    }
}

impl HealthService for HealthServiceImpl {
    fn readiness(&self) -> ServiceResult<()> {
        Ok(self.database.check_ready()?)
    }

    fn ready_timeout(&self) -> Duration {
        self.database.ready_timeout()
    }

    fn pool_stats(&self) -> PoolStats {
        self.database.pool_stats()
    }
}
