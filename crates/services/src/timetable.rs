//! Sessions from the weekly timetable (API.md §6): a manager's generation run, applying a
//! slot's change to the sessions it already generated, and the server's rolling horizon.
//!
//! The rules of a run are the repository's ([`TimetableRepository`], one transaction);
//! this service checks what is asked and says what to generate.

use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, Utc};
use cohai_domain::audit::SYSTEM_ACTOR;
use cohai_domain::ports::{
    LocationRepository, ProgramTypeRepository, TimetableRepository, TimetableSlotRepository,
    TrainerRepository,
};
use cohai_domain::timetable::{
    DateRange, DateRangeError, GenerationScope, LAST_DATE, RunAudit, RunLock, parse_date,
};
use cohai_domain::{ApplyReport, FieldErrors, GenerationReport, GenerationRun, TimetableSlot};
use serde::Deserialize;

use crate::catalog_admin::{AdminCatalogService, REQUIRED};
use crate::timetable_slots::{TimetableSlotAdmin, TimetableSlotInput};
use crate::{PublicChanges, ServiceError, ServiceResult};

/// A manager's generation run: `POST /api/v1/admin/timetable/generate`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GenerateInput {
    /// The first local date, `YYYY-MM-DD`. Required.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date, required = true, example = "2027-03-01"))]
    pub from: Option<String>,
    /// The last local date (included), at most 91 days after `from`. Required.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date, required = true, example = "2027-03-28"))]
    pub to: Option<String>,
    /// Only this location's slots (it must exist); absent or `null`: every location's.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 1))]
    pub location_id: Option<i64>,
}

/// `POST /api/v1/admin/timetable-slots/{id}/apply`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplyInput {
    /// The first local date whose sessions change, `YYYY-MM-DD`. Required.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date, required = true, example = "2027-03-01"))]
    pub from: Option<String>,
}

/// Sessions from the timetable.
pub trait TimetableService: Send + Sync {
    /// Generates the sessions of every active slot (of `location_id`, when given) on every
    /// matching local date of `from ..= to`, as `actor`. A range of more than 92 dates or
    /// one that ends before it starts is a 422 on `to`; an unknown `location_id` a 422 on it.
    fn generate(&self, input: GenerateInput, actor: &str) -> ServiceResult<GenerationReport>;
    /// Gives slot `slot_id`'s untouched future sessions from the local date `from` on its
    /// current start time, capacity, trainer and program type, as `actor`.
    fn apply(&self, slot_id: i64, input: ApplyInput, actor: &str) -> ServiceResult<ApplyReport>;
    /// Keeps sessions generated `days` ahead at every active location: each location's local
    /// dates from its today (at `now`) to today + `days`, as the system. `None` when another
    /// run (another instance's, or a manager's) was in progress, so this one did nothing.
    fn keep_horizon(
        &self,
        days: u32,
        now: DateTime<Utc>,
    ) -> ServiceResult<Option<GenerationReport>>;
}

/// [`TimetableService`] over the repositories.
pub struct TimetableServiceImpl {
    timetable: Arc<dyn TimetableRepository>,
    locations: Arc<dyn LocationRepository>,
    changes: PublicChanges,
}

impl TimetableServiceImpl {
    /// The service over the timetable and the locations; each run counts in `changes`.
    pub fn new(
        timetable: Arc<dyn TimetableRepository>,
        locations: Arc<dyn LocationRepository>,
        changes: PublicChanges,
    ) -> Self {
        Self {
            timetable,
            locations,
            changes,
        }
    }
}

/// A required date field, parsed; errors are recorded against it.
fn date_field(errors: &mut FieldErrors, field: &str, value: Option<&str>) -> Option<NaiveDate> {
    match value.map(parse_date) {
        None => {
            errors.add(field, REQUIRED);
            None
        }
        Some(Err(e)) => {
            errors.add(field, e.to_string());
            None
        }
        Some(Ok(date)) => Some(date),
    }
}

/// The current instant at the precision both databases store (microseconds).
fn now() -> DateTime<Utc> {
    use chrono::SubsecRound as _;
    Utc::now().trunc_subsecs(6)
}

