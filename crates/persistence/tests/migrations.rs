//! Migrations, the schema check and the readiness check, on both backends.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use cohai_domain::RepoError;
use cohai_persistence::testing::{Backend, TestDatabase};
use cohai_persistence::{ColumnType, Mismatch, backend_tests};
use common::exec;

fn migrations_dir(backend: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(backend)
}

/// Names of the migration folders of one backend, sorted.
fn migration_names(backend: &str) -> Vec<String> {
    let dir = migrations_dir(backend);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry"))
        .filter(|entry| entry.file_type().expect("file type").is_dir())
        .map(|entry| entry.file_name().into_string().expect("UTF-8 name"))
        .collect();
    names.sort();
    names
}

#[test]
fn sqlite_and_postgres_have_migrations_of_the_same_names() {
    let sqlite = migration_names("sqlite");
    let postgres = migration_names("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
}

#[test]
fn every_migration_has_a_non_empty_up_and_down_script() {
    for backend in ["sqlite", "postgres"] {
        for name in migration_names(backend) {
            for script in ["up.sql", "down.sql"] {
                let path = migrations_dir(backend).join(&name).join(script);
                let sql = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
                assert!(!sql.trim().is_empty(), "{} is empty", path.display());
            }
        }
    }
}

/// The version prefix of a migration folder name as Diesel reports it (digits only).
fn version_of(folder: &str) -> String {
    folder
        .split('_')
        .next()
        .expect("version part")
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

fn migrate_applies_every_migration_once(backend: Backend) {
    let t = TestDatabase::unmigrated(backend);
    let applied = t.db.migrate().expect("migrate");
    let folders = migration_names("sqlite");
    assert_eq!(applied.len(), folders.len(), "{applied:?}");
    for (name, folder) in applied.iter().zip(&folders) {
        assert!(name.contains(&version_of(folder)), "{name} is not {folder}");
    }
    assert!(t.db.migrate().expect("migrate again").is_empty());
    assert_eq!(t.db.check().expect("check"), vec![]);
}

fn check_reports_every_table_missing_on_an_empty_database(backend: Backend) {
    let t = TestDatabase::unmigrated(backend);
    let missing: BTreeSet<String> =
        t.db.check()
            .expect("check")
            .into_iter()
            .map(|m| match m {
                Mismatch::MissingTable(table) => table,
                other => panic!("only missing tables expected, got {other:?}"),
            })
            .collect();
    let tables: BTreeSet<String> = [
        "locations",
        "program_types",
        "trainers",
        "membership_plans",
        "class_sessions",
        "leads",
        "lead_events",
        "audit_log",
        "timetable_slots",
        "timetable_occurrences",
        "idempotency_keys",
        "webhooks",
        "outbox_events",
        "deliveries",
        "delivery_attempts",
        "telegram_chats",
        "rate_limits",
        "console_sessions",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(missing, tables);
}

fn check_reports_a_dropped_column(backend: Backend) {
    let t = TestDatabase::new(backend);
    exec(&t.db, "ALTER TABLE leads DROP COLUMN notes").expect("drop column");
    assert_eq!(
        t.db.check().expect("check"),
        vec![Mismatch::MissingColumn {
            table: "leads".into(),
            column: "notes".into(),
        }]
    );
}

fn check_reports_a_dropped_table_once(backend: Backend) {
    let t = TestDatabase::new(backend);
    exec(&t.db, "DROP TABLE lead_events").expect("drop table");
    assert_eq!(
        t.db.check().expect("check"),
        vec![Mismatch::MissingTable("lead_events".into())]
    );
}

fn check_reports_a_column_of_the_wrong_type(backend: Backend) {
    let t = TestDatabase::new(backend);
    let (blob, found) = match backend {
        Backend::Sqlite => ("BLOB", "BLOB"),
        Backend::Postgres => ("BYTEA", "bytea"),
    };
    exec(
        &t.db,
        &format!(
            "DROP TABLE lead_events; \
             CREATE TABLE lead_events (id BIGINT PRIMARY KEY, lead_id BIGINT, kind {blob} NOT NULL, \
             actor TEXT NOT NULL, data TEXT NOT NULL, created_at TIMESTAMP NOT NULL)"
        ),
    )
    .expect("recreate table");
    assert_eq!(
        t.db.check().expect("check"),
        vec![Mismatch::WrongType {
            table: "lead_events".into(),
            column: "kind".into(),
            expected: ColumnType::Text,
            found: found.into(),
        }]
    );
}

fn check_ready_is_ok_on_a_migrated_database(backend: Backend) {
    let t = TestDatabase::new(backend);
    t.db.repositories()
        .health
        .check_ready()
        .expect("a migrated database is ready");
}

fn check_ready_fails_on_an_unmigrated_database(backend: Backend) {
    let t = TestDatabase::unmigrated(backend);
    let health = t.db.repositories().health;
    let err = health.check_ready().expect_err("not migrated");
    assert!(matches!(err, RepoError::Unavailable(_)), "{err:?}");
    t.db.migrate().expect("migrate");
    health.check_ready().expect("ready once migrated");
}

fn check_ready_fails_once_migrations_are_reverted(backend: Backend) {
    let t = TestDatabase::new(backend);
    let mut conn = t.db.pool().get().expect("conn");
    cohai_persistence::migrations::revert_all(&mut conn).expect("revert");
    drop(conn);
    let err =
        t.db.repositories()
            .health
            .check_ready()
            .expect_err("migrations pending");
    assert!(matches!(err, RepoError::Unavailable(_)), "{err:?}");
}

fn migrations_go_up_down_and_up_again(backend: Backend) {
    let t = TestDatabase::new(backend);
    let mut conn = t.db.pool().get().expect("conn");
    let folders = migration_names("sqlite");
    assert_eq!(
        cohai_persistence::migrations::revert_all(&mut conn).expect("down"),
        folders.len()
    );
    assert_eq!(
        cohai_persistence::migrations::run_pending(&mut conn)
            .expect("up again")
            .len(),
        folders.len()
    );
    drop(conn);
    assert_eq!(t.db.check().expect("check"), vec![]);
}

fn pool_stats_report_the_configured_maximum(backend: Backend) {
    let t = TestDatabase::new(backend);
    let stats = t.db.repositories().health.pool_stats();
    assert_eq!(stats.max_size, 16);
    assert!(stats.connections >= 1, "{stats:?}");
    assert!(stats.idle <= stats.connections, "{stats:?}");
    assert!(stats.connections <= stats.max_size, "{stats:?}");
}

backend_tests!(
    migrate_applies_every_migration_once,
    check_reports_every_table_missing_on_an_empty_database,
    check_reports_a_dropped_column,
    check_reports_a_dropped_table_once,
    check_reports_a_column_of_the_wrong_type,
    check_ready_is_ok_on_a_migrated_database,
    check_ready_fails_on_an_unmigrated_database,
    check_ready_fails_once_migrations_are_reverted,
    pool_stats_report_the_configured_maximum,
    migrations_go_up_down_and_up_again,
);
