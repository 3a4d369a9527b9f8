//! `generate`: large synthetic data for benchmarks.
//!
//! Bench studios (`Bench studio 0001`, …), a handful of bench program types and trainers are
//! found by name or created; then the requested number of class sessions (spread over a year
//! before and a year after now, in chronological order, at the studios' local class times)
//! and leads (created over the past year, each with its `created` event) are added in
//! batches, one transaction per batch. Sessions and leads are always added, never reused:
//! running `generate` twice doubles them.
//!
//! The data are pseudo-random but reproducible: the same options give the same rows.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use cohai_domain::timetable::local_to_utc;
use cohai_domain::{
    LeadFilter, LeadSource, LeadStatus, Location, NewClassSession, NewLead, NewLocation,
    NewProgramType, NewTrainer, Phone, ProgramLevel, ProgramType, ScheduleFilter, SessionStatus,
    TimeWindow, Trainer,
};
use cohai_persistence::{Database, Repositories};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::demo_timetable::{CANCEL_EVERY, MAX_CAPACITY, MIN_CAPACITY, SLOT_TIMES, start_time};
use crate::error::{BootstrapError, RepoContext, Result};
use crate::progress::Progress;
use crate::seed::{Tally, parse_tz};

/// The actor recorded on the `created` events of generated leads.
pub const ACTOR: &str = "bootstrap";

/// Days before and after now that generated class sessions cover. Four years in all: a million
/// sessions at 50 studios is then about 14 classes a day per studio, a busy but real timetable
/// (with two years it was 27 a day, and a week's schedule three times the demo studio's size).
pub const SESSION_SPAN_DAYS: i64 = 730;

/// Days before now over which generated leads are created.
pub const LEAD_SPAN_DAYS: i64 = 365;

/// Number of bench program types.
pub const BENCH_PROGRAMS: usize = 6;

/// Number of bench trainers.
pub const BENCH_TRAINERS: usize = 12;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Bench studios to use (found by name or created).
    pub locations: usize,
    /// Class sessions to add.
    pub sessions: u64,
    /// Leads to add, each with its `created` event.
    pub leads: u64,
    /// Rows per transaction.
    pub batch_size: usize,
    /// The instant the data are generated around.
    pub now: DateTime<Utc>,
    /// Seed of the pseudo-random choices.
    pub seed: u64,
}

impl GenerateOptions {
    /// Rows per transaction unless told otherwise.
    pub const DEFAULT_BATCH_SIZE: usize = 10_000;

    /// Options with the default batch size and seed.
    pub fn new(locations: usize, sessions: u64, leads: u64, now: DateTime<Utc>) -> Self {
        Self {
            locations,
            sessions,
            leads,
            batch_size: Self::DEFAULT_BATCH_SIZE,
            now,
            seed: 1,
        }
    }
}

/// What a `generate` run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateReport {
    /// Migrations applied first.
    pub migrations: Vec<String>,
    /// Bench studios.
    pub locations: Tally,
    /// Bench program types.
    pub program_types: Tally,
    /// Bench trainers.
    pub trainers: Tally,
    /// Class sessions added.
    pub class_sessions: u64,
    /// Leads added (each with one event).
    pub leads: u64,
    /// Wall-clock time of the whole run.
    pub elapsed: StdDuration,
}

impl GenerateReport {
    /// Class sessions and leads added (events not counted).
    pub fn rows(&self) -> u64 {
        self.class_sessions + self.leads
    }

    /// [`GenerateReport::rows`] per second of [`GenerateReport::elapsed`].
    pub fn rows_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.rows() as f64 / secs
        } else {
            0.0
        }
    }
}

impl fmt::Display for GenerateReport {
    /// One line, e.g. `generated 1000000 class sessions and 0 leads at 50 bench studios
    /// (50 new) in 21.4 s (46729 rows/s)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "generated {} class sessions and {} leads at {} bench studios ({} new) in {:.1} s ({:.0} rows/s)",
            self.class_sessions,
            self.leads,
            self.locations.created + self.locations.existing,
            self.locations.created,
            self.elapsed.as_secs_f64(),
            self.rows_per_second()
        )
    }
}

