//! Class sessions made from the timetable: generation runs and a slot's `apply`.
//!
//! A run is one transaction. Each occurrence (slot, local date) is tried in a savepoint of
//! its own: its record in `timetable_occurrences` is inserted first (`ON CONFLICT DO
//! NOTHING`, the idempotency key: an occurrence generated once is never generated again),
//! then the trainer's other scheduled sessions are checked for an overlap, then the session
//! is inserted. An overlap rolls the savepoint back, so the occurrence stays unrecorded and a
//! later run tries it again; on PostgreSQL the exclusion constraint on sessions catches what
//! a concurrent writer slipped in after the check, and is handled the same way.
//!
//! Runs of all instances take turns on PostgreSQL (a transaction-scoped advisory lock), so
//! two runs never wait on each other's rows; on SQLite the single writer already serialises
//! them.
//!
//! The overlap rule is the class-session admin's (`overlapping_scheduled_session`).

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use cohai_domain::audit::changes;
use cohai_domain::ports::TimetableRepository;
use cohai_domain::timetable::{
    GeneratedSession, GenerationScope, RunAudit, RunLock, session_times,
};
use cohai_domain::{
    ApplyReport, AuditAction, AuditEntity, GenerationReport, GenerationRun, OccurrenceConflict,
    RepoError, RepoResult, SessionStatus, TimetableSlot,
};
use diesel::connection::Connection as _;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde_json::{Map, Value, json};

use super::audit::{AuditNote, immediate_transaction, record_note};
use super::class_session::overlapping_scheduled_session;
use super::timetable_slot::TimetableSlotRow;
use super::{Db, IntoDomain, from_db_time, to_db_time};
use crate::connection::{AnyConnection, with_backend};
use crate::error::StoreError;
use crate::schema::{
    class_sessions, locations, program_types, timetable_occurrences, timetable_slots, trainers,
};

type Backend = <AnyConnection as Connection>::Backend;

/// The PostgreSQL advisory lock a generation run holds for its transaction (the bytes spell
/// `cohaiTTg`); any other use of advisory locks in this database must pick another key.
pub(crate) const GENERATION_LOCK: i64 = 0x636f_6861_6954_5467;

/// Diesel implementation of [`TimetableRepository`].
pub(crate) struct DieselTimetableRepository {
    db: Db,
}

impl DieselTimetableRepository {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

impl TimetableRepository for DieselTimetableRepository {
    fn generate(
        &self,
        run: &GenerationRun,
        actor: &str,
        at: DateTime<Utc>,
    ) -> RepoResult<Option<GenerationReport>> {
        self.db.write(|c| {
            immediate_transaction(c, |c| {
                if !take_run_lock(c, run.lock)? {
                    return Ok(None);
                }
                let mut report = GenerationReport::default();
                for scope in &run.scopes {
                    let part = generate_scope(c, scope)?;
                    if run.audit == RunAudit::Always || part.created > 0 {
                        record_note(
                            c,
                            &AuditNote {
                                entity: AuditEntity::ClassSession,
                                entity_id: None,
                                action: AuditAction::Generated,
                                actor,
                                changes: json!({
                                    "from": scope.range.from(),
                                    "to": scope.range.to(),
                                    "location_id": scope.location_id,
                                    "created": part.created,
                                }),
                                at,
                            },
                        )?;
                    }
                    report.absorb(part);
                }
                Ok(Some(report))
            })
        })
    }

