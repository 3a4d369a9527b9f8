//! Leads and their events. Every change and its event are written in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use cohai_domain::lead::{search_text, strip_personal_data};
use cohai_domain::ports::{BoxFuture, LeadRepository, SubmitError};
use cohai_domain::{
    Lead, LeadChanges, LeadCursor, LeadEvent, LeadEventKind, LeadFilter, LeadHistory, LeadPage,
    LeadStats, LeadStatsFilter, NewLead, Phone, RepoError, RepoResult, Submission,
};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::{PgConnection, SqliteConnection};

use super::lead_writer::LeadWriter;
use super::outbox::{LeadEventWrite, RecordEvent};
use super::{Db, IntoDomain, from_db_time, parse_stored, to_db_time, to_domain_vec};
use super::{lead_query, lead_stats};
use crate::connection::{AnyConnection, write_transaction};
use crate::db_time::DbTime;
use crate::error::StoreError;
use crate::schema::{lead_events, leads};

/// Rows per INSERT statement in batch inserts (21 binds each, under both backends' limits).
const INSERT_CHUNK: usize = 1000;

#[derive(Queryable, QueryableByName)]
#[diesel(table_name = leads)]
pub(super) struct LeadRow {
    pub(super) id: i64,
    name: String,
    phone: String,
    email: Option<String>,
    message: Option<String>,
    location_id: Option<i64>,
    program_type_id: Option<i64>,
    class_session_id: Option<i64>,
    source: String,
    status: String,
    notes: Option<String>,
    utm_source: Option<String>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
    #[allow(dead_code)] // selected with the row, used only by the search filter
    search_text: String,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
    assignee: Option<String>,
    next_contact_at: Option<DbTime>,
    lost_reason: Option<String>,
    consent_at: Option<DbTime>,
}

impl IntoDomain for LeadRow {
    type Output = Lead;
    fn into_domain(self) -> Result<Lead, StoreError> {
        Ok(Lead {
            id: self.id,
            name: self.name,
            phone: self.phone,
            email: self.email,
            message: self.message,
            location_id: self.location_id,
            program_type_id: self.program_type_id,
            class_session_id: self.class_session_id,
            source: parse_stored(&self.source)?,
            status: parse_stored(&self.status)?,
            notes: self.notes,
            utm_source: self.utm_source,
            utm_medium: self.utm_medium,
            utm_campaign: self.utm_campaign,
            created_at: self.created_at.into(),
            updated_at: self.updated_at.into(),
            assignee: self.assignee,
            next_contact_at: self.next_contact_at.map(Into::into),
            lost_reason: self.lost_reason,
            consent_at: self.consent_at.map(Into::into),
            version: self.version,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = leads)]
pub(super) struct LeadRecord<'a> {
    pub(super) name: &'a str,
    pub(super) phone: &'a str,
    pub(super) email: Option<&'a str>,
    pub(super) message: Option<&'a str>,
    pub(super) location_id: Option<i64>,
    pub(super) program_type_id: Option<i64>,
    pub(super) class_session_id: Option<i64>,
    pub(super) source: &'static str,
    pub(super) status: &'static str,
    pub(super) notes: Option<&'a str>,
    pub(super) utm_source: Option<&'a str>,
    pub(super) utm_medium: Option<&'a str>,
    pub(super) utm_campaign: Option<&'a str>,
    pub(super) search_text: String,
    pub(super) version: i64,
    pub(super) created_at: NaiveDateTime,
    pub(super) updated_at: NaiveDateTime,
    pub(super) assignee: Option<&'a str>,
    pub(super) next_contact_at: Option<NaiveDateTime>,
    pub(super) lost_reason: Option<&'a str>,
    pub(super) consent_at: Option<NaiveDateTime>,
}

impl<'a> From<&'a NewLead> for LeadRecord<'a> {
    fn from(n: &'a NewLead) -> Self {
        let at = to_db_time(n.created_at);
        Self {
            name: &n.name,
            phone: n.phone.as_str(),
            email: n.email.as_deref(),
            message: n.message.as_deref(),
            location_id: n.location_id,
            program_type_id: n.program_type_id,
            class_session_id: n.class_session_id,
            source: n.source.as_str(),
            status: n.status.as_str(),
            notes: n.notes.as_deref(),
            utm_source: n.utm_source.as_deref(),
            utm_medium: n.utm_medium.as_deref(),
            utm_campaign: n.utm_campaign.as_deref(),
            search_text: search_text(&n.name, n.email.as_deref(), n.phone.as_str()),
            version: 1,
            created_at: at,
            updated_at: at,
            assignee: n.assignee.as_deref(),
            next_contact_at: n.next_contact_at.map(to_db_time),
            lost_reason: n.lost_reason.as_deref(),
            consent_at: n.consent_at.map(to_db_time),
        }
    }
}