/// Applies pending migrations, then adds the bench catalog, sessions and leads that `options`
/// ask for, reporting each phase to `progress`.
pub fn generate(
    db: &Database,
    options: &GenerateOptions,
    progress: &mut dyn Progress,
) -> Result<GenerateReport> {
    let started = Instant::now();
    if options.batch_size == 0 {
        return Err(BootstrapError::InvalidOptions(
            "the batch size must be at least 1".to_owned(),
        ));
    }
    if options.sessions > 0 && options.locations == 0 {
        return Err(BootstrapError::InvalidOptions(
            "class sessions need at least one location".to_owned(),
        ));
    }
    let mut report = GenerateReport {
        migrations: db.migrate()?,
        ..GenerateReport::default()
    };
    let repos = db.repositories();
    let mut rng = StdRng::seed_from_u64(options.seed);

    progress.start("locations", options.locations as u64);
    let locations = bench_locations(&repos, options.locations, &mut report.locations, progress)?;
    progress.finish();
    let programs = bench_programs(&repos, &mut report.program_types)?;
    let trainers = bench_trainers(&repos, &mut report.trainers)?;

    report.class_sessions = generate_sessions(
        &repos, options, &locations, &programs, &trainers, &mut rng, progress,
    )?;
    report.leads = generate_leads(&repos, options, &locations, &programs, &mut rng, progress)?;
    report.elapsed = started.elapsed();
    log::debug!("{report}");
    Ok(report)
}

/// Cities and time zones the bench studios cycle through.
const BENCH_CITIES: &[(&str, &str)] = &[
    ("Москва", "Europe/Moscow"),
    ("Санкт-Петербург", "Europe/Moscow"),
    ("Екатеринбург", "Asia/Yekaterinburg"),
    ("Новосибирск", "Asia/Novosibirsk"),
    ("Казань", "Europe/Moscow"),
    ("Калининград", "Europe/Kaliningrad"),
    ("Самара", "Europe/Samara"),
    ("Владивосток", "Asia/Vladivostok"),
];

/// Name of the bench studio number `n` (from 1).
///
/// ```
/// assert_eq!(cohai_bootstrap::generate::bench_location_name(1), "Bench studio 0001");
/// ```
pub fn bench_location_name(n: usize) -> String {
    format!("Bench studio {n:04}")
}

/// A bench studio and its time zone.
struct BenchLocation {
    location: Location,
    tz: Tz,
}

fn bench_locations(
    repos: &Repositories,
    count: usize,
    tally: &mut Tally,
    progress: &mut dyn Progress,
) -> Result<Vec<BenchLocation>> {
    let mut out = Vec::with_capacity(count);
    for n in 1..=count {
        let name = bench_location_name(n);
        let existing = repos
            .locations
            .find_by_name(&name)
            .context(|| format!("looking up location {name:?}"))?;
        let location = match existing {
            Some(location) => {
                tally.existing += 1;
                location
            }
            None => {
                let (city, timezone) = BENCH_CITIES[(n - 1) % BENCH_CITIES.len()];
                tally.created += 1;
                repos
                    .locations
                    .create(&NewLocation {
                        name: name.clone(),
                        address: format!("ул. Тестовая, {n}"),
                        city: city.to_owned(),
                        phone: None,
                        timezone: timezone.to_owned(),
                        is_active: true,
                    })
                    .context(|| format!("creating location {name:?}"))?
            }
        };
        let tz = parse_tz(&location)?;
        out.push(BenchLocation { location, tz });
        progress.advance(1);
    }
    Ok(out)
}

fn bench_programs(repos: &Repositories, tally: &mut Tally) -> Result<Vec<ProgramType>> {
    const DURATIONS: [i32; BENCH_PROGRAMS] = [55, 60, 60, 75, 90, 60];
    (1..=BENCH_PROGRAMS)
        .map(|n| {
            let name = format!("Bench program {n:02}");
            let existing = repos
                .program_types
                .find_by_name(&name)
                .context(|| format!("looking up program type {name:?}"))?;
            if let Some(program) = existing {
                tally.existing += 1;
                return Ok(program);
            }
            tally.created += 1;
            repos
                .program_types
                .create(&NewProgramType {
                    name: name.clone(),
                    description: Some("Синтетическая программа для нагрузочных тестов.".to_owned()),
                    duration_minutes: DURATIONS[(n - 1) % DURATIONS.len()],
                    level: ProgramLevel::ALL[(n - 1) % ProgramLevel::ALL.len()],
                    is_active: true,
                })
                .context(|| format!("creating program type {name:?}"))
        })
        .collect()
}

