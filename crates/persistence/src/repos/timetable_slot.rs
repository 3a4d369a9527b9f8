//! Weekly timetable slots: the catalog's create, change and delete (with their audit entries,
//! see [`crud_repository!`]), ordered as the admin list shows them.

use chrono::{DateTime, NaiveDate, Utc};
use cohai_domain::audit::SYSTEM_ACTOR;
use cohai_domain::ports::{CrudRepository, TimetableSlotRepository};
use cohai_domain::{NewTimetableSlot, RepoError, RepoResult, StartTime, TimetableSlot};
use diesel::prelude::*;

use super::audit::{Written, write_audited};
use super::catalog::crud_repository;
use super::{Db, IntoDomain, to_domain_vec};
use crate::connection::AnyConnection;
use crate::error::StoreError;
use crate::schema::{class_sessions, timetable_slots};

type Backend = <AnyConnection as Connection>::Backend;

/// A stored slot, column by column.
#[derive(Queryable)]
pub(crate) struct TimetableSlotRow {
    id: i64,
    location_id: i64,
    program_type_id: i64,
    trainer_id: i64,
    weekday: i32,
    start_minute: i32,
    capacity: i32,
    valid_from: NaiveDate,
    valid_until: Option<NaiveDate>,
    is_active: bool,
    version: i64,
}

impl IntoDomain for TimetableSlotRow {
    type Output = TimetableSlot;
    fn into_domain(self) -> Result<TimetableSlot, StoreError> {
        let start_time = StartTime::from_minutes(self.start_minute).ok_or_else(|| {
            RepoError::Internal(format!(
                "timetable slot {} starts at minute {}",
                self.id, self.start_minute
            ))
        })?;
        Ok(TimetableSlot {
            id: self.id,
            location_id: self.location_id,
            program_type_id: self.program_type_id,
            trainer_id: self.trainer_id,
            weekday: self.weekday,
            start_time,
            capacity: self.capacity,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            is_active: self.is_active,
            version: self.version,
        })
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = timetable_slots, treat_none_as_null = true)]
struct TimetableSlotRecord {
    location_id: i64,
    program_type_id: i64,
    trainer_id: i64,
    weekday: i32,
    start_minute: i32,
    capacity: i32,
    valid_from: NaiveDate,
    valid_until: Option<NaiveDate>,
    is_active: bool,
}

impl From<&NewTimetableSlot> for TimetableSlotRecord {
    fn from(n: &NewTimetableSlot) -> Self {
        Self {
            location_id: n.location_id,
            program_type_id: n.program_type_id,
            trainer_id: n.trainer_id,
            weekday: n.weekday,
            start_minute: n.start_time.minutes(),
            capacity: n.capacity,
            valid_from: n.valid_from,
            valid_until: n.valid_until,
            is_active: n.is_active,
        }
    }
}

/// What keeps a slot from an admin's delete: the sessions it generated. (Its occurrence
/// records go with it; a slot whose sessions were all deleted may be deleted.)
fn slot_references(c: &mut AnyConnection, id: i64) -> Result<Option<&'static str>, StoreError> {
    let sessions: i64 = class_sessions::table
        .filter(class_sessions::timetable_slot_id.eq(id))
        .count()
        .get_result(c)?;
    Ok((sessions > 0).then_some("class sessions"))
}

crud_repository!(
    DieselTimetableSlotRepository,
    timetable_slots,
    TimetableSlot,
    NewTimetableSlot,
    TimetableSlotRow,
    TimetableSlotRecord,
    order = (
        timetable_slots::location_id.asc(),
        timetable_slots::weekday.asc(),
        timetable_slots::start_minute.asc(),
        timetable_slots::id.asc(),
    ),
    referenced = slot_references
);

impl TimetableSlotRepository for DieselTimetableSlotRepository {
    fn list_by_location(&self, location_id: i64) -> RepoResult<Vec<TimetableSlot>> {
        self.db.run(|c| {
            to_domain_vec(
                timetable_slots::table
                    .filter(timetable_slots::location_id.eq(location_id))
                    .order((
                        timetable_slots::weekday.asc(),
                        timetable_slots::start_minute.asc(),
                        timetable_slots::id.asc(),
                    ))
                    .load::<TimetableSlotRow>(c)?,
            )
        })
    }
}
