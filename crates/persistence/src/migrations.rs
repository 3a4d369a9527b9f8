//! Embedded migrations, one set per backend with the same names.

use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::connection::AnyConnection;

/// SQLite migrations (`migrations/sqlite`).
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
/// PostgreSQL migrations (`migrations/postgres`).
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Session-level advisory lock key taken while migrating PostgreSQL, so that several
/// servers starting at once migrate one at a time (the others then find nothing pending).
const MIGRATION_LOCK_KEY: i64 = 0x00c0_4a10_0001;

/// A migration failed.
#[derive(Debug, thiserror::Error)]
#[error("migration failed: {0}")]
pub struct MigrationError(String);

fn migration_error(e: impl std::fmt::Display) -> MigrationError {
    MigrationError(e.to_string())
}

/// Applies pending migrations; returns the names of those applied.
pub fn run_pending(conn: &mut AnyConnection) -> Result<Vec<String>, MigrationError> {
    let applied = match conn {
        AnyConnection::Postgresql(pg) => {
            pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                .map_err(migration_error)?;
            let result = pg
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(ToString::to_string).collect());
            pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                .map_err(migration_error)?;
            result
        }
        AnyConnection::Sqlite(lite) => lite
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.iter().map(ToString::to_string).collect()),
    };
    applied.map_err(migration_error)
}

/// True when some migration is not yet applied.
pub fn has_pending(conn: &mut AnyConnection) -> Result<bool, MigrationError> {
    match conn {
        AnyConnection::Postgresql(pg) => pg.has_pending_migration(POSTGRES_MIGRATIONS),
        AnyConnection::Sqlite(lite) => lite.has_pending_migration(SQLITE_MIGRATIONS),
    }
    .map_err(migration_error)
}

/// Reverts every applied migration (newest first); returns how many were reverted.
pub fn revert_all(conn: &mut AnyConnection) -> Result<usize, MigrationError> {
    match conn {
        AnyConnection::Postgresql(pg) => pg.revert_all_migrations(POSTGRES_MIGRATIONS),
        AnyConnection::Sqlite(lite) => lite.revert_all_migrations(SQLITE_MIGRATIONS),
    }
    .map(|v| v.len())
    .map_err(migration_error)
}
