//! `/admin/leads/{id}`: the lead card — every field, the history, and one form for what a
//! manager changes (status, lost reason, owner, call-back, notes). The form carries the values
//! it was rendered with and the lead's version: only the fields the manager changed are sent
//! to the service, at that version, so two managers cannot overwrite each other silently, and
//! nothing typed is lost when the change is refused or meets a conflict.

mod patch;
mod view;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use cohai_domain::{Lead, LeadEvent};
use cohai_services::ServiceError;

use super::form::Fields;
use super::names::Names;
use super::page::{PageResult, messages_of};
use super::session::Staff;
use crate::blocking::blocking;
use crate::error::ApiError;
use crate::params::parse_id;
use crate::routes::query;
use crate::state::AppState;
use patch::{Outcome, patch_of};
use view::{FormValues, Notice, render};

/// The card's data.
struct Card {
    lead: Lead,
    events: Vec<LeadEvent>,
    names: Names,
}

async fn load(state: &AppState, staff: &Staff, id: i64) -> Result<Card, ApiError> {
    let (leads, catalog, scope) = (
        state.leads.clone(),
        state.catalog_admin.clone(),
        staff.principal.scope.clone(),
    );
    blocking(state, move || {
        let lead = leads.get(id, &scope)?;
        let events = leads.events(id, &scope)?;
        Ok(Card {
            lead,
            events,
            names: Names::everything(&catalog)?,
        })
    })
    .await
}

/// `GET /admin/leads/{id}`.
pub(super) async fn page(
    staff: Staff,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> PageResult {
    let id = parse_id("id", &id)?;
    let card = load(&state, &staff, id).await?;
    let notice = match query(&req)?.get("saved") {
        Some("nothing") => Notice::Unchanged,
        Some(_) => Notice::Saved,
        None => Notice::None,
    };
    let values = FormValues::of(&card.lead, card.names.zone(card.lead.location_id));
    Ok(render(
        &state,
        &staff,
        &card,
        &values,
        notice,
        StatusCode::OK,
    ))
}

/// `POST /admin/leads/{id}`: the card's form. Stored: back to the card (303). Refused: the
/// card with the reasons and the values as typed (422). Stale: the card as it is now, the
/// values as typed, and the conflict (409).
pub(super) async fn save(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    fields: Fields,
) -> PageResult {
    let id = parse_id("id", &id)?;
    let version = fields.version()?;
    let current = load(&state, &staff, id).await?;
    // The call-back time is in the studio's zone: the lead's studio as the form showed it.
    let zone = current.names.zone(current.lead.location_id);
    let typed = |card: &Card| FormValues::typed(&fields, &card.lead, zone);
    let patch = match patch_of(&fields, zone) {
        Outcome::Unchanged => return Ok(to_card(id, "nothing")),
        Outcome::Change(patch) => patch,
        Outcome::Refused(messages) => {
            let notice = Notice::Refused(messages);
            let values = typed(&current);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(render(&state, &staff, &current, &values, notice, status));
        }
    };
    let (leads, principal) = (state.leads.clone(), staff.principal.clone());
    let stored = blocking(&state, move || {
        match leads.update(id, *patch, Some(version), &principal) {
            Err(ServiceError::PreconditionFailed) => Ok(Err(Notice::Conflict)),
            Err(ServiceError::Validation(errors)) => {
                let error = ApiError::from(ServiceError::Validation(errors));
                Ok(Err(Notice::Refused(messages_of(&error))))
            }
            other => other.map(Ok),
        }
    })
    .await?;
    let notice = match stored {
        Ok(_) => return Ok(to_card(id, "1")),
        Err(notice) => notice,
    };
    let (card, status) = match notice {
        // The lead as it is now, with the version to base a new attempt on.
        Notice::Conflict => (load(&state, &staff, id).await?, StatusCode::CONFLICT),
        _ => (current, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let values = typed(&card);
    Ok(render(&state, &staff, &card, &values, notice, status))
}

/// 303 back to the card, saying `saved`.
fn to_card(id: i64, saved: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/admin/leads/{id}?saved={saved}")))
        .finish()
}
