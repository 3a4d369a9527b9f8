//! `GET /admin/stats`: the funnel by status, conversion by studio and by UTM source for a
//! period, as charts and tables, with the CSV export of the same leads.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use chrono::{Datelike, Days, NaiveDate, Utc};
use cohai_domain::LeadStatsFilter;
use cohai_domain::time::InstantOrDate;
use maud::html;

use super::chart::{self, Bar};
use super::labels;
use super::layout::{self, Section};
use super::names::Names;
use super::page::{self, PageResult};
use super::session::Staff;
use crate::blocking::blocking;
use crate::error::ApiError;
use crate::routes::query;
use crate::state::AppState;

/// The default period: the last 30 days.
const DEFAULT_DAYS: u64 = 30;

/// A date of the period: years 2000–2100 (the arithmetic on it cannot overflow).
fn date(raw: Option<&str>, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    raw.map(|raw| {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .filter(|day| (2000..=2100).contains(&day.year()))
            .ok_or_else(|| {
                ApiError::invalid_parameter(name, "must be a date YYYY-MM-DD in 2000–2100")
            })
    })
    .transpose()
}

/// The statistics page.
pub(super) async fn page(staff: Staff, req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let params = query(&req)?.as_ref().clone().without_empty();
    let location_id = params.id("location_id")?;
    let (leads, catalog, scope) = (
        state.leads.clone(),
        state.catalog_admin.clone(),
        staff.principal.scope.clone(),
    );
    let names = blocking(&state, move || Names::studios(&catalog)).await?;
    // The days of the period are the studio's (or, for several studios, the zone they share;
    // else UTC): the page says which.
    let zone = match location_id {
        Some(id) => names.zone(Some(id)),
        None => names.common_zone(&staff.principal.scope),
    };
    let today = Utc::now().with_timezone(&zone).date_naive();
    let to = date(params.get("created_to"), "created_to")?.unwrap_or(today);
    let from = match date(params.get("created_from"), "created_from")? {
        Some(from) => from,
        None => to
            .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(to),
    };
    let (start, end) = (
        InstantOrDate::Date(from).as_range_start(zone),
        InstantOrDate::Date(to).as_range_end(zone),
    );
    let filter = LeadStatsFilter {
        created_from: Some(start),
        created_to: Some(end),
        location_id,
        location_limit: None,
    };
    let stats = blocking(&state, move || leads.stats(&filter, &scope)).await?;
    // The export takes the same instants (the API reads a bare date in UTC).
    let mut export: Vec<(&str, String)> = vec![
        ("created_from", start.to_rfc3339()),
        ("created_to", end.to_rfc3339()),
    ];
    if let Some(id) = location_id {
        export.push(("location_id", id.to_string()));
    }
    let export_url = format!(
        "/admin/leads/export.csv?{}",
        serde_urlencoded::to_string(&export).unwrap_or_default()
    );
    let funnel: Vec<Bar> = stats
        .by_status
        .iter()
        .map(|(status, n)| Bar {
            label: labels::status(*status).to_owned(),
            value: *n,
            part: None,
        })
        .collect();
    let by_studio: Vec<Bar> = stats
        .by_location
        .iter()
        .map(|t| Bar {
            label: t
                .location_id
                .map_or_else(|| "Без студии".to_owned(), |id| names.studio(id)),
            value: t.total,
            part: Some(t.converted),
        })
        .collect();
    let by_utm: Vec<Bar> = stats
        .by_utm_source
        .iter()
        .map(|t| Bar {
            label: t
                .utm_source
                .clone()
                .unwrap_or_else(|| "Без метки".to_owned()),
            value: t.total,
            part: Some(t.converted),
        })
        .collect();
    let body = html! {
        h1 { "Статистика" }
        form.filters method="get" action="/admin/stats" {
            div.field {
                label for="created_from" { "С" }
                input #created_from type="date" name="created_from" value=(from);
            }
            div.field {
                label for="created_to" { "По" }
                input #created_to type="date" name="created_to" value=(to);
            }
            div.field {
                label for="location_id" { "Студия" }
                select #location_id name="location_id" {
                    option value="" { "Все" }
                    @for location in names.studios_in(&staff.principal.scope) {
                        option value=(location.id) selected[Some(location.id) == location_id] { (location.name) }
                    }
                }
            }
            button type="submit" { "Показать" }
        }
        p.hint { "Дни периода — по времени " (labels::zone(zone, start)) "." }
        p.summary {
            "Лидов: " strong { (stats.total) }
            " · конверсия в клиентов: " strong { (format!("{:.1} %", stats.conversion_rate * 100.0)) }
            @if let Some(minutes) = stats.median_first_contact_minutes {
                " · медиана до первого контакта: " strong { (format!("{minutes:.0} мин")) }
            }
        }
        p { a.button href=(export_url) download { "Скачать CSV" } " (те же лиды, все поля)" }
        div.charts {
            figure {
                figcaption { "Воронка" }
                (chart::bars("chart-funnel", "Лиды по статусам", &funnel))
            }
            figure {
                figcaption { "Конверсия по студиям" }
                (chart::bars("chart-studios", "Лиды и клиенты по студиям", &by_studio))
            }
            figure {
                figcaption { "Конверсия по источникам" }
                (chart::bars("chart-utm", "Лиды и клиенты по UTM-источникам", &by_utm))
            }
        }
        p.legend { span.swatch.total {} " все лиды " span.swatch.part {} " стали клиентами" }
        details {
            summary { "Таблица по студиям и источникам" }
            table.numbers {
                thead { tr { th scope="col" { "Студия / источник" } th scope="col" { "Лидов" } th scope="col" { "Клиентов" } } }
                tbody {
                    @for bar in by_studio.iter().chain(&by_utm) {
                        tr { td { (bar.label) } td { (bar.value) } td { (bar.part.unwrap_or_default()) } }
                    }
                }
            }
        }
    };
    Ok(page::html(
        StatusCode::OK,
        layout::page(&staff, Section::Stats, "Статистика", body),
    ))
}