/// The columns an update writes; `None` leaves a column alone, `Some(None)` sets NULL.
#[derive(AsChangeset)]
#[diesel(table_name = leads)]
struct LeadChangeset<'a> {
    name: Option<&'a str>,
    phone: Option<&'a str>,
    email: Option<Option<&'a str>>,
    message: Option<Option<&'a str>>,
    location_id: Option<Option<i64>>,
    program_type_id: Option<Option<i64>>,
    class_session_id: Option<Option<i64>>,
    source: Option<&'static str>,
    status: Option<&'static str>,
    notes: Option<Option<&'a str>>,
    assignee: Option<Option<&'a str>>,
    next_contact_at: Option<Option<NaiveDateTime>>,
    lost_reason: Option<Option<&'a str>>,
    search_text: String,
    version: i64,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = lead_events)]
pub(super) struct LeadEventRecord<'a> {
    pub(super) lead_id: Option<i64>,
    pub(super) kind: &'static str,
    pub(super) actor: &'a str,
    pub(super) data: String,
    pub(super) created_at: NaiveDateTime,
}

impl<'a> LeadEventRecord<'a> {
    pub(super) fn new(
        lead_id: i64,
        kind: LeadEventKind,
        actor: &'a str,
        data: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            lead_id: Some(lead_id),
            kind: kind.as_str(),
            actor,
            data: data.to_string(),
            created_at: to_db_time(at),
        }
    }
}

#[derive(Queryable)]
struct LeadEventRow {
    id: i64,
    lead_id: Option<i64>,
    kind: String,
    actor: String,
    data: String,
    created_at: NaiveDateTime,
}

impl IntoDomain for LeadEventRow {
    type Output = LeadEvent;
    fn into_domain(self) -> Result<LeadEvent, StoreError> {
        let data = serde_json::from_str(&self.data)
            .map_err(|e| RepoError::Internal(format!("event {}: {e}", self.id)))?;
        Ok(LeadEvent {
            id: self.id,
            lead_id: self.lead_id.unwrap_or_default(),
            kind: parse_stored(&self.kind)?,
            actor: self.actor,
            data,
            created_at: from_db_time(self.created_at),
        })
    }
}

/// Serialises writers that must not interleave (same phone, same lead) inside a transaction.
pub(super) trait TransactionLock {
    fn lock(&mut self, key: &str) -> QueryResult<()>;
}

impl TransactionLock for PgConnection {
    /// A transaction-scoped advisory lock on the key's hash: concurrent submissions of one
    /// phone queue here instead of both seeing "no open lead".
    fn lock(&mut self, key: &str) -> QueryResult<()> {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<Text, _>(key)
            .execute(self)?;
        Ok(())
    }
}

impl TransactionLock for SqliteConnection {
    /// `BEGIN IMMEDIATE` (see `write_transaction!`) already holds the database's write lock.
    fn lock(&mut self, _key: &str) -> QueryResult<()> {
        Ok(())
    }
}

