//! Use cases of the Cohai Stretching backend, as synchronous service traits over the
//! domain's repository ports.
//!
//! The traits are what the web layer sees (`Arc<dyn CatalogService>` and so on); the
//! implementations here take the repositories they need. Calls block (storage is
//! synchronous): async callers run them on a blocking pool.

pub mod audit;
mod catalog;
pub mod catalog_admin;
pub mod class_session_admin;
pub mod console_sessions;
mod error;
mod health;
pub mod idempotency;
pub mod leads;
#[cfg(feature = "openapi")]
mod openapi;
pub mod public_changes;
pub mod rate_limit;
mod schedule;
pub mod timetable;
pub mod timetable_slots;
pub mod webhooks;

pub use audit::{AuditService, AuditServiceImpl};
pub use catalog::{CatalogService, CatalogServiceImpl};
pub use catalog_admin::{AdminCatalogService, CatalogAdminServices};
pub use class_session_admin::{ClassSessionAdmin, ClassSessionAdminService};
pub use console_sessions::{
    ConsoleSession, ConsoleSessionService, ConsoleSessionServiceImpl, OpenedSession,
};
pub use error::{ServiceError, ServiceResult};
pub use health::{HealthService, HealthServiceImpl};
pub use idempotency::{IdempotencyService, IdempotencyServiceImpl};
pub use leads::{
    AdminLeadForm, LeadForm, LeadPatch, LeadService, LeadServiceImpl, PersonalData, SubmitOutcome,
};
pub use public_changes::PublicChanges;
pub use rate_limit::{ClientRateLimit, InMemoryRateLimit, SharedRateLimit};
pub use schedule::{
    CalendarEntry, CalendarQuery, ScheduleQuery, ScheduleService, ScheduleServiceImpl,
};
pub use timetable::{
    ApplyInput, GenerateInput, TimetableService, TimetableServiceImpl, TimetableServices,
};
pub use timetable_slots::{TimetableSlotAdmin, TimetableSlotInput};
pub use webhooks::{
    CreatedWebhook, WebhookAdmin, WebhookAdminService, WebhookInput, WebhookSecret,
};
