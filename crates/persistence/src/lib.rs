//! Persistence for the Cohai Stretching backend: Diesel on SQLite (embedded default) or
//! PostgreSQL (scale-out), chosen at run time from the database URL.
//!
//! [`Database::open`] builds the connection pool; [`Database::repositories`] hands out the
//! implementations of the domain's repository traits. Everything here blocks: call it from a
//! blocking thread pool, never from an async executor thread.

mod check;
mod connection;
mod db_time;
mod error;
pub mod migrations;
mod pool_events;
mod repos;
mod schema;
#[cfg(feature = "test-support")]
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use cohai_domain::ports::IdempotencyRepository;
use cohai_domain::ports::{
    AuditRepository, ClassSessionRepository, DatabaseHealth, LeadRepository, LocationRepository,
    MembershipPlanRepository, ProgramTypeRepository, TrainerRepository,
};
use cohai_domain::ports::{TimetableRepository, TimetableSlotRepository};

pub use check::{ColumnType, Mismatch, check_schema};
pub use connection::{
    AnyConnection, ConnectError, ConnectionManager, DatabaseUrl, DbConnection,
    EXPECTED_SQLITE_OPTIONS, RECENTLY_USED, missing_sqlite_options,
};
pub use migrations::MigrationError;
pub use repos::lead_writer::{MAX_BATCH as LEAD_MAX_BATCH, QUEUE_CAPACITY as LEAD_QUEUE_CAPACITY};

/// The connection pool.
pub type DbPool = r2d2::Pool<ConnectionManager>;

/// Pool and connection settings. The programs build them from their settings
/// (`cohai_config::Settings::pool`), where the defaults are; there is no default here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// Most connections open at once.
    pub max_size: u32,
    /// How long a request waits for a free connection before the database counts as unavailable.
    pub connection_timeout: Duration,
    /// Longest a readiness check ([`DatabaseHealth::check_ready`]) takes, its own check-out
    /// wait included; normally shorter than `connection_timeout`, to fit a probe's time-out.
    pub ready_timeout: Duration,
    /// How long an SQLite statement waits for a lock held by another connection.
    pub busy_timeout: Duration,
    /// Page cache of each SQLite connection, KiB. Small by default: reads of pages not
    /// cached come from the OS's file cache; bulk loads (`cohai-bootstrap generate`) want more.
    pub sqlite_cache_kib: u32,
}

/// For test databases only (the programs' defaults are `cohai_config::Settings::default()`):
/// values of the same order, so tests can override one field.
#[cfg(feature = "test-support")]
impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: 8,
            connection_timeout: Duration::from_secs(3),
            ready_timeout: Duration::from_millis(800),
            busy_timeout: Duration::from_secs(5),
            sqlite_cache_kib: 512,
        }
    }
}

/// Why the database could not be opened, migrated or checked.
#[derive(Debug, thiserror::Error)]
pub enum PersistenceError {
    /// No connection could be made in time.
    #[error("cannot connect to the database: {0}")]
    Pool(#[from] r2d2::Error),
    /// Applying or inspecting migrations failed.
    #[error(transparent)]
    Migration(#[from] MigrationError),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
}

/// An opened database: its pool and what it is.
#[derive(Clone)]
pub struct Database {
    pool: DbPool,
    url: DatabaseUrl,
    counters: std::sync::Arc<pool_events::PoolCounters>,
    ready_timeout: Duration,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.url.redacted())
            .finish_non_exhaustive()
    }
}

/// Logs a warning when the linked SQLite lacks the compile options it should have.
fn warn_about_sqlite_build(pool: &DbPool) {
    let Ok(mut conn) = pool.get() else { return };
    if let AnyConnection::Sqlite(conn) = &mut **conn {
        match connection::missing_sqlite_options(conn) {
            Ok(missing) if missing.is_empty() => {}
            Ok(missing) => log::warn!(
                "SQLite was built without {} (see .cargo/config.toml): it works, but slower",
                missing.join(", ")
            ),
            Err(e) => log::warn!("cannot read SQLite's compile options: {e}"),
        }
    }
}

impl Database {
    /// Builds the pool and opens a first connection (creating an SQLite file and its folder
    /// if needed); fails when that connection cannot be made within the pool's time-out.
    pub fn open(url: DatabaseUrl, settings: &PoolSettings) -> Result<Self, PersistenceError> {
        let manager = ConnectionManager::new(
            url.clone(),
            settings.busy_timeout,
            settings.sqlite_cache_kib,
        );
        let counters = std::sync::Arc::new(pool_events::PoolCounters::default());
        let pool = r2d2::Pool::builder()
            .max_size(settings.max_size)
            // Open one connection now (so start-up fails fast on a bad URL), the rest on demand.
            .min_idle(Some(1))
            .connection_timeout(settings.connection_timeout)
            // A PostgreSQL connection can break under us (server restart, network): check it
            // before use so the pool replaces it. An SQLite file cannot, so skip the round trip.
            .test_on_check_out(matches!(url, DatabaseUrl::Postgres(_)))
            .event_handler(Box::new(pool_events::PoolEvents(counters.clone())))
            .build(manager)?;
        if matches!(url, DatabaseUrl::Sqlite(_)) {
            warn_about_sqlite_build(&pool);
        }
        Ok(Self {
            pool,
            url,
            counters,
            ready_timeout: settings.ready_timeout,
        })
    }

