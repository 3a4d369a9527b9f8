//! Reliability: no acknowledged lead is lost when the server is killed mid-load; the server
//! survives a database outage and recovers by itself; past the pool's capacity requests wait
//! a bounded time and get 503. Run alone with `make test-reliability`.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cohai_persistence::testing::{
    Backend, TestDatabase, count, postgres_admin_url, replace_database,
};
use common::{Server, agent};
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;

/// Runs `request`, requires `503 unavailable` in the error shape within `limit`; returns the body.
fn unavailable_within(
    limit: Duration,
    request: impl FnOnce() -> (u16, serde_json::Value),
) -> serde_json::Value {
    let started = Instant::now();
    let (status, body) = request();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    assert!(
        started.elapsed() < limit,
        "503 within {limit:?}, took {:?}",
        started.elapsed()
    );
    body
}

/// Submits leads from `threads` threads until the server stops answering; returns the
/// acknowledged (id, phone) pairs, counting them in `acked_so_far` as they come.
/// The kill lands mid-request: the clients keep going until the server refuses.
fn load_until_down(
    base: &str,
    threads: u64,
    acked_so_far: &Arc<AtomicUsize>,
) -> Vec<(i64, String)> {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let base = base.to_owned();
            let acked_so_far = Arc::clone(acked_so_far);
            std::thread::spawn(move || {
                let agent = agent();
                let mut acked = Vec::new();
                for n in 0.. {
                    let phone = format!("+7916{:07}", t * 100_000 + n);
                    let body =
                        serde_json::json!({"name": "Нагрузка", "phone": phone, "consent": true});
                    match agent.post(&format!("{base}/api/v1/leads")).send_json(&body) {
                        Ok(mut res) if res.status().as_u16() == 201 => {
                            let json: serde_json::Value =
                                res.body_mut().read_json().unwrap_or_default();
                            if let Some(id) = json["id"].as_i64() {
                                acked.push((id, phone));
                                acked_so_far.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        Ok(_) => {}
                        Err(_) => break, // connection refused or reset: the server is gone
                    }
                }
                acked
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().expect("client thread"))
        .collect()
}

/// The crash test's settings: no limits, and a webhook receiver on loopback allowed, with a
/// lease short enough that deliveries cut off by the kill are made again within the test.
const CRASH_SETTINGS: &[(&str, &str)] = &[
    ("COHAI_LEAD_RATE_PER_MINUTE", "0"),
    ("COHAI_PUBLIC_CACHE_TTL_MS", "0"),
    ("COHAI_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
    ("COHAI_OUTBOX__LEASE_SECS", "11"),
    ("COHAI_OUTBOX__POLL_INTERVAL_MS", "50"),
];

fn acknowledged_leads_survive_a_sigkill(backend: Backend) {
    let db = TestDatabase::unmigrated(backend);
    let mut server = Server::start(&db.url, CRASH_SETTINGS);
    let receiver = common::Receiver::start();
    let (status, hook) = server.admin_post(
        "/api/v1/admin/webhooks",
        &serde_json::json!({"url": receiver.url, "events": ["lead.created"]}),
    );
    assert_eq!(status, 201, "{hook}");
    let acked_so_far = Arc::new(AtomicUsize::new(0));
    let load = std::thread::spawn({
        let (base, acked_so_far) = (server.base.clone(), Arc::clone(&acked_so_far));
        move || load_until_down(&base, 6, &acked_so_far)
    });
    // Kill it in full swing: once leads are being acknowledged (a debug build on a busy
    // machine can take a second or two for the first), a moment later.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked_so_far.load(Ordering::SeqCst) < 50 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    server.signal("KILL");
    let acked = load.join().expect("load");
    assert!(
        acked.len() > 20,
        "the load produced acknowledged leads ({})",
        acked.len()
    );

    server.restart();
    assert!(
        server.wait_for_status("/ready", 200, Duration::from_secs(10)),
        "serves again after the crash"
    );
    for (id, phone) in &acked {
        let (status, lead) = server.admin_get(&format!("/api/v1/admin/leads/{id}"));
        assert_eq!(status, 200, "acknowledged lead {id} is stored");
        assert_eq!(lead["phone"].as_str(), Some(phone.as_str()));
    }
    let created = count(
        &db.db,
        "SELECT COUNT(*) AS n FROM lead_events WHERE kind = 'created'",
    );
    let leads = count(&db.db, "SELECT COUNT(*) AS n FROM leads");
    assert_eq!(created, leads, "every stored lead has its created event");
    assert!(leads >= acked.len() as i64);
    if backend == Backend::Sqlite {
        #[derive(diesel::QueryableByName)]
        struct Check {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let mut conn = db.db.pool().get().expect("conn");
        let check: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
            .load(&mut **conn)
            .expect("integrity check");
        assert_eq!(check[0].integrity_check, "ok");
    }
    // Every acknowledged lead's `created` event reaches the receiver (at least once; the
    // deliveries the kill cut off are made again when their lease runs out).
    let deadline = Instant::now() + Duration::from_secs(120);
    let missing = loop {
        let delivered: std::collections::HashSet<i64> = receiver
            .bodies()
            .iter()
            .filter(|b| b["type"] == "lead.created")
            .filter_map(|b| b["data"]["lead"]["id"].as_i64())
            .collect();
        let missing: Vec<i64> = acked
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !delivered.contains(id))
            .collect();
        if missing.is_empty() || Instant::now() > deadline {
            break missing;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        missing.is_empty(),
        "{} acknowledged leads never reached the webhook receiver, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    eprintln!(
        "{backend:?}: {} leads acknowledged before SIGKILL, {} stored, {} deliveries received",
        acked.len(),
        leads,
        receiver.bodies().len()
    );
}

#[test]
fn sqlite_acknowledged_leads_survive_a_sigkill() {
    acknowledged_leads_survive_a_sigkill(Backend::Sqlite);
}

#[test]
fn postgres_acknowledged_leads_survive_a_sigkill() {
    acknowledged_leads_survive_a_sigkill(Backend::Postgres);
}

/// The database name of a PostgreSQL URL (`…/name?query`).
fn database_name(url: &str) -> String {
    let path = url.split('?').next().unwrap_or(url);
    path.rsplit('/').next().expect("a database name").to_owned()
}

/// A TCP proxy to PostgreSQL that can be cut and restored, to simulate an outage without
/// stopping the shared server; or paused and resumed, to simulate a server that hangs (bytes
/// are held, connections stay open).
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let paused = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (up2, paused2, open2) = (up.clone(), paused.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                // `up` is read again under the lock `cut` holds: a connection accepted while
                // the proxy was being cut is closed here, not left open behind `cut`'s back
                // (the pool opening one just then served a request through the "outage").
                let Ok(mut open) = open2.lock() else { continue };
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    let _ = server.shutdown(Shutdown::Both);
                    continue;
                }
                if let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) {
                    open.push(c2);
                    open.push(s2);
                }
                drop(open);
                pump(client, server, &paused2);
            }
        });
        Self {
            port,
            up,
            paused,
            open,
        }
    }

    fn cut(&self) {
        let mut open = self.open.lock().expect("proxy's connection list");
        self.up.store(false, Ordering::SeqCst);
        for stream in open.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// The database stops answering: nothing is forwarded until [`Proxy::resume`].
    fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }
}

