//! Catalog administration: create, change and delete locations, program types, trainers and
//! membership plans (API.md §6). One generic service ([`CatalogAdmin`]) does the work; each
//! resource only says how its body becomes a row ([`CatalogResource`]).
//!
//! Every write is recorded in the audit log by the repository, in the same transaction.

use std::marker::PhantomData;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use cohai_domain::ports::{
    CrudRepository, LocationRepository, MembershipPlanRepository, ProgramTypeRepository,
    TrainerRepository,
};
use cohai_domain::{
    Audited, FieldErrors, Location, MembershipPlan, Money, NewLocation, NewMembershipPlan,
    NewProgramType, NewTrainer, Phone, ProgramLevel, ProgramType, RepoError, Trainer, text,
};
use serde::{Deserialize, Deserializer};

use crate::{ServiceError, ServiceResult};

const REQUIRED: &str = "is required";
const NOT_NULL: &str = "must not be null";
/// Attempts of an unconditional update that keeps meeting concurrent changes.
const UPDATE_ATTEMPTS: usize = 5;

/// The admin operations on one catalog resource: entities `E`, request bodies `I`.
pub trait AdminCatalogService<E, I>: Send + Sync {
    /// Every row (or only the active or inactive ones), in the public list's order.
    fn list(&self, active: Option<bool>) -> ServiceResult<Vec<E>>;
    /// One row, active or not.
    fn get(&self, id: i64) -> ServiceResult<E>;
    /// Creates a row from a body in which every required field is present.
    fn create(&self, input: I, actor: &str) -> ServiceResult<E>;
    /// Applies the fields present in `input` (`null` clears a nullable one), optionally only
    /// when the row is still at `expected_version`. A missing row is `NotFound` before a
    /// stale version is `PreconditionFailed`.
    fn update(
        &self,
        id: i64,
        input: I,
        expected_version: Option<i64>,
        actor: &str,
    ) -> ServiceResult<E>;
    /// Deletes a row, optionally only at `expected_version`; `Conflict` while referenced.
    fn delete(&self, id: i64, expected_version: Option<i64>, actor: &str) -> ServiceResult<()>;
}

/// How one resource's body becomes a row.
pub trait CatalogResource: Send + Sync + 'static {
    /// The stored entity.
    type Entity: Audited + Send;
    /// The row's fields.
    type New: PartialEq + Send + Sync;
    /// The request body (`POST` and `PATCH` alike: absent, `null` and a value are told apart).
    type Input: Clone + Default + Send;
    /// The entity's name in messages, e.g. `location`.
    const NOUN: &'static str;

    /// The fields of `current` (or nothing when creating) with `input` applied and checked.
    fn merge(input: Self::Input, current: Option<&Self::Entity>) -> Result<Self::New, FieldErrors>;
    /// The location the row must refer to, if any (checked to exist).
    fn location_id(_new: &Self::New) -> Option<i64> {
        None
    }
}

/// [`AdminCatalogService`] for resource `R` over its repository.
pub struct CatalogAdmin<R: CatalogResource> {
    repo: Arc<dyn CrudRepository<R::Entity, R::New>>,
    locations: Arc<dyn LocationRepository>,
    resource: PhantomData<fn() -> R>,
}

impl<R: CatalogResource> CatalogAdmin<R> {
    /// The service over the resource's repository (`locations` checks references).
    pub fn new(
        repo: Arc<dyn CrudRepository<R::Entity, R::New>>,
        locations: Arc<dyn LocationRepository>,
    ) -> Self {
        Self {
            repo,
            locations,
            resource: PhantomData,
        }
    }

    /// A row's fields after `input`, with their references checked.
    fn prepare(&self, input: R::Input, current: Option<&R::Entity>) -> ServiceResult<R::New> {
        let new = R::merge(input, current)?;
        if let Some(id) = R::location_id(&new)
            && self.locations.get_by_id(id)?.is_none()
        {
            let mut errors = FieldErrors::new();
            errors.add("location_id", format!("location {id} does not exist"));
            return Err(errors.into());
        }
        Ok(new)
    }
}

/// The current instant at the precision both databases store (microseconds).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A uniqueness conflict, in words for the client.
fn duplicate(e: RepoError) -> ServiceError {
    match e {
        RepoError::Conflict(detail) => ServiceError::Conflict(detail),
        other => other.into(),
    }
}

