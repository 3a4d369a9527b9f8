//! The Postman collection (v2.1) generated from the OpenAPI document, `docs/openapi.json`.
//!
//! One folder per tag (in the document's tag order), one request per operation. Requests are
//! ordered within a folder so that the whole collection runs green on a freshly seeded
//! database (`make run`'s demo data) and again on the next run: reads use ids of the demo
//! data (collection variables such as `location_id` = 1); writes create their own record
//! first (its id is stored in a variable such as `new_location_id` by the create request's
//! script), change it and delete it, so the demo data stays as it was. Admin requests carry
//! `Bearer {{admin_key}}`; `base_url` and `admin_key` come from the environment file.
//!
//! Bodies are built from the document: every required field gets the schema's `example`,
//! `examples[0]`, `default` or first `enum` value, and [`CALLS`] lays the values that must
//! match the demo data (ids, unique names, dates) over them. Every request's test script
//! asserts the expected status and, where the response is JSON, that it is JSON.
//!
//! The output is deterministic (ids are derived from operation ids and tag names, maps are
//! sorted), so `tests/tests/postman.rs` can fail while the committed collection is stale.

use serde_json::{Map, Value, json};

/// The committed collection, relative to the workspace root.
pub const COLLECTION_FILE: &str = "docs/cohai.postman_collection.json";
/// The committed environment, relative to the workspace root.
pub const ENVIRONMENT_FILE: &str = "docs/cohai.postman_environment.json";

const SCHEMA: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

/// How one operation is called in the collection.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// The operation's `operationId`.
    pub operation: &'static str,
    /// Path parameters: name → value (usually a `{{variable}}`).
    pub path: &'static [(&'static str, &'static str)],
    /// Query parameters sent (the other documented ones are listed, disabled).
    pub query: &'static [(&'static str, &'static str)],
    /// JSON laid over the body built from the schema's required fields.
    pub body: Option<&'static str>,
    /// Expected statuses; empty: the lowest documented 2xx.
    pub status: &'static [u16],
    /// A collection variable the response's `id` is stored in (after a 2xx).
    pub capture: Option<&'static str>,
    /// A line for the request's description (why the status, which record).
    pub note: Option<&'static str>,
}

const CALL: Call = Call {
    operation: "",
    path: &[],
    query: &[],
    body: None,
    status: &[],
    capture: None,
    note: None,
};

const fn call(operation: &'static str) -> Call {
    Call { operation, ..CALL }
}

