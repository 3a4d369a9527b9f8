//! The OpenAPI 3 document, generated from the handlers and types.

use crate::authorize::RoleDocs;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AnyOfBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::idempotency::IdempotencyDocs;
use crate::routes;

pub use crate::error::{ErrorDetail, ErrorResponse};

/// A time parameter (`from`, `to`, `created_from`, `created_to`): an RFC 3339 date-time with an
/// offset, or a `YYYY-MM-DD` date. Anything else, the empty value included, is a 400.
pub struct DateTimeOrDate;

impl PartialSchema for DateTimeOrDate {
    fn schema() -> RefOr<Schema> {
        let string = |format| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
        };
        AnyOfBuilder::new()
            .description(Some(
                "An RFC 3339 date-time with an offset (`2026-11-24T15:00:00+03:00`, `…Z`) \
                 or a calendar date `YYYY-MM-DD`",
            ))
            .item(string(KnownFormat::DateTime).examples(["2026-11-24T15:00:00+03:00"]))
            .item(string(KnownFormat::Date).examples(["2026-11-24"]))
            .into()
    }
}

impl ToSchema for DateTimeOrDate {}

/// The admin list's `sort` parameter.
pub struct LeadSortOrder;

impl PartialSchema for LeadSortOrder {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A field, newest first with a leading `-`; ties by id in the same direction",
            ))
            .enum_values(Some(cohai_domain::LeadSort::SPELLINGS))
            .default(Some("-created_at".into()))
            .into()
    }
}

impl ToSchema for LeadSortOrder {}

/// Adds the bearer security scheme used by the admin paths.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An admin API key (see the README)"))
                    .build(),
            ),
        );
    }
}

/// Documents the language of error messages (API.md §1, issue 16) on every operation that
/// can fail: the `Accept-Language` request header, and `Content-Language` and `Vary` (shared
/// header components) on every error reply.
struct LanguageDocs;

impl Modify for LanguageDocs {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{HeaderBuilder, Ref, Required};

