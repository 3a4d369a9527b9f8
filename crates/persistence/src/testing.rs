//! Throw-away databases for tests: a temp SQLite file, or a uniquely named PostgreSQL
//! database that is dropped afterwards. Enabled by the `test-support` feature.
//!
//! PostgreSQL is reached at `COHAI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); when it cannot be reached the tests fail
//! rather than skip, so a green run always means both backends were tested.

pub mod builders;

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::sql_types::BigInt;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};

use chrono::Duration;
use cohai_domain::ports::{LeadRepository, SubmitError};
use cohai_domain::{Lead, NewLead, Submission};

use crate::{Database, DatabaseUrl, PoolSettings};

/// Default administrative URL of the test PostgreSQL server.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh SQLite file in a temp folder.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// The administrative PostgreSQL URL for tests, with `sslmode=disable` unless it names an
/// `sslmode`.
///
/// The test server is on loopback without TLS, and libpq's default (`prefer`) sets up OpenSSL
/// for every connection it opens. A test binary that exits while the pool is still opening
/// one (r2d2 connects on threads of its own) then crashes with SIGSEGV inside OpenSSL, whose
/// globals the exit has already freed (`CRYPTO_THREAD_write_lock` on a null lock: seen once
/// in ~40 runs of the rate-limit concurrency test). Without TLS, OpenSSL is never touched.
pub fn postgres_admin_url() -> String {
    let url = std::env::var("COHAI_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    without_tls(url)
}

/// `url` with `sslmode=disable` added when it names no `sslmode`.
fn without_tls(url: String) -> String {
    if url.contains("sslmode=") {
        url
    } else if url.contains('?') {
        format!("{url}&sslmode=disable")
    } else {
        format!("{url}?sslmode=disable")
    }
}

/// A database that exists for the lifetime of this value.
pub struct TestDatabase {
    /// The opened database.
    pub db: Database,
    /// Its URL (pass it to a server process under test).
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A fresh, migrated database.
    pub fn new(backend: Backend) -> Self {
        let test_db = Self::unmigrated(backend);
        test_db
            .db
            .migrate()
            .expect("migrations apply to a fresh test database");
        test_db
    }

    /// A fresh database without tables.
    pub fn unmigrated(backend: Backend) -> Self {
        Self::with_settings(
            backend,
            &PoolSettings {
                max_size: 16,
                ..PoolSettings::default()
            },
        )
    }

    /// A fresh database without tables, opened with `settings`.
    pub fn with_settings(backend: Backend, settings: &PoolSettings) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path: PathBuf = dir.path().join("data").join("cohai-test.db");
                let url = format!("sqlite://{}", path.display());
                let db = Database::open(DatabaseUrl::parse(&url), settings)
                    .expect("open test SQLite database");
                Self {
                    db,
                    url,
                    cleanup: Cleanup::Sqlite(dir),
                }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let name = format!("cohai_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::establish(&admin_url).unwrap_or_else(|e| {
                    panic!("PostgreSQL for tests is not reachable at {admin_url}: {e}")
                });
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create test database");
                let url = replace_database(&admin_url, &name);
                let db = Database::open(DatabaseUrl::parse(&url), settings)
                    .expect("open test PostgreSQL database");
                Self {
                    db,
                    url,
                    cleanup: Cleanup::Postgres { admin_url, name },
                }
            }
        }
    }
}

/// `url` with its database name replaced by `name`.
pub fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            // Close what the pool holds, then force out anything left (e.g. a killed server's).
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// The PostgreSQL advisory lock a timetable generation run holds for its transaction (a test
/// takes it to play another instance's run in progress).
pub const TIMETABLE_GENERATION_LOCK: i64 = crate::repos::GENERATION_LOCK;

/// Runs a future to completion on this thread (tests only).
pub use pollster::block_on;

/// How long before a submission's `created_at` an open lead of its phone may have been created
/// for the submission to join it: the lead service's `DEDUP_WINDOW` (in `cohai-services`, which
/// this crate cannot see).
pub const DEDUP_WINDOW: Duration = Duration::hours(24);

