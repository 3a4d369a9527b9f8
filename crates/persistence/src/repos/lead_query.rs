//! The admin lead list's queries: its filters and orders, pages by offset (the list) and pages
//! by key (the export).
//!
//! The `next_contact_at` orders put leads without a call-back last in both directions. Rather
//! than sort on an expression (which no index serves), such an order is read in two parts, each
//! along an index: the leads with a call-back by `(next_contact_at, id)`, then those without
//! one by `id`.

use cohai_domain::lead::OverdueFilter;
use cohai_domain::{AssigneeFilter, LeadCursor, LeadFilter, LeadPage, LeadSort, LeadStatus};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::lead::LeadRow;
use super::{to_db_time, to_domain_vec};
use crate::connection::AnyConnection;
use crate::error::StoreError;
use crate::schema::leads;

type Backend = <AnyConnection as Connection>::Backend;
type LeadQuery = leads::BoxedQuery<'static, Backend>;

/// The open statuses as SQL: `'new', 'contacted', 'trial_scheduled'`.
fn open_statuses() -> String {
    let open: Vec<String> = LeadStatus::OPEN
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    open.join(", ")
}

/// `(leads.status || '') IN ('new', 'contacted', 'trial_scheduled')`: the predicate of the
/// partial index `leads_overdue_idx` (with `next_contact_at IS NOT NULL`), written exactly as
/// the index states it (a planner uses a partial index only for a query that says the same,
/// and not with bound parameters). As an expression rather than the bare column, the status
/// index cannot serve it: without table statistics SQLite would otherwise take that index, as
/// if a status were rare, and read every open lead.
fn open_status_sql() -> String {
    format!("(leads.status || '') IN ({})", open_statuses())
}

/// How a filter's conditions may be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// By any index the planner likes (a list page, a count).
    Indexed,
    /// By none: each condition is written as `(…) = TRUE`, which no index serves, so that the
    /// only index left for the query is that of its order, walked from the page's key. An
    /// export page then costs the leads it passes, whatever the planner knows of the data; else
    /// SQLite, without statistics, would read every lead of a status through the status index
    /// and sort them, for every page.
    Walk,
}

/// `overdue=true`: open with a call-back before now; `false`: every other lead.
fn overdue(query: LeadQuery, filter: &OverdueFilter, access: Access) -> LeadQuery {
    let now = to_db_time(filter.now);
    match (filter.overdue, access) {
        (true, Access::Indexed) => query
            .filter(sql::<Bool>(&open_status_sql()))
            .filter(leads::next_contact_at.is_not_null())
            .filter(leads::next_contact_at.lt(now)),
        (true, Access::Walk) => query.filter(
            sql::<Bool>(&format!("leads.status IN ({})", open_statuses()))
                .and(leads::next_contact_at.lt(now))
                .eq(true),
        ),
        (false, _) => query.filter(
            sql::<Bool>(&format!("leads.status NOT IN ({})", open_statuses()))
                .or(leads::next_contact_at.is_null())
                .or(leads::next_contact_at.ge(now)),
        ),
    }
}

/// Applies a filter to any lead query, so a page, its count and the export share one definition.
pub(super) fn filtered(filter: &LeadFilter) -> LeadQuery {
    filtered_with(filter, Access::Indexed)
}

