//! Diesel table definitions shared by both backends.
//!
//! Written by hand rather than generated: one definition must serve SQLite and PostgreSQL,
//! so ids are `BigInt` and instants are UTC `Timestamp`s on both. `check` verifies that a
//! database matches these definitions (see [`crate::check`]).

diesel::table! {
    locations (id) {
        id -> BigInt,
        name -> Text,
        address -> Text,
        city -> Text,
        phone -> Nullable<Text>,
        timezone -> Text,
        is_active -> Bool,
        version -> BigInt,
    }
}

diesel::table! {
    program_types (id) {
        id -> BigInt,
        name -> Text,
        description -> Nullable<Text>,
        duration_minutes -> Integer,
        level -> Text,
        is_active -> Bool,
        version -> BigInt,
    }
}

diesel::table! {
    trainers (id) {
        id -> BigInt,
        full_name -> Text,
        bio -> Nullable<Text>,
        photo_url -> Nullable<Text>,
        is_active -> Bool,
        version -> BigInt,
    }
}

diesel::table! {
    membership_plans (id) {
        id -> BigInt,
        location_id -> BigInt,
        name -> Text,
        description -> Nullable<Text>,
        price_minor -> BigInt,
        currency -> Text,
        visits -> Nullable<Integer>,
        validity_days -> Integer,
        is_active -> Bool,
        version -> BigInt,
    }
}

diesel::table! {
    class_sessions (id) {
        id -> BigInt,
        location_id -> BigInt,
        program_type_id -> BigInt,
        trainer_id -> BigInt,
        membership_plan_id -> Nullable<BigInt>,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
        capacity -> Integer,
        status -> Text,
        cancellation_reason -> Nullable<Text>,
        version -> BigInt,
        timetable_slot_id -> Nullable<BigInt>,
        edited_by_hand -> Bool,
    }
}

diesel::table! {
    timetable_slots (id) {
        id -> BigInt,
        location_id -> BigInt,
        program_type_id -> BigInt,
        trainer_id -> BigInt,
        weekday -> Integer,
        start_minute -> Integer,
        capacity -> Integer,
        valid_from -> Date,
        valid_until -> Nullable<Date>,
        is_active -> Bool,
        version -> BigInt,
    }
}

