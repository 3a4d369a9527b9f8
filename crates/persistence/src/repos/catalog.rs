//! Locations, program types, trainers and membership plans.

use chrono::{DateTime, Utc};
use cohai_domain::RepoError;
use cohai_domain::audit::SYSTEM_ACTOR;
use cohai_domain::ports::{
    CrudRepository, LocationRepository, MembershipPlanRepository, ProgramTypeRepository,
    TrainerRepository,
};
use cohai_domain::{
    Location, MembershipPlan, NewLocation, NewMembershipPlan, NewProgramType, NewTrainer,
    ProgramType, RepoResult, Trainer,
};
use diesel::prelude::*;

type Backend = <AnyConnection as Connection>::Backend;

use super::audit::{Written, write_audited};
use super::{Db, IntoDomain, parse_stored, to_domain_vec};
use crate::connection::AnyConnection;
use crate::error::StoreError;
use crate::schema::{
    class_sessions, locations, membership_plans, program_types, timetable_slots, trainers,
};

/// Implements [`CrudRepository`] for a catalog table whose rows have `is_active` and
/// `version`. Every write goes through [`write_audited`]; `$referenced` names what still
/// refers to a row (which keeps it from an admin's delete).
macro_rules! crud_repository {
    ($repo:ident, $table:ident, $entity:ty, $new:ty, $row:ty, $record:ident,
        order = $order:expr, referenced = $referenced:path) => {
        /// Diesel implementation of the repository.
        pub(crate) struct $repo {
            db: Db,
        }

        impl $repo {
            pub(crate) fn new(db: Db) -> Self {
                Self { db }
            }

            /// Deletes row `id` (refused while referenced when `check_references`).
            fn remove(
                &self,
                id: i64,
                expected_version: Option<i64>,
                check_references: bool,
                actor: &str,
                at: DateTime<Utc>,
            ) -> RepoResult<bool> {
                let written = write_audited(&self.db, actor, at, |c| {
                    let Some(row) = $table::table.find(id).first::<$row>(c).optional()? else {
                        return Ok(Written::Missing);
                    };
                    let before = row.into_domain()?;
                    if expected_version.is_some_and(|v| v != before.version) {
                        return Err(RepoError::Stale.into());
                    }
                    if check_references {
                        if let Some(by) = $referenced(c, id)? {
                            return Err(RepoError::Conflict(format!(
                                "{} {id} is still referenced by {by}",
                                stringify!($table)
                            ))
                            .into());
                        }
                    }
                    let deleted = diesel::delete(
                        $table::table
                            .find(id)
                            .filter($table::version.eq(before.version)),
                    )
                    .execute(c)?;
                    if deleted == 0 {
                        // Changed by a concurrent writer since it was read.
                        return Err(RepoError::Stale.into());
                    }
                    Ok(Written::Deleted(before))
                })?;
                Ok(matches!(written, Written::Deleted(_)))
            }
        }

        impl CrudRepository<$entity, $new> for $repo {
            fn list_active(&self) -> RepoResult<Vec<$entity>> {
                self.list_all(Some(true))
            }

            fn list_all(&self, active: Option<bool>) -> RepoResult<Vec<$entity>> {
                self.db.run(|c| {
                    let mut query = $table::table.into_boxed::<Backend>();
                    if let Some(active) = active {
                        query = query.filter($table::is_active.eq(active));
                    }
                    to_domain_vec(query.order($order).load::<$row>(c)?)
                })
            }

            fn get_by_id(&self, id: i64) -> RepoResult<Option<$entity>> {
                self.db.run(|c| {
                    $table::table
                        .find(id)
                        .first::<$row>(c)
                        .optional()?
                        .into_domain()
                })
            }

            fn create_audited(
                &self,
                new: &$new,
                actor: &str,
                at: DateTime<Utc>,
            ) -> RepoResult<$entity> {
                let record = $record::from(new);
                let written = write_audited(&self.db, actor, at, |c| {
                    let row = diesel::insert_into($table::table)
                        .values(&record)
                        .returning($table::all_columns)
                        .get_result::<$row>(c)?;
                    Ok(Written::Created(row.into_domain()?))
                })?;
                match written {
                    Written::Created(created) => Ok(created),
                    _ => Err(RepoError::Internal("an insert stored no row".to_owned())),
                }
            }

            fn update_audited(
                &self,
                id: i64,
                new: &$new,
                expected_version: Option<i64>,
                actor: &str,
                at: DateTime<Utc>,
            ) -> RepoResult<Option<$entity>> {
                let record = $record::from(new);
                let written = write_audited(&self.db, actor, at, |c| {
                    let Some(row) = $table::table.find(id).first::<$row>(c).optional()? else {
                        return Ok(Written::Missing);
                    };
                    let before = row.into_domain()?;
                    if expected_version.is_some_and(|v| v != before.version) {
                        return Err(RepoError::Stale.into());
                    }
                    // Only if still the version read: on PostgreSQL a concurrent writer that
                    // committed in between makes this match nothing (a lost update otherwise).
                    let after = diesel::update(
                        $table::table
                            .find(id)
                            .filter($table::version.eq(before.version)),
                    )
                    .set((&record, $table::version.eq(before.version + 1)))
                    .returning($table::all_columns)
                    .get_result::<$row>(c)
                    .optional()?
                    .ok_or(RepoError::Stale)?
                    .into_domain()?;
                    Ok(Written::Updated { before, after })
                })?;
                Ok(match written {
                    Written::Updated { after, .. } => Some(after),
                    _ => None,
                })
            }

            fn delete_audited(
                &self,
                id: i64,
                expected_version: Option<i64>,
                actor: &str,
                at: DateTime<Utc>,
            ) -> RepoResult<bool> {
                self.remove(id, expected_version, true, actor, at)
            }

            fn delete(&self, id: i64) -> RepoResult<bool> {
                self.remove(id, None, false, SYSTEM_ACTOR, Utc::now())
            }
        }
    };
}

