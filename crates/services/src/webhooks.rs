//! Webhook administration (API.md §7): register, change and delete the receivers of the
//! outbox's events, read a webhook's deliveries log, and ask for an event again.
//!
//! **The URL** must pass [`parse_target`] (https; no credentials or fragment; an IP literal
//! host that is on the public Internet) and, when its host is a name, that name must resolve
//! to addresses [`check_resolved`] accepts: all of them public. Both are checked when a
//! webhook is registered and whenever a `PATCH` sends `url`; the dispatcher checks again at
//! every delivery (a name can change what it resolves to). Setting
//! `webhooks.allow_private_targets` lifts the address rule and admits `http` (tests only).
//!
//! **The secret** is `whsec_` and 64 lower-case hex digits from the operating system's CSPRNG,
//! shown once in the creating reply. Only its SHA-256 is stored, as the HMAC key: the secret is
//! 70 bytes, longer than SHA-256's 64-byte block, so RFC 2104 hashes it before use and
//! `HMAC(secret, m) == HMAC(SHA-256(secret), m)`. Receivers verify with the secret; the
//! server signs with the hash and never sees the secret again. Neither is ever logged,
//! audited or part of any other reply ([`WebhookSecret`] does not even print in `Debug`).

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use cohai_domain::outbox::{
    DeliveryAttemptPage, EventType, NewWebhook, Webhook, WebhookChanges, WebhookRepository,
};
use cohai_domain::webhook_target::{check_resolved, parse_target};
use cohai_domain::{FieldErrors, RepoError};
use serde::Deserialize;

use crate::catalog_admin::{NOT_NULL, REQUIRED, input, present};
use crate::{ServiceError, ServiceResult};

/// Largest page of a deliveries log.
pub const MAX_DELIVERIES_PAGE: i64 = 200;
/// Default page of a deliveries log.
pub const DEFAULT_DELIVERIES_PAGE: i64 = 50;
/// Attempts of a change that keeps meeting concurrent changes.
const UPDATE_ATTEMPTS: usize = 5;

input! {
    /// A webhook's fields, as a `PATCH` sends them: absent fields stay, and none may be
    /// `null`. A `POST` sends the same fields with `url` and `events` required. Unknown
    /// fields are refused.
    WebhookInput {
        /// Where deliveries are POSTed: an absolute `https` URL (no user name, password or
        /// fragment, at most 2048 characters) whose host is not, and does not resolve to, a
        /// loopback, private, link-local or unique-local address; checked again at every
        /// delivery. Stored normalised (lower-case scheme and host, punycode, default port
        /// dropped).
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = "uri", min_length = 1, max_length = 2048, pattern = r"^[^\u0000-\u001F\u007F]+$", example = "https://hooks.example.com/cohai"))]
        url: String,
        /// The event types to receive: at least one, each once (a repeat is ignored); stored
        /// and shown in wire-name order.
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<EventType>, min_items = 1, example = json!(["lead.created", "lead.status_changed"])))]
        events: Vec<String>,
        /// Receives events; default `true`. Deactivating drops its pending deliveries;
        /// activating it gives it the events from then on.
        #[cfg_attr(feature = "openapi", schema(value_type = bool, default = true))]
        active: bool,
    }
}

impl WebhookInput {
    /// The fields a `POST` requires.
    pub const REQUIRED_ON_CREATE: &'static [&'static str] = &["url", "events"];
}

pub use cohai_domain::webhook_secret::{SECRET_PREFIX, WebhookSecret};

/// A webhook just registered, with its secret (the only time the secret is at hand).
#[derive(Debug, Clone)]
pub struct CreatedWebhook {
    /// The stored webhook.
    pub webhook: Webhook,
    /// Its secret.
    pub secret: WebhookSecret,
}

/// Looks up the addresses of a host name, for the registration check.
pub trait HostResolver: Send + Sync {
    /// The addresses `host` resolves to for a connection to `port`; empty when it does not
    /// resolve.
    fn resolve(&self, host: &str, port: u16) -> Vec<IpAddr>;
}

