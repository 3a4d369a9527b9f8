//! What every handler can reach: the services and the web settings.

use std::net::IpAddr;
use std::sync::Arc;

use cohai_services::{
    AuditService, CatalogAdminServices, CatalogService, HealthService, LeadService, ScheduleService,
};

use crate::auth::AdminKeys;
use crate::metrics::Metrics;

/// Settings of the HTTP layer, built from the programs' settings (`cohai_config::Settings`,
/// where every default is) by `cohai_server::compose::web_settings`.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Keys accepted on admin endpoints.
    pub admin_keys: AdminKeys,
    /// Whether `GET /api/v1/test-error` answers (with a deliberate 500).
    pub test_error_enabled: bool,
    /// `max-age` of public GET responses, in seconds.
    pub cache_max_age: u32,
    /// Lead submissions per minute per client IP (burst of the same size); 0 disables.
    pub lead_rate_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed for the client IP.
    pub trusted_proxies: Vec<IpAddr>,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Deadline for reading a whole request body (408 when missed).
    pub body_read_timeout: std::time::Duration,
    /// Origins allowed by CORS (the website's).
    pub cors_origins: Vec<String>,
    /// How long public GET responses are kept in the in-process cache; zero disables it.
    pub public_cache_ttl: std::time::Duration,
    /// Longest wait for a blocking worker thread before a request is answered 503.
    pub queue_timeout: std::time::Duration,
    /// The part after `@` of the calendar feed's event UIDs.
    pub calendar_uid_domain: String,
    /// Setting `webhooks.allow_private_targets`: webhook URLs may be `http` and point to
    /// loopback or private addresses (tests only; it turns off the SSRF protection).
    pub webhooks_allow_private_targets: bool,
    /// How long a session of the managers' console lasts from its sign-in (setting
    /// `console_session_minutes`, at least a minute).
    pub console_session_lifetime: std::time::Duration,
}

/// Services and settings shared by all workers.
pub struct AppState {
    /// Catalog reads.
    pub catalog: Arc<dyn CatalogService>,
    /// Timetable reads.
    pub schedule: Arc<dyn ScheduleService>,
    /// Leads.
    pub leads: Arc<dyn LeadService>,
    /// Catalog administration (locations, program types, trainers, plans).
    pub catalog_admin: CatalogAdminServices,
    /// Class-session administration.
    pub class_session_admin: Arc<dyn cohai_services::ClassSessionAdminService>,
    /// The weekly timetable: its slots and the sessions generated from them.
    pub timetable: cohai_services::TimetableServices,
    /// The audit log.
    pub audit: Arc<dyn AuditService>,
    /// Webhook administration and deliveries logs.
    pub webhooks: Arc<dyn cohai_services::WebhookAdmin>,
    /// Readiness and pool state.
    pub health: Arc<dyn HealthService>,
    /// Idempotency keys of `POST` requests (see [`crate::idempotency`]).
    pub idempotency: Arc<dyn cohai_services::IdempotencyService>,
    /// Sessions of the managers' console, kept in the database (so shared by every instance
    /// on it); they last [`WebSettings::console_session_lifetime`].
    pub console_sessions: Arc<dyn cohai_services::ConsoleSessionService>,
    /// Settings.
    pub settings: WebSettings,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Recently served public responses.
    pub cache: crate::response_cache::ResponseCache,
    /// Serialised admin lead-list pages.
    pub lead_list: crate::lead_list_cache::LeadListCache,
    /// The lead form's rate limit, shared by all workers (and, when it is kept in the
    /// database, by all instances); `None` when limiting is off.
    pub lead_rate_limit: Option<Arc<dyn cohai_services::ClientRateLimit>>,
    /// Sign-in attempts of the console per client address (like the lead form's limit: in
    /// the database when instances share it); `None` when off.
    pub sign_in_rate_limit: Option<Arc<dyn cohai_services::ClientRateLimit>>,
}
