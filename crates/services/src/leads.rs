//! Leads: the public sign-up form and the managers' CRM.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use cohai_domain::ports::{
    BoxFuture, ClassSessionRepository, LeadRepository, LocationRepository, ProgramTypeRepository,
    SubmitError,
};
use cohai_domain::time::clamp_instant;
use cohai_domain::{
    AssigneeFilter, FieldErrors, Lead, LeadChanges, LeadCursor, LeadEvent, LeadFilter, LeadHistory,
    LeadPage, LeadReference, LeadScope, LeadSource, LeadStats, LeadStatsFilter, LeadStatus,
    NewLead, Phone, Principal, StaffDirectory, Submission, text,
};
use serde::Serialize;
use serde::{Deserialize, Deserializer};
use validator::Validate;

use crate::{ServiceError, ServiceResult};

/// How long an open lead absorbs repeated submissions of the same phone.
pub const DEDUP_WINDOW: Duration = Duration::hours(24);
/// Largest page of the admin list.
pub const MAX_PAGE_SIZE: i64 = 200;
/// Leads per database read of an export.
pub const EXPORT_PAGE_SIZE: i64 = 1000;

const REQUIRED: &str = "is required";
const NOT_NULL: &str = "must not be null";

/// The website's sign-up form. Unknown fields are ignored, so the site may send more
/// (e.g. other UTM tags) without breaking.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeadForm {
    /// 1–100 characters after trimming, at least one visible; stored trimmed and in Unicode
    /// NFC (the length counts NFC characters). Required.
    #[cfg_attr(
        feature = "openapi",
        schema(
            required = true,
            nullable = false,
            example = "Анна",
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000-\u001F\u007F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u3000\uFEFF][^\u0000-\u001F\u007F]*$"
        )
    )]
    pub name: Option<String>,
    /// Any common format; stored as E.164 (default region RU). Required.
    #[cfg_attr(
        feature = "openapi",
        schema(
            required = true,
            nullable = false,
            example = "+7 (916) 123-45-67",
            min_length = 1,
            max_length = 64,
            pattern = r"^[^\u0000-\u001F\u007F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u3000\uFEFF][^\u0000-\u001F\u007F]*$"
        )
    )]
    pub phone: Option<String>,
    /// A valid e-mail address.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "anna@example.com",
            max_length = 254,
            pattern = r"^[^\u0000-\u001F\u007F]*$"
        )
    )]
    pub email: Option<String>,
    /// At most 2000 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 2000, pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F]*$")
    )]
    pub message: Option<String>,
    /// An existing location.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub location_id: Option<i64>,
    /// An existing program type.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub program_type_id: Option<i64>,
    /// An existing class session.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub class_session_id: Option<i64>,
    /// Consent to personal-data processing; must be `true`. Required.
    #[cfg_attr(feature = "openapi", schema(required = true, schema_with = crate::openapi::consent))]
    pub consent: Option<bool>,
    /// At most 100 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F]*$")
    )]
    pub utm_source: Option<String>,
    /// At most 100 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F]*$")
    )]
    pub utm_medium: Option<String>,
    /// At most 100 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F]*$")
    )]
    pub utm_campaign: Option<String>,
    /// Honeypot: leave empty. A filled one gets a normal-looking reply and stores nothing.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[^\u0000-\u001F\u007F]*$"))]
    pub website: Option<String>,
}