/// Every operation, in the order the collection runs them within its folder.
pub const CALLS: &[Call] = &[
    // catalog
    call("listLocations"),
    Call {
        path: &[("id", "{{location_id}}")],
        ..call("getLocation")
    },
    call("listProgramTypes"),
    Call {
        query: &[("location_id", "{{location_id}}")],
        ..call("listTrainers")
    },
    Call {
        path: &[("id", "{{trainer_id}}")],
        ..call("getTrainer")
    },
    Call {
        query: &[("location_id", "{{location_id}}")],
        ..call("listMemberships")
    },
    Call {
        path: &[("id", "{{membership_id}}")],
        ..call("getMembership")
    },
    // schedule
    Call {
        query: &[("location_id", "{{location_id}}")],
        ..call("listSchedule")
    },
    Call {
        query: &[("location_id", "{{location_id}}")],
        ..call("getScheduleCalendar")
    },
    // leads
    Call {
        body: Some(
            r#"{"name": "Анна", "phone": "+79161234567", "email": "anna@example.com",
                "consent": true, "location_id": 1, "program_type_id": 1,
                "message": "Хочу на пробное занятие", "utm_source": "postman"}"#,
        ),
        status: &[201, 200],
        note: Some(
            "201 creates the lead; 200 when an open lead of this phone from the last 24 hours \
             exists (the submission is added to its history).",
        ),
        ..call("submitLead")
    },
    // admin (leads CRM)
    call("listLeads"),
    Call {
        body: Some(
            r#"{"name": "Мария Петрова", "phone": "+7 916 765-43-21", "source": "phone",
                "location_id": 1, "program_type_id": 1, "consent": true,
                "notes": "Позвонила в студию, просит перезвонить вечером"}"#,
        ),
        capture: Some("lead_id"),
        note: Some("Stores the new lead's id in `lead_id` for the requests below."),
        ..call("createLead")
    },
    Call {
        path: &[("id", "{{lead_id}}")],
        ..call("getLead")
    },
    Call {
        path: &[("id", "{{lead_id}}")],
        body: Some(
            r#"{"status": "contacted", "assignee": "admin",
                "next_contact_at": "2030-06-03T19:00:00+03:00",
                "notes": "Перезвонить после 19:00"}"#,
        ),
        ..call("updateLead")
    },
    Call {
        path: &[("id", "{{lead_id}}")],
        ..call("listLeadEvents")
    },
    Call {
        query: &[("status", "new,contacted")],
        ..call("exportLeads")
    },
    call("leadStats"),
    Call {
        query: &[("phone", "%2B79161234567")],
        note: Some("The phone of the public form's lead (`+` written `%2B`)."),
        ..call("personalData")
    },
    Call {
        path: &[("id", "{{lead_id}}")],
        note: Some("Erases the lead created above."),
        ..call("deleteLead")
    },
    // admin-catalog
    call("listAdminLocations"),
    Call {
        body: Some(
            r#"{"name": "Postman {{$timestamp}}", "address": "ул. Тверская, 1",
                "city": "Москва", "timezone": "Europe/Moscow", "phone": "+7 495 123-45-67"}"#,
        ),
        capture: Some("new_location_id"),
        ..call("createLocation")
    },
    Call {
        path: &[("id", "{{location_id}}")],
        ..call("getAdminLocation")
    },
    Call {
        path: &[("id", "{{new_location_id}}")],
        body: Some(r#"{"address": "ул. Тверская, 3", "active": false}"#),
        ..call("updateLocation")
    },
    Call {
        path: &[("id", "{{new_location_id}}")],
        ..call("deleteLocation")
    },
    call("listAdminProgramTypes"),
    Call {
        body: Some(
            r#"{"name": "Postman {{$timestamp}}", "duration_minutes": 60, "level": "beginner",
                "description": "Пробная программа"}"#,
        ),
        capture: Some("new_program_type_id"),
        ..call("createProgramType")
    },
    Call {
        path: &[("id", "{{program_type_id}}")],
        ..call("getAdminProgramType")
    },
    Call {
        path: &[("id", "{{new_program_type_id}}")],
        body: Some(r#"{"duration_minutes": 75}"#),
        ..call("updateProgramType")
    },
    Call {
        path: &[("id", "{{new_program_type_id}}")],
        ..call("deleteProgramType")
    },
    call("listAdminTrainers"),
    Call {
        body: Some(
            r#"{"full_name": "Postman {{$timestamp}}", "bio": "Тренер для проверки API",
                "photo_url": "https://example.com/trainer.jpg"}"#,
        ),
        capture: Some("new_trainer_id"),
        ..call("createTrainer")
    },
    Call {
        path: &[("id", "{{trainer_id}}")],
        ..call("getAdminTrainer")
    },
    Call {
        path: &[("id", "{{new_trainer_id}}")],
        body: Some(r#"{"bio": null}"#),
        ..call("updateTrainer")
    },
    Call {
        path: &[("id", "{{new_trainer_id}}")],
        ..call("deleteTrainer")
    },
    call("listAdminMembershipPlans"),
    Call {
        body: Some(
            r#"{"location_id": 1, "name": "Postman {{$timestamp}}", "price_minor": 450000,
                "currency": "RUB", "visits": 8, "validity_days": 30}"#,
        ),
        capture: Some("new_membership_id"),
        ..call("createMembershipPlan")
    },
    Call {
        path: &[("id", "{{membership_id}}")],
        ..call("getAdminMembershipPlan")
    },
    Call {
        path: &[("id", "{{new_membership_id}}")],
        body: Some(r#"{"price_minor": 480000}"#),
        ..call("updateMembershipPlan")
    },
    Call {
        path: &[("id", "{{new_membership_id}}")],
        ..call("deleteMembershipPlan")
    },
    call("listAdminClassSessions"),
    Call {
        body: Some(
            r#"{"location_id": 1, "program_type_id": 1, "trainer_id": 1,
                "starts_at": "2030-06-03T06:00:00+03:00", "capacity": 12}"#,
        ),
        capture: Some("new_class_session_id"),
        note: Some("At 06:00, an hour no demo class takes, so the trainer is free."),
        ..call("createClassSession")
    },
    Call {
        path: &[("id", "{{class_session_id}}")],
        ..call("getAdminClassSession")
    },
    Call {
        path: &[("id", "{{new_class_session_id}}")],
        body: Some(r#"{"status": "cancelled", "cancellation_reason": "Тренер заболел"}"#),
        ..call("updateClassSession")
    },
    Call {
        path: &[("id", "{{new_class_session_id}}")],
        ..call("deleteClassSession")
    },
    Call {
        query: &[("entity", "location"), ("limit", "10")],
        ..call("listAuditEntries")
    },
    // admin-timetable
    call("listTimetableSlots"),
    Call {
        body: Some(
            r#"{"location_id": 1, "program_type_id": 1, "trainer_id": 1, "weekday": 1,
                "start_time": "06:30", "capacity": 10,
                "valid_from": "2030-01-01", "valid_until": "2030-12-31"}"#,
        ),
        capture: Some("new_timetable_slot_id"),
        note: Some("Valid from 2030, so no generation makes sessions of it and it can be deleted."),
        ..call("createTimetableSlot")
    },
    Call {
        path: &[("id", "{{timetable_slot_id}}")],
        ..call("getTimetableSlot")
    },
    Call {
        path: &[("id", "{{new_timetable_slot_id}}")],
        body: Some(r#"{"capacity": 14}"#),
        ..call("updateTimetableSlot")
    },
    Call {
        path: &[("id", "{{new_timetable_slot_id}}")],
        body: Some(r#"{"from": "{{today}}"}"#),
        ..call("applyTimetableSlot")
    },
    Call {
        path: &[("id", "{{new_timetable_slot_id}}")],
        ..call("deleteTimetableSlot")
    },
    Call {
        body: Some(r#"{"from": "{{today}}", "to": "{{week_later}}", "location_id": 1}"#),
        note: Some(
            "The coming week (`today`, `week_later`: set by the collection's pre-request \
             script); the server has generated it already, so it mostly reports `skipped`.",
        ),
        ..call("generateTimetableSessions")
    },
    // admin-webhooks
    call("listWebhooks"),
    Call {
        body: Some(
            r#"{"url": "https://93.184.215.14/cohai-webhook", "events": ["lead.created"],
                "active": false}"#,
        ),
        capture: Some("webhook_id"),
        note: Some(
            "Inactive, so nothing is ever sent to it. The target is an IP literal (example.com's) \
             because a host name is resolved at registration, which needs DNS.",
        ),
        ..call("createWebhook")
    },
    Call {
        path: &[("id", "{{webhook_id}}")],
        ..call("getWebhook")
    },
    Call {
        path: &[("id", "{{webhook_id}}")],
        body: Some(r#"{"events": ["lead.created", "lead.status_changed"]}"#),
        ..call("updateWebhook")
    },
    Call {
        path: &[("id", "{{webhook_id}}")],
        ..call("listWebhookDeliveries")
    },
    Call {
        path: &[("id", "{{webhook_id}}"), ("delivery_id", "{{delivery_id}}")],
        status: &[404],
        note: Some(
            "The webhook created above has no deliveries, so this is the 404 `not_found`; with \
             the id of an active webhook and an item of its deliveries log it is a 202.",
        ),
        ..call("redeliverWebhookDelivery")
    },
    Call {
        path: &[("id", "{{webhook_id}}")],
        ..call("deleteWebhook")
    },
    // operations
    call("getHealth"),
    call("getReady"),
    call("getMetrics"),
    call("getOpenApi"),
    Call {
        status: &[500, 404],
        note: Some("500 while `test_error_enabled` is on (the default), 404 when it is off."),
        ..call("testError")
    },
];

/// Collection variables: ids of the demo data (`cohai-bootstrap seed`), and the ids the
/// create requests store.
const VARIABLES: &[(&str, &str, &str)] = &[
    ("location_id", "1", "A demo studio (Cohai Патриаршие)"),
    ("program_type_id", "1", "A demo program type"),
    ("trainer_id", "1", "A demo trainer"),
    ("membership_id", "1", "A demo membership plan"),
    ("class_session_id", "1", "A demo class session"),
    ("timetable_slot_id", "1", "A demo timetable slot"),
    ("lead_id", "", "Set by “Create lead”"),
    ("new_location_id", "", "Set by “Create location”"),
    ("new_program_type_id", "", "Set by “Create program type”"),
    ("new_trainer_id", "", "Set by “Create trainer”"),
    ("new_membership_id", "", "Set by “Create membership plan”"),
    ("new_class_session_id", "", "Set by “Create class session”"),
    (
        "new_timetable_slot_id",
        "",
        "Set by “Create timetable slot”",
    ),
    ("webhook_id", "", "Set by “Create webhook”"),
    (
        "delivery_id",
        "1",
        "An item of the webhook's deliveries log",
    ),
];

/// Runs before every request: the dates the timetable requests use.
const PRE_REQUEST: &[&str] = &[
    "// `today` and `week_later` (UTC dates) for the timetable requests.",
    "const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);",
    "pm.variables.set(\"today\", day(0));",
    "pm.variables.set(\"week_later\", day(7));",
];

/// What keeps [`collection`] from describing `doc` faithfully: operations without an entry
/// in [`CALLS`] (or entries without an operation), required fields without a value, body or
/// parameter names the document does not declare. Empty when all is well.
pub fn problems(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let ops = operations(doc);
    for (_, _, op) in &ops {
        let id = op["operationId"].as_str().unwrap_or_default();
        if !CALLS.iter().any(|c| c.operation == id) {
            out.push(format!("{id}: no entry in CALLS (tests/src/postman.rs)"));
        }
    }
    for c in CALLS {
        let Some((path, _, op)) = ops
            .iter()
            .find(|(_, _, op)| op["operationId"] == c.operation)
        else {
            out.push(format!("{}: in CALLS but not in the document", c.operation));
            continue;
        };
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let declared =
            |name: &str, place: &str| params.iter().any(|p| p["name"] == name && p["in"] == place);
        for (name, _) in c.path {
            if !declared(name, "path") {
                out.push(format!("{}: no path parameter {name}", c.operation));
            }
        }
        for p in params.iter().filter(|p| p["in"] == "path") {
            let name = p["name"].as_str().unwrap_or_default();
            if !c.path.iter().any(|(n, _)| *n == name) {
                out.push(format!(
                    "{}: no value for path parameter {name}",
                    c.operation
                ));
            }
        }
        for (name, _) in c.query {
            if !declared(name, "query") {
                out.push(format!("{}: no query parameter {name}", c.operation));
            }
        }
        for p in params
            .iter()
            .filter(|p| p["in"] == "query" && p["required"] == true)
        {
            let name = p["name"].as_str().unwrap_or_default();
            if !c.query.iter().any(|(n, _)| *n == name) {
                out.push(format!(
                    "{}: no value for required query {name}",
                    c.operation
                ));
            }
        }
        if let Err(e) = body(doc, op, c) {
            out.push(format!("{} ({path}): {e}", c.operation));
        }
    }
    out
}

/// The Postman collection for `doc`.
pub fn collection(doc: &Value) -> Value {
    let ops = operations(doc);
    let mut folders = Vec::new();
    for tag in doc["tags"].as_array().into_iter().flatten() {
        let name = tag["name"].as_str().unwrap_or_default();
        let mut items = Vec::new();
        for c in CALLS {
            let Some((path, method, op)) = ops
                .iter()
                .find(|(_, _, op)| op["operationId"] == c.operation && op["tags"][0] == name)
            else {
                continue;
            };
            items.push(item(doc, path, method, op, c));
        }
        if items.is_empty() {
            continue;
        }
        folders.push(json!({
            "id": stable_id(&format!("folder {name}")),
            "name": name,
            "description": tag["description"],
            "item": items,
        }));
    }
    let variables: Vec<Value> = VARIABLES
        .iter()
        .map(|(key, value, description)| {
            json!({"key": key, "value": value, "type": "string", "description": description})
        })
        .collect();
    let info = &doc["info"];
    json!({
        "info": {
            "_postman_id": stable_id("collection"),
            "name": info["title"],
            "description": format!(
                "{}\n\nGenerated from `docs/openapi.json` (OpenAPI {}, API version {}) by \
                 `make postman`; do not edit by hand. Import it with \
                 `docs/cohai.postman_environment.json` (`base_url`, `admin_key`). Run in order, \
                 every request works against the demo data of `make run`: reads use the demo \
                 ids of the collection variables; each write creates its own record, changes \
                 and deletes it.",
                info["description"].as_str().unwrap_or_default(),
                doc["openapi"].as_str().unwrap_or_default(),
                info["version"].as_str().unwrap_or_default(),
            ),
            "schema": SCHEMA,
        },
        "auth": {"type": "noauth"},
        "event": [{
            "listen": "prerequest",
            "script": {"id": stable_id("prerequest"), "type": "text/javascript", "exec": PRE_REQUEST},
        }],
        "variable": variables,
        "item": folders,
    })
}

/// The environment: where the server is and the admin key (`make run`'s, as in the README).
pub fn environment() -> Value {
    json!({
        "id": stable_id("environment"),
        "name": "Cohai local (make run)",
        "values": [
            {"key": "base_url", "value": "http://127.0.0.1:8080", "type": "default", "enabled": true},
            {"key": "admin_key", "value": "change-me", "type": "secret", "enabled": true},
        ],
        "_postman_variable_scope": "environment",
    })
}

/// `(path, method, operation)` of every operation of `doc`.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            out.push((path.clone(), method.clone(), op.clone()));
        }
    }
    out
}

