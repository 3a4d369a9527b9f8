//! The error type of the bootstrap library.

use cohai_domain::{RepoError, RepoResult};
use cohai_persistence::PersistenceError;

/// Result of a bootstrap operation.
pub type Result<T, E = BootstrapError> = std::result::Result<T, E>;

/// Why a bootstrap operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// Opening, migrating or checking the database failed.
    #[error(transparent)]
    Persistence(#[from] PersistenceError),
    /// A repository call failed; `action` says what was being done.
    #[error("{action}")]
    Repo {
        /// What was being done, e.g. `creating location "Cohai Таганская"`.
        action: String,
        /// The repository's error.
        #[source]
        source: RepoError,
    },
    /// Changing a class session through the admin's path failed.
    #[error("{action}")]
    Session {
        /// What was being done, e.g. `cancelling the demo class session 12`.
        action: String,
        /// The repository's error.
        #[source]
        source: cohai_domain::SessionWriteError,
    },
    /// A stored location names a time zone that is not in the IANA database.
    #[error("location {location:?} has an unknown time zone {timezone:?}")]
    UnknownTimeZone {
        /// The location's name.
        location: String,
        /// The stored time zone.
        timezone: String,
    },
    /// The requested sizes or settings cannot be honoured.
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The built-in demo data breaks a domain rule (a bug in this crate).
    #[error("invalid demo data: {0}")]
    InvalidData(String),
}

/// Attaches a description of the failed action to a repository error.
pub(crate) trait RepoContext<T> {
    /// Maps the error to [`BootstrapError::Repo`] with the action `describe` returns.
    fn context(self, describe: impl FnOnce() -> String) -> Result<T>;
}

impl<T> RepoContext<T> for RepoResult<T> {
    fn context(self, describe: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| BootstrapError::Repo {
            action: describe(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_errors_keep_their_cause_as_the_source() {
        let err = Err::<(), _>(RepoError::Conflict("locations_name_key".into()))
            .context(|| "creating location \"X\"".to_owned())
            .expect_err("an error");
        assert_eq!(err.to_string(), "creating location \"X\"");
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(
            source.as_deref(),
            Some("conflict: locations_name_key"),
            "{err:?}"
        );
    }
}