/// A lead entered by a manager.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminLeadForm {
    /// 1–100 characters after trimming, at least one visible; stored trimmed and in Unicode
    /// NFC (the length counts NFC characters). Required.
    #[cfg_attr(
        feature = "openapi",
        schema(
            required = true,
            nullable = false,
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000-\u001F\u007F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u3000\uFEFF][^\u0000-\u001F\u007F]*$"
        )
    )]
    pub name: Option<String>,
    /// Stored as E.164. Required.
    #[cfg_attr(
        feature = "openapi",
        schema(
            required = true,
            nullable = false,
            example = "+7 (916) 123-45-67",
            min_length = 1,
            max_length = 64,
            pattern = r"^[^\u0000-\u001F\u007F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u3000\uFEFF][^\u0000-\u001F\u007F]*$"
        )
    )]
    pub phone: Option<String>,
    /// A valid e-mail address.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 254, pattern = r"^[^\u0000-\u001F\u007F]*$")
    )]
    pub email: Option<String>,
    /// At most 2000 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 2000, pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F]*$")
    )]
    pub message: Option<String>,
    /// An existing location.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub location_id: Option<i64>,
    /// An existing program type.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub program_type_id: Option<i64>,
    /// An existing class session.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub class_session_id: Option<i64>,
    /// Not required; `true` records the creation instant as the lead's `consent_at`.
    pub consent: Option<bool>,
    /// Default `new`.
    pub status: Option<LeadStatus>,
    /// Default `other`.
    pub source: Option<LeadSource>,
    /// At most 5000 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 5000, pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F]*$")
    )]
    pub notes: Option<String>,
    /// At most 100 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F]*$")
    )]
    pub utm_source: Option<String>,
    /// At most 100 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F]*$")
    )]
    pub utm_medium: Option<String>,
    /// At most 100 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F]*$")
    )]
    pub utm_campaign: Option<String>,
    /// The owner: the name of a configured admin key (case-sensitive).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, example = "admin"))]
    pub assignee: Option<String>,
    /// When to call back: RFC 3339 with an offset (any offset; answered in UTC).
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<String>, format = DateTime, example = "2026-12-02T12:00:00+03:00")
    )]
    pub next_contact_at: Option<String>,
    /// Why the lead was lost: at most 200 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 200, pattern = r"^[^\u0000-\u001F\u007F]*$")
    )]
    pub lost_reason: Option<String>,
}

/// A partial update: an absent field stays as it is, `null` clears a nullable one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeadPatch {
    /// New name; not nullable.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            value_type = String,
            example = "Анна",
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000-\u001F\u007F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u3000\uFEFF][^\u0000-\u001F\u007F]*$"
        )
    )]
    pub name: Option<Option<String>>,
    /// New phone; not nullable.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            value_type = String,
            example = "+7 (916) 123-45-67",
            min_length = 1,
            max_length = 64,
            pattern = r"^[^\u0000-\u001F\u007F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u3000\uFEFF][^\u0000-\u001F\u007F]*$"
        )
    )]
    pub phone: Option<Option<String>>,
    /// New e-mail, or `null`.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            value_type = Option<String>,
            max_length = 254,
            pattern = r"^[^\u0000-\u001F\u007F]*$"
        )
    )]
    pub email: Option<Option<String>>,
    /// New message, or `null`.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            value_type = Option<String>,
            max_length = 2000,
            pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F]*$"
        )
    )]
    pub message: Option<Option<String>>,
    /// New location, or `null`.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 1))]
    pub location_id: Option<Option<i64>>,
    /// New program type, or `null`.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 1))]
    pub program_type_id: Option<Option<i64>>,
    /// New class session, or `null`.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 1))]
    pub class_session_id: Option<Option<i64>>,
    /// New status; not nullable.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = LeadStatus))]
    pub status: Option<Option<LeadStatus>>,
    /// New source; not nullable.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = LeadSource))]
    pub source: Option<Option<LeadSource>>,
    /// New notes, or `null`.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            value_type = Option<String>,
            max_length = 5000,
            pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F]*$"
        )
    )]
    pub notes: Option<Option<String>>,
    /// New owner (a configured admin key's name, case-sensitive), or `null`.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, min_length = 1))]
    pub assignee: Option<Option<String>>,
    /// New call-back instant (RFC 3339 with an offset), or `null`.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<String>, format = DateTime, example = "2026-12-02T12:00:00+03:00")
    )]
    pub next_contact_at: Option<Option<String>>,
    /// New lost reason (at most 200 characters), or `null`.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<String>, max_length = 200, pattern = r"^[^\u0000-\u001F\u007F]*$")
    )]
    pub lost_reason: Option<Option<String>>,
}

/// Distinguishes a field sent as `null` (`Some(None)`) from an absent one (`None`, by `default`).
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The result of a public submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// A new lead was stored.
    Created(Lead),
    /// An open lead of the same phone absorbed the submission (a `resubmitted` event).
    Joined(Lead),
    /// The honeypot field was filled: a valid form from a bot, answered like a new lead but
    /// stored nowhere.
    Dropped,
}