fn bench_trainers(repos: &Repositories, tally: &mut Tally) -> Result<Vec<Trainer>> {
    (1..=BENCH_TRAINERS)
        .map(|n| {
            let name = format!("Bench trainer {n:02}");
            let existing = repos
                .trainers
                .find_by_name(&name)
                .context(|| format!("looking up trainer {name:?}"))?;
            if let Some(trainer) = existing {
                tally.existing += 1;
                return Ok(trainer);
            }
            tally.created += 1;
            repos
                .trainers
                .create(&NewTrainer {
                    full_name: name.clone(),
                    bio: None,
                    photo_url: None,
                    is_active: true,
                })
                .context(|| format!("creating trainer {name:?}"))
        })
        .collect()
}

/// Adds `options.sessions` class sessions in chronological order of their day (which keeps
/// the time indexes' inserts local), round-robin over the studios.
fn generate_sessions(
    repos: &Repositories,
    options: &GenerateOptions,
    locations: &[BenchLocation],
    programs: &[ProgramType],
    trainers: &[Trainer],
    rng: &mut StdRng,
    progress: &mut dyn Progress,
) -> Result<u64> {
    if options.sessions == 0 {
        return Ok(0);
    }
    progress.start("class sessions", options.sessions);
    let todays: Vec<NaiveDate> = locations
        .iter()
        .map(|l| options.now.with_timezone(&l.tz).date_naive())
        .collect();
    let span = u128::try_from(2 * SESSION_SPAN_DAYS).unwrap_or_default();
    let mut diary = TrainerDiary::of(repos, trainers, options.now)?;
    let mut stored = 0;
    let mut batch = Vec::with_capacity(options.batch_size);
    for i in 0..options.sessions {
        let studio = (i % locations.len() as u64) as usize;
        let bench = &locations[studio];
        // i / sessions of the way through the span.
        let day = u128::from(i) * span / u128::from(options.sessions);
        let offset = i64::try_from(day).unwrap_or_default() - SESSION_SPAN_DAYS;
        let date = todays[studio] + Duration::days(offset);
        let starts_at = local_to_utc(
            bench.tz,
            start_time(rng.random_range(0..SLOT_TIMES.len())).on(date),
        );
        let program = &programs[rng.random_range(0..programs.len())];
        let ends_at = starts_at + Duration::minutes(i64::from(program.duration_minutes.max(1)));
        let first_choice = rng.random_range(0..trainers.len());
        let mut cancelled = rng.random_ratio(1, CANCEL_EVERY as u32);
        // The first free trainer from the drawn one on; with none free the class is
        // cancelled (a trainer is never in two overlapping scheduled sessions).
        let free = (0..trainers.len())
            .map(|k| &trainers[(first_choice + k) % trainers.len()])
            .find(|t| cancelled || diary.is_free(t.id, starts_at, ends_at));
        let trainer = free.unwrap_or(&trainers[first_choice]);
        cancelled |= free.is_none();
        if !cancelled {
            diary.book(trainer.id, starts_at, ends_at);
        }
        batch.push(NewClassSession {
            location_id: bench.location.id,
            program_type_id: program.id,
            trainer_id: trainer.id,
            membership_plan_id: None,
            starts_at,
            ends_at,
            capacity: rng.random_range(MIN_CAPACITY..=MAX_CAPACITY),
            status: if cancelled {
                SessionStatus::Cancelled
            } else {
                SessionStatus::Scheduled
            },
        });
        if batch.len() == options.batch_size {
            stored += store_sessions(repos, &mut batch, progress)?;
        }
    }
    stored += store_sessions(repos, &mut batch, progress)?;
    progress.finish();
    Ok(stored)
}

/// When each trainer teaches a scheduled session: those stored before this run (of the span
/// around now) and those this run adds.
#[derive(Default)]
struct TrainerDiary(HashMap<i64, BTreeMap<DateTime<Utc>, DateTime<Utc>>>);

impl TrainerDiary {
    /// The scheduled sessions stored for `trainers` within the span (plus a margin) around
    /// `now`, so a second run does not double-book them either.
    fn of(repos: &Repositories, trainers: &[Trainer], now: DateTime<Utc>) -> Result<Self> {
        let margin = Duration::days(SESSION_SPAN_DAYS + 2);
        let window = TimeWindow::new(now - margin, now + margin, 2 * margin.num_days())
            .map_err(|e| BootstrapError::InvalidOptions(format!("the session span: {e}")))?;
        let mut diary = Self::default();
        for trainer in trainers {
            let stored = repos
                .class_sessions
                .search(&ScheduleFilter {
                    location_id: None,
                    program_type_id: None,
                    trainer_id: Some(trainer.id),
                    window,
                })
                .context(|| format!("reading the sessions of trainer {:?}", trainer.full_name))?;
            for session in stored
                .iter()
                .filter(|s| s.status == SessionStatus::Scheduled)
            {
                diary.book(trainer.id, session.starts_at, session.ends_at);
            }
        }
        Ok(diary)
    }