fn item(doc: &Value, path: &str, method: &str, op: &Value, c: &Call) -> Value {
    let id = c.operation;
    let params = op["parameters"].as_array().cloned().unwrap_or_default();
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => format!(":{name}"),
                None => s.to_owned(),
            },
        )
        .collect();
    let param_description = |name: &str, place: &str| {
        params
            .iter()
            .find(|p| p["name"] == name && p["in"] == place)
            .map_or(Value::Null, |p| p["description"].clone())
    };
    let mut query: Vec<Value> = c
        .query
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v, "description": param_description(k, "query")}))
        .collect();
    for p in params.iter().filter(|p| p["in"] == "query") {
        let name = p["name"].as_str().unwrap_or_default();
        if c.query.iter().any(|(n, _)| *n == name) {
            continue;
        }
        query.push(json!({
            "key": name,
            "value": example(doc, p).map_or(String::new(), |v| plain(&v)),
            "description": p["description"],
            "disabled": true,
        }));
    }
    let sent: Vec<String> = c.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut raw = format!("{{{{base_url}}}}/{}", segments.join("/"));
    if !sent.is_empty() {
        raw = format!("{raw}?{}", sent.join("&"));
    }
    let variables: Vec<Value> = c
        .path
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v, "description": param_description(k, "path")}))
        .collect();
    let mut url = json!({"raw": raw, "host": ["{{base_url}}"], "path": segments});
    if !query.is_empty() {
        url["query"] = Value::Array(query);
    }
    if !variables.is_empty() {
        url["variable"] = Value::Array(variables);
    }

    let mut headers = Vec::new();
    let body = body(doc, op, c).unwrap_or_else(|e| panic!("{id}: {e}"));
    if body.is_some() {
        headers.push(json!({"key": "Content-Type", "value": "application/json"}));
    }
    for p in params.iter().filter(|p| p["in"] == "header") {
        let name = p["name"].as_str().unwrap_or_default();
        let value = if name.eq_ignore_ascii_case("idempotency-key") {
            "{{$guid}}".to_owned()
        } else {
            example(doc, p).map_or(String::new(), |v| plain(&v))
        };
        headers.push(json!({
            "key": name, "value": value, "description": p["description"], "disabled": true,
        }));
    }
    let admin = op["security"].as_array().is_some_and(|s| !s.is_empty());
    let auth = if admin {
        json!({"type": "bearer", "bearer": [{"key": "token", "value": "{{admin_key}}", "type": "string"}]})
    } else {
        json!({"type": "noauth"})
    };
    let mut description = [op["summary"].as_str(), op["description"].as_str()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    if let Some(note) = c.note {
        description = format!("{description}\n\nIn this collection: {note}");
    }
    let mut request = json!({
        "method": method.to_uppercase(),
        "header": headers,
        "url": url,
        "auth": auth,
        "description": description,
    });
    if let Some(body) = body {
        let raw = serde_json::to_string_pretty(&body).expect("a JSON body");
        request["body"] =
            json!({"mode": "raw", "raw": raw, "options": {"raw": {"language": "json"}}});
    }
    json!({
        "id": stable_id(&format!("request {id}")),
        "name": title(id),
        "request": request,
        "event": [{
            "listen": "test",
            "script": {
                "id": stable_id(&format!("test {id}")),
                "type": "text/javascript",
                "exec": test_script(op, c),
            },
        }],
        "response": [],
    })
}

