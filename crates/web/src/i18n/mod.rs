//! The language of error messages (API.md §1; issue 16): English by default, Russian for a
//! client whose `Accept-Language` prefers it.
//!
//! The services and the domain write their messages in English, and the tests read them so;
//! they stay the one source of truth. The edge translates: [`crate::middleware`] picks the
//! language of the request ([`Language::negotiate`]), and [`localise`] finds each message's
//! key by its English template ([`en`]) and renders that key's template in the language
//! ([`ru`]). A template's `{name}` placeholders carry the message's variable parts (ids,
//! limits, field names, lists of allowed values) over unchanged; in the Russian catalogue
//! `{max:символ,символа,символов}` also writes the noun in the plural form the number needs.
//!
//! One catalogue per language, each an exhaustive `match` over [`Key`], so a key missing
//! from either does not compile; the tests check that the placeholders agree and that every
//! English template is found again from a message it renders. A message with no key (a new
//! one nobody translated yet) is sent in English.

mod en;
mod ru;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderMap};

/// A language error messages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// English, the default.
    En,
    /// Russian.
    Ru,
}

impl Language {
    /// Every language, the default first.
    pub const ALL: [Self; 2] = [Self::En, Self::Ru];

    /// Its language tag, as `Content-Language` sends it.
    pub const fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ru => "ru",
        }
    }

    /// The template of `key` in this language.
    pub fn template(self, key: Key) -> &'static str {
        match self {
            Self::En => en::text(key),
            Self::Ru => ru::text(key),
        }
    }

    /// The language for a request with these headers (every `Accept-Language` line).
    pub fn of_headers(headers: &HeaderMap) -> Self {
        let lines: Vec<&str> = headers
            .get_all(header::ACCEPT_LANGUAGE)
            .filter_map(|v| v.to_str().ok())
            .collect();
        Self::negotiate(&lines.join(","))
    }

    /// The language an `Accept-Language` value prefers (RFC 9110 §12.5.4).
    ///
    /// Each language range may carry a weight `q` (0 to 1, three decimals at most; 1 when
    /// absent); `q=0` means "not acceptable". A range matches a language when its primary
    /// subtag is that language (`ru`, `ru-RU` and `RU-ru` all match Russian); `*` matches
    /// every language no other range names. The highest weight wins; of equal weights, the
    /// range listed first; when nothing listed is acceptable, or the value is malformed
    /// throughout, English.
    ///
    /// ```
    /// use cohai_web::i18n::Language;
    /// assert_eq!(Language::negotiate("ru-RU,ru;q=0.9,en;q=0.8"), Language::Ru);
    /// assert_eq!(Language::negotiate("en;q=0.5, ru;q=0.9"), Language::Ru);
    /// assert_eq!(Language::negotiate("ru;q=0"), Language::En);
    /// assert_eq!(Language::negotiate("en;q=0, *"), Language::Ru);
    /// assert_eq!(Language::negotiate("de, fr"), Language::En);
    /// ```
    pub fn negotiate(accept_language: &str) -> Self {
        // (weight in thousandths, position of the range that gave it) per language.
        let mut named: [Option<(u16, usize)>; 2] = [None; 2];
        let mut star: Option<(u16, usize)> = None;
        for (position, item) in accept_language.split(',').enumerate() {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or("").trim();
            if range.is_empty() {
                continue;
            }
            let Some(weight) = weight(parts) else {
                continue;
            };
            if range == "*" {
                star = better(star, (weight, position));
                continue;
            }
            let primary = range.split('-').next().unwrap_or("");
            if let Some(i) = Self::ALL
                .iter()
                .position(|l| l.tag().eq_ignore_ascii_case(primary))
            {
                named[i] = better(named[i], (weight, position));
            }
        }
        let mut best: Option<(Self, u16, usize)> = None;
        for (i, language) in Self::ALL.into_iter().enumerate() {
            let Some((weight, position)) = named[i].or(star) else {
                continue;
            };
            if weight == 0 {
                continue;
            }
            let wins = match best {
                None => true,
                Some((_, w, p)) => weight > w || (weight == w && position < p),
            };
            if wins {
                best = Some((language, weight, position));
            }
        }
        best.map_or(Self::En, |(language, _, _)| language)
    }
}

