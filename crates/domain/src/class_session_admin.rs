//! Class sessions as the admin API keeps them (API.md §6): by the ids they refer to, with
//! their cancellation reason and the timetable slot that generated them.
//!
//! The public schedule shows a session joined with its location, program type and trainer
//! ([`crate::ClassSession`]); the admin API reads and writes the stored row itself.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::audit::{AuditEntity, Audited};
use crate::{RepoError, ScheduleFilter, SessionStatus};

/// A class session as stored: the admin API's view of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminClassSession {
    /// Identifier.
    pub id: i64,
    /// Start (UTC).
    #[serde(serialize_with = "crate::instant_json::serialize")]
    pub starts_at: DateTime<Utc>,
    /// End (UTC), after `starts_at`.
    #[serde(serialize_with = "crate::instant_json::serialize")]
    pub ends_at: DateTime<Utc>,
    /// Scheduled or cancelled.
    pub status: SessionStatus,
    /// Places in the class, 1–500.
    pub capacity: i32,
    /// Where.
    pub location_id: i64,
    /// What.
    pub program_type_id: i64,
    /// Who teaches.
    pub trainer_id: i64,
    /// The plan this session belongs to (of the same location), if any.
    pub membership_plan_id: Option<i64>,
    /// Why the session was cancelled; set exactly when it is cancelled.
    pub cancellation_reason: Option<String>,
    /// The weekly timetable slot that generated the session (read-only); `null` for one
    /// created by hand.
    pub timetable_slot_id: Option<i64>,
    /// Whether an admin created or changed the session: timetable generation and `apply`
    /// leave such a session alone.
    #[serde(skip)]
    pub edited_by_hand: bool,
    /// Grows by one with every change (the `ETag`, the calendar feed's `SEQUENCE`).
    #[serde(skip)]
    pub version: i64,
}

impl Audited for AdminClassSession {
    const ENTITY: AuditEntity = AuditEntity::ClassSession;

    fn id(&self) -> i64 {
        self.id
    }

    fn version(&self) -> i64 {
        self.version
    }

    /// Every field of the admin view but the id (sessions have no `active`).
    fn fields(&self) -> Map<String, Value> {
        let mut map = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        map.remove("id");
        map
    }
}

/// The fields an admin sets on a session, when creating it or replacing them. The session is
/// marked edited by hand; its timetable slot, if any, stays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassSessionFields {
    /// Location id.
    pub location_id: i64,
    /// Program type id.
    pub program_type_id: i64,
    /// Trainer id.
    pub trainer_id: i64,
    /// Optional plan id.
    pub membership_plan_id: Option<i64>,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End, after the start.
    pub ends_at: DateTime<Utc>,
    /// Places, 1–500.
    pub capacity: i32,
    /// Status.
    pub status: SessionStatus,
    /// Why it is cancelled: `Some` exactly when `status` is cancelled.
    pub cancellation_reason: Option<String>,
}

impl ClassSessionFields {
    /// The fields of a stored session.
    pub fn of(session: &AdminClassSession) -> Self {
        Self {
            location_id: session.location_id,
            program_type_id: session.program_type_id,
            trainer_id: session.trainer_id,
            membership_plan_id: session.membership_plan_id,
            starts_at: session.starts_at,
            ends_at: session.ends_at,
            capacity: session.capacity,
            status: session.status,
            cancellation_reason: session.cancellation_reason.clone(),
        }
    }
}

/// Which sessions the admin list shows: the schedule's filters and window, a status, a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSessionFilter {
    /// Location, program type, trainer and the window `starts_at` lies in. Sessions of
    /// inactive locations are included.
    pub schedule: ScheduleFilter,
    /// Only sessions of this status.
    pub status: Option<SessionStatus>,
    /// Page size.
    pub limit: i64,
    /// Sessions skipped.
    pub offset: i64,
}

/// A page of sessions, by `starts_at` then `id`, and the number of all matching ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSessionPage {
    /// The page.
    pub items: Vec<AdminClassSession>,
    /// Every session matching the filter.
    pub total: i64,
}

/// Why an admin change of a session was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionWriteError {
    /// The session would be scheduled at a time its trainer teaches another scheduled session
    /// (half-open intervals intersect, at any location); nothing was stored.
    #[error("trainer {trainer_id} already teaches scheduled session {class_session_id} then")]
    TrainerBusy {
        /// The trainer.
        trainer_id: i64,
        /// The other session.
        class_session_id: i64,
    },
    /// A lead names the session as the class it chose, so it is not deleted (cancel it
    /// instead); nothing was stored.
    #[error("class session {class_session_id} is chosen by lead {lead_id}")]
    ChosenByLead {
        /// The session.
        class_session_id: i64,
        /// The first lead (lowest id) that chose it.
        lead_id: i64,
    },
    /// The storage failed or refused the change (a stale version is [`RepoError::Stale`]).
    #[error(transparent)]
    Repo(#[from] RepoError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audited_fields_are_the_admin_view_without_the_id() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("instant")
                .with_timezone(&Utc)
        };
        let session = AdminClassSession {
            id: 7,
            starts_at: at("2026-12-01T09:00:00Z"),
            ends_at: at("2026-12-01T10:00:00Z"),
            status: SessionStatus::Cancelled,
            capacity: 12,
            location_id: 1,
            program_type_id: 2,
            trainer_id: 3,
            membership_plan_id: None,
            cancellation_reason: Some("Болезнь".to_owned()),
            timetable_slot_id: None,
            edited_by_hand: true,
            version: 4,
        };
        assert_eq!(
            Value::Object(session.fields()),
            serde_json::json!({
                "starts_at": "2026-12-01T09:00:00Z", "ends_at": "2026-12-01T10:00:00Z",
                "status": "cancelled", "capacity": 12, "location_id": 1, "program_type_id": 2,
                "trainer_id": 3, "membership_plan_id": null, "cancellation_reason": "Болезнь",
                "timetable_slot_id": null,
            })
        );
        assert_eq!(ClassSessionFields::of(&session).status, session.status);
    }
}
