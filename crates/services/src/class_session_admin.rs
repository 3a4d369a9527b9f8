//! Class-session administration (API.md §6): the admin list with the schedule's filters and
//! window, and creating, changing, cancelling and deleting sessions under the contract's rules.
//!
//! The body is merged into the stored session like a catalog resource's
//! ([`crate::catalog_admin`]); then the references are checked against the catalog and the end
//! is settled. The repository writes each change with its audit entry, enforces the
//! trainer-overlap rule and records `session_cancelled` on the leads that chose a cancelled
//! session, all in one transaction.

use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use chrono_tz::Tz;
use cohai_domain::ports::{
    ClassSessionAdminRepository, LocationRepository, MembershipPlanRepository,
    ProgramTypeRepository, TrainerRepository,
};
use cohai_domain::time::{InstantOrDate, earliest_instant, latest_instant};
use cohai_domain::{
    AdminClassSession, AdminSessionFilter, AdminSessionPage, ClassSessionFields, FieldErrors,
    MAX_CANCELLATION_REASON_CHARS, ProgramType, RepoError, ScheduleFilter, SessionStatus,
    SessionWriteError,
};
use serde::Deserialize;

use crate::catalog_admin::{Merge, NOT_NULL, REQUIRED, input, present};
use crate::schedule::resolve_window;
use crate::{PublicChanges, ServiceError, ServiceResult};

/// Largest page of the admin session list.
pub const MAX_SESSION_PAGE: i64 = 200;
/// Most places in one class.
pub const MAX_CAPACITY: i32 = 500;
/// Attempts of an unconditional update that keeps meeting concurrent changes.
const UPDATE_ATTEMPTS: usize = 5;
const NOUN: &str = "class session";

input! {
    /// A class session's fields. On `POST`, `location_id`, `program_type_id`, `trainer_id`,
    /// `starts_at` and `capacity` are required; `ends_at` defaults to `starts_at` plus the
    /// program's duration and `status` to `scheduled`. On `PATCH` absent fields stay (a new
    /// `starts_at` alone moves `ends_at` with it, keeping the duration) and `null` clears
    /// `membership_plan_id`. `timetable_slot_id` is read-only.
    ClassSessionInput {
        /// An existing, active location.
        #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 1))]
        location_id: i64,
        /// An existing, active program type.
        #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 1))]
        program_type_id: i64,
        /// An existing, active trainer, who must not teach another scheduled session at an
        /// overlapping time (409 naming it).
        #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 1))]
        trainer_id: i64,
        /// An existing, active plan of the session's location; `null` clears it.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 1))]
        membership_plan_id: i64,
        /// Start: RFC 3339 with an offset (returned in UTC); years 0000–9999.
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-12-01T16:00:00+03:00"))]
        starts_at: String,
        /// End, after `starts_at`: RFC 3339 with an offset. Default on `POST`: `starts_at`
        /// plus the program's duration.
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime, example = "2026-12-01T17:00:00+03:00"))]
        ends_at: String,
        /// Places, 1–500.
        #[cfg_attr(feature = "openapi", schema(value_type = i32, minimum = 1, maximum = 500, example = 12))]
        capacity: i32,
        /// Default `scheduled`. `cancelled` needs a `cancellation_reason`; back to
        /// `scheduled` clears it.
        #[cfg_attr(feature = "openapi", schema(value_type = SessionStatus, default = "scheduled"))]
        status: SessionStatus,
        /// Why the session is cancelled: required (non-blank, at most 500 characters after
        /// trimming) for a cancelled session, refused for a scheduled one.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 500, pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F]*$", example = "Тренер заболел"))]
        cancellation_reason: String,
    }
}

/// An admin list request as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionListQuery {
    /// Only this location (inactive ones too); dates are read in its time zone.
    pub location_id: Option<i64>,
    /// Only this program type.
    pub program_type_id: Option<i64>,
    /// Only this trainer.
    pub trainer_id: Option<i64>,
    /// Start of the window (default: `now`).
    pub from: Option<InstantOrDate>,
    /// End of the window (default: `from` + 7 days; at most 62 days after `from`).
    pub to: Option<InstantOrDate>,
    /// Only sessions of this status.
    pub status: Option<SessionStatus>,
    /// Page size, 1–[`MAX_SESSION_PAGE`].
    pub limit: i64,
    /// Sessions skipped, ≥ 0.
    pub offset: i64,
    /// The current instant.
    pub now: DateTime<Utc>,
}

