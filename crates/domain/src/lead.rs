//! Leads (sign-up requests) and their history.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{Phone, string_enum};

string_enum! {
    /// Where a lead is in the sales funnel. Any transition is allowed and recorded.
    LeadStatus {
        /// Just arrived.
        New => "new",
        /// A manager has talked to the person.
        Contacted => "contacted",
        /// A trial class is booked.
        TrialScheduled => "trial_scheduled",
        /// Bought a membership.
        Converted => "converted",
        /// Gave up.
        Lost => "lost",
    }
}

impl LeadStatus {
    /// Open leads are still being worked; a repeated submission joins them instead of
    /// creating a new lead.
    pub const OPEN: [LeadStatus; 3] = [
        LeadStatus::New,
        LeadStatus::Contacted,
        LeadStatus::TrialScheduled,
    ];

    /// True for `new`, `contacted` and `trial_scheduled`.
    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }
}

string_enum! {
    /// The channel a lead came from.
    LeadSource {
        /// The website's form.
        Website => "website",
        /// Instagram.
        Instagram => "instagram",
        /// Telegram.
        Telegram => "telegram",
        /// VK.
        Vk => "vk",
        /// A phone call.
        Phone => "phone",
        /// Walked into a studio.
        WalkIn => "walk_in",
        /// Recommended by someone.
        Referral => "referral",
        /// Anything else.
        Other => "other",
    }
}

string_enum! {
    /// What happened to a lead.
    LeadEventKind {
        /// The lead was created.
        Created => "created",
        /// The same person submitted the form again while the lead was open.
        Resubmitted => "resubmitted",
        /// The status changed; data `{"from": …, "to": …}`.
        StatusChanged => "status_changed",
        /// Other fields changed; data `{"fields": […]}`.
        Updated => "updated",
        /// The lead and its personal data were erased.
        Erased => "erased",
        /// The owner changed; data `{"from": name|null, "to": name|null}` (API.md §3.1).
        Assigned => "assigned",
        /// The class session the lead chose was cancelled; data
        /// `{"class_session_id": …, "cancellation_reason": …}` (API.md §6).
        SessionCancelled => "session_cancelled",
    }
}

/// A sign-up request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lead {
    /// Identifier.
    pub id: i64,
    /// The person's name.
    pub name: String,
    /// Phone in E.164.
    pub phone: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Free text from the form.
    pub message: Option<String>,
    /// Studio of interest.
    pub location_id: Option<i64>,
    /// Program type of interest.
    pub program_type_id: Option<i64>,
    /// Class session of interest.
    pub class_session_id: Option<i64>,
    /// Channel.
    pub source: LeadSource,
    /// Funnel status.
    pub status: LeadStatus,
    /// Managers' notes.
    pub notes: Option<String>,
    /// UTM source.
    pub utm_source: Option<String>,
    /// UTM medium.
    pub utm_medium: Option<String>,
    /// UTM campaign.
    pub utm_campaign: Option<String>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// Incremented on every change; the basis of the lead's `ETag`.
    #[serde(skip)]
    pub version: i64,
}

/// A lead to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLead {
    /// Trimmed name.
    pub name: String,
    /// Normalised phone.
    pub phone: Phone,
    /// E-mail.
    pub email: Option<String>,
    /// Message.
    pub message: Option<String>,
    /// Location of interest.
    pub location_id: Option<i64>,
    /// Program type of interest.
    pub program_type_id: Option<i64>,
    /// Class session of interest.
    pub class_session_id: Option<i64>,
    /// Channel.
    pub source: LeadSource,
    /// Initial status.
    pub status: LeadStatus,
    /// Notes.
    pub notes: Option<String>,
    /// UTM source.
    pub utm_source: Option<String>,
    /// UTM medium.
    pub utm_medium: Option<String>,
    /// UTM campaign.
    pub utm_campaign: Option<String>,
    /// Creation instant.
    pub created_at: DateTime<Utc>,
}

