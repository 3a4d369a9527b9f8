//! The Postman collection `docs/cohai.postman_collection.json` and its environment are what
//! `cohai_e2e::postman` makes of `docs/openapi.json` (regenerate with `make postman`; newman
//! runs the collection against a seeded server: `make test-postman`).

use std::path::PathBuf;

use cohai_e2e::postman::{self, COLLECTION_FILE, ENVIRONMENT_FILE};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn openapi() -> Value {
    let text = std::fs::read_to_string(root().join("docs/openapi.json"))
        .expect("docs/openapi.json exists (run `make openapi`)");
    serde_json::from_str(&text).expect("docs/openapi.json is JSON")
}

/// Writes `value` to `file` under `COHAI_UPDATE_POSTMAN`, else fails unless it is stored.
fn compare_or_update(file: &str, value: &Value) {
    let path = root().join(file);
    let pretty = serde_json::to_string_pretty(value).expect("serialise") + "\n";
    if std::env::var_os("COHAI_UPDATE_POSTMAN").is_some() {
        std::fs::write(&path, pretty).unwrap_or_else(|e| panic!("write {file}: {e}"));
        return;
    }
    let stored = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{file}: {e} (run `make postman`)"));
    let stored: Value = serde_json::from_str(&stored).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(
        stored == *value,
        "{file} is out of date: run `make postman`"
    );
}

#[test]
fn every_operation_has_a_call_that_fits_the_document() {
    let problems = postman::problems(&openapi());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn committed_collection_matches_the_openapi_document() {
    compare_or_update(COLLECTION_FILE, &postman::collection(&openapi()));
}

#[test]
fn committed_environment_is_current() {
    compare_or_update(ENVIRONMENT_FILE, &postman::environment());
}

#[test]
fn collection_has_a_folder_per_tag_and_a_checked_request_per_operation() {
    let doc = openapi();
    let collection = postman::collection(&doc);
    assert_eq!(
        collection["info"]["schema"],
        "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    );
    let tags: Vec<&Value> = doc["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| &t["name"])
        .collect();
    let folders = collection["item"].as_array().expect("folders");
    assert_eq!(folders.iter().map(|f| &f["name"]).collect::<Vec<_>>(), tags);

    let mut ids = std::collections::BTreeSet::new();
    let mut requests = 0;
    for folder in folders {
        assert!(ids.insert(folder["id"].to_string()), "unique ids");
        for item in folder["item"].as_array().expect("requests") {
            assert!(ids.insert(item["id"].to_string()), "unique ids");
            requests += 1;
            let script = item["event"][0]["script"]["exec"]
                .as_array()
                .expect("a test script")
                .iter()
                .map(|l| l.as_str().expect("a line"))
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                script.contains("pm.response.to.have.status(")
                    || script.contains("pm.expect(pm.response.code).to.be.oneOf("),
                "{}: a status assertion",
                item["name"]
            );
            let request = &item["request"];
            let raw = request["url"]["raw"].as_str().expect("raw url");
            assert!(raw.starts_with("{{base_url}}/"), "{raw}");
            assert!(
                !raw.contains('{') || !raw.replace("{{", "").replace("}}", "").contains('{'),
                "{raw}"
            );
            let admin = raw.starts_with("{{base_url}}/api/v1/admin/");
            assert_eq!(
                request["auth"]["type"],
                if admin { "bearer" } else { "noauth" },
                "{raw}"
            );
            if admin {
                assert_eq!(request["auth"]["bearer"][0]["value"], "{{admin_key}}");
            }
        }
    }
    let operations: usize = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|p| p.as_object().map_or(0, |o| o.len()))
        .sum();
    assert_eq!(requests, operations, "one request per operation");

    let environment = postman::environment();
    let keys: Vec<&Value> = environment["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| &v["key"])
        .collect();
    assert_eq!(keys, ["base_url", "admin_key"]);
}

#[test]
fn the_public_form_request_sends_a_valid_lead() {
    let collection = postman::collection(&openapi());
    let leads = collection["item"]
        .as_array()
        .expect("folders")
        .iter()
        .find(|f| f["name"] == "leads")
        .expect("the leads folder");
    let body: Value = serde_json::from_str(
        leads["item"][0]["request"]["body"]["raw"]
            .as_str()
            .expect("a raw body"),
    )
    .expect("JSON");
    assert_eq!(body["consent"], true);
    assert_eq!(body["phone"], "+79161234567");
}

#[test]
fn ids_are_stable_and_uuid_shaped() {
    let id = postman::stable_id("request listLocations");
    assert_eq!(id, postman::stable_id("request listLocations"));
    assert_ne!(id, postman::stable_id("request getLocation"));
    let shape =
        regex::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
            .expect("regex");
    assert!(shape.is_match(&id), "{id}");
}