/// [`filtered`], its conditions served as `access` says.
fn filtered_with(filter: &LeadFilter, access: Access) -> LeadQuery {
    let mut query = leads::table.into_boxed();
    let walk = access == Access::Walk;
    // Adds a condition, as `(…) = TRUE` when walking.
    macro_rules! keep {
        ($condition:expr) => {
            query = if walk {
                query.filter($condition.eq(true))
            } else {
                query.filter($condition)
            }
        };
    }
    if !filter.statuses.is_empty() {
        let statuses: Vec<&'static str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        keep!(leads::status.eq_any(statuses));
    }
    if let Some(source) = filter.source {
        keep!(leads::source.eq(source.as_str()));
    }
    if let Some(id) = filter.location_id {
        keep!(leads::location_id.eq(id));
    }
    if let Some(ids) = &filter.location_limit {
        keep!(leads::location_id.eq_any(ids.clone()));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        query = query.filter(leads::search_text.like(like_pattern(q)).escape('\\'));
    }
    if let Some(from) = filter.created_from {
        keep!(leads::created_at.ge(to_db_time(from)));
    }
    if let Some(to) = filter.created_to {
        keep!(leads::created_at.lt(to_db_time(to)));
    }
    match &filter.assignee {
        Some(AssigneeFilter::Named(name)) => keep!(leads::assignee.eq(name.clone())),
        Some(AssigneeFilter::Unassigned) => keep!(leads::assignee.is_null()),
        None => {}
    }
    if let Some(due) = &filter.overdue {
        query = overdue(query, due, access);
    }
    if let Some(from) = filter.next_contact_from {
        keep!(leads::next_contact_at.ge(to_db_time(from)));
    }
    if let Some(to) = filter.next_contact_to {
        keep!(leads::next_contact_at.lt(to_db_time(to)));
    }
    query
}

/// `%q%` for a case-insensitive substring search, with LIKE's wildcards escaped.
pub(super) fn like_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for ch in q.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// The leads of `filter` that have a call-back, in `next_contact_at` order (ties by id).
fn with_call_back(filter: &LeadFilter, access: Access, descending: bool) -> LeadQuery {
    let query = filtered_with(filter, access).filter(leads::next_contact_at.is_not_null());
    if descending {
        query.order((leads::next_contact_at.desc(), leads::id.desc()))
    } else {
        query.order((leads::next_contact_at.asc(), leads::id.asc()))
    }
}

/// The leads of `filter` without a call-back, by id.
fn without_call_back(filter: &LeadFilter, access: Access, descending: bool) -> LeadQuery {
    let query = filtered_with(filter, access).filter(leads::next_contact_at.is_null());
    if descending {
        query.order(leads::id.desc())
    } else {
        query.order(leads::id.asc())
    }
}

/// `filtered(filter)` in its order (for `next_contact_at`: the leads with a call-back).
fn ordered(filter: &LeadFilter, access: Access) -> LeadQuery {
    let query = filtered_with(filter, access);
    match filter.sort {
        LeadSort::CreatedAsc => query.order((leads::created_at.asc(), leads::id.asc())),
        LeadSort::CreatedDesc => query.order((leads::created_at.desc(), leads::id.desc())),
        LeadSort::UpdatedAsc => query.order((leads::updated_at.asc(), leads::id.asc())),
        LeadSort::UpdatedDesc => query.order((leads::updated_at.desc(), leads::id.desc())),
        LeadSort::NextContactAsc => with_call_back(filter, access, false),
        LeadSort::NextContactDesc => with_call_back(filter, access, true),
    }
}

/// A filtered, ordered page by `limit` and `offset`, and the total.
pub(super) fn search(c: &mut AnyConnection, filter: &LeadFilter) -> Result<LeadPage, StoreError> {
    let total: i64 = filtered(filter).count().get_result(c)?;
    let rows: Vec<LeadRow> = match filter.sort {
        LeadSort::NextContactAsc | LeadSort::NextContactDesc => {
            let descending = filter.sort.is_descending();
            let dated: i64 = filtered(filter)
                .filter(leads::next_contact_at.is_not_null())
                .count()
                .get_result(c)?;
            let mut rows = Vec::new();
            if filter.offset < dated {
                rows = with_call_back(filter, Access::Indexed, descending)
                    .limit(filter.limit)
                    .offset(filter.offset)
                    .load(c)?;
            }
            let missing = filter.limit - rows.len() as i64;
            if missing > 0 {
                let more: Vec<LeadRow> = without_call_back(filter, Access::Indexed, descending)
                    .limit(missing)
                    .offset((filter.offset - dated).max(0))
                    .load(c)?;
                rows.extend(more);
            }
            rows
        }
        _ => ordered(filter, Access::Indexed)
            .limit(filter.limit)
            .offset(filter.offset)
            .load(c)?,
    };
    Ok(LeadPage {
        items: to_domain_vec(rows)?,
        total,
    })
}

