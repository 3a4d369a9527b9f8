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
    #[serde(serialize_with = "crate::instant_json::serialize")]
    pub created_at: DateTime<Utc>,
    /// When last changed.
    #[serde(serialize_with = "crate::instant_json::serialize")]
    pub updated_at: DateTime<Utc>,
    /// The owner: the name of an admin key.
    pub assignee: Option<String>,
    /// When to call back.
    #[serde(serialize_with = "crate::instant_json::serialize_option")]
    pub next_contact_at: Option<DateTime<Utc>>,
    /// Why the lead was lost.
    pub lost_reason: Option<String>,
    /// When the person consented to the processing of personal data (read-only).
    #[serde(serialize_with = "crate::instant_json::serialize_option")]
    pub consent_at: Option<DateTime<Utc>>,
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
    /// Owner (an admin key's name).
    pub assignee: Option<String>,
    /// When to call back.
    pub next_contact_at: Option<DateTime<Utc>>,
    /// Why the lead was lost.
    pub lost_reason: Option<String>,
    /// When consent was given (the creation instant when the form carried it).
    pub consent_at: Option<DateTime<Utc>>,
}

impl NewLead {
    /// Data of the `assigned` event a lead created with an owner records besides `created`.
    pub fn assigned_event_data(&self) -> Option<serde_json::Value> {
        self.assignee
            .as_ref()
            .map(|to| assigned_event_data(None, Some(to)))
    }

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

/// Data of an `assigned` event: the previous and the new owner.
pub fn assigned_event_data(from: Option<&str>, to: Option<&str>) -> serde_json::Value {
    serde_json::json!({"from": from, "to": to})
}

/// The fields of a [`Lead`] (as JSON) that are personal data: an erasure removes them from
/// the lead's notifications not yet delivered (API.md §7).
pub const PERSONAL_LEAD_FIELDS: &[&str] =
    &["name", "phone", "email", "message", "notes", "lost_reason"];

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
    /// New or cleared owner (recorded as an `assigned` event, not as `updated`).
    pub assignee: Option<Option<String>>,
    /// New or cleared call-back instant.
    pub next_contact_at: Option<Option<DateTime<Utc>>>,
    /// New or cleared lost reason.
    pub lost_reason: Option<Option<String>>,
}

/// What an update really changes, and the events that record it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePlan {
    /// Only the fields whose value differs from the current one.
    pub changes: LeadChanges,
    /// `status_changed`, `assigned` and/or `updated` events (without ids).
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
    /// with one `status_changed` event for a status change, one `assigned` event for a change
    /// of owner, and one `updated` event naming the other changed fields (names only: values
    /// may be personal data).
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
            assignee: None,
            next_contact_at: keep(
                &self.next_contact_at,
                &current.next_contact_at,
                "next_contact_at",
                &mut fields,
            ),
            lost_reason: keep(
                &self.lost_reason,
                &current.lost_reason,
                "lost_reason",
                &mut fields,
            ),
        };
        let mut events = Vec::new();
        let status = self.status.filter(|s| *s != current.status);
        if let Some(to) = status {
            events.push((
                LeadEventKind::StatusChanged,
                serde_json::json!({"from": current.status.as_str(), "to": to.as_str()}),
            ));
        }
        let assignee = self.assignee.clone().filter(|a| *a != current.assignee);
        if let Some(to) = &assignee {
            events.push((
                LeadEventKind::Assigned,
                assigned_event_data(current.assignee.as_deref(), to.as_deref()),
            ));
        }
        if !fields.is_empty() {
            events.push((
                LeadEventKind::Updated,
                serde_json::json!({"fields": fields}),
            ));
        }
        UpdatePlan {
            changes: LeadChanges {
                status,
                assignee,
                ..changes
            },
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
        if let Some(v) = &self.assignee {
            lead.assignee.clone_from(v);
        }
        if let Some(v) = self.next_contact_at {
            lead.next_contact_at = v;
        }
        if let Some(v) = &self.lost_reason {
            lead.lost_reason.clone_from(v);
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
    /// Earliest call-back first; leads without one last.
    NextContactAsc,
    /// Latest call-back first; leads without one last.
    NextContactDesc,
}

impl LeadSort {
    /// Every spelling [`LeadSort::parse`] accepts, the default second.
    pub const SPELLINGS: [&'static str; 6] = [
        "created_at",
        "-created_at",
        "updated_at",
        "-updated_at",
        "next_contact_at",
        "-next_contact_at",
    ];

    /// Parses the API's spelling exactly: `created_at`, `-created_at`, `updated_at`,
    /// `-updated_at`, `next_contact_at`, `-next_contact_at`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "created_at" => Some(Self::CreatedAsc),
            "-created_at" => Some(Self::CreatedDesc),
            "updated_at" => Some(Self::UpdatedAsc),
            "-updated_at" => Some(Self::UpdatedDesc),
            "next_contact_at" => Some(Self::NextContactAsc),
            "-next_contact_at" => Some(Self::NextContactDesc),
            _ => None,
        }
    }

    /// True for the descending orders (ties by id descending too).
    pub fn is_descending(self) -> bool {
        matches!(
            self,
            Self::CreatedDesc | Self::UpdatedDesc | Self::NextContactDesc
        )
    }
}

/// The `assignee` filter of the lead list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AssigneeFilter {
    /// Leads owned by the admin key of this name (case-sensitive).
    Named(String),
    /// Leads without an owner (the API's `assignee=none`).
    Unassigned,
}