/// The admin operations on class sessions.
pub trait ClassSessionAdminService: Send + Sync {
    /// A page of sessions starting in the query's window (every location, every status unless
    /// asked), by `starts_at` then `id`, with the total. A filter naming no row is `NotFound`.
    fn list(&self, query: &SessionListQuery) -> ServiceResult<AdminSessionPage>;
    /// One session.
    fn get(&self, id: i64) -> ServiceResult<AdminClassSession>;
    /// Creates a session (by hand: timetable generation leaves it alone).
    fn create(&self, input: ClassSessionInput, actor: &str) -> ServiceResult<AdminClassSession>;
    /// Applies the fields present in `input`, optionally only at `expected_version`. A missing
    /// session is `NotFound` before a stale version is `PreconditionFailed`.
    fn update(
        &self,
        id: i64,
        input: ClassSessionInput,
        expected_version: Option<i64>,
        actor: &str,
    ) -> ServiceResult<AdminClassSession>;
    /// Deletes a session, optionally only at `expected_version`; a conflict while a lead
    /// names it.
    fn delete(&self, id: i64, expected_version: Option<i64>, actor: &str) -> ServiceResult<()>;
}

/// [`ClassSessionAdminService`] over the session repository and the catalog it refers to.
pub struct ClassSessionAdmin {
    sessions: Arc<dyn ClassSessionAdminRepository>,
    locations: Arc<dyn LocationRepository>,
    program_types: Arc<dyn ProgramTypeRepository>,
    trainers: Arc<dyn TrainerRepository>,
    plans: Arc<dyn MembershipPlanRepository>,
    changes: PublicChanges,
}

impl ClassSessionAdmin {
    /// The service over these repositories; each write counts in `changes`.
    pub fn new(
        sessions: Arc<dyn ClassSessionAdminRepository>,
        locations: Arc<dyn LocationRepository>,
        program_types: Arc<dyn ProgramTypeRepository>,
        trainers: Arc<dyn TrainerRepository>,
        plans: Arc<dyn MembershipPlanRepository>,
        changes: PublicChanges,
    ) -> Self {
        Self {
            sessions,
            locations,
            program_types,
            trainers,
            plans,
            changes,
        }
    }