/// Diesel implementation of [`LeadRepository`].
pub(crate) struct DieselLeadRepository {
    db: Db,
    /// Stores public submissions in batches (see [`LeadWriter`]).
    writer: LeadWriter,
}

impl DieselLeadRepository {
    pub(crate) fn new(db: Db) -> Self {
        let writer = LeadWriter::new(db.clone());
        Self { db, writer }
    }
}

/// Lead writes inside the caller's transaction.
pub(super) trait LeadWrites {
    /// Inserts a lead with its `created` event by `actor` and, when it has an owner, its
    /// `assigned` event (each with its outbox row).
    fn insert_created(&mut self, new: &NewLead, actor: &str) -> Result<Lead, StoreError>;
}

/// The events a new lead starts with: `created`, and `assigned` when it has an owner.
pub(super) fn first_event_data(
    new: &NewLead,
) -> impl Iterator<Item = (LeadEventKind, serde_json::Value)> {
    let created = (LeadEventKind::Created, new.created_event_data());
    let assigned = new
        .assigned_event_data()
        .map(|data| (LeadEventKind::Assigned, data));
    std::iter::once(created).chain(assigned)
}

/// [`first_event_data`] as rows, for bulk loads (which write no outbox rows).
fn first_events<'a>(
    id: i64,
    new: &NewLead,
    actor: &'a str,
) -> impl Iterator<Item = LeadEventRecord<'a>> + use<'a> {
    let at = new.created_at;
    let data: Vec<_> = first_event_data(new).collect();
    data.into_iter()
        .map(move |(kind, data)| LeadEventRecord::new(id, kind, actor, &data, at))
}

/// Implements [`LeadWrites`] for the concrete connections: the bodies compile once per backend.
macro_rules! impl_lead_writes {
    ($($conn:ty),+) => {$(
        impl LeadWrites for $conn {
            fn insert_created(&mut self, new: &NewLead, actor: &str) -> Result<Lead, StoreError> {
                let row: LeadRow = diesel::insert_into(leads::table)
                    .values(LeadRecord::from(new))
                    .returning(leads::all_columns)
                    .get_result(self)?;
                let lead = row.into_domain()?;
                for (kind, data) in first_event_data(new) {
                    self.record_lead_event(&LeadEventWrite {
                        lead_id: lead.id,
                        lead: Some(&lead),
                        kind,
                        actor,
                        data: &data,
                        at: new.created_at,
                    })?;
                }
                Ok(lead)
            }
        }
    )+};
}
impl_lead_writes!(PgConnection, SqliteConnection);

impl LeadRepository for DieselLeadRepository {
    fn create(&self, new: &NewLead, actor: &str) -> RepoResult<Lead> {
        self.db
            .write(|c| write_transaction!(c, |c| c.insert_created(new, actor)))
    }

    fn create_many(&self, new: &[NewLead], actor: &str) -> RepoResult<usize> {
        let records: Vec<LeadRecord<'_>> = new.iter().map(LeadRecord::from).collect();
        self.db.write(|c| match c {
            // One row per statement (prepared once): a multi-row INSERT into a table with
            // CHECK constraints makes SQLite copy every page it changes to a statement journal
            // first, which was a third of `generate`'s time.
            AnyConnection::Sqlite(c) => c.immediate_transaction(|c| {
                for (record, lead) in records.iter().zip(new) {
                    let id: i64 = diesel::insert_into(leads::table)
                        .values(record)
                        .returning(leads::id)
                        .get_result(c)?;
                    for event in first_events(id, lead, actor) {
                        diesel::insert_into(lead_events::table)
                            .values(event)
                            .execute(c)?;
                    }
                }
                Ok::<_, StoreError>(records.len())
            }),
            // Multi-row statements: one round trip per chunk.
            AnyConnection::Postgresql(c) => c.transaction(|c| {
                let mut stored = 0;
                for (chunk, leads) in records.chunks(INSERT_CHUNK).zip(new.chunks(INSERT_CHUNK)) {
                    // The ids of exactly these rows (not "every id above the old maximum",
                    // which also catches leads committed concurrently by others). Ids grow in
                    // VALUES order, so the sorted ids line up with the chunk.
                    let mut ids: Vec<i64> = diesel::insert_into(leads::table)
                        .values(chunk)
                        .returning(leads::id)
                        .get_results(c)?;
                    ids.sort_unstable();
                    stored += ids.len();
                    let events: Vec<LeadEventRecord<'_>> = ids
                        .iter()
                        .zip(leads)
                        .flat_map(|(id, lead)| first_events(*id, lead, actor))
                        .collect();
                    for events in events.chunks(INSERT_CHUNK) {
                        diesel::insert_into(lead_events::table)
                            .values(events)
                            .execute(c)?;
                    }
                }
                Ok::<_, StoreError>(stored)
            }),
        })
    }

