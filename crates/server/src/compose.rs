//! Composition: from settings to an opened database and the web layer's state.

use std::sync::Arc;

use actix_web::web;
use cohai_persistence::{Database, DatabaseUrl, PersistenceError, Repositories};
use cohai_services::{CatalogServiceImpl, HealthServiceImpl, LeadServiceImpl, ScheduleServiceImpl};
use cohai_web::auth::AdminKeyError;
use cohai_web::response_cache::ResponseCache;
use cohai_web::{AdminKey, AdminKeys, AppState, Metrics, WebSettings};

use cohai_config::{KeyRole, Settings};
use cohai_domain::{LeadScope, Role};

/// The version compiled into the binaries.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit, when the build environment provided `COHAI_GIT_COMMIT`.
pub const GIT_COMMIT: &str = match option_env!("COHAI_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// Why the application could not be put together.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// An admin key in the configuration is malformed.
    #[error("admin key configuration: {0}")]
    AdminKey(#[from] AdminKeyError),
    /// Metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus_error::Error),
    /// The console sessions' lifetime is longer than an instant can be moved.
    #[error("console_session_minutes is out of range: {0}")]
    ConsoleSessionLifetime(String),
}

mod prometheus_error {
    /// Wraps the metrics registry's error without exposing the crate to callers.
    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    pub struct Error(pub String);
}

/// Opens the configured database (the SQLite file and folder are created if missing).
pub fn open_database(settings: &Settings) -> Result<Database, PersistenceError> {
    Database::open(DatabaseUrl::parse(&settings.database_url), &settings.pool())
}

/// The admin keys: `admin_api_key` (named `admin`) and `admin_keys` (by digest).
pub fn admin_keys(settings: &Settings) -> Result<AdminKeys, AdminKeyError> {
    let mut keys = Vec::new();
    if !settings.admin_api_key.is_empty() {
        keys.push(AdminKey::from_plain("admin", &settings.admin_api_key)?);
    }
    for key in &settings.admin_keys {
        let role = match key.role {
            KeyRole::Admin => Role::Admin,
            KeyRole::Manager => Role::Manager,
        };
        let scope = LeadScope::from_locations(key.locations.as_deref());
        keys.push(AdminKey::from_sha256_hex(&key.name, &key.sha256)?.with_access(role, scope)?);
    }
    AdminKeys::new(keys)
}

/// The web layer's settings.
pub fn web_settings(settings: &Settings) -> Result<WebSettings, AdminKeyError> {
    Ok(WebSettings {
        admin_keys: admin_keys(settings)?,
        test_error_enabled: settings.test_error_enabled,
        cache_max_age: settings.cache_max_age,
        lead_rate_per_minute: settings.lead_rate_per_minute,
        trusted_proxies: settings.trusted_proxies.clone(),
        body_limit: settings.body_limit,
        body_read_timeout: std::time::Duration::from_millis(settings.body_read_timeout_ms.max(1)),
        cors_origins: settings.cors_origins.clone(),
        public_cache_ttl: std::time::Duration::from_millis(settings.public_cache_ttl_ms),
        queue_timeout: std::time::Duration::from_millis(settings.database.pool_timeout_ms.max(1)),
        calendar_uid_domain: settings.calendar.uid_domain.clone(),
        webhooks_allow_private_targets: settings.webhooks.allow_private_targets,
        console_session_lifetime: std::time::Duration::from_secs(
            60 * u64::from(settings.console_session_minutes.max(1)),
        ),
    })
}

/// Console sign-in attempts a client address may make a minute (all at once, then one every
/// six seconds): ample for people, slow for guessing a key.
pub const SIGN_IN_ATTEMPTS_PER_MINUTE: u32 = 10;

/// A per-client rate limit of `per_minute` (`None`: off) under `namespace`: kept in the
/// database when several instances may share it (PostgreSQL), so that they count together;
/// else in memory.
fn client_rate_limit(
    repos: &Repositories,
    per_minute: u32,
    namespace: &'static str,
) -> Option<Arc<dyn cohai_services::ClientRateLimit>> {
    let quota = cohai_domain::rate_limit::RateQuota::per_minute(per_minute)?;
    Some(if repos.shared_by_instances {
        Arc::new(cohai_services::SharedRateLimit::in_namespace(
            quota,
            repos.rate_limits.clone(),
            namespace,
        ))
    } else {
        Arc::new(cohai_services::InMemoryRateLimit::new(quota))
    })
}

/// The services over `repos`, and the state every HTTP worker shares.
pub fn app_state(
    repos: &Repositories,
    web_settings: WebSettings,
    lead_list_cache_ttl: std::time::Duration,
) -> Result<web::Data<AppState>, ComposeError> {
    let catalog = Arc::new(CatalogServiceImpl::new(
        repos.locations.clone(),
        repos.program_types.clone(),
        repos.trainers.clone(),
        repos.membership_plans.clone(),
    ));
    let schedule = Arc::new(ScheduleServiceImpl::new(
        repos.class_sessions.clone(),
        repos.locations.clone(),
        repos.program_types.clone(),
        repos.trainers.clone(),
    ));
    // The configured keys are who may own a lead (`assignee`).
    let leads = Arc::new(LeadServiceImpl::new(
        repos.leads.clone(),
        repos.locations.clone(),
        repos.program_types.clone(),
        repos.class_sessions.clone(),
        web_settings.admin_keys.directory(),
    ));
    // Every service that writes public data counts its writes here, and the public response
    // cache serves only what it loaded since the last one.
    let public_changes = cohai_services::PublicChanges::new();
    let catalog_admin = cohai_services::CatalogAdminServices::new(
        repos.locations.clone(),
        repos.program_types.clone(),
        repos.trainers.clone(),
        repos.membership_plans.clone(),
        &public_changes,
    );
    let class_session_admin = Arc::new(cohai_services::ClassSessionAdmin::new(
        repos.class_session_admin.clone(),
        repos.locations.clone(),
        repos.program_types.clone(),
        repos.trainers.clone(),
        repos.membership_plans.clone(),
        public_changes.clone(),
    ));
    let timetable = cohai_services::TimetableServices::new(
        repos.timetable_slots.clone(),
        repos.timetable.clone(),
        repos.locations.clone(),
        repos.program_types.clone(),
        repos.trainers.clone(),
        &public_changes,
    );
    let audit = Arc::new(cohai_services::AuditServiceImpl::new(repos.audit.clone()));
    let webhooks = Arc::new(cohai_services::WebhookAdminService::new(
        repos.webhooks.clone(),
        web_settings.webhooks_allow_private_targets,
    ));
    let health = Arc::new(HealthServiceImpl::new(repos.health.clone()));
    let idempotency = Arc::new(cohai_services::IdempotencyServiceImpl::new(
        repos.idempotency.clone(),
    ));
    let console_sessions = Arc::new(cohai_services::ConsoleSessionServiceImpl::new(
        repos.console_sessions.clone(),
        chrono::Duration::from_std(web_settings.console_session_lifetime)
            .map_err(|e| ComposeError::ConsoleSessionLifetime(e.to_string()))?,
    ));
    let pool_stats: cohai_web::metrics::PoolStatsSource = {
        let health = Arc::clone(&health);
        Arc::new(move || cohai_services::HealthService::pool_stats(&*health))
    };
    let metrics = Metrics::new(VERSION, GIT_COMMIT, pool_stats)
        .map_err(|e| prometheus_error::Error(e.to_string()))?;
    let cache = ResponseCache::new(web_settings.public_cache_ttl, public_changes);
    let lead_rate_limit = client_rate_limit(repos, web_settings.lead_rate_per_minute, "lead");
    let sign_in_rate_limit = client_rate_limit(repos, SIGN_IN_ATTEMPTS_PER_MINUTE, "sign_in");
    Ok(web::Data::new(AppState {
        catalog,
        schedule,
        leads,
        catalog_admin,
        class_session_admin,
        timetable,
        audit,
        webhooks,
        health,
        idempotency,
        console_sessions,
        settings: web_settings,
        metrics,
        cache,
        lead_list: cohai_web::lead_list_cache::LeadListCache::new(lead_list_cache_ttl),
        lead_rate_limit,
        sign_in_rate_limit,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_sessions_last_twelve_hours_by_default_and_at_least_a_minute() {
        let lifetime = |minutes| {
            let settings = Settings {
                console_session_minutes: minutes,
                ..Settings::default()
            };
            web_settings(&settings)
                .expect("valid settings")
                .console_session_lifetime
        };
        assert_eq!(
            web_settings(&Settings::default())
                .expect("valid settings")
                .console_session_lifetime,
            std::time::Duration::from_secs(12 * 60 * 60)
        );
        assert_eq!(lifetime(0), std::time::Duration::from_secs(60));
        assert_eq!(lifetime(30), std::time::Duration::from_secs(30 * 60));
    }
}
