//! The `cohai-server` binary as an operator runs it: start-up, probes, errors, database loss,
//! concurrent start-up on PostgreSQL, configuration (also from another working directory) and
//! graceful shutdown.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use cohai_persistence::testing::{Backend, TestDatabase};
use common::{BIN, Server, sqlite_url, workspace_root};

#[test]
fn serves_probes_errors_and_creates_the_sqlite_file_on_first_run() {
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(&sqlite_url(&dir), &[]);
    assert!(
        dir.path().join("data/cohai.db").exists(),
        "database file created with its folder"
    );
    assert_eq!(
        server.get("/health"),
        (200, serde_json::json!({"status": "ok"}))
    );
    assert_eq!(
        server.get("/ready"),
        (200, serde_json::json!({"status": "ready"}))
    );
    let (status, body) = server.get("/no/such/route");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, body) = server.get("/api/v1/test-error");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (500, Some("internal"))
    );
    assert_eq!(body["error"]["message"], "internal server error");
    assert!(
        body["error"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
}

#[test]
fn test_error_endpoint_can_be_switched_off() {
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(&sqlite_url(&dir), &[("COHAI_TEST_ERROR_ENABLED", "false")]);
    assert_eq!(server.get("/api/v1/test-error").0, 404);
}

#[test]
fn ready_turns_503_when_the_database_is_gone_while_health_stays_200() {
    let db = TestDatabase::unmigrated(Backend::Postgres);
    let url = db.url.clone();
    let server = Server::start(&url, &[("COHAI_DATABASE__POOL_TIMEOUT_MS", "500")]);
    assert_eq!(server.get("/ready").0, 200);
    drop(db); // DROP DATABASE … WITH (FORCE): every connection is cut.
    let started = Instant::now();
    let (status, body) = server.get("/ready");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable"))
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered within the pool timeout"
    );
    let (status, body) = server.get("/api/v1/locations");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable"))
    );
    assert_eq!(server.get("/health").0, 200);
}

#[test]
fn two_servers_starting_together_on_postgres_migrate_once() {
    let db = TestDatabase::unmigrated(Backend::Postgres);
    let a = std::thread::spawn({
        let url = db.url.clone();
        move || Server::start(&url, &[])
    });
    let b = Server::start(&db.url, &[]);
    let a = a.join().expect("first server");
    assert_eq!(a.get("/ready").0, 200);
    assert_eq!(b.get("/ready").0, 200);
    use diesel::RunQueryDsl;
    let mut conn = db.db.pool().get().expect("conn");
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let applied: Vec<Count> =
        diesel::sql_query("SELECT COUNT(*) AS n FROM __diesel_schema_migrations")
            .load(&mut **conn)
            .expect("count migrations");
    let folders = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../migrations/postgres"
    ))
    .expect("migrations folder")
    .count();
    assert_eq!(
        usize::try_from(applied[0].n).expect("count"),
        folders,
        "every migration once"
    );
}

/// The CORS preflight of a `POST /api/v1/leads` from `origin`: status and allowed origin.
fn preflight(server: &Server, origin: &str) -> (u16, Option<String>) {
    let res = common::agent()
        .options(&format!("{}/api/v1/leads", server.base))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .call()
        .expect("preflight");
    let allowed = res
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (res.status().as_u16(), allowed)
}

#[test]
fn started_outside_the_workspace_it_keeps_the_documented_defaults() {
    // No config/default.toml in this working directory: the built-in defaults are the
    // documented ones, so the local website's preflights still pass.
    let cwd = tempfile::tempdir().expect("working dir");
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start_in(cwd.path(), &sqlite_url(&data), &[]);
    for origin in ["http://localhost:3000", "http://127.0.0.1:3000"] {
        assert_eq!(
            preflight(&server, origin),
            (200, Some(origin.to_owned())),
            "{origin}"
        );
    }
    let (status, allowed) = preflight(&server, "https://elsewhere.example");
    assert_ne!(status, 200, "an origin not listed is refused");
    assert_eq!(allowed, None);
    assert!(
        std::fs::read_dir(cwd.path())
            .expect("list")
            .next()
            .is_none(),
        "nothing written to the working directory"
    );
}

#[test]
fn a_bad_setting_stops_start_up_with_a_message_naming_it() {
    let output = Command::new(BIN)
        .current_dir(workspace_root())
        .env("COHAI_LEAD_RATE_PER_MINUTE", "lots")
        .output()
        .expect("run cohai-server");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.to_ascii_lowercase().contains("lead_rate_per_minute"),
        "{stderr}"
    );
}

#[test]
fn help_and_version_describe_the_program() {
    let help = Command::new(BIN).arg("--help").output().expect("--help");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("COHAI_CONFIG"));
    let version = Command::new(BIN)
        .arg("--version")
        .output()
        .expect("--version");
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn sigterm_lets_a_request_in_flight_finish_then_exits_zero() {
    let dir = tempfile::tempdir().expect("dir");
    let mut server = Server::start(&sqlite_url(&dir), &[("COHAI_SHUTDOWN_TIMEOUT_SECS", "10")]);
    let body = r#"{"name":"Анна","phone":"+79161234567","consent":true}"#.as_bytes();
    let mut stream =
        TcpStream::connect(server.base.trim_start_matches("http://")).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let head = format!(
        "POST /api/v1/leads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    stream.write_all(&body[..10]).expect("write half");
    stream.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(300));
    server.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    // The server stopped accepting but still serves the request in flight.
    stream.write_all(&body[10..]).expect("write rest");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let status = server.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "exit status {status:?}");
}