/// The `overdue` filter of the lead list: whether an open lead's call-back is before `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OverdueFilter {
    /// `true`: only open leads whose `next_contact_at` is before `now`; `false`: every other lead.
    pub overdue: bool,
    /// The instant the request was made.
    pub now: DateTime<Utc>,
}

impl OverdueFilter {
    /// Whether `lead` is overdue at `self.now` (what `overdue: true` selects).
    pub fn is_overdue(&self, lead: &Lead) -> bool {
        lead.status.is_open() && lead.next_contact_at.is_some_and(|at| at < self.now)
    }
}

/// Where an export page starts: right after this lead in the filter's order (keyset paging).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeadCursor {
    /// The last lead's id.
    pub id: i64,
    /// Its creation instant.
    pub created_at: DateTime<Utc>,
    /// Its last change.
    pub updated_at: DateTime<Utc>,
    /// Its call-back.
    pub next_contact_at: Option<DateTime<Utc>>,
}

impl From<&Lead> for LeadCursor {
    fn from(lead: &Lead) -> Self {
        Self {
            id: lead.id,
            created_at: lead.created_at,
            updated_at: lead.updated_at,
            next_contact_at: lead.next_contact_at,
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
    /// Only leads of this owner, or only unowned ones.
    pub assignee: Option<AssigneeFilter>,
    /// Only overdue leads, or only the others.
    pub overdue: Option<OverdueFilter>,
    /// Call-back at or after.
    pub next_contact_from: Option<DateTime<Utc>>,
    /// Call-back before.
    pub next_contact_to: Option<DateTime<Utc>>,
    /// Only leads of these locations (the caller's lead scope, see
    /// [`crate::LeadScope::location_limit`]); a lead without a location is then left out.
    pub location_limit: Option<Vec<i64>>,
    /// Order.
    pub sort: LeadSort,
    /// Page size (not used by exports, which page by [`LeadCursor`]).
    pub limit: i64,
    /// Rows to skip (not used by exports).
    pub offset: i64,
}

impl LeadFilter {
    /// True when the matching leads change with the clock alone, without any write
    /// (`overdue`): a result must then not be reused later.
    pub fn depends_on_clock(&self) -> bool {
        self.overdue.is_some()
    }
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
            assignee: None,
            overdue: None,
            next_contact_from: None,
            next_contact_to: None,
            location_limit: None,
            sort: LeadSort::default(),
            limit: 50,
            offset: 0,
        }
    }
}

/// A lead with its whole history, oldest event first (a data subject's access request).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeadHistory {
    /// The lead.
    #[serde(flatten)]
    pub lead: Lead,
    /// Its events, oldest first.
    pub events: Vec<LeadEvent>,
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
            assignee: None,
            next_contact_at: None,
            lost_reason: None,
            consent_at: None,
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
        assert_eq!(
            LeadSort::parse("next_contact_at"),
            Some(LeadSort::NextContactAsc)
        );
        for spelling in LeadSort::SPELLINGS {
            assert!(LeadSort::parse(spelling).is_some(), "{spelling}");
        }
        for bad in [
            "Created_at",
            "created",
            "+created_at",
            "",
            "next_contact",
            "-Next_contact_at",
        ] {
            assert_eq!(LeadSort::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn plan_records_an_owner_change_as_one_assigned_event_not_as_updated() {
        let mut owned = lead();
        owned.assignee = Some("anna".into());
        let changes = LeadChanges {
            assignee: Some(Some("boris".into())),
            lost_reason: Some(Some("дорого".into())),
            ..LeadChanges::default()
        };
        let plan = changes.plan(&owned);
        assert_eq!(
            plan.events,
            vec![
                (
                    LeadEventKind::Assigned,
                    serde_json::json!({"from": "anna", "to": "boris"})
                ),
                (
                    LeadEventKind::Updated,
                    serde_json::json!({"fields": ["lost_reason"]})
                ),
            ]
        );
        let cleared = LeadChanges {
            assignee: Some(None),
            ..LeadChanges::default()
        }
        .plan(&owned);
        assert_eq!(
            cleared.events,
            vec![(
                LeadEventKind::Assigned,
                serde_json::json!({"from": "anna", "to": null})
            )]
        );
        let same = LeadChanges {
            assignee: Some(Some("anna".into())),
            ..LeadChanges::default()
        };
        assert!(same.plan(&owned).is_noop(), "names are compared exactly");
        let other_case = LeadChanges {
            assignee: Some(Some("Anna".into())),
            ..LeadChanges::default()
        };
        assert_eq!(other_case.plan(&owned).events.len(), 1, "case-sensitive");
    }

    #[test]
    fn overdue_means_open_with_a_call_back_before_now() {
        let now = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(1);
        let filter = OverdueFilter { overdue: true, now };
        let mut l = lead();
        assert!(!filter.is_overdue(&l), "no call-back");
        l.next_contact_at = Some(now - chrono::Duration::seconds(1));
        assert!(filter.is_overdue(&l));
        l.next_contact_at = Some(now);
        assert!(!filter.is_overdue(&l), "due now is not before now");
        l.next_contact_at = Some(now - chrono::Duration::hours(1));
        l.status = LeadStatus::Converted;
        assert!(!filter.is_overdue(&l), "closed leads are never overdue");
    }

    #[test]
    fn search_text_folds_unicode_case() {
        assert_eq!(
            search_text("АННА", Some("A@B.RU"), "+7916"),
            "анна\na@b.ru\n+7916"
        );
    }
}