/// The expected statuses of `c`: its own, else the lowest documented 2xx.
fn expected(op: &Value, c: &Call) -> Vec<u16> {
    if !c.status.is_empty() {
        return c.status.to_vec();
    }
    let lowest = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(code, _)| code.parse::<u16>().ok())
        .filter(|code| (200..300).contains(code))
        .min();
    vec![lowest.unwrap_or(200)]
}

fn test_script(op: &Value, c: &Call) -> Vec<String> {
    let statuses = expected(op, c);
    let mut lines = Vec::new();
    if let [status] = statuses[..] {
        lines.push(format!("pm.test(\"status is {status}\", function () {{"));
        lines.push(format!("    pm.response.to.have.status({status});"));
    } else {
        let list: Vec<String> = statuses.iter().map(u16::to_string).collect();
        lines.push(format!(
            "pm.test(\"status is one of {}\", function () {{",
            list.join(", ")
        ));
        lines.push(format!(
            "    pm.expect(pm.response.code).to.be.oneOf([{}]);",
            list.join(", ")
        ));
    }
    lines.push("});".to_owned());
    // The media types documented for the expected statuses.
    let mut media: Vec<String> = statuses
        .iter()
        .filter_map(|s| op["responses"][s.to_string()]["content"].as_object())
        .flat_map(|content| content.keys())
        .map(|m| m.split(';').next().unwrap_or_default().trim().to_owned())
        .collect();
    media.sort();
    media.dedup();
    match media.as_slice() {
        [] => {}
        [json] if json == "application/json" => {
            lines.push("pm.test(\"the body is JSON\", function () {".to_owned());
            lines.push("    pm.response.to.be.json;".to_owned());
            lines.push("});".to_owned());
        }
        [other] => {
            lines.push(format!("pm.test(\"the body is {other}\", function () {{"));
            lines.push(format!(
                "    pm.expect(pm.response.headers.get(\"Content-Type\")).to.include(\"{other}\");"
            ));
            lines.push("});".to_owned());
        }
        _ => {}
    }
    if let Some(variable) = c.capture {
        lines.push("if (pm.response.code >= 200 && pm.response.code < 300) {".to_owned());
        lines.push(format!(
            "    pm.collectionVariables.set(\"{variable}\", String(pm.response.json().id));"
        ));
        lines.push("}".to_owned());
    }
    lines
}

