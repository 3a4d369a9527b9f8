//! `GET /admin/leads`: the lead inbox — the API's filters, sort and paging, counts per status,
//! overdue call-backs highlighted.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use chrono::Utc;
use cohai_domain::{Lead, LeadFilter, LeadStatus};
use maud::{Markup, html};

use super::labels;
use super::layout::{self, Section};
use super::names::Names;
use super::page::{self, PageResult};
use super::session::Staff;
use crate::blocking::blocking;
use crate::params::QueryParams;
use crate::routes::admin::leads::filter_from;
use crate::routes::query;
use crate::state::AppState;

/// Leads per page.
const PAGE_SIZE: i64 = 25;

/// The sort orders offered, with their names.
const SORTS: [(&str, &str); 4] = [
    ("-created_at", "Сначала новые"),
    ("created_at", "Сначала старые"),
    ("next_contact_at", "По времени звонка"),
    ("-updated_at", "Недавно изменённые"),
];

/// The query string of `params` with each `(name, value)` of `changes` set (`None`: removed).
fn with_params(params: &QueryParams, changes: &[(&str, Option<&str>)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .pairs()
        .iter()
        .filter(|(k, _)| changes.iter().all(|(name, _)| k != name))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.extend(
        changes
            .iter()
            .filter_map(|(name, value)| value.map(|value| (*name, value))),
    );
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// [`with_params`] changing one parameter.
fn with_param(params: &QueryParams, name: &str, value: Option<&str>) -> String {
    with_params(params, &[(name, value)])
}

/// The inbox.
pub(super) async fn page(staff: Staff, req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    let params = query(&req)?.as_ref().clone().without_empty();
    let mut filter = filter_from(&params)?;
    if params.get("limit").is_none() {
        filter.limit = PAGE_SIZE;
    }
    filter.location_limit = staff.principal.scope.location_limit();
    let (leads, catalog, scope) = (
        state.leads.clone(),
        state.catalog_admin.clone(),
        staff.principal.scope.clone(),
    );
    let query = filter.clone();
    let (found, counts, names) = blocking(&state, move || {
        let found = leads.list(&query, &scope)?;
        // Counts per status of the studio and owner chosen: one indexed count each. A search
        // or the overdue filter narrows the list, not the counts (they would scan the leads
        // five times more: 1.4 s instead of 0.35 s for a search among a million).
        let mut counts = Vec::with_capacity(LeadStatus::ALL.len());
        for status in LeadStatus::ALL {
            let one = LeadFilter {
                statuses: vec![*status],
                location_id: query.location_id,
                assignee: query.assignee.clone(),
                location_limit: query.location_limit.clone(),
                limit: 1,
                offset: 0,
                ..LeadFilter::default()
            };
            counts.push((*status, leads.list(&one, &scope)?.total));
        }
        Ok((found, counts, Names::studios(&catalog)?))
    })
    .await?;
    // The owners a filter may name: keys that can own a lead of a studio this key sees.
    let assignees: Vec<String> = state
        .settings
        .admin_keys
        .iter()
        .filter(|key| {
            names
                .studios_in(&staff.principal.scope)
                .any(|studio| key.scope().allows(Some(studio.id)))
        })
        .map(|key| key.name().to_owned())
        .collect();
    let body = html! {
        h1 { "Лиды" }
        (status_counts(&params, &counts))
        (filters(&params, &names, &staff, &assignees))
        p.total { "Найдено: " (found.total) }
        @if found.items.is_empty() {
            p.empty { "Лидов с такими условиями нет." }
        } @else {
            (table(&found.items, &names))
        }
        (paging(&params, filter.offset, filter.limit, found.total))
    };
    Ok(page::html(
        StatusCode::OK,
        layout::page(&staff, Section::Leads, "Лиды", body),
    ))
}

/// Counts per status (of the studio and owner chosen), each a link to that status.
fn status_counts(params: &QueryParams, counts: &[(LeadStatus, i64)]) -> Markup {
    let chosen = params.get("status");
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    html! {
        nav.counts aria-label="Лиды по статусам" {
            a href={ "?" (with_params(params, &[("status", None), ("offset", None)])) }
                aria-current=[chosen.is_none().then_some("true")] {
                "Все " span.count { (total) }
            }
            @for (status, n) in counts {
                a href={ "?" (with_params(params, &[("status", Some(status.as_str())), ("offset", None)])) }
                    aria-current=[(chosen == Some(status.as_str())).then_some("true")] {
                    (labels::status(*status)) " " span.count { (n) }
                }
            }
        }
    }
}

fn filters(params: &QueryParams, names: &Names, staff: &Staff, assignees: &[String]) -> Markup {
    let value = |name| params.get(name).unwrap_or_default();
    // The filters beyond the search fold away (a phone shows the leads first), open while
    // one of them is set.
    let refined = ["status", "location_id", "assignee", "sort", "overdue"]
        .iter()
        .any(|name| params.get(name).is_some());
    html! {
        form.filters method="get" action="/admin/leads" role="search" {
            div.field.search {
                label for="q" { "Поиск" }
                input #q type="search" name="q" value=(value("q")) maxlength="200"
                    placeholder="Имя, телефон или e-mail";
            }
            details.more open[refined] {
                summary { "Фильтры и сортировка" }
                div.more-fields {
                    div.field {
                        label for="status" { "Статус" }
                        select #status name="status" {
                            option value="" { "Все" }
                            @for status in LeadStatus::ALL {
                                option value=(status.as_str()) selected[value("status") == status.as_str()] {
                                    (labels::status(*status))
                                }
                            }
                        }
                    }
                    div.field {
                        label for="location_id" { "Студия" }
                        select #location_id name="location_id" {
                            option value="" { "Все" }
                            @for location in names.studios_in(&staff.principal.scope) {
                                @let id = location.id.to_string();
                                option value=(id) selected[value("location_id") == id] { (location.name) }
                            }
                        }
                    }
                    div.field {
                        label for="assignee" { "Ответственный" }
                        select #assignee name="assignee" {
                            option value="" { "Все" }
                            option value="none" selected[value("assignee") == "none"] { "Без ответственного" }
                            @for name in assignees {
                                option value=(name) selected[value("assignee") == name.as_str()] { (name) }
                            }
                        }
                    }
                    div.field {
                        label for="sort" { "Сортировка" }
                        select #sort name="sort" {
                            @for (sort, label) in SORTS {
                                option value=(sort) selected[value("sort") == sort] { (label) }
                            }
                        }
                    }
                    div.field.check {
                        input #overdue type="checkbox" name="overdue" value="true"
                            checked[value("overdue") == "true"];
                        label for="overdue" { "Только просроченные" }
                    }
                }
            }
            button type="submit" { "Показать" }
        }
    }
}