pub(crate) use crud_repository;

/// `Some(what)` for the first kind of row that refers to `$id` through its column.
macro_rules! first_reference {
    ($c:expr, $id:expr, $($table:ident . $column:ident => $what:literal),+ $(,)?) => {{
        $(
            let used: i64 = $table::table
                .filter($table::$column.eq($id))
                .count()
                .get_result($c)?;
            if used > 0 {
                return Ok(Some($what));
            }
        )+
        Ok(None)
    }};
}

fn location_references(c: &mut AnyConnection, id: i64) -> Result<Option<&'static str>, StoreError> {
    first_reference!(c, id,
        membership_plans.location_id => "membership plans",
        class_sessions.location_id => "class sessions",
        timetable_slots.location_id => "timetable slots")
}

fn program_type_references(
    c: &mut AnyConnection,
    id: i64,
) -> Result<Option<&'static str>, StoreError> {
    first_reference!(c, id,
        class_sessions.program_type_id => "class sessions",
        timetable_slots.program_type_id => "timetable slots")
}

fn trainer_references(c: &mut AnyConnection, id: i64) -> Result<Option<&'static str>, StoreError> {
    first_reference!(c, id,
        class_sessions.trainer_id => "class sessions",
        timetable_slots.trainer_id => "timetable slots")
}

fn plan_references(c: &mut AnyConnection, id: i64) -> Result<Option<&'static str>, StoreError> {
    first_reference!(c, id, class_sessions.membership_plan_id => "class sessions")
}

#[derive(Queryable)]
struct LocationRow {
    id: i64,
    name: String,
    address: String,
    city: String,
    phone: Option<String>,
    timezone: String,
    is_active: bool,
    version: i64,
}

impl IntoDomain for LocationRow {
    type Output = Location;
    fn into_domain(self) -> Result<Location, StoreError> {
        let LocationRow {
            id,
            name,
            address,
            city,
            phone,
            timezone,
            is_active,
            version,
        } = self;
        Ok(Location {
            id,
            name,
            address,
            city,
            phone,
            timezone,
            is_active,
            version,
        })
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = locations, treat_none_as_null = true)]
struct LocationRecord<'a> {
    name: &'a str,
    address: &'a str,
    city: &'a str,
    phone: Option<&'a str>,
    timezone: &'a str,
    is_active: bool,
}

