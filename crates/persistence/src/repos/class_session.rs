//! The timetable: read with its location, program type and trainer in one joined query for
//! the public schedule, and kept by the admin API (audited writes, the trainer-overlap rule,
//! cancellations that notify the leads who chose a session).

use chrono::{DateTime, NaiveDateTime, Utc};
use cohai_domain::ports::{ClassSessionAdminRepository, ClassSessionRepository};
use cohai_domain::{
    AdminClassSession, AdminSessionFilter, AdminSessionPage, ClassSession, ClassSessionFields,
    LeadEventKind, LeadStatus, LocationRef, NewClassSession, ProgramTypeRef, RepoError, RepoResult,
    ScheduleFilter, SessionStatus, SessionWriteError, TrainerRef,
};
use diesel::prelude::*;

use super::audit::{Written, write_audited};
use super::outbox::{LeadEventWrite, OutboxRecord, RecordEvent};
use super::{Db, IntoDomain, parse_stored, to_db_time, to_domain_vec};
use crate::connection::{AnyConnection, write_transaction};
use crate::db_time::DbTime;
use crate::error::StoreError;
use crate::schema::{class_sessions, leads, locations, program_types, trainers};
use cohai_domain::outbox::EventType;

type Backend = <AnyConnection as Connection>::Backend;

/// The PostgreSQL exclusion constraint that keeps a trainer out of two overlapping scheduled
/// sessions (migration `2026-12-01-000003_timetable`). A write it refuses fails with
/// [`RepoError::Conflict`] carrying this name (see [`is_trainer_overlap`]).
pub(crate) const TRAINER_OVERLAP_CONSTRAINT: &str = "class_sessions_trainer_overlap_excl";

/// How often a write that lost an overlap race retries when the winner has gone since.
const OVERLAP_ATTEMPTS: usize = 3;

/// The id of a `scheduled` session of `trainer_id`, other than `except_id`, whose time
/// overlaps `[starts_at, ends_at)`: the half-open intervals intersect (back-to-back sessions do
/// not), at any location. When several do, the one that starts first (then the lowest id).
///
/// This is the trainer-overlap rule of API.md §6. Check it inside the write transaction that
/// then stores the session:
/// - on SQLite the single writer ([`Db::write`], `BEGIN IMMEDIATE`) makes the check and the
///   write atomic;
/// - on PostgreSQL take [`lock_trainer_schedule`] first, so that writers of one trainer's
///   sessions take turns and each checks what the one before committed. Without it (and
///   against writers without it) the exclusion constraint [`TRAINER_OVERLAP_CONSTRAINT`]
///   still refuses the second of two conflicting writes: its transaction is aborted, so call
///   this again after the rollback to name the session that won. (Two conflicting inserts
///   that both skip the lock can also deadlock each other, SQLSTATE 40P01, before the
///   constraint decides.)
///
/// Only `scheduled` sessions count, on both sides: a cancelled one may overlap anything.
pub(crate) fn overlapping_scheduled_session(
    conn: &mut AnyConnection,
    trainer_id: i64,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    except_id: Option<i64>,
) -> Result<Option<i64>, StoreError> {
    let mut query = class_sessions::table
        .filter(class_sessions::trainer_id.eq(trainer_id))
        .filter(class_sessions::status.eq(SessionStatus::Scheduled.as_str()))
        .filter(class_sessions::starts_at.lt(to_db_time(ends_at)))
        .filter(class_sessions::ends_at.gt(to_db_time(starts_at)))
        .select(class_sessions::id)
        .order((class_sessions::starts_at.asc(), class_sessions::id.asc()))
        .into_boxed::<Backend>();
    if let Some(id) = except_id {
        query = query.filter(class_sessions::id.ne(id));
    }
    Ok(query.first::<i64>(conn).optional()?)
}

