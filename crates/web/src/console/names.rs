//! The catalog's names, as pages show ids: studios (with their time zones), programs,
//! trainers. Loaded per page from the catalog administration, inactive entries included (a
//! lead of a closed studio keeps its name and time zone); only active studios are offered in
//! the pages' choices.

use chrono_tz::Tz;
use cohai_domain::{LeadScope, Location, ProgramType, Trainer};
use cohai_services::{CatalogAdminServices, ServiceResult};

/// Names of the catalog's entries.
#[derive(Debug, Default)]
pub(super) struct Names {
    locations: Vec<Location>,
    program_types: Vec<ProgramType>,
    trainers: Vec<Trainer>,
}

impl Names {
    /// The studios only.
    pub fn studios(catalog: &CatalogAdminServices) -> ServiceResult<Self> {
        Ok(Self {
            locations: catalog.locations.list(None)?,
            ..Self::default()
        })
    }

    /// Studios, programs and trainers.
    pub fn everything(catalog: &CatalogAdminServices) -> ServiceResult<Self> {
        Ok(Self {
            locations: catalog.locations.list(None)?,
            program_types: catalog.program_types.list(None)?,
            trainers: catalog.trainers.list(None)?,
        })
    }

    /// Every active studio.
    pub fn all_studios(&self) -> impl Iterator<Item = &Location> {
        self.locations.iter().filter(|l| l.is_active)
    }

    /// The active studios a key of `scope` works with.
    pub fn studios_in<'a>(&'a self, scope: &'a LeadScope) -> impl Iterator<Item = &'a Location> {
        self.all_studios()
            .filter(move |location| scope.allows(Some(location.id)))
    }

    /// The studio's name.
    pub fn studio(&self, id: i64) -> String {
        self.locations
            .iter()
            .find(|l| l.id == id)
            .map_or_else(|| format!("Студия №{id}"), |l| l.name.clone())
    }

    /// The studio's time zone; UTC for a lead without a studio (pages then say "UTC").
    pub fn zone(&self, id: Option<i64>) -> Tz {
        id.and_then(|id| self.locations.iter().find(|l| l.id == id))
            .and_then(|l| l.timezone.parse().ok())
            .unwrap_or(Tz::UTC)
    }

    /// The one time zone of the studios of `scope`, if they share one (the period of the
    /// statistics is read in it); UTC otherwise.
    pub fn common_zone(&self, scope: &LeadScope) -> Tz {
        let mut zones = self.studios_in(scope).map(|l| self.zone(Some(l.id)));
        match zones.next() {
            Some(first) if zones.all(|z| z == first) => first,
            _ => Tz::UTC,
        }
    }

    /// The program's name.
    pub fn program(&self, id: i64) -> String {
        self.program_types
            .iter()
            .find(|p| p.id == id)
            .map_or_else(|| format!("Направление №{id}"), |p| p.name.clone())
    }

    /// The trainer's name.
    pub fn trainer(&self, id: i64) -> String {
        self.trainers
            .iter()
            .find(|t| t.id == id)
            .map_or_else(|| format!("Тренер №{id}"), |t| t.full_name.clone())
    }
}
