//! Leads and their events. Every change and its event are written in one transaction.

use chrono::{DateTime, NaiveDateTime, Utc};
use cohai_domain::lead::{search_text, strip_personal_data};
use cohai_domain::ports::{BoxFuture, LeadRepository, SubmitError};
use cohai_domain::{
    Lead, LeadChanges, LeadEvent, LeadEventKind, LeadFilter, LeadPage, LeadSort, NewLead,
    RepoError, RepoResult, Submission,
};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::{PgConnection, SqliteConnection};

use super::lead_writer::LeadWriter;
use super::{Db, IntoDomain, from_db_time, parse_stored, to_db_time, to_domain_vec};
use crate::connection::{AnyConnection, write_transaction};
use crate::error::StoreError;
use crate::schema::{lead_events, leads};

/// Rows per INSERT statement in batch inserts (17 binds each, under both backends' limits).
const INSERT_CHUNK: usize = 1000;

type Backend = <AnyConnection as Connection>::Backend;

#[derive(Queryable)]
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
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
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
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
            version: self.version,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = leads)]
pub(super) struct LeadRecord<'a> {
    name: &'a str,
    phone: &'a str,
    email: Option<&'a str>,
    message: Option<&'a str>,
    location_id: Option<i64>,
    program_type_id: Option<i64>,
    class_session_id: Option<i64>,
    source: &'static str,
    status: &'static str,
    notes: Option<&'a str>,
    utm_source: Option<&'a str>,
    utm_medium: Option<&'a str>,
    utm_campaign: Option<&'a str>,
    search_text: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
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
    search_text: String,
    version: i64,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = lead_events)]
pub(super) struct LeadEventRecord<'a> {
    lead_id: Option<i64>,
    kind: &'static str,
    actor: &'a str,
    data: String,
    created_at: NaiveDateTime,
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

/// Applies a filter to any lead query, so the page and its count share one definition.
fn filtered(filter: &LeadFilter) -> leads::BoxedQuery<'static, Backend> {
    let mut query = leads::table.into_boxed();
    if !filter.statuses.is_empty() {
        query = query.filter(
            leads::status.eq_any(
                filter
                    .statuses
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>(),
            ),
        );
    }
    if let Some(source) = filter.source {
        query = query.filter(leads::source.eq(source.as_str()));
    }
    if let Some(id) = filter.location_id {
        query = query.filter(leads::location_id.eq(id));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        query = query.filter(leads::search_text.like(like_pattern(q)).escape('\\'));
    }
    if let Some(from) = filter.created_from {
        query = query.filter(leads::created_at.ge(to_db_time(from)));
    }
    if let Some(to) = filter.created_to {
        query = query.filter(leads::created_at.lt(to_db_time(to)));
    }
    query
}

/// `%q%` for a case-insensitive substring search, with LIKE's wildcards escaped.
fn like_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for ch in q.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// Diesel implementation of [`LeadRepository`].
pub(crate) struct DieselLeadRepository {
    db: Db,
    /// Stores public submissions in batches (see [`LeadWriter`]).
    writer: LeadWriter,
}

impl DieselLeadRepository {
    pub(crate) fn new(db: Db) -> Self {
        let writer = LeadWriter::new(db.clone(), Vec::new());
        Self { db, writer }
    }
}

/// Lead writes inside the caller's transaction.
pub(super) trait LeadWrites {
    /// Inserts a lead and its `created` event by `actor`.
    fn insert_created(
        &mut self,
        record: &LeadRecord<'_>,
        actor: &str,
        data: &serde_json::Value,
    ) -> Result<LeadRow, StoreError>;
}

/// Implements [`LeadWrites`] for the concrete connections: the bodies compile once per backend.
macro_rules! impl_lead_writes {
    ($($conn:ty),+) => {$(
        impl LeadWrites for $conn {
            fn insert_created(
                &mut self,
                record: &LeadRecord<'_>,
                actor: &str,
                data: &serde_json::Value,
            ) -> Result<LeadRow, StoreError> {
                let row: LeadRow = diesel::insert_into(leads::table)
                    .values(record)
                    .returning(leads::all_columns)
                    .get_result(self)?;
                diesel::insert_into(lead_events::table)
                    .values(LeadEventRecord {
                        lead_id: Some(row.id),
                        kind: LeadEventKind::Created.as_str(),
                        actor,
                        data: data.to_string(),
                        created_at: record.created_at,
                    })
                    .execute(self)?;
                Ok(row)
            }
        }
    )+};
}
impl_lead_writes!(PgConnection, SqliteConnection);

