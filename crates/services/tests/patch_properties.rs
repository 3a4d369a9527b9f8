//! Property tests of PATCH bodies: any JSON object either deserialises into a `LeadPatch`
//! or is rejected cleanly, and absent, null and present fields stay distinct.

use cohai_services::LeadPatch;
use proptest::prelude::*;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        ".{0,20}".prop_map(serde_json::Value::from),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
    ]
}

const FIELDS: &[&str] = &[
    "name",
    "phone",
    "email",
    "message",
    "location_id",
    "program_type_id",
    "class_session_id",
    "status",
    "source",
    "notes",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_object_of_known_fields_deserialises_or_is_rejected(entries in proptest::collection::vec((0usize..FIELDS.len(), json_value()), 0..6)) {
        let object: serde_json::Map<String, serde_json::Value> =
            entries.into_iter().map(|(i, v)| (FIELDS[i].to_owned(), v)).collect();
        let nulls: Vec<String> = object.iter().filter(|(_, v)| v.is_null()).map(|(k, _)| k.clone()).collect();
        if let Ok(patch) = serde_json::from_value::<LeadPatch>(serde_json::Value::Object(object.clone())) {
            // A JSON null is `Some(None)`; an absent field is `None`.
            prop_assert_eq!(patch.email.is_none(), !object.contains_key("email"));
            prop_assert_eq!(matches!(patch.notes, Some(None)), nulls.contains(&"notes".to_owned()));
            prop_assert_eq!(matches!(patch.location_id, Some(None)), nulls.contains(&"location_id".to_owned()));
        }
    }

    #[test]
    fn unknown_fields_are_always_rejected(name in "[a-z_]{1,12}") {
        prop_assume!(!FIELDS.contains(&name.as_str()));
        let body = serde_json::json!({ name: "x" });
        prop_assert!(serde_json::from_value::<LeadPatch>(body).is_err());
    }
}