    fn apply(
        &self,
        slot_id: i64,
        from: NaiveDate,
        now: DateTime<Utc>,
        actor: &str,
    ) -> RepoResult<Option<ApplyReport>> {
        self.db.write(|c| {
            immediate_transaction(c, |c| {
                let Some(slot) = slot_with_zone(c, slot_id)? else {
                    return Ok(None);
                };
                let mut report = ApplyReport::default();
                for session in applicable_sessions(c, slot_id, from, now)? {
                    let target = session.with_slot(&slot);
                    if target == session.fields {
                        continue;
                    }
                    match apply_to_session(c, &session, &target, actor, now)? {
                        Applied::Updated => report.updated += 1,
                        Applied::Changed => {}
                        Applied::Conflict(other) => report.conflicts.push(OccurrenceConflict {
                            timetable_slot_id: slot_id,
                            date: session.date,
                            class_session_id: other,
                        }),
                    }
                }
                Ok(Some(report))
            })
        })
    }
}

/// Takes the generation lock on PostgreSQL (waiting, or giving up when another run holds
/// it); `false` when given up. SQLite needs none: its one writer runs alone.
fn take_run_lock(c: &mut AnyConnection, lock: RunLock) -> Result<bool, StoreError> {
    let AnyConnection::Postgresql(pg) = c else {
        return Ok(true);
    };
    match lock {
        RunLock::Wait => {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({GENERATION_LOCK})"))
                .execute(pg)?;
            Ok(true)
        }
        RunLock::SkipIfBusy => Ok(diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
            &format!("pg_try_advisory_xact_lock({GENERATION_LOCK})"),
        ))
        .get_result::<bool>(pg)?),
    }
}

/// A slot that may generate sessions, with what its sessions need.
struct Candidate {
    slot: TimetableSlot,
    tz: Tz,
    duration_minutes: i32,
}

fn parse_zone(slot_id: i64, timezone: &str) -> Result<Tz, StoreError> {
    timezone.parse().map_err(|_| {
        RepoError::Internal(format!(
            "timetable slot {slot_id}: its location's time zone {timezone:?} is unknown"
        ))
        .into()
    })
}

/// The slots of a scope that generate: active, of an active location, program type and
/// trainer, valid on some date of the range; by id.
fn candidates(
    c: &mut AnyConnection,
    scope: &GenerationScope,
) -> Result<Vec<Candidate>, StoreError> {
    let mut query = timetable_slots::table
        .inner_join(locations::table)
        .inner_join(program_types::table)
        .inner_join(trainers::table)
        .filter(timetable_slots::is_active.eq(true))
        .filter(locations::is_active.eq(true))
        .filter(program_types::is_active.eq(true))
        .filter(trainers::is_active.eq(true))
        .filter(timetable_slots::valid_from.le(scope.range.to()))
        .filter(
            timetable_slots::valid_until
                .is_null()
                .or(timetable_slots::valid_until.ge(scope.range.from())),
        )
        .select((
            timetable_slots::all_columns,
            locations::timezone,
            program_types::duration_minutes,
        ))
        .order(timetable_slots::id.asc())
        .into_boxed::<Backend>();
    if let Some(location_id) = scope.location_id {
        query = query.filter(timetable_slots::location_id.eq(location_id));
    }
    query
        .load::<(TimetableSlotRow, String, i32)>(c)?
        .into_iter()
        .map(|(row, timezone, duration_minutes)| {
            let slot = row.into_domain()?;
            let tz = parse_zone(slot.id, &timezone)?;
            Ok(Candidate {
                slot,
                tz,
                duration_minutes,
            })
        })
        .collect()
}

/// The occurrences of the range's dates generated so far (of any slot).
fn generated_occurrences(
    c: &mut AnyConnection,
    scope: &GenerationScope,
) -> Result<HashSet<(i64, NaiveDate)>, StoreError> {
    Ok(timetable_occurrences::table
        .filter(timetable_occurrences::local_date.ge(scope.range.from()))
        .filter(timetable_occurrences::local_date.le(scope.range.to()))
        .select((
            timetable_occurrences::timetable_slot_id,
            timetable_occurrences::local_date,
        ))
        .load::<(i64, NaiveDate)>(c)?
        .into_iter()
        .collect())
}

