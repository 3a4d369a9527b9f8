//! The lead writer's batch statements on PostgreSQL, as statements of fixed text that Diesel
//! keeps prepared.
//!
//! Diesel prepares a statement once per connection and reuses it only when the statement's
//! type names it (`QueryId::HAS_STATIC_QUERY_ID`). `sql_query` and a multi-row insert of a
//! `Vec` are not such statements: their text is sent again each time, and PostgreSQL parses,
//! analyses and plans it again. Profiled at the bench's 64 connections (perf, whole machine,
//! `BENCH_BACKEND=postgres`, POST `/api/v1/leads`), that was 16 % of both cores (`raw_parser`
//! 2.7 %, `parse_analyze_varparams` 3.5 %, planning in `GetCachedPlan` 7.9 %), against 20 % for
//! running the statements. So each statement here has one text whatever the batch's size:
//! rows travel as one array per column and are turned back into rows by `unnest`, `WITH
//! ORDINALITY … ORDER BY` keeping their order (ids are taken in that order, which the batch
//! relies on).
//!
//! Each type implements Diesel's `QueryFragment` by writing its text and binds in order, and
//! `QueryId` naming the type itself (the statement cache's key); rows come back by column name
//! (`QueryableByName`), as from `sql_query`.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamp, Untyped};
use diesel::{PgConnection, QueryResult, RunQueryDsl};

use chrono::NaiveDateTime;

use super::lead::{LeadEventRecord, LeadRecord};
use super::outbox::OutboxRecord;

/// Makes `$name` a statement Diesel keeps prepared, keyed by its type, with untyped rows.
macro_rules! prepared_statement {
    ($name:ident) => {
        impl QueryId for $name<'_> {
            type QueryId = $name<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl Query for $name<'_> {
            type SqlType = Untyped;
        }

        impl RunQueryDsl<PgConnection> for $name<'_> {}
    };
}

/// Writes `INSERT INTO <table> (<columns>) SELECT <columns> FROM unnest($1::…[], $2::…[], …)
/// WITH ORDINALITY AS t(<columns>, n) ORDER BY n`: one bound array per column, each with its
/// SQL type and the cast that names it in the text, inserted in the arrays' order.
macro_rules! push_ordered_insert {
    ($out:ident, $table:literal, $columns:expr; $($array:expr => $sql_type:ty, $cast:literal),+ $(,)?) => {{
        $out.push_sql(concat!("INSERT INTO ", $table, " ("));
        $out.push_sql($columns);
        $out.push_sql(") SELECT ");
        $out.push_sql($columns);
        $out.push_sql(" FROM unnest(");
        let mut first = true;
        $(
            if !first {
                $out.push_sql(", ");
            }
            first = false;
            $out.push_bind_param::<Array<$sql_type>, _>(&$array)?;
            $out.push_sql($cast);
        )+
        let _ = first;
        $out.push_sql(") WITH ORDINALITY AS t(");
        $out.push_sql($columns);
        $out.push_sql(", n) ORDER BY n");
    }};
}

/// Takes the transaction-scoped advisory locks of `phones` in their order (see
/// `lead_batch::lock_phones`).
pub(super) struct LockPhones<'a> {
    pub phones: &'a [&'a str],
}
prepared_statement!(LockPhones);

impl QueryFragment<Pg> for LockPhones<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT pg_advisory_xact_lock(hashtextextended(phone, 0)) FROM unnest(");
        out.push_bind_param::<Array<Text>, _>(self.phones)?;
        out.push_sql("::text[]) WITH ORDINALITY AS t(phone, n) ORDER BY n");
        Ok(())
    }
}

/// The newest lead of each of `phones` with a status in `statuses`, created at or after
/// `since`: one probe of `leads_phone_created_idx` per phone (see `lead_batch::open_leads`).
pub(super) struct OpenLeads<'a> {
    pub phones: &'a [&'a str],
    pub statuses: [&'static str; 3],
    pub since: NaiveDateTime,
}
prepared_statement!(OpenLeads);

