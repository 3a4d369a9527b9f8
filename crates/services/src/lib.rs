//! Use cases of the Cohai Stretching backend, as synchronous service traits over the
//! domain's repository ports.
//!
//! The traits are what the web layer sees (`Arc<dyn CatalogService>` and so on); the
//! implementations here take the repositories they need. Calls block (storage is
//! synchronous): async callers run them on a blocking pool.

pub mod audit;
mod catalog;
pub mod catalog_admin;
mod error;
mod health;
pub mod leads;
#[cfg(feature = "openapi")]
mod openapi;
mod schedule;

pub use audit::{AuditService, AuditServiceImpl};
pub use catalog::{CatalogService, CatalogServiceImpl};
pub use catalog_admin::{AdminCatalogService, CatalogAdminServices};
pub use error::{ServiceError, ServiceResult};
pub use health::{HealthService, HealthServiceImpl};
pub use leads::{AdminLeadForm, LeadForm, LeadPatch, LeadService, LeadServiceImpl, SubmitOutcome};
pub use schedule::{
    CalendarEntry, CalendarQuery, ScheduleQuery, ScheduleService, ScheduleServiceImpl,
};