fn generate_scope(
    c: &mut AnyConnection,
    scope: &GenerationScope,
) -> Result<GenerationReport, StoreError> {
    let candidates = candidates(c, scope)?;
    // Read once, so a run over occurrences already generated (the hourly horizon's usual
    // case) writes nothing; the occurrence's key still decides under concurrency.
    let generated = generated_occurrences(c, scope)?;
    let mut report = GenerationReport::default();
    for candidate in &candidates {
        for date in candidate.slot.dates_in(&scope.range) {
            if generated.contains(&(candidate.slot.id, date)) {
                report.skipped += 1;
                continue;
            }
            match generate_occurrence(c, candidate, date)? {
                Generated::Created(class_session_id) => {
                    report.created += 1;
                    report.sessions.push(GeneratedSession {
                        timetable_slot_id: candidate.slot.id,
                        date,
                        class_session_id,
                    });
                }
                Generated::AlreadyThere => report.skipped += 1,
                Generated::Conflict(other) => report.conflicts.push(OccurrenceConflict {
                    timetable_slot_id: candidate.slot.id,
                    date,
                    class_session_id: other,
                }),
            }
        }
    }
    Ok(report)
}

/// What became of one occurrence.
enum Generated {
    /// Its session was created.
    Created(i64),
    /// It had been generated before (by a concurrent run, since this one looked).
    AlreadyThere,
    /// Its session would overlap this other one of the trainer.
    Conflict(Option<i64>),
}

/// Why a savepoint was rolled back.
enum Undo {
    /// The session would overlap this other session of the trainer.
    Overlap(Option<i64>),
    /// A statement failed.
    Store(StoreError),
}

impl From<DieselError> for Undo {
    fn from(e: DieselError) -> Self {
        Self::Store(e.into())
    }
}

impl From<StoreError> for Undo {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The interval a trainer would teach in.
#[derive(Clone, Copy)]
struct Teaching {
    trainer_id: i64,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

/// A savepoint's outcome with overlaps told apart: `Err(other)` when the trainer would be in
/// two sessions, whether the check found it or PostgreSQL's exclusion constraint did (a
/// session another transaction committed meanwhile); other failures are errors.
fn unless_overlap<T>(
    c: &mut AnyConnection,
    attempt: Result<T, Undo>,
    teaching: Teaching,
    except: Option<i64>,
) -> Result<Result<T, Option<i64>>, StoreError> {
    match attempt {
        Ok(value) => Ok(Ok(value)),
        Err(Undo::Overlap(other)) => Ok(Err(other)),
        Err(Undo::Store(StoreError::Diesel(DieselError::DatabaseError(
            DatabaseErrorKind::ExclusionViolation,
            _,
        )))) => Ok(Err(overlapping_session(c, teaching, except)?)),
        Err(Undo::Store(e)) => Err(e),
    }
}

#[derive(Insertable)]
#[diesel(table_name = class_sessions)]
struct GeneratedSessionRecord {
    location_id: i64,
    program_type_id: i64,
    trainer_id: i64,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
    capacity: i32,
    status: &'static str,
    timetable_slot_id: Option<i64>,
    edited_by_hand: bool,
}

/// Records the occurrence and creates its session, in a savepoint.
fn generate_occurrence(
    c: &mut AnyConnection,
    candidate: &Candidate,
    date: NaiveDate,
) -> Result<Generated, StoreError> {
    let slot = &candidate.slot;
    let (starts_at, ends_at) = session_times(
        candidate.tz,
        date,
        slot.start_time,
        candidate.duration_minutes,
    );
    let teaching = Teaching {
        trainer_id: slot.trainer_id,
        starts_at,
        ends_at,
    };
    let attempt = c.transaction::<_, Undo, _>(|c| {
        if !claim_occurrence(c, slot.id, date)? {
            return Ok(Generated::AlreadyThere);
        }
        if let Some(other) = overlapping_session(c, teaching, None)? {
            return Err(Undo::Overlap(Some(other)));
        }
        let id: i64 = diesel::insert_into(class_sessions::table)
            .values(GeneratedSessionRecord {
                location_id: slot.location_id,
                program_type_id: slot.program_type_id,
                trainer_id: slot.trainer_id,
                starts_at: to_db_time(starts_at),
                ends_at: to_db_time(ends_at),
                capacity: slot.capacity,
                status: SessionStatus::Scheduled.as_str(),
                timetable_slot_id: Some(slot.id),
                edited_by_hand: false,
            })
            .returning(class_sessions::id)
            .get_result(c)?;
        diesel::update(timetable_occurrences::table.find((slot.id, date)))
            .set(timetable_occurrences::class_session_id.eq(Some(id)))
            .execute(c)?;
        Ok(Generated::Created(id))
    });
    Ok(unless_overlap(c, attempt, teaching, None)?.unwrap_or_else(Generated::Conflict))
}

/// Records that the occurrence was generated; `false` when it already was (a concurrent
/// PostgreSQL run's record is waited for, then counts).
fn claim_occurrence(
    c: &mut AnyConnection,
    slot_id: i64,
    date: NaiveDate,
) -> Result<bool, StoreError> {
    let record = (
        timetable_occurrences::timetable_slot_id.eq(slot_id),
        timetable_occurrences::local_date.eq(date),
    );
    // `ON CONFLICT` is not expressible on the multi-backend connection.
    let inserted = with_backend!(c, |c| diesel::insert_into(timetable_occurrences::table)
        .values(record)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted > 0)
}

/// The first scheduled session (other than `except`) that the trainer teaches during the
/// interval (half-open: back-to-back is fine), at any location: the class-session admin's
/// rule, so both writers of sessions judge alike.
fn overlapping_session(
    c: &mut AnyConnection,
    teaching: Teaching,
    except: Option<i64>,
) -> Result<Option<i64>, StoreError> {
    overlapping_scheduled_session(
        c,
        teaching.trainer_id,
        teaching.starts_at,
        teaching.ends_at,
        except,
    )
}

/// A slot with its location's time zone and its program's length.
fn slot_with_zone(c: &mut AnyConnection, slot_id: i64) -> Result<Option<Candidate>, StoreError> {
    let Some((row, timezone, duration_minutes)) = timetable_slots::table
        .inner_join(locations::table)
        .inner_join(program_types::table)
        .filter(timetable_slots::id.eq(slot_id))
        .select((
            timetable_slots::all_columns,
            locations::timezone,
            program_types::duration_minutes,
        ))
        .first::<(TimetableSlotRow, String, i32)>(c)
        .optional()?
    else {
        return Ok(None);
    };
    let slot = row.into_domain()?;
    let tz = parse_zone(slot.id, &timezone)?;
    Ok(Some(Candidate {
        slot,
        tz,
        duration_minutes,
    }))
}

/// The fields of a generated session that its slot decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SlotFields {
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    capacity: i32,
    trainer_id: i64,
    program_type_id: i64,
}

impl SlotFields {
    /// As the audit log shows them.
    fn audited(&self) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("starts_at".to_owned(), json!(self.starts_at));
        map.insert("ends_at".to_owned(), json!(self.ends_at));
        map.insert("capacity".to_owned(), json!(self.capacity));
        map.insert("trainer_id".to_owned(), json!(self.trainer_id));
        map.insert("program_type_id".to_owned(), json!(self.program_type_id));
        map
    }
}