/// Makes the writers of `trainer_id`'s sessions that take it take turns until the transaction
/// ends (see [`overlapping_scheduled_session`]). On PostgreSQL it locks the trainer's row
/// `FOR NO KEY UPDATE`: writers that do not take it are not held up (their foreign-key check
/// takes `FOR KEY SHARE`, which does not conflict), so neither side can wait for the other
/// in a cycle; the exclusion constraint settles such a race. SQLite's single writer already
/// serialises.
pub(crate) fn lock_trainer_schedule(
    conn: &mut AnyConnection,
    trainer_id: i64,
) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(pg) = conn {
        trainers::table
            .find(trainer_id)
            .select(trainers::id)
            .for_no_key_update()
            .first::<i64>(pg)
            .optional()?;
    }
    Ok(())
}

/// Whether `e` is the trainer-overlap rule refusing a write (the PostgreSQL constraint, or
/// the check before writing that mirrors it).
pub(crate) fn is_trainer_overlap(e: &RepoError) -> bool {
    matches!(e, RepoError::Conflict(name) if name == TRAINER_OVERLAP_CONSTRAINT)
}

/// Rows per INSERT statement in batch inserts: 9 binds each keeps well under SQLite's
/// 32,766 and PostgreSQL's 65,535 bind-parameter limits.
const INSERT_CHUNK: usize = 1000;

#[derive(Queryable)]
struct SessionViewRow {
    id: i64,
    starts_at: DbTime,
    ends_at: DbTime,
    status: String,
    capacity: i32,
    membership_plan_id: Option<i64>,
    cancellation_reason: Option<String>,
    version: i64,
    location_id: i64,
    location_name: String,
    location_timezone: String,
    program_type_id: i64,
    program_type_name: String,
    trainer_id: i64,
    trainer_full_name: String,
}

impl IntoDomain for SessionViewRow {
    type Output = ClassSession;
    fn into_domain(self) -> Result<ClassSession, StoreError> {
        Ok(ClassSession {
            id: self.id,
            starts_at: self.starts_at.into(),
            ends_at: self.ends_at.into(),
            status: parse_stored(&self.status)?,
            capacity: self.capacity,
            location: LocationRef {
                id: self.location_id,
                name: self.location_name,
                timezone: self.location_timezone,
            },
            program_type: ProgramTypeRef {
                id: self.program_type_id,
                name: self.program_type_name,
            },
            trainer: TrainerRef {
                id: self.trainer_id,
                full_name: self.trainer_full_name,
            },
            membership_plan_id: self.membership_plan_id,
            cancellation_reason: self.cancellation_reason,
            version: self.version,
        })
    }
}

/// The joined view of sessions, without filters.
macro_rules! session_view {
    () => {
        class_sessions::table
            .inner_join(locations::table)
            .inner_join(program_types::table)
            .inner_join(trainers::table)
            .select((
                class_sessions::id,
                class_sessions::starts_at,
                class_sessions::ends_at,
                class_sessions::status,
                class_sessions::capacity,
                class_sessions::membership_plan_id,
                class_sessions::cancellation_reason,
                class_sessions::version,
                locations::id,
                locations::name,
                locations::timezone,
                program_types::id,
                program_types::name,
                trainers::id,
                trainers::full_name,
            ))
    };
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = class_sessions)]
struct ClassSessionRecord {
    location_id: i64,
    program_type_id: i64,
    trainer_id: i64,
    membership_plan_id: Option<i64>,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
    capacity: i32,
    status: &'static str,
}

impl From<&NewClassSession> for ClassSessionRecord {
    fn from(n: &NewClassSession) -> Self {
        Self {
            location_id: n.location_id,
            program_type_id: n.program_type_id,
            trainer_id: n.trainer_id,
            membership_plan_id: n.membership_plan_id,
            starts_at: to_db_time(n.starts_at),
            ends_at: to_db_time(n.ends_at),
            capacity: n.capacity,
            status: n.status.as_str(),
        }
    }
}

/// Diesel implementation of [`ClassSessionRepository`].
pub(crate) struct DieselClassSessionRepository {
    db: Db,
}

impl DieselClassSessionRepository {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    fn load_one(c: &mut crate::AnyConnection, id: i64) -> Result<Option<ClassSession>, StoreError> {
        session_view!()
            .filter(class_sessions::id.eq(id))
            .first::<SessionViewRow>(c)
            .optional()?
            .into_domain()
    }
}

