//! The `cohai-bootstrap` binary as an operator runs it: help, version, migrate, check (also
//! against a damaged schema), seed, generate and backup.

use std::path::Path;
use std::process::{Command, Output};

use cohai_persistence::testing::{Backend, TestDatabase};
use cohai_persistence::{Database, DatabaseUrl};
use diesel::connection::SimpleConnection;

const BIN: &str = env!("CARGO_BIN_EXE_cohai-bootstrap");

fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Runs the binary from the workspace root (with the built-in defaults) against
/// `database_url`, without any `COHAI_*` setting of the calling environment.
fn run(database_url: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(workspace_root())
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("COHAI_") {
            cmd.env_remove(key);
        }
    }
    cmd.output().expect("run cohai-bootstrap")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn all_output(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn help_lists_every_command_and_version_prints() {
    let help = run("sqlite::memory:", &["--help"]);
    assert!(help.status.success());
    let text = stdout(&help);
    for command in ["migrate", "seed", "check", "generate"] {
        assert!(text.contains(command), "{text}");
    }
    let generate = run("sqlite::memory:", &["generate", "--help"]);
    let text = stdout(&generate);
    for flag in ["--locations", "--sessions", "--leads", "[default: 100000]"] {
        assert!(text.contains(flag), "{text}");
    }
    let version = run("sqlite::memory:", &["--version"]);
    assert!(version.status.success());
    assert_eq!(
        stdout(&version).trim(),
        format!("cohai-bootstrap {}", env!("CARGO_PKG_VERSION"))
    );
}

fn check_fails_on_a_dropped_column(backend: Backend) {
    let t = TestDatabase::unmigrated(backend);

    let migrate = run(&t.url, &["migrate"]);
    assert!(migrate.status.success(), "{}", all_output(&migrate));
    assert!(
        stdout(&migrate).contains("applied migration"),
        "{}",
        all_output(&migrate)
    );
    let again = run(&t.url, &["migrate"]);
    assert!(again.status.success());
    assert!(
        stdout(&again).contains("nothing to apply"),
        "{}",
        all_output(&again)
    );

    let check = run(&t.url, &["check"]);
    assert!(check.status.success(), "{}", all_output(&check));
    assert!(
        stdout(&check).contains("schema OK"),
        "{}",
        all_output(&check)
    );

    t.db.pool()
        .get()
        .expect("connection")
        .batch_execute("ALTER TABLE leads DROP COLUMN notes")
        .expect("drop a mapped column");

    let check = run(&t.url, &["check"]);
    assert_eq!(check.status.code(), Some(1), "{}", all_output(&check));
    let text = all_output(&check);
    assert!(text.contains("leads.notes"), "{text}");
    assert!(!text.contains("schema OK"), "{text}");
}

#[test]
fn seed_twice_then_generate_through_the_binary() {
    let t = TestDatabase::unmigrated(Backend::Sqlite);

    let first = run(&t.url, &["seed"]);
    assert!(first.status.success(), "{}", all_output(&first));
    let text = stdout(&first);
    assert!(
        text.contains("locations:        3 created, 0 existing"),
        "{text}"
    );
    assert!(
        text.contains("class sessions:   336 created, 0 existing"),
        "{text}"
    );

    let second = run(&t.url, &["seed"]);
    assert!(second.status.success(), "{}", all_output(&second));
    let text = stdout(&second);
    assert!(text.contains("nothing to apply"), "{text}");
    assert!(
        text.contains("class sessions:   0 created, 336 existing"),
        "{text}"
    );
    assert!(text.contains("nothing to create"), "{text}");

    let generate = run(
        &t.url,
        &[
            "generate",
            "--locations",
            "2",
            "--sessions",
            "40",
            "--leads",
            "30",
        ],
    );
    assert!(generate.status.success(), "{}", all_output(&generate));
    let text = stdout(&generate);
    assert!(
        text.contains("generated 40 class sessions and 30 leads at 2 bench studios (2 new) in "),
        "{text}"
    );
    assert!(text.contains("rows/s"), "{text}");

    let bad = run(&t.url, &["generate", "--locations", "0", "--sessions", "5"]);
    assert!(!bad.status.success());
    assert!(
        all_output(&bad).contains("at least one location"),
        "{}",
        all_output(&bad)
    );

    let check = run(&t.url, &["check"]);
    assert!(check.status.success(), "{}", all_output(&check));
}

#[test]
fn backup_copies_an_sqlite_database_and_refuses_to_overwrite() {
    let t = TestDatabase::unmigrated(Backend::Sqlite);
    assert!(run(&t.url, &["seed"]).status.success());
    let db_file = Path::new(t.url.trim_start_matches("sqlite://"));
    let copy = db_file.with_file_name("backups").join("copy.db");
    let copy_arg = copy.to_str().expect("utf-8 path");

    let backup = run(&t.url, &["backup", "--output", copy_arg]);
    assert!(backup.status.success(), "{}", all_output(&backup));
    assert!(
        stdout(&backup).contains("backup written to"),
        "{}",
        all_output(&backup)
    );

    let restored = Database::open(
        DatabaseUrl::parse(copy_arg),
        &cohai_config::Settings::default().pool(),
    )
    .expect("open the copy");
    assert!(restored.check().expect("check").is_empty());
    let locations = restored
        .repositories()
        .locations
        .list_active()
        .expect("locations");
    assert_eq!(locations.len(), 3);

    let again = run(&t.url, &["backup", "--output", copy_arg]);
    assert!(!again.status.success());
    assert!(
        all_output(&again).contains("already exists"),
        "{}",
        all_output(&again)
    );
}

#[test]
fn backup_refuses_postgres() {
    let t = TestDatabase::new(Backend::Postgres);
    let out = run(&t.url, &["backup", "--output", "/nonexistent/x.db"]);
    assert!(!out.status.success());
    assert!(all_output(&out).contains("pg_dump"), "{}", all_output(&out));
}

cohai_persistence::backend_tests!(check_fails_on_a_dropped_column);
