//! The admin API (bearer-key authenticated).

pub mod audit;
pub(crate) mod catalog;
pub mod leads;
pub mod locations;
pub mod memberships;
pub mod program_types;
pub mod trainers;