impl ClassSessionRepository for DieselClassSessionRepository {
    fn search(&self, filter: &ScheduleFilter) -> RepoResult<Vec<ClassSession>> {
        let from = to_db_time(filter.window.from());
        let to = to_db_time(filter.window.to());
        // The sessions of active locations in the window, by start then id.
        macro_rules! in_window {
            () => {
                session_view!()
                    .filter(locations::is_active.eq(true))
                    .filter(class_sessions::starts_at.ge(from))
                    .filter(class_sessions::starts_at.lt(to))
                    .order((class_sessions::starts_at.asc(), class_sessions::id.asc()))
            };
        }
        self.db.run(|c| {
            // The website's two requests, one studio's week or every studio's, as queries of
            // a fixed shape: Diesel keeps those prepared by type, while a boxed query is
            // written out as SQL again on every call (10 % of the uncached schedule's time).
            match (
                filter.location_id,
                filter.program_type_id,
                filter.trainer_id,
            ) {
                (Some(id), None, None) => {
                    let rows = in_window!()
                        .filter(class_sessions::location_id.eq(id))
                        .load::<SessionViewRow>(c)?;
                    return to_domain_vec(rows);
                }
                (None, None, None) => {
                    return to_domain_vec(in_window!().load::<SessionViewRow>(c)?);
                }
                _ => {}
            }
            let mut query = in_window!().into_boxed();
            if let Some(id) = filter.location_id {
                query = query.filter(class_sessions::location_id.eq(id));
            }
            if let Some(id) = filter.program_type_id {
                query = query.filter(class_sessions::program_type_id.eq(id));
            }
            if let Some(id) = filter.trainer_id {
                query = query.filter(class_sessions::trainer_id.eq(id));
            }
            to_domain_vec(query.load::<SessionViewRow>(c)?)
        })
    }

    fn get_by_id(&self, id: i64) -> RepoResult<Option<ClassSession>> {
        self.db.run(|c| Self::load_one(c, id))
    }

    fn create(&self, new: &NewClassSession) -> RepoResult<ClassSession> {
        let record = ClassSessionRecord::from(new);
        self.db.run(|c| {
            let id: i64 = diesel::insert_into(class_sessions::table)
                .values(&record)
                .returning(class_sessions::id)
                .get_result(c)?;
            Self::load_one(c, id)?.ok_or_else(|| {
                cohai_domain::RepoError::Internal(format!("class session {id} vanished")).into()
            })
        })
    }

    fn create_many(&self, new: &[NewClassSession]) -> RepoResult<usize> {
        let records: Vec<ClassSessionRecord> = new.iter().map(ClassSessionRecord::from).collect();
        self.db.write(|c| {
            write_transaction!(c, |c| {
                let mut stored = 0;
                for chunk in records.chunks(INSERT_CHUNK) {
                    stored += diesel::insert_into(class_sessions::table)
                        .values(chunk)
                        .execute(c)?;
                }
                Ok::<_, StoreError>(stored)
            })
        })
    }

    fn set_status(&self, id: i64, status: SessionStatus) -> RepoResult<Option<ClassSession>> {
        self.db.run(|c| {
            let target = class_sessions::table.find(id);
            let bump = class_sessions::version.eq(class_sessions::version + 1);
            let updated = match status {
                // A scheduled session has no cancellation reason (a CHECK insists).
                SessionStatus::Scheduled => diesel::update(target)
                    .set((
                        class_sessions::status.eq(status.as_str()),
                        class_sessions::cancellation_reason.eq(None::<String>),
                        bump,
                    ))
                    .execute(c)?,
                SessionStatus::Cancelled => diesel::update(target)
                    .set((class_sessions::status.eq(status.as_str()), bump))
                    .execute(c)?,
            };
            if updated == 0 {
                Ok(None)
            } else {
                Self::load_one(c, id)
            }
        })
    }