/// Leads: intake and CRM.
pub trait LeadService: Send + Sync {
    /// The public form: validates it here and now, then stores the lead (de-duplicated within
    /// 24 hours by phone). The future resolves once the lead is committed; it holds no thread
    /// meanwhile (the storage batches submissions on a writer thread of its own), so async
    /// callers call this directly, not on a blocking pool.
    fn submit(&self, form: LeadForm) -> BoxFuture<ServiceResult<SubmitOutcome>>;
    /// A manager's new lead (no de-duplication), by `by` (the actor; a location-limited key
    /// must name one of its locations: 422 on `location_id`).
    fn create(&self, form: AdminLeadForm, by: &Principal) -> ServiceResult<Lead>;
    /// One lead; 404 when outside `scope`, as when there is none.
    fn get(&self, id: i64, scope: &LeadScope) -> ServiceResult<Lead>;
    /// A filtered page of the leads inside `scope`.
    fn list(&self, filter: &LeadFilter, scope: &LeadScope) -> ServiceResult<LeadPage>;
    /// How many lead writes this service has made (or attempted): it grows with every
    /// submission, creation, update and erasure, so a reader that kept something derived from
    /// leads knows it may be stale when the number moved. Never touches the database.
    fn write_generation(&self) -> u64;
    /// A partial update by `by`, optionally only if the lead is still at `expected_version`;
    /// 404 for a lead outside `by`'s scope, 422 on `location_id` for a move out of it.
    fn update(
        &self,
        id: i64,
        patch: LeadPatch,
        expected_version: Option<i64>,
        by: &Principal,
    ) -> ServiceResult<Lead>;
    /// Erases a lead's personal data, optionally only if it is still at `expected_version`;
    /// 404 for a lead outside `by`'s scope.
    fn delete(&self, id: i64, expected_version: Option<i64>, by: &Principal) -> ServiceResult<()>;
    /// A lead's history, oldest first; 404 when the lead is outside `scope`.
    fn events(&self, id: i64, scope: &LeadScope) -> ServiceResult<Vec<LeadEvent>>;
    /// One page of an export: up to [`EXPORT_PAGE_SIZE`] leads of `filter` in its order (its
    /// `limit` and `offset` are not used), right after `after`. The first page (`after` =
    /// `None`) checks the filter as [`LeadService::list`] does, so a bad filter fails before
    /// anything is sent.
    fn export_page(
        &self,
        filter: &LeadFilter,
        after: Option<&LeadCursor>,
        scope: &LeadScope,
    ) -> ServiceResult<Vec<Lead>>;
    /// Funnel statistics of the leads inside `scope`; 404 when `filter.location_id` names no
    /// location.
    fn stats(&self, filter: &LeadStatsFilter, scope: &LeadScope) -> ServiceResult<LeadStats>;
    /// Everything stored about the person with this phone (any spelling the form accepts),
    /// only the leads inside `scope`; 400 `phone` when it does not parse.
    fn personal_data(&self, phone: &str, scope: &LeadScope) -> ServiceResult<PersonalData>;
}

/// A data subject's access request: every lead of one phone, with its history.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonalData {
    /// The phone in E.164.
    #[cfg_attr(feature = "openapi", schema(example = "+79161234567"))]
    pub phone: String,
    /// Its leads by `created_at` (then id), each with its events oldest first.
    pub leads: Vec<LeadHistory>,
}

/// [`LeadService`] over the repositories.
pub struct LeadServiceImpl {
    leads: Arc<dyn LeadRepository>,
    locations: Arc<dyn LocationRepository>,
    program_types: Arc<dyn ProgramTypeRepository>,
    sessions: Arc<dyn ClassSessionRepository>,
    /// The configured admin keys: who can own a lead.
    staff: StaffDirectory,
    /// Lead writes so far (see [`LeadService::write_generation`]).
    writes: Arc<AtomicU64>,
}

/// The current instant at the precision both databases store (microseconds).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Trimmed text; blank means absent.
fn clean(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Length and format rules of the free-text fields, checked by `validator`.
#[derive(Validate)]
struct TextRules<'a> {
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    name: Option<&'a str>,
    #[validate(
        email(message = "not a valid email address"),
        length(max = 254, message = "must be at most 254 characters")
    )]
    email: Option<&'a str>,
    #[validate(length(max = 2000, message = "must be at most 2000 characters"))]
    message: Option<&'a str>,
    #[validate(length(max = 5000, message = "must be at most 5000 characters"))]
    notes: Option<&'a str>,
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    utm_source: Option<&'a str>,
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    utm_medium: Option<&'a str>,
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    utm_campaign: Option<&'a str>,
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    lost_reason: Option<&'a str>,
}