/// Times are a studio's local time; a lead without a studio has them in UTC, which says so.
fn utc_mark(zone: chrono_tz::Tz) -> &'static str {
    if zone == chrono_tz::Tz::UTC {
        " UTC"
    } else {
        ""
    }
}

/// Whether the lead's call-back time has passed while it is still open.
fn overdue(lead: &Lead) -> bool {
    lead.status.is_open() && lead.next_contact_at.is_some_and(|at| at < Utc::now())
}

fn table(leads: &[Lead], names: &Names) -> Markup {
    html! {
        table.leads {
            caption.visually-hidden { "Лиды" }
            thead {
                tr {
                    th scope="col" { "Имя" }
                    th scope="col" { "Телефон" }
                    th scope="col" { "Студия" }
                    th scope="col" { "Статус" }
                    th scope="col" { "Ответственный" }
                    th scope="col" { "Перезвонить" }
                    th scope="col" { "Создан" }
                }
            }
            tbody {
                @for lead in leads {
                    @let zone = names.zone(lead.location_id);
                    tr data-lead-id=(lead.id) class=[overdue(lead).then_some("overdue")] {
                        td data-label="Имя" { a href={ "/admin/leads/" (lead.id) } { (lead.name) } }
                        td data-label="Телефон" { a href={ "tel:" (lead.phone) } { (lead.phone) } }
                        td data-label="Студия" {
                            @match lead.location_id {
                                Some(id) => (names.studio(id)),
                                None => span.muted { "—" },
                            }
                        }
                        td data-label="Статус" { span class={ "status status-" (lead.status.as_str()) } { (labels::status(lead.status)) } }
                        td data-label="Ответственный" { (lead.assignee.as_deref().unwrap_or("—")) }
                        td data-label="Перезвонить" {
                            @if let Some(at) = lead.next_contact_at {
                                (labels::local_time(at, zone)) (utc_mark(zone))
                                @if overdue(lead) { " " strong.badge { "Просрочен" } }
                            } @else { span.muted { "—" } }
                        }
                        td data-label="Создан" { (labels::local_time(lead.created_at, zone)) (utc_mark(zone)) }
                    }
                }
            }
        }
    }
}

fn paging(params: &QueryParams, offset: i64, limit: i64, total: i64) -> Markup {
    let earlier = (offset > 0).then(|| (offset - limit).max(0));
    let later = (offset + limit < total).then_some(offset + limit);
    html! {
        nav.paging aria-label="Страницы" {
            @if let Some(earlier) = earlier {
                a rel="prev" href={ "?" (with_param(params, "offset", Some(&earlier.to_string()))) } { "Назад" }
            }
            @if total > 0 {
                span { (offset + 1) "–" ((offset + limit).min(total)) " из " (total) }
            }
            @if let Some(later) = later {
                a rel="next" href={ "?" (with_param(params, "offset", Some(&later.to_string()))) } { "Дальше" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cohai_domain::LeadSort;

    #[test]
    fn links_keep_the_other_filters_and_replace_one() {
        let params = QueryParams::parse("q=%D0%B0&status=new&offset=25").expect("query");
        assert_eq!(
            with_param(&params, "status", Some("lost")),
            "q=%D0%B0&offset=25&status=lost"
        );
        assert_eq!(with_param(&params, "offset", None), "q=%D0%B0&status=new");
    }

    #[test]
    fn every_offered_sort_is_one_the_api_takes() {
        for (sort, _) in SORTS {
            assert!(LeadSort::parse(sort).is_some(), "{sort}");
        }
    }
}
