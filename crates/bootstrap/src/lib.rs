//! The logic of `cohai-bootstrap`, the database tool of the Cohai Stretching backend:
//! applying migrations, checking the schema, loading demo data and generating large
//! synthetic data for benchmarks, and copying an SQLite database.
//!
//! The binary (`src/main.rs`) only parses the command line, loads the server's settings and
//! prints what these functions return, so everything here can be tested on a throw-away
//! database. Everything blocks: it talks to the database through the synchronous
//! repositories of `cohai-persistence`.

pub mod backup;
pub mod demo_data;
pub mod demo_timetable;
pub mod error;
pub mod generate;
pub mod progress;
pub mod seed;

use cohai_persistence::{Database, Mismatch};

pub use backup::backup;
pub use error::{BootstrapError, Result};
pub use generate::{GenerateOptions, GenerateReport, generate};
pub use progress::{Bars, NoProgress, Progress};
pub use seed::{SeedReport, Tally, seed};

/// Applies pending migrations; returns the names of those applied (empty when none was
/// pending).
pub fn migrate(db: &Database) -> Result<Vec<String>> {
    Ok(db.migrate()?)
}

/// Compares the database with every table and column the code maps; an empty list means
/// that they match.
pub fn check(db: &Database) -> Result<Vec<Mismatch>> {
    Ok(db.check()?)
}