fn pump(a: TcpStream, b: TcpStream, paused: &Arc<AtomicBool>) {
    fn copy(mut from: TcpStream, mut to: TcpStream, paused: &AtomicBool) {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            while paused.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    }
    if let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) {
        let (p1, p2) = (paused.clone(), paused.clone());
        std::thread::spawn(move || copy(a, b2, &p1));
        std::thread::spawn(move || copy(b, a2, &p2));
    }
}

#[test]
fn a_database_outage_gives_503s_and_the_server_recovers_by_itself() {
    let db = TestDatabase::new(Backend::Postgres);
    let name = database_name(&db.url);
    let proxy = Proxy::start("127.0.0.1:5432");
    let via_proxy = replace_database(
        &postgres_admin_url().replace(":5432", &format!(":{}", proxy.port)),
        &name,
    );
    let server = Server::start(
        &via_proxy,
        &[
            ("COHAI_DATABASE__POOL_TIMEOUT_MS", "500"),
            ("COHAI_PUBLIC_CACHE_TTL_MS", "0"),
        ],
    );
    assert_eq!(server.get("/ready").0, 200);
    assert_eq!(server.get("/api/v1/locations").0, 200);

    proxy.cut();
    let body = unavailable_within(Duration::from_secs(3), || server.get("/api/v1/locations"));
    assert!(
        !body.to_string().contains("5432"),
        "no internals in the body"
    );
    assert_eq!(server.get("/ready").0, 503);
    assert_eq!(server.get("/health").0, 200);
    // The lead form's writer gives up just as soon, and nothing is stored behind the client's back.
    let lead = |phone: &str| serde_json::json!({"name": "Анна", "phone": phone, "consent": true});
    unavailable_within(Duration::from_secs(3), || {
        server.post("/api/v1/leads", &lead("+79160000001"))
    });

    proxy.restore();
    assert!(
        server.wait_for_status("/ready", 200, Duration::from_secs(10)),
        "ready again without a restart"
    );
    assert_eq!(server.get("/api/v1/locations").0, 200);
    assert_eq!(server.post("/api/v1/leads", &lead("+79160000002")).0, 201);
    let stored = count(&db.db, "SELECT COUNT(*) AS n FROM leads");
    assert_eq!(stored, 1, "only the lead submitted after the outage");
}