impl LeadRepository for DieselLeadRepository {
    fn create(&self, new: &NewLead, actor: &str) -> RepoResult<Lead> {
        let record = LeadRecord::from(new);
        let data = new.created_event_data();
        self.db.write(|c| {
            write_transaction!(c, |c| c
                .insert_created(&record, actor, &data)?
                .into_domain())
        })
    }

    fn create_many(&self, new: &[NewLead], actor: &str) -> RepoResult<usize> {
        let records: Vec<LeadRecord<'_>> = new.iter().map(LeadRecord::from).collect();
        let events: Vec<serde_json::Value> = new.iter().map(NewLead::created_event_data).collect();
        let event = |id: i64, record: &LeadRecord<'_>, data: &serde_json::Value| LeadEventRecord {
            lead_id: Some(id),
            kind: LeadEventKind::Created.as_str(),
            actor,
            data: data.to_string(),
            created_at: record.created_at,
        };
        self.db.write(|c| match c {
            // One row per statement (prepared once): a multi-row INSERT into a table with
            // CHECK constraints makes SQLite copy every page it changes to a statement journal
            // first, which was a third of `generate`'s time.
            AnyConnection::Sqlite(c) => c.immediate_transaction(|c| {
                for (record, data) in records.iter().zip(&events) {
                    let id: i64 = diesel::insert_into(leads::table)
                        .values(record)
                        .returning(leads::id)
                        .get_result(c)?;
                    diesel::insert_into(lead_events::table)
                        .values(event(id, record, data))
                        .execute(c)?;
                }
                Ok::<_, StoreError>(records.len())
            }),
            // Multi-row statements: one round trip per chunk.
            AnyConnection::Postgresql(c) => c.transaction(|c| {
                let mut stored = 0;
                for (chunk, data) in records
                    .chunks(INSERT_CHUNK)
                    .zip(events.chunks(INSERT_CHUNK))
                {
                    // The ids of exactly these rows (not "every id above the old maximum",
                    // which also catches leads committed concurrently by others). Ids grow in
                    // VALUES order, so the sorted ids line up with the chunk.
                    let mut ids: Vec<i64> = diesel::insert_into(leads::table)
                        .values(chunk)
                        .returning(leads::id)
                        .get_results(c)?;
                    ids.sort_unstable();
                    stored += ids.len();
                    let created: Vec<LeadEventRecord<'_>> = ids
                        .iter()
                        .zip(chunk.iter().zip(data))
                        .map(|(id, (record, data))| event(*id, record, data))
                        .collect();
                    diesel::insert_into(lead_events::table)
                        .values(&created)
                        .execute(c)?;
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
        self.db.run(|c| {
            let total: i64 = filtered(filter).count().get_result(c)?;
            let query = filtered(filter);
            let query = match filter.sort {
                LeadSort::CreatedAsc => query.order((leads::created_at.asc(), leads::id.asc())),
                LeadSort::CreatedDesc => query.order((leads::created_at.desc(), leads::id.desc())),
                LeadSort::UpdatedAsc => query.order((leads::updated_at.asc(), leads::id.asc())),
                LeadSort::UpdatedDesc => query.order((leads::updated_at.desc(), leads::id.desc())),
            };
            let rows: Vec<LeadRow> = query.limit(filter.limit).offset(filter.offset).load(c)?;
            Ok(LeadPage {
                items: to_domain_vec(rows)?,
                total,
            })
        })
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
                    search_text: search_text(&next.name, next.email.as_deref(), &next.phone),
                    version: current.version + 1,
                    updated_at: to_db_time(at),
                };
                let row: LeadRow = diesel::update(leads::table.find(id))
                    .set(&changeset)
                    .returning(leads::all_columns)
                    .get_result(c)?;
                let events: Vec<LeadEventRecord<'_>> = plan
                    .events
                    .iter()
                    .map(|(kind, data)| LeadEventRecord::new(id, *kind, actor, data, at))
                    .collect();
                for event in events {
                    diesel::insert_into(lead_events::table)
                        .values(event)
                        .execute(c)?;
                }
                Ok::<_, StoreError>(Some(row.into_domain()?))
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
                diesel::insert_into(lead_events::table)
                    .values(LeadEventRecord::new(
                        id,
                        LeadEventKind::Erased,
                        actor,
                        &serde_json::json!({}),
                        at,
                    ))
                    .execute(c)?;
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
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_pattern_escapes_wildcards_and_lowercases() {
        assert_eq!(like_pattern("Ан_на%"), "%ан\\_на\\%%");
    }
}