    /// Whether the trainer teaches nothing during `[from, to)`. The booked intervals do not
    /// overlap one another, so only the last one starting before `to` can overlap.
    fn is_free(&self, trainer_id: i64, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        self.0.get(&trainer_id).is_none_or(|booked| {
            booked
                .range(..to)
                .next_back()
                .is_none_or(|(_, end)| *end <= from)
        })
    }

    fn book(&mut self, trainer_id: i64, from: DateTime<Utc>, to: DateTime<Utc>) {
        self.0.entry(trainer_id).or_default().insert(from, to);
    }
}

fn store_sessions(
    repos: &Repositories,
    batch: &mut Vec<NewClassSession>,
    progress: &mut dyn Progress,
) -> Result<u64> {
    if batch.is_empty() {
        return Ok(0);
    }
    let stored = repos
        .class_sessions
        .create_many(batch)
        .context(|| format!("storing a batch of {} class sessions", batch.len()))?;
    progress.advance(stored as u64);
    batch.clear();
    Ok(stored as u64)
}

/// Adds `options.leads` leads, created in chronological order over the past year, with
/// phones that continue after the leads already stored.
fn generate_leads(
    repos: &Repositories,
    options: &GenerateOptions,
    locations: &[BenchLocation],
    programs: &[ProgramType],
    rng: &mut StdRng,
    progress: &mut dyn Progress,
) -> Result<u64> {
    if options.leads == 0 {
        return Ok(0);
    }
    progress.start("leads", options.leads);
    let first_number = repos
        .leads
        .search(&LeadFilter {
            limit: 1,
            ..LeadFilter::default()
        })
        .context(|| "counting stored leads".to_owned())?
        .total;
    let first_number = u64::try_from(first_number).unwrap_or_default();
    let span_secs = u128::try_from(LEAD_SPAN_DAYS * 86_400).unwrap_or_default();
    let start = options.now - Duration::days(LEAD_SPAN_DAYS);
    let mut stored = 0;
    let mut batch = Vec::with_capacity(options.batch_size);
    for i in 0..options.leads {
        let secs = u128::from(i) * span_secs / u128::from(options.leads);
        let created_at = start
            + Duration::seconds(i64::try_from(secs).unwrap_or_default())
            + Duration::seconds(rng.random_range(0..60));
        let age_days = (options.now - created_at).num_days();
        batch.push(bench_lead(
            first_number + i,
            created_at,
            age_days,
            locations,
            programs,
            rng,
        ));
        if batch.len() == options.batch_size {
            stored += store_leads(repos, &mut batch, progress)?;
        }
    }
    stored += store_leads(repos, &mut batch, progress)?;
    progress.finish();
    Ok(stored)
}

fn store_leads(
    repos: &Repositories,
    batch: &mut Vec<NewLead>,
    progress: &mut dyn Progress,
) -> Result<u64> {
    if batch.is_empty() {
        return Ok(0);
    }
    let stored = repos
        .leads
        .create_many(batch, ACTOR)
        .context(|| format!("storing a batch of {} leads", batch.len()))?;
    progress.advance(stored as u64);
    batch.clear();
    Ok(stored as u64)
}

/// Mobile prefixes of the generated phones; each holds 10 million numbers.
const MOBILE_PREFIXES: [&str; 10] = [
    "916", "903", "925", "926", "905", "909", "915", "917", "977", "999",
];

/// Numbers per mobile prefix.
const NUMBERS_PER_PREFIX: u64 = 10_000_000;

/// The phone of generated lead number `n`: a Russian mobile number in E.164, distinct for
/// every `n` below 100 million.
///
/// ```
/// use cohai_bootstrap::generate::bench_phone;
/// assert_eq!(bench_phone(42).as_str(), "+79160000042");
/// assert_eq!(bench_phone(10_000_000).as_str(), "+79030000000");
/// ```
pub fn bench_phone(n: u64) -> Phone {
    let prefix =
        MOBILE_PREFIXES[((n / NUMBERS_PER_PREFIX) % MOBILE_PREFIXES.len() as u64) as usize];
    Phone::from_e164_unchecked(format!("+7{prefix}{:07}", n % NUMBERS_PER_PREFIX))
}