/// `GET /ready` with its duration; a failed request (no answer within the agent's 20 s) is
/// status 0.
fn timed_ready(server: &Server) -> (u16, Duration) {
    let started = Instant::now();
    let status = agent()
        .get(&format!("{}/ready", server.base))
        .call()
        .map_or(0, |r| r.status().as_u16());
    (status, started.elapsed())
}

/// Load balancers and Kubernetes give a readiness probe 1 s by default: `/ready` answers
/// within its own bound (`database.ready_timeout_ms`), not the pool's 3 s check-out time-out,
/// both when the database refuses connections and when it stops answering; and 200 again once
/// the database is back, without a restart.
#[test]
fn in_an_outage_ready_answers_503_within_its_own_bound_not_the_pool_timeout() {
    let bound = Duration::from_millis(cohai_config::Settings::default().database.ready_timeout_ms);
    assert!(
        bound < Duration::from_secs(1),
        "the default bound {bound:?} fits a 1 s probe time-out"
    );
    // Measured from outside, with slack for a loaded machine.
    let limit = Duration::from_millis(1500);
    let db = TestDatabase::new(Backend::Postgres);
    let name = database_name(&db.url);
    let proxy = Proxy::start("127.0.0.1:5432");
    let via_proxy = replace_database(
        &postgres_admin_url().replace(":5432", &format!(":{}", proxy.port)),
        &name,
    );
    let server = Server::start(&via_proxy, &[("COHAI_DATABASE__POOL_TIMEOUT_MS", "3000")]);
    assert_eq!(timed_ready(&server).0, 200);

    for (outage, start, end) in [
        (
            "refused",
            Proxy::cut as fn(&Proxy),
            Proxy::restore as fn(&Proxy),
        ),
        ("hung", Proxy::pause, Proxy::resume),
    ] {
        start(&proxy);
        for probe in 0..3 {
            let (status, took) = timed_ready(&server);
            eprintln!("{outage} database, probe {probe}: /ready {status} in {took:?}");
            assert_eq!(status, 503, "{outage} database, probe {probe}");
            assert!(
                took < limit,
                "{outage} database, probe {probe}: 503 in {took:?}, over {limit:?}"
            );
        }
        assert_eq!(server.get("/health").0, 200);
        end(&proxy);
        assert!(
            server.wait_for_status("/ready", 200, Duration::from_secs(10)),
            "ready again after the {outage} database is back"
        );
    }
    assert_eq!(server.get("/api/v1/locations").0, 200);
}

#[test]
fn past_the_pools_capacity_requests_wait_a_bounded_time_then_get_503() {
    let db = TestDatabase::new(Backend::Postgres);
    let server = Server::start(
        &db.url,
        &[
            ("COHAI_DATABASE__POOL_MAX_SIZE", "1"),
            ("COHAI_DATABASE__POOL_TIMEOUT_MS", "300"),
            ("COHAI_PUBLIC_CACHE_TTL_MS", "0"),
        ],
    );
    assert_eq!(server.get("/api/v1/locations").0, 200);
    // Hold a lock so that one request keeps the only pooled connection busy.
    let mut locker = db.db.pool().get().expect("conn");
    locker
        .batch_execute("BEGIN; LOCK TABLE locations IN ACCESS EXCLUSIVE MODE;")
        .expect("lock");
    let base = server.base.clone();
    let held = std::thread::spawn(move || {
        agent()
            .get(&format!("{base}/api/v1/locations"))
            .call()
            .map(|r| r.status().as_u16())
    });
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let (status, body) = server.get("/api/v1/program-types");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("unavailable"))
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded wait, took {:?}",
        started.elapsed()
    );
    locker.batch_execute("COMMIT").expect("unlock");
    assert_eq!(
        held.join().expect("held request").expect("response"),
        200,
        "the waiting request completes"
    );
    assert_eq!(server.get("/api/v1/program-types").0, 200);
}
