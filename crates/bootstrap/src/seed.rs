//! `seed`: the idempotent demo data (see [`crate::demo_data`]), the studios' weekly
//! timetable (see [`crate::demo_timetable`]) and its class sessions for the coming two weeks.
//!
//! Catalog rows and timetable slots are found by their natural key (a name; a slot's studio,
//! weekday and start time) and created only when missing. The sessions are generated from
//! the slots exactly as the server's own generation does (one path for demo data and
//! production): an occurrence (slot, local date) generated once is never generated again. So
//! running `seed` again changes nothing, and running it on a later day only adds the days that
//! are new. Of the sessions a run creates, one in [`demo_timetable::CANCEL_EVERY`] is then
//! cancelled through the admin's cancellation path.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use cohai_domain::audit::SYSTEM_ACTOR;
use cohai_domain::timetable::{DateRange, GenerationScope, RunAudit, RunLock};
use cohai_domain::{
    ClassSessionFields, GenerationReport, GenerationRun, Location, MembershipPlan, Money,
    NewLocation, NewMembershipPlan, NewProgramType, NewTimetableSlot, NewTrainer, ProgramType,
    SessionStatus, Trainer,
};
use cohai_persistence::{Database, Repositories};

use crate::demo_data::{self, DemoLocation};
use crate::demo_timetable::{self, CANCELLATION_REASON, studio_week};
use crate::error::{BootstrapError, RepoContext, Result};

/// Days of timetable that `seed` makes sure exist, starting with today.
pub const SEED_DAYS: u32 = 14;

/// How many rows of one kind a run created and how many it found already there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Rows created by this run.
    pub created: usize,
    /// Rows that already existed (for class sessions: occurrences generated before).
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
    /// Weekly timetable slots.
    pub timetable_slots: Tally,
    /// Class sessions (generated from the slots).
    pub class_sessions: Tally,
    /// Sessions this run cancelled (of those it created).
    pub cancelled: usize,
}