impl TextRules<'_> {
    fn check_into(&self, errors: &mut FieldErrors) {
        if let Err(e) = self.validate() {
            for (field, messages) in FieldErrors::from(e).0 {
                for m in messages {
                    errors.add(&field, m);
                }
            }
        }
    }
}

/// A name as it is stored: trimmed and NFC-normalised (its length is checked by
/// [`TextRules`] on this form), with an error recorded when nothing in it is visible.
fn stored_name(name: &str, errors: &mut FieldErrors) -> String {
    let name = text::normalise_name(name);
    // A blank name already fails the length rule.
    if !name.is_empty() && !text::has_visible_character(&name) {
        errors.add("name", text::NameError::Invisible.to_string());
    }
    name
}

/// The required name (trimmed, NFC) and phone (normalised), the phone `None` when missing or
/// invalid, with an error recorded for each invalid one.
fn required_name_and_phone(
    name: Option<String>,
    phone: Option<String>,
    errors: &mut FieldErrors,
) -> (Option<String>, Option<Phone>) {
    let name = name.map(|n| stored_name(&n, errors));
    if name.is_none() {
        errors.add("name", REQUIRED);
    }
    let phone = match phone {
        None => {
            errors.add("phone", REQUIRED);
            None
        }
        Some(p) => Phone::parse(&p)
            .map_err(|e| errors.add("phone", e.to_string()))
            .ok(),
    };
    (name, phone)
}

/// `filter` with `q` in NFC, the form names are stored in, so that a search finds a name
/// whichever form either was typed in.
fn nfc_query(filter: &LeadFilter) -> Cow<'_, LeadFilter> {
    match filter.q.as_deref().map(text::nfc) {
        Some(Cow::Owned(q)) => Cow::Owned(LeadFilter {
            q: Some(q),
            ..filter.clone()
        }),
        _ => Cow::Borrowed(filter),
    }
}

/// The fields both create forms share, as received.
struct Draft {
    name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    message: Option<String>,
    location_id: Option<i64>,
    program_type_id: Option<i64>,
    class_session_id: Option<i64>,
    notes: Option<String>,
    utm_source: Option<String>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
    source: LeadSource,
    status: LeadStatus,
    assignee: Option<String>,
    next_contact_at: Option<String>,
    lost_reason: Option<String>,
    /// Whether the person consented now (`consent_at` becomes the creation instant).
    consented: bool,
}

/// An instant in a body: RFC 3339 with an offset, stored at microsecond precision in UTC; an
/// error on `field` when malformed or outside the years 0000–9999 (UTC) that storage keeps.
fn parse_instant(field: &str, raw: &str, errors: &mut FieldErrors) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|at| at.with_timezone(&Utc).trunc_subsecs(6))
        .filter(|at| clamp_instant(*at) == *at);
    if parsed.is_none() {
        errors.add(
            field,
            "must be an RFC 3339 date-time with an offset (Z or +03:00), in the years 0000 to 9999",
        );
    }
    parsed
}

/// The field error for a reference whose `id` names no row.
fn add_missing_reference(errors: &mut FieldErrors, reference: LeadReference, id: i64) {
    errors.add(
        reference.field(),
        format!("{} {id} does not exist", reference.noun()),
    );
}

