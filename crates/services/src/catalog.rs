//! The public catalog: locations, program types, trainers and membership plans.

use std::collections::HashSet;
use std::sync::Arc;

use cohai_domain::ports::{
    LocationRepository, MembershipPlanRepository, ProgramTypeRepository, TrainerRepository,
};
use cohai_domain::{Location, MembershipPlan, ProgramType, Trainer};

use crate::{ServiceError, ServiceResult};

/// Read access to the public catalog. Inactive rows are invisible: listed nowhere and
/// answered with `NotFound`.
pub trait CatalogService: Send + Sync {
    /// Active locations by name.
    fn locations(&self) -> ServiceResult<Vec<Location>>;
    /// One active location.
    fn location(&self, id: i64) -> ServiceResult<Location>;
    /// Active program types by name.
    fn program_types(&self) -> ServiceResult<Vec<ProgramType>>;
    /// Active trainers by full name; with a location, those who teach there.
    fn trainers(&self, location_id: Option<i64>) -> ServiceResult<Vec<Trainer>>;
    /// One active trainer.
    fn trainer(&self, id: i64) -> ServiceResult<Trainer>;
    /// Active plans by price, then id; optionally of one location.
    fn memberships(&self, location_id: Option<i64>) -> ServiceResult<Vec<MembershipPlan>>;
    /// One active plan.
    fn membership(&self, id: i64) -> ServiceResult<MembershipPlan>;
}

/// [`CatalogService`] over the catalog repositories.
pub struct CatalogServiceImpl {
    locations: Arc<dyn LocationRepository>,
    program_types: Arc<dyn ProgramTypeRepository>,
    trainers: Arc<dyn TrainerRepository>,
    plans: Arc<dyn MembershipPlanRepository>,
}

impl CatalogServiceImpl {
    /// A catalog over these repositories.
    pub fn new(
        locations: Arc<dyn LocationRepository>,
        program_types: Arc<dyn ProgramTypeRepository>,
        trainers: Arc<dyn TrainerRepository>,
        plans: Arc<dyn MembershipPlanRepository>,
    ) -> Self {
        Self {
            locations,
            program_types,
            trainers,
            plans,
        }
    }
}

/// `Some(row)` when it exists and is active, else `NotFound`.
fn active<T>(
    row: Option<T>,
    is_active: impl Fn(&T) -> bool,
    entity: &'static str,
    id: i64,
) -> ServiceResult<T> {
    row.filter(|r| is_active(r))
        .ok_or_else(|| ServiceError::not_found(entity, id))
}

impl CatalogService for CatalogServiceImpl {
    fn locations(&self) -> ServiceResult<Vec<Location>> {
        Ok(self.locations.list_active()?)
    }

    fn location(&self, id: i64) -> ServiceResult<Location> {
        active(
            self.locations.get_by_id(id)?,
            |l| l.is_active,
            "location",
            id,
        )
    }

    fn program_types(&self) -> ServiceResult<Vec<ProgramType>> {
        Ok(self.program_types.list_active()?)
    }

    fn trainers(&self, location_id: Option<i64>) -> ServiceResult<Vec<Trainer>> {
        match location_id {
            None => Ok(self.trainers.list_active()?),
            Some(id) => {
                self.location(id)?;
                Ok(self.trainers.list_active_by_location(id)?)
            }
        }
    }

    fn trainer(&self, id: i64) -> ServiceResult<Trainer> {
        active(self.trainers.get_by_id(id)?, |t| t.is_active, "trainer", id)
    }

    fn memberships(&self, location_id: Option<i64>) -> ServiceResult<Vec<MembershipPlan>> {
        match location_id {
            None => {
                // A closed studio's plans are not for sale.
                let open: HashSet<i64> =
                    self.locations.list_active()?.iter().map(|l| l.id).collect();
                let mut plans = self.plans.list_active()?;
                plans.retain(|p| open.contains(&p.location_id));
                Ok(plans)
            }
            Some(id) => {
                self.location(id)?;
                Ok(self.plans.list_by_location(id)?)
            }
        }
    }

    fn membership(&self, id: i64) -> ServiceResult<MembershipPlan> {
        let plan = active(
            self.plans.get_by_id(id)?,
            |p| p.is_active,
            "membership plan",
            id,
        )?;
        let location_open = self
            .locations
            .get_by_id(plan.location_id)?
            .is_some_and(|l| l.is_active);
        if location_open {
            Ok(plan)
        } else {
            Err(ServiceError::not_found("membership plan", id))
        }
    }
}
