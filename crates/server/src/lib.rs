//! The composition root of the Cohai Stretching server: settings, logging, database, services
//! and the HTTP server. `cohai-bootstrap` and the end-to-end tests reuse these pieces.

pub mod compose;
pub mod logging;
pub mod server;
pub mod settings;

pub use settings::Settings;
