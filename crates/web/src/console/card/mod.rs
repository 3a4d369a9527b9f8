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

use super::form::Fields;
use super::names::Names;
use super::page::{PageResult, Rejected, rejected};
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
    // The call-back time is in the studio's zone: the lead's studio as the form showed it.
    let zone = studio_zone(&state, &staff, id).await?;
    let (notice, status) = match patch_of(&fields, zone) {
        Outcome::Unchanged => return Ok(to_card(id, "nothing")),
        Outcome::Refused(messages) => (Notice::Refused(messages), StatusCode::UNPROCESSABLE_ENTITY),
        Outcome::Change(patch) => {
            let (leads, principal) = (state.leads.clone(), staff.principal.clone());
            let stored = blocking(&state, move || {
                rejected(leads.update(id, *patch, Some(version), &principal))
            })
            .await?;
            match stored {
                Ok(_) => return Ok(to_card(id, "1")),
                Err(Rejected::Stale) => (Notice::Conflict, StatusCode::CONFLICT),
                Err(Rejected::Invalid(messages)) => {
                    (Notice::Refused(messages), StatusCode::UNPROCESSABLE_ENTITY)
                }
            }
        }
    };
    // The lead as it is now (after a conflict: with the version to base a new attempt on),
    // with what was typed kept in the form.
    let card = load(&state, &staff, id).await?;
    let values = FormValues::typed(&fields, &card.lead, zone);
    Ok(render(&state, &staff, &card, &values, notice, status))
}

/// The time zone of the lead's studio (a lead and the studios: what a change needs of the
/// card; the history and the other names are loaded only to show the card again).
async fn studio_zone(state: &AppState, staff: &Staff, id: i64) -> Result<chrono_tz::Tz, ApiError> {
    let (leads, catalog, scope) = (
        state.leads.clone(),
        state.catalog_admin.clone(),
        staff.principal.scope.clone(),
    );
    blocking(state, move || {
        let lead = leads.get(id, &scope)?;
        Ok(Names::studios(&catalog)?.zone(lead.location_id))
    })
    .await
}

/// 303 back to the card, saying `saved`.
fn to_card(id: i64, saved: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/admin/leads/{id}?saved={saved}")))
        .finish()
}
