//! Errors shared by the ports.

use std::collections::BTreeMap;

/// Result of a repository call.
pub type RepoResult<T> = Result<T, RepoError>;

/// What a repository (the persistence layer) can report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    /// A uniqueness or state constraint was violated (e.g. a duplicate name).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A referenced row does not exist; carries the field (foreign key column) when known.
    #[error("referenced row does not exist: {0}")]
    MissingReference(String),
    /// A CHECK or NOT NULL constraint rejected the values.
    #[error("constraint violated: {0}")]
    Invalid(String),
    /// An optimistic concurrency check failed (the row changed since it was read).
    #[error("the row was changed concurrently")]
    Stale,
    /// The database cannot be reached (pool timeout, connection refused).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else; the message is for logs only, never for clients.
    #[error("database error: {0}")]
    Internal(String),
}

/// A string that is not one of an enum's wire names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} value {value:?}")]
pub struct UnknownValue {
    /// The enum's name.
    pub kind: &'static str,
    /// The rejected input.
    pub value: String,
}

/// Validation messages per field, as the API's `error.fields` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub BTreeMap<String, Vec<String>>);

impl FieldErrors {
    /// An empty set of errors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `message` against `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// True when no field has an error.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when empty, else `Err(self)`.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl From<validator::ValidationErrors> for FieldErrors {
    fn from(errors: validator::ValidationErrors) -> Self {
        let mut out = FieldErrors::new();
        for (field, errs) in errors.field_errors() {
            for err in errs {
                let message = err
                    .message
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| format!("invalid value ({})", err.code));
                out.add(&field, message);
            }
        }
        out
    }
}