impl LeadServiceImpl {
    /// A lead service over these repositories; `staff` are the configured admin keys, the
    /// names a lead's `assignee` may take.
    pub fn new(
        leads: Arc<dyn LeadRepository>,
        locations: Arc<dyn LocationRepository>,
        program_types: Arc<dyn ProgramTypeRepository>,
        sessions: Arc<dyn ClassSessionRepository>,
        staff: StaffDirectory,
    ) -> Self {
        Self {
            leads,
            locations,
            program_types,
            sessions,
            staff,
            writes: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Records an error on `assignee` unless it names a configured key (exactly).
    fn check_assignee(&self, assignee: &str, errors: &mut FieldErrors) {
        if !self.staff.contains(assignee) {
            errors.add("assignee", "must be the name of a configured admin key");
        }
    }

    /// The rules every list and export filter must meet: 404 for a location that does not
    /// exist, 400 for an `assignee` that names no configured key.
    fn check_filter(&self, filter: &LeadFilter) -> ServiceResult<()> {
        if let Some(AssigneeFilter::Named(name)) = &filter.assignee
            && !self.staff.contains(name)
        {
            return Err(ServiceError::invalid_parameter(
                "assignee",
                "must be the name of a configured admin key, or none",
            ));
        }
        self.check_location(filter.location_id)
    }

    /// 404 when `location_id` names no location.
    fn check_location(&self, location_id: Option<i64>) -> ServiceResult<()> {
        if let Some(id) = location_id {
            self.locations
                .get_by_id(id)?
                .ok_or_else(|| ServiceError::not_found("location", id))?;
        }
        Ok(())
    }

    /// Counts a lead write (after it, so a reader that saw the old count reads again).
    fn wrote(writes: &AtomicU64) {
        writes.fetch_add(1, Ordering::AcqRel);
    }

    /// Records an error for each reference that names nothing.
    fn check_references(
        &self,
        location_id: Option<i64>,
        program_type_id: Option<i64>,
        class_session_id: Option<i64>,
        errors: &mut FieldErrors,
    ) -> ServiceResult<()> {
        if let Some(id) = location_id
            && (id <= 0 || self.locations.get_by_id(id)?.is_none())
        {
            add_missing_reference(errors, LeadReference::Location, id);
        }
        if let Some(id) = program_type_id
            && (id <= 0 || self.program_types.get_by_id(id)?.is_none())
        {
            add_missing_reference(errors, LeadReference::ProgramType, id);
        }
        if let Some(id) = class_session_id
            && (id <= 0 || self.sessions.get_by_id(id)?.is_none())
        {
            add_missing_reference(errors, LeadReference::ClassSession, id);
        }
        Ok(())
    }

    /// Validates `draft` with its references, adding to `errors` (which may hold the caller's
    /// own), into a lead created now; every invalid field is reported at once.
    fn validate(&self, draft: Draft, mut errors: FieldErrors) -> ServiceResult<NewLead> {
        if let Some(assignee) = &draft.assignee {
            self.check_assignee(assignee, &mut errors);
        }
        self.check_references(
            draft.location_id,
            draft.program_type_id,
            draft.class_session_id,
            &mut errors,
        )?;
        validate_fields(draft, errors)
    }

    fn existing(&self, id: i64) -> ServiceResult<Lead> {
        self.leads
            .get_by_id(id)?
            .ok_or_else(|| ServiceError::not_found("lead", id))
    }

    /// Lead `id` if it is inside `scope`; a lead outside is "not found", exactly as a missing
    /// one, so a limited key cannot learn that it exists.
    fn existing_in(&self, id: i64, scope: &LeadScope) -> ServiceResult<Lead> {
        let lead = self.existing(id)?;
        if scope.allows(lead.location_id) {
            Ok(lead)
        } else {
            Err(ServiceError::not_found("lead", id))
        }
    }

    /// Records an error on `assignee` when it names a location-limited key whose locations do
    /// not include `location_id` (the lead's location after the change).
    fn check_assignee_scope(
        &self,
        assignee: &str,
        location_id: Option<i64>,
        errors: &mut FieldErrors,
    ) {
        if let Some(scope) = self.staff.scope_of(assignee)
            && !scope.allows(location_id)
        {
            errors.add(
                "assignee",
                format!("{assignee} may only own leads of their own locations"),
            );
        }
    }
}

/// Records an error on `location_id` unless a lead of `location_id` is inside `scope`.
fn check_location_in_scope(scope: &LeadScope, location_id: Option<i64>, errors: &mut FieldErrors) {
    if !scope.allows(location_id) {
        errors.add(
            "location_id",
            match location_id {
                None => "must name one of your locations".to_owned(),
                Some(id) => format!("location {id} is not one of your locations"),
            },
        );
    }
}

/// `filter` limited to `scope`'s locations.
fn scoped<'a>(filter: Cow<'a, LeadFilter>, scope: &LeadScope) -> Cow<'a, LeadFilter> {
    match scope.location_limit() {
        None if filter.location_limit.is_none() => filter,
        limit => {
            let mut filter = filter.into_owned();
            filter.location_limit = limit;
            Cow::Owned(filter)
        }
    }
}