impl<'a> From<&'a NewLocation> for LocationRecord<'a> {
    fn from(n: &'a NewLocation) -> Self {
        Self {
            name: &n.name,
            address: &n.address,
            city: &n.city,
            phone: n.phone.as_deref(),
            timezone: &n.timezone,
            is_active: n.is_active,
        }
    }
}

crud_repository!(
    DieselLocationRepository,
    locations,
    Location,
    NewLocation,
    LocationRow,
    LocationRecord,
    order = (locations::name.asc(), locations::id.asc()),
    referenced = location_references
);

impl LocationRepository for DieselLocationRepository {
    fn find_by_name(&self, name: &str) -> RepoResult<Option<Location>> {
        self.db.run(|c| {
            locations::table
                .filter(locations::name.eq(name))
                .first::<LocationRow>(c)
                .optional()?
                .into_domain()
        })
    }
}

#[derive(Queryable)]
struct ProgramTypeRow {
    id: i64,
    name: String,
    description: Option<String>,
    duration_minutes: i32,
    level: String,
    is_active: bool,
    version: i64,
}

impl IntoDomain for ProgramTypeRow {
    type Output = ProgramType;
    fn into_domain(self) -> Result<ProgramType, StoreError> {
        let ProgramTypeRow {
            id,
            name,
            description,
            duration_minutes,
            level,
            is_active,
            version,
        } = self;
        Ok(ProgramType {
            id,
            name,
            description,
            duration_minutes,
            level: parse_stored(&level)?,
            is_active,
            version,
        })
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = program_types, treat_none_as_null = true)]
struct ProgramTypeRecord<'a> {
    name: &'a str,
    description: Option<&'a str>,
    duration_minutes: i32,
    level: &'static str,
    is_active: bool,
}

impl<'a> From<&'a NewProgramType> for ProgramTypeRecord<'a> {
    fn from(n: &'a NewProgramType) -> Self {
        Self {
            name: &n.name,
            description: n.description.as_deref(),
            duration_minutes: n.duration_minutes,
            level: n.level.as_str(),
            is_active: n.is_active,
        }
    }
}

crud_repository!(
    DieselProgramTypeRepository,
    program_types,
    ProgramType,
    NewProgramType,
    ProgramTypeRow,
    ProgramTypeRecord,
    order = (program_types::name.asc(), program_types::id.asc()),
    referenced = program_type_references
);

impl ProgramTypeRepository for DieselProgramTypeRepository {
    fn find_by_name(&self, name: &str) -> RepoResult<Option<ProgramType>> {
        self.db.run(|c| {
            program_types::table
                .filter(program_types::name.eq(name))
                .first::<ProgramTypeRow>(c)
                .optional()?
                .into_domain()
        })
    }
}

#[derive(Queryable)]
struct TrainerRow {
    id: i64,
    full_name: String,
    bio: Option<String>,
    photo_url: Option<String>,
    is_active: bool,
    version: i64,
}

impl IntoDomain for TrainerRow {
    type Output = Trainer;
    fn into_domain(self) -> Result<Trainer, StoreError> {
        let TrainerRow {
            id,
            full_name,
            bio,
            photo_url,
            is_active,
            version,
        } = self;
        Ok(Trainer {
            id,
            full_name,
            bio,
            photo_url,
            is_active,
            version,
        })
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = trainers, treat_none_as_null = true)]
struct TrainerRecord<'a> {
    full_name: &'a str,
    bio: Option<&'a str>,
    photo_url: Option<&'a str>,
    is_active: bool,
}

impl<'a> From<&'a NewTrainer> for TrainerRecord<'a> {
    fn from(n: &'a NewTrainer) -> Self {
        Self {
            full_name: &n.full_name,
            bio: n.bio.as_deref(),
            photo_url: n.photo_url.as_deref(),
            is_active: n.is_active,
        }
    }
}

