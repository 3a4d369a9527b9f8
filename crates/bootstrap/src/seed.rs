//! `seed`: the idempotent demo data (see [`crate::demo_data`]) and the timetable of the coming
//! two weeks.
//!
//! Catalog rows are found by their natural key (name) and created only when missing; a
//! studio's classes are created one local day at a time, and only for days on which the
//! studio has no class yet. Running `seed` again therefore changes nothing, and running it on
//! a later day only adds the days that are new.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use cohai_domain::time::start_of_day;
use cohai_domain::{
    Location, MembershipPlan, Money, NewClassSession, NewLocation, NewMembershipPlan,
    NewProgramType, NewTrainer, ProgramType, SessionStatus, Trainer,
};
use cohai_persistence::{Database, Repositories};

use crate::demo_data::{self, DemoLocation};
use crate::error::{BootstrapError, RepoContext, Result};
use crate::slots::plan_day;

/// Days of timetable that `seed` makes sure exist, starting with today.
pub const SEED_DAYS: u32 = 14;

/// How many rows of one kind a run created and how many it found already there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Rows created by this run.
    pub created: usize,
    /// Rows that already existed (for class sessions: on days that were left alone).
    pub existing: usize,
}

impl Tally {
    fn record(&mut self, created: bool) {
        if created {
            self.created += 1;
        } else {
            self.existing += 1;
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} created, {} existing", self.created, self.existing)
    }
}

/// What a `seed` run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Migrations applied first.
    pub migrations: Vec<String>,
    /// Studios.
    pub locations: Tally,
    /// Program types.
    pub program_types: Tally,
    /// Trainers.
    pub trainers: Tally,
    /// Membership plans.
    pub membership_plans: Tally,
    /// Class sessions.
    pub class_sessions: Tally,
}

impl SeedReport {
    /// Rows created by this run, of every kind.
    pub fn created_total(&self) -> usize {
        [
            self.locations,
            self.program_types,
            self.trainers,
            self.membership_plans,
            self.class_sessions,
        ]
        .iter()
        .map(|t| t.created)
        .sum()
    }
}

impl fmt::Display for SeedReport {
    /// One line per kind of row, e.g. `locations:         3 created, 0 existing`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "locations:        {}", self.locations)?;
        writeln!(f, "program types:    {}", self.program_types)?;
        writeln!(f, "trainers:         {}", self.trainers)?;
        writeln!(f, "membership plans: {}", self.membership_plans)?;
        write!(f, "class sessions:   {}", self.class_sessions)
    }
}

/// Applies pending migrations, then loads the demo catalog and the timetable of the
/// [`SEED_DAYS`] local days starting with each studio's "today" at `now`. Idempotent.
pub fn seed(db: &Database, now: DateTime<Utc>) -> Result<SeedReport> {
    let mut report = SeedReport {
        migrations: db.migrate()?,
        ..SeedReport::default()
    };
    let repos = db.repositories();
    let locations = seed_locations(&repos, &mut report.locations)?;
    let programs = seed_programs(&repos, &mut report.program_types)?;
    let trainers = seed_trainers(&repos, &mut report.trainers)?;
    for (studio, (demo, location, tz)) in locations.iter().enumerate() {
        let plans = seed_plans(&repos, demo, location, &mut report.membership_plans)?;
        let trial_plan = plans.get(demo_data::TRIAL_PLAN).map(|p| p.id);
        let today = now.with_timezone(tz).date_naive();
        let studio = StudioContext {
            index: studio,
            demo,
            location,
            tz: *tz,
            programs: &programs,
            trainers: &trainers,
            trial_plan,
        };
        seed_sessions(&repos, &studio, today, &mut report.class_sessions)?;
    }
    log::debug!(
        "seed: {} rows created, {} migrations applied",
        report.created_total(),
        report.migrations.len()
    );
    Ok(report)
}

/// The stored studios, each with its demo definition and parsed time zone.
fn seed_locations(
    repos: &Repositories,
    tally: &mut Tally,
) -> Result<Vec<(&'static DemoLocation, Location, Tz)>> {
    demo_data::LOCATIONS
        .iter()
        .map(|demo| {
            let existing = repos
                .locations
                .find_by_name(demo.name)
                .context(|| format!("looking up location {:?}", demo.name))?;
            tally.record(existing.is_none());
            let location = match existing {
                Some(location) => location,
                None => repos
                    .locations
                    .create(&NewLocation {
                        name: demo.name.to_owned(),
                        address: demo.address.to_owned(),
                        city: demo.city.to_owned(),
                        phone: Some(demo.phone.to_owned()),
                        timezone: demo.timezone.to_owned(),
                        is_active: true,
                    })
                    .context(|| format!("creating location {:?}", demo.name))?,
            };
            // An existing row may have been edited: its stored zone is the one that counts.
            let tz = parse_tz(&location)?;
            Ok((demo, location, tz))
        })
        .collect()
}

/// The time zone of a stored location.
pub(crate) fn parse_tz(location: &Location) -> Result<Tz> {
    location
        .timezone
        .parse()
        .map_err(|_| BootstrapError::UnknownTimeZone {
            location: location.name.clone(),
            timezone: location.timezone.clone(),
        })
}