/// First names, and whether the surname takes the feminine form.
const FIRST_NAMES: &[(&str, bool)] = &[
    ("Анна", true),
    ("Мария", true),
    ("Елена", true),
    ("Ольга", true),
    ("Наталья", true),
    ("Екатерина", true),
    ("Татьяна", true),
    ("Ирина", true),
    ("Светлана", true),
    ("Юлия", true),
    ("Анастасия", true),
    ("Дарья", true),
    ("Полина", true),
    ("Алина", true),
    ("Виктория", true),
    ("Ксения", true),
    ("Марина", true),
    ("Вероника", true),
    ("Софья", true),
    ("Валерия", true),
    ("Александр", false),
    ("Дмитрий", false),
    ("Максим", false),
    ("Иван", false),
    ("Артём", false),
];

/// Surnames in the masculine form; the feminine form adds "а".
const SURNAMES: &[&str] = &[
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Никитин",
    "Захаров",
];

/// The name of generated lead number `n`, e.g. `Анна Иванова`.
pub fn bench_name(n: u64) -> String {
    let (first, feminine) = FIRST_NAMES[(n % FIRST_NAMES.len() as u64) as usize];
    let surname = SURNAMES[((n / FIRST_NAMES.len() as u64) % SURNAMES.len() as u64) as usize];
    let ending = if feminine { "а" } else { "" };
    format!("{first} {surname}{ending}")
}

/// Channels with their relative frequencies.
const SOURCES: &[(LeadSource, u32)] = &[
    (LeadSource::Website, 40),
    (LeadSource::Instagram, 20),
    (LeadSource::Telegram, 10),
    (LeadSource::Vk, 10),
    (LeadSource::Phone, 8),
    (LeadSource::WalkIn, 5),
    (LeadSource::Referral, 5),
    (LeadSource::Other, 2),
];

/// Statuses of leads less than a week old.
const RECENT_STATUSES: &[(LeadStatus, u32)] = &[
    (LeadStatus::New, 70),
    (LeadStatus::Contacted, 20),
    (LeadStatus::TrialScheduled, 10),
];

/// Statuses of older leads.
const OLD_STATUSES: &[(LeadStatus, u32)] = &[
    (LeadStatus::New, 5),
    (LeadStatus::Contacted, 15),
    (LeadStatus::TrialScheduled, 10),
    (LeadStatus::Converted, 35),
    (LeadStatus::Lost, 35),
];

const MESSAGES: &[&str] = &[
    "Хочу записаться на пробное занятие.",
    "Подскажите, есть ли группы для начинающих по вечерам?",
    "Интересует абонемент на 8 занятий.",
    "Можно ли прийти с подругой?",
    "Хочу сесть на шпагат к лету.",
];

const NOTES: &[&str] = &[
    "Перезвонить вечером.",
    "Просила напомнить о пробном занятии за день.",
    "Интересуется безлимитом.",
    "Не дозвонились с первого раза.",
];

const CAMPAIGNS: &[&str] = &[
    "stretch_start",
    "split_30_days",
    "healthy_back",
    "new_studio",
];

/// Picks a value with probability proportional to its weight.
fn pick<T: Copy>(rng: &mut StdRng, weighted: &[(T, u32)]) -> T {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for (value, weight) in weighted {
        if roll < *weight {
            return *value;
        }
        roll -= weight;
    }
    weighted[0].0
}