crud_repository!(
    DieselTrainerRepository,
    trainers,
    Trainer,
    NewTrainer,
    TrainerRow,
    TrainerRecord,
    order = (trainers::full_name.asc(), trainers::id.asc()),
    referenced = trainer_references
);

impl TrainerRepository for DieselTrainerRepository {
    fn list_active_by_location(&self, location_id: i64) -> RepoResult<Vec<Trainer>> {
        self.db.run(|c| {
            let teaches_there = class_sessions::table
                .filter(class_sessions::trainer_id.eq(trainers::id))
                .filter(class_sessions::location_id.eq(location_id));
            to_domain_vec(
                trainers::table
                    .filter(trainers::is_active.eq(true))
                    .filter(diesel::dsl::exists(teaches_there))
                    .order((trainers::full_name.asc(), trainers::id.asc()))
                    .load::<TrainerRow>(c)?,
            )
        })
    }

    fn find_by_name(&self, full_name: &str) -> RepoResult<Option<Trainer>> {
        self.db.run(|c| {
            trainers::table
                .filter(trainers::full_name.eq(full_name))
                .first::<TrainerRow>(c)
                .optional()?
                .into_domain()
        })
    }
}

#[derive(Queryable)]
struct MembershipPlanRow {
    id: i64,
    location_id: i64,
    name: String,
    description: Option<String>,
    price_minor: i64,
    currency: String,
    visits: Option<i32>,
    validity_days: i32,
    is_active: bool,
    version: i64,
}

impl IntoDomain for MembershipPlanRow {
    type Output = MembershipPlan;
    fn into_domain(self) -> Result<MembershipPlan, StoreError> {
        let MembershipPlanRow {
            id,
            location_id,
            name,
            description,
            price_minor,
            currency,
            visits,
            validity_days,
            is_active,
            version,
        } = self;
        Ok(MembershipPlan {
            id,
            location_id,
            name,
            description,
            price_minor,
            currency,
            visits,
            validity_days,
            is_active,
            version,
        })
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = membership_plans, treat_none_as_null = true)]
struct MembershipPlanRecord<'a> {
    location_id: i64,
    name: &'a str,
    description: Option<&'a str>,
    price_minor: i64,
    currency: &'a str,
    visits: Option<i32>,
    validity_days: i32,
    is_active: bool,
}

impl<'a> From<&'a NewMembershipPlan> for MembershipPlanRecord<'a> {
    fn from(n: &'a NewMembershipPlan) -> Self {
        Self {
            location_id: n.location_id,
            name: &n.name,
            description: n.description.as_deref(),
            price_minor: n.price.minor(),
            currency: n.price.currency(),
            visits: n.visits,
            validity_days: n.validity_days,
            is_active: n.is_active,
        }
    }
}

crud_repository!(
    DieselMembershipPlanRepository,
    membership_plans,
    MembershipPlan,
    NewMembershipPlan,
    MembershipPlanRow,
    MembershipPlanRecord,
    order = (
        membership_plans::price_minor.asc(),
        membership_plans::id.asc()
    ),
    referenced = plan_references
);

impl MembershipPlanRepository for DieselMembershipPlanRepository {
    fn list_by_location(&self, location_id: i64) -> RepoResult<Vec<MembershipPlan>> {
        self.db.run(|c| {
            to_domain_vec(
                membership_plans::table
                    .filter(membership_plans::is_active.eq(true))
                    .filter(membership_plans::location_id.eq(location_id))
                    .order((
                        membership_plans::price_minor.asc(),
                        membership_plans::id.asc(),
                    ))
                    .load::<MembershipPlanRow>(c)?,
            )
        })
    }

    fn find_by_name(&self, location_id: i64, name: &str) -> RepoResult<Option<MembershipPlan>> {
        self.db.run(|c| {
            membership_plans::table
                .filter(membership_plans::location_id.eq(location_id))
                .filter(membership_plans::name.eq(name))
                .first::<MembershipPlanRow>(c)
                .optional()?
                .into_domain()
        })
    }
}
