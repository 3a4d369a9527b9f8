//! What the four admin catalog resources (`admin/locations.rs`, `admin/program_types.rs`,
//! `admin/trainers.rs`, `admin/memberships.rs`) share: the handlers' bodies, generic over the
//! resource, and [`admin_catalog_resource!`], which declares one resource's documented routes.
//!
//! The services count each write as a change of public data (`cohai_services::PublicChanges`),
//! so the public API of this instance shows it at once (other instances: within their cache
//! TTL).

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use cohai_domain::Audited;
use cohai_services::AdminCatalogService;
use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::blocking::blocking;
use crate::caching::{expected_version, if_none_match};
use crate::error::ApiError;
use crate::params::parse_id;
use crate::routes::query;
use crate::state::AppState;

/// Admin responses are for the admin only: never stored by caches.
pub(crate) const PRIVATE: &str = "private, no-store";

/// A catalog resource as the admin API serves it.
pub(crate) struct Resource<E, I> {
    /// The service.
    pub service: Arc<dyn AdminCatalogService<E, I>>,
    /// The collection's path, e.g. `/api/v1/admin/locations`.
    pub path: &'static str,
}

/// The admin view of an entity: its public fields plus `active`.
#[derive(Serialize)]
struct View<'a, E> {
    #[serde(flatten)]
    entity: &'a E,
    active: bool,
}

/// Whether an entity is listed publicly.
pub(crate) trait Active {
    /// `active` in the admin view.
    fn active(&self) -> bool;
}

macro_rules! active {
    ($($entity:ty),+) => {$(
        impl Active for $entity {
            fn active(&self) -> bool {
                self.is_active
            }
        }
    )+};
}
active!(
    cohai_domain::Location,
    cohai_domain::ProgramType,
    cohai_domain::Trainer,
    cohai_domain::MembershipPlan
);

/// The entity's strong entity tag, from its kind, id and version.
pub(crate) fn etag<E: Audited>(entity: &E) -> String {
    format!("\"{}-{}-v{}\"", E::ENTITY, entity.id(), entity.version())
}

/// The version a change of `id` is conditional on (see [`expected_version`]).
pub(crate) fn expected<E: Audited>(req: &HttpRequest, id: i64) -> Option<i64> {
    expected_version(req, E::ENTITY.as_str(), id)
}

fn one<E: Audited + Serialize + Active>(status: StatusCode, entity: &E) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(entity)))
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .json(View {
            entity,
            active: entity.active(),
        })
}

/// `GET` the collection, `?active=true|false`.
pub(crate) async fn list<E, I>(
    req: &HttpRequest,
    state: &AppState,
    r: Resource<E, I>,
) -> Result<HttpResponse, ApiError>
where
    E: Serialize + Active + Send + 'static,
    I: 'static,
{
    let active = match query(req)?.get("active") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(ApiError::invalid_parameter(
                "active",
                "must be true or false",
            ));
        }
    };
    let service = r.service;
    let items = blocking(state, move || service.list(active)).await?;
    let items: Vec<View<'_, E>> = items
        .iter()
        .map(|entity| View {
            entity,
            active: entity.active(),
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .json(serde_json::json!({ "items": items })))
}

/// `GET /{id}`, with its `ETag` (304 on a matching `If-None-Match`).
pub(crate) async fn get<E, I>(
    req: &HttpRequest,
    state: &AppState,
    r: Resource<E, I>,
    id: &str,
) -> Result<HttpResponse, ApiError>
where
    E: Audited + Serialize + Active + Send + 'static,
    I: 'static,
{
    let id = parse_id("id", id)?;
    let service = r.service;
    let entity = blocking(state, move || service.get(id)).await?;
    if if_none_match(req, &etag(&entity)) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(&entity)))
            .insert_header((header::CACHE_CONTROL, PRIVATE))
            .finish());
    }
    Ok(one(StatusCode::OK, &entity))
}

/// `POST`: 201 with `Location` and `ETag`.
pub(crate) async fn create<E, I>(
    state: &AppState,
    r: Resource<E, I>,
    actor: String,
    input: I,
) -> Result<HttpResponse, ApiError>
where
    E: Audited + Serialize + Active + Send + 'static,
    I: Send + 'static,
{
    let service = r.service;
    let entity = blocking(state, move || service.create(input, &actor)).await?;
    let url = format!("{}/{}", r.path, entity.id());
    Ok(crate::routes::with_location(
        one(StatusCode::CREATED, &entity),
        &url,
    ))
}

/// `PATCH /{id}`: the fields sent change, optionally only if `If-Match` is current.
pub(crate) async fn update<E, I>(
    req: &HttpRequest,
    state: &AppState,
    r: Resource<E, I>,
    id: &str,
    actor: String,
    input: I,
) -> Result<HttpResponse, ApiError>
where
    E: Audited + Serialize + Active + Send + 'static,
    I: Send + 'static,
{
    let id = parse_id("id", id)?;
    let expected = expected::<E>(req, id);
    let service = r.service;
    let entity = blocking(state, move || service.update(id, input, expected, &actor)).await?;
    Ok(one(StatusCode::OK, &entity))
}