    /// The database URL (use [`DatabaseUrl::redacted`] to log it).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The pool, for callers that need a raw connection (tools, tests).
    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// Applies pending migrations; returns their names.
    pub fn migrate(&self) -> Result<Vec<String>, PersistenceError> {
        let mut conn = self.pool.get()?;
        Ok(migrations::run_pending(&mut conn)?)
    }

    /// Compares the database with the mapped schema; empty when it matches.
    pub fn check(&self) -> Result<Vec<Mismatch>, PersistenceError> {
        let mut conn = self.pool.get()?;
        Ok(check_schema(&mut conn)?)
    }

    /// The pool as the repositories use it.
    pub(crate) fn db(&self) -> repos::Db {
        repos::Db::new(self.pool.clone(), &self.url, self.counters.clone())
    }

    /// The repository implementations over this database.
    pub fn repositories(&self) -> Repositories {
        let db = self.db();
        Repositories {
            locations: Arc::new(repos::DieselLocationRepository::new(db.clone())),
            program_types: Arc::new(repos::DieselProgramTypeRepository::new(db.clone())),
            trainers: Arc::new(repos::DieselTrainerRepository::new(db.clone())),
            membership_plans: Arc::new(repos::DieselMembershipPlanRepository::new(db.clone())),
            class_sessions: Arc::new(repos::DieselClassSessionRepository::new(db.clone())),
            class_session_admin: Arc::new(repos::DieselClassSessionRepository::new(db.clone())),
            leads: Arc::new(repos::DieselLeadRepository::new(db.clone())),
            audit: Arc::new(repos::DieselAuditRepository::new(db.clone())),
            timetable_slots: Arc::new(repos::DieselTimetableSlotRepository::new(db.clone())),
            timetable: Arc::new(repos::DieselTimetableRepository::new(db.clone())),
            idempotency: Arc::new(repos::DieselIdempotencyRepository::new(db.clone())),
            outbox: Arc::new(repos::DieselOutboxRepository::new(db.clone())),
            webhooks: Arc::new(repos::DieselWebhookRepository::new(db.clone())),
            rate_limits: Arc::new(repos::DieselRateLimitRepository::new(db.clone())),
            console_sessions: Arc::new(repos::DieselConsoleSessionRepository::new(db.clone())),
            shared_by_instances: !db.is_sqlite(),
            health: Arc::new(repos::DieselDatabaseHealth::new(db, self.ready_timeout)),
        }
    }
}

/// Every repository, as the ports the services take.
#[derive(Clone)]
pub struct Repositories {
    /// Locations.
    pub locations: Arc<dyn LocationRepository>,
    /// Program types.
    pub program_types: Arc<dyn ProgramTypeRepository>,
    /// Trainers.
    pub trainers: Arc<dyn TrainerRepository>,
    /// Membership plans.
    pub membership_plans: Arc<dyn MembershipPlanRepository>,
    /// Class sessions.
    pub class_sessions: Arc<dyn ClassSessionRepository>,
    /// Class sessions as the admin API changes them (audited, under the trainer-overlap rule).
    pub class_session_admin: Arc<dyn cohai_domain::ports::ClassSessionAdminRepository>,
    /// Leads and their events.
    pub leads: Arc<dyn LeadRepository>,
    /// The audit log of catalog changes.
    pub audit: Arc<dyn AuditRepository>,
    /// Weekly timetable slots.
    pub timetable_slots: Arc<dyn TimetableSlotRepository>,
    /// Sessions made from the timetable (generation, `apply`).
    pub timetable: Arc<dyn TimetableRepository>,
    /// Idempotency keys and their kept replies.
    pub idempotency: Arc<dyn IdempotencyRepository>,
    /// The notifications outbox, as its dispatcher uses it.
    pub outbox: Arc<dyn cohai_domain::outbox::OutboxRepository>,
    /// Webhooks and their deliveries log, as the admin API changes and reads them.
    pub webhooks: Arc<dyn cohai_domain::outbox::WebhookRepository>,
    /// Whether several server instances may share this database (PostgreSQL; an SQLite file
    /// has one process): what they must agree on, such as the lead form's rate limit, is
    /// then kept in it.
    pub shared_by_instances: bool,
    /// The lead form's rate limit as kept in the database (used when
    /// [`Repositories::shared_by_instances`]).
    pub rate_limits: Arc<dyn cohai_domain::rate_limit::RateLimitRepository>,
    /// Sessions of the managers' console (shared by every instance on the database).
    pub console_sessions: Arc<dyn cohai_domain::console_session::ConsoleSessionRepository>,
    /// Readiness.
    pub health: Arc<dyn DatabaseHealth>,
}
