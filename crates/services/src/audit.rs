//! The audit log of catalog changes, for the admin API.

use std::sync::Arc;

use cohai_domain::ports::AuditRepository;
use cohai_domain::{AuditFilter, AuditPage};

use crate::ServiceResult;

/// Largest page of the audit log.
pub const MAX_AUDIT_PAGE: i64 = 200;

/// Reading the audit log.
pub trait AuditService: Send + Sync {
    /// A filtered page, newest first (an unknown actor simply matches nothing).
    fn list(&self, filter: &AuditFilter) -> ServiceResult<AuditPage>;
}

/// [`AuditService`] over the audit repository.
pub struct AuditServiceImpl {
    audit: Arc<dyn AuditRepository>,
}

impl AuditServiceImpl {
    /// The service over `audit`.
    pub fn new(audit: Arc<dyn AuditRepository>) -> Self {
        Self { audit }
    }
}

impl AuditService for AuditServiceImpl {
    fn list(&self, filter: &AuditFilter) -> ServiceResult<AuditPage> {
        Ok(self.audit.search(filter)?)
    }
}
