//! Authorisation of the admin API, declared once per route group in the route table
//! ([`crate::routes::configure`]): 401 without a valid key, 403 `forbidden` for a role the
//! group does not admit (API.md §3.1). It runs before the handler, so neither is ever decided
//! after reading a body.
//!
//! The authenticated [`Principal`] is left in the request's extensions, where the
//! [`crate::auth::Admin`] extractor finds it; a handler on a route without a declaration gets
//! no principal and answers 500, which the every-route-for-every-role test catches.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use cohai_domain::{Principal, Role};

use crate::error::ApiError;
use crate::state::AppState;

/// Which roles a group of admin routes admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Only `admin` keys: the catalog, the timetable, the audit log, webhooks.
    AdminOnly,
    /// `admin` and `manager` keys: the leads endpoints (a manager within its lead scope).
    Leads,
}

impl Access {
    /// Whether a key of `role` may use routes of this group.
    pub fn admits(self, role: Role) -> bool {
        match self {
            Self::AdminOnly => role == Role::Admin,
            Self::Leads => matches!(role, Role::Admin | Role::Manager),
        }
    }
}

/// The middleware of a route group admitting `access`: wrap the group with
/// `.wrap(from_fn(move |req, next| authorize(access, req, next)))` (see
/// [`crate::routes::configure`]).
pub async fn authorize(
    access: Access,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let principal = match principal_of(&req) {
        Ok(principal) => principal,
        Err(refusal) => return Ok(req.error_response(refusal)),
    };
    if !access.admits(principal.role) {
        let refusal = ApiError::forbidden(format!(
            "the {} key {:?} may use only the leads endpoints",
            principal.role, principal.name
        ));
        return Ok(req.error_response(refusal));
    }
    req.extensions_mut().insert(principal);
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// The principal of the request's bearer key; 401 when there is none or it is not accepted.
fn principal_of(req: &ServiceRequest) -> Result<Principal, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .and_then(|state| {
            state
                .settings
                .admin_keys
                .authenticate_request(req.request())
        })
        .map(crate::auth::AdminKey::principal)
        .ok_or_else(ApiError::unauthorized)
}

/// Whether `path` (an OpenAPI path) is in the group admitting managers (see
/// [`crate::routes::configure`]).
pub fn is_lead_path(path: &str) -> bool {
    path == "/api/v1/admin/leads"
        || path.starts_with("/api/v1/admin/leads/")
        || path == "/api/v1/admin/personal-data"
}

/// Documents the 403 on every admin-only operation, so a new one gets it without a word in
/// its annotation.
pub struct RoleDocs;

impl utoipa::Modify for RoleDocs {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};

        let forbidden = ResponseBuilder::new()
            .description("A `manager` key: only admins may use this endpoint (`forbidden`)")
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorResponse"))),
            )
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/admin/") || is_lead_path(path) {
                continue;
            }
            let operations = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.patch.as_mut(),
                item.put.as_mut(),
                item.delete.as_mut(),
            ];
            for operation in operations.into_iter().flatten() {
                operation
                    .responses
                    .responses
                    .entry("403".to_owned())
                    .or_insert_with(|| RefOr::T(forbidden.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managers_are_admitted_only_to_the_leads_group() {
        assert!(Access::Leads.admits(Role::Manager));
        assert!(Access::Leads.admits(Role::Admin));
        assert!(Access::AdminOnly.admits(Role::Admin));
        assert!(!Access::AdminOnly.admits(Role::Manager));
    }
}