/// The operating system's resolver (`getaddrinfo`). It blocks: call it on a blocking thread,
/// as every service is.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl HostResolver for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> Vec<IpAddr> {
        use std::net::ToSocketAddrs as _;
        match (host, port).to_socket_addrs() {
            Ok(addresses) => addresses.map(|a| a.ip()).collect(),
            Err(e) => {
                // Only the host: the URL's path and query may hold the receiver's tokens.
                log::info!("webhook host {host} does not resolve: {e}");
                Vec::new()
            }
        }
    }
}

/// The admin operations on webhooks (API.md §7).
pub trait WebhookAdmin: Send + Sync {
    /// Every webhook, by id.
    fn list(&self) -> ServiceResult<Vec<Webhook>>;
    /// One webhook.
    fn get(&self, id: i64) -> ServiceResult<Webhook>;
    /// Registers a webhook (`url` and `events` required) and makes its secret.
    fn create(&self, input: WebhookInput, actor: &str) -> ServiceResult<CreatedWebhook>;
    /// Applies the fields present in `input`, optionally only when the webhook is still at
    /// `expected_version`. A missing webhook is `NotFound` before a stale version is
    /// `PreconditionFailed`, and both before the values are judged.
    fn update(
        &self,
        id: i64,
        input: WebhookInput,
        expected_version: Option<i64>,
        actor: &str,
    ) -> ServiceResult<Webhook>;
    /// Deletes a webhook with its deliveries and their log, optionally only at
    /// `expected_version`.
    fn delete(&self, id: i64, expected_version: Option<i64>, actor: &str) -> ServiceResult<()>;
    /// A page of the webhook's delivery attempts, newest first: `limit` 1–200, `offset` ≥ 0.
    fn deliveries(&self, id: i64, limit: i64, offset: i64) -> ServiceResult<DeliveryAttemptPage>;
    /// Delivers again the event of attempt `attempt_id` (of webhook `id`), as soon as the
    /// dispatcher gets to it, continuing its attempt count. `ConflictWith` when the webhook
    /// is inactive.
    fn redeliver(&self, id: i64, attempt_id: i64) -> ServiceResult<()>;
}

/// [`WebhookAdmin`] over the webhook repository.
pub struct WebhookAdminService {
    repo: Arc<dyn WebhookRepository>,
    allow_private_targets: bool,
    resolver: Arc<dyn HostResolver>,
}

impl WebhookAdminService {
    /// The service over `repo`, resolving with the system's resolver; `allow_private_targets`
    /// is the setting `webhooks.allow_private_targets`.
    pub fn new(repo: Arc<dyn WebhookRepository>, allow_private_targets: bool) -> Self {
        Self::with_resolver(repo, allow_private_targets, Arc::new(SystemResolver))
    }

    /// The service with another resolver (tests).
    pub fn with_resolver(
        repo: Arc<dyn WebhookRepository>,
        allow_private_targets: bool,
        resolver: Arc<dyn HostResolver>,
    ) -> Self {
        Self {
            repo,
            allow_private_targets,
            resolver,
        }
    }

    /// The normalised URL, or the message of why it is refused.
    fn check_url(&self, raw: &str) -> Result<String, String> {
        let target = parse_target(raw, self.allow_private_targets).map_err(|e| e.to_string())?;
        // An IP literal was judged by `parse_target`; a name is judged by what it resolves to.
        if target.ip_literal().is_none() {
            let addresses = self.resolver.resolve(target.host(), target.port());
            check_resolved(&addresses, self.allow_private_targets).map_err(|e| e.to_string())?;
        }
        Ok(target.url().to_owned())
    }

