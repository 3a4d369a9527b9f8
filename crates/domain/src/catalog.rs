//! The studio catalog: locations, program types, trainers and membership plans.

use serde::Serialize;

use crate::audit::{AuditEntity, Audited, fields_of};
use crate::string_enum;

string_enum! {
    /// Who a program type is meant for.
    ProgramLevel {
        /// First steps.
        Beginner => "beginner",
        /// Some experience.
        Intermediate => "intermediate",
        /// Experienced students.
        Advanced => "advanced",
        /// Open to everyone.
        All => "all",
    }
}

/// A studio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Location {
    /// Identifier.
    pub id: i64,
    /// Display name, unique.
    pub name: String,
    /// Street address.
    pub address: String,
    /// City.
    pub city: String,
    /// Contact phone of the studio.
    pub phone: Option<String>,
    /// IANA time zone, e.g. `Europe/Moscow`.
    pub timezone: String,
    /// Inactive locations are hidden from the public API.
    #[serde(skip)]
    pub is_active: bool,
    /// Grows by one with every change (the admin API's `ETag`).
    #[serde(skip)]
    pub version: i64,
}

/// Fields of a new or replaced location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLocation {
    /// Display name, unique.
    pub name: String,
    /// Street address.
    pub address: String,
    /// City.
    pub city: String,
    /// Contact phone.
    pub phone: Option<String>,
    /// IANA time zone.
    pub timezone: String,
    /// Listed publicly.
    pub is_active: bool,
}

/// A kind of class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProgramType {
    /// Identifier.
    pub id: i64,
    /// Display name, unique.
    pub name: String,
    /// What the class is about.
    pub description: Option<String>,
    /// Length of one class.
    pub duration_minutes: i32,
    /// Intended level.
    pub level: ProgramLevel,
    /// Inactive program types are hidden from the public API.
    #[serde(skip)]
    pub is_active: bool,
    /// Grows by one with every change (the admin API's `ETag`).
    #[serde(skip)]
    pub version: i64,
}

/// Fields of a new or replaced program type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProgramType {
    /// Display name, unique.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Length of one class, > 0.
    pub duration_minutes: i32,
    /// Intended level.
    pub level: ProgramLevel,
    /// Listed publicly.
    pub is_active: bool,
}

/// A trainer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trainer {
    /// Identifier.
    pub id: i64,
    /// Full name.
    pub full_name: String,
    /// Short biography.
    pub bio: Option<String>,
    /// URL of a photo.
    pub photo_url: Option<String>,
    /// Inactive trainers are hidden from the public API.
    #[serde(skip)]
    pub is_active: bool,
    /// Grows by one with every change (the admin API's `ETag`).
    #[serde(skip)]
    pub version: i64,
}

/// Fields of a new or replaced trainer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTrainer {
    /// Full name.
    pub full_name: String,
    /// Biography.
    pub bio: Option<String>,
    /// Photo URL.
    pub photo_url: Option<String>,
    /// Listed publicly.
    pub is_active: bool,
}

/// An amount of money in minor units (kopecks for RUB) with its ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    minor: i64,
    currency: String,
}

impl Money {
    /// Builds an amount; `None` when it is negative or the currency is not three ASCII capitals.
    ///
    /// ```
    /// use cohai_domain::Money;
    /// assert_eq!(Money::new(450_000, "RUB").map(|m| m.minor()), Some(450_000));
    /// assert!(Money::new(-1, "RUB").is_none());
    /// assert!(Money::new(100, "rub").is_none());
    /// ```
    pub fn new(minor: i64, currency: &str) -> Option<Self> {
        let valid_currency =
            currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase());
        (minor >= 0 && valid_currency).then(|| Self {
            minor,
            currency: currency.to_owned(),
        })
    }

    /// The amount in minor units.
    pub fn minor(&self) -> i64 {
        self.minor
    }

    /// The ISO 4217 code.
    pub fn currency(&self) -> &str {
        &self.currency
    }
}

/// A membership plan sold at one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MembershipPlan {
    /// Identifier.
    pub id: i64,
    /// The location that sells it.
    pub location_id: i64,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Price in minor units of `currency`.
    pub price_minor: i64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Number of visits; `null` means unlimited.
    pub visits: Option<i32>,
    /// Days the plan is valid after purchase.
    pub validity_days: i32,
    /// Inactive plans are hidden from the public API.
    #[serde(skip)]
    pub is_active: bool,
    /// Grows by one with every change (the admin API's `ETag`).
    #[serde(skip)]
    pub version: i64,
}

/// Fields of a new or replaced membership plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMembershipPlan {
    /// The selling location.
    pub location_id: i64,
    /// Display name, unique per location.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Price.
    pub price: Money,
    /// Number of visits; `None` is unlimited.
    pub visits: Option<i32>,
    /// Validity in days, > 0.
    pub validity_days: i32,
    /// Listed publicly.
    pub is_active: bool,
}

/// Implements [`Audited`] for a catalog entity with `id`, `version` and `is_active`.
macro_rules! audited {
    ($($entity:ty => $kind:ident),+ $(,)?) => {$(
        impl Audited for $entity {
            const ENTITY: AuditEntity = AuditEntity::$kind;
            fn id(&self) -> i64 {
                self.id
            }
            fn version(&self) -> i64 {
                self.version
            }
            fn fields(&self) -> serde_json::Map<String, serde_json::Value> {
                fields_of(self, self.is_active)
            }
        }
    )+};
}

audited!(
    Location => Location,
    ProgramType => ProgramType,
    Trainer => Trainer,
    MembershipPlan => MembershipPlan,
);
