//! Timetable slots through the admin API (API.md §6): the catalog admin's generic service
//! ([`CatalogAdmin`]) with the slot's rules, plus the check that its location, program type
//! and trainer exist and are active.
//!
//! Changing or deactivating a slot changes only sessions generated later;
//! [`crate::timetable::TimetableService::apply`] carries a change to sessions already generated.

use std::sync::Arc;

use cohai_domain::ports::{
    LocationRepository, ProgramTypeRepository, TimetableSlotRepository, TrainerRepository,
};
use cohai_domain::timetable::parse_date;
use cohai_domain::{FieldErrors, NewTimetableSlot, StartTime, TimetableSlot};
use serde::Deserialize;

use crate::catalog_admin::{
    AdminCatalogService, CatalogAdmin, CatalogResource, Merge, input, present,
};
use crate::{PublicChanges, ServiceError, ServiceResult};

/// Most places in a class.
pub const MAX_CAPACITY: i32 = 500;

input! {
    /// A timetable slot's fields. On `POST` every field but `valid_until` and `active` is
    /// required; on `PATCH` absent fields stay, and `null` clears `valid_until`.
    TimetableSlotInput {
        /// An existing, active location; `start_time` is in its time zone.
        #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 1))]
        location_id: i64,
        /// An existing, active program type (its duration is each session's).
        #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 1))]
        program_type_id: i64,
        /// An existing, active trainer.
        #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 1))]
        trainer_id: i64,
        /// ISO weekday: 1 = Monday … 7 = Sunday.
        #[cfg_attr(feature = "openapi", schema(value_type = i32, minimum = 1, maximum = 7, example = 2))]
        weekday: i32,
        /// Local start time `HH:MM` (24-hour clock, two digits each), 00:00–23:59.
        #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "19:00"))]
        start_time: String,
        /// Places in each class, 1–500.
        #[cfg_attr(feature = "openapi", schema(value_type = i32, minimum = 1, maximum = 500, example = 12))]
        capacity: i32,
        /// The first date the slot may occur on, `YYYY-MM-DD` (1900-01-01 to 9998-12-31).
        #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date, example = "2027-03-01"))]
        valid_from: String,
        /// The last date it may occur on, not before `valid_from`; `null`: no end.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date, example = "2027-06-30"))]
        valid_until: String,
        /// Generates sessions; default `true`.
        #[cfg_attr(feature = "openapi", schema(value_type = bool, default = true))]
        active: bool,
    }
}

/// Timetable slots, as a catalog resource.
pub struct TimetableSlots;