    /// The body's fields checked: `None` where absent (on create, absent `active` is `true`
    /// and absent `url` or `events` an error).
    fn check(&self, input: WebhookInput, creating: bool) -> Result<Checked, FieldErrors> {
        let mut errors = FieldErrors::new();
        if creating {
            for (field, absent) in [
                ("url", input.url.is_none()),
                ("events", input.events.is_none()),
            ] {
                if absent {
                    errors.add(field, REQUIRED);
                }
            }
        }
        let url = match input.url {
            None => None,
            Some(None) => {
                errors.add("url", NOT_NULL);
                None
            }
            Some(Some(raw)) => match self.check_url(&raw) {
                Ok(url) => Some(url),
                Err(message) => {
                    errors.add("url", message);
                    None
                }
            },
        };
        let events = match input.events {
            None => None,
            Some(None) => {
                errors.add("events", NOT_NULL);
                None
            }
            Some(Some(names)) => match event_types(&names) {
                Ok(events) => Some(events),
                Err(message) => {
                    errors.add("events", message);
                    None
                }
            },
        };
        let active = match input.active {
            None => creating.then_some(true),
            Some(None) => {
                errors.add("active", NOT_NULL);
                None
            }
            Some(Some(active)) => Some(active),
        };
        errors.into_result()?;
        Ok(Checked {
            url,
            events,
            active,
        })
    }
}

/// The checked fields of a body.
struct Checked {
    url: Option<String>,
    events: Option<Vec<EventType>>,
    active: Option<bool>,
}

/// The event types named, in wire-name order, each once; or why they are refused.
fn event_types(names: &[String]) -> Result<Vec<EventType>, String> {
    if names.is_empty() {
        return Err("must name at least one event type".to_owned());
    }
    let mut events = Vec::with_capacity(names.len());
    for name in names {
        // The message lists what is accepted and never echoes what was sent.
        let event = name.parse::<EventType>().map_err(|_| {
            let known: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
            format!("each must be one of {}", known.join(", "))
        })?;
        events.push(event);
    }
    events.sort_unstable_by_key(|e| e.as_str());
    events.dedup();
    Ok(events)
}