    fn cancel(&self, id: i64, reason: &str) -> RepoResult<Option<ClassSession>> {
        self.db.run(|c| {
            let updated = diesel::update(class_sessions::table.find(id))
                .set((
                    class_sessions::status.eq(SessionStatus::Cancelled.as_str()),
                    class_sessions::cancellation_reason.eq(Some(reason)),
                    class_sessions::version.eq(class_sessions::version + 1),
                ))
                .execute(c)?;
            if updated == 0 {
                Ok(None)
            } else {
                Self::load_one(c, id)
            }
        })
    }

    fn delete(&self, id: i64) -> RepoResult<bool> {
        self.db
            .run(|c| Ok(diesel::delete(class_sessions::table.find(id)).execute(c)? > 0))
    }

    fn count_by_location(
        &self,
        location_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> RepoResult<i64> {
        self.db.run(|c| {
            Ok(class_sessions::table
                .filter(class_sessions::location_id.eq(location_id))
                .filter(class_sessions::starts_at.ge(to_db_time(from)))
                .filter(class_sessions::starts_at.lt(to_db_time(to)))
                .count()
                .get_result(c)?)
        })
    }
}

/// A stored session, all columns in the table's order (the admin view).
#[derive(Queryable)]
struct AdminSessionRow {
    id: i64,
    location_id: i64,
    program_type_id: i64,
    trainer_id: i64,
    membership_plan_id: Option<i64>,
    starts_at: DbTime,
    ends_at: DbTime,
    capacity: i32,
    status: String,
    cancellation_reason: Option<String>,
    version: i64,
    timetable_slot_id: Option<i64>,
    edited_by_hand: bool,
}

impl IntoDomain for AdminSessionRow {
    type Output = AdminClassSession;
    fn into_domain(self) -> Result<AdminClassSession, StoreError> {
        Ok(AdminClassSession {
            id: self.id,
            starts_at: self.starts_at.into(),
            ends_at: self.ends_at.into(),
            status: parse_stored(&self.status)?,
            capacity: self.capacity,
            location_id: self.location_id,
            program_type_id: self.program_type_id,
            trainer_id: self.trainer_id,
            membership_plan_id: self.membership_plan_id,
            cancellation_reason: self.cancellation_reason,
            timetable_slot_id: self.timetable_slot_id,
            edited_by_hand: self.edited_by_hand,
            version: self.version,
        })
    }
}

/// The columns an admin write sets; every one marks the session edited by hand.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = class_sessions, treat_none_as_null = true)]
struct AdminSessionRecord<'a> {
    location_id: i64,
    program_type_id: i64,
    trainer_id: i64,
    membership_plan_id: Option<i64>,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
    capacity: i32,
    status: &'static str,
    cancellation_reason: Option<&'a str>,
    edited_by_hand: bool,
}

impl<'a> From<&'a ClassSessionFields> for AdminSessionRecord<'a> {
    fn from(f: &'a ClassSessionFields) -> Self {
        Self {
            location_id: f.location_id,
            program_type_id: f.program_type_id,
            trainer_id: f.trainer_id,
            membership_plan_id: f.membership_plan_id,
            starts_at: to_db_time(f.starts_at),
            ends_at: to_db_time(f.ends_at),
            capacity: f.capacity,
            status: f.status.as_str(),
            cancellation_reason: f.cancellation_reason.as_deref(),
            edited_by_hand: true,
        }
    }
}

/// The admin list's query (page and count share it).
fn admin_filtered(filter: &AdminSessionFilter) -> class_sessions::BoxedQuery<'static, Backend> {
    let window = &filter.schedule.window;
    let mut query = class_sessions::table
        .filter(class_sessions::starts_at.ge(to_db_time(window.from())))
        .filter(class_sessions::starts_at.lt(to_db_time(window.to())))
        .into_boxed();
    if let Some(id) = filter.schedule.location_id {
        query = query.filter(class_sessions::location_id.eq(id));
    }
    if let Some(id) = filter.schedule.program_type_id {
        query = query.filter(class_sessions::program_type_id.eq(id));
    }
    if let Some(id) = filter.schedule.trainer_id {
        query = query.filter(class_sessions::trainer_id.eq(id));
    }
    if let Some(status) = filter.status {
        query = query.filter(class_sessions::status.eq(status.as_str()));
    }
    query
}