impl SeedReport {
    /// Rows created by this run, of every kind.
    pub fn created_total(&self) -> usize {
        [
            self.locations,
            self.program_types,
            self.trainers,
            self.membership_plans,
            self.timetable_slots,
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
        writeln!(f, "timetable slots:  {}", self.timetable_slots)?;
        write!(
            f,
            "class sessions:   {} ({} cancelled)",
            self.class_sessions, self.cancelled
        )
    }
}

/// Applies pending migrations, then loads the demo catalog and timetable, and generates the
/// sessions of the [`SEED_DAYS`] local days starting with each studio's "today" at `now`.
/// Idempotent.
pub fn seed(db: &Database, now: DateTime<Utc>) -> Result<SeedReport> {
    let mut report = SeedReport {
        migrations: db.migrate()?,
        ..SeedReport::default()
    };
    let repos = db.repositories();
    let locations = seed_locations(&repos, &mut report.locations)?;
    let programs = seed_programs(&repos, &mut report.program_types)?;
    let trainers = seed_trainers(&repos, &mut report.trainers)?;
    let mut scopes = Vec::new();
    // Which studio, and which of its daily times, each slot is.
    let mut slot_times = HashMap::new();
    for (studio, (demo, location, tz)) in locations.iter().enumerate() {
        seed_plans(&repos, demo, location, &mut report.membership_plans)?;
        let context = StudioContext {
            index: studio,
            demo,
            location,
            programs: &programs,
            trainers: &trainers,
        };
        for (slot_id, time) in seed_slots(&repos, &context, &mut report.timetable_slots)? {
            slot_times.insert(slot_id, (studio, time));
        }
        scopes.push(fortnight(location, *tz, now)?);
    }
    let generated = generate(&repos, scopes, now)?;
    report.class_sessions = Tally {
        created: usize::try_from(generated.created).unwrap_or(usize::MAX),
        existing: usize::try_from(generated.skipped).unwrap_or(usize::MAX),
    };
    report.cancelled = cancel_some(&repos, &generated, &slot_times, now)?;
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
    /// In the order of [`demo_data::PROGRAMS`].
    programs: &'a [ProgramType],
    /// In the order of [`demo_data::TRAINERS`].
    trainers: &'a [Trainer],
}

/// The studio's weekly slots, created where its weekday and start time have none (an
/// existing slot there, even a changed or deactivated one, is kept as it is): each slot's id
/// with its index into [`demo_timetable::SLOT_TIMES`].
fn seed_slots(
    repos: &Repositories,
    studio: &StudioContext<'_>,
    tally: &mut Tally,
) -> Result<Vec<(i64, usize)>> {
    let location = studio.location;
    let stored = repos
        .timetable_slots
        .list_by_location(location.id)
        .context(|| format!("listing the timetable slots of {:?}", location.name))?;
    let week = studio_week(studio.index, studio.programs.len(), studio.demo.trainers);
    let mut out = Vec::with_capacity(week.len());
    for demo in week {
        let start_time = demo.start_time();
        let describe = || {
            format!(
                "the slot of {:?} on weekday {} at {start_time}",
                location.name, demo.weekday
            )
        };
        let existing = stored
            .iter()
            .find(|s| s.weekday == demo.weekday && s.start_time == start_time);
        tally.record(existing.is_none());
        let id = match existing {
            Some(slot) => slot.id,
            None => {
                let (Some(program), Some(trainer)) = (
                    studio.programs.get(demo.program),
                    studio.trainers.get(demo.trainer),
                ) else {
                    return Err(BootstrapError::InvalidData(describe()));
                };
                repos
                    .timetable_slots
                    .create(&NewTimetableSlot {
                        location_id: location.id,
                        program_type_id: program.id,
                        trainer_id: trainer.id,
                        weekday: demo.weekday,
                        start_time,
                        capacity: demo.capacity,
                        valid_from: demo_timetable::VALID_FROM,
                        valid_until: None,
                        is_active: true,
                    })
                    .context(|| format!("creating {}", describe()))?
                    .id
            }
        };
        out.push((id, demo.time));
    }
    Ok(out)
}

/// The [`SEED_DAYS`] local dates of a studio starting with its today at `now`.
fn fortnight(location: &Location, tz: Tz, now: DateTime<Utc>) -> Result<GenerationScope> {
    let today = now.with_timezone(&tz).date_naive();
    let last = today + Duration::days(i64::from(SEED_DAYS) - 1);
    let range = DateRange::new(today, last, i64::from(SEED_DAYS))
        .map_err(|e| BootstrapError::InvalidData(format!("the seed's date range: {e}")))?;
    Ok(GenerationScope {
        location_id: Some(location.id),
        range,
    })
}

/// One generation run over the studios' fortnights, as the system: the server's own path
/// (waiting for a run another process may have in progress; audited when it creates).
fn generate(
    repos: &Repositories,
    scopes: Vec<GenerationScope>,
    now: DateTime<Utc>,
) -> Result<GenerationReport> {
    let run = GenerationRun {
        scopes,
        lock: RunLock::Wait,
        audit: RunAudit::WhenCreated,
    };
    let report = repos
        .timetable
        .generate(&run, SYSTEM_ACTOR, now)
        .context(|| "generating the class sessions of the coming two weeks".to_owned())?
        .ok_or_else(|| {
            BootstrapError::InvalidData("a waiting generation run was skipped".to_owned())
        })?;
    for conflict in &report.conflicts {
        log::warn!(
            "seed: the slot {} on {} overlaps session {:?} of its trainer; not generated",
            conflict.timetable_slot_id,
            conflict.date,
            conflict.class_session_id
        );
    }
    Ok(report)
}

/// Cancels the sessions this run created that the demo timetable cancels (with
/// [`CANCELLATION_REASON`]), as a manager would, through the admin's path; returns how many.
fn cancel_some(
    repos: &Repositories,
    generated: &GenerationReport,
    slot_times: &HashMap<i64, (usize, usize)>,
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut cancelled = 0;
    for session in &generated.sessions {
        let Some(&(studio, time)) = slot_times.get(&session.timetable_slot_id) else {
            continue;
        };
        if !demo_timetable::is_cancelled(studio, session.date, time) {
            continue;
        }
        let id = session.class_session_id;
        let describe = || format!("cancelling the demo class session {id}");
        let Some(stored) = repos.class_session_admin.get_by_id(id).context(describe)? else {
            continue;
        };
        let fields = ClassSessionFields {
            status: SessionStatus::Cancelled,
            cancellation_reason: Some(CANCELLATION_REASON.to_owned()),
            ..ClassSessionFields::of(&stored)
        };
        repos
            .class_session_admin
            .update_audited(id, &fields, None, SYSTEM_ACTOR, now)
            .map_err(|source| BootstrapError::Session {
                action: describe(),
                source,
            })?;
        cancelled += 1;
    }
    Ok(cancelled)
}