    fn submit(
        &self,
        new: NewLead,
        open_since: DateTime<Utc>,
    ) -> BoxFuture<Result<Submission, SubmitError>> {
        self.writer.submit(new, open_since)
    }

    fn get_by_id(&self, id: i64) -> RepoResult<Option<Lead>> {
        self.db.run(|c| {
            leads::table
                .find(id)
                .first::<LeadRow>(c)
                .optional()?
                .into_domain()
        })
    }

    fn search(&self, filter: &LeadFilter) -> RepoResult<LeadPage> {
        self.db.run(|c| lead_query::search(c, filter))
    }

    fn update(
        &self,
        id: i64,
        changes: &LeadChanges,
        expected_version: Option<i64>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<Option<Lead>> {
        self.db.write(|c| {
            write_transaction!(c, |c| {
                c.lock(&format!("lead:{id}"))?;
                let Some(row) = leads::table.find(id).first::<LeadRow>(c).optional()? else {
                    return Ok(None);
                };
                let current = row.into_domain()?;
                if expected_version.is_some_and(|v| v != current.version) {
                    return Err(RepoError::Stale.into());
                }
                let plan = changes.plan(&current);
                if plan.is_noop() {
                    return Ok(Some(current));
                }
                let mut next = current.clone();
                plan.changes.apply_to(&mut next);
                let ch = &plan.changes;
                let changeset = LeadChangeset {
                    name: ch.name.as_deref(),
                    phone: ch.phone.as_ref().map(|p| p.as_str()),
                    email: ch.email.as_ref().map(Option::as_deref),
                    message: ch.message.as_ref().map(Option::as_deref),
                    location_id: ch.location_id,
                    program_type_id: ch.program_type_id,
                    class_session_id: ch.class_session_id,
                    source: ch.source.map(|s| s.as_str()),
                    status: ch.status.map(|s| s.as_str()),
                    notes: ch.notes.as_ref().map(Option::as_deref),
                    assignee: ch.assignee.as_ref().map(Option::as_deref),
                    next_contact_at: ch.next_contact_at.map(|at| at.map(to_db_time)),
                    lost_reason: ch.lost_reason.as_ref().map(Option::as_deref),
                    search_text: search_text(&next.name, next.email.as_deref(), &next.phone),
                    version: current.version + 1,
                    updated_at: to_db_time(at),
                };
                let row: LeadRow = diesel::update(leads::table.find(id))
                    .set(&changeset)
                    .returning(leads::all_columns)
                    .get_result(c)?;
                let lead = row.into_domain()?;
                for (kind, data) in &plan.events {
                    c.record_lead_event(&LeadEventWrite {
                        lead_id: id,
                        lead: Some(&lead),
                        kind: *kind,
                        actor,
                        data,
                        at,
                    })?;
                }
                Ok::<_, StoreError>(Some(lead))
            })
        })
    }

    fn delete(
        &self,
        id: i64,
        expected_version: Option<i64>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<bool> {
        self.db.write(|c| {
            write_transaction!(c, |c| {
                c.lock(&format!("lead:{id}"))?;
                let version: Option<i64> = leads::table
                    .find(id)
                    .select(leads::version)
                    .first(c)
                    .optional()?;
                let Some(version) = version else {
                    return Ok(false);
                };
                if expected_version.is_some_and(|v| v != version) {
                    return Err(RepoError::Stale.into());
                }
                let events: Vec<(i64, String)> = lead_events::table
                    .filter(lead_events::lead_id.eq(id))
                    .select((lead_events::id, lead_events::data))
                    .load(c)?;
                for (event_id, data) in events {
                    // Unreadable data could hold anything: fail the erasure (and log it)
                    // rather than guess or overwrite it.
                    let parsed = serde_json::from_str(&data).map_err(|e| {
                        RepoError::Internal(format!("event {event_id} has unreadable data: {e}"))
                    })?;
                    let stripped = strip_personal_data(parsed).to_string();
                    if stripped != data {
                        diesel::update(lead_events::table.find(event_id))
                            .set(lead_events::data.eq(stripped))
                            .execute(c)?;
                    }
                }
                c.strip_outbox_personal_data(id)?;
                c.record_lead_event(&LeadEventWrite {
                    lead_id: id,
                    lead: None,
                    kind: LeadEventKind::Erased,
                    actor,
                    data: &serde_json::json!({}),
                    at,
                })?;
                // The foreign key sets the events' lead_id to NULL: they stay for statistics.
                diesel::delete(leads::table.find(id)).execute(c)?;
                Ok::<_, StoreError>(true)
            })
        })
    }

    fn events(&self, lead_id: i64) -> RepoResult<Option<Vec<LeadEvent>>> {
        self.db.run(|c| {
            let exists: i64 = leads::table
                .filter(leads::id.eq(lead_id))
                .count()
                .get_result(c)?;
            if exists == 0 {
                return Ok(None);
            }
            let rows: Vec<LeadEventRow> = lead_events::table
                .filter(lead_events::lead_id.eq(lead_id))
                .order(lead_events::id.asc())
                .load(c)?;
            Ok(Some(to_domain_vec(rows)?))
        })
    }

    fn export_page(
        &self,
        filter: &LeadFilter,
        after: Option<&LeadCursor>,
        limit: i64,
    ) -> RepoResult<Vec<Lead>> {
        self.db
            .run(|c| to_domain_vec(lead_query::export_page(c, filter, after, limit)?))
    }

    fn stats(&self, filter: &LeadStatsFilter) -> RepoResult<LeadStats> {
        self.db.run(|c| lead_stats::stats(c, filter))
    }

    fn find_by_phone(
        &self,
        phone: &Phone,
        location_limit: Option<&[i64]>,
    ) -> RepoResult<Vec<LeadHistory>> {
        self.db.run(|c| {
            let mut query = leads::table
                .filter(leads::phone.eq(phone.as_str()))
                .into_boxed();
            if let Some(ids) = location_limit {
                query = query.filter(leads::location_id.eq_any(ids.to_vec()));
            }
            let leads: Vec<Lead> = to_domain_vec(
                query
                    .order((leads::created_at.asc(), leads::id.asc()))
                    .load::<LeadRow>(c)?,
            )?;
            let ids: Vec<i64> = leads.iter().map(|l| l.id).collect();
            let events: Vec<LeadEvent> = to_domain_vec(
                lead_events::table
                    .filter(lead_events::lead_id.eq_any(ids))
                    .order(lead_events::id.asc())
                    .load::<LeadEventRow>(c)?,
            )?;
            let mut by_lead: HashMap<i64, Vec<LeadEvent>> = HashMap::new();
            for event in events {
                by_lead.entry(event.lead_id).or_default().push(event);
            }
            Ok(leads
                .into_iter()
                .map(|lead| LeadHistory {
                    events: by_lead.remove(&lead.id).unwrap_or_default(),
                    lead,
                })
                .collect())
        })
    }
}
