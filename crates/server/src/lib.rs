//! The composition root of the Cohai Stretching server: database, services and the HTTP
//! server, from the settings of `cohai-config`. The end-to-end tests reuse these pieces.

pub mod compose;
pub mod horizon;
pub mod notifications;
pub mod periodic;
pub mod purge;
pub mod server;

pub use cohai_config::Settings;