        let accept_language = ParameterBuilder::new()
            .name("Accept-Language")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "The language of error messages: `ru` (any region, e.g. `ru-RU`) for Russian, \
                 else English; weights as RFC 9110 §12.5.4 says (`en;q=0.5, ru;q=0.9` → Russian, \
                 `ru;q=0` → English, `*` = every language not named). Any value is accepted: \
                 what the server cannot read is ignored, as RFC 9110 allows, never refused",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^[\s\S]*$"))
                    .examples(["ru-RU,ru;q=0.9,en;q=0.8"]),
            ))
            .build();
        let components = openapi.components.get_or_insert_with(Default::default);
        components.headers.insert(
            "Content-Language".to_owned(),
            RefOr::T(
                HeaderBuilder::new()
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(["en", "ru"])),
                    ))
                    .description(Some(
                        "The language of the error's `message` and of every message in \
                         `error.fields`, as chosen from `Accept-Language` (English by \
                         default). Codes, field names and the shape do not depend on it.",
                    ))
                    .build(),
            ),
        );
        components.headers.insert(
            "Vary".to_owned(),
            RefOr::T(
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .description(Some(
                        "Includes `Accept-Language`: an error's messages depend on it, so a \
                         cache keeps one copy per language",
                    ))
                    .build(),
            ),
        );
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.patch.as_mut(),
                item.put.as_mut(),
                item.delete.as_mut(),
            ];
            for operation in operations.into_iter().flatten() {
                let mut has_errors = false;
                for (status, response) in operation.responses.responses.iter_mut() {
                    if let (false, RefOr::T(response)) =
                        (status.starts_with(['1', '2', '3']), response)
                    {
                        has_errors = true;
                        for name in ["Content-Language", "Vary"] {
                            response.headers.insert(
                                name.to_owned(),
                                RefOr::Ref(Ref::new(format!("#/components/headers/{name}"))),
                            );
                        }
                    }
                }
                if has_errors {
                    operation
                        .parameters
                        .get_or_insert_with(Vec::new)
                        .push(RefOr::T(accept_language.clone()));
                }
            }
        }
    }
}

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cohai Stretching API",
        description = "Studio locations, classes, trainers, membership plans and the class schedule; \
            the website's sign-up form; the managers' leads CRM. Every error has the shape of `ErrorResponse`; \
            every response carries `X-Request-Id`. Error messages are in English, or in Russian for a client \
            whose `Accept-Language` prefers `ru`; an error reply says which in `Content-Language`.",
        license(name = "Proprietary")
    ),
    paths(
        routes::ops::health,
        routes::ops::ready,
        routes::ops::metrics,
        routes::ops::test_error,
        routes::ops::openapi_json,
        routes::locations::list,
        routes::locations::get,
        routes::program_types::list,
        routes::trainers::list,
        routes::trainers::get,
        routes::memberships::list,
        routes::memberships::get,
        routes::schedule::list,
        routes::schedule::calendar,
        routes::leads::submit,
        routes::admin::leads::list,
        routes::admin::leads::create,
        routes::admin::leads::get,
        routes::admin::leads::update,
        routes::admin::leads::delete,
        routes::admin::leads::events,
        routes::admin::lead_export::export,
        routes::admin::lead_stats::stats,
        routes::admin::personal_data::personal_data,
        routes::admin::locations::list,
        routes::admin::locations::get,
        routes::admin::locations::create,
        routes::admin::locations::update,
        routes::admin::locations::delete,
        routes::admin::program_types::list,
        routes::admin::program_types::get,
        routes::admin::program_types::create,
        routes::admin::program_types::update,
        routes::admin::program_types::delete,
        routes::admin::trainers::list,
        routes::admin::trainers::get,
        routes::admin::trainers::create,
        routes::admin::trainers::update,
        routes::admin::trainers::delete,
        routes::admin::memberships::list,
        routes::admin::memberships::get,
        routes::admin::memberships::create,
        routes::admin::memberships::update,
        routes::admin::memberships::delete,
        routes::admin::class_sessions::list,
        routes::admin::class_sessions::get,
        routes::admin::class_sessions::create,
        routes::admin::class_sessions::update,
        routes::admin::class_sessions::delete,
        routes::admin::audit::list,
        routes::admin::timetable_slots::list,
        routes::admin::timetable_slots::get,
        routes::admin::timetable_slots::create,
        routes::admin::timetable_slots::update,
        routes::admin::timetable_slots::delete,
        routes::admin::timetable::apply,
        routes::admin::timetable::generate,
        routes::admin::webhooks::list,
        routes::admin::webhooks::create,
        routes::admin::webhooks::get,
        routes::admin::webhooks::update,
        routes::admin::webhooks::delete,
        routes::admin::webhooks::deliveries,
        routes::admin::webhooks::redeliver,
    ),
    components(schemas(ErrorResponse, ErrorDetail, DateTimeOrDate, LeadSortOrder)),
    modifiers(&BearerScheme, &IdempotencyDocs, &RoleDocs, &LanguageDocs),
    tags(
        (name = "catalog", description = "Locations, program types, trainers and membership plans"),
        (name = "schedule", description = "The class timetable"),
        (name = "leads", description = "The website's sign-up form"),
        (name = "admin", description = "The leads CRM (admin key required)"),
        (name = "admin-catalog", description = "Catalog administration and its audit log (admin key required)"),
        (name = "admin-timetable", description = "The weekly timetable and the class sessions generated from it (admin key required)"),
        (name = "admin-webhooks", description = "Webhooks: receivers of lead and class-session events, signed with a secret shown once, and their deliveries logs (admin key required)"),
        (name = "operations", description = "Health, readiness, metrics and documentation"),
    )
)]
pub struct ApiDoc;
