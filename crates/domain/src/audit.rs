//! The audit log: who changed what in the catalog, field by field.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::string_enum;

/// The actor of writes made by the programs themselves (seed, tools), not through the API.
pub const SYSTEM_ACTOR: &str = "system";

string_enum! {
    /// What kind of thing an audit entry is about.
    AuditEntity {
        /// A studio.
        Location => "location",
        /// A kind of class.
        ProgramType => "program_type",
        /// A trainer.
        Trainer => "trainer",
        /// A membership plan.
        MembershipPlan => "membership_plan",
        /// A class session.
        ClassSession => "class_session",
        /// A weekly timetable slot.
        TimetableSlot => "timetable_slot",
        /// A webhook subscription.
        Webhook => "webhook",
    }
}

string_enum! {
    /// What happened to the entity.
    AuditAction {
        /// It was created: every field changed `from: null`.
        Created => "created",
        /// Some fields changed.
        Updated => "updated",
        /// It was deleted: every field changed `to: null`.
        Deleted => "deleted",
        /// A class session was cancelled.
        Cancelled => "cancelled",
        /// A timetable generation run.
        Generated => "generated",
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Identifier; later entries have larger ids.
    pub id: i64,
    /// What kind of thing changed.
    pub entity: AuditEntity,
    /// Which one (`null` for a run over many, e.g. a timetable generation).
    pub entity_id: Option<i64>,
    /// What happened.
    pub action: AuditAction,
    /// The name of the admin key that made the change (or `system`).
    pub actor: String,
    /// `{field: {"from": old, "to": new}}` for every changed field.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub changes: Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Which audit entries to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this kind of entity.
    pub entity: Option<AuditEntity>,
    /// Only this entity id.
    pub entity_id: Option<i64>,
    /// Only changes by this actor (exact name).
    pub actor: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Entries skipped.
    pub offset: i64,
}

/// A page of audit entries and the number of all matching ones.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    /// The page, newest first.
    pub items: Vec<AuditEntry>,
    /// All entries matching the filter.
    pub total: i64,
}

/// A catalog entity as the audit log records it: its kind, id, version and fields.
pub trait Audited {
    /// The kind of entity.
    const ENTITY: AuditEntity;
    /// Its id.
    fn id(&self) -> i64;
    /// Its version (grows with every change; for `ETag`s).
    fn version(&self) -> i64;
    /// Every field (except the id) by its API name, `active` included.
    fn fields(&self) -> Map<String, Value>;
}

/// The `changes` of an entry: `{field: {"from", "to"}}` for each field whose value differs
/// between `before` and `after` (a missing side is `null`: a creation or a deletion lists
/// every field).
///
/// ```
/// use serde_json::json;
/// let before = json!({"name": "A", "city": "X"});
/// let after = json!({"name": "B", "city": "X"});
/// assert_eq!(
///     cohai_domain::audit::changes(before.as_object(), after.as_object()),
///     json!({"name": {"from": "A", "to": "B"}})
/// );
/// ```
pub fn changes(before: Option<&Map<String, Value>>, after: Option<&Map<String, Value>>) -> Value {
    let empty = Map::new();
    let (old, new) = (before.unwrap_or(&empty), after.unwrap_or(&empty));
    let mut out = Map::new();
    for key in old
        .keys()
        .chain(new.keys().filter(|k| !old.contains_key(*k)))
    {
        let from = if before.is_some() {
            old.get(key).cloned().unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        let to = new.get(key).cloned().unwrap_or(Value::Null);
        // A creation or deletion lists every field, even a null one.
        if from != to || before.is_none() || after.is_none() {
            out.insert(key.clone(), serde_json::json!({"from": from, "to": to}));
        }
    }
    Value::Object(out)
}

/// The fields of a serialisable entity for [`Audited::fields`]: its JSON object without
/// `id`, plus `active`.
pub fn fields_of<T: Serialize>(entity: &T, active: bool) -> Map<String, Value> {
    let mut map = match serde_json::to_value(entity) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    map.remove("id");
    map.insert("active".to_owned(), Value::Bool(active));
    map
}

/// A webhook as the audit log records it: `url`, `events` and `active`. Its signing key is
/// not a field of [`crate::outbox::Webhook`] at all, so no entry can carry it (API.md §7); the
/// timestamps are left out because every change moves `updated_at`.
impl Audited for crate::outbox::Webhook {
    const ENTITY: AuditEntity = AuditEntity::Webhook;
    fn id(&self) -> i64 {
        self.id
    }
    fn version(&self) -> i64 {
        self.version
    }
    fn fields(&self) -> Map<String, Value> {
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|e| Value::String(e.as_str().to_owned()))
            .collect();
        Map::from_iter([
            ("url".to_owned(), Value::String(self.url.clone())),
            ("events".to_owned(), Value::Array(events)),
            ("active".to_owned(), Value::Bool(self.active)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_webhooks_audited_fields_are_its_url_events_and_active_only() {
        let hook = crate::outbox::Webhook {
            id: 4,
            url: "https://hooks.example.com/in".to_owned(),
            events: vec![crate::outbox::EventType::LeadCreated],
            active: true,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
            version: 2,
        };
        assert_eq!(
            Value::Object(hook.fields()),
            json!({"url": "https://hooks.example.com/in", "events": ["lead.created"], "active": true})
        );
        assert_eq!((hook.id(), hook.version()), (4, 2));
    }

    #[test]
    fn creation_and_deletion_list_every_field_and_updates_only_changed_ones() {
        let a = json!({"name": "A", "phone": null});
        let b = json!({"name": "B", "phone": null});
        assert_eq!(
            changes(None, a.as_object()),
            json!({"name": {"from": null, "to": "A"}, "phone": {"from": null, "to": null}})
        );
        assert_eq!(
            changes(a.as_object(), None),
            json!({"name": {"from": "A", "to": null}, "phone": {"from": null, "to": null}})
        );
        assert_eq!(
            changes(a.as_object(), b.as_object()),
            json!({"name": {"from": "A", "to": "B"}})
        );
        assert_eq!(changes(a.as_object(), a.as_object()), json!({}));
    }
}