diesel::table! {
    timetable_occurrences (timetable_slot_id, local_date) {
        timetable_slot_id -> BigInt,
        local_date -> Date,
        class_session_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    leads (id) {
        id -> BigInt,
        name -> Text,
        phone -> Text,
        email -> Nullable<Text>,
        message -> Nullable<Text>,
        location_id -> Nullable<BigInt>,
        program_type_id -> Nullable<BigInt>,
        class_session_id -> Nullable<BigInt>,
        source -> Text,
        status -> Text,
        notes -> Nullable<Text>,
        utm_source -> Nullable<Text>,
        utm_medium -> Nullable<Text>,
        utm_campaign -> Nullable<Text>,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        assignee -> Nullable<Text>,
        next_contact_at -> Nullable<Timestamp>,
        lost_reason -> Nullable<Text>,
        consent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    lead_events (id) {
        id -> BigInt,
        lead_id -> Nullable<BigInt>,
        kind -> Text,
        actor -> Text,
        data -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        entity -> Text,
        entity_id -> Nullable<BigInt>,
        action -> Text,
        actor -> Text,
        changes -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (client, endpoint, idempotency_key) {
        client -> Text,
        endpoint -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        lease_token -> Text,
        status -> Nullable<Integer>,
        response_headers -> Nullable<Text>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhooks (id) {
        id -> BigInt,
        url -> Text,
        events -> Text,
        active -> Bool,
        signing_key -> Text,
        active_since -> Nullable<Timestamp>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> BigInt,
        event_id -> Text,
        event_type -> Text,
        lead_id -> Nullable<BigInt>,
        from_website -> Bool,
        payload -> Text,
        created_at -> Timestamp,
        routed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    deliveries (id) {
        id -> BigInt,
        outbox_event_id -> BigInt,
        channel -> Text,
        webhook_id -> Nullable<BigInt>,
        chat_id -> Nullable<Text>,
        target -> Text,
        lead_id -> Nullable<BigInt>,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        leased_until -> Nullable<Timestamp>,
        lease_token -> Nullable<Text>,
        failing_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    delivery_attempts (id) {
        id -> BigInt,
        delivery_id -> BigInt,
        webhook_id -> Nullable<BigInt>,
        attempt -> Integer,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        duration_ms -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    telegram_chats (chat_id) {
        chat_id -> Text,
        next_send_at -> Timestamp,
    }
}

diesel::table! {
    rate_limits (client) {
        client -> Text,
        tat_us -> BigInt,
    }
}

diesel::table! {
    console_sessions (token_sha256) {
        token_sha256 -> Text,
        key_name -> Text,
        key_fingerprint -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(membership_plans -> locations (location_id));
diesel::joinable!(class_sessions -> locations (location_id));
diesel::joinable!(class_sessions -> program_types (program_type_id));
diesel::joinable!(class_sessions -> trainers (trainer_id));
diesel::joinable!(class_sessions -> timetable_slots (timetable_slot_id));
diesel::joinable!(timetable_slots -> locations (location_id));
diesel::joinable!(timetable_slots -> program_types (program_type_id));
diesel::joinable!(timetable_slots -> trainers (trainer_id));
diesel::joinable!(timetable_occurrences -> timetable_slots (timetable_slot_id));
diesel::joinable!(lead_events -> leads (lead_id));
diesel::joinable!(deliveries -> outbox_events (outbox_event_id));
diesel::joinable!(deliveries -> webhooks (webhook_id));
diesel::joinable!(delivery_attempts -> deliveries (delivery_id));

diesel::allow_tables_to_appear_in_same_query!(
    locations,
    program_types,
    trainers,
    membership_plans,
    class_sessions,
    leads,
    lead_events,
    audit_log,
    timetable_slots,
    timetable_occurrences,
    webhooks,
    outbox_events,
    deliveries,
    delivery_attempts,
    telegram_chats,
);

/// Every mapped column as `(table, column, type)`, with the type as [`crate::check`] names it.
///
/// Kept beside the `table!` definitions; a unit test below checks that it lists exactly the
/// columns those definitions select, in order.
pub const MAPPED_COLUMNS: &[(&str, &str, crate::check::ColumnType)] = {
    use crate::check::ColumnType::{BigInt, Bool, Date, Integer, Text, Timestamp};
    &[
        ("locations", "id", BigInt),
        ("locations", "name", Text),
        ("locations", "address", Text),
        ("locations", "city", Text),
        ("locations", "phone", Text),
        ("locations", "timezone", Text),
        ("locations", "is_active", Bool),
        ("locations", "version", BigInt),
        ("program_types", "id", BigInt),
        ("program_types", "name", Text),
        ("program_types", "description", Text),
        ("program_types", "duration_minutes", Integer),
        ("program_types", "level", Text),
        ("program_types", "is_active", Bool),
        ("program_types", "version", BigInt),
        ("trainers", "id", BigInt),
        ("trainers", "full_name", Text),
        ("trainers", "bio", Text),
        ("trainers", "photo_url", Text),
        ("trainers", "is_active", Bool),
        ("trainers", "version", BigInt),
        ("membership_plans", "id", BigInt),
        ("membership_plans", "location_id", BigInt),
        ("membership_plans", "name", Text),
        ("membership_plans", "description", Text),
        ("membership_plans", "price_minor", BigInt),
        ("membership_plans", "currency", Text),
        ("membership_plans", "visits", Integer),
        ("membership_plans", "validity_days", Integer),
        ("membership_plans", "is_active", Bool),
        ("membership_plans", "version", BigInt),
        ("class_sessions", "id", BigInt),
        ("class_sessions", "location_id", BigInt),
        ("class_sessions", "program_type_id", BigInt),
        ("class_sessions", "trainer_id", BigInt),
        ("class_sessions", "membership_plan_id", BigInt),
        ("class_sessions", "starts_at", Timestamp),
        ("class_sessions", "ends_at", Timestamp),
        ("class_sessions", "capacity", Integer),
        ("class_sessions", "status", Text),
        ("class_sessions", "cancellation_reason", Text),
        ("class_sessions", "version", BigInt),
        ("class_sessions", "timetable_slot_id", BigInt),
        ("class_sessions", "edited_by_hand", Bool),
        ("leads", "id", BigInt),
        ("leads", "name", Text),
        ("leads", "phone", Text),
        ("leads", "email", Text),
        ("leads", "message", Text),
        ("leads", "location_id", BigInt),
        ("leads", "program_type_id", BigInt),
        ("leads", "class_session_id", BigInt),
        ("leads", "source", Text),
        ("leads", "status", Text),
        ("leads", "notes", Text),
        ("leads", "utm_source", Text),
        ("leads", "utm_medium", Text),
        ("leads", "utm_campaign", Text),
        ("leads", "search_text", Text),
        ("leads", "version", BigInt),
        ("leads", "created_at", Timestamp),
        ("leads", "updated_at", Timestamp),
        ("leads", "assignee", Text),
        ("leads", "next_contact_at", Timestamp),
        ("leads", "lost_reason", Text),
        ("leads", "consent_at", Timestamp),
        ("lead_events", "id", BigInt),
        ("lead_events", "lead_id", BigInt),
        ("lead_events", "kind", Text),
        ("lead_events", "actor", Text),
        ("lead_events", "data", Text),
        ("lead_events", "created_at", Timestamp),
        ("audit_log", "id", BigInt),
        ("audit_log", "entity", Text),
        ("audit_log", "entity_id", BigInt),
        ("audit_log", "action", Text),
        ("audit_log", "actor", Text),
        ("audit_log", "changes", Text),
        ("audit_log", "created_at", Timestamp),
        ("timetable_slots", "id", BigInt),
        ("timetable_slots", "location_id", BigInt),
        ("timetable_slots", "program_type_id", BigInt),
        ("timetable_slots", "trainer_id", BigInt),
        ("timetable_slots", "weekday", Integer),
        ("timetable_slots", "start_minute", Integer),
        ("timetable_slots", "capacity", Integer),
        ("timetable_slots", "valid_from", Date),
        ("timetable_slots", "valid_until", Date),
        ("timetable_slots", "is_active", Bool),
        ("timetable_slots", "version", BigInt),
        ("timetable_occurrences", "timetable_slot_id", BigInt),
        ("timetable_occurrences", "local_date", Date),
        ("timetable_occurrences", "class_session_id", BigInt),
        ("idempotency_keys", "client", Text),
        ("idempotency_keys", "endpoint", Text),
        ("idempotency_keys", "idempotency_key", Text),
        ("idempotency_keys", "request_hash", Text),
        ("idempotency_keys", "lease_token", Text),
        ("idempotency_keys", "status", Integer),
        ("idempotency_keys", "response_headers", Text),
        ("idempotency_keys", "response_body", Text),
        ("idempotency_keys", "created_at", Timestamp),
        ("idempotency_keys", "expires_at", Timestamp),
        ("idempotency_keys", "locked_until", Timestamp),
        ("webhooks", "id", BigInt),
        ("webhooks", "url", Text),
        ("webhooks", "events", Text),
        ("webhooks", "active", Bool),
        ("webhooks", "signing_key", Text),
        ("webhooks", "active_since", Timestamp),
        ("webhooks", "version", BigInt),
        ("webhooks", "created_at", Timestamp),
        ("webhooks", "updated_at", Timestamp),
        ("outbox_events", "id", BigInt),
        ("outbox_events", "event_id", Text),
        ("outbox_events", "event_type", Text),
        ("outbox_events", "lead_id", BigInt),
        ("outbox_events", "from_website", Bool),
        ("outbox_events", "payload", Text),
        ("outbox_events", "created_at", Timestamp),
        ("outbox_events", "routed_at", Timestamp),
        ("deliveries", "id", BigInt),
        ("deliveries", "outbox_event_id", BigInt),
        ("deliveries", "channel", Text),
        ("deliveries", "webhook_id", BigInt),
        ("deliveries", "chat_id", Text),
        ("deliveries", "target", Text),
        ("deliveries", "lead_id", BigInt),
        ("deliveries", "state", Text),
        ("deliveries", "attempts", Integer),
        ("deliveries", "next_attempt_at", Timestamp),
        ("deliveries", "leased_until", Timestamp),
        ("deliveries", "lease_token", Text),
        ("deliveries", "failing_since", Timestamp),
        ("deliveries", "created_at", Timestamp),
        ("deliveries", "updated_at", Timestamp),
        ("delivery_attempts", "id", BigInt),
        ("delivery_attempts", "delivery_id", BigInt),
        ("delivery_attempts", "webhook_id", BigInt),
        ("delivery_attempts", "attempt", Integer),
        ("delivery_attempts", "status_code", Integer),
        ("delivery_attempts", "error", Text),
        ("delivery_attempts", "duration_ms", BigInt),
        ("delivery_attempts", "created_at", Timestamp),
        ("telegram_chats", "chat_id", Text),
        ("telegram_chats", "next_send_at", Timestamp),
        ("rate_limits", "client", Text),
        ("rate_limits", "tat_us", BigInt),
        ("console_sessions", "token_sha256", Text),
        ("console_sessions", "key_name", Text),
        ("console_sessions", "key_fingerprint", Text),
        ("console_sessions", "created_at", Timestamp),
        ("console_sessions", "expires_at", Timestamp),
    ]
};

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sqlite::Sqlite;

    use super::*;

    /// The column names a table's `SELECT *` equivalent names, from Diesel's own SQL.
    fn selected_columns<Q: diesel::query_builder::QueryFragment<Sqlite>>(query: Q) -> Vec<String> {
        let sql = diesel::debug_query::<Sqlite, _>(&query).to_string();
        let select = sql
            .trim_start_matches("SELECT ")
            .split(" FROM ")
            .next()
            .unwrap_or_default()
            .to_owned();
        select
            .split(", ")
            .map(|col| {
                col.rsplit('.')
                    .next()
                    .unwrap_or_default()
                    .trim_matches('`')
                    .to_owned()
            })
            .collect()
    }

    fn listed(table: &str) -> Vec<String> {
        MAPPED_COLUMNS
            .iter()
            .filter(|(t, _, _)| *t == table)
            .map(|(_, c, _)| (*c).to_owned())
            .collect()
    }

    #[test]
    fn mapped_columns_list_exactly_the_columns_of_every_table() {
        let tables = [
            (
                "locations",
                selected_columns(locations::table.select(locations::all_columns)),
            ),
            (
                "program_types",
                selected_columns(program_types::table.select(program_types::all_columns)),
            ),
            (
                "trainers",
                selected_columns(trainers::table.select(trainers::all_columns)),
            ),
            (
                "membership_plans",
                selected_columns(membership_plans::table.select(membership_plans::all_columns)),
            ),
            (
                "class_sessions",
                selected_columns(class_sessions::table.select(class_sessions::all_columns)),
            ),
            (
                "leads",
                selected_columns(leads::table.select(leads::all_columns)),
            ),
            (
                "lead_events",
                selected_columns(lead_events::table.select(lead_events::all_columns)),
            ),
            (
                "audit_log",
                selected_columns(audit_log::table.select(audit_log::all_columns)),
            ),
            (
                "timetable_slots",
                selected_columns(timetable_slots::table.select(timetable_slots::all_columns)),
            ),
            (
                "timetable_occurrences",
                selected_columns(
                    timetable_occurrences::table.select(timetable_occurrences::all_columns),
                ),
            ),
            (
                "idempotency_keys",
                selected_columns(idempotency_keys::table.select(idempotency_keys::all_columns)),
            ),
            (
                "webhooks",
                selected_columns(webhooks::table.select(webhooks::all_columns)),
            ),
            (
                "outbox_events",
                selected_columns(outbox_events::table.select(outbox_events::all_columns)),
            ),
            (
                "deliveries",
                selected_columns(deliveries::table.select(deliveries::all_columns)),
            ),
            (
                "delivery_attempts",
                selected_columns(delivery_attempts::table.select(delivery_attempts::all_columns)),
            ),
            (
                "telegram_chats",
                selected_columns(telegram_chats::table.select(telegram_chats::all_columns)),
            ),
            (
                "rate_limits",
                selected_columns(rate_limits::table.select(rate_limits::all_columns)),
            ),
            (
                "console_sessions",
                selected_columns(console_sessions::table.select(console_sessions::all_columns)),
            ),
        ];
        let mut total = 0;
        for (table, columns) in tables {
            assert_eq!(listed(table), columns, "{table}");
            total += columns.len();
        }
        assert_eq!(
            total,
            MAPPED_COLUMNS.len(),
            "no table in the list that the schema lacks"
        );
    }
}
