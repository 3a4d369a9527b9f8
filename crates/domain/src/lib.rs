//! Domain model of the Cohai Stretching backend.
//!
//! Entities, value types with their rules, and the repository traits (ports) that the
//! persistence layer implements. This crate does no I/O and knows nothing of Diesel or actix.

pub mod access;
pub mod audit;
pub mod catalog;
pub mod class_session_admin;
pub mod console_session;
pub mod error;
pub mod idempotency;
pub mod instant_json;
pub mod lead;
pub mod lead_stats;
pub mod outbox;
pub mod phone;
pub mod ports;
pub mod rate_limit;
pub mod schedule;
pub mod text;
pub mod time;
pub mod timetable;
pub mod webhook_secret;
pub mod webhook_target;

pub use access::{LeadScope, Principal, Role, StaffDirectory};
pub use audit::{AuditAction, AuditEntity, AuditEntry, AuditFilter, AuditPage, Audited};
pub use catalog::{
    Location, MembershipPlan, Money, NewLocation, NewMembershipPlan, NewProgramType, NewTrainer,
    ProgramLevel, ProgramType, Trainer,
};
pub use class_session_admin::{
    AdminClassSession, AdminSessionFilter, AdminSessionPage, ClassSessionFields, SessionWriteError,
};
pub use error::{FieldErrors, RepoError, RepoResult};
pub use lead::{
    AssigneeFilter, Lead, LeadChanges, LeadCursor, LeadEvent, LeadEventKind, LeadFilter,
    LeadHistory, LeadPage, LeadReference, LeadSort, LeadSource, LeadStatus, NewLead, NewLeadEvent,
    OverdueFilter, Submission, UpdatePlan, WEBSITE_ACTOR,
};
pub use lead_stats::{LeadCounts, LeadStats, LeadStatsFilter};
pub use phone::{Phone, PhoneError};
pub use schedule::{
    ClassSession, LocationRef, MAX_CANCELLATION_REASON_CHARS, NewClassSession, ProgramTypeRef,
    ScheduleFilter, SessionStatus, TrainerRef,
};
pub use time::{TimeWindow, TimeWindowError};
pub use timetable::{
    ApplyReport, GenerationReport, GenerationRun, NewTimetableSlot, OccurrenceConflict, StartTime,
    TimetableSlot,
};

/// Defines a string-backed enum with its wire names, `Display` and `FromStr`.
///
/// The wire names are what the API, the database CHECK constraints and the tests share,
/// so they are written once here.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire (and database) name of this value.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::UnknownValue;

            /// Parses the exact wire name (case-sensitive).
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    other => Err($crate::error::UnknownValue {
                        kind: stringify!($name),
                        value: other.to_owned(),
                    }),
                }
            }
        }
    };
}
pub(crate) use string_enum;
