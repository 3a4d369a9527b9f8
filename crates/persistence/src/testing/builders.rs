//! The rows tests start from, one builder a row type (as crates.io keeps `src/tests/builders/`):
//! every required field set, every optional one filled in, active. Change what a test is about
//! with struct update syntax, e.g. `NewTrainer { bio: None, ..trainer("Анна") }`.

use chrono::{DateTime, Duration, Utc};
use cohai_domain::{
    LeadSource, LeadStatus, Money, NewClassSession, NewLead, NewLocation, NewMembershipPlan,
    NewProgramType, NewTrainer, Phone, ProgramLevel, SessionStatus,
};

/// The time zone of [`location`].
pub const MOSCOW: &str = "Europe/Moscow";

/// Parses an RFC 3339 instant.
pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("valid test instant")
        .with_timezone(&Utc)
}

/// An amount in roubles, given in kopecks.
pub fn rub(minor: i64) -> Money {
    Money::new(minor, "RUB").expect("valid money")
}

/// A valid Moscow mobile number: `+7916` and `n` as seven digits.
pub fn phone(n: u32) -> Phone {
    Phone::parse(&format!("+7916{n:07}")).expect("valid phone")
}

/// What [`lead`] takes as a phone: a [`Phone`], or a spelling of one (which must be valid).
pub trait IntoPhone {
    /// The phone.
    fn into_phone(self) -> Phone;
}

impl IntoPhone for Phone {
    fn into_phone(self) -> Phone {
        self
    }
}

impl IntoPhone for &str {
    fn into_phone(self) -> Phone {
        Phone::parse(self).expect("valid phone")
    }
}

/// An active location in Moscow.
pub fn location(name: &str) -> NewLocation {
    location_in(name, MOSCOW)
}

/// An active location in `timezone`.
pub fn location_in(name: &str, timezone: &str) -> NewLocation {
    NewLocation {
        name: name.to_owned(),
        address: format!("ул. Тверская, {}", name.len()),
        city: "Москва".to_owned(),
        phone: Some("+74951234567".to_owned()),
        timezone: timezone.to_owned(),
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

/// An active trainer with a bio and a photo.
pub fn trainer(full_name: &str) -> NewTrainer {
    NewTrainer {
        full_name: full_name.to_owned(),
        bio: Some("Мастер спорта".to_owned()),
        photo_url: Some("https://example.com/t.jpg".to_owned()),
        is_active: true,
    }
}

/// An active plan of 8 visits for 30 days, priced in roubles.
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

/// A scheduled one-hour session for 12 people, of no plan.
pub fn session(
    location_id: i64,
    program_type_id: i64,
    trainer_id: i64,
    starts_at: DateTime<Utc>,
) -> NewClassSession {
    NewClassSession {
        location_id,
        program_type_id,
        trainer_id,
        membership_plan_id: None,
        starts_at,
        ends_at: starts_at + Duration::hours(1),
        capacity: 12,
        status: SessionStatus::Scheduled,
    }
}

/// A new website lead created at `created_at`, asking «Хочу на пробное занятие», with no other
/// optional field (no owner, call-back, lost reason or consent).
pub fn lead(name: &str, phone: impl IntoPhone, created_at: DateTime<Utc>) -> NewLead {
    NewLead {
        name: name.to_owned(),
        phone: phone.into_phone(),
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
        assignee: None,
        next_contact_at: None,
        lost_reason: None,
        consent_at: None,
    }
}