/// `query` after `(value, id)` in `column`'s order: `column >= value AND (column > value OR
/// id > last_id)` ascending (mirrored descending). The first condition is a range on the order's
/// index, so a page starts where the last one ended instead of reading from the beginning.
macro_rules! after_key {
    ($query:expr, $column:expr, $value:expr, $id:expr, $descending:expr) => {
        if $descending {
            $query.filter(
                $column
                    .le($value)
                    .and($column.lt($value).or(leads::id.lt($id))),
            )
        } else {
            $query.filter(
                $column
                    .ge($value)
                    .and($column.gt($value).or(leads::id.gt($id))),
            )
        }
    };
}

/// Up to `limit` leads of `filter` in its order, right after `after` (keyset paging).
pub(super) fn export_page(
    c: &mut AnyConnection,
    filter: &LeadFilter,
    after: Option<&LeadCursor>,
    limit: i64,
) -> Result<Vec<LeadRow>, StoreError> {
    let descending = filter.sort.is_descending();
    let rows = match filter.sort {
        LeadSort::CreatedAsc | LeadSort::CreatedDesc => {
            let query = ordered(filter, Access::Walk);
            match after {
                Some(a) => after_key!(
                    query,
                    leads::created_at,
                    to_db_time(a.created_at),
                    a.id,
                    descending
                ),
                None => query,
            }
            .limit(limit)
            .load(c)?
        }
        LeadSort::UpdatedAsc | LeadSort::UpdatedDesc => {
            let query = ordered(filter, Access::Walk);
            match after {
                Some(a) => after_key!(
                    query,
                    leads::updated_at,
                    to_db_time(a.updated_at),
                    a.id,
                    descending
                ),
                None => query,
            }
            .limit(limit)
            .load(c)?
        }
        LeadSort::NextContactAsc | LeadSort::NextContactDesc => {
            next_contact_page(c, filter, after, limit, descending)?
        }
    };
    Ok(rows)
}

/// An export page in a `next_contact_at` order: the leads with a call-back, then the others.
fn next_contact_page(
    c: &mut AnyConnection,
    filter: &LeadFilter,
    after: Option<&LeadCursor>,
    limit: i64,
    descending: bool,
) -> Result<Vec<LeadRow>, StoreError> {
    // The last lead had a call-back (or there is none yet): continue among those with one,
    // then start on the others; else continue among the others.
    let (mut rows, undated_after): (Vec<LeadRow>, Option<i64>) =
        match after.map(|a| (a.next_contact_at, a.id)) {
            None => (
                with_call_back(filter, Access::Walk, descending)
                    .limit(limit)
                    .load(c)?,
                None,
            ),
            Some((Some(at), id)) => (
                after_key!(
                    with_call_back(filter, Access::Walk, descending),
                    leads::next_contact_at,
                    to_db_time(at),
                    id,
                    descending
                )
                .limit(limit)
                .load(c)?,
                None,
            ),
            Some((None, id)) => (Vec::new(), Some(id)),
        };
    let missing = limit - rows.len() as i64;
    if missing > 0 {
        let query = without_call_back(filter, Access::Walk, descending);
        let query = match (undated_after, descending) {
            (Some(id), true) => query.filter(leads::id.lt(id)),
            (Some(id), false) => query.filter(leads::id.gt(id)),
            (None, _) => query,
        };
        let more: Vec<LeadRow> = query.limit(missing).load(c)?;
        rows.extend(more);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::{like_pattern, open_status_sql};

    #[test]
    fn like_pattern_escapes_wildcards_and_lowercases() {
        assert_eq!(like_pattern("Ан_на%"), "%ан\\_на\\%%");
    }

    #[test]
    fn the_open_statuses_are_named_as_the_overdue_index_names_them() {
        // As the latest migration that builds the index states it.
        for migration in [
            include_str!(
                "../../../../migrations/sqlite/2026-12-02-000002_sparse_lead_indexes/up.sql"
            ),
            include_str!(
                "../../../../migrations/postgres/2026-12-02-000002_sparse_lead_indexes/up.sql"
            ),
        ] {
            let predicate = open_status_sql().replace("leads.", "");
            assert!(
                migration.contains(&format!(
                    "WHERE {predicate} AND next_contact_at IS NOT NULL;"
                )),
                "{predicate}"
            );
        }
    }
}
