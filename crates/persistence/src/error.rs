//! Mapping of driver errors to the domain's [`RepoError`].

use cohai_domain::RepoError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// An error inside a persistence operation: either from Diesel or already a domain error
/// (e.g. a failed version check inside a transaction).
#[derive(Debug)]
pub(crate) enum StoreError {
    Diesel(DieselError),
    Repo(RepoError),
}

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> Self {
        Self::Diesel(e)
    }
}

impl From<RepoError> for StoreError {
    fn from(e: RepoError) -> Self {
        Self::Repo(e)
    }
}

impl From<StoreError> for RepoError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Diesel(e) => map_diesel(e),
            StoreError::Repo(e) => e,
        }
    }
}

/// Classifies a Diesel error; constraint names and messages go into the error for logs.
pub(crate) fn map_diesel(error: DieselError) -> RepoError {
    match error {
        DieselError::DatabaseError(kind, info) => {
            let detail = info
                .constraint_name()
                .map_or_else(|| info.message().to_owned(), str::to_owned);
            match kind {
                // An exclusion constraint (PostgreSQL's SQLSTATE 23P01, e.g. a trainer's
                // overlapping sessions) is a conflict like a duplicate.
                DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::ExclusionViolation => {
                    RepoError::Conflict(detail)
                }
                DatabaseErrorKind::ForeignKeyViolation => RepoError::MissingReference(detail),
                DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation => {
                    RepoError::Invalid(detail)
                }
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    RepoError::Unavailable(info.message().to_owned())
                }
                _ if is_busy(info.message()) => RepoError::Unavailable(info.message().to_owned()),
                _ => RepoError::Internal(info.message().to_owned()),
            }
        }
        DieselError::BrokenTransactionManager => {
            RepoError::Unavailable("broken transaction".to_owned())
        }
        other => RepoError::Internal(other.to_string()),
    }
}

/// SQLite reports lock time-outs only by message.
fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

/// Maps a pool check-out failure (time-out, cannot connect).
pub(crate) fn map_pool(error: r2d2::Error) -> RepoError {
    RepoError::Unavailable(error.to_string())
}