impl QueryFragment<Pg> for OpenLeads<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT l.* FROM unnest(");
        out.push_bind_param::<Array<Text>, _>(self.phones)?;
        out.push_sql(
            "::text[]) AS p(phone) CROSS JOIN LATERAL ( \
             SELECT * FROM leads WHERE leads.phone = p.phone AND leads.status IN (",
        );
        for (i, status) in self.statuses.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<Text, _>(status)?;
        }
        out.push_sql(") AND leads.created_at >= ");
        out.push_bind_param::<Timestamp, _>(&self.since)?;
        out.push_sql(" ORDER BY leads.created_at DESC, leads.id DESC LIMIT 1) AS l");
        Ok(())
    }
}

/// The columns a new lead is written with (those of `LeadRecord`), in the order bound below.
const LEAD_COLUMNS: &str = "name, phone, email, message, location_id, program_type_id, \
     class_session_id, source, status, notes, utm_source, utm_medium, utm_campaign, \
     search_text, version, created_at, updated_at, assignee, next_contact_at, lost_reason, \
     consent_at";

/// Inserts leads in the order given, returning the stored rows (`RETURNING *`; their order is
/// not promised, their ids follow the input's).
pub(super) struct InsertLeads<'a> {
    name: Vec<&'a str>,
    phone: Vec<&'a str>,
    email: Vec<Option<&'a str>>,
    message: Vec<Option<&'a str>>,
    location_id: Vec<Option<i64>>,
    program_type_id: Vec<Option<i64>>,
    class_session_id: Vec<Option<i64>>,
    source: Vec<&'static str>,
    status: Vec<&'static str>,
    notes: Vec<Option<&'a str>>,
    utm_source: Vec<Option<&'a str>>,
    utm_medium: Vec<Option<&'a str>>,
    utm_campaign: Vec<Option<&'a str>>,
    search_text: Vec<&'a str>,
    version: Vec<i64>,
    created_at: Vec<NaiveDateTime>,
    updated_at: Vec<NaiveDateTime>,
    assignee: Vec<Option<&'a str>>,
    next_contact_at: Vec<Option<NaiveDateTime>>,
    lost_reason: Vec<Option<&'a str>>,
    consent_at: Vec<Option<NaiveDateTime>>,
}
prepared_statement!(InsertLeads);

impl<'a> InsertLeads<'a> {
    /// The statement for `records`, column by column.
    pub(super) fn new(records: &'a [LeadRecord<'a>]) -> Self {
        fn column<'r, T>(
            records: &'r [LeadRecord<'_>],
            f: impl Fn(&'r LeadRecord<'_>) -> T,
        ) -> Vec<T> {
            records.iter().map(f).collect()
        }
        Self {
            name: column(records, |r| r.name),
            phone: column(records, |r| r.phone),
            email: column(records, |r| r.email),
            message: column(records, |r| r.message),
            location_id: column(records, |r| r.location_id),
            program_type_id: column(records, |r| r.program_type_id),
            class_session_id: column(records, |r| r.class_session_id),
            source: column(records, |r| r.source),
            status: column(records, |r| r.status),
            notes: column(records, |r| r.notes),
            utm_source: column(records, |r| r.utm_source),
            utm_medium: column(records, |r| r.utm_medium),
            utm_campaign: column(records, |r| r.utm_campaign),
            search_text: column(records, |r| r.search_text.as_str()),
            version: column(records, |r| r.version),
            created_at: column(records, |r| r.created_at),
            updated_at: column(records, |r| r.updated_at),
            assignee: column(records, |r| r.assignee),
            next_contact_at: column(records, |r| r.next_contact_at),
            lost_reason: column(records, |r| r.lost_reason),
            consent_at: column(records, |r| r.consent_at),
        }
    }
}

