//! The leads' funnel statistics, counted by the database (API.md §3.1 `stats`).
//!
//! The counts are two `GROUP BY` queries over the leads of the window. The median time to the first
//! contact is the one place where the backends' SQL differs: PostgreSQL has `percentile_cont`;
//! on SQLite the leads are counted, then the middle one or two read by ORDER BY/OFFSET, their
//! minutes computed here exactly (SQLite's own date arithmetic is in floating-point days).
//! Both group the first contacts by `lead_events_first_contact_idx`, in lead order.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use cohai_domain::lead_stats::{GroupCount, LeadCounts};
use cohai_domain::{LeadSource, LeadStats, LeadStatsFilter, LeadStatus};
use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Bool, Double, Nullable, Timestamp};
use diesel::{PgConnection, SqliteConnection};

use super::{parse_stored, to_db_time};
use crate::connection::AnyConnection;
use crate::error::StoreError;
use crate::schema::leads;

type Backend = <AnyConnection as Connection>::Backend;

/// A condition on `leads`, boxed so that conditions can be chained at run time.
type Condition = Box<dyn BoxableExpression<leads::table, Backend, SqlType = Nullable<Bool>>>;

/// The leads the statistics count, as a condition (see [`WindowSql`] for its SQL twin).
fn window(f: &LeadStatsFilter) -> Condition {
    let mut condition: Condition = Box::new(sql::<Bool>("1 = 1").nullable());
    if let Some(from) = f.created_from {
        condition = Box::new(condition.and(leads::created_at.ge(to_db_time(from)).nullable()));
    }
    if let Some(to) = f.created_to {
        condition = Box::new(condition.and(leads::created_at.lt(to_db_time(to)).nullable()));
    }
    if let Some(id) = f.location_id {
        condition = Box::new(condition.and(leads::location_id.eq(id)));
    }
    if let Some(ids) = &f.location_limit {
        condition = Box::new(condition.and(leads::location_id.eq_any(ids.clone())));
    }
    condition
}

/// `COUNT` of the converted leads of a group.
fn converted_sql() -> String {
    format!(
        "COUNT(CASE WHEN leads.status = '{}' THEN 1 END)",
        LeadStatus::Converted.as_str()
    )
}

/// The statistics of the leads in `f`'s window: status, source and location in one scan (at
/// most statuses × sources × locations groups, summed up here), UTM sources in another (their
/// number is unbounded, so they are grouped alone).
pub(super) fn stats(c: &mut AnyConnection, f: &LeadStatsFilter) -> Result<LeadStats, StoreError> {
    let groups: Vec<(String, String, Option<i64>, i64)> = leads::table
        .filter(window(f))
        .group_by((leads::status, leads::source, leads::location_id))
        .select((
            leads::status,
            leads::source,
            leads::location_id,
            count_star(),
        ))
        .load(c)?;
    let by_utm_source: Vec<(Option<String>, i64, i64)> = leads::table
        .filter(window(f))
        .group_by(leads::utm_source)
        .select((
            leads::utm_source,
            count_star(),
            sql::<BigInt>(&converted_sql()),
        ))
        .load(c)?;
    let median_first_contact_minutes = match c {
        AnyConnection::Postgresql(c) => median_postgres(c, f)?,
        AnyConnection::Sqlite(c) => median_sqlite(c, f)?,
    };
    let mut counts = LeadCounts {
        by_utm_source: by_utm_source.into_iter().map(tally).collect(),
        median_first_contact_minutes,
        ..LeadCounts::default()
    };
    let mut locations: BTreeMap<Option<i64>, GroupCount> = BTreeMap::new();
    for (status, source, location_id, n) in groups {
        let status = parse_stored::<LeadStatus>(&status)?;
        counts.by_status.push((status, n));
        counts
            .by_source
            .push((parse_stored::<LeadSource>(&source)?, n));
        let location = locations.entry(location_id).or_default();
        location.total += n;
        if status == LeadStatus::Converted {
            location.converted += n;
        }
    }
    counts.by_location = locations.into_iter().collect();
    Ok(LeadStats::from_counts(counts))
}

/// A group's `(key, total, converted)` row as the domain counts it.
fn tally<K>((key, total, converted): (K, i64, i64)) -> (K, GroupCount) {
    (key, GroupCount { total, converted })
}

/// A value bound to a [`WindowSql`] placeholder.
enum Bind {
    Time(NaiveDateTime),
    Id(i64),
}

/// The window of [`window`] as SQL text on `leads l`, for the statements Diesel's query builder
/// cannot express; each condition comes with its placeholder's value.
struct WindowSql {
    conditions: Vec<String>,
    binds: Vec<Bind>,
    postgres: bool,
}

impl WindowSql {
    fn new(f: &LeadStatsFilter, postgres: bool) -> Self {
        let mut w = Self {
            conditions: Vec::new(),
            binds: Vec::new(),
            postgres,
        };
        if let Some(from) = f.created_from {
            let p = w.param(Bind::Time(to_db_time(from)));
            w.conditions.push(format!("l.created_at >= {p}"));
        }
        if let Some(to) = f.created_to {
            let p = w.param(Bind::Time(to_db_time(to)));
            w.conditions.push(format!("l.created_at < {p}"));
        }
        if let Some(id) = f.location_id {
            let p = w.param(Bind::Id(id));
            w.conditions.push(format!("l.location_id = {p}"));
        }
        if let Some(ids) = &f.location_limit {
            if ids.is_empty() {
                w.conditions.push("1 = 0".to_owned());
            } else {
                let ps: Vec<String> = ids.iter().map(|id| w.param(Bind::Id(*id))).collect();
                w.conditions
                    .push(format!("l.location_id IN ({})", ps.join(", ")));
            }
        }
        w
    }