/// Of two (weight, position) pairs for one language, the higher weight (the earlier range
/// on a tie): `ru;q=0.2, ru-RU;q=0.8` accepts Russian at 0.8.
fn better(current: Option<(u16, usize)>, candidate: (u16, usize)) -> Option<(u16, usize)> {
    match current {
        Some(c) if c.0 >= candidate.0 => Some(c),
        _ => Some(candidate),
    }
}

/// The weight of a range from its parameters, in thousandths: 1000 without `q`; `None` when
/// `q` is malformed (the range is then ignored).
fn weight<'a>(params: impl Iterator<Item = &'a str>) -> Option<u16> {
    let mut weight = 1000;
    for param in params {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("q") {
            continue;
        }
        weight = parse_q(value.trim())?;
    }
    Some(weight)
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn parse_q(value: &str) -> Option<u16> {
    let (int, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

macro_rules! keys {
    ($($(#[$doc:meta])* $key:ident),+ $(,)?) => {
        /// A message of the catalogues: one per distinct English template.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Key {
            $(
                $(#[$doc])*
                #[doc = concat!("`", stringify!($key), "`: its texts are in the catalogues.")]
                $key
            ),+
        }

        impl Key {
            /// Every key.
            pub const ALL: &'static [Key] = &[$(Key::$key),+];
        }
    };
}

keys! {
    // Errors of every kind (`error.rs`, `middleware.rs`, `authorize.rs`).
    Unauthorized,
    RequestTimeout,
    IdempotencyInProgress,
    IdempotencyReused,
    PreconditionFailed,
    BodyLargerThan,
    SomeFieldsInvalid,
    RateLimited,
    Internal,
    Unavailable,
    RequestUnreadable,
    NoSuchResource,
    RequestNotAllowed,
    MethodNotAllowed,
    RequestBodyTooLarge,
    ContentTypeJson,
    RequestUnprocessable,
    Conflict,
    LocationNotFound,
    ProgramTypeNotFound,
    TrainerNotFound,
    MembershipPlanNotFound,
    ClassSessionNotFound,
    LeadNotFound,
    WebhookNotFound,
    DeliveryNotFound,
    TimetableSlotNotFound,
    TrainerOverlap,
    SessionChosenByLead,
    WebhookInactive,
    RoleLeadsOnly,
    OriginNotAllowed,
    CorsMethodNotAllowed,
    CorsHeadersNotAllowed,
    CrossOriginNotAllowed,
    // Bodies (`body.rs`).
    BodyUnreadable,
    BodyNotJson,
    BodyNotReadableAsJson,
    BodyNotObject,
    BodyFieldNotAccepted,
    UnknownField,
    FieldMustBeInteger,
    FieldMustBeNonNegativeInteger,
    FieldMustBeNumber,
    FieldMustBeBoolean,
    FieldMustBeString,
    FieldMustBeArray,
    FieldMustBeObject,
    FieldOfAnotherType,
    AFieldMustBeInteger,
    AFieldMustBeNonNegativeInteger,
    AFieldMustBeNumber,
    AFieldMustBeBoolean,
    AFieldMustBeString,
    AFieldMustBeArray,
    AFieldMustBeObject,
    AFieldOfAnotherType,
    NotAllowedValue,
    OneOf,
    Required,
    NoControlCharacters,
    // Query and path parameters (`params.rs`, the routes).
    QueryMalformed,
    ParameterNamesNoControl,
    AtMostOnce,
    IntegerFromTo,
    InstantOrDate,
    PositiveId,
    OneOrMoreOf,
    TrueOrFalse,
    ExportNotPaged,
    ScheduledOrCancelled,
    IdempotencyKeyFormat,
    IdempotencyKeyDomain,
    // The lead forms (`services/leads.rs`, `domain`).
    OneToMaxCharacters,
    AtMostCharacters,
    InvalidEmail,
    InvalidPhone,
    VisibleCharacter,
    InstantInYears,
    LocationDoesNotExist,
    ProgramTypeDoesNotExist,
    ClassSessionDoesNotExist,
    TrainerDoesNotExist,
    MembershipPlanDoesNotExist,
    TheLocationDoesNotExist,
    TheProgramTypeDoesNotExist,
    TheClassSessionDoesNotExist,
    ConfiguredKey,
    ConfiguredKeyOrNone,
    AssigneeOwnLocations,
    NameOneOfYourLocations,
    LocationNotYours,
    MustBeTrue,
    BetweenOneAnd,
    NotNegative,
    NotNull,
    // Time ranges (`schedule.rs`, `domain/time.rs`).
    ToNotBeforeFrom,
    RangeLongerThan,
    ExpectedInstantOrDate,
    ToIsBeforeFrom,
    // The admin catalog, class sessions and timetable.
    MinToMax,
    AtLeast,
    IanaTimeZone,
    AbsoluteHttpsUrl,
    NoCredentials,
    Iso4217,
    CancelledNeedsReason,
    OnlyCancelledHasReason,
    AfterStartsAt,
    YearsUtc,
    InstantExample,
    NonNegativeInteger,
    LocationInactive,
    ProgramTypeInactive,
    TrainerInactive,
    MembershipPlanInactive,
    LocationNotActive,
    ProgramTypeNotActive,
    TrainerNotActive,
    MembershipPlanNotActive,
    PlanOfOtherLocation,
    DateFrom1900,
    DateIn2000To2100,
    NotBeforeFrom,
    AtMostDaysAfterFrom,
    TimeOfDay,
    NotBeforeValidFrom,
    // Webhooks.
    AbsoluteUrl,
    HttpsUrl,
    HasHost,
    NoUserInfo,
    NoFragment,
    NoPrivateAddress,
    HostDoesNotResolve,
    AtLeastOneEvent,
    EachOneOf,
    IntegerFromZero,
    // Whatever else a write may meet.
    RefusedByDatabase,
    InvalidValueCode,
}

/// What a placeholder may stand for in a message, by its name: the parts of a message that
/// are found again in it (and so must not be confused with the text around them).
fn placeholder_accepts(name: &str, text: &str) -> bool {
    let bytes = text.as_bytes();
    !text.is_empty()
        && match name {
            "id" | "min" | "max" | "limit" | "days" | "lead" | "session" | "trainer" | "plan"
            | "location" | "other" => {
                let digits = text.strip_prefix('-').unwrap_or(text);
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            }
            "field" => bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"_.[]".contains(b)),
            "code" | "role" => bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_'),
            "values" => bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"_.,- ".contains(b)),
            "name" => true,
            _ => false,
        }
}

/// The placeholder names [`placeholder_accepts`] knows.
#[cfg(test)]
const PLACEHOLDERS: &[&str] = &[
    "id", "min", "max", "limit", "days", "lead", "session", "trainer", "plan", "location", "other",
    "field", "code", "role", "values", "name",
];

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Text as it is.
    Text(&'static str),
    /// `{name}`, or `{name:one,few,many}`: the value, then the noun in the form its number
    /// needs.
    Placeholder {
        name: &'static str,
        forms: Option<[&'static str; 3]>,
    },
}

/// The segments of `template`.
fn segments(template: &'static str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Segment::Text(&rest[..open]));
        }
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        let inner = &rest[open + 1..close];
        let (name, forms) = match inner.split_once(':') {
            None => (inner, None),
            Some((name, forms)) => {
                let forms: Vec<&'static str> = forms.split(',').collect();
                (name, <[&str; 3]>::try_from(forms).ok())
            }
        };
        out.push(Segment::Placeholder { name, forms });
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest));
    }
    out
}