impl<R: CatalogResource> AdminCatalogService<R::Entity, R::Input> for CatalogAdmin<R> {
    fn list(&self, active: Option<bool>) -> ServiceResult<Vec<R::Entity>> {
        Ok(self.repo.list_all(active)?)
    }

    fn get(&self, id: i64) -> ServiceResult<R::Entity> {
        self.repo
            .get_by_id(id)?
            .ok_or_else(|| ServiceError::not_found(R::NOUN, id))
    }

    fn create(&self, input: R::Input, actor: &str) -> ServiceResult<R::Entity> {
        let new = self.prepare(input, None)?;
        self.repo
            .create_audited(&new, actor, now())
            .map_err(duplicate)
    }

    fn update(
        &self,
        id: i64,
        input: R::Input,
        expected_version: Option<i64>,
        actor: &str,
    ) -> ServiceResult<R::Entity> {
        // Optimistic: merge into the row as read, write only if it is still that version.
        // Without `If-Match` a concurrent change is merged into again, never overwritten.
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.get(id)?;
            if expected_version.is_some_and(|v| v != current.version()) {
                return Err(ServiceError::PreconditionFailed);
            }
            let new = self.prepare(input.clone(), Some(&current))?;
            // Merging an empty body gives the stored fields: nothing to write or audit.
            if R::merge(R::Input::default(), Some(&current)).is_ok_and(|same| same == new) {
                return Ok(current);
            }
            match self
                .repo
                .update_audited(id, &new, Some(current.version()), actor, now())
            {
                Ok(Some(updated)) => return Ok(updated),
                Ok(None) => return Err(ServiceError::not_found(R::NOUN, id)),
                Err(RepoError::Stale) if expected_version.is_none() => continue,
                Err(e) => return Err(duplicate(e)),
            }
        }
        Err(ServiceError::Conflict(format!(
            "{} {id} keeps changing concurrently",
            R::NOUN
        )))
    }

    fn delete(&self, id: i64, expected_version: Option<i64>, actor: &str) -> ServiceResult<()> {
        if self
            .repo
            .delete_audited(id, expected_version, actor, now())
            .map_err(duplicate)?
        {
            Ok(())
        } else {
            Err(ServiceError::not_found(R::NOUN, id))
        }
    }
}

/// Distinguishes a field sent as `null` (`Some(None)`) from an absent one (`None`, by `default`).
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Merges the fields of one body into a row, collecting the errors.
struct Merge<'a, E> {
    current: Option<&'a E>,
    errors: FieldErrors,
}

impl<'a, E> Merge<'a, E> {
    fn new(current: Option<&'a E>) -> Self {
        Self {
            current,
            errors: FieldErrors::new(),
        }
    }

    /// A field that cannot be null: required on create, kept when absent on update.
    fn required<T: Clone>(
        &mut self,
        field: &str,
        sent: Option<Option<T>>,
        stored: impl FnOnce(&E) -> T,
    ) -> Option<T> {
        match sent {
            Some(Some(value)) => Some(value),
            Some(None) => {
                self.errors.add(field, NOT_NULL);
                None
            }
            None => {
                let kept = self.current.map(stored);
                if kept.is_none() {
                    self.errors.add(field, REQUIRED);
                }
                kept
            }
        }
    }

    /// A field that cannot be null but has a default on create.
    fn defaulted<T>(
        &mut self,
        field: &str,
        sent: Option<Option<T>>,
        stored: impl FnOnce(&E) -> T,
        default: T,
    ) -> T {
        match sent {
            Some(Some(value)) => value,
            Some(None) => {
                self.errors.add(field, NOT_NULL);
                default
            }
            None => self.current.map_or(default, stored),
        }
    }

    /// A nullable field: `null` clears it, absent keeps it (none on create).
    fn nullable<T>(
        &mut self,
        sent: Option<Option<T>>,
        stored: impl FnOnce(&E) -> Option<T>,
    ) -> Option<T> {
        match sent {
            Some(value) => value,
            None => self.current.and_then(stored),
        }
    }

    /// A name: trimmed and NFC, `min`–`max` characters, something visible in it.
    fn name(&mut self, field: &str, value: Option<String>, max: usize) -> Option<String> {
        let value = text::normalise_name(&value?);
        let length = value.chars().count();
        if length == 0 || length > max {
            self.errors
                .add(field, format!("must be 1 to {max} characters"));
        } else if !text::has_visible_character(&value) {
            self.errors
                .add(field, text::NameError::Invisible.to_string());
        }
        Some(value)
    }

