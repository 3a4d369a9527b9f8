//! Class sessions: the timetable.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{TimeWindow, string_enum};

string_enum! {
    /// Whether a session takes place.
    SessionStatus {
        /// Planned.
        Scheduled => "scheduled",
        /// Called off; still listed so the site can strike it through.
        Cancelled => "cancelled",
    }
}

/// Longest `cancellation_reason`, in characters (the database refuses longer ones too).
pub const MAX_CANCELLATION_REASON_CHARS: usize = 500;

/// The location of a session, as the schedule shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocationRef {
    /// Location id.
    pub id: i64,
    /// Location name.
    pub name: String,
    /// IANA time zone.
    pub timezone: String,
}

/// The program type of a session, as the schedule shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProgramTypeRef {
    /// Program type id.
    pub id: i64,
    /// Program type name.
    pub name: String,
}

/// The trainer of a session, as the schedule shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrainerRef {
    /// Trainer id.
    pub id: i64,
    /// Trainer's full name.
    pub full_name: String,
}

/// One class in the timetable, with its location, program type and trainer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClassSession {
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
    /// Places in the class.
    pub capacity: i32,
    /// Where.
    pub location: LocationRef,
    /// What.
    pub program_type: ProgramTypeRef,
    /// Who teaches.
    pub trainer: TrainerRef,
    /// The plan this session belongs to, if any.
    pub membership_plan_id: Option<i64>,
    /// Why the session was cancelled (only ever set on a cancelled session).
    pub cancellation_reason: Option<String>,
    /// Incremented on every change of the session: the calendar feed's `SEQUENCE` and the
    /// basis of the session's admin `ETag`.
    #[serde(skip)]
    pub version: i64,
}

/// Fields of a new class session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClassSession {
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
    /// Places, > 0.
    pub capacity: i32,
    /// Status.
    pub status: SessionStatus,
}

/// What the schedule endpoint asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleFilter {
    /// Only this location.
    pub location_id: Option<i64>,
    /// Only this program type.
    pub program_type_id: Option<i64>,
    /// Only this trainer.
    pub trainer_id: Option<i64>,
    /// Sessions starting inside this window.
    pub window: TimeWindow,
}