/// Matches `message` against `segments`, binding each placeholder to its part of it.
fn bind<'m>(
    segments: &[Segment],
    message: &'m str,
    values: &mut Vec<(&'static str, &'m str)>,
) -> bool {
    match segments.split_first() {
        None => message.is_empty(),
        Some((Segment::Text(text), rest)) => message
            .strip_prefix(text)
            .is_some_and(|tail| bind(rest, tail, values)),
        Some((Segment::Placeholder { name, .. }, rest)) => {
            // The shortest part that lets the rest match: placeholders hold no template text.
            for (end, _) in message.char_indices().skip(1).chain([(message.len(), ' ')]) {
                let part = &message[..end];
                if !placeholder_accepts(name, part) {
                    continue;
                }
                values.push((name, part));
                if bind(rest, &message[end..], values) {
                    return true;
                }
                values.pop();
            }
            false
        }
    }
}

/// The English templates as segments, the most specific (most fixed text) first.
fn english() -> &'static [(Key, Vec<Segment>)] {
    static ENGLISH: OnceLock<Vec<(Key, Vec<Segment>)>> = OnceLock::new();
    ENGLISH.get_or_init(|| {
        let mut all: Vec<(Key, Vec<Segment>)> = Key::ALL
            .iter()
            .map(|&key| (key, segments(Language::En.template(key))))
            .collect();
        let fixed = |segments: &[Segment]| -> usize {
            segments
                .iter()
                .map(|s| match s {
                    Segment::Text(t) => t.len(),
                    Segment::Placeholder { .. } => 0,
                })
                .sum()
        };
        all.sort_by_key(|(_, s)| std::cmp::Reverse(fixed(s)));
        all
    })
}

