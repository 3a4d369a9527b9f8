//! The lead indexes that leave out NULLs (migration `2026-12-02-000002_sparse_lead_indexes`)
//! are defined so, and still serve every query that reads their column, on both backends:
//! each query's plan names its index. On PostgreSQL sequential scans are turned off for the plan, so that a
//! tiny test table cannot hide an index the planner could not use (it would then have to
//! scan anyway).

use cohai_persistence::testing::{Backend, TestDatabase};
use cohai_persistence::{AnyConnection, backend_tests};
use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, QueryableByName, RunQueryDsl};

/// SQLite's `EXPLAIN QUERY PLAN` row, by its `detail` column.
#[derive(QueryableByName)]
struct SqliteStep {
    #[diesel(sql_type = Text)]
    detail: String,
}

/// PostgreSQL's `EXPLAIN` line.
#[derive(QueryableByName)]
struct PostgresLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// The plan of `query` on `t` (a database of `backend`), one line per step.
fn plan(t: &TestDatabase, backend: Backend, query: &str) -> String {
    let mut conn = t.db.pool().get().expect("a connection");
    let conn: &mut AnyConnection = &mut conn;
    let lines: Vec<String> = match backend {
        Backend::Sqlite => diesel::sql_query(format!("EXPLAIN QUERY PLAN {query}"))
            .load::<SqliteStep>(conn)
            .expect("a plan")
            .into_iter()
            .map(|s| s.detail)
            .collect(),
        Backend::Postgres => conn
            .transaction(|c| {
                c.batch_execute("SET LOCAL enable_seqscan = off")?;
                diesel::sql_query(format!("EXPLAIN {query}")).load::<PostgresLine>(c)
            })
            .expect("a plan")
            .into_iter()
            .map(|l| l.line)
            .collect(),
    };
    lines.join("\n")
}

/// How `index` is defined, as the database reports it.
fn definition(t: &TestDatabase, backend: Backend, index: &str) -> String {
    #[derive(QueryableByName)]
    struct Definition {
        #[diesel(sql_type = Text)]
        sql: String,
    }
    let query = match backend {
        Backend::Sqlite => "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?",
        Backend::Postgres => "SELECT indexdef AS sql FROM pg_indexes WHERE indexname = $1",
    };
    let mut conn = t.db.pool().get().expect("a connection");
    let conn: &mut AnyConnection = &mut conn;
    diesel::sql_query(query)
        .bind::<Text, _>(index)
        .get_result::<Definition>(conn)
        .unwrap_or_else(|e| panic!("{index}: {e}"))
        .sql
}

fn the_indexes_of_optional_lead_columns_leave_out_nulls(backend: Backend) {
    let t = TestDatabase::new(backend);
    for (index, column) in [
        ("leads_program_type_idx", "program_type_id"),
        ("leads_class_session_idx", "class_session_id"),
        ("leads_next_contact_idx", "next_contact_at"),
        ("leads_overdue_idx", "next_contact_at"),
    ] {
        // PostgreSQL writes the predicate back with parentheses.
        let sql = definition(&t, backend, index).replace(['(', ')'], "");
        assert!(
            sql.contains(&format!("{column} IS NOT NULL")),
            "{index}: {sql}"
        );
    }
}

#[track_caller]
fn assert_uses(t: &TestDatabase, backend: Backend, query: &str, index: &str) {
    let plan = plan(t, backend, query);
    assert!(plan.contains(index), "{query}\nshould use {index}:\n{plan}");
}

fn a_leads_program_type_and_session_are_found_through_their_indexes(backend: Backend) {
    let t = TestDatabase::new(backend);
    // As the foreign keys' checks on deleting a program type or a session ask.
    assert_uses(
        &t,
        backend,
        "SELECT id FROM leads WHERE program_type_id = 7",
        "leads_program_type_idx",
    );
    assert_uses(
        &t,
        backend,
        "SELECT id FROM leads WHERE class_session_id = 7",
        "leads_class_session_idx",
    );
}

fn the_call_back_order_and_range_read_the_call_back_index(backend: Backend) {
    let t = TestDatabase::new(backend);
    assert_uses(
        &t,
        backend,
        "SELECT id FROM leads WHERE next_contact_at IS NOT NULL \
         ORDER BY next_contact_at, id LIMIT 20",
        "leads_next_contact_idx",
    );
    assert_uses(
        &t,
        backend,
        "SELECT id FROM leads WHERE next_contact_at >= '2026-12-01 00:00:00' \
         AND next_contact_at < '2026-12-02 00:00:00'",
        "leads_next_contact_idx",
    );
}

fn the_overdue_filter_reads_the_overdue_index(backend: Backend) {
    let t = TestDatabase::new(backend);
    // As `lead_query::overdue` writes it.
    assert_uses(
        &t,
        backend,
        "SELECT id FROM leads \
         WHERE (leads.status || '') IN ('new', 'contacted', 'trial_scheduled') \
         AND leads.next_contact_at IS NOT NULL AND leads.next_contact_at < '2026-12-01 12:00:00'",
        "leads_overdue_idx",
    );
}

backend_tests!(
    the_indexes_of_optional_lead_columns_leave_out_nulls,
    a_leads_program_type_and_session_are_found_through_their_indexes,
    the_call_back_order_and_range_read_the_call_back_index,
    the_overdue_filter_reads_the_overdue_index,
);
