//! Repository traits: what the services need from storage.
//!
//! They are synchronous because the storage driver (Diesel) blocks; callers on an async
//! runtime must run them on a blocking thread pool. The one exception is the public lead
//! submission, which the storage batches on a writer thread of its own: it returns a
//! [`BoxFuture`] that resolves when the lead is committed, without holding a thread meanwhile.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

use crate::class_session_admin::{
    AdminClassSession, AdminSessionFilter, AdminSessionPage, ClassSessionFields, SessionWriteError,
};
use crate::lead::{LeadCursor, LeadHistory, LeadReference, Submission};
use crate::lead_stats::{LeadStats, LeadStatsFilter};
use crate::{
    AuditFilter, AuditPage, ClassSession, Lead, LeadChanges, LeadEvent, LeadFilter, LeadPage,
    Location, MembershipPlan, NewClassSession, NewLead, NewLocation, NewMembershipPlan,
    NewProgramType, NewTrainer, Phone, ProgramType, RepoError, RepoResult, ScheduleFilter,
    SessionStatus, Trainer,
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

/// Class sessions as the admin API changes them (API.md §6).
///
/// Every change runs in one transaction with its audit entry (entity `class_session`, by
/// `actor`), increments the session's `version` and marks it edited by hand. A trainer is never
/// in two overlapping `scheduled` sessions (half-open intervals, any location): a write that
/// would make it so stores nothing and names the other session
/// ([`SessionWriteError::TrainerBusy`]), also when two such writes run at once.
pub trait ClassSessionAdminRepository: Send + Sync {
    /// Sessions of every location (inactive ones too) matching the filter, by `starts_at`
    /// then `id`, and their total.
    fn search(&self, filter: &AdminSessionFilter) -> RepoResult<AdminSessionPage>;
    /// One session.
    fn get_by_id(&self, id: i64) -> RepoResult<Option<AdminClassSession>>;
    /// Stores a new session (version 1, no timetable slot) with its `created` audit entry.
    fn create_audited(
        &self,
        fields: &ClassSessionFields,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<AdminClassSession, SessionWriteError>;
    /// Replaces a session's fields; `None` when it does not exist; [`RepoError::Stale`] when
    /// `expected_version` is given and differs (checked after existence). Cancelling a
    /// scheduled session is audited as `cancelled` and records a `session_cancelled` event
    /// (`{"class_session_id", "cancellation_reason"}`, by `actor`) on every open lead that
    /// chose it, in the same transaction; any other change as `updated`.
    fn update_audited(
        &self,
        id: i64,
        fields: &ClassSessionFields,
        expected_version: Option<i64>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<AdminClassSession>, SessionWriteError>;
    /// Deletes a session with a `deleted` audit entry; `false` when it does not exist;
    /// [`RepoError::Stale`] as for updates; [`SessionWriteError::ChosenByLead`] while a lead
    /// names it.
    fn delete_audited(
        &self,
        id: i64,
        expected_version: Option<i64>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, SessionWriteError>;
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
    /// Up to `limit` leads matching `filter` (its `limit` and `offset` are not used) in its
    /// order, starting right after `after` (from the first lead when `None`): keyset paging,
    /// so each page costs the same however deep the export is. Pages are separate reads: a
    /// lead changed between two pages may be missed or repeated when the order is by a field
    /// that changed (`updated_at`, `next_contact_at`).
    fn export_page(
        &self,
        filter: &LeadFilter,
        after: Option<&LeadCursor>,
        limit: i64,
    ) -> RepoResult<Vec<Lead>>;
    /// Funnel statistics of the leads matching `filter`, counted by the database.
    fn stats(&self, filter: &LeadStatsFilter) -> RepoResult<LeadStats>;
    /// Every lead with exactly this (normalised) phone, only of the `location_limit` locations
    /// when given, by `created_at` then id, each with its events oldest first.
    fn find_by_phone(
        &self,
        phone: &Phone,
        location_limit: Option<&[i64]>,
    ) -> RepoResult<Vec<LeadHistory>>;
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
    /// `Ok` when a trivial query succeeds and no migration is pending. It waits for a
    /// connection and for the database at most about [`DatabaseHealth::ready_timeout`]; only
    /// a connection that hangs in the driver can hold it longer, so callers that must answer in
    /// time also stop waiting after it.
    fn check_ready(&self) -> RepoResult<()>;
    /// The longest a readiness check should take.
    fn ready_timeout(&self) -> std::time::Duration;
    /// Connection pool occupancy (no database access).
    fn pool_stats(&self) -> PoolStats;
}

/// Idempotency keys and their kept replies (see [`crate::idempotency`]).
///
/// Every method is one short statement or transaction of its own, never part of the work the
/// key guards, so a reservation is visible to every instance sharing the database at once.
pub trait IdempotencyRepository: Send + Sync {
    /// Presents a key: reserves it (a new key, an expired one, or one whose lease ran out)
    /// with `lease`, or reports what holds it. Concurrent calls for one scope reserve it once.
    fn begin(
        &self,
        request: &crate::idempotency::IdempotentRequest,
        lease: crate::idempotency::Lease,
    ) -> RepoResult<crate::idempotency::Begin>;
    /// Extends a live reservation's lease to `locked_until`; `false` when it is no longer
    /// this reservation's (taken over, completed or released).
    fn renew(
        &self,
        reservation: &crate::idempotency::Reservation,
        locked_until: DateTime<Utc>,
    ) -> RepoResult<bool>;
    /// Keeps `reply` for the reservation's key until `expires_at`; `false` when the
    /// reservation is no longer this one's (nothing is written then).
    fn complete(
        &self,
        reservation: &crate::idempotency::Reservation,
        reply: &crate::idempotency::KeptReply,
        expires_at: DateTime<Utc>,
    ) -> RepoResult<bool>;
    /// Frees the reservation's key (its request failed); `false` when it was no longer this
    /// reservation's.
    fn release(&self, reservation: &crate::idempotency::Reservation) -> RepoResult<bool>;
    /// Deletes every key that expired at or before `now`; returns how many.
    fn purge_expired(&self, now: DateTime<Utc>) -> RepoResult<u64>;
}

/// Weekly timetable slots (API.md §6), ordered by location, weekday, start time, then id.
/// Deleting one is a [`RepoError::Conflict`] while sessions it generated exist.
pub trait TimetableSlotRepository:
    CrudRepository<crate::TimetableSlot, crate::NewTimetableSlot>
{
    /// Every slot of one location (inactive ones too), in the list's order.
    fn list_by_location(&self, location_id: i64) -> RepoResult<Vec<crate::TimetableSlot>>;
}

/// Class sessions made from the timetable: generation runs and applying a slot's changes.
///
/// Both write in one transaction with their audit entries, and never touch a session that was
/// edited or cancelled by hand. A trainer is never put in two overlapping scheduled sessions:
/// such an occurrence or change is left out and reported as a conflict, also when a
/// concurrent writer made the other session.
pub trait TimetableRepository: Send + Sync {
    /// Runs `run` (see [`crate::GenerationRun`]) as `actor`; `None` when its lock is
    /// [`crate::timetable::RunLock::SkipIfBusy`] and another run was in progress (nothing was
    /// done). Each scope is audited as one `generated` entry (entity `class_session`, no id,
    /// changes `{"from", "to", "location_id", "created"}`) as `run.audit` says.
    fn generate(
        &self,
        run: &crate::GenerationRun,
        actor: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<Option<crate::GenerationReport>>;
    /// Gives the slot's generated sessions that start after `now`, on or after the local
    /// date `from`, still scheduled and not edited by hand, the slot's start time, capacity,
    /// trainer and program type (with the program's duration), bumping their versions; each
    /// changed session gets an `updated` audit entry by `actor`. `None` when the slot does
    /// not exist.
    fn apply(
        &self,
        slot_id: i64,
        from: chrono::NaiveDate,
        now: DateTime<Utc>,
        actor: &str,
    ) -> RepoResult<Option<crate::ApplyReport>>;
}