fn load_admin(c: &mut AnyConnection, id: i64) -> Result<Option<AdminClassSession>, StoreError> {
    class_sessions::table
        .find(id)
        .first::<AdminSessionRow>(c)
        .optional()?
        .into_domain()
}

/// Locks session `id` until the transaction ends. On PostgreSQL `FOR UPDATE` also makes a
/// concurrent lead that names the session (its foreign-key check takes `FOR KEY SHARE`) wait
/// for this transaction, so a deletion or cancellation sees every lead that chose it. SQLite's
/// single writer already serialises.
fn lock_session(c: &mut AnyConnection, id: i64) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(pg) = c {
        class_sessions::table
            .find(id)
            .select(class_sessions::id)
            .for_update()
            .first::<i64>(pg)
            .optional()?;
    }
    Ok(())
}

/// The overlap rule before writing `fields` (as session `except_id`, if stored), with the
/// trainer's schedule locked: refused as the PostgreSQL constraint would refuse it, so both
/// backends and both ways fail alike.
fn refuse_overlap(
    c: &mut AnyConnection,
    fields: &ClassSessionFields,
    except_id: Option<i64>,
) -> Result<(), StoreError> {
    lock_trainer_schedule(c, fields.trainer_id)?;
    let other = overlapping_scheduled_session(
        c,
        fields.trainer_id,
        fields.starts_at,
        fields.ends_at,
        except_id,
    )?;
    match other {
        Some(_) => Err(RepoError::Conflict(TRAINER_OVERLAP_CONSTRAINT.to_owned()).into()),
        None => Ok(()),
    }
}

/// Records a `session_cancelled` event on every open lead that chose `session`, and the
/// session's one `class_session.cancelled` outbox event listing them (API.md §7).
fn record_cancellation_on_leads(
    c: &mut AnyConnection,
    session: &AdminClassSession,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let open: Vec<&str> = LeadStatus::OPEN.iter().map(|s| s.as_str()).collect();
    let chosen_by: Vec<i64> = leads::table
        .filter(leads::class_session_id.eq(session.id))
        .filter(leads::status.eq_any(open))
        .select(leads::id)
        .order(leads::id.asc())
        .load(c)?;
    let data = serde_json::json!({
        "class_session_id": session.id,
        "cancellation_reason": session.cancellation_reason,
    });
    for &lead_id in &chosen_by {
        c.record_lead_event(&LeadEventWrite {
            lead_id,
            lead: None,
            kind: LeadEventKind::SessionCancelled,
            actor,
            data: &data,
            at,
        })?;
    }
    let public = DieselClassSessionRepository::load_one(c, session.id)?
        .ok_or_else(|| RepoError::Internal(format!("session {} vanished", session.id)))?;
    c.record_outbox(&OutboxRecord::new(
        EventType::ClassSessionCancelled,
        None,
        false,
        &serde_json::json!({"class_session": public, "lead_ids": chosen_by}),
        at,
    ))
}

impl DieselClassSessionRepository {
    /// Runs an audited write of `fields` (as session `except_id`, if stored) under the overlap
    /// rule. `body` checks the rule with [`refuse_overlap`] where it applies; a refusal, or the
    /// PostgreSQL constraint's, is answered with the session that is in the way, looked up
    /// after the rollback. If that one has gone meanwhile, the write is tried again.
    fn write_under_overlap_rule(
        &self,
        fields: &ClassSessionFields,
        except_id: Option<i64>,
        actor: &str,
        at: DateTime<Utc>,
        mut body: impl FnMut(&mut AnyConnection) -> Result<Written<AdminClassSession>, StoreError>,
    ) -> Result<Written<AdminClassSession>, SessionWriteError> {
        for _ in 0..OVERLAP_ATTEMPTS {
            match write_audited(&self.db, actor, at, &mut body) {
                Err(e) if is_trainer_overlap(&e) => {
                    let other = self.db.run(|c| {
                        overlapping_scheduled_session(
                            c,
                            fields.trainer_id,
                            fields.starts_at,
                            fields.ends_at,
                            except_id,
                        )
                    })?;
                    if let Some(class_session_id) = other {
                        return Err(SessionWriteError::TrainerBusy {
                            trainer_id: fields.trainer_id,
                            class_session_id,
                        });
                    }
                }
                other => return Ok(other?),
            }
        }
        Err(RepoError::Conflict(format!(
            "the sessions of trainer {} keep changing concurrently",
            fields.trainer_id
        ))
        .into())
    }
}

