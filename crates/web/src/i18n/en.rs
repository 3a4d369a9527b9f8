//! The English catalogue: the messages exactly as the services, the domain and the HTTP
//! layer write them (`{name}` marks a variable part; see [`super::placeholder_accepts`]).

use super::Key;

/// The English template of `key`.
pub(super) fn text(key: Key) -> &'static str {
    match key {
        Key::Unauthorized => "a valid admin API key is required",
        Key::RequestTimeout => "the request body did not arrive in time",
        Key::IdempotencyInProgress => {
            "a request with this Idempotency-Key is still in progress; retry later"
        }
        Key::IdempotencyReused => "this Idempotency-Key was used for a request with another body",
        Key::PreconditionFailed => "the resource has changed; fetch it again",
        Key::BodyLargerThan => "the body is larger than {limit} bytes",
        Key::SomeFieldsInvalid => "some fields are invalid",
        Key::RateLimited => "too many requests; retry later",
        Key::Internal => "internal server error",
        Key::Unavailable => "the service is temporarily unavailable; retry later",
        Key::RequestUnreadable => "the request could not be read",
        Key::NoSuchResource => "no such resource",
        Key::RequestNotAllowed => "this request is not allowed",
        Key::MethodNotAllowed => "this method is not allowed on this path",
        Key::RequestBodyTooLarge => "the request body is too large",
        Key::ContentTypeJson => "the content type must be application/json",
        Key::RequestUnprocessable => "the request could not be processed",
        Key::Conflict => "the request conflicts with the current state",
        Key::LocationNotFound => "location {id} not found",
        Key::ProgramTypeNotFound => "program type {id} not found",
        Key::TrainerNotFound => "trainer {id} not found",
        Key::MembershipPlanNotFound => "membership plan {id} not found",
        Key::ClassSessionNotFound => "class session {id} not found",
        Key::LeadNotFound => "lead {id} not found",
        Key::WebhookNotFound => "webhook {id} not found",
        Key::DeliveryNotFound => "delivery {id} not found",
        Key::TimetableSlotNotFound => "timetable slot {id} not found",
        Key::TrainerOverlap => {
            "trainer {trainer} already teaches scheduled session {session} at an overlapping time"
        }
        Key::SessionChosenByLead => {
            "class session {session} is chosen by lead {lead}: cancel it instead"
        }
        Key::WebhookInactive => "webhook {id} is not active: activate it to redeliver",
        Key::RoleLeadsOnly => "the {role} key {name} may use only the leads endpoints",
        Key::OriginNotAllowed => "this origin is not allowed to call the API",
        Key::CorsMethodNotAllowed => "this method is not allowed from another origin",
        Key::CorsHeadersNotAllowed => "these request headers are not allowed from another origin",
        Key::CrossOriginNotAllowed => "this cross-origin request is not allowed",
        Key::BodyUnreadable => "the body could not be read",
        Key::BodyNotJson => "the body is not valid JSON",
        Key::BodyNotReadableAsJson => "the body could not be read as JSON",
        Key::BodyNotObject => "the body must be a JSON object",
        Key::BodyFieldNotAccepted => "the body has a field that is not accepted here",
        Key::UnknownField => "unknown field {field}",
        Key::FieldMustBeInteger => "{field} must be an integer",
        Key::FieldMustBeNonNegativeInteger => "{field} must be a non-negative integer",
        Key::FieldMustBeNumber => "{field} must be a number",
        Key::FieldMustBeBoolean => "{field} must be true or false",
        Key::FieldMustBeString => "{field} must be a string",
        Key::FieldMustBeArray => "{field} must be an array",
        Key::FieldMustBeObject => "{field} must be an object",
        Key::FieldOfAnotherType => "{field} must be of another type",
        Key::AFieldMustBeInteger => "a field must be an integer",
        Key::AFieldMustBeNonNegativeInteger => "a field must be a non-negative integer",
        Key::AFieldMustBeNumber => "a field must be a number",
        Key::AFieldMustBeBoolean => "a field must be true or false",
        Key::AFieldMustBeString => "a field must be a string",
        Key::AFieldMustBeArray => "a field must be an array",
        Key::AFieldMustBeObject => "a field must be an object",
        Key::AFieldOfAnotherType => "a field must be of another type",
        Key::NotAllowedValue => "is not one of the allowed values",
        Key::OneOf => "must be one of {values}",
        Key::Required => "is required",
        Key::NoControlCharacters => "must not contain control characters",
        Key::QueryMalformed => "the query string is malformed",
        Key::ParameterNamesNoControl => "parameter names must not contain control characters",
        Key::AtMostOnce => "must be given at most once",
        Key::IntegerFromTo => "must be an integer from {min} to {max}",
        Key::InstantOrDate => {
            "must be an RFC 3339 date-time with an offset (Z or +03:00) or a YYYY-MM-DD date"
        }
        Key::PositiveId => "must be a positive integer id",
        Key::OneOrMoreOf => "must be one or more of {values}",
        Key::TrueOrFalse => "must be true or false",
        Key::ExportNotPaged => "the export is not paged: it holds every matching lead",
        Key::ScheduledOrCancelled => "must be scheduled or cancelled",
        Key::IdempotencyKeyFormat => "must be 1 to 255 visible ASCII characters, given once",
        Key::IdempotencyKeyDomain => {
            "the Idempotency-Key must be 1 to 255 visible ASCII characters"
        }
        Key::OneToMaxCharacters => "must be 1 to {max} characters",
        Key::AtMostCharacters => "must be at most {max} characters",
        Key::InvalidEmail => "not a valid email address",
        Key::InvalidPhone => "not a valid phone number",
        Key::VisibleCharacter => "must contain at least one visible character",
        Key::InstantInYears => {
            "must be an RFC 3339 date-time with an offset (Z or +03:00), in the years 0000 to 9999"
        }
        Key::LocationDoesNotExist => "location {id} does not exist",
        Key::ProgramTypeDoesNotExist => "program type {id} does not exist",
        Key::ClassSessionDoesNotExist => "class session {id} does not exist",
        Key::TrainerDoesNotExist => "trainer {id} does not exist",
        Key::MembershipPlanDoesNotExist => "membership plan {id} does not exist",
        Key::TheLocationDoesNotExist => "the location does not exist",
        Key::TheProgramTypeDoesNotExist => "the program type does not exist",
        Key::TheClassSessionDoesNotExist => "the class session does not exist",
        Key::ConfiguredKey => "must be the name of a configured admin key",
        Key::ConfiguredKeyOrNone => "must be the name of a configured admin key, or none",
        Key::AssigneeOwnLocations => "{name} may only own leads of their own locations",
        Key::NameOneOfYourLocations => "must name one of your locations",
        Key::LocationNotYours => "location {id} is not one of your locations",
        Key::MustBeTrue => "must be true",
        Key::BetweenOneAnd => "must be between 1 and {max}",
        Key::NotNegative => "must not be negative",
        Key::NotNull => "must not be null",
        Key::ToNotBeforeFrom => "`to` must not be before `from`",
        Key::RangeLongerThan => "the range is longer than {days} days",
        Key::ExpectedInstantOrDate => {
            "expected an RFC 3339 date-time with offset or a YYYY-MM-DD date"
        }
        Key::ToIsBeforeFrom => "`to` is before `from`",
        Key::MinToMax => "must be {min} to {max}",
        Key::AtLeast => "must be at least {min}",
        Key::IanaTimeZone => "must be an IANA time zone, e.g. Europe/Moscow",
        Key::AbsoluteHttpsUrl => "must be an absolute https URL",
        Key::NoCredentials => "must not contain credentials",
        Key::Iso4217 => "must be an ISO 4217 code: three capital letters",
        Key::CancelledNeedsReason => "a cancelled session needs a reason",
        Key::OnlyCancelledHasReason => "only a cancelled session has a cancellation reason",
        Key::AfterStartsAt => "must be after starts_at",
        Key::YearsUtc => "must lie in the years 0000 to 9999 (UTC)",
        Key::InstantExample => {
            "must be an RFC 3339 date-time with an offset, e.g. 2026-12-01T16:00:00+03:00"
        }
        Key::NonNegativeInteger => "must be a non-negative integer",
        Key::LocationInactive => "location {id} is inactive",
        Key::ProgramTypeInactive => "program type {id} is inactive",
        Key::TrainerInactive => "trainer {id} is inactive",
        Key::MembershipPlanInactive => "membership plan {id} is inactive",
        Key::LocationNotActive => "location {id} is not active",
        Key::ProgramTypeNotActive => "program type {id} is not active",
        Key::TrainerNotActive => "trainer {id} is not active",
        Key::MembershipPlanNotActive => "membership plan {id} is not active",
        Key::PlanOfOtherLocation => {
            "membership plan {plan} belongs to location {other}, not {location}"
        }
        Key::DateFrom1900 => "must be a date YYYY-MM-DD from 1900-01-01 to 9998-12-31",
        Key::DateIn2000To2100 => "must be a date YYYY-MM-DD in 2000–2100",
        Key::NotBeforeFrom => "must not be before `from`",
        Key::AtMostDaysAfterFrom => "must be at most {days} days after `from`",
        Key::TimeOfDay => "must be a time HH:MM from 00:00 to 23:59",
        Key::NotBeforeValidFrom => "must not be before valid_from",
        Key::AbsoluteUrl => "must be an absolute URL",
        Key::HttpsUrl => "must be an https URL",
        Key::HasHost => "must have a host",
        Key::NoUserInfo => "must not contain a user name or password",
        Key::NoFragment => "must not contain a fragment",
        Key::NoPrivateAddress => "must not point to a private, loopback or link-local address",
        Key::HostDoesNotResolve => "the host does not resolve",
        Key::AtLeastOneEvent => "must name at least one event type",
        Key::EachOneOf => "each must be one of {values}",
        Key::IntegerFromZero => "must be an integer from 0",
        Key::RefusedByDatabase => "the values were refused by a rule of the database",
        Key::InvalidValueCode => "invalid value ({code})",
    }
}