/// Validates `draft`'s own fields (not whether its references exist), adding to `errors`,
/// into a lead created now; every invalid field is reported at once.
fn validate_fields(draft: Draft, mut errors: FieldErrors) -> ServiceResult<NewLead> {
    let (name, phone) = required_name_and_phone(draft.name, draft.phone, &mut errors);
    let (email, message, notes) = (clean(draft.email), clean(draft.message), clean(draft.notes));
    let (utm_source, utm_medium, utm_campaign) = (
        clean(draft.utm_source),
        clean(draft.utm_medium),
        clean(draft.utm_campaign),
    );
    let lost_reason = clean(draft.lost_reason);
    let next_contact_at = draft
        .next_contact_at
        .and_then(|raw| parse_instant("next_contact_at", &raw, &mut errors));
    TextRules {
        name: name.as_deref(),
        email: email.as_deref(),
        message: message.as_deref(),
        notes: notes.as_deref(),
        utm_source: utm_source.as_deref(),
        utm_medium: utm_medium.as_deref(),
        utm_campaign: utm_campaign.as_deref(),
        lost_reason: lost_reason.as_deref(),
    }
    .check_into(&mut errors);
    let (Some(name), Some(phone), true) = (name, phone, errors.is_empty()) else {
        return Err(errors.into());
    };
    let created_at = now();
    Ok(NewLead {
        name,
        phone,
        email,
        message,
        location_id: draft.location_id,
        program_type_id: draft.program_type_id,
        class_session_id: draft.class_session_id,
        source: draft.source,
        status: draft.status,
        notes,
        utm_source,
        utm_medium,
        utm_campaign,
        created_at,
        assignee: draft.assignee,
        next_contact_at,
        lost_reason,
        consent_at: draft.consented.then_some(created_at),
    })
}

impl LeadService for LeadServiceImpl {
    fn submit(&self, form: LeadForm) -> BoxFuture<ServiceResult<SubmitOutcome>> {
        let honeypot = form
            .website
            .as_deref()
            .is_some_and(|w| !w.trim().is_empty());
        let mut errors = FieldErrors::new();
        match form.consent {
            None => errors.add("consent", REQUIRED),
            Some(false) => errors.add("consent", "must be true"),
            Some(true) => {}
        }
        let draft = Draft {
            name: form.name,
            phone: form.phone,
            email: form.email,
            message: form.message,
            location_id: form.location_id,
            program_type_id: form.program_type_id,
            class_session_id: form.class_session_id,
            notes: None,
            utm_source: form.utm_source,
            utm_medium: form.utm_medium,
            utm_campaign: form.utm_campaign,
            source: LeadSource::Website,
            status: LeadStatus::New,
            assignee: None,
            next_contact_at: None,
            lost_reason: None,
            // Required above: a stored public lead always carries it.
            consented: form.consent == Some(true),
        };
        // References are checked by the repository, in the transaction that stores the lead.
        let new = match validate_fields(draft, errors) {
            Ok(new) => new,
            Err(error) => return Box::pin(std::future::ready(Err(error))),
        };
        // Validated like any form first, so the trap answers exactly as a real form would.
        if honeypot {
            log::info!("honeypot field filled; submission dropped");
            return Box::pin(std::future::ready(Ok(SubmitOutcome::Dropped)));
        }
        let references = [
            (LeadReference::Location, new.location_id),
            (LeadReference::ProgramType, new.program_type_id),
            (LeadReference::ClassSession, new.class_session_id),
        ];
        let open_since = new.created_at - DEDUP_WINDOW;
        let stored = self.leads.submit(new, open_since);
        let writes = Arc::clone(&self.writes);
        Box::pin(async move {
            let stored = stored.await;
            Self::wrote(&writes);
            match stored {
                Ok(Submission::Created(lead)) => Ok(SubmitOutcome::Created(lead)),
                Ok(Submission::Resubmitted(lead)) => Ok(SubmitOutcome::Joined(lead)),
                Err(SubmitError::MissingReference(missing)) => {
                    let mut errors = FieldErrors::new();
                    match references
                        .iter()
                        .find_map(|(r, id)| (*r == missing).then_some(*id))
                    {
                        Some(Some(id)) => add_missing_reference(&mut errors, missing, id),
                        // The repository names only references the submission has.
                        _ => errors.add(
                            missing.field(),
                            format!("the {} does not exist", missing.noun()),
                        ),
                    }
                    Err(errors.into())
                }
                Err(SubmitError::Repo(error)) => Err(error.into()),
            }
        })
    }

