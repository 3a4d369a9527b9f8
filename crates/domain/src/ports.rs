//! Repository traits: what the services need from storage.
//!
//! They are synchronous because the storage driver (Diesel) blocks; callers on an async
//! runtime must run them on a blocking thread pool. The one exception is the public lead
//! submission, which the storage batches on a writer thread of its own: it returns a
//! [`BoxFuture`] that resolves when the lead is committed, without holding a thread meanwhile.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

use crate::lead::{LeadReference, Submission};
use crate::{
    AuditFilter, AuditPage, ClassSession, Lead, LeadChanges, LeadEvent, LeadFilter, LeadPage,
    Location, MembershipPlan, NewClassSession, NewLead, NewLocation, NewMembershipPlan,
    NewProgramType, NewTrainer, ProgramType, RepoError, RepoResult, ScheduleFilter, SessionStatus,
    Trainer,
};

/// A future as the ports return it: std types only, so the domain names no async runtime.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Why a public submission was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The submission names a location, program type or class session that does not exist;
    /// nothing was stored.
    #[error("the submission names a {} that does not exist", .0.noun())]
    MissingReference(LeadReference),
    /// The storage failed (or refused the submission: a full queue, a database outage).
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// The plan's common operations for a catalog entity `E` created from `N`.
///
/// Every write records its audit entry ([`crate::AuditEntry`]) in the same transaction as
/// the change; the `…_audited` methods name the actor, the plain ones write as
/// [`crate::audit::SYSTEM_ACTOR`] (seed and tools).
pub trait CrudRepository<E, N>: Send + Sync {
    /// Active rows, ordered by name (code-point order), then id.
    fn list_active(&self) -> RepoResult<Vec<E>>;
    /// Every row, or only the active (`Some(true)`) or inactive ones, in the same order.
    fn list_all(&self, active: Option<bool>) -> RepoResult<Vec<E>>;
    /// One row, active or not.
    fn get_by_id(&self, id: i64) -> RepoResult<Option<E>>;
    /// Stores a new row (version 1) with its `created` audit entry by `actor`.
    fn create_audited(&self, new: &N, actor: &str, at: DateTime<Utc>) -> RepoResult<E>;
    /// Replaces a row's fields and bumps its version, with an `updated` audit entry of the
    /// changed fields; `None` when it does not exist; [`RepoError::Stale`] when
    /// `expected_version` is given and differs (checked after existence).
    fn update_audited(
        &self,
        id: i64,
        new: &N,
        expected_version: Option<i64>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<Option<E>>;
    /// Deletes a row with a `deleted` audit entry; `false` when it does not exist;
    /// [`RepoError::Stale`] as for updates; [`RepoError::Conflict`] while other rows refer
    /// to it (a location's plans or sessions, a program type's, trainer's or plan's sessions).
    fn delete_audited(
        &self,
        id: i64,
        expected_version: Option<i64>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<bool>;
    /// Deletes a row as the system, also when referenced (the database's own rules apply:
    /// cascades, restrictions); `false` when it did not exist.
    fn delete(&self, id: i64) -> RepoResult<bool>;

    /// Stores a new row as the system.
    fn create(&self, new: &N) -> RepoResult<E> {
        self.create_audited(new, crate::audit::SYSTEM_ACTOR, Utc::now())
    }

    /// Replaces a row's fields as the system; `None` when it does not exist.
    fn update(&self, id: i64, new: &N) -> RepoResult<Option<E>> {
        self.update_audited(id, new, None, crate::audit::SYSTEM_ACTOR, Utc::now())
    }
}

/// The audit log.
pub trait AuditRepository: Send + Sync {
    /// A filtered page, newest first, and the total.
    fn search(&self, filter: &AuditFilter) -> RepoResult<AuditPage>;
}

/// Studios.
pub trait LocationRepository: CrudRepository<Location, NewLocation> {
    /// The location with exactly this name.
    fn find_by_name(&self, name: &str) -> RepoResult<Option<Location>>;
}

/// Program types.
pub trait ProgramTypeRepository: CrudRepository<ProgramType, NewProgramType> {
    /// The program type with exactly this name.
    fn find_by_name(&self, name: &str) -> RepoResult<Option<ProgramType>>;
}

/// Trainers.
pub trait TrainerRepository: CrudRepository<Trainer, NewTrainer> {
    /// Active trainers who have at least one class session at `location_id`, by full name.
    fn list_active_by_location(&self, location_id: i64) -> RepoResult<Vec<Trainer>>;
    /// The trainer with exactly this full name.
    fn find_by_name(&self, full_name: &str) -> RepoResult<Option<Trainer>>;
}

/// Membership plans (ordered by price, then id, rather than by name).
pub trait MembershipPlanRepository: CrudRepository<MembershipPlan, NewMembershipPlan> {
    /// Active plans of one location, by price then id.
    fn list_by_location(&self, location_id: i64) -> RepoResult<Vec<MembershipPlan>>;
    /// The plan of `location_id` with exactly this name.
    fn find_by_name(&self, location_id: i64, name: &str) -> RepoResult<Option<MembershipPlan>>;
}

/// The timetable.
pub trait ClassSessionRepository: Send + Sync {
    /// Sessions matching the filter, with their location, program type and trainer, by start then id.
    fn search(&self, filter: &ScheduleFilter) -> RepoResult<Vec<ClassSession>>;
    /// One session.
    fn get_by_id(&self, id: i64) -> RepoResult<Option<ClassSession>>;
    /// Stores one session.
    fn create(&self, new: &NewClassSession) -> RepoResult<ClassSession>;
    /// Stores many sessions in one transaction; returns how many were stored.
    fn create_many(&self, new: &[NewClassSession]) -> RepoResult<usize>;
    /// Sets a session's status and increments its `version`; `None` when it does not exist.
    /// Setting `scheduled` clears the cancellation reason; setting `cancelled` keeps it.
    /// Every other change of a session must increment `version` too.
    fn set_status(&self, id: i64, status: SessionStatus) -> RepoResult<Option<ClassSession>>;
    /// Cancels a session with `reason` (at most [`crate::schedule::MAX_CANCELLATION_REASON_CHARS`]
    /// characters, else [`crate::RepoError::Invalid`]) and increments its `version`; `None`
    /// when it does not exist.
    fn cancel(&self, id: i64, reason: &str) -> RepoResult<Option<ClassSession>>;
    /// Deletes a session; `false` when it did not exist.
    fn delete(&self, id: i64) -> RepoResult<bool>;
    /// Sessions of one location starting in `[from, to)` (all statuses).
    fn count_by_location(
        &self,
        location_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> RepoResult<i64>;
}

/// Leads and their history. Every change writes its events in the same transaction.
pub trait LeadRepository: Send + Sync {
    /// Stores a lead and its `created` event.
    fn create(&self, new: &NewLead, actor: &str) -> RepoResult<Lead>;
    /// Stores many leads (each with its `created` event) in one transaction; returns how many.
    fn create_many(&self, new: &[NewLead], actor: &str) -> RepoResult<usize>;
    /// Stores a public submission; the future resolves once it is committed (or refused).
    /// Calling this does no I/O and never blocks, so async callers may call it directly.
    ///
    /// The submission is de-duplicated: when an open lead with the same phone was created at
    /// or after `open_since`, a `resubmitted` event is recorded on it instead of creating a
    /// lead. Submissions of one phone are serialised, so concurrent ones cannot both create
    /// one. A reference that names no row refuses it with [`SubmitError::MissingReference`]
    /// and stores nothing. A full queue refuses it at once (the future is ready when first
    /// polled) with [`RepoError::Unavailable`].
    fn submit(
        &self,
        new: NewLead,
        open_since: DateTime<Utc>,
    ) -> BoxFuture<Result<Submission, SubmitError>>;
    /// One lead.
    fn get_by_id(&self, id: i64) -> RepoResult<Option<Lead>>;
    /// A filtered, ordered page and the total.
    fn search(&self, filter: &LeadFilter) -> RepoResult<LeadPage>;
    /// Applies the fields of `changes` that differ from the stored lead, bumps its version and
    /// records the events, atomically. `None` when the lead does not exist; `RepoError::Stale`
    /// when `expected_version` is given and differs.
    fn update(
        &self,
        id: i64,
        changes: &LeadChanges,
        expected_version: Option<i64>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<Option<Lead>>;
    /// Erases a lead and strips personal data from its events, recording an `erased` event;
    /// `false` when it did not exist; `RepoError::Stale` when `expected_version` is given and
    /// differs (checked after existence, so a missing lead is never "stale").
    fn delete(
        &self,
        id: i64,
        expected_version: Option<i64>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<bool>;
    /// The lead's events, oldest first; `None` when the lead does not exist.
    fn events(&self, lead_id: i64) -> RepoResult<Option<Vec<LeadEvent>>>;
}

/// Occupancy of the database connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Open connections.
    pub connections: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// Configured maximum.
    pub max_size: u32,
    /// Connections checked out since start.
    pub checkouts: u64,
    /// Time spent waiting for those connections since start, in microseconds.
    pub wait_micros: u64,
    /// Check-outs that gave up waiting (answered 503) since start.
    pub timeouts: u64,
}

/// Whether the database answers and its schema is current.
pub trait DatabaseHealth: Send + Sync {
    /// `Ok` when a trivial query succeeds and no migration is pending.
    fn check_ready(&self) -> RepoResult<()>;
    /// Connection pool occupancy (no database access).
    fn pool_stats(&self) -> PoolStats;
}
