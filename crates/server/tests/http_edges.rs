//! What only a real server over TCP shows (issue 11): a stalled body is cut off with 408, the
//! lead rate limit holds across workers and connections, HEAD carries no body, and made-up
//! methods do not grow `/metrics`. Each on SQLite and PostgreSQL.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use cohai_persistence::testing::{Backend, TestDatabase};
use common::{Server, agent};

const FORM: &str = r#"{"name":"Анна","phone":"+79161234567","consent":true}"#;

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.base.trim_start_matches("http://")).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    stream
}

/// Everything the server sends until it closes the connection (or the read times out).
fn read_all(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn a_stalled_body_is_cut_off_with_408_within_the_deadline(backend: Backend) {
    let db = TestDatabase::unmigrated(backend);
    let server = Server::start(&db.url, &[("COHAI_BODY_READ_TIMEOUT_MS", "700")]);
    let cases = [
        // Promised 100 bytes, sent one.
        "POST /api/v1/leads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        // A chunk size nobody will ever send.
        "POST /api/v1/leads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFF\r\n{",
    ];
    for head in cases {
        let mut stream = connect(&server);
        let started = Instant::now();
        stream.write_all(head.as_bytes()).expect("write");
        let response = read_all(&mut stream);
        let waited = started.elapsed();
        assert!(response.starts_with("HTTP/1.1 408"), "{head:?}: {response}");
        assert!(response.contains("\"request_timeout\""), "{response}");
        assert!(
            waited >= Duration::from_millis(600) && waited < Duration::from_secs(5),
            "answered after {waited:?}"
        );
    }
    // A body trickled a byte at a time is cut off at the deadline too.
    let mut stream = connect(&server);
    let started = Instant::now();
    let head = format!(
        "POST /api/v1/leads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        FORM.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    for byte in FORM.as_bytes() {
        if stream.write_all(&[*byte]).is_err() || started.elapsed() > Duration::from_secs(3) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let response = read_all(&mut stream);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Nothing was stored.
    let (_, list) = server.admin_get("/api/v1/admin/leads");
    assert_eq!(list["total"], 0);
}

fn the_lead_rate_limit_holds_across_workers_and_fresh_connections(backend: Backend) {
    let db = TestDatabase::unmigrated(backend);
    let server = Server::start(
        &db.url,
        &[("COHAI_LEAD_RATE_PER_MINUTE", "10"), ("COHAI_WORKERS", "4")],
    );
    let mut accepted = 0;
    let mut limited = 0;
    for i in 0..30 {
        // A new connection each time (and so, over time, every worker).
        let body = FORM.replace("+79161234567", &format!("+7916{i:07}"));
        let mut stream = connect(&server);
        let request = format!(
            "POST /api/v1/leads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("write");
        let response = read_all(&mut stream);
        if response.starts_with("HTTP/1.1 201") {
            accepted += 1;
        } else if response.starts_with("HTTP/1.1 429") {
            limited += 1;
            assert!(response.to_ascii_lowercase().contains("retry-after:"));
        } else {
            panic!("unexpected answer: {response}");
        }
    }
    assert_eq!((accepted, limited), (10, 20));
}

fn head_answers_with_the_get_headers_and_no_body(backend: Backend) {
    let db = TestDatabase::unmigrated(backend);
    let server = Server::start(&db.url, &[]);
    for path in [
        "/health",
        "/api/v1/locations",
        "/docs/",
        "/api/v1/openapi.json",
    ] {
        let mut stream = connect(&server);
        stream
            .write_all(
                format!("HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .expect("write");
        let response = read_all(&mut stream);
        assert!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
        let (head, body) = response.split_once("\r\n\r\n").expect("end of head");
        assert!(
            body.is_empty(),
            "{path}: a HEAD answer has no body: {body:?}"
        );
        assert!(
            head.to_ascii_lowercase().contains("content-type:"),
            "{head}"
        );
    }
}

fn made_up_methods_do_not_grow_the_metrics(backend: Backend) {
    let db = TestDatabase::unmigrated(backend);
    let server = Server::start(&db.url, &[]);
    let size = || {
        let mut res = agent()
            .get(&format!("{}/metrics", server.base))
            .call()
            .expect("metrics");
        res.body_mut().read_to_string().expect("text")
    };
    // Warm every series a request to /health creates.
    server.get("/health");
    let before = size();
    for i in 0..100 {
        let method = format!("M{i}{}", "X".repeat(8_000));
        let mut stream = connect(&server);
        let _ = stream.write_all(
            format!("{method} /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let _ = read_all(&mut stream);
    }
    server.get("/health");
    let after = size();
    assert!(!after.contains("XXXX"), "a made-up method became a label");
    assert!(
        after.len() < before.len() + 8_000,
        "/metrics grew from {} to {} bytes",
        before.len(),
        after.len()
    );
}

cohai_persistence::backend_tests!(
    a_stalled_body_is_cut_off_with_408_within_the_deadline,
    the_lead_rate_limit_holds_across_workers_and_fresh_connections,
    head_answers_with_the_get_headers_and_no_body,
    made_up_methods_do_not_grow_the_metrics,
);