    /// Optional free text: trimmed, blank means none, at most `max` characters.
    fn text(&mut self, field: &str, value: Option<String>, max: usize) -> Option<String> {
        let value = value
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())?;
        if value.chars().count() > max {
            self.errors
                .add(field, format!("must be at most {max} characters"));
        }
        Some(value)
    }

    /// An integer in `min..=max`.
    fn int_in<T: PartialOrd + std::fmt::Display + Copy>(
        &mut self,
        field: &str,
        value: Option<T>,
        min: T,
        max: Option<T>,
    ) -> Option<T> {
        let v = value?;
        let out_of_range = v < min || max.is_some_and(|max| v > max);
        if out_of_range {
            match max {
                Some(max) => self.errors.add(field, format!("must be {min} to {max}")),
                None => self.errors.add(field, format!("must be at least {min}")),
            }
        }
        Some(v)
    }

    /// Ok when no field had an error.
    fn finish<T>(self, value: Option<T>) -> Result<T, FieldErrors> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => Err(self.errors),
        }
    }
}

/// The longest name of a location, program type, plan or trainer.
pub const MAX_NAME: usize = 200;
/// The longest description or biography.
pub const MAX_DESCRIPTION: usize = 5000;

/// Declares a request body type: every field `Option<Option<T>>` (absent, `null`, value),
/// unknown fields refused.
macro_rules! input {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident: $ty:ty,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(default, deserialize_with = "present")]
                pub $field: Option<Option<$ty>>,
            )+
        }
    };
}

input! {
    /// A location's fields. On `POST` every field but `phone` and `active` is required; on
    /// `PATCH` absent fields stay, and `null` clears `phone`.
    LocationInput {
        /// 1–200 characters after trimming; unique (exactly as written, inactive rows included).
        #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 200, example = "Центр"))]
        name: String,
        /// Street address, 1–200 characters.
        #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 200))]
        address: String,
        /// City, 1–200 characters.
        #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 200))]
        city: String,
        /// Any common format; stored as E.164 (default region RU); `null` clears it.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 64, example = "+7 495 123-45-67"))]
        phone: String,
        /// An IANA time zone, e.g. `Europe/Moscow`.
        #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 64, example = "Europe/Moscow"))]
        timezone: String,
        /// Listed publicly; default `true`.
        #[cfg_attr(feature = "openapi", schema(value_type = bool, default = true))]
        active: bool,
    }
}

input! {
    /// A program type's fields. On `POST`, `name`, `duration_minutes` and `level` are required.
    ProgramTypeInput {
        /// 1–200 characters after trimming; unique.
        #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 200, example = "Стретчинг"))]
        name: String,
        /// What the class is about (at most 5000 characters); `null` clears it.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 5000))]
        description: String,
        /// Length of one class, 15–480 minutes.
        #[cfg_attr(feature = "openapi", schema(value_type = i32, minimum = 15, maximum = 480, example = 60))]
        duration_minutes: i32,
        /// Intended level.
        #[cfg_attr(feature = "openapi", schema(value_type = ProgramLevel))]
        level: ProgramLevel,
        /// Listed publicly; default `true`.
        #[cfg_attr(feature = "openapi", schema(value_type = bool, default = true))]
        active: bool,
    }
}

input! {
    /// A trainer's fields. On `POST`, `full_name` is required.
    TrainerInput {
        /// 1–200 characters after trimming; unique.
        #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 200, example = "Анна Иванова"))]
        full_name: String,
        /// Short biography (at most 5000 characters); `null` clears it.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 5000))]
        bio: String,
        /// An absolute `https` URL without credentials; `null` clears it.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 2000, pattern = r"^https://", example = "https://example.com/anna.jpg"))]
        photo_url: String,
        /// Listed publicly; default `true`.
        #[cfg_attr(feature = "openapi", schema(value_type = bool, default = true))]
        active: bool,
    }
}