/// `text` parsed, or an error recorded against `field` (and `None`).
fn parsed<T, E: std::fmt::Display>(
    errors: &mut FieldErrors,
    field: &str,
    text: Option<String>,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<T> {
    match parse(&text?) {
        Ok(value) => Some(value),
        Err(e) => {
            errors.add(field, e.to_string());
            None
        }
    }
}

impl CatalogResource for TimetableSlots {
    type Entity = TimetableSlot;
    type New = NewTimetableSlot;
    type Input = TimetableSlotInput;
    const NOUN: &'static str = "timetable slot";

    fn merge(
        i: TimetableSlotInput,
        current: Option<&TimetableSlot>,
    ) -> Result<NewTimetableSlot, FieldErrors> {
        let mut m = Merge::new(current);
        let location_id = m.required("location_id", i.location_id, |c| c.location_id);
        let location_id = m.int_in("location_id", location_id, 1, None);
        let program_type_id =
            m.required("program_type_id", i.program_type_id, |c| c.program_type_id);
        let program_type_id = m.int_in("program_type_id", program_type_id, 1, None);
        let trainer_id = m.required("trainer_id", i.trainer_id, |c| c.trainer_id);
        let trainer_id = m.int_in("trainer_id", trainer_id, 1, None);
        let weekday = m.required("weekday", i.weekday, |c| c.weekday);
        let weekday = m.int_in("weekday", weekday, 1, Some(7));
        // Stored values are written back as text and read again like sent ones.
        let start_time = m.required("start_time", i.start_time, |c| c.start_time.to_string());
        let start_time = parsed(&mut m.errors, "start_time", start_time, StartTime::parse);
        let capacity = m.required("capacity", i.capacity, |c| c.capacity);
        let capacity = m.int_in("capacity", capacity, 1, Some(MAX_CAPACITY));
        let valid_from = m.required("valid_from", i.valid_from, |c| c.valid_from.to_string());
        let valid_from = parsed(&mut m.errors, "valid_from", valid_from, parse_date);
        let valid_until = m.nullable(i.valid_until, |c| c.valid_until.map(|d| d.to_string()));
        let valid_until = parsed(&mut m.errors, "valid_until", valid_until, parse_date);
        if let (Some(from), Some(until)) = (valid_from, valid_until)
            && until < from
        {
            m.errors.add("valid_until", "must not be before valid_from");
        }
        let is_active = m.defaulted("active", i.active, |c| c.is_active, true);
        let new = match (
            location_id,
            program_type_id,
            trainer_id,
            weekday,
            start_time,
            capacity,
            valid_from,
        ) {
            (
                Some(location_id),
                Some(program_type_id),
                Some(trainer_id),
                Some(weekday),
                Some(start_time),
                Some(capacity),
                Some(valid_from),
            ) => Some(NewTimetableSlot {
                location_id,
                program_type_id,
                trainer_id,
                weekday,
                start_time,
                capacity,
                valid_from,
                valid_until,
                is_active,
            }),
            _ => None,
        };
        m.finish(new)
    }
}

/// The slots' admin service: [`CatalogAdmin`] of [`TimetableSlots`], whose writes are refused
/// (422) when a location, program type or trainer they name does not exist or is inactive.
///
/// A create checks all three; a `PATCH` checks those it sends (one deactivated later does not
/// keep the slot from other changes). The check reads before the write: a reference
/// deactivated meanwhile is not noticed, as with every catalog reference.
pub struct TimetableSlotAdmin {
    inner: CatalogAdmin<TimetableSlots>,
    locations: Arc<dyn LocationRepository>,
    program_types: Arc<dyn ProgramTypeRepository>,
    trainers: Arc<dyn TrainerRepository>,
}

impl TimetableSlotAdmin {
    /// The service over the slots and the repositories of what they refer to.
    pub fn new(
        slots: Arc<dyn TimetableSlotRepository>,
        locations: Arc<dyn LocationRepository>,
        program_types: Arc<dyn ProgramTypeRepository>,
        trainers: Arc<dyn TrainerRepository>,
        changes: PublicChanges,
    ) -> Self {
        Self {
            inner: CatalogAdmin::new(slots, locations.clone(), changes),
            locations,
            program_types,
            trainers,
        }
    }

    /// The field errors of the body: its values' (when `current` is what it is merged into;
    /// `None` on create), then a missing or inactive reference it sends.
    fn check(
        &self,
        input: &TimetableSlotInput,
        current: Option<&TimetableSlot>,
    ) -> ServiceResult<()> {
        let mut errors = match TimetableSlots::merge(input.clone(), current) {
            Ok(_) => FieldErrors::new(),
            Err(errors) => errors,
        };
        let sent = |field: &Option<Option<i64>>| field.flatten().filter(|id| *id >= 1);
        if let Some(id) = sent(&input.location_id) {
            let active = self.locations.get_by_id(id)?.map(|l| l.is_active);
            reference_problem(&mut errors, "location_id", "location", id, active);
        }
        if let Some(id) = sent(&input.program_type_id) {
            let active = self.program_types.get_by_id(id)?.map(|p| p.is_active);
            reference_problem(&mut errors, "program_type_id", "program type", id, active);
        }
        if let Some(id) = sent(&input.trainer_id) {
            let active = self.trainers.get_by_id(id)?.map(|t| t.is_active);
            reference_problem(&mut errors, "trainer_id", "trainer", id, active);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.into())
        }
    }
}

/// Records that `noun` `id` does not exist (`active` is `None`) or is inactive.
fn reference_problem(
    errors: &mut FieldErrors,
    field: &str,
    noun: &str,
    id: i64,
    active: Option<bool>,
) {
    match active {
        None => errors.add(field, format!("{noun} {id} does not exist")),
        Some(false) => errors.add(field, format!("{noun} {id} is not active")),
        Some(true) => {}
    }
}

impl AdminCatalogService<TimetableSlot, TimetableSlotInput> for TimetableSlotAdmin {
    fn list(&self, active: Option<bool>) -> ServiceResult<Vec<TimetableSlot>> {
        self.inner.list(active)
    }

    fn get(&self, id: i64) -> ServiceResult<TimetableSlot> {
        self.inner.get(id)
    }

