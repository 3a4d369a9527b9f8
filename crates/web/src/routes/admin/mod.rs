//! The admin API (bearer-key authenticated).

pub mod leads;