impl TimetableService for TimetableServiceImpl {
    fn generate(&self, input: GenerateInput, actor: &str) -> ServiceResult<GenerationReport> {
        let mut errors = FieldErrors::new();
        let from = date_field(&mut errors, "from", input.from.as_deref());
        let to = date_field(&mut errors, "to", input.to.as_deref());
        let range = match (from, to) {
            (Some(from), Some(to)) => {
                match DateRange::new(from, to, DateRange::MAX_GENERATE_DAYS) {
                    Ok(range) => Some(range),
                    Err(e @ (DateRangeError::Reversed | DateRangeError::TooLong { .. })) => {
                        errors.add("to", e.to_string());
                        None
                    }
                }
            }
            _ => None,
        };
        if let Some(id) = input.location_id {
            if id < 1 {
                errors.add("location_id", "must be at least 1");
            } else if self.locations.get_by_id(id)?.is_none() {
                errors.add("location_id", format!("location {id} does not exist"));
            }
        }
        let (Some(range), true) = (range, errors.is_empty()) else {
            return Err(errors.into());
        };
        let run = GenerationRun {
            scopes: vec![GenerationScope {
                location_id: input.location_id,
                range,
            }],
            lock: RunLock::Wait,
            audit: RunAudit::Always,
        };
        let report = self.timetable.generate(&run, actor, now());
        self.changes.wrote();
        report?.ok_or_else(|| ServiceError::Internal("a waiting generation run was skipped".into()))
    }

    fn apply(&self, slot_id: i64, input: ApplyInput, actor: &str) -> ServiceResult<ApplyReport> {
        let mut errors = FieldErrors::new();
        let Some(from) = date_field(&mut errors, "from", input.from.as_deref()) else {
            return Err(errors.into());
        };
        let report = self.timetable.apply(slot_id, from, now(), actor);
        self.changes.wrote();
        report?.ok_or_else(|| ServiceError::not_found("timetable slot", slot_id))
    }

    fn keep_horizon(
        &self,
        days: u32,
        now: DateTime<Utc>,
    ) -> ServiceResult<Option<GenerationReport>> {
        let mut scopes = Vec::new();
        for location in self.locations.list_active()? {
            let Ok(tz) = location.timezone.parse::<chrono_tz::Tz>() else {
                log::warn!(
                    "location {} has an unknown time zone {:?}: no horizon for it",
                    location.id,
                    location.timezone
                );
                continue;
            };
            let today = now.with_timezone(&tz).date_naive();
            // Never past the last date the timetable takes, however long the horizon.
            let last = today
                .checked_add_days(Days::new(u64::from(days)))
                .map_or(LAST_DATE, |d| d.min(LAST_DATE));
            let range = DateRange::new(today, last, i64::from(days))
                .map_err(|e| ServiceError::Internal(format!("horizon range: {e}")))?;
            scopes.push(GenerationScope {
                location_id: Some(location.id),
                range,
            });
        }
        let run = GenerationRun {
            scopes,
            lock: RunLock::SkipIfBusy,
            audit: RunAudit::WhenCreated,
        };
        let report = self.timetable.generate(&run, SYSTEM_ACTOR, now);
        // Most hourly runs find every session made already: they change nothing.
        if !matches!(&report, Ok(None)) && !matches!(&report, Ok(Some(r)) if r.created == 0) {
            self.changes.wrote();
        }
        Ok(report?)
    }
}

/// The timetable's services, as the web layer holds them.
#[derive(Clone)]
pub struct TimetableServices {
    /// Slot administration.
    pub slots: Arc<dyn AdminCatalogService<TimetableSlot, TimetableSlotInput>>,
    /// Generation and `apply`.
    pub timetable: Arc<dyn TimetableService>,
}

impl TimetableServices {
    /// The services over the repositories; their writes count in `changes`.
    pub fn new(
        slots: Arc<dyn TimetableSlotRepository>,
        timetable: Arc<dyn TimetableRepository>,
        locations: Arc<dyn LocationRepository>,
        program_types: Arc<dyn ProgramTypeRepository>,
        trainers: Arc<dyn TrainerRepository>,
        changes: &PublicChanges,
    ) -> Self {
        Self {
            slots: Arc::new(TimetableSlotAdmin::new(
                slots,
                locations.clone(),
                program_types,
                trainers,
                changes.clone(),
            )),
            timetable: Arc::new(TimetableServiceImpl::new(
                timetable,
                locations,
                changes.clone(),
            )),
        }
    }
}