impl ClassSessionAdminRepository for DieselClassSessionRepository {
    fn search(&self, filter: &AdminSessionFilter) -> RepoResult<AdminSessionPage> {
        self.db.run(|c| {
            let total: i64 = admin_filtered(filter).count().get_result(c)?;
            let rows: Vec<AdminSessionRow> = admin_filtered(filter)
                .order((class_sessions::starts_at.asc(), class_sessions::id.asc()))
                .limit(filter.limit)
                .offset(filter.offset)
                .load(c)?;
            Ok(AdminSessionPage {
                items: to_domain_vec(rows)?,
                total,
            })
        })
    }

    fn get_by_id(&self, id: i64) -> RepoResult<Option<AdminClassSession>> {
        self.db.run(|c| load_admin(c, id))
    }

    fn create_audited(
        &self,
        fields: &ClassSessionFields,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<AdminClassSession, SessionWriteError> {
        let record = AdminSessionRecord::from(fields);
        let written = self.write_under_overlap_rule(fields, None, actor, at, |c| {
            if fields.status == SessionStatus::Scheduled {
                refuse_overlap(c, fields, None)?;
            }
            let row = diesel::insert_into(class_sessions::table)
                .values(&record)
                .returning(class_sessions::all_columns)
                .get_result::<AdminSessionRow>(c)?;
            Ok(Written::Created(row.into_domain()?))
        })?;
        match written {
            Written::Created(created) => Ok(created),
            _ => Err(RepoError::Internal("an insert stored no session".to_owned()).into()),
        }
    }

    fn update_audited(
        &self,
        id: i64,
        fields: &ClassSessionFields,
        expected_version: Option<i64>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<AdminClassSession>, SessionWriteError> {
        let record = AdminSessionRecord::from(fields);
        let written = self.write_under_overlap_rule(fields, Some(id), actor, at, |c| {
            lock_session(c, id)?;
            let Some(before) = load_admin(c, id)? else {
                return Ok(Written::Missing);
            };
            if expected_version.is_some_and(|v| v != before.version) {
                return Err(RepoError::Stale.into());
            }
            // Only a change of who, when or whether it takes place can make an overlap.
            let reschedules = before.status != SessionStatus::Scheduled
                || before.trainer_id != fields.trainer_id
                || before.starts_at != fields.starts_at
                || before.ends_at != fields.ends_at;
            if fields.status == SessionStatus::Scheduled && reschedules {
                refuse_overlap(c, fields, Some(id))?;
            }
            let after = diesel::update(class_sessions::table.find(id))
                .set((&record, class_sessions::version.eq(before.version + 1)))
                .returning(class_sessions::all_columns)
                .get_result::<AdminSessionRow>(c)?
                .into_domain()?;
            if before.status == SessionStatus::Scheduled && after.status == SessionStatus::Cancelled
            {
                record_cancellation_on_leads(c, &after, actor, at)?;
                Ok(Written::Cancelled { before, after })
            } else {
                Ok(Written::Updated { before, after })
            }
        })?;
        Ok(match written {
            Written::Updated { after, .. } | Written::Cancelled { after, .. } => Some(after),
            _ => None,
        })
    }

    fn delete_audited(
        &self,
        id: i64,
        expected_version: Option<i64>,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, SessionWriteError> {
        let mut chosen_by = None;
        let written = write_audited(&self.db, actor, at, |c| {
            lock_session(c, id)?;
            let Some(before) = load_admin(c, id)? else {
                return Ok(Written::Missing);
            };
            if expected_version.is_some_and(|v| v != before.version) {
                return Err(RepoError::Stale.into());
            }
            // The leads' reference is ON DELETE SET NULL: checked here, under the lock, so
            // that no lead silently loses the class it chose.
            chosen_by = leads::table
                .filter(leads::class_session_id.eq(id))
                .select(leads::id)
                .order(leads::id.asc())
                .first::<i64>(c)
                .optional()?;
            if chosen_by.is_some() {
                // Nothing is written: the transaction ends empty.
                return Ok(Written::Missing);
            }
            diesel::delete(class_sessions::table.find(id)).execute(c)?;
            Ok(Written::Deleted(before))
        })?;
        if let Some(lead_id) = chosen_by {
            return Err(SessionWriteError::ChosenByLead {
                class_session_id: id,
                lead_id,
            });
        }
        Ok(matches!(written, Written::Deleted(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::builders::{at, location, program_type, session, trainer};
    use crate::testing::{Backend, TestDatabase};

    fn the_overlap_rule_is_half_open_per_trainer_at_any_location_and_counts_scheduled_ones(
        backend: Backend,
    ) {
        let t = TestDatabase::new(backend);
        let repos = t.db.repositories();
        let here = repos
            .locations
            .create(&location("Здесь"))
            .expect("location");
        let there = repos.locations.create(&location("Там")).expect("location");
        let program = repos
            .program_types
            .create(&program_type("Растяжка"))
            .expect("program");
        let anna = repos.trainers.create(&trainer("Анна")).expect("trainer");
        let boris = repos.trainers.create(&trainer("Борис")).expect("trainer");
        let mk = |location_id, trainer_id, starts: &str| {
            repos
                .class_sessions
                .create(&session(location_id, program.id, trainer_id, at(starts)))
                .expect("session")
                .id
        };
        // One hour each.
        let nine = mk(here.id, anna.id, "2026-12-01T09:00:00Z");
        let eleven_there = mk(there.id, anna.id, "2026-12-01T11:00:00Z");
        let boris_at_nine = mk(here.id, boris.id, "2026-12-01T09:00:00Z");
        let db = t.db.db();
        let lookup = |trainer_id, from: &str, to: &str, except| {
            db.run(|c| overlapping_scheduled_session(c, trainer_id, at(from), at(to), except))
                .expect("lookup")
        };
        let day = |time: &str| format!("2026-12-01T{time}:00Z");
        let anna_at = |from: &str, to: &str| lookup(anna.id, &day(from), &day(to), None);
        assert_eq!(anna_at("09:30", "10:30"), Some(nine), "overlapping the end");
        assert_eq!(
            anna_at("08:30", "09:01"),
            Some(nine),
            "overlapping the start"
        );
        assert_eq!(anna_at("09:10", "09:20"), Some(nine), "inside");
        assert_eq!(anna_at("08:00", "09:00"), None, "back to back before");
        assert_eq!(anna_at("10:00", "11:00"), None, "back to back between");
        assert_eq!(
            anna_at("11:30", "11:45"),
            Some(eleven_there),
            "at another location"
        );
        assert_eq!(
            anna_at("08:00", "13:00"),
            Some(nine),
            "the earliest of several"
        );
        assert_eq!(
            lookup(anna.id, &day("09:30"), &day("10:30"), Some(nine)),
            None,
            "a session does not overlap itself"
        );
        assert_eq!(
            lookup(boris.id, &day("09:30"), &day("10:30"), None),
            Some(boris_at_nine),
            "per trainer"
        );
        repos
            .class_sessions
            .set_status(nine, SessionStatus::Cancelled)
            .expect("cancel");
        assert_eq!(
            anna_at("09:30", "10:30"),
            None,
            "a cancelled session does not count"
        );
    }

    crate::backend_tests!(
        the_overlap_rule_is_half_open_per_trainer_at_any_location_and_counts_scheduled_ones
    );
}
