//! `POST /api/v1/leads`: the website's sign-up form.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, SubsecRound, Utc};
use cohai_domain::{Lead, LeadStatus};
use cohai_services::{LeadForm, SubmitOutcome};
use serde::Serialize;
use utoipa::ToSchema;

use crate::body::JsonBody;
use crate::error::ApiError;
use crate::openapi::ErrorResponse;
use crate::state::AppState;

/// What the form's sender learns about its lead.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadReceipt {
    /// The lead's id.
    pub id: i64,
    /// Its status.
    pub status: LeadStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl LeadReceipt {
    fn of(lead: &Lead) -> Self {
        Self {
            id: lead.id,
            status: lead.status,
            created_at: lead.created_at,
        }
    }
}

/// The lead form's resource, behind its rate limit (when one is configured).
pub fn rate_limited_resource() -> impl actix_web::dev::HttpServiceFactory {
    // The rate limit outside the idempotency keys: replays count towards the limit.
    super::resource("/api/v1/leads")
        .wrap(actix_web::middleware::from_fn(|req, next| {
            crate::idempotency::idempotent(crate::idempotency::Clients::Public, req, next)
        }))
        .wrap(actix_web::middleware::from_fn(
            crate::rate_limit::limit_lead_submissions,
        ))
        .route(web::post().to(submit))
}

/// A decoy id for honeypot submissions, in the range real ids occupy.
fn decoy_id() -> i64 {
    i64::from(uuid::Uuid::new_v4().as_u128() as u16) + 1000
}

/// Submits the sign-up form.
///
/// A repeated submission with the same phone while an earlier lead is open and less than
/// 24 hours old creates no lead: it answers 200 with the existing lead and records the
/// submission in that lead's history. Unknown fields are ignored.
#[utoipa::path(post, path = "/api/v1/leads", operation_id = "submitLead", tag = "leads",
    request_body(content = LeadForm, content_type = "application/json"),
    responses(
        (status = 201, description = "Lead created", body = LeadReceipt),
        (status = 200, description = "An open lead of this phone exists; the submission was added to it", body = LeadReceipt),
        (status = 400, description = "Not JSON, malformed JSON or a wrong field type", body = ErrorResponse),
        (status = 408, description = "The body did not arrive within the read deadline (`body_read_timeout_ms`); the connection is closed", body = ErrorResponse),
        (status = 413, description = "Body over the limit (64 KiB)", body = ErrorResponse),
        (status = 422, description = "Invalid or missing fields", body = ErrorResponse),
        (status = 429, description = "Too many submissions from this address; see Retry-After", body = ErrorResponse,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn submit(
    state: web::Data<AppState>,
    body: JsonBody<LeadForm>,
) -> Result<HttpResponse, ApiError> {
    // Validated by the service; stored by the storage's lead writer, batched with other
    // submissions. No blocking thread waits meanwhile.
    let (status, receipt) = match state.leads.submit(body.into_inner()).await? {
        SubmitOutcome::Created(lead) => {
            state.metrics.lead_created(lead.source.as_str());
            (StatusCode::CREATED, LeadReceipt::of(&lead))
        }
        SubmitOutcome::Joined(lead) => (StatusCode::OK, LeadReceipt::of(&lead)),
        // A bot filled the honeypot: it must not learn that it was caught.
        SubmitOutcome::Dropped => (
            StatusCode::CREATED,
            LeadReceipt {
                id: decoy_id(),
                status: LeadStatus::New,
                created_at: Utc::now().trunc_subsecs(6),
            },
        ),
    };
    Ok(HttpResponse::build(status).json(receipt))
}