fn pick_str(rng: &mut StdRng, values: &[&'static str]) -> String {
    values[rng.random_range(0..values.len())].to_owned()
}

/// Generated lead number `n`.
fn bench_lead(
    n: u64,
    created_at: DateTime<Utc>,
    age_days: i64,
    locations: &[BenchLocation],
    programs: &[ProgramType],
    rng: &mut StdRng,
) -> NewLead {
    let source = pick(rng, SOURCES);
    let status = pick(
        rng,
        if age_days < 7 {
            RECENT_STATUSES
        } else {
            OLD_STATUSES
        },
    );
    let (utm_source, utm_medium) = match source {
        LeadSource::Website if rng.random_bool(0.5) => (
            Some(pick_str(rng, &["yandex", "google", "vk_ads"])),
            Some("cpc".to_owned()),
        ),
        LeadSource::Instagram | LeadSource::Telegram | LeadSource::Vk => {
            (Some(source.as_str().to_owned()), Some("social".to_owned()))
        }
        _ => (None, None),
    };
    let utm_campaign = utm_source.as_ref().map(|_| pick_str(rng, CAMPAIGNS));
    let work = WorkFields::of(n, created_at, source, status);
    NewLead {
        name: bench_name(n),
        phone: bench_phone(n),
        email: rng.random_bool(0.4).then(|| format!("lead{n}@example.ru")),
        message: rng.random_bool(0.3).then(|| pick_str(rng, MESSAGES)),
        location_id: (!locations.is_empty() && rng.random_bool(0.8))
            .then(|| locations[rng.random_range(0..locations.len())].location.id),
        program_type_id: (!programs.is_empty() && rng.random_bool(0.5))
            .then(|| programs[rng.random_range(0..programs.len())].id),
        class_session_id: None,
        source,
        status,
        notes: (status != LeadStatus::New && rng.random_bool(0.3)).then(|| pick_str(rng, NOTES)),
        utm_source,
        utm_medium,
        utm_campaign,
        created_at,
        assignee: work.assignee,
        next_contact_at: work.next_contact_at,
        lost_reason: work.lost_reason,
        consent_at: work.consent_at,
    }
}

/// Owners of generated leads (admin key names a bench configuration may define).
pub const BENCH_MANAGERS: [&str; 3] = ["manager-1", "manager-2", "manager-3"];

const LOST_REASONS: &[&str] = &["Дорого", "Далеко от дома", "Выбрала другую студию"];

/// The v1.1 fields of a generated lead (API.md §3.1).
struct WorkFields {
    assignee: Option<String>,
    next_contact_at: Option<DateTime<Utc>>,
    lost_reason: Option<String>,
    consent_at: Option<DateTime<Utc>>,
}

impl WorkFields {
    /// Those of lead `n`: most worked leads have an owner, open ones a call-back within two
    /// weeks of creation, half the lost ones a reason, and website leads their consent. Drawn
    /// from a generator of their own (seeded by `n`), so the other fields stay what they were
    /// before these existed.
    fn of(n: u64, created_at: DateTime<Utc>, source: LeadSource, status: LeadStatus) -> Self {
        let mut rng = StdRng::seed_from_u64(n ^ 0x5eed_1ead);
        let assignee = (status != LeadStatus::New && rng.random_bool(0.7))
            .then(|| BENCH_MANAGERS[rng.random_range(0..BENCH_MANAGERS.len())].to_owned());
        let next_contact_at = (status.is_open() && rng.random_bool(0.6))
            .then(|| created_at + Duration::minutes(rng.random_range(60..14 * 24 * 60)));
        let lost_reason = (status == LeadStatus::Lost && rng.random_bool(0.5))
            .then(|| pick_str(&mut rng, LOST_REASONS));
        Self {
            assignee,
            next_contact_at,
            lost_reason,
            consent_at: (source == LeadSource::Website).then_some(created_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_valid_russian_mobiles_and_distinct() {
        let samples = (0..2_000)
            .chain(NUMBERS_PER_PREFIX - 1_000..NUMBERS_PER_PREFIX + 1_000)
            .chain((0..MOBILE_PREFIXES.len() as u64).map(|p| p * NUMBERS_PER_PREFIX + 9_999_999))
            .collect::<std::collections::BTreeSet<u64>>();
        let mut seen = std::collections::HashSet::new();
        for n in samples {
            let phone = bench_phone(n);
            assert_eq!(
                Phone::parse(phone.as_str()).as_ref(),
                Ok(&phone),
                "lead {n}: {phone}"
            );
            assert!(phone.as_str().starts_with("+79"), "{phone}");
            assert!(seen.insert(phone), "lead {n} repeats a phone");
        }
    }

    #[test]
    fn names_agree_in_gender_and_fit_the_column() {
        assert_eq!(bench_name(0), "Анна Иванова");
        assert_eq!(bench_name(20), "Александр Иванов");
        assert_eq!(bench_name(FIRST_NAMES.len() as u64), "Анна Смирнова");
        assert!((0..1_000).all(|n| bench_name(n).chars().count() <= 100));
    }

    #[test]
    fn weighted_picks_follow_the_weights() {
        let mut rng = StdRng::seed_from_u64(3);
        let picks: Vec<LeadSource> = (0..10_000).map(|_| pick(&mut rng, SOURCES)).collect();
        let website = picks.iter().filter(|s| **s == LeadSource::Website).count();
        assert!((3_500..4_500).contains(&website), "{website}");
        assert!(picks.contains(&LeadSource::Other));
    }
}