    fn create(&self, input: TimetableSlotInput, actor: &str) -> ServiceResult<TimetableSlot> {
        self.check(&input, None)?;
        self.inner.create(input, actor)
    }

    fn update(
        &self,
        id: i64,
        input: TimetableSlotInput,
        expected_version: Option<i64>,
        actor: &str,
    ) -> ServiceResult<TimetableSlot> {
        // A missing slot is 404 and a stale one 412 before its values are judged.
        let current = self.inner.get(id)?;
        if expected_version.is_some_and(|v| v != current.version) {
            return Err(ServiceError::PreconditionFailed);
        }
        self.check(&input, Some(&current))?;
        self.inner.update(id, input, expected_version, actor)
    }

    fn delete(&self, id: i64, expected_version: Option<i64>, actor: &str) -> ServiceResult<()> {
        self.inner.delete(id, expected_version, actor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn body(json: serde_json::Value) -> TimetableSlotInput {
        serde_json::from_value(json).expect("a valid body")
    }

    fn complete() -> serde_json::Value {
        serde_json::json!({"location_id": 1, "program_type_id": 2, "trainer_id": 3, "weekday": 2,
            "start_time": "19:00", "capacity": 12, "valid_from": "2027-03-01"})
    }

    fn errors_of(json: serde_json::Value) -> Vec<String> {
        match TimetableSlots::merge(body(json), None) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.0.into_keys().collect(),
        }
    }

    #[test]
    fn a_complete_body_merges_with_defaults() {
        let new = TimetableSlots::merge(body(complete()), None).expect("valid");
        assert_eq!(new.start_time.minutes(), 19 * 60);
        assert_eq!(
            new.valid_from,
            NaiveDate::from_ymd_opt(2027, 3, 1).expect("date")
        );
        assert_eq!((new.valid_until, new.is_active), (None, true));
    }

    #[test]
    fn every_rule_names_its_field() {
        let with = |field: &str, value: serde_json::Value| {
            let mut b = complete();
            b[field] = value;
            b
        };
        for (field, value) in [
            ("weekday", serde_json::json!(0)),
            ("weekday", serde_json::json!(8)),
            ("start_time", serde_json::json!("24:00")),
            ("start_time", serde_json::json!("9:00")),
            ("capacity", serde_json::json!(0)),
            ("capacity", serde_json::json!(501)),
            ("valid_from", serde_json::json!("2027-02-30")),
            ("valid_until", serde_json::json!("2027-02-28")),
            ("location_id", serde_json::json!(0)),
            ("start_time", serde_json::Value::Null),
        ] {
            assert_eq!(
                errors_of(with(field, value.clone())),
                [field],
                "{field} = {value}"
            );
        }
        let mut missing = complete();
        missing
            .as_object_mut()
            .expect("object")
            .retain(|k, _| k == "weekday");
        assert_eq!(
            errors_of(missing),
            [
                "capacity",
                "location_id",
                "program_type_id",
                "start_time",
                "trainer_id",
                "valid_from"
            ]
        );
    }

    #[test]
    fn a_patch_keeps_what_it_does_not_send_and_null_clears_the_end() {
        let stored = TimetableSlot {
            id: 5,
            location_id: 1,
            program_type_id: 2,
            trainer_id: 3,
            weekday: 2,
            start_time: StartTime::parse("19:00").expect("valid"),
            capacity: 12,
            valid_from: NaiveDate::from_ymd_opt(2027, 3, 1).expect("date"),
            valid_until: NaiveDate::from_ymd_opt(2027, 6, 30),
            is_active: true,
            version: 3,
        };
        let changed = TimetableSlots::merge(
            body(serde_json::json!({"start_time": "18:30", "valid_until": null})),
            Some(&stored),
        )
        .expect("valid");
        assert_eq!(changed.start_time.to_string(), "18:30");
        assert_eq!((changed.valid_until, changed.capacity), (None, 12));
        // An end before the stored start is refused on valid_until.
        let early = TimetableSlots::merge(
            body(serde_json::json!({"valid_until": "2027-02-01"})),
            Some(&stored),
        );
        assert_eq!(
            early.map_err(|e| e.0.into_keys().collect::<Vec<_>>()),
            Err(vec!["valid_until".to_owned()])
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut b = complete();
        b["room"] = serde_json::json!("A");
        assert!(serde_json::from_value::<TimetableSlotInput>(b).is_err());
    }
}