/// The request body of `op` as `c` sends it: the required fields' example values with
/// `c.body` laid over them; `None` when the operation takes no body.
fn body(doc: &Value, op: &Value, c: &Call) -> Result<Option<Value>, String> {
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    if schema.is_null() {
        return match c.body {
            Some(_) => Err("a body for an operation that takes none".to_owned()),
            None => Ok(None),
        };
    }
    let schema = resolve(doc, schema);
    let properties = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut out = Map::new();
    for field in schema["required"].as_array().into_iter().flatten() {
        let field = field.as_str().unwrap_or_default();
        if let Some(value) = properties.get(field).and_then(|p| example(doc, p)) {
            out.insert(field.to_owned(), value);
        }
    }
    if let Some(overlay) = c.body {
        let overlay: Map<String, Value> =
            serde_json::from_str(overlay).map_err(|e| format!("the body in CALLS: {e}"))?;
        for (field, value) in overlay {
            if !properties.contains_key(&field) {
                return Err(format!("the schema declares no field {field}"));
            }
            out.insert(field, value);
        }
    }
    for field in schema["required"].as_array().into_iter().flatten() {
        let field = field.as_str().unwrap_or_default();
        if !out.contains_key(field) {
            return Err(format!(
                "no example for the required field {field}: add it to CALLS"
            ));
        }
    }
    Ok(Some(Value::Object(out)))
}