    /// The session's fields after `input`, its references checked and its end settled.
    fn prepare(
        &self,
        input: ClassSessionInput,
        current: Option<&AdminClassSession>,
    ) -> ServiceResult<ClassSessionFields> {
        let draft = merge(input, current)?;
        let mut errors = FieldErrors::new();
        // Only references that change are checked: a session may keep a trainer who has left
        // since, and still be cancelled or moved.
        let changed = |stored: fn(&AdminClassSession) -> i64, new: i64| {
            current.is_none_or(|c| stored(c) != new)
        };
        if changed(|c| c.location_id, draft.location_id) {
            match self.locations.get_by_id(draft.location_id)? {
                None => errors.add("location_id", missing("location", draft.location_id)),
                Some(l) if !l.is_active => {
                    errors.add("location_id", inactive("location", draft.location_id));
                }
                Some(_) => {}
            }
        }
        // The program's duration is the default length of a new session.
        let mut program: Option<ProgramType> = None;
        if changed(|c| c.program_type_id, draft.program_type_id) || draft.ends_at.is_none() {
            program = self.program_types.get_by_id(draft.program_type_id)?;
            match &program {
                None => errors.add(
                    "program_type_id",
                    missing("program type", draft.program_type_id),
                ),
                Some(p) if !p.is_active && changed(|c| c.program_type_id, p.id) => {
                    errors.add("program_type_id", inactive("program type", p.id));
                }
                Some(_) => {}
            }
        }
        if changed(|c| c.trainer_id, draft.trainer_id) {
            match self.trainers.get_by_id(draft.trainer_id)? {
                None => errors.add("trainer_id", missing("trainer", draft.trainer_id)),
                Some(t) if !t.is_active => errors.add("trainer_id", inactive("trainer", t.id)),
                Some(_) => {}
            }
        }
        if let Some(plan_id) = draft.membership_plan_id {
            let plan_changed = current.is_none_or(|c| c.membership_plan_id != Some(plan_id));
            if plan_changed || changed(|c| c.location_id, draft.location_id) {
                match self.plans.get_by_id(plan_id)? {
                    None => errors.add("membership_plan_id", missing("membership plan", plan_id)),
                    Some(p) if plan_changed && !p.is_active => {
                        errors.add("membership_plan_id", inactive("membership plan", plan_id));
                    }
                    Some(p) if p.location_id != draft.location_id => errors.add(
                        "membership_plan_id",
                        format!(
                            "membership plan {plan_id} belongs to location {}, not {}",
                            p.location_id, draft.location_id
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
        let ends_at = match (draft.ends_at, &program) {
            (Some(ends_at), _) => Some(ends_at),
            (None, Some(p)) => {
                Some(draft.starts_at + Duration::minutes(i64::from(p.duration_minutes)))
            }
            (None, None) => None,
        };
        if let Some(ends_at) = ends_at {
            if ends_at <= draft.starts_at {
                errors.add("ends_at", "must be after starts_at");
            } else if ends_at > latest_instant() {
                errors.add("ends_at", OUT_OF_RANGE);
            }
        }
        match ends_at {
            Some(ends_at) if errors.is_empty() => Ok(ClassSessionFields {
                location_id: draft.location_id,
                program_type_id: draft.program_type_id,
                trainer_id: draft.trainer_id,
                membership_plan_id: draft.membership_plan_id,
                starts_at: draft.starts_at,
                ends_at,
                capacity: draft.capacity,
                status: draft.status,
                cancellation_reason: draft.cancellation_reason,
            }),
            _ => Err(errors.into()),
        }
    }

    /// The time zone of a list's dates: the named location's (active or not), else UTC.
    fn zone_of(&self, location_id: Option<i64>) -> ServiceResult<Tz> {
        let Some(id) = location_id else {
            return Ok(Tz::UTC);
        };
        let location = self
            .locations
            .get_by_id(id)?
            .ok_or_else(|| ServiceError::not_found("location", id))?;
        location.timezone.parse::<Tz>().map_err(|_| {
            ServiceError::Internal(format!(
                "location {id} has an unknown time zone {:?}",
                location.timezone
            ))
        })
    }
}

fn missing(noun: &str, id: i64) -> String {
    format!("{noun} {id} does not exist")
}

fn inactive(noun: &str, id: i64) -> String {
    format!("{noun} {id} is inactive")
}

const OUT_OF_RANGE: &str = "must lie in the years 0000 to 9999 (UTC)";

/// The current instant at the precision both databases store (microseconds).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A repository's refusal, for the client.
fn refused(e: SessionWriteError) -> ServiceError {
    match e {
        SessionWriteError::TrainerBusy {
            trainer_id,
            class_session_id,
        } => ServiceError::ConflictWith {
            message: format!(
                "trainer {trainer_id} already teaches scheduled session {class_session_id} at an overlapping time"
            ),
            key: "class_session_id",
            id: class_session_id,
        },
        SessionWriteError::ChosenByLead {
            class_session_id,
            lead_id,
        } => ServiceError::ConflictWith {
            message: format!(
                "class session {class_session_id} is chosen by lead {lead_id}: cancel it instead"
            ),
            key: "lead_id",
            id: lead_id,
        },
        SessionWriteError::Repo(e) => e.into(),
    }
}

impl ClassSessionAdminService for ClassSessionAdmin {
    fn list(&self, query: &SessionListQuery) -> ServiceResult<AdminSessionPage> {
        if !(1..=MAX_SESSION_PAGE).contains(&query.limit) {
            return Err(ServiceError::invalid_parameter(
                "limit",
                format!("must be an integer from 1 to {MAX_SESSION_PAGE}"),
            ));
        }
        if query.offset < 0 {
            return Err(ServiceError::invalid_parameter(
                "offset",
                "must be a non-negative integer",
            ));
        }
        let tz = self.zone_of(query.location_id)?;
        if let Some(id) = query.program_type_id {
            self.program_types
                .get_by_id(id)?
                .ok_or_else(|| ServiceError::not_found("program type", id))?;
        }
        if let Some(id) = query.trainer_id {
            self.trainers
                .get_by_id(id)?
                .ok_or_else(|| ServiceError::not_found("trainer", id))?;
        }
        let window = resolve_window(query.from, query.to, query.now, tz)?;
        Ok(self.sessions.search(&AdminSessionFilter {
            schedule: ScheduleFilter {
                location_id: query.location_id,
                program_type_id: query.program_type_id,
                trainer_id: query.trainer_id,
                window,
            },
            status: query.status,
            limit: query.limit,
            offset: query.offset,
        })?)
    }

    fn get(&self, id: i64) -> ServiceResult<AdminClassSession> {
        self.sessions
            .get_by_id(id)?
            .ok_or_else(|| ServiceError::not_found(NOUN, id))
    }

    fn create(&self, input: ClassSessionInput, actor: &str) -> ServiceResult<AdminClassSession> {
        let fields = self.prepare(input, None)?;
        let created = self.sessions.create_audited(&fields, actor, now());
        self.changes.wrote();
        created.map_err(refused)
    }

    fn update(
        &self,
        id: i64,
        input: ClassSessionInput,
        expected_version: Option<i64>,
        actor: &str,
    ) -> ServiceResult<AdminClassSession> {
        // Optimistic, as the catalog's: merge into the session as read, write only if it is
        // still that version; without `If-Match` a concurrent change is merged into again.
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.get(id)?;
            if expected_version.is_some_and(|v| v != current.version) {
                return Err(ServiceError::PreconditionFailed);
            }
            let fields = self.prepare(input.clone(), Some(&current))?;
            // Nothing changes: nothing to write or audit (and the session stays as it was).
            if fields == ClassSessionFields::of(&current) {
                return Ok(current);
            }
            let updated =
                self.sessions
                    .update_audited(id, &fields, Some(current.version), actor, now());
            self.changes.wrote();
            match updated {
                Ok(Some(updated)) => return Ok(updated),
                Ok(None) => return Err(ServiceError::not_found(NOUN, id)),
                Err(SessionWriteError::Repo(RepoError::Stale)) if expected_version.is_none() => {
                    continue;
                }
                Err(e) => return Err(refused(e)),
            }
        }
        Err(ServiceError::Conflict(format!(
            "{NOUN} {id} keeps changing concurrently"
        )))
    }

    fn delete(&self, id: i64, expected_version: Option<i64>, actor: &str) -> ServiceResult<()> {
        let deleted = self
            .sessions
            .delete_audited(id, expected_version, actor, now());
        self.changes.wrote();
        if deleted.map_err(refused)? {
            Ok(())
        } else {
            Err(ServiceError::not_found(NOUN, id))
        }
    }
}

/// A session's fields from the body and the stored session, before the catalog is consulted:
/// `ends_at` is `None` when it is to be the program's duration after the start.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Draft {
    location_id: i64,
    program_type_id: i64,
    trainer_id: i64,
    membership_plan_id: Option<i64>,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    capacity: i32,
    status: SessionStatus,
    cancellation_reason: Option<String>,
}

/// Parses a sent instant: RFC 3339 with an offset, in the storable years, to the microsecond.
fn parse_instant(errors: &mut FieldErrors, field: &str, raw: &str) -> Option<DateTime<Utc>> {
    let Ok(at) = DateTime::parse_from_rfc3339(raw.trim()) else {
        errors.add(
            field,
            "must be an RFC 3339 date-time with an offset, e.g. 2026-12-01T16:00:00+03:00",
        );
        return None;
    };
    let at = at.with_timezone(&Utc).trunc_subsecs(6);
    if at < earliest_instant() || at > latest_instant() {
        errors.add(field, OUT_OF_RANGE);
        return None;
    }
    Some(at)
}

/// A non-nullable instant: parsed when sent, the stored one when absent (required on create).
fn instant(
    errors: &mut FieldErrors,
    field: &str,
    sent: Option<Option<String>>,
    stored: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    match sent {
        Some(Some(raw)) => parse_instant(errors, field, &raw),
        Some(None) => {
            errors.add(field, NOT_NULL);
            None
        }
        None => {
            if stored.is_none() {
                errors.add(field, REQUIRED);
            }
            stored
        }
    }
}

/// A required reference: a positive id.
fn reference(
    m: &mut Merge<'_, AdminClassSession>,
    field: &str,
    sent: Option<Option<i64>>,
    stored: impl FnOnce(&AdminClassSession) -> i64,
) -> Option<i64> {
    let value = m.required(field, sent, stored);
    m.int_in(field, value, 1, None)
}

/// Merges a body into the stored session (or nothing, when creating), checking every rule
/// that needs no other row.
fn merge(i: ClassSessionInput, current: Option<&AdminClassSession>) -> Result<Draft, FieldErrors> {
    let mut m = Merge::new(current);
    let location_id = reference(&mut m, "location_id", i.location_id, |c| c.location_id);
    let program_type_id = reference(&mut m, "program_type_id", i.program_type_id, |c| {
        c.program_type_id
    });
    let trainer_id = reference(&mut m, "trainer_id", i.trainer_id, |c| c.trainer_id);
    let membership_plan_id = m.nullable(i.membership_plan_id, |c| c.membership_plan_id);
    let membership_plan_id = m.int_in("membership_plan_id", membership_plan_id, 1, None);
    let starts_sent = i.starts_at.is_some();
    let starts_at = instant(
        &mut m.errors,
        "starts_at",
        i.starts_at,
        current.map(|c| c.starts_at),
    );
    let ends_at = match (i.ends_at, current) {
        (sent @ Some(_), _) => instant(&mut m.errors, "ends_at", sent, None),
        // A new start alone moves the end with it.
        (None, Some(c)) => match starts_at {
            Some(starts_at) if starts_sent => Some(starts_at + (c.ends_at - c.starts_at)),
            _ => Some(c.ends_at),
        },
        (None, None) => None,
    };
    let capacity = m.required("capacity", i.capacity, |c| c.capacity);
    let capacity = m.int_in("capacity", capacity, 1, Some(MAX_CAPACITY));
    let status = m.defaulted("status", i.status, |c| c.status, SessionStatus::Scheduled);
    let cancellation_reason = match status {
        SessionStatus::Scheduled => {
            // Back to scheduled clears a stored reason; sending one is a contradiction.
            if let Some(Some(sent)) = &i.cancellation_reason
                && !sent.trim().is_empty()
            {
                m.errors.add(
                    "cancellation_reason",
                    "only a cancelled session has a cancellation reason",
                );
            }
            None
        }
        SessionStatus::Cancelled => {
            let reason = m.nullable(i.cancellation_reason, |c| c.cancellation_reason.clone());
            let reason = m.text("cancellation_reason", reason, MAX_CANCELLATION_REASON_CHARS);
            if reason.is_none() {
                m.errors
                    .add("cancellation_reason", "a cancelled session needs a reason");
            }
            reason
        }
    };
    let draft = match (
        location_id,
        program_type_id,
        trainer_id,
        starts_at,
        capacity,
    ) {
        (
            Some(location_id),
            Some(program_type_id),
            Some(trainer_id),
            Some(starts_at),
            Some(capacity),
        ) => Some(Draft {
            location_id,
            program_type_id,
            trainer_id,
            membership_plan_id,
            starts_at,
            ends_at,
            capacity,
            status,
            cancellation_reason,
        }),
        _ => None,
    };
    m.finish(draft)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("instant")
            .with_timezone(&Utc)
    }

    fn body(json: serde_json::Value) -> ClassSessionInput {
        serde_json::from_value(json).expect("a valid body")
    }

    fn stored() -> AdminClassSession {
        AdminClassSession {
            id: 5,
            starts_at: at("2026-12-01T09:00:00Z"),
            ends_at: at("2026-12-01T10:30:00Z"),
            status: SessionStatus::Scheduled,
            capacity: 12,
            location_id: 1,
            program_type_id: 2,
            trainer_id: 3,
            membership_plan_id: Some(4),
            cancellation_reason: None,
            timetable_slot_id: Some(9),
            edited_by_hand: false,
            version: 2,
        }
    }

    fn fields_with_errors(result: Result<Draft, FieldErrors>) -> Vec<String> {
        result
            .expect_err("refused")
            .0
            .into_keys()
            .collect::<Vec<_>>()
    }

    #[test]
    fn a_new_session_needs_its_references_start_and_capacity_and_defaults_the_rest() {
        assert_eq!(
            fields_with_errors(merge(body(serde_json::json!({})), None)),
            [
                "capacity",
                "location_id",
                "program_type_id",
                "starts_at",
                "trainer_id"
            ]
        );
        let draft = merge(
            body(
                serde_json::json!({"location_id": 1, "program_type_id": 2, "trainer_id": 3,
                "starts_at": "2026-12-01T12:00:00.1234567+03:00", "capacity": 500}),
            ),
            None,
        )
        .expect("valid");
        assert_eq!(draft.starts_at, at("2026-12-01T09:00:00.123456Z"));
        assert_eq!(
            (draft.ends_at, draft.status, draft.cancellation_reason),
            (None, SessionStatus::Scheduled, None),
            "the end waits for the program's duration"
        );
    }

    #[test]
    fn a_new_start_alone_moves_the_end_and_keeps_the_duration() {
        let s = stored();
        let draft = merge(
            body(serde_json::json!({"starts_at": "2026-12-02T09:00:00Z"})),
            Some(&s),
        )
        .expect("valid");
        assert_eq!(
            (draft.starts_at, draft.ends_at),
            (at("2026-12-02T09:00:00Z"), Some(at("2026-12-02T10:30:00Z")))
        );
        let draft = merge(
            body(serde_json::json!({"ends_at": "2026-12-01T11:00:00Z"})),
            Some(&s),
        )
        .expect("valid");
        assert_eq!(
            (draft.starts_at, draft.ends_at),
            (s.starts_at, Some(at("2026-12-01T11:00:00Z")))
        );
    }

    #[test]
    fn bad_values_name_their_fields() {
        let s = stored();
        for (json, field) in [
            (serde_json::json!({"capacity": 0}), "capacity"),
            (serde_json::json!({"capacity": 501}), "capacity"),
            (
                serde_json::json!({"starts_at": "2026-12-01T09:00:00"}),
                "starts_at",
            ),
            (serde_json::json!({"starts_at": null}), "starts_at"),
            (serde_json::json!({"ends_at": "tomorrow"}), "ends_at"),
            (serde_json::json!({"ends_at": null}), "ends_at"),
            (serde_json::json!({"trainer_id": 0}), "trainer_id"),
            (serde_json::json!({"location_id": null}), "location_id"),
            (
                serde_json::json!({"membership_plan_id": -1}),
                "membership_plan_id",
            ),
            (serde_json::json!({"status": null}), "status"),
            (
                serde_json::json!({"status": "cancelled"}),
                "cancellation_reason",
            ),
            (
                serde_json::json!({"status": "cancelled", "cancellation_reason": "  "}),
                "cancellation_reason",
            ),
            (
                serde_json::json!({"status": "cancelled", "cancellation_reason": "x".repeat(501)}),
                "cancellation_reason",
            ),
            (
                serde_json::json!({"cancellation_reason": "a reason for a scheduled class"}),
                "cancellation_reason",
            ),
        ] {
            assert_eq!(
                fields_with_errors(merge(body(json.clone()), Some(&s))),
                [field],
                "{json}"
            );
        }
    }

    #[test]
    fn cancelling_keeps_a_trimmed_reason_and_rescheduling_clears_it() {
        let s = stored();
        let cancelled = merge(
            body(serde_json::json!({"status": "cancelled", "cancellation_reason": " Болезнь\n "})),
            Some(&s),
        )
        .expect("valid");
        assert_eq!(cancelled.cancellation_reason.as_deref(), Some("Болезнь"));
        let was_cancelled = AdminClassSession {
            status: SessionStatus::Cancelled,
            cancellation_reason: Some("Болезнь".to_owned()),
            ..s
        };
        let rescheduled = merge(
            body(serde_json::json!({"status": "scheduled"})),
            Some(&was_cancelled),
        )
        .expect("valid");
        assert_eq!(
            (rescheduled.status, rescheduled.cancellation_reason),
            (SessionStatus::Scheduled, None)
        );
        let new_reason = merge(
            body(serde_json::json!({"cancellation_reason": "Ремонт"})),
            Some(&was_cancelled),
        )
        .expect("valid");
        assert_eq!(new_reason.cancellation_reason.as_deref(), Some("Ремонт"));
    }

    #[test]
    fn unknown_and_read_only_fields_are_refused_by_the_body_type() {
        for json in [
            serde_json::json!({"timetable_slot_id": 1}),
            serde_json::json!({"active": false}),
            serde_json::json!({"id": 3}),
        ] {
            assert!(
                serde_json::from_value::<ClassSessionInput>(json.clone()).is_err(),
                "{json}"
            );
        }
    }
}