/// A generated session that `apply` may change.
struct ApplicableSession {
    id: i64,
    version: i64,
    /// Its occurrence's local date.
    date: NaiveDate,
    /// Its location's time zone.
    tz: Tz,
    fields: SlotFields,
}

impl ApplicableSession {
    /// The fields the session gets from `slot` on its date, at the slot's start time in the
    /// session's location (which a slot moved to another studio does not change).
    fn with_slot(&self, slot: &Candidate) -> SlotFields {
        let (starts_at, ends_at) = session_times(
            self.tz,
            self.date,
            slot.slot.start_time,
            slot.duration_minutes,
        );
        SlotFields {
            starts_at,
            ends_at,
            capacity: slot.slot.capacity,
            trainer_id: slot.slot.trainer_id,
            program_type_id: slot.slot.program_type_id,
        }
    }
}

type ApplicableRow = (
    i64,
    i64,
    NaiveDate,
    String,
    NaiveDateTime,
    NaiveDateTime,
    i32,
    i64,
    i64,
);

/// The slot's sessions that `apply` may change: still scheduled, not edited by hand,
/// starting after `now`, of occurrences on or after `from`; by start.
fn applicable_sessions(
    c: &mut AnyConnection,
    slot_id: i64,
    from: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<ApplicableSession>, StoreError> {
    let rows: Vec<ApplicableRow> = class_sessions::table
        .inner_join(
            timetable_occurrences::table
                .on(timetable_occurrences::class_session_id.eq(class_sessions::id.nullable())),
        )
        .inner_join(locations::table)
        .filter(class_sessions::timetable_slot_id.eq(slot_id))
        .filter(timetable_occurrences::timetable_slot_id.eq(slot_id))
        .filter(class_sessions::edited_by_hand.eq(false))
        .filter(class_sessions::status.eq(SessionStatus::Scheduled.as_str()))
        .filter(class_sessions::starts_at.gt(to_db_time(now)))
        .filter(timetable_occurrences::local_date.ge(from))
        .order((class_sessions::starts_at.asc(), class_sessions::id.asc()))
        .select((
            class_sessions::id,
            class_sessions::version,
            timetable_occurrences::local_date,
            locations::timezone,
            class_sessions::starts_at,
            class_sessions::ends_at,
            class_sessions::capacity,
            class_sessions::trainer_id,
            class_sessions::program_type_id,
        ))
        .load(c)?;
    rows.into_iter()
        .map(
            |(
                id,
                version,
                date,
                timezone,
                starts_at,
                ends_at,
                capacity,
                trainer_id,
                program_type_id,
            )| {
                Ok(ApplicableSession {
                    id,
                    version,
                    date,
                    tz: parse_zone(slot_id, &timezone)?,
                    fields: SlotFields {
                        starts_at: from_db_time(starts_at),
                        ends_at: from_db_time(ends_at),
                        capacity,
                        trainer_id,
                        program_type_id,
                    },
                })
            },
        )
        .collect()
}

/// What became of one session `apply` meant to change.
enum Applied {
    /// It now has the slot's fields.
    Updated,
    /// It was edited, cancelled or changed otherwise since it was read (PostgreSQL, a
    /// concurrent writer): left alone.
    Changed,
    /// The change would make its trainer overlap this other session: left alone.
    Conflict(Option<i64>),
}

/// Gives one session `target`, in a savepoint, with its audit entry.
fn apply_to_session(
    c: &mut AnyConnection,
    session: &ApplicableSession,
    target: &SlotFields,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<Applied, StoreError> {
    let teaching = Teaching {
        trainer_id: target.trainer_id,
        starts_at: target.starts_at,
        ends_at: target.ends_at,
    };
    // A change of capacity or program alone cannot make a new overlap.
    let moves = (target.trainer_id, target.starts_at, target.ends_at)
        != (
            session.fields.trainer_id,
            session.fields.starts_at,
            session.fields.ends_at,
        );
    let attempt = c.transaction::<_, Undo, _>(|c| {
        if moves && let Some(other) = overlapping_session(c, teaching, Some(session.id))? {
            return Err(Undo::Overlap(Some(other)));
        }
        // Only if nobody edited, cancelled or changed it since it was read.
        let unchanged = class_sessions::table
            .filter(class_sessions::id.eq(session.id))
            .filter(class_sessions::version.eq(session.version))
            .filter(class_sessions::edited_by_hand.eq(false))
            .filter(class_sessions::status.eq(SessionStatus::Scheduled.as_str()));
        let updated = diesel::update(unchanged)
            .set((
                class_sessions::starts_at.eq(to_db_time(target.starts_at)),
                class_sessions::ends_at.eq(to_db_time(target.ends_at)),
                class_sessions::capacity.eq(target.capacity),
                class_sessions::trainer_id.eq(target.trainer_id),
                class_sessions::program_type_id.eq(target.program_type_id),
                class_sessions::version.eq(session.version + 1),
            ))
            .execute(c)?;
        if updated == 0 {
            return Ok(Applied::Changed);
        }
        record_note(
            c,
            &AuditNote {
                entity: AuditEntity::ClassSession,
                entity_id: Some(session.id),
                action: AuditAction::Updated,
                actor,
                changes: changes(Some(&session.fields.audited()), Some(&target.audited())),
                at,
            },
        )?;
        Ok(Applied::Updated)
    });
    Ok(unless_overlap(c, attempt, teaching, Some(session.id))?.unwrap_or_else(Applied::Conflict))
}