impl QueryFragment<Pg> for InsertLeads<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        push_ordered_insert!(out, "leads", LEAD_COLUMNS;
            self.name => Text, "::text[]",
            self.phone => Text, "::text[]",
            self.email => Nullable<Text>, "::text[]",
            self.message => Nullable<Text>, "::text[]",
            self.location_id => Nullable<BigInt>, "::int8[]",
            self.program_type_id => Nullable<BigInt>, "::int8[]",
            self.class_session_id => Nullable<BigInt>, "::int8[]",
            self.source => Text, "::text[]",
            self.status => Text, "::text[]",
            self.notes => Nullable<Text>, "::text[]",
            self.utm_source => Nullable<Text>, "::text[]",
            self.utm_medium => Nullable<Text>, "::text[]",
            self.utm_campaign => Nullable<Text>, "::text[]",
            self.search_text => Text, "::text[]",
            self.version => BigInt, "::int8[]",
            self.created_at => Timestamp, "::timestamp[]",
            self.updated_at => Timestamp, "::timestamp[]",
            self.assignee => Nullable<Text>, "::text[]",
            self.next_contact_at => Nullable<Timestamp>, "::timestamp[]",
            self.lost_reason => Nullable<Text>, "::text[]",
            self.consent_at => Nullable<Timestamp>, "::timestamp[]",
        );
        out.push_sql(" RETURNING *");
        Ok(())
    }
}

/// The columns of a lead event (those of `LeadEventRecord`).
const EVENT_COLUMNS: &str = "lead_id, kind, actor, data, created_at";

/// Inserts lead events in the order given (their ids follow it).
pub(super) struct InsertLeadEvents<'a> {
    lead_id: Vec<Option<i64>>,
    kind: Vec<&'static str>,
    actor: Vec<&'a str>,
    data: Vec<&'a str>,
    created_at: Vec<NaiveDateTime>,
}
prepared_statement!(InsertLeadEvents);

impl<'a> InsertLeadEvents<'a> {
    /// The statement for `records`, column by column.
    pub(super) fn new(records: &'a [LeadEventRecord<'a>]) -> Self {
        Self {
            lead_id: records.iter().map(|r| r.lead_id).collect(),
            kind: records.iter().map(|r| r.kind).collect(),
            actor: records.iter().map(|r| r.actor).collect(),
            data: records.iter().map(|r| r.data.as_str()).collect(),
            created_at: records.iter().map(|r| r.created_at).collect(),
        }
    }
}

impl QueryFragment<Pg> for InsertLeadEvents<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        push_ordered_insert!(out, "lead_events", EVENT_COLUMNS;
            self.lead_id => Nullable<BigInt>, "::int8[]",
            self.kind => Text, "::text[]",
            self.actor => Text, "::text[]",
            self.data => Text, "::text[]",
            self.created_at => Timestamp, "::timestamp[]",
        );
        Ok(())
    }
}

/// The columns of an outbox event (those of `OutboxRecord`).
const OUTBOX_COLUMNS: &str = "event_id, event_type, lead_id, from_website, payload, created_at";

/// Inserts outbox events in the order given (their ids follow it: the dispatcher routes by id).
pub(super) struct InsertOutboxEvents<'a> {
    event_id: Vec<&'a str>,
    event_type: Vec<&'static str>,
    lead_id: Vec<Option<i64>>,
    from_website: Vec<bool>,
    payload: Vec<&'a str>,
    created_at: Vec<NaiveDateTime>,
}
prepared_statement!(InsertOutboxEvents);

impl<'a> InsertOutboxEvents<'a> {
    /// The statement for `records`, column by column.
    pub(super) fn new(records: &'a [OutboxRecord]) -> Self {
        Self {
            event_id: records.iter().map(|r| r.event_id.as_str()).collect(),
            event_type: records.iter().map(|r| r.event_type).collect(),
            lead_id: records.iter().map(|r| r.lead_id).collect(),
            from_website: records.iter().map(|r| r.from_website).collect(),
            payload: records.iter().map(|r| r.payload.as_str()).collect(),
            created_at: records.iter().map(|r| r.created_at).collect(),
        }
    }
}

impl QueryFragment<Pg> for InsertOutboxEvents<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        push_ordered_insert!(out, "outbox_events", OUTBOX_COLUMNS;
            self.event_id => Text, "::text[]",
            self.event_type => Text, "::text[]",
            self.lead_id => Nullable<BigInt>, "::int8[]",
            self.from_website => Bool, "::bool[]",
            self.payload => Text, "::text[]",
            self.created_at => Timestamp, "::timestamp[]",
        );
        Ok(())
    }
}