/// The current instant at the precision both databases store (microseconds).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl WebhookAdmin for WebhookAdminService {
    fn list(&self) -> ServiceResult<Vec<Webhook>> {
        Ok(self.repo.list()?)
    }

    fn get(&self, id: i64) -> ServiceResult<Webhook> {
        self.repo
            .get_by_id(id)?
            .ok_or_else(|| ServiceError::not_found("webhook", id))
    }

    fn create(&self, input: WebhookInput, actor: &str) -> ServiceResult<CreatedWebhook> {
        let checked = self.check(input, true)?;
        let (Some(url), Some(events), Some(active)) = (checked.url, checked.events, checked.active)
        else {
            return Err(ServiceError::Internal(
                "a checked webhook body lacks a required field".to_owned(),
            ));
        };
        let secret = WebhookSecret::generate();
        let new = NewWebhook {
            url,
            events,
            active,
            signing_key: secret.signing_key(),
        };
        let webhook = self.repo.create(&new, actor, now())?;
        Ok(CreatedWebhook { webhook, secret })
    }

    fn update(
        &self,
        id: i64,
        input: WebhookInput,
        expected_version: Option<i64>,
        actor: &str,
    ) -> ServiceResult<Webhook> {
        let mut current = self.get(id)?;
        if expected_version.is_some_and(|v| v != current.version) {
            return Err(ServiceError::PreconditionFailed);
        }
        let checked = self.check(input, false)?;
        for _ in 0..UPDATE_ATTEMPTS {
            // Only what differs from the webhook as read: the audit entry lists real changes,
            // and a body that changes nothing writes nothing.
            let changes = WebhookChanges {
                url: checked.url.clone().filter(|url| *url != current.url),
                events: checked
                    .events
                    .clone()
                    .filter(|events| *events != current.events),
                active: checked.active.filter(|active| *active != current.active),
            };
            if changes == WebhookChanges::default() {
                return Ok(current);
            }
            match self
                .repo
                .update(id, &changes, Some(current.version), actor, now())
            {
                Ok(Some(updated)) => return Ok(updated),
                Ok(None) => return Err(ServiceError::not_found("webhook", id)),
                // Without `If-Match`, a concurrent change is merged into, never overwritten.
                Err(RepoError::Stale) if expected_version.is_none() => current = self.get(id)?,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict(format!(
            "webhook {id} keeps changing concurrently"
        )))
    }

    fn delete(&self, id: i64, expected_version: Option<i64>, actor: &str) -> ServiceResult<()> {
        for _ in 0..UPDATE_ATTEMPTS {
            match self.repo.delete(id, expected_version, actor, now()) {
                Ok(true) => return Ok(()),
                Ok(false) => return Err(ServiceError::not_found("webhook", id)),
                Err(RepoError::Stale) if expected_version.is_none() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict(format!(
            "webhook {id} keeps changing concurrently"
        )))
    }

    fn deliveries(&self, id: i64, limit: i64, offset: i64) -> ServiceResult<DeliveryAttemptPage> {
        if !(1..=MAX_DELIVERIES_PAGE).contains(&limit) {
            return Err(ServiceError::invalid_parameter(
                "limit",
                format!("must be an integer from 1 to {MAX_DELIVERIES_PAGE}"),
            ));
        }
        if offset < 0 {
            return Err(ServiceError::invalid_parameter(
                "offset",
                "must be an integer from 0",
            ));
        }
        self.repo
            .attempts(id, limit, offset)?
            .ok_or_else(|| ServiceError::not_found("webhook", id))
    }

    fn redeliver(&self, id: i64, attempt_id: i64) -> ServiceResult<()> {
        self.get(id)?;
        match self.repo.redeliver(id, attempt_id, now()) {
            Ok(true) => Ok(()),
            Ok(false) => Err(ServiceError::not_found("delivery", attempt_id)),
            // The repository's only conflict here: the webhook is inactive.
            Err(RepoError::Conflict(_)) => Err(ServiceError::ConflictWith {
                message: format!("webhook {id} is not active: activate it to redeliver"),
                key: "webhook_id",
                id,
            }),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use cohai_domain::RepoResult;
    use hmac::{Hmac, Mac};

    use super::*;

    /// Resolves the names it was given; nothing else.
    struct FixedResolver(HashMap<&'static str, Vec<IpAddr>>);

    impl HostResolver for FixedResolver {
        fn resolve(&self, host: &str, _port: u16) -> Vec<IpAddr> {
            self.0.get(host).cloned().unwrap_or_default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn resolver() -> Arc<dyn HostResolver> {
        Arc::new(FixedResolver(HashMap::from([
            ("hooks.example.com", vec![ip("93.184.216.34")]),
            ("localhost", vec![ip("127.0.0.1"), ip("::1")]),
            (
                "rebinding.example.com",
                vec![ip("93.184.216.34"), ip("10.0.0.7")],
            ),
        ])))
    }

    /// Keeps webhooks in memory; records the last changes it was asked for.
    #[derive(Default)]
    struct MemoryRepo {
        hooks: Mutex<Vec<Webhook>>,
        keys: Mutex<Vec<[u8; 32]>>,
        last_changes: Mutex<Option<WebhookChanges>>,
    }

    impl WebhookRepository for MemoryRepo {
        fn list(&self) -> RepoResult<Vec<Webhook>> {
            Ok(self.hooks.lock().expect("lock").clone())
        }
        fn get_by_id(&self, id: i64) -> RepoResult<Option<Webhook>> {
            Ok(self.list()?.into_iter().find(|h| h.id == id))
        }
        fn create(&self, new: &NewWebhook, _actor: &str, at: DateTime<Utc>) -> RepoResult<Webhook> {
            let mut hooks = self.hooks.lock().expect("lock");
            let hook = Webhook {
                id: hooks.len() as i64 + 1,
                url: new.url.clone(),
                events: new.events.clone(),
                active: new.active,
                created_at: at,
                updated_at: at,
                version: 1,
            };
            hooks.push(hook.clone());
            self.keys.lock().expect("lock").push(new.signing_key);
            Ok(hook)
        }
        fn update(
            &self,
            id: i64,
            changes: &WebhookChanges,
            expected_version: Option<i64>,
            _actor: &str,
            at: DateTime<Utc>,
        ) -> RepoResult<Option<Webhook>> {
            *self.last_changes.lock().expect("lock") = Some(changes.clone());
            let mut hooks = self.hooks.lock().expect("lock");
            let Some(hook) = hooks.iter_mut().find(|h| h.id == id) else {
                return Ok(None);
            };
            if expected_version.is_some_and(|v| v != hook.version) {
                return Err(RepoError::Stale);
            }
            if let Some(url) = &changes.url {
                hook.url = url.clone();
            }
            if let Some(events) = &changes.events {
                hook.events = events.clone();
            }
            if let Some(active) = changes.active {
                hook.active = active;
            }
            hook.version += 1;
            hook.updated_at = at;
            Ok(Some(hook.clone()))
        }
        fn delete(
            &self,
            id: i64,
            _expected_version: Option<i64>,
            _actor: &str,
            _at: DateTime<Utc>,
        ) -> RepoResult<bool> {
            let mut hooks = self.hooks.lock().expect("lock");
            let before = hooks.len();
            hooks.retain(|h| h.id != id);
            Ok(hooks.len() < before)
        }
        fn attempts(
            &self,
            webhook_id: i64,
            _limit: i64,
            _offset: i64,
        ) -> RepoResult<Option<DeliveryAttemptPage>> {
            Ok(self.get_by_id(webhook_id)?.map(|_| DeliveryAttemptPage {
                items: Vec::new(),
                total: 0,
            }))
        }
        fn redeliver(
            &self,
            webhook_id: i64,
            _attempt: i64,
            _at: DateTime<Utc>,
        ) -> RepoResult<bool> {
            match self.get_by_id(webhook_id)? {
                Some(hook) if !hook.active => Err(RepoError::Conflict("inactive".to_owned())),
                Some(_) => Ok(true),
                None => Ok(false),
            }
        }
    }

    fn service(allow_private: bool) -> (Arc<MemoryRepo>, WebhookAdminService) {
        let repo = Arc::new(MemoryRepo::default());
        let service = WebhookAdminService::with_resolver(repo.clone(), allow_private, resolver());
        (repo, service)
    }

    fn body(json: serde_json::Value) -> WebhookInput {
        serde_json::from_value(json).expect("a well-formed body")
    }

    fn refused(result: ServiceResult<impl std::fmt::Debug>) -> FieldErrors {
        match result {
            Err(ServiceError::Validation(errors)) => errors,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn hmac_with_the_stored_key_equals_hmac_with_the_secret() {
        let secret = WebhookSecret::generate();
        let sign = |key: &[u8]| {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
            mac.update(b"1767261600.{\"id\":\"e1\"}");
            mac.finalize().into_bytes()
        };
        assert_eq!(
            sign(secret.expose().as_bytes()),
            sign(&secret.signing_key())
        );
    }

    #[test]
    fn a_new_webhook_stores_the_hash_of_the_secret_it_answers() {
        let (repo, service) = service(false);
        let created = service
            .create(
                body(serde_json::json!({
                    "url": "HTTPS://Hooks.Example.com/in",
                    "events": ["lead.updated", "lead.created", "lead.updated"]
                })),
                "anna",
            )
            .expect("created");
        assert_eq!(created.webhook.url, "https://hooks.example.com/in");
        assert_eq!(
            created.webhook.events,
            [EventType::LeadCreated, EventType::LeadUpdated],
            "wire-name order, each once"
        );
        assert!(created.webhook.active, "active by default");
        assert_eq!(
            repo.keys.lock().expect("lock")[0],
            created.secret.signing_key()
        );
    }

    #[test]
    fn url_and_events_are_required_and_nothing_may_be_null() {
        let (_, service) = service(false);
        let errors = refused(service.create(body(serde_json::json!({})), "anna"));
        assert_eq!(errors.0["url"], [REQUIRED]);
        assert_eq!(errors.0["events"], [REQUIRED]);
        let errors = refused(service.create(
            body(serde_json::json!({"url": null, "events": null, "active": null})),
            "anna",
        ));
        assert_eq!(errors.0.len(), 3);
        assert!(errors.0.values().all(|m| m == &[NOT_NULL]));
    }

    #[test]
    fn empty_or_unknown_event_types_are_refused_on_events() {
        let (_, service) = service(false);
        for events in [
            serde_json::json!([]),
            serde_json::json!(["lead.created", "lead.deleted"]),
            serde_json::json!(["Lead.Created"]),
            serde_json::json!(["session_cancelled"]),
        ] {
            let errors = refused(service.create(
                body(serde_json::json!({"url": "https://hooks.example.com/", "events": events})),
                "anna",
            ));
            assert_eq!(errors.0.keys().collect::<Vec<_>>(), ["events"], "{events}");
            assert!(!errors.0["events"][0].contains("deleted"), "no echo");
        }
    }

    #[test]
    fn private_and_unresolvable_targets_are_refused_unless_allowed() {
        let (_, strict) = service(false);
        let (_, relaxed) = service(true);
        for url in [
            "https://127.0.0.1/x",
            "https://10.0.0.1/",
            "https://[::1]/",
            "https://localhost/",
            "https://rebinding.example.com/",
            "http://hooks.example.com/",
        ] {
            let input = || body(serde_json::json!({"url": url, "events": ["lead.created"]}));
            let errors = refused(strict.create(input(), "anna"));
            assert_eq!(errors.0.keys().collect::<Vec<_>>(), ["url"], "{url}");
            assert!(
                relaxed.create(input(), "anna").is_ok(),
                "{url} when allowed"
            );
        }
        for relaxed_too in [true, false] {
            let (_, service) = service(relaxed_too);
            let errors = refused(service.create(
                body(serde_json::json!({"url": "https://nowhere.invalid/", "events": ["lead.created"]})),
                "anna",
            ));
            assert_eq!(errors.0["url"], ["the host does not resolve"]);
        }
    }

    #[test]
    fn a_patch_sends_only_what_differs_and_one_that_changes_nothing_writes_nothing() {
        let (repo, service) = service(false);
        let hook = service
            .create(
                body(serde_json::json!({"url": "https://hooks.example.com/", "events": ["lead.created"]})),
                "anna",
            )
            .expect("created")
            .webhook;
        let same = service
            .update(
                hook.id,
                body(serde_json::json!({"url": "https://HOOKS.example.com/", "active": true})),
                None,
                "anna",
            )
            .expect("unchanged");
        assert_eq!(same.version, 1);
        assert!(repo.last_changes.lock().expect("lock").is_none());
        let changed = service
            .update(
                hook.id,
                body(serde_json::json!({"events": ["lead.erased"], "active": true})),
                Some(1),
                "anna",
            )
            .expect("changed");
        assert_eq!(changed.events, [EventType::LeadErased]);
        assert_eq!(
            repo.last_changes.lock().expect("lock").clone(),
            Some(WebhookChanges {
                events: Some(vec![EventType::LeadErased]),
                ..WebhookChanges::default()
            })
        );
        assert!(matches!(
            service.update(hook.id, WebhookInput::default(), Some(1), "anna"),
            Err(ServiceError::PreconditionFailed)
        ));
        assert!(matches!(
            service.update(99, body(serde_json::json!({"url": null})), None, "anna"),
            Err(ServiceError::NotFound { .. })
        ));
    }

    #[test]
    fn the_deliveries_page_bounds_are_invalid_parameters() {
        let (_, service) = service(false);
        for (limit, offset, parameter) in [(0, 0, "limit"), (201, 0, "limit"), (50, -1, "offset")] {
            match service.deliveries(1, limit, offset) {
                Err(ServiceError::InvalidParameter { parameter: p, .. }) => {
                    assert_eq!(p, parameter)
                }
                other => panic!("{limit}/{offset}: {other:?}"),
            }
        }
        assert!(matches!(
            service.deliveries(1, 50, 0),
            Err(ServiceError::NotFound { .. })
        ));
    }

    #[test]
    fn a_redelivery_to_an_inactive_webhook_is_a_conflict_naming_it() {
        let (_, service) = service(false);
        let hook = service
            .create(
                body(serde_json::json!({"url": "https://hooks.example.com/", "events": ["lead.created"], "active": false})),
                "anna",
            )
            .expect("created")
            .webhook;
        match service.redeliver(hook.id, 1) {
            Err(ServiceError::ConflictWith { key, id, .. }) => {
                assert_eq!((key, id), ("webhook_id", hook.id));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            service.redeliver(hook.id + 1, 1),
            Err(ServiceError::NotFound {
                entity: "webhook",
                ..
            })
        ));
    }
}