impl NewLead {
    /// Data of this lead's `created` event: its channel and references, nothing personal.
    pub fn created_event_data(&self) -> serde_json::Value {
        serde_json::json!({
            "source": self.source.as_str(),
            "location_id": self.location_id,
            "program_type_id": self.program_type_id,
            "class_session_id": self.class_session_id,
        })
    }

    /// Data of a `resubmitted` event recording this submission on an existing lead:
    /// the new message, references and campaign.
    pub fn resubmission_event_data(&self) -> serde_json::Value {
        serde_json::json!({
            "message": self.message,
            "location_id": self.location_id,
            "program_type_id": self.program_type_id,
            "class_session_id": self.class_session_id,
            "utm_source": self.utm_source,
            "utm_medium": self.utm_medium,
            "utm_campaign": self.utm_campaign,
        })
    }
}

/// Keys of event data that may hold personal data, removed when a lead is erased.
pub const PERSONAL_EVENT_DATA_KEYS: &[&str] = &["message"];

/// Event data with every personal key removed.
pub fn strip_personal_data(mut data: serde_json::Value) -> serde_json::Value {
    if let Some(object) = data.as_object_mut() {
        for key in PERSONAL_EVENT_DATA_KEYS {
            object.remove(*key);
        }
    }
    data
}

/// A partial update: `None` leaves a field as it is; `Some(None)` clears a nullable field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadChanges {
    /// New name (trimmed).
    pub name: Option<String>,
    /// New phone.
    pub phone: Option<Phone>,
    /// New or cleared e-mail.
    pub email: Option<Option<String>>,
    /// New or cleared message.
    pub message: Option<Option<String>>,
    /// New or cleared location.
    pub location_id: Option<Option<i64>>,
    /// New or cleared program type.
    pub program_type_id: Option<Option<i64>>,
    /// New or cleared class session.
    pub class_session_id: Option<Option<i64>>,
    /// New status.
    pub status: Option<LeadStatus>,
    /// New source.
    pub source: Option<LeadSource>,
    /// New or cleared notes.
    pub notes: Option<Option<String>>,
}

/// What an update really changes, and the events that record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePlan {
    /// Only the fields whose value differs from the current one.
    pub changes: LeadChanges,
    /// `status_changed` and/or `updated` events (without ids).
    pub events: Vec<(LeadEventKind, serde_json::Value)>,
}

impl UpdatePlan {
    /// True when the update changes nothing.
    pub fn is_noop(&self) -> bool {
        self.events.is_empty()
    }
}

impl LeadChanges {
    /// Compares the requested changes with `current` and keeps only real differences,
    /// with one `status_changed` event for a status change and one `updated` event naming
    /// the other changed fields (names only: values may be personal data).
    pub fn plan(&self, current: &Lead) -> UpdatePlan {
        fn keep<T: PartialEq + Clone>(
            wanted: &Option<T>,
            current: &T,
            field: &'static str,
            changed: &mut Vec<&'static str>,
        ) -> Option<T> {
            match wanted {
                Some(value) if value != current => {
                    changed.push(field);
                    Some(value.clone())
                }
                _ => None,
            }
        }
        let mut fields = Vec::new();
        let changes = LeadChanges {
            name: keep(&self.name, &current.name, "name", &mut fields),
            phone: keep(
                &self.phone,
                &Phone::from_e164_unchecked(current.phone.clone()),
                "phone",
                &mut fields,
            ),
            email: keep(&self.email, &current.email, "email", &mut fields),
            message: keep(&self.message, &current.message, "message", &mut fields),
            location_id: keep(
                &self.location_id,
                &current.location_id,
                "location_id",
                &mut fields,
            ),
            program_type_id: keep(
                &self.program_type_id,
                &current.program_type_id,
                "program_type_id",
                &mut fields,
            ),
            class_session_id: keep(
                &self.class_session_id,
                &current.class_session_id,
                "class_session_id",
                &mut fields,
            ),
            status: None,
            source: keep(&self.source, &current.source, "source", &mut fields),
            notes: keep(&self.notes, &current.notes, "notes", &mut fields),
        };
        let mut events = Vec::new();
        let status = self.status.filter(|s| *s != current.status);
        if let Some(to) = status {
            events.push((
                LeadEventKind::StatusChanged,
                serde_json::json!({"from": current.status.as_str(), "to": to.as_str()}),
            ));
        }
        if !fields.is_empty() {
            events.push((
                LeadEventKind::Updated,
                serde_json::json!({"fields": fields}),
            ));
        }
        UpdatePlan {
            changes: LeadChanges { status, ..changes },
            events,
        }
    }

