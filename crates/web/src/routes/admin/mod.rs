//! The admin API (bearer-key authenticated).

pub mod audit;
pub(crate) mod catalog;
pub mod class_sessions;
pub mod lead_export;
pub mod lead_stats;
pub mod leads;
pub mod locations;
pub mod memberships;
pub mod personal_data;
pub mod program_types;
pub mod timetable;
pub mod timetable_slots;
pub mod trainers;
pub mod webhooks;