/// The key of an English message and the values of its placeholders, if it has one.
pub fn key_of(message: &str) -> Option<(Key, BTreeMap<&'static str, &str>)> {
    english().iter().find_map(|(key, segments)| {
        let mut values = Vec::new();
        bind(segments, message, &mut values).then(|| (*key, values.into_iter().collect()))
    })
}

/// `key` in `language` with these placeholder values.
pub fn render(language: Language, key: Key, values: &BTreeMap<&str, &str>) -> String {
    let mut out = String::new();
    for segment in segments(language.template(key)) {
        match segment {
            Segment::Text(text) => out.push_str(text),
            Segment::Placeholder { name, forms } => {
                let value = values.get(name).copied().unwrap_or_default();
                out.push_str(value);
                if let Some(forms) = forms {
                    out.push(' ');
                    out.push_str(plural(value, forms));
                }
            }
        }
    }
    out
}

/// The Russian plural form of a noun after the number `value`: 1, 21 символ; 2–4, 22
/// символа; 0, 5–20, 25 символов.
fn plural(value: &str, [one, few, many]: [&'static str; 3]) -> &'static str {
    let n: u64 = value.trim_start_matches('-').parse().unwrap_or(0);
    match (n % 10, n % 100) {
        (1, h) if h != 11 => one,
        (2..=4, h) if !(12..=14).contains(&h) => few,
        _ => many,
    }
}

/// An English message in `language`: unchanged in English, and for a message no key knows.
pub fn translate(message: &str, language: Language) -> Cow<'_, str> {
    if language == Language::En {
        return Cow::Borrowed(message);
    }
    match key_of(message) {
        Some((key, values)) => Cow::Owned(render(language, key, &values)),
        None => {
            log::debug!("no translation into {} of {message:?}", language.tag());
            Cow::Borrowed(message)
        }
    }
}

/// An error's message and field messages in `language`.
pub fn localise(error: &crate::ApiError, language: Language) -> crate::ApiError {
    let mut out = error.clone();
    if language == Language::En {
        return out;
    }
    out.message = translate(&error.message, language).into_owned();
    if let Some(fields) = out.fields.as_mut() {
        for messages in fields.values_mut() {
            for message in messages.iter_mut() {
                *message = translate(message, language).into_owned();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
