//! The audit log, and the one transaction helper every catalog write goes through
//! ([`write_audited`]): it writes the change and its audit entry in the same transaction.

use chrono::{DateTime, NaiveDateTime, Utc};
use cohai_domain::audit::changes;
use cohai_domain::ports::AuditRepository;
use cohai_domain::{
    AuditAction, AuditEntry, AuditFilter, AuditPage, Audited, RepoError, RepoResult,
};
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;

use super::{Db, IntoDomain, from_db_time, parse_stored, to_db_time, to_domain_vec};
use crate::connection::AnyConnection;
use crate::error::StoreError;
use crate::schema::audit_log;

type Backend = <AnyConnection as Connection>::Backend;

/// What a catalog write did, as the body given to [`write_audited`] reports it.
pub(crate) enum Written<E> {
    /// The row does not exist; nothing was written.
    Missing,
    /// A new row.
    Created(E),
    /// A changed row, before and after.
    Updated {
        /// As it was.
        before: E,
        /// As it is now.
        after: E,
    },
    /// A deleted row, as it was.
    Deleted(E),
    /// A class session that was cancelled (with any other changes made at the same time),
    /// before and after: audited as `cancelled`.
    Cancelled {
        /// As it was.
        before: E,
        /// As it is now.
        after: E,
    },
}

/// Runs `body` in a write transaction and records its audit entry (by `actor`, at `at`) in
/// the same transaction: when either fails, neither is stored.
pub(crate) fn write_audited<E: Audited>(
    db: &Db,
    actor: &str,
    at: DateTime<Utc>,
    body: impl FnOnce(&mut AnyConnection) -> Result<Written<E>, StoreError>,
) -> RepoResult<Written<E>> {
    db.write(|c| {
        immediate_transaction(c, |c| {
            let written = body(c)?;
            let (id, action, changed) = match &written {
                Written::Missing => return Ok(written),
                Written::Created(e) => (
                    e.id(),
                    AuditAction::Created,
                    changes(None, Some(&e.fields())),
                ),
                Written::Updated { before, after } => (
                    after.id(),
                    AuditAction::Updated,
                    changes(Some(&before.fields()), Some(&after.fields())),
                ),
                Written::Deleted(e) => (
                    e.id(),
                    AuditAction::Deleted,
                    changes(Some(&e.fields()), None),
                ),
                Written::Cancelled { before, after } => (
                    after.id(),
                    AuditAction::Cancelled,
                    changes(Some(&before.fields()), Some(&after.fields())),
                ),
            };
            diesel::insert_into(audit_log::table)
                .values(AuditRecord {
                    entity: E::ENTITY.as_str(),
                    entity_id: Some(id),
                    action: action.as_str(),
                    actor,
                    changes: changed.to_string(),
                    created_at: to_db_time(at),
                })
                .execute(c)?;
            Ok(written)
        })
    })
}

/// A transaction on the multi-backend connection, so one body serves both backends. On
/// SQLite it begins `IMMEDIATE` (the write lock up front, see `write_transaction!`).
pub(crate) fn immediate_transaction<T>(
    conn: &mut AnyConnection,
    body: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    type Manager = <AnyConnection as Connection>::TransactionManager;
    match conn {
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        AnyConnection::Postgresql(_) => Manager::begin_transaction(conn)?,
    }
    match body(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = Manager::rollback_transaction(conn) {
                log::error!("rollback failed after {e:?}: {rollback}");
            }
            Err(e)
        }
    }
}

/// An audit entry that is not one row's creation, change or deletion (those go through
/// [`write_audited`]): a timetable generation run, a session changed by a slot's `apply`.
pub(crate) struct AuditNote<'a> {
    /// What kind of entity.
    pub(crate) entity: cohai_domain::AuditEntity,
    /// Which one; `None` for a run over many.
    pub(crate) entity_id: Option<i64>,
    /// What happened.
    pub(crate) action: AuditAction,
    /// Who did it.
    pub(crate) actor: &'a str,
    /// The entry's `changes`.
    pub(crate) changes: serde_json::Value,
    /// When.
    pub(crate) at: DateTime<Utc>,
}

/// Writes `note` in the caller's transaction, so it is stored exactly when the change is.
pub(crate) fn record_note(c: &mut AnyConnection, note: &AuditNote<'_>) -> Result<(), StoreError> {
    diesel::insert_into(audit_log::table)
        .values(AuditRecord {
            entity: note.entity.as_str(),
            entity_id: note.entity_id,
            action: note.action.as_str(),
            actor: note.actor,
            changes: note.changes.to_string(),
            created_at: to_db_time(note.at),
        })
        .execute(c)?;
    Ok(())
}

#[derive(Insertable)]
#[diesel(table_name = audit_log)]
struct AuditRecord<'a> {
    entity: &'static str,
    entity_id: Option<i64>,
    action: &'static str,
    actor: &'a str,
    changes: String,
    created_at: NaiveDateTime,
}

#[derive(Queryable)]
struct AuditRow {
    id: i64,
    entity: String,
    entity_id: Option<i64>,
    action: String,
    actor: String,
    changes: String,
    created_at: NaiveDateTime,
}

impl IntoDomain for AuditRow {
    type Output = AuditEntry;
    fn into_domain(self) -> Result<AuditEntry, StoreError> {
        let changes = serde_json::from_str(&self.changes)
            .map_err(|e| RepoError::Internal(format!("audit entry {}: {e}", self.id)))?;
        Ok(AuditEntry {
            id: self.id,
            entity: parse_stored(&self.entity)?,
            entity_id: self.entity_id,
            action: parse_stored(&self.action)?,
            actor: self.actor,
            changes,
            created_at: from_db_time(self.created_at),
        })
    }
}

/// Applies a filter to any audit query, so the page and its count share one definition.
fn filtered(filter: &AuditFilter) -> audit_log::BoxedQuery<'static, Backend> {
    let mut query = audit_log::table.into_boxed();
    if let Some(entity) = filter.entity {
        query = query.filter(audit_log::entity.eq(entity.as_str()));
    }
    if let Some(id) = filter.entity_id {
        query = query.filter(audit_log::entity_id.eq(id));
    }
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_log::actor.eq(actor.clone()));
    }
    query
}

/// Diesel implementation of [`AuditRepository`].
pub(crate) struct DieselAuditRepository {
    db: Db,
}

impl DieselAuditRepository {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

impl AuditRepository for DieselAuditRepository {
    fn search(&self, filter: &AuditFilter) -> RepoResult<AuditPage> {
        self.db.run(|c| {
            let total: i64 = filtered(filter).count().get_result(c)?;
            let rows: Vec<AuditRow> = filtered(filter)
                .order(audit_log::id.desc())
                .limit(filter.limit)
                .offset(filter.offset)
                .load(c)?;
            Ok(AuditPage {
                items: to_domain_vec(rows)?,
                total,
            })
        })
    }
}