input! {
    /// A membership plan's fields. On `POST` every field but `description`, `visits` and
    /// `active` is required.
    MembershipPlanInput {
        /// An existing location.
        #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 1))]
        location_id: i64,
        /// 1–200 characters after trimming; unique per location.
        #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 200, example = "Безлимит"))]
        name: String,
        /// At most 5000 characters; `null` clears it.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 5000))]
        description: String,
        /// Price in minor units (kopecks for RUB), ≥ 0.
        #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, example = 450000))]
        price_minor: i64,
        /// ISO 4217 code: three capital letters.
        #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[A-Z]{3}$", example = "RUB"))]
        currency: String,
        /// Number of visits, ≥ 1; `null` means unlimited.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<i32>, minimum = 1))]
        visits: i32,
        /// Days the plan is valid after purchase, ≥ 1.
        #[cfg_attr(feature = "openapi", schema(value_type = i32, minimum = 1, example = 30))]
        validity_days: i32,
        /// Listed publicly; default `true`.
        #[cfg_attr(feature = "openapi", schema(value_type = bool, default = true))]
        active: bool,
    }
}

/// Locations.
pub struct Locations;

impl CatalogResource for Locations {
    type Entity = Location;
    type New = NewLocation;
    type Input = LocationInput;
    const NOUN: &'static str = "location";

    fn merge(i: LocationInput, current: Option<&Location>) -> Result<NewLocation, FieldErrors> {
        let mut m = Merge::new(current);
        let name = m.required("name", i.name, |c| c.name.clone());
        let name = m.name("name", name, MAX_NAME);
        let address = m.required("address", i.address, |c| c.address.clone());
        let address = m.name("address", address, MAX_NAME);
        let city = m.required("city", i.city, |c| c.city.clone());
        let city = m.name("city", city, MAX_NAME);
        let phone = match i.phone {
            // A stored phone is already normalised; a sent one is parsed.
            None => current.and_then(|c| c.phone.clone()),
            Some(None) => None,
            Some(Some(raw)) => match Phone::parse(&raw) {
                Ok(phone) => Some(phone.into_string()),
                Err(e) => {
                    m.errors.add("phone", e.to_string());
                    None
                }
            },
        };
        let timezone = m.required("timezone", i.timezone, |c| c.timezone.clone());
        if let Some(tz) = &timezone
            && tz.parse::<chrono_tz::Tz>().is_err()
        {
            m.errors
                .add("timezone", "must be an IANA time zone, e.g. Europe/Moscow");
        }
        let is_active = m.defaulted("active", i.active, |c| c.is_active, true);
        let new = match (name, address, city, timezone) {
            (Some(name), Some(address), Some(city), Some(timezone)) => Some(NewLocation {
                name,
                address,
                city,
                phone,
                timezone,
                is_active,
            }),
            _ => None,
        };
        m.finish(new)
    }
}

/// Program types.
pub struct ProgramTypes;

impl CatalogResource for ProgramTypes {
    type Entity = ProgramType;
    type New = NewProgramType;
    type Input = ProgramTypeInput;
    const NOUN: &'static str = "program type";

    fn merge(
        i: ProgramTypeInput,
        current: Option<&ProgramType>,
    ) -> Result<NewProgramType, FieldErrors> {
        let mut m = Merge::new(current);
        let name = m.required("name", i.name, |c| c.name.clone());
        let name = m.name("name", name, MAX_NAME);
        let description = m.nullable(i.description, |c| c.description.clone());
        let description = m.text("description", description, MAX_DESCRIPTION);
        let duration = m.required("duration_minutes", i.duration_minutes, |c| {
            c.duration_minutes
        });
        let duration = m.int_in("duration_minutes", duration, 15, Some(480));
        let level = m.required("level", i.level, |c| c.level);
        let is_active = m.defaulted("active", i.active, |c| c.is_active, true);
        let new = match (name, duration, level) {
            (Some(name), Some(duration_minutes), Some(level)) => Some(NewProgramType {
                name,
                description,
                duration_minutes,
                level,
                is_active,
            }),
            _ => None,
        };
        m.finish(new)
    }
}

/// Trainers.
pub struct Trainers;

/// Why a photo URL is refused, if it is.
fn photo_url_problem(raw: &str) -> Option<&'static str> {
    let Ok(url) = url::Url::parse(raw) else {
        return Some("must be an absolute https URL");
    };
    if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
        Some("must be an absolute https URL")
    } else if !url.username().is_empty() || url.password().is_some() {
        Some("must not contain credentials")
    } else {
        None
    }
}

impl CatalogResource for Trainers {
    type Entity = Trainer;
    type New = NewTrainer;
    type Input = TrainerInput;
    const NOUN: &'static str = "trainer";

