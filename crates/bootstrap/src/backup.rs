//! `backup`: a consistent copy of an SQLite database, taken while the server runs.

use std::path::Path;

use cohai_persistence::{Database, DatabaseUrl, PersistenceError};
use diesel::connection::SimpleConnection;

use crate::error::{BootstrapError, Result};

/// Writes a consistent copy of the SQLite database to `output` with `VACUUM INTO` (readers
/// and writers carry on meanwhile); creates `output`'s folder. Returns the copy's size in
/// bytes. Fails when `output` already exists, and on PostgreSQL (use `pg_dump` there).
pub fn backup(db: &Database, output: &Path) -> Result<u64> {
    if let DatabaseUrl::Postgres(_) = db.url() {
        return Err(BootstrapError::InvalidOptions(
            "backup copies SQLite databases; use pg_dump for PostgreSQL".to_owned(),
        ));
    }
    if output.exists() {
        return Err(BootstrapError::InvalidOptions(format!(
            "{} already exists",
            output.display()
        )));
    }
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| BootstrapError::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let target = output.to_string_lossy().replace('\'', "''");
    let mut conn = db.pool().get().map_err(PersistenceError::from)?;
    conn.batch_execute(&format!("VACUUM INTO '{target}'"))
        .map_err(PersistenceError::from)?;
    let size = std::fs::metadata(output)
        .map_err(|source| BootstrapError::Io {
            path: output.display().to_string(),
            source,
        })?
        .len();
    Ok(size)
}