/// `DELETE /{id}`: 204, or 409 while referenced; optionally only if `If-Match` is current.
pub(crate) async fn delete<E, I>(
    req: &HttpRequest,
    state: &AppState,
    r: Resource<E, I>,
    id: &str,
    actor: String,
) -> Result<HttpResponse, ApiError>
where
    E: Audited + Send + 'static,
    I: 'static,
{
    let id = parse_id("id", id)?;
    let expected = expected::<E>(req, id);
    let service = r.service;
    blocking(state, move || service.delete(id, expected, &actor)).await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .finish())
}

/// The `POST` body schema of a catalog resource: its `PATCH` schema (`input`, every field
/// optional, `additionalProperties: false`) with the fields a `POST` requires declared, as for
/// class sessions.
pub(crate) fn create_schema(input: RefOr<Schema>, noun: &str, required: &[&str]) -> RefOr<Schema> {
    let mut schema = input;
    if let RefOr::T(Schema::Object(object)) = &mut schema {
        object.required = required.iter().map(|f| (*f).to_owned()).collect();
        let fields = required
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ");
        object.description = Some(format!(
            "A new {noun}. Required: {fields} (every field that cannot be null and has no \
             default); a nullable field absent or `null` is none, and `active` defaults to \
             `true`. Unknown fields are refused."
        ));
    }
    schema
}