    fn merge(i: TrainerInput, current: Option<&Trainer>) -> Result<NewTrainer, FieldErrors> {
        let mut m = Merge::new(current);
        let full_name = m.required("full_name", i.full_name, |c| c.full_name.clone());
        let full_name = m.name("full_name", full_name, MAX_NAME);
        let bio = m.nullable(i.bio, |c| c.bio.clone());
        let bio = m.text("bio", bio, MAX_DESCRIPTION);
        let photo_url = m.nullable(i.photo_url, |c| c.photo_url.clone());
        let photo_url = m.text("photo_url", photo_url, 2000);
        if let Some(problem) = photo_url.as_deref().and_then(photo_url_problem) {
            m.errors.add("photo_url", problem);
        }
        let is_active = m.defaulted("active", i.active, |c| c.is_active, true);
        let new = full_name.map(|full_name| NewTrainer {
            full_name,
            bio,
            photo_url,
            is_active,
        });
        m.finish(new)
    }
}

/// Membership plans.
pub struct MembershipPlans;

impl CatalogResource for MembershipPlans {
    type Entity = MembershipPlan;
    type New = NewMembershipPlan;
    type Input = MembershipPlanInput;
    const NOUN: &'static str = "membership plan";

    fn merge(
        i: MembershipPlanInput,
        current: Option<&MembershipPlan>,
    ) -> Result<NewMembershipPlan, FieldErrors> {
        let mut m = Merge::new(current);
        let location_id = m.required("location_id", i.location_id, |c| c.location_id);
        let location_id = m.int_in("location_id", location_id, 1, None);
        let name = m.required("name", i.name, |c| c.name.clone());
        let name = m.name("name", name, MAX_NAME);
        let description = m.nullable(i.description, |c| c.description.clone());
        let description = m.text("description", description, MAX_DESCRIPTION);
        let price = m.required("price_minor", i.price_minor, |c| c.price_minor);
        let price = m.int_in("price_minor", price, 0, None);
        let currency = m.required("currency", i.currency, |c| c.currency.clone());
        let visits = m.nullable(i.visits, |c| c.visits);
        let visits = m.int_in("visits", visits, 1, None);
        let validity = m.required("validity_days", i.validity_days, |c| c.validity_days);
        let validity = m.int_in("validity_days", validity, 1, None);
        let is_active = m.defaulted("active", i.active, |c| c.is_active, true);
        let money = match (price, currency) {
            (Some(minor), Some(currency)) => {
                let money = Money::new(minor.max(0), &currency);
                if money.is_none() {
                    m.errors.add(
                        "currency",
                        "must be an ISO 4217 code: three capital letters",
                    );
                }
                money
            }
            _ => None,
        };
        let new = match (location_id, name, money, validity) {
            (Some(location_id), Some(name), Some(price), Some(validity_days)) => {
                Some(NewMembershipPlan {
                    location_id,
                    name,
                    description,
                    price,
                    visits,
                    validity_days,
                    is_active,
                })
            }
            _ => None,
        };
        m.finish(new)
    }

    fn location_id(new: &NewMembershipPlan) -> Option<i64> {
        Some(new.location_id)
    }
}

/// The admin services of the four catalog resources.
#[derive(Clone)]
pub struct CatalogAdminServices {
    /// Locations.
    pub locations: Arc<dyn AdminCatalogService<Location, LocationInput>>,
    /// Program types.
    pub program_types: Arc<dyn AdminCatalogService<ProgramType, ProgramTypeInput>>,
    /// Trainers.
    pub trainers: Arc<dyn AdminCatalogService<Trainer, TrainerInput>>,
    /// Membership plans.
    pub membership_plans: Arc<dyn AdminCatalogService<MembershipPlan, MembershipPlanInput>>,
}

impl CatalogAdminServices {
    /// The services over the catalog repositories.
    pub fn new(
        locations: Arc<dyn LocationRepository>,
        program_types: Arc<dyn ProgramTypeRepository>,
        trainers: Arc<dyn TrainerRepository>,
        plans: Arc<dyn MembershipPlanRepository>,
    ) -> Self {
        Self {
            locations: Arc::new(CatalogAdmin::<Locations>::new(
                locations.clone(),
                locations.clone(),
            )),
            program_types: Arc::new(CatalogAdmin::<ProgramTypes>::new(
                program_types,
                locations.clone(),
            )),
            trainers: Arc::new(CatalogAdmin::<Trainers>::new(trainers, locations.clone())),
            membership_plans: Arc::new(CatalogAdmin::<MembershipPlans>::new(plans, locations)),
        }
    }
}