    /// The placeholder of a new bind: `$n` on PostgreSQL, `?` on SQLite.
    fn param(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        if self.postgres {
            format!("${}", self.binds.len())
        } else {
            "?".to_owned()
        }
    }

    /// ` AND …` for each condition, to follow a `WHERE`.
    fn and(&self) -> String {
        self.conditions
            .iter()
            .map(|c| format!(" AND {c}"))
            .collect()
    }

    /// `sql` with this window's values bound.
    fn bound<'f, DB>(&self, sql: String) -> BoxedSqlQuery<'f, DB, SqlQuery>
    where
        DB: diesel::backend::Backend
            + diesel::sql_types::HasSqlType<Timestamp>
            + diesel::sql_types::HasSqlType<BigInt>,
        NaiveDateTime: diesel::serialize::ToSql<Timestamp, DB>,
        i64: diesel::serialize::ToSql<BigInt, DB>,
    {
        let mut query = diesel::sql_query(sql).into_boxed::<DB>();
        for bind in &self.binds {
            query = match bind {
                Bind::Time(at) => query.bind::<Timestamp, _>(*at),
                Bind::Id(id) => query.bind::<BigInt, _>(*id),
            };
        }
        query
    }
}

/// The first `status_changed` away from `new` of each lead (`lead_id`, `first_at`). The
/// conditions are those of the partial index `lead_events_first_contact_idx`, written the same
/// way so that the planners use it.
const FIRST_CONTACT_POSTGRES: &str = "SELECT lead_id, MIN(created_at) AS first_at FROM lead_events \
     WHERE kind = 'status_changed' AND (data::jsonb ->> 'from') = 'new' GROUP BY lead_id";

#[derive(QueryableByName)]
struct Median {
    #[diesel(sql_type = Nullable<Double>)]
    median: Option<f64>,
}

fn median_postgres(c: &mut PgConnection, f: &LeadStatsFilter) -> Result<Option<f64>, StoreError> {
    let w = WindowSql::new(f, true);
    let sql = format!(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY \
             CAST(EXTRACT(EPOCH FROM (f.first_at - l.created_at)) AS double precision) / 60) AS median \
         FROM leads l JOIN ({FIRST_CONTACT_POSTGRES}) f ON f.lead_id = l.id WHERE TRUE{}",
        w.and()
    );
    // The join and the sort hold one row per contacted lead: with the default 4 MB of working
    // memory both spill to disk, which doubles the time at a million leads.
    let row: Median = c.transaction(|c| {
        diesel::sql_query("SET LOCAL work_mem = '64MB'").execute(c)?;
        w.bound::<diesel::pg::Pg>(sql).get_result(c)
    })?;
    Ok(row.median)
}

#[derive(QueryableByName)]
struct Middle {
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    first_at: NaiveDateTime,
}

/// [`FIRST_CONTACT_POSTGRES`] for SQLite.
const FIRST_CONTACT_SQLITE: &str = "SELECT lead_id, MIN(created_at) AS first_at FROM lead_events \
     WHERE kind = 'status_changed' AND json_extract(data, '$.from') = 'new' GROUP BY lead_id";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn median_sqlite(c: &mut SqliteConnection, f: &LeadStatsFilter) -> Result<Option<f64>, StoreError> {
    let w = WindowSql::new(f, false);
    let from = format!(
        "FROM ({FIRST_CONTACT_SQLITE}) f JOIN leads l ON l.id = f.lead_id WHERE 1 = 1{}",
        w.and()
    );
    let Count { n } = w
        .bound::<diesel::sqlite::Sqlite>(format!("SELECT COUNT(*) AS n {from}"))
        .get_result(c)?;
    if n == 0 {
        return Ok(None);
    }
    // The middle one or two by SQLite's approximate minutes (no window function: it would keep
    // every row in memory); ties in them are equal real durations, so which of two tied leads
    // is read does not change the median.
    let (take, skip) = (2 - n % 2, (n - 1) / 2);
    let middle: Vec<Middle> = w
        .bound::<diesel::sqlite::Sqlite>(format!(
            "SELECT l.created_at AS created_at, f.first_at AS first_at {from} \
             ORDER BY julianday(f.first_at) - julianday(l.created_at), l.id \
             LIMIT {take} OFFSET {skip}"
        ))
        .load(c)?;
    let minutes: Vec<f64> = middle
        .iter()
        .map(|m| {
            let micros = (m.first_at - m.created_at)
                .num_microseconds()
                .unwrap_or(i64::MAX);
            micros as f64 / 60_000_000.0
        })
        .collect();
    // As `percentile_cont` interpolates, so both backends give the same number.
    Ok(match minutes.as_slice() {
        [] => None,
        [one] => Some(*one),
        [low, high, ..] => Some(low + (high - low) * 0.5),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_sql_numbers_postgres_placeholders_and_binds_every_condition() {
        let f = LeadStatsFilter {
            created_from: Some(chrono::DateTime::UNIX_EPOCH),
            created_to: None,
            location_id: Some(4),
            location_limit: Some(vec![4, 5]),
        };
        let pg = WindowSql::new(&f, true);
        assert_eq!(
            pg.and(),
            " AND l.created_at >= $1 AND l.location_id = $2 AND l.location_id IN ($3, $4)"
        );
        assert_eq!(pg.binds.len(), 4);
        let lite = WindowSql::new(&f, false);
        assert_eq!(
            lite.and(),
            " AND l.created_at >= ? AND l.location_id = ? AND l.location_id IN (?, ?)"
        );
        let none = WindowSql::new(
            &LeadStatsFilter {
                location_limit: Some(Vec::new()),
                ..LeadStatsFilter::default()
            },
            true,
        );
        assert_eq!(none.and(), " AND 1 = 0");
    }
}