/// A value for a schema or parameter: its `example`, `examples[0]`, `default` or first `enum`
/// value, looking through `$ref`, `schema` and the first `oneOf`/`anyOf`/`allOf` branch.
fn example(doc: &Value, schema: &Value) -> Option<Value> {
    for key in ["example", "default"] {
        if !schema[key].is_null() {
            return Some(schema[key].clone());
        }
    }
    if let Some(v) = schema["examples"].get(0) {
        return Some(v.clone());
    }
    if let Some(v) = schema["enum"].get(0) {
        return Some(v.clone());
    }
    if schema["$ref"].is_string() {
        return example(doc, resolve(doc, schema));
    }
    if schema["schema"].is_object() {
        return example(doc, &schema["schema"]);
    }
    ["oneOf", "anyOf", "allOf"]
        .into_iter()
        .find_map(|k| schema[k].get(0))
        .and_then(|s| example(doc, s))
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
        None => schema,
    }
}

/// A JSON value as a query or header string.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `listLeadEvents` → `List lead events`.
fn title(operation_id: &str) -> String {
    let mut out = String::new();
    for (i, ch) in operation_id.chars().enumerate() {
        if i == 0 {
            out.extend(ch.to_uppercase());
        } else if ch.is_ascii_uppercase() {
            out.push(' ');
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// A UUID-shaped id derived from `name` (FNV-1a, twice): the same on every run.
pub fn stable_id(name: &str) -> String {
    fn fnv(seed: u64, bytes: &[u8]) -> u64 {
        bytes.iter().fold(seed, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
    let hi = fnv(0xcbf2_9ce4_8422_2325, name.as_bytes());
    let lo = fnv(hi ^ 0x9e37_79b9_7f4a_7c15, name.as_bytes());
    // Version 8 (custom), RFC 9562 variant.
    let hi = (hi & !0xf000) | 0x8000;
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}