    /// Applies these changes to `lead` in memory.
    pub fn apply_to(&self, lead: &mut Lead) {
        if let Some(v) = &self.name {
            lead.name.clone_from(v);
        }
        if let Some(v) = &self.phone {
            lead.phone = v.as_str().to_owned();
        }
        if let Some(v) = &self.email {
            lead.email.clone_from(v);
        }
        if let Some(v) = &self.message {
            lead.message.clone_from(v);
        }
        if let Some(v) = self.location_id {
            lead.location_id = v;
        }
        if let Some(v) = self.program_type_id {
            lead.program_type_id = v;
        }
        if let Some(v) = self.class_session_id {
            lead.class_session_id = v;
        }
        if let Some(v) = self.status {
            lead.status = v;
        }
        if let Some(v) = self.source {
            lead.source = v;
        }
        if let Some(v) = &self.notes {
            lead.notes.clone_from(v);
        }
    }
}

/// The lower-cased text that the admin search `q` matches: name, e-mail and phone.
///
/// Stored with the lead so that both databases search it the same way, Unicode-aware
/// (SQLite's own `LIKE` folds ASCII only).
pub fn search_text(name: &str, email: Option<&str>, phone: &str) -> String {
    let mut text = name.to_lowercase();
    text.push('\n');
    if let Some(email) = email {
        text.push_str(&email.to_lowercase());
    }
    text.push('\n');
    text.push_str(phone);
    text
}

/// One entry in a lead's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeadEvent {
    /// Identifier.
    pub id: i64,
    /// The lead.
    pub lead_id: i64,
    /// What happened.
    pub kind: LeadEventKind,
    /// The admin key's name, or `website`.
    pub actor: String,
    /// Details, depending on `kind`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// An event to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLeadEvent {
    /// What happened.
    pub kind: LeadEventKind,
    /// Who did it.
    pub actor: String,
    /// Details.
    pub data: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// The actor recorded for the public form.
pub const WEBSITE_ACTOR: &str = "website";

/// Sort orders of the admin lead list; ties are broken by `id` in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LeadSort {
    /// Oldest first.
    CreatedAsc,
    /// Newest first (the default).
    #[default]
    CreatedDesc,
    /// Least recently updated first.
    UpdatedAsc,
    /// Most recently updated first.
    UpdatedDesc,
}

impl LeadSort {
    /// Parses the API's spelling exactly: `created_at`, `-created_at`, `updated_at`, `-updated_at`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "created_at" => Some(Self::CreatedAsc),
            "-created_at" => Some(Self::CreatedDesc),
            "updated_at" => Some(Self::UpdatedAsc),
            "-updated_at" => Some(Self::UpdatedDesc),
            _ => None,
        }
    }
}

/// The admin list's filters, order and page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeadFilter {
    /// Any of these statuses (empty = all).
    pub statuses: Vec<LeadStatus>,
    /// Only this source.
    pub source: Option<LeadSource>,
    /// Only this location.
    pub location_id: Option<i64>,
    /// Case-insensitive substring of name, e-mail or phone.
    pub q: Option<String>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_to: Option<DateTime<Utc>>,
    /// Order.
    pub sort: LeadSort,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