/// Lead writes for tests, blocking this thread until they are done (the server awaits a
/// submission instead). All but [`submit_and_wait`](Self::submit_and_wait) panic when the
/// write fails or has another outcome than they name.
pub trait TestLeads {
    /// [`LeadRepository::submit`] as the website submits (joining an open lead of the phone
    /// created within [`DEDUP_WINDOW`] before `new.created_at`), waiting for the outcome.
    fn submit_and_wait(&self, new: &NewLead) -> Result<Submission, SubmitError>;

    /// A submission that is stored, as a new lead or on an open one.
    fn submitted(&self, new: &NewLead) -> Submission {
        self.submit_and_wait(new).expect("submit")
    }

    /// A submission that stores a new lead: that lead.
    fn submitted_new(&self, new: &NewLead) -> Lead {
        match self.submitted(new) {
            Submission::Created(lead) => lead,
            Submission::Resubmitted(lead) => {
                panic!("expected a new lead, got a resubmission of {lead:?}")
            }
        }
    }

    /// A submission that joins an open lead of its phone: that lead.
    fn resubmitted(&self, new: &NewLead) -> Lead {
        match self.submitted(new) {
            Submission::Resubmitted(lead) => lead,
            Submission::Created(lead) => panic!("expected a resubmission, got a new lead {lead:?}"),
        }
    }

    /// [`LeadRepository::create`] by `actor`: the stored lead.
    fn created(&self, new: &NewLead, actor: &str) -> Lead;
}

impl TestLeads for dyn LeadRepository {
    fn submit_and_wait(&self, new: &NewLead) -> Result<Submission, SubmitError> {
        pollster::block_on(self.submit(new.clone(), new.created_at - DEDUP_WINDOW))
    }

    fn created(&self, new: &NewLead, actor: &str) -> Lead {
        self.create(new, actor).expect("create lead")
    }
}

/// The lead a submission stored or joined.
pub fn lead_of(submission: &Submission) -> &Lead {
    match submission {
        Submission::Created(lead) | Submission::Resubmitted(lead) => lead,
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The value of a `SELECT COUNT(*) AS n …` query.
pub fn count(db: &Database, sql: &str) -> i64 {
    let mut conn = db.pool().get().expect("raw connection");
    let rows: Vec<Count> = diesel::sql_query(sql).load(&mut **conn).expect(sql);
    rows.first().map(|r| r.n).expect("one row")
}

#[derive(QueryableByName)]
struct Prepared {
    #[diesel(sql_type = diesel::sql_types::Text)]
    statement: String,
    #[diesel(sql_type = BigInt)]
    runs: i64,
}

/// The statements PostgreSQL holds prepared on `conn` (`pg_prepared_statements`), each with
/// how often it ran (generic and custom plans).
pub fn prepared_statements(conn: &mut crate::AnyConnection) -> Vec<(String, i64)> {
    diesel::sql_query(
        "SELECT statement, generic_plans + custom_plans AS runs FROM pg_prepared_statements",
    )
    .load::<Prepared>(conn)
    .expect("pg_prepared_statements")
    .into_iter()
    .map(|p| (p.statement, p.runs))
    .collect()
}

/// Runs raw SQL (one or more statements) on `db`; panics when it fails.
pub fn execute(db: &Database, sql: &str) {
    let mut conn = db.pool().get().expect("raw connection");
    conn.batch_execute(sql).expect(sql);
}

/// Declares `sqlite` and `postgres` test modules running each named test function
/// (`fn(Backend)`) on that backend.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name($crate::testing::Backend::Sqlite) })+
        }
        mod postgres {
            $(#[test] fn $name() { super::$name($crate::testing::Backend::Postgres) })+
        }
    };
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn test_urls_turn_tls_off_unless_they_choose() {
        use super::without_tls;
        assert_eq!(
            without_tls("postgres://u@h/p".to_owned()),
            "postgres://u@h/p?sslmode=disable"
        );
        assert_eq!(
            without_tls("postgres://u@h/p?application_name=t".to_owned()),
            "postgres://u@h/p?application_name=t&sslmode=disable"
        );
        assert_eq!(
            without_tls("postgres://u@h/p?sslmode=require".to_owned()),
            "postgres://u@h/p?sslmode=require"
        );
    }

    #[test]
    fn replaces_the_database_name_keeping_the_query() {
        assert_eq!(
            replace_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