/// Declares one admin catalog resource: its admin view schema, its `POST` body schema, its
/// list schema and its five documented handlers (`list`, `get`, `create`, `update`, `delete`), which call the generic
/// ones above.
macro_rules! admin_catalog_resource {
    (
        entity = $entity:ident, input = $input:ident, create_body = $create:ident,
        service = $service:ident, view = $view:ident, list_type = $list:ident, noun = $noun:tt,
        create_invalid = $create_invalid:tt,
        path = $path:tt, item_path = $item_path:tt,
        ids = ($list_id:tt, $get_id:tt, $create_id:tt, $update_id:tt, $delete_id:tt) $(,)?
    ) => {
        use actix_web::{HttpRequest, HttpResponse, web};
        use cohai_domain::$entity;
        use cohai_services::catalog_admin::$input;

        use crate::auth::Admin;
        use crate::body::JsonBody;
        use crate::error::ApiError;
        use crate::openapi::ErrorResponse;
        use crate::routes::admin::catalog::{self, Resource};
        use crate::state::AppState;

        #[doc = concat!("A ", $noun, " as the admin API shows it: the public fields and `active`.")]
        #[derive(serde::Serialize, utoipa::ToSchema)]
        #[allow(dead_code)] // documents the serialised admin view
        pub struct $view {
            #[serde(flatten)]
            entity: $entity,
            /// Listed publicly (inactive rows are hidden from the public API).
            active: bool,
        }

        #[doc = concat!("The body of `POST ", $path, "`: [`", stringify!($input), "`] with the fields it")]
        #[doc = concat!("requires declared (`", stringify!($input), "::REQUIRED_ON_CREATE`). The same type reads")]
        /// both bodies; a `PATCH` requires none.
        pub struct $create;

        impl utoipa::PartialSchema for $create {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                catalog::create_schema(
                    <$input as utoipa::PartialSchema>::schema(),
                    $noun,
                    $input::REQUIRED_ON_CREATE,
                )
            }
        }

        impl utoipa::ToSchema for $create {
            fn schemas(
                schemas: &mut Vec<(
                    String,
                    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
                )>,
            ) {
                <$input as utoipa::ToSchema>::schemas(schemas);
            }
        }

        #[doc = concat!("Every ", $noun, ", active or not.")]
        #[derive(serde::Serialize, utoipa::ToSchema)]
        #[allow(dead_code)] // documents the serialised list
        pub struct $list {
            /// The items.
            items: Vec<$view>,
        }

        fn resource(state: &AppState) -> Resource<$entity, $input> {
            Resource {
                service: state.catalog_admin.$service.clone(),
                path: $path,
            }
        }

        #[doc = concat!("Every ", $noun, " (inactive ones too), in the public list's order.")]
        #[utoipa::path(get, path = $path, operation_id = $list_id, tag = "admin-catalog",
            security(("bearer" = [])),
            params(("active" = Option<bool>, Query, description = "Only active (`true`) or inactive (`false`) ones")),
            responses(
                (status = 200, description = "The list", body = $list),
                (status = 400, description = "A malformed parameter", body = ErrorResponse),
                (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
            ))]
        pub async fn list(
            admin: Admin,
            req: HttpRequest,
            state: web::Data<AppState>,
        ) -> Result<HttpResponse, ApiError> {
            let _ = admin;
            catalog::list(&req, &state, resource(&state)).await
        }

        #[doc = concat!("One ", $noun, ", active or not, with its `ETag`.")]
        #[utoipa::path(get, path = $item_path, operation_id = $get_id, tag = "admin-catalog",
            security(("bearer" = [])),
            params(("id" = i64, Path, description = "Id", minimum = 1)),
            responses(
                (status = 200, description = "Found", body = $view,
                    headers(("ETag" = String, description = "Changes with every update"))),
                (status = 304, description = "Not modified (If-None-Match)"),
                (status = 400, description = "Malformed id", body = ErrorResponse),
                (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
                (status = 404, description = "No such row", body = ErrorResponse),
            ))]
        pub async fn get(
            admin: Admin,
            req: HttpRequest,
            state: web::Data<AppState>,
            id: web::Path<String>,
        ) -> Result<HttpResponse, ApiError> {
            let _ = admin;
            catalog::get(&req, &state, resource(&state), &id).await
        }

        #[doc = concat!("Creates a ", $noun, ". Unknown fields are refused.")]
        #[utoipa::path(post, path = $path, operation_id = $create_id, tag = "admin-catalog",
            security(("bearer" = [])),
            request_body(content = $create, content_type = "application/json"),
            responses(
                (status = 201, description = "Created", body = $view,
                    headers(("Location" = String, description = "URL of the new row"), ("ETag" = String, description = "Its version"))),
                (status = 400, description = "Not JSON, malformed JSON, a wrong field type or an unknown field", body = ErrorResponse),
                (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
                (status = 409, description = "The name is already used", body = ErrorResponse),
                (status = 413, description = "Body over the limit", body = ErrorResponse),
                (status = 422, description = concat!("Invalid or missing fields (`error.fields` names each)", $create_invalid), body = ErrorResponse),
            ))]
        pub async fn create(
            admin: Admin,
            state: web::Data<AppState>,
            body: JsonBody<$input>,
        ) -> Result<HttpResponse, ApiError> {
            catalog::create(&state, resource(&state), admin.name, body.into_inner()).await
        }

        #[doc = concat!("Changes the fields sent of a ", $noun, " (`null` clears a nullable one).")]
        #[utoipa::path(patch, path = $item_path, operation_id = $update_id, tag = "admin-catalog",
            security(("bearer" = [])),
            params(
                ("id" = i64, Path, description = "Id", minimum = 1),
                ("If-Match" = Option<String>, Header, nullable = false,
                    description = "`*`, or the ETag (a comma-separated list of entity tags) the change is based on; 412 when the row changed since",
                    pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7E]*")*)$"#),
            ),
            request_body(content = $input, content_type = "application/json"),
            responses(
                (status = 200, description = "Changed", body = $view,
                    headers(("ETag" = String, description = "The new version"))),
                (status = 400, description = "Not JSON, malformed JSON, a wrong field type or an unknown field", body = ErrorResponse),
                (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
                (status = 404, description = "No such row", body = ErrorResponse),
                (status = 409, description = "The name is already used", body = ErrorResponse),
                (status = 412, description = "If-Match does not match the current ETag", body = ErrorResponse),
                (status = 413, description = "Body over the limit", body = ErrorResponse),
                (status = 422, description = concat!("Invalid values, or null for a field that cannot be null", $create_invalid), body = ErrorResponse),
            ))]
        pub async fn update(
            admin: Admin,
            req: HttpRequest,
            state: web::Data<AppState>,
            id: web::Path<String>,
            body: JsonBody<$input>,
        ) -> Result<HttpResponse, ApiError> {
            catalog::update(&req, &state, resource(&state), &id, admin.name, body.into_inner())
                .await
        }

        #[doc = concat!("Deletes a ", $noun, "; 409 while other rows refer to it (deactivate it instead).")]
        #[utoipa::path(delete, path = $item_path, operation_id = $delete_id, tag = "admin-catalog",
            security(("bearer" = [])),
            params(
                ("id" = i64, Path, description = "Id", minimum = 1),
                ("If-Match" = Option<String>, Header, nullable = false,
                    description = "`*`, or the ETag (a comma-separated list of entity tags) the deletion is based on; 412 when the row changed since",
                    pattern = r#"^(\*|(W/)?"[\x21\x23-\x7E]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7E]*")*)$"#),
            ),
            responses(
                (status = 204, description = "Deleted"),
                (status = 400, description = "Malformed id", body = ErrorResponse),
                (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
                (status = 404, description = "No such row", body = ErrorResponse),
                (status = 409, description = "Still referenced", body = ErrorResponse),
                (status = 412, description = "If-Match does not match the current ETag", body = ErrorResponse),
            ))]
        pub async fn delete(
            admin: Admin,
            req: HttpRequest,
            state: web::Data<AppState>,
            id: web::Path<String>,
        ) -> Result<HttpResponse, ApiError> {
            catalog::delete(&req, &state, resource(&state), &id, admin.name).await
        }
    };
}
pub(crate) use admin_catalog_resource;