impl Default for LeadFilter {
    fn default() -> Self {
        Self {
            statuses: Vec::new(),
            source: None,
            location_id: None,
            q: None,
            created_from: None,
            created_to: None,
            sort: LeadSort::default(),
            limit: 50,
            offset: 0,
        }
    }
}

/// One page of leads and the total that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadPage {
    /// The page.
    pub items: Vec<Lead>,
    /// All matching leads.
    pub total: i64,
}

/// A reference a lead may name: what a missing one is reported against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeadReference {
    /// `location_id`.
    Location,
    /// `program_type_id`.
    ProgramType,
    /// `class_session_id`.
    ClassSession,
}

impl LeadReference {
    /// The field that holds it.
    pub const fn field(self) -> &'static str {
        match self {
            Self::Location => "location_id",
            Self::ProgramType => "program_type_id",
            Self::ClassSession => "class_session_id",
        }
    }

    /// What it names, for messages.
    pub const fn noun(self) -> &'static str {
        match self {
            Self::Location => "location",
            Self::ProgramType => "program type",
            Self::ClassSession => "class session",
        }
    }

    /// The id of this reference in `new`.
    pub fn id_in(self, new: &NewLead) -> Option<i64> {
        match self {
            Self::Location => new.location_id,
            Self::ProgramType => new.program_type_id,
            Self::ClassSession => new.class_session_id,
        }
    }
}

/// The outcome of a public submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submission {
    /// A new lead was stored.
    Created(Lead),
    /// An open lead of the same phone already existed; the submission was recorded on it.
    Resubmitted(Lead),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead() -> Lead {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        Lead {
            id: 1,
            name: "Анна".into(),
            phone: "+79161234567".into(),
            email: None,
            message: Some("hi".into()),
            location_id: Some(1),
            program_type_id: None,
            class_session_id: None,
            source: LeadSource::Website,
            status: LeadStatus::New,
            notes: None,
            utm_source: None,
            utm_medium: None,
            utm_campaign: None,
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }

    #[test]
    fn plan_records_status_change_and_changed_field_names_only() {
        let changes = LeadChanges {
            status: Some(LeadStatus::Contacted),
            notes: Some(Some("called".into())),
            message: Some(Some("hi".into())), // unchanged
            location_id: Some(None),          // cleared
            ..LeadChanges::default()
        };
        let plan = changes.plan(&lead());
        assert_eq!(
            plan.events,
            vec![
                (
                    LeadEventKind::StatusChanged,
                    serde_json::json!({"from": "new", "to": "contacted"})
                ),
                (
                    LeadEventKind::Updated,
                    serde_json::json!({"fields": ["location_id", "notes"]})
                ),
            ]
        );
        assert_eq!(plan.changes.message, None);
        assert_eq!(plan.changes.location_id, Some(None));
    }

    #[test]
    fn plan_of_identical_values_is_a_noop() {
        let changes = LeadChanges {
            status: Some(LeadStatus::New),
            name: Some("Анна".into()),
            ..Default::default()
        };
        assert!(changes.plan(&lead()).is_noop());
    }

    #[test]
    fn apply_to_sets_and_clears() {
        let mut l = lead();
        LeadChanges {
            message: Some(None),
            status: Some(LeadStatus::Lost),
            ..Default::default()
        }
        .apply_to(&mut l);
        assert_eq!((l.message, l.status), (None, LeadStatus::Lost));
    }

    #[test]
    fn sort_parses_only_exact_spellings() {
        assert_eq!(LeadSort::parse("-updated_at"), Some(LeadSort::UpdatedDesc));
        for bad in ["Created_at", "created", "+created_at", ""] {
            assert_eq!(LeadSort::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn search_text_folds_unicode_case() {
        assert_eq!(
            search_text("АННА", Some("A@B.RU"), "+7916"),
            "анна\na@b.ru\n+7916"
        );
    }
}
