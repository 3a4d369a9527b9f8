//! The services' error type: what went wrong, in terms the HTTP edge can map once.

use cohai_domain::{FieldErrors, RepoError};

/// Result of a service call.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// Why a service call failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The named resource (or a resource named by a filter) does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// What kind of thing, e.g. `location`.
        entity: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// A query or path parameter is out of range or inconsistent.
    #[error("{message}")]
    InvalidParameter {
        /// The parameter's name.
        parameter: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Field values are invalid.
    #[error("validation failed")]
    Validation(FieldErrors),
    /// A uniqueness or state conflict.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A conflict with one other row, which the client is told: `message` is for people (no
    /// internals), and `key` and `id` name the row (e.g. `class_session_id` 12).
    #[error("conflict: {message}")]
    ConflictWith {
        /// What conflicts, in words.
        message: String,
        /// The name of the other row's id, e.g. `class_session_id`.
        key: &'static str,
        /// The other row's id.
        id: i64,
    },
    /// The caller's version of the resource is stale.
    #[error("the resource has changed")]
    PreconditionFailed,
    /// The database cannot be reached; the detail is for logs.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything unexpected; the detail is for logs, never for clients.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// `NotFound` for `entity` `id`.
    pub fn not_found(entity: &'static str, id: i64) -> Self {
        Self::NotFound { entity, id }
    }

    /// `InvalidParameter` for `parameter`.
    pub fn invalid_parameter(parameter: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidParameter {
            parameter,
            message: message.into(),
        }
    }
}

impl From<RepoError> for ServiceError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::Unavailable(detail) => Self::Unavailable(detail),
            RepoError::Stale => Self::PreconditionFailed,
            RepoError::Conflict(detail) => Self::Conflict(detail),
            // Values are validated, and references checked, before writing: a constraint
            // the database enforces only fires on a gap in that validation — a bug to log —
            // but the client's values are still what was refused, so it is a 422, never a 500.
            RepoError::MissingReference(detail) => {
                log::error!("a foreign key refused a write (unchecked reference): {detail}");
                Self::Validation(constraint_violation())
            }
            RepoError::Invalid(detail) => {
                log::error!("a database constraint refused a write (validation gap): {detail}");
                Self::Validation(constraint_violation())
            }
            RepoError::Internal(detail) => Self::Internal(detail),
        }
    }
}

/// The field errors for a write a database constraint refused: the database does not say
/// which field in a form fit for clients, so the whole body is named.
fn constraint_violation() -> FieldErrors {
    let mut errors = FieldErrors::new();
    errors.add("body", "the values were refused by a rule of the database");
    errors
}

impl From<FieldErrors> for ServiceError {
    fn from(e: FieldErrors) -> Self {
        Self::Validation(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_violations_are_client_errors_never_internal() {
        for refused in [
            RepoError::Invalid("CHECK constraint failed: length(name) BETWEEN 1 AND 100".into()),
            RepoError::MissingReference("leads_location_id_fkey".into()),
        ] {
            match ServiceError::from(refused) {
                ServiceError::Validation(fields) => {
                    assert!(!fields.is_empty());
                    let text = format!("{fields:?}");
                    assert!(!text.contains("CHECK") && !text.contains("fkey"), "{text}");
                }
                other => panic!("expected a validation error, got {other:?}"),
            }
        }
        assert!(matches!(
            ServiceError::from(RepoError::Conflict("locations_name_key".into())),
            ServiceError::Conflict(_)
        ));
        assert!(matches!(
            ServiceError::from(RepoError::Internal("boom".into())),
            ServiceError::Internal(_)
        ));
    }
}
