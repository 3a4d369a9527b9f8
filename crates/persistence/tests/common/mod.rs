//! What the repository tests share beyond `cohai_persistence::testing` (and its `builders`):
//! a fixed clock, a small catalog, filters and raw SQL.
//!
//! Each test binary uses only some of them.
#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use cohai_domain::{
    ClassSession, LeadFilter, Location, NewClassSession, ProgramType, ScheduleFilter, TimeWindow,
    Trainer,
};
use cohai_persistence::testing::builders::{at, location, program_type, session, trainer};
use cohai_persistence::{Database, Repositories};
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};

/// A fixed instant that the tests count from.
pub fn base() -> DateTime<Utc> {
    at("2026-12-01T09:00:00Z")
}

/// `base() + minutes`.
pub fn at_min(minutes: i64) -> DateTime<Utc> {
    base() + Duration::minutes(minutes)
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

impl Catalog {
    /// A session of this location, program type and trainer (see `builders::session`).
    pub fn session(&self, starts_at: DateTime<Utc>) -> NewClassSession {
        session(
            self.location.id,
            self.program_type.id,
            self.trainer.id,
            starts_at,
        )
    }

    /// Stores a session of this catalog starting at `starts_at`.
    pub fn stored_session(&self, repos: &Repositories, starts_at: DateTime<Utc>) -> ClassSession {
        repos
            .class_sessions
            .create(&self.session(starts_at))
            .expect("create a session")
    }
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
        .load(&mut **conn)
        .expect("read lead_events")
}
