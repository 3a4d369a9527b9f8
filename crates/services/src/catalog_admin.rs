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

use crate::{PublicChanges, ServiceError, ServiceResult};

/// The message for a required field that is absent.
pub(crate) const REQUIRED: &str = "is required";
/// The message for `null` in a field that cannot be null.
pub(crate) const NOT_NULL: &str = "must not be null";
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
    changes: PublicChanges,
    resource: PhantomData<fn() -> R>,
}

impl<R: CatalogResource> CatalogAdmin<R> {
    /// The service over the resource's repository (`locations` checks references); each
    /// write counts in `changes`.
    pub fn new(
        repo: Arc<dyn CrudRepository<R::Entity, R::New>>,
        locations: Arc<dyn LocationRepository>,
        changes: PublicChanges,
    ) -> Self {
        Self {
            repo,
            locations,
            changes,
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
        let created = self.repo.create_audited(&new, actor, now());
        self.changes.wrote();
        created.map_err(duplicate)
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
            let updated = self
                .repo
                .update_audited(id, &new, Some(current.version()), actor, now());
            self.changes.wrote();
            match updated {
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
        // Without `If-Match`, a row changed between the read and the delete is deleted as it
        // now is (the audit entry records that state).
        for _ in 0..UPDATE_ATTEMPTS {
            let deleted = self.repo.delete_audited(id, expected_version, actor, now());
            self.changes.wrote();
            match deleted {
                Ok(true) => return Ok(()),
                Ok(false) => return Err(ServiceError::not_found(R::NOUN, id)),
                Err(RepoError::Stale) if expected_version.is_none() => continue,
                Err(e) => return Err(duplicate(e)),
            }
        }
        Err(ServiceError::Conflict(format!(
            "{} {id} keeps changing concurrently",
            R::NOUN
        )))
    }
}

/// Distinguishes a field sent as `null` (`Some(None)`) from an absent one (`None`, by `default`).
pub(crate) fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Merges the fields of one body into a row, collecting the errors (the catalog resources
/// here, class sessions in [`crate::class_session_admin`]).
pub(crate) struct Merge<'a, E> {
    current: Option<&'a E>,
    /// The errors so far.
    pub(crate) errors: FieldErrors,
}

impl<'a, E> Merge<'a, E> {
    /// Merging into `current` (`None` when creating).
    pub(crate) fn new(current: Option<&'a E>) -> Self {
        Self {
            current,
            errors: FieldErrors::new(),
        }
    }

    /// A field that cannot be null: required on create, kept when absent on update.
    pub(crate) fn required<T: Clone>(
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
    pub(crate) fn defaulted<T>(
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
    pub(crate) fn nullable<T>(
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
    pub(crate) fn text(
        &mut self,
        field: &str,
        value: Option<String>,
        max: usize,
    ) -> Option<String> {
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
    pub(crate) fn int_in<T: PartialOrd + std::fmt::Display + Copy>(
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
    pub(crate) fn finish<T>(self, value: Option<T>) -> Result<T, FieldErrors> {
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
/// The longest photo URL.
pub const MAX_PHOTO_URL: usize = 2000;

/// The OpenAPI `pattern` of a one-line name (`name`, `address`, `city`, `full_name`): no
/// control character, and at least one character that is not a space, a C1 control or a
/// common format character, so that something is left after trimming. The leads' pattern.
///
/// The server asks for more: a *visible* character ([`cohai_domain::text::is_visible`]: a
/// letter, number, punctuation mark, symbol or private-use character, by the Unicode
/// version of its tables). A pattern cannot say that portably: `\p{L}` and the like read
/// the validator's Unicode version, so a character new in the server's would be refused by
/// the document and accepted by the server. So the pattern is the necessary part — every
/// visible character matches it — and a name of only unassigned code points, combining
/// marks or other format characters is a 422 the document describes in words.
pub const NAME_PATTERN: &str = r"^[^\u0000-\u001F\u007F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u3000\uFEFF][^\u0000-\u001F\u007F]*$";
/// The OpenAPI `pattern` of a multi-line text (`description`, `bio`): no control character
/// but `\t` and `\n`.
pub const MULTI_LINE_PATTERN: &str = r"^[^\u0000-\u0008\u000B-\u001F\u007F]*$";
/// The OpenAPI `pattern` of a time zone: the shape of an IANA name (`Europe/Moscow`,
/// `America/Argentina/Buenos_Aires`, `Etc/GMT-3`, `UTC`). Which names exist is the time-zone
/// database's, which no pattern states.
pub const TIMEZONE_PATTERN: &str = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$";
/// The OpenAPI `pattern` of a trainer's photo URL: `https://`, a DNS host name whose last
/// label starts with a letter (so it is not read as an IPv4 address), an optional port, and
/// any path, query and fragment without control characters. The server accepts exactly the
/// URLs it matches (so not an IP address, nor a host name with other characters, such as an
/// internationalised one).
pub const PHOTO_URL_PATTERN: &str = r"^https://([A-Za-z0-9]+(-[A-Za-z0-9]+)*\.)*[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*(:[0-9]{1,4})?([/?#][^\u0000-\u001F\u007F]*)?$";
/// The OpenAPI `pattern` of a phone number: the leads' (no control character, something
/// other than spaces and format characters); whether it is a real number is
/// libphonenumber's to say.
pub const PHONE_PATTERN: &str = r"^[^\u0000-\u001F\u007F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u3000\uFEFF][^\u0000-\u001F\u007F]*$";

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
pub(crate) use input;

// The `pattern`s below are the constants above spelled out (the derive takes only literals);
// `tests/tests/openapi.rs` checks that the document carries the constants.

input! {
    /// A location's fields, as a `PATCH` sends them: absent fields stay, `null` clears
    /// `phone`. A `POST` sends the same fields, with `name`, `address`, `city` and `timezone`
    /// required ([`LocationInput::REQUIRED_ON_CREATE`]).
    LocationInput {
        /// 1–200 characters after trimming, at least one visible (a letter, number,
        /// punctuation mark, symbol or private-use character: not only combining marks,
        /// format characters or unassigned code points); unique (exactly as written,
        /// inactive rows included).
        #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001F\u007F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u3000\uFEFF][^\u0000-\u001F\u007F]*$", example = "Центр"))]
        name: String,
        /// Street address, 1–200 characters after trimming, at least one visible, as for
        /// `name`.
        #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001F\u007F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u3000\uFEFF][^\u0000-\u001F\u007F]*$", example = "ул. Тверская, 1"))]
        address: String,
        /// City, 1–200 characters after trimming, at least one visible, as for `name`.
        #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001F\u007F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u3000\uFEFF][^\u0000-\u001F\u007F]*$", example = "Москва"))]
        city: String,
        /// A real phone number in any common format (as a lead's); stored as E.164 (default
        /// region RU); `null` clears it.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, min_length = 1, max_length = 64, pattern = r"^[^\u0000-\u001F\u007F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u3000\uFEFF][^\u0000-\u001F\u007F]*$", example = "+7 495 123-45-67"))]
        phone: String,
        /// A time zone of the IANA database, exactly as it spells it, e.g. `Europe/Moscow`.
        #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 64, pattern = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$", example = "Europe/Moscow"))]
        timezone: String,
        /// Listed publicly; default `true`.
        #[cfg_attr(feature = "openapi", schema(value_type = bool, default = true))]
        active: bool,
    }
}

impl LocationInput {
    /// The fields a `POST` requires: every non-nullable field without a default.
    pub const REQUIRED_ON_CREATE: &'static [&'static str] =
        &["name", "address", "city", "timezone"];
}

input! {
    /// A program type's fields, as a `PATCH` sends them: absent fields stay, `null` clears
    /// `description`. A `POST` sends the same fields, with `name`, `duration_minutes` and
    /// `level` required ([`ProgramTypeInput::REQUIRED_ON_CREATE`]).
    ProgramTypeInput {
        /// 1–200 characters after trimming, at least one visible (a letter, number,
        /// punctuation mark, symbol or private-use character: not only combining marks,
        /// format characters or unassigned code points); unique (exactly as written,
        /// inactive rows included).
        #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001F\u007F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u3000\uFEFF][^\u0000-\u001F\u007F]*$", example = "Стретчинг"))]
        name: String,
        /// What the class is about: at most 5000 characters after trimming (blank is none);
        /// `null` clears it.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 5000, pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F]*$"))]
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

impl ProgramTypeInput {
    /// The fields a `POST` requires: every non-nullable field without a default.
    pub const REQUIRED_ON_CREATE: &'static [&'static str] = &["name", "duration_minutes", "level"];
}

input! {
    /// A trainer's fields, as a `PATCH` sends them: absent fields stay, `null` clears `bio`
    /// and `photo_url`. A `POST` sends the same fields, with `full_name` required
    /// ([`TrainerInput::REQUIRED_ON_CREATE`]).
    TrainerInput {
        /// 1–200 characters after trimming, at least one visible (a letter, number,
        /// punctuation mark, symbol or private-use character: not only combining marks,
        /// format characters or unassigned code points).
        #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001F\u007F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u3000\uFEFF][^\u0000-\u001F\u007F]*$", example = "Анна Иванова"))]
        full_name: String,
        /// Short biography: at most 5000 characters after trimming (blank is none); `null`
        /// clears it.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 5000, pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F]*$"))]
        bio: String,
        /// An absolute `https` URL with a DNS host name (letters, digits and hyphens) and
        /// without credentials, at most 2000 characters: exactly the URLs the pattern
        /// matches; `null` clears it (an empty string is not a URL: 422).
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 2000, pattern = r"^https://([A-Za-z0-9]+(-[A-Za-z0-9]+)*\.)*[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*(:[0-9]{1,4})?([/?#][^\u0000-\u001F\u007F]*)?$", example = "https://example.com/anna.jpg"))]
        photo_url: String,
        /// Listed publicly; default `true`.
        #[cfg_attr(feature = "openapi", schema(value_type = bool, default = true))]
        active: bool,
    }
}

impl TrainerInput {
    /// The fields a `POST` requires: every non-nullable field without a default.
    pub const REQUIRED_ON_CREATE: &'static [&'static str] = &["full_name"];
}

input! {
    /// A membership plan's fields, as a `PATCH` sends them: absent fields stay, `null`
    /// clears `description` and `visits` (unlimited). A `POST` sends the same fields, with
    /// `location_id`, `name`, `price_minor`, `currency` and `validity_days` required
    /// ([`MembershipPlanInput::REQUIRED_ON_CREATE`]).
    MembershipPlanInput {
        /// An existing location (422 when there is none).
        #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 1))]
        location_id: i64,
        /// 1–200 characters after trimming, at least one visible (a letter, number,
        /// punctuation mark, symbol or private-use character: not only combining marks,
        /// format characters or unassigned code points); unique per location.
        #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001F\u007F]*[^\u0000-\u0020\u007F-\u00A0\u00AD\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u2064\u3000\uFEFF][^\u0000-\u001F\u007F]*$", example = "Безлимит"))]
        name: String,
        /// At most 5000 characters after trimming (blank is none); `null` clears it.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 5000, pattern = r"^[^\u0000-\u0008\u000B-\u001F\u007F]*$"))]
        description: String,
        /// Price in minor units (kopecks for RUB), ≥ 0.
        #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 0, example = 450000))]
        price_minor: i64,
        /// ISO 4217 code: three capital letters.
        #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[A-Z]{3}$", example = "RUB"))]
        currency: String,
        /// Number of visits, ≥ 1; `null` means unlimited.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<i32>, minimum = 1, example = 8))]
        visits: i32,
        /// Days the plan is valid after purchase, ≥ 1.
        #[cfg_attr(feature = "openapi", schema(value_type = i32, minimum = 1, example = 30))]
        validity_days: i32,
        /// Listed publicly; default `true`.
        #[cfg_attr(feature = "openapi", schema(value_type = bool, default = true))]
        active: bool,
    }
}

impl MembershipPlanInput {
    /// The fields a `POST` requires: every non-nullable field without a default.
    pub const REQUIRED_ON_CREATE: &'static [&'static str] = &[
        "location_id",
        "name",
        "price_minor",
        "currency",
        "validity_days",
    ];
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

/// The message for a photo URL that is not an absolute `https` URL with a host.
const NOT_A_URL: &str = "must be an absolute https URL";

/// [`PHOTO_URL_PATTERN`], compiled once (a constant the tests compile too: `None` never
/// happens, and would refuse every URL rather than accept any).
static PHOTO_URL: std::sync::LazyLock<Option<regex::Regex>> =
    std::sync::LazyLock::new(|| regex::Regex::new(PHOTO_URL_PATTERN).ok());

/// Why a photo URL is refused, if it is: what the document's pattern refuses is refused (a
/// client checking the pattern and the server agree), and it must also parse as a URL.
fn photo_url_problem(raw: &str) -> Option<&'static str> {
    let Ok(url) = url::Url::parse(raw) else {
        return Some(NOT_A_URL);
    };
    if !url.username().is_empty() || url.password().is_some() {
        Some("must not contain credentials")
    } else if !PHOTO_URL
        .as_ref()
        .is_some_and(|pattern| pattern.is_match(raw))
    {
        // The pattern also says `https` and a host.
        Some(NOT_A_URL)
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
        // Unlike free text, a blank URL is not "none": it is no URL (`null` clears it).
        let photo_url = match photo_url {
            Some(blank) if blank.trim().is_empty() => {
                m.errors.add("photo_url", NOT_A_URL);
                None
            }
            other => m.text("photo_url", other, MAX_PHOTO_URL),
        };
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
    /// The services over the catalog repositories; their writes count in `changes`.
    pub fn new(
        locations: Arc<dyn LocationRepository>,
        program_types: Arc<dyn ProgramTypeRepository>,
        trainers: Arc<dyn TrainerRepository>,
        plans: Arc<dyn MembershipPlanRepository>,
        changes: &PublicChanges,
    ) -> Self {
        Self {
            locations: Arc::new(CatalogAdmin::<Locations>::new(
                locations.clone(),
                locations.clone(),
                changes.clone(),
            )),
            program_types: Arc::new(CatalogAdmin::<ProgramTypes>::new(
                program_types,
                locations.clone(),
                changes.clone(),
            )),
            trainers: Arc::new(CatalogAdmin::<Trainers>::new(
                trainers,
                locations.clone(),
                changes.clone(),
            )),
            membership_plans: Arc::new(CatalogAdmin::<MembershipPlans>::new(
                plans,
                locations,
                changes.clone(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields an empty `POST` body is refused for, as "is required".
    fn required_by_merge<R: CatalogResource>() -> Vec<String> {
        let errors = match R::merge(R::Input::default(), None) {
            Ok(_) => panic!("an empty body is refused"),
            Err(errors) => errors,
        };
        errors
            .0
            .into_iter()
            .filter(|(_, messages)| messages.iter().any(|m| m == REQUIRED))
            .map(|(field, _)| field)
            .collect()
    }

    fn sorted(fields: &[&str]) -> Vec<String> {
        let mut fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        fields.sort();
        fields
    }

    #[test]
    fn the_documented_required_fields_are_those_the_merge_requires() {
        assert_eq!(
            required_by_merge::<Locations>(),
            sorted(LocationInput::REQUIRED_ON_CREATE)
        );
        assert_eq!(
            required_by_merge::<ProgramTypes>(),
            sorted(ProgramTypeInput::REQUIRED_ON_CREATE)
        );
        assert_eq!(
            required_by_merge::<Trainers>(),
            sorted(TrainerInput::REQUIRED_ON_CREATE)
        );
        assert_eq!(
            required_by_merge::<MembershipPlans>(),
            sorted(MembershipPlanInput::REQUIRED_ON_CREATE)
        );
    }

    fn trainer_with_photo(url: &str) -> Result<NewTrainer, FieldErrors> {
        Trainers::merge(
            TrainerInput {
                full_name: Some(Some("Анна".to_owned())),
                photo_url: Some(Some(url.to_owned())),
                ..TrainerInput::default()
            },
            None,
        )
    }

    #[test]
    fn a_blank_photo_url_is_refused_and_null_clears_it() {
        for blank in ["", "   ", "\u{a0}"] {
            let errors = trainer_with_photo(blank).expect_err(blank);
            assert!(errors.0.contains_key("photo_url"), "{blank:?}: {errors:?}");
        }
        let cleared = Trainers::merge(
            TrainerInput {
                full_name: Some(Some("Анна".to_owned())),
                photo_url: Some(None),
                ..TrainerInput::default()
            },
            None,
        )
        .expect("null clears it");
        assert_eq!(cleared.photo_url, None);
    }

    #[test]
    fn a_photo_url_the_documented_pattern_refuses_is_refused() {
        for url in [
            // Found by schemathesis: `*` is allowed in a URL's host, not in a DNS name.
            "https://0hoU4yStjW3N6Z-zOf7LthK-cd.yaODZ-QWM0Ki0012MDABbvnVXegNJlxGR7aZZEaRz-yt*",
            "https://1.2.3.4/a.jpg",
            "https://[2001:db8::1]/a.jpg",
            "https://пример.рф/a.jpg",
            "https://xn--e1afmkfd.xn--p1ai/a.jpg",
            "https://a_b.example/",
            "https://-a.example/",
            "https://example.com./a.jpg",
            "https://example.com:65535/",
            "HTTPS://example.com/a.jpg",
            "http://example.com/a.jpg",
        ] {
            assert!(trainer_with_photo(url).is_err(), "{url}");
        }
        assert!(PHOTO_URL.is_some(), "the pattern compiles");
    }

    #[test]
    fn the_documented_photo_url_examples_are_accepted() {
        for url in [
            "https://example.com/anna.jpg",
            "https://a",
            "https://cdn-1.example.com:8443/p/a b.jpg?s=1#x",
            "https://1.example/",
            "https://x.y?",
            "https://x.y/@anna",
        ] {
            assert!(trainer_with_photo(url).is_ok(), "{url}");
        }
    }

    proptest::proptest! {
        /// The document promises that every URL its pattern matches is accepted (drawn with
        /// each `*` and `+` bounded, so that the URLs stay within the length limit).
        #[test]
        fn every_url_the_documented_pattern_matches_is_accepted(
            url in proptest::string::string_regex(
                &PHOTO_URL_PATTERN
                    .trim_start_matches('^')
                    .trim_end_matches('$')
                    .replace('*', "{0,6}")
                    .replace('+', "{1,6}"),
            ).expect("the pattern compiles"),
        ) {
            let merged = trainer_with_photo(&url);
            proptest::prop_assert!(merged.is_ok(), "{url:?}: {merged:?}");
        }
    }
}
