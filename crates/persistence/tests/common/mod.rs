//! Builders and raw-SQL helpers shared by the repository tests.
//!
//! Each test binary uses only some of them.
#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use cohai_domain::{
    ClassSession, LeadFilter, LeadSource, LeadStatus, Location, Money, NewClassSession, NewLead,
    NewLocation, NewMembershipPlan, NewProgramType, NewTrainer, Phone, ProgramLevel, ProgramType,
    ScheduleFilter, SessionStatus, TimeWindow, Trainer,
};
use cohai_persistence::{Database, Repositories};
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};

/// Parses an RFC 3339 instant.
pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("valid test instant")
        .with_timezone(&Utc)
}

/// A fixed instant that the tests count from.
pub fn base() -> DateTime<Utc> {
    utc("2026-12-01T09:00:00Z")
}

/// `base() + minutes`.
pub fn at_min(minutes: i64) -> DateTime<Utc> {
    base() + Duration::minutes(minutes)
}

/// An active location in Moscow.
pub fn location(name: &str) -> NewLocation {
    NewLocation {
        name: name.to_owned(),
        address: format!("ул. Тверская, {}", name.len()),
        city: "Москва".to_owned(),
        phone: Some("+74951234567".to_owned()),
        timezone: "Europe/Moscow".to_owned(),
        is_active: true,
    }
}

/// An active program type of 60 minutes for all levels.
pub fn program_type(name: &str) -> NewProgramType {
    NewProgramType {
        name: name.to_owned(),
        description: Some(format!("{name}: описание")),
        duration_minutes: 60,
        level: ProgramLevel::All,
        is_active: true,
    }
}

/// An active trainer.
pub fn trainer(full_name: &str) -> NewTrainer {
    NewTrainer {
        full_name: full_name.to_owned(),
        bio: Some("Мастер спорта".to_owned()),
        photo_url: Some("https://example.com/t.jpg".to_owned()),
        is_active: true,
    }
}

/// RUB amount in kopecks.
pub fn rub(minor: i64) -> Money {
    Money::new(minor, "RUB").expect("valid money")
}

/// An active plan of 8 visits for 30 days.
pub fn plan(location_id: i64, name: &str, price_minor: i64) -> NewMembershipPlan {
    NewMembershipPlan {
        location_id,
        name: name.to_owned(),
        description: Some("8 занятий".to_owned()),
        price: rub(price_minor),
        visits: Some(8),
        validity_days: 30,
        is_active: true,
    }
}

/// A scheduled one-hour session for 12 people.
pub fn session(cat: &Catalog, starts_at: DateTime<Utc>) -> NewClassSession {
    NewClassSession {
        location_id: cat.location.id,
        program_type_id: cat.program_type.id,
        trainer_id: cat.trainer.id,
        membership_plan_id: None,
        starts_at,
        ends_at: starts_at + Duration::hours(1),
        capacity: 12,
        status: SessionStatus::Scheduled,
    }
}

/// One location, program type and trainer that sessions can reference.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The location.
    pub location: Location,
    /// The program type.
    pub program_type: ProgramType,
    /// The trainer.
    pub trainer: Trainer,
}

/// Creates a location, a program type and a trainer, named after `tag`.
pub fn catalog(repos: &Repositories, tag: &str) -> Catalog {
    Catalog {
        location: repos
            .locations
            .create(&location(&format!("Студия {tag}")))
            .expect("create location"),
        program_type: repos
            .program_types
            .create(&program_type(&format!("Растяжка {tag}")))
            .expect("create program type"),
        trainer: repos
            .trainers
            .create(&trainer(&format!("Тренер {tag}")))
            .expect("create trainer"),
    }
}

/// A window `[from, to)` without the public API's length limit.
pub fn window(from: DateTime<Utc>, to: DateTime<Utc>) -> TimeWindow {
    TimeWindow::new(from, to, 100_000).expect("valid window")
}

/// A schedule filter over `[from, to)` with no other conditions.
pub fn schedule(from: DateTime<Utc>, to: DateTime<Utc>) -> ScheduleFilter {
    ScheduleFilter {
        location_id: None,
        program_type_id: None,
        trainer_id: None,
        window: window(from, to),
    }
}

/// Ids of sessions, in the given order.
pub fn session_ids(sessions: &[ClassSession]) -> Vec<i64> {
    sessions.iter().map(|s| s.id).collect()
}

/// A valid Moscow mobile number `+7916` followed by `n` as seven digits.
pub fn phone(n: u32) -> Phone {
    Phone::parse(&format!("+7916{n:07}")).expect("valid phone")
}

/// A new website lead with a message, created at `created_at`.
pub fn lead(name: &str, phone: Phone, created_at: DateTime<Utc>) -> NewLead {
    NewLead {
        name: name.to_owned(),
        phone,
        email: None,
        message: Some("Хочу на пробное занятие".to_owned()),
        location_id: None,
        program_type_id: None,
        class_session_id: None,
        source: LeadSource::Website,
        status: LeadStatus::New,
        notes: None,
        utm_source: None,
        utm_medium: None,
        utm_campaign: None,
        created_at,
    }
}

/// A filter matching every lead, oldest first, with a large page.
pub fn all_leads() -> LeadFilter {
    LeadFilter {
        sort: cohai_domain::LeadSort::CreatedAsc,
        limit: 1000,
        ..LeadFilter::default()
    }
}

/// Runs SQL statements on a raw connection.
pub fn exec(db: &Database, sql: &str) -> Result<(), diesel::result::Error> {
    let mut conn = db.pool().get().expect("raw connection");
    conn.batch_execute(sql)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The value of a `SELECT COUNT(*) AS n …` query.
pub fn count(db: &Database, sql: &str) -> i64 {
    let mut conn = db.pool().get().expect("raw connection");
    let rows: Vec<Count> = diesel::sql_query(sql)
        .load(&mut *conn)
        .expect("count query");
    rows.first().map(|r| r.n).expect("one row")
}

/// A row of `lead_events` read directly from the table.
#[derive(Debug, Clone, QueryableByName)]
pub struct RawEvent {
    /// Event id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// Lead id, NULL once the lead is erased.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub lead_id: Option<i64>,
    /// Kind.
    #[diesel(sql_type = Text)]
    pub kind: String,
    /// Actor.
    #[diesel(sql_type = Text)]
    pub actor: String,
    /// JSON data as stored.
    #[diesel(sql_type = Text)]
    pub data: String,
}

impl RawEvent {
    /// The parsed data.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }
}

/// Every row of `lead_events`, by id.
pub fn raw_events(db: &Database) -> Vec<RawEvent> {
    let mut conn = db.pool().get().expect("raw connection");
    diesel::sql_query("SELECT id, lead_id, kind, actor, data FROM lead_events ORDER BY id")
        .load(&mut *conn)
        .expect("read lead_events")
}
