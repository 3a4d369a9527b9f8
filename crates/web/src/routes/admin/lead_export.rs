//! `GET /api/v1/admin/leads/export.csv`: every lead of the list's filters, as a spreadsheet.
//!
//! Streamed: a producer task reads the leads page by page ([`EXPORT_PAGE_SIZE`] at a time, by
//! key, so the thousandth page costs what the first does), each page on the blocking pool
//! (the database read and its CSV), and hands the bytes to the response through a channel of
//! [`PAGES_AHEAD`] pages. When the client reads slowly the channel is full and the producer
//! waits — as a future, holding neither a thread nor a database connection (each page checks
//! one out and returns it). Memory stays at a few pages whatever the export's size. When the
//! client goes away the channel closes and the producer stops at its next page.
//!
//! The first page is read before the answer starts, so a bad filter is an ordinary JSON
//! error; a failure after that can only cut the stream short, which the client sees as an
//! incomplete (chunked) download rather than a short file.

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use cohai_domain::{Lead, LeadCursor, LeadFilter, LeadScope};
use cohai_services::leads::EXPORT_PAGE_SIZE;
use cohai_services::{LeadService, ServiceError};
use futures_util::stream;
use tokio::sync::mpsc;

use super::leads::{LeadCriteria, PRIVATE, criteria_from};
use crate::auth::Admin;
use crate::blocking::blocking;
use crate::error::ApiError;
use crate::lead_csv;
use crate::openapi::ErrorResponse;
use crate::routes::query;
use crate::state::AppState;

/// Pages read ahead of the client.
pub const PAGES_AHEAD: usize = 2;

/// One page as it goes out: its CSV, and where the next one starts (`None`: it was the last).
struct Chunk {
    bytes: web::Bytes,
    next: Option<LeadCursor>,
}

/// Reads one page and writes its CSV (on a blocking thread: both take time).
fn read_page(
    leads: &dyn LeadService,
    filter: &LeadFilter,
    after: Option<&LeadCursor>,
) -> Result<Chunk, ServiceError> {
    // The handler put the key's scope into the filter; the service applies it again.
    let scope = LeadScope::from_locations(filter.location_limit.as_deref());
    let page: Vec<Lead> = leads.export_page(filter, after, &scope)?;
    let next = (page.len() as i64 == EXPORT_PAGE_SIZE)
        .then(|| page.last().map(LeadCursor::from))
        .flatten();
    let mut bytes = if after.is_none() {
        lead_csv::header().map_err(|e| ServiceError::Internal(e.to_string()))?
    } else {
        Vec::new()
    };
    bytes.extend(lead_csv::rows(&page).map_err(|e| ServiceError::Internal(e.to_string()))?);
    Ok(Chunk {
        bytes: bytes.into(),
        next,
    })
}

/// Sends `first`, then reads and sends the pages after it until the last one, an error (which
/// ends the stream with an error) or a closed channel (the client went away).
async fn produce(
    state: web::Data<AppState>,
    filter: LeadFilter,
    first: Chunk,
    out: mpsc::Sender<Result<web::Bytes, std::io::Error>>,
) {
    let mut chunk = first;
    loop {
        let next = chunk.next;
        if out.send(Ok(chunk.bytes)).await.is_err() {
            return;
        }
        let Some(after) = next else { return };
        let (leads, query) = (state.leads.clone(), filter.clone());
        let read = blocking(&state, move || read_page(&*leads, &query, Some(&after))).await;
        chunk = match read {
            Ok(chunk) => chunk,
            Err(error) => {
                log::error!("a lead export stopped after a failed page: {error}");
                let _ = out
                    .send(Err(std::io::Error::other("the export failed")))
                    .await;
                return;
            }
        };
    }
}

/// Every lead matching the filters, as CSV (the list's filters and order; no paging).
///
/// UTF-8 with a byte-order mark, a header row of the `Lead` field names (in the order of
/// `Lead`, the v1.1 fields last), lines ending in CRLF, RFC 4180 quoting. A cell beginning with
/// `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`, so a spreadsheet never
/// runs it as a formula (a phone reads `'+7…`). An empty value is an empty cell. Streamed page
/// by page: memory stays flat for any number of leads; a lead changed while the export runs
/// may appear where it was or where it is now.
#[utoipa::path(get, path = "/api/v1/admin/leads/export.csv", operation_id = "exportLeads", tag = "admin",
    security(("bearer" = [])),
    params(LeadCriteria),
    responses(
        (status = 200, description = "The leads as CSV", content_type = "text/csv; charset=utf-8", body = String,
            headers(("Content-Disposition" = String, description = "`attachment` with a file name"))),
        (status = 400, description = "A malformed parameter, an `assignee` that names no admin key, or `limit`/`offset` (the export is not paged)", body = ErrorResponse),
        (status = 401, description = "Missing or wrong admin key", body = ErrorResponse),
        (status = 404, description = "No such location", body = ErrorResponse),
    ))]
pub async fn export(
    admin: Admin,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = query(&req)?;
    for paging in ["limit", "offset"] {
        if params.get(paging).is_some() {
            return Err(ApiError::invalid_parameter(
                paging,
                "the export is not paged: it holds every matching lead",
            ));
        }
    }
    let mut filter = criteria_from(&params)?;
    filter.location_limit = admin.scope.location_limit();
    let (leads, query) = (state.leads.clone(), filter.clone());
    let first = blocking(&state, move || read_page(&*leads, &query, None)).await?;
    let (out, pages) = mpsc::channel(PAGES_AHEAD);
    actix_web::rt::spawn(produce(state.clone(), filter, first, out));
    let body = stream::unfold(pages, |mut pages| async move {
        pages.recv().await.map(|chunk| (chunk, pages))
    });
    let file = format!("leads-{}.csv", Utc::now().format("%Y%m%dT%H%M%SZ"));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(file)],
        })
        .insert_header((header::CACHE_CONTROL, PRIVATE))
        .streaming(body))
}