    fn create(&self, form: AdminLeadForm, by: &Principal) -> ServiceResult<Lead> {
        let draft = Draft {
            name: form.name,
            phone: form.phone,
            email: form.email,
            message: form.message,
            location_id: form.location_id,
            program_type_id: form.program_type_id,
            class_session_id: form.class_session_id,
            notes: form.notes,
            utm_source: form.utm_source,
            utm_medium: form.utm_medium,
            utm_campaign: form.utm_campaign,
            source: form.source.unwrap_or(LeadSource::Other),
            status: form.status.unwrap_or(LeadStatus::New),
            assignee: form.assignee,
            next_contact_at: form.next_contact_at,
            lost_reason: form.lost_reason,
            consented: form.consent == Some(true),
        };
        let mut errors = FieldErrors::new();
        check_location_in_scope(&by.scope, draft.location_id, &mut errors);
        if let Some(assignee) = &draft.assignee {
            self.check_assignee_scope(assignee, draft.location_id, &mut errors);
        }
        let new = self.validate(draft, errors)?;
        let lead = self.leads.create(&new, &by.name);
        Self::wrote(&self.writes);
        Ok(lead?)
    }

    fn get(&self, id: i64, scope: &LeadScope) -> ServiceResult<Lead> {
        self.existing_in(id, scope)
    }

    fn write_generation(&self) -> u64 {
        self.writes.load(Ordering::Acquire)
    }

