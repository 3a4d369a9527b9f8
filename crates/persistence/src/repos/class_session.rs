//! The timetable, read with its location, program type and trainer in one joined query.

use chrono::{DateTime, NaiveDateTime, Utc};
use cohai_domain::ports::ClassSessionRepository;
use cohai_domain::{
    ClassSession, LocationRef, NewClassSession, ProgramTypeRef, RepoResult, ScheduleFilter,
    SessionStatus, TrainerRef,
};
use diesel::prelude::*;

use super::{Db, IntoDomain, from_db_time, parse_stored, to_db_time, to_domain_vec};
use crate::connection::write_transaction;
use crate::error::StoreError;
use crate::schema::{class_sessions, locations, program_types, trainers};

/// Rows per INSERT statement in batch inserts: 9 binds each keeps well under SQLite's
/// 32,766 and PostgreSQL's 65,535 bind-parameter limits.
const INSERT_CHUNK: usize = 1000;

#[derive(Queryable)]
struct SessionViewRow {
    id: i64,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
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
            starts_at: from_db_time(self.starts_at),
            ends_at: from_db_time(self.ends_at),
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
        self.db.run(|c| {
            let mut query = session_view!()
                .filter(locations::is_active.eq(true))
                .filter(class_sessions::starts_at.ge(from))
                .filter(class_sessions::starts_at.lt(to))
                .order((class_sessions::starts_at.asc(), class_sessions::id.asc()))
                .into_boxed();
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