/// The stored program types, in the order of [`demo_data::PROGRAMS`].
fn seed_programs(repos: &Repositories, tally: &mut Tally) -> Result<Vec<ProgramType>> {
    demo_data::PROGRAMS
        .iter()
        .map(|demo| {
            let existing = repos
                .program_types
                .find_by_name(demo.name)
                .context(|| format!("looking up program type {:?}", demo.name))?;
            tally.record(existing.is_none());
            match existing {
                Some(program) => Ok(program),
                None => repos
                    .program_types
                    .create(&NewProgramType {
                        name: demo.name.to_owned(),
                        description: Some(demo.description.to_owned()),
                        duration_minutes: demo.duration_minutes,
                        level: demo.level,
                        is_active: true,
                    })
                    .context(|| format!("creating program type {:?}", demo.name)),
            }
        })
        .collect()
}

/// The stored trainers, in the order of [`demo_data::TRAINERS`].
fn seed_trainers(repos: &Repositories, tally: &mut Tally) -> Result<Vec<Trainer>> {
    demo_data::TRAINERS
        .iter()
        .map(|demo| {
            let existing = repos
                .trainers
                .find_by_name(demo.full_name)
                .context(|| format!("looking up trainer {:?}", demo.full_name))?;
            tally.record(existing.is_none());
            match existing {
                Some(trainer) => Ok(trainer),
                None => repos
                    .trainers
                    .create(&NewTrainer {
                        full_name: demo.full_name.to_owned(),
                        bio: Some(demo.bio.to_owned()),
                        photo_url: None,
                        is_active: true,
                    })
                    .context(|| format!("creating trainer {:?}", demo.full_name)),
            }
        })
        .collect()
}

/// The stored plans of one studio, in the order of [`demo_data::PLANS`].
fn seed_plans(
    repos: &Repositories,
    demo: &DemoLocation,
    location: &Location,
    tally: &mut Tally,
) -> Result<Vec<MembershipPlan>> {
    demo_data::PLANS
        .iter()
        .map(|plan| {
            let describe = || format!("plan {:?} of location {:?}", plan.name, location.name);
            let existing = repos
                .membership_plans
                .find_by_name(location.id, plan.name)
                .context(|| format!("looking up {}", describe()))?;
            tally.record(existing.is_none());
            if let Some(existing) = existing {
                return Ok(existing);
            }
            let minor = demo_data::scaled_price(plan.base_price_minor, demo.price_percent);
            let price = Money::new(minor, demo_data::CURRENCY)
                .ok_or_else(|| BootstrapError::InvalidData(format!("price of {}", describe())))?;
            repos
                .membership_plans
                .create(&NewMembershipPlan {
                    location_id: location.id,
                    name: plan.name.to_owned(),
                    description: Some(plan.description.to_owned()),
                    price,
                    visits: plan.visits,
                    validity_days: plan.validity_days,
                    is_active: true,
                })
                .context(|| format!("creating {}", describe()))
        })
        .collect()
}

/// What the timetable of one studio is built from.
struct StudioContext<'a> {
    /// Position in [`demo_data::LOCATIONS`].
    index: usize,
    demo: &'a DemoLocation,
    location: &'a Location,
    tz: Tz,
    /// In the order of [`demo_data::PROGRAMS`].
    programs: &'a [ProgramType],
    /// In the order of [`demo_data::TRAINERS`].
    trainers: &'a [Trainer],
    /// The studio's trial plan, which the beginners' classes belong to.
    trial_plan: Option<i64>,
}

/// Creates the classes of every day in `today..today + SEED_DAYS` on which the studio has
/// none yet, in one transaction.
fn seed_sessions(
    repos: &Repositories,
    studio: &StudioContext<'_>,
    today: NaiveDate,
    tally: &mut Tally,
) -> Result<()> {
    let location = studio.location;
    let mut new_sessions = Vec::new();
    for date in today.iter_days().take(SEED_DAYS as usize) {
        let from = start_of_day(date, studio.tz);
        let to = start_of_day(date + Duration::days(1), studio.tz);
        let existing = repos
            .class_sessions
            .count_by_location(location.id, from, to)
            .context(|| format!("counting classes of {:?} on {date}", location.name))?;
        if existing > 0 {
            tally.existing += usize::try_from(existing).unwrap_or_default();
            continue;
        }
        new_sessions.extend(day_sessions(studio, date));
    }
    if !new_sessions.is_empty() {
        tally.created += repos
            .class_sessions
            .create_many(&new_sessions)
            .context(|| format!("creating classes of {:?}", location.name))?;
    }
    Ok(())
}

/// The classes of one studio on one local day.
fn day_sessions(studio: &StudioContext<'_>, date: NaiveDate) -> Vec<NewClassSession> {
    plan_day(
        studio.index,
        date,
        studio.tz,
        studio.programs.len(),
        studio.demo.trainers,
    )
    .into_iter()
    .filter_map(|class| {
        let program = studio.programs.get(class.program)?;
        let trainer = studio.trainers.get(class.trainer)?;
        Some(NewClassSession {
            location_id: studio.location.id,
            program_type_id: program.id,
            trainer_id: trainer.id,
            membership_plan_id: studio
                .trial_plan
                .filter(|_| class.program == demo_data::TRIAL_PROGRAM),
            starts_at: class.starts_at,
            ends_at: class.starts_at
                + Duration::minutes(i64::from(program.duration_minutes.max(1))),
            capacity: class.capacity,
            status: if class.cancelled {
                SessionStatus::Cancelled
            } else {
                SessionStatus::Scheduled
            },
        })
    })
    .collect()
}