    fn list(&self, filter: &LeadFilter, scope: &LeadScope) -> ServiceResult<LeadPage> {
        let filter = scoped(nfc_query(filter), scope);
        let filter = &*filter;
        if !(1..=MAX_PAGE_SIZE).contains(&filter.limit) {
            return Err(ServiceError::invalid_parameter(
                "limit",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        if filter.offset < 0 {
            return Err(ServiceError::invalid_parameter(
                "offset",
                "must not be negative",
            ));
        }
        self.check_filter(filter)?;
        Ok(self.leads.search(filter)?)
    }

    fn update(
        &self,
        id: i64,
        patch: LeadPatch,
        expected_version: Option<i64>,
        by: &Principal,
    ) -> ServiceResult<Lead> {
        // A limited key, or an owner limited to some locations, needs the lead as it is: to
        // answer 404 outside the key's scope (before judging the body, so nothing leaks) and
        // to know where the lead will be.
        let assigns_limited = matches!(
            &patch.assignee,
            Some(Some(name)) if matches!(self.staff.scope_of(name), Some(LeadScope::Locations(_)))
        );
        let current = if by.scope != LeadScope::All || assigns_limited {
            Some(self.existing_in(id, &by.scope)?)
        } else {
            None
        };
        let mut errors = FieldErrors::new();
        if let Some(current) = &current {
            let location_after = patch.location_id.unwrap_or(current.location_id);
            if patch.location_id.is_some() {
                check_location_in_scope(&by.scope, location_after, &mut errors);
            }
            if let Some(Some(assignee)) = &patch.assignee {
                self.check_assignee_scope(assignee, location_after, &mut errors);
            }
        }
        let mut not_null = |field: &str, present: bool| {
            if present {
                errors.add(field, NOT_NULL);
            }
        };
        not_null("name", matches!(patch.name, Some(None)));
        not_null("phone", matches!(patch.phone, Some(None)));
        not_null("status", matches!(patch.status, Some(None)));
        not_null("source", matches!(patch.source, Some(None)));
        let name = patch.name.flatten().map(|n| stored_name(&n, &mut errors));
        let phone = match patch.phone.flatten() {
            Some(p) => Phone::parse(&p)
                .map_err(|e| errors.add("phone", e.to_string()))
                .ok(),
            None => None,
        };
        // A blank optional text clears the field, like `null`.
        let email = patch.email.map(clean);
        let message = patch.message.map(clean);
        let notes = patch.notes.map(clean);
        let lost_reason = patch.lost_reason.map(clean);
        if let Some(Some(assignee)) = &patch.assignee {
            self.check_assignee(assignee, &mut errors);
        }
        let next_contact_at = patch
            .next_contact_at
            .map(|at| at.and_then(|raw| parse_instant("next_contact_at", &raw, &mut errors)));
        TextRules {
            name: name.as_deref(),
            email: email.as_ref().and_then(Option::as_deref),
            message: message.as_ref().and_then(Option::as_deref),
            notes: notes.as_ref().and_then(Option::as_deref),
            utm_source: None,
            utm_medium: None,
            utm_campaign: None,
            lost_reason: lost_reason.as_ref().and_then(Option::as_deref),
        }
        .check_into(&mut errors);
        self.check_references(
            patch.location_id.flatten(),
            patch.program_type_id.flatten(),
            patch.class_session_id.flatten(),
            &mut errors,
        )?;
        errors.into_result()?;
        let changes = LeadChanges {
            name,
            phone,
            email,
            message,
            location_id: patch.location_id,
            program_type_id: patch.program_type_id,
            class_session_id: patch.class_session_id,
            status: patch.status.flatten(),
            source: patch.source.flatten(),
            notes,
            assignee: patch.assignee,
            next_contact_at,
            lost_reason,
        };
        // What was checked against `current` holds only while the lead is that version.
        let checked_version = current.as_ref().map(|c| c.version);
        let updated = self.leads.update(
            id,
            &changes,
            expected_version.or(checked_version),
            &by.name,
            now(),
        );
        Self::wrote(&self.writes);
        match updated {
            Err(cohai_domain::RepoError::Stale) if expected_version.is_none() => {
                Err(ServiceError::Conflict(format!(
                    "lead {id} changed while it was being updated; try again"
                )))
            }
            other => other?.ok_or_else(|| ServiceError::not_found("lead", id)),
        }
    }

    fn delete(&self, id: i64, expected_version: Option<i64>, by: &Principal) -> ServiceResult<()> {
        // A limited key may erase only a lead of its locations, as it was when checked.
        let checked_version = if by.scope == LeadScope::All {
            None
        } else {
            Some(self.existing_in(id, &by.scope)?.version)
        };
        let deleted = self
            .leads
            .delete(id, expected_version.or(checked_version), &by.name, now());
        Self::wrote(&self.writes);
        if let Err(cohai_domain::RepoError::Stale) = &deleted
            && expected_version.is_none()
        {
            return Err(ServiceError::Conflict(format!(
                "lead {id} changed while it was being erased; try again"
            )));
        }
        if deleted? {
            Ok(())
        } else {
            Err(ServiceError::not_found("lead", id))
        }
    }

    fn events(&self, id: i64, scope: &LeadScope) -> ServiceResult<Vec<LeadEvent>> {
        if *scope != LeadScope::All {
            self.existing_in(id, scope)?;
        }
        self.leads
            .events(id)?
            .ok_or_else(|| ServiceError::not_found("lead", id))
    }

    fn export_page(
        &self,
        filter: &LeadFilter,
        after: Option<&LeadCursor>,
        scope: &LeadScope,
    ) -> ServiceResult<Vec<Lead>> {
        let filter = scoped(nfc_query(filter), scope);
        if after.is_none() {
            self.check_filter(&filter)?;
        }
        Ok(self.leads.export_page(&filter, after, EXPORT_PAGE_SIZE)?)
    }

    fn stats(&self, filter: &LeadStatsFilter, scope: &LeadScope) -> ServiceResult<LeadStats> {
        self.check_location(filter.location_id)?;
        let filter = LeadStatsFilter {
            location_limit: scope.location_limit(),
            ..filter.clone()
        };
        Ok(self.leads.stats(&filter)?)
    }

    fn personal_data(&self, phone: &str, scope: &LeadScope) -> ServiceResult<PersonalData> {
        let location_limit = scope.location_limit();
        let location_limit = location_limit.as_deref();
        let phone = Phone::parse(phone)
            .map_err(|e| ServiceError::invalid_parameter("phone", e.to_string()))?;
        let leads = self.leads.find_by_phone(&phone, location_limit)?;
        Ok(PersonalData {
            phone: phone.as_str().to_owned(),
            leads,
        })
    }
}
