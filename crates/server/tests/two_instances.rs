//! Two `cohai-server` processes on one PostgreSQL database, as behind a load balancer
//! (issue 17, item 2): migrations at a simultaneous start run once; what is written through
//! one instance is read through the other (at once where nothing is cached, within the
//! cache's TTL where it is); the outbox dispatchers of both deliver each event once; the lead
//! form's rate limit counts a client's submissions through both together. The timetable
//! horizon job of two instances is tested in `horizon.rs`.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use cohai_persistence::testing::{Backend, TestDatabase, count};
use common::{Receiver, Server};
use diesel::RunQueryDsl;

/// No lead rate limit: the tests submit many leads from one address.
const NO_LIMIT: (&str, &str) = ("COHAI_LEAD_RATE_PER_MINUTE", "0");

/// The caches' TTL in the tests that rely on it, ms.
const TTL_MS: u64 = 500;

/// What a change may take beyond the TTL to show: a request or two on a busy machine.
const SLACK: Duration = Duration::from_secs(1);

/// Two servers on `db`, started one after the other, with `env`.
fn two_servers(db: &TestDatabase, env: &[(&str, &str)]) -> (Server, Server) {
    let mut a = Server::start(&db.url, env);
    a.wait_ready(Duration::from_secs(30));
    let mut b = Server::start(&db.url, env);
    b.wait_ready(Duration::from_secs(30));
    (a, b)
}

/// A lead form with a phone of its own (`n` < 10⁷).
fn lead_form(n: u64) -> serde_json::Value {
    serde_json::json!({
        "name": "Два сервера",
        "phone": format!("+7916{n:07}"),
        "consent": true,
    })
}

/// Asks `read` every 20 ms until it is true; how long that took after `since`, or `None` when
/// it still is not after `within`.
fn time_until(
    since: Instant,
    within: Duration,
    mut read: impl FnMut() -> bool,
) -> Option<Duration> {
    loop {
        if read() {
            return Some(since.elapsed());
        }
        if since.elapsed() > within {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The names of the public `/api/v1/locations` of `server`, by id.
fn public_locations(server: &Server) -> HashMap<i64, String> {
    let (status, body) = server.get("/api/v1/locations");
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|l| {
            (
                l["id"].as_i64().expect("id"),
                l["name"].as_str().expect("name").to_owned(),
            )
        })
        .collect()
}

/// The admin lead list of `server`: its total and each lead's status, by id.
fn admin_leads(server: &Server) -> (i64, HashMap<i64, String>) {
    let (status, body) = server.admin_get("/api/v1/admin/leads?limit=100");
    assert_eq!(status, 200, "{body}");
    let statuses = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|l| {
            (
                l["id"].as_i64().expect("id"),
                l["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect();
    (body["total"].as_i64().expect("total"), statuses)
}

#[derive(diesel::QueryableByName)]
struct AppliedMigration {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// The versions diesel records for the migrations in `migrations/postgres` (a folder
/// `2026-11-24-000001_create_catalog` is version `20261124000001`).
fn expected_migration_versions() -> BTreeSet<String> {
    let dir = common::workspace_root().join("migrations/postgres");
    std::fs::read_dir(&dir)
        .expect("migrations folder")
        .map(|entry| {
            let name = entry
                .expect("entry")
                .file_name()
                .into_string()
                .expect("UTF-8");
            let (date, _) = name
                .split_once('_')
                .expect("a migration folder is VERSION_NAME");
            date.replace('-', "")
        })
        .collect()
}

#[test]
fn migrations_run_once_when_two_instances_start_together() {
    let db = TestDatabase::unmigrated(Backend::Postgres);
    let env = [NO_LIMIT];
    // Both processes are spawned before either is waited for: they migrate at the same moment.
    let mut servers = [Server::launch(&db.url, &env), Server::launch(&db.url, &env)];
    let started = Instant::now();
    for server in &mut servers {
        server.wait_ready(Duration::from_secs(30));
    }
    eprintln!("both ready {:?} after the start", started.elapsed());

    let mut conn = db.db.pool().get().expect("connection");
    let applied: Vec<AppliedMigration> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations ORDER BY version")
            .load(&mut **conn)
            .expect("migrations table");
    let applied: Vec<String> = applied.into_iter().map(|m| m.version).collect();
    let distinct: BTreeSet<String> = applied.iter().cloned().collect();
    assert_eq!(
        applied.len(),
        distinct.len(),
        "each version once: {applied:?}"
    );
    assert_eq!(
        distinct,
        expected_migration_versions(),
        "every migration applied"
    );
    // Both serve from the one schema.
    for (n, server) in servers.iter().enumerate() {
        let (status, body) = server.post("/api/v1/leads", &lead_form(n as u64));
        assert_eq!(status, 201, "{body}");
    }
    assert_eq!(count(&db.db, "SELECT COUNT(*) AS n FROM leads"), 2);
}

#[test]
fn a_lead_submitted_through_one_instance_is_listed_by_the_other() {
    let db = TestDatabase::unmigrated(Backend::Postgres);
    let (a, b) = two_servers(&db, &[NO_LIMIT]);
    let (status, receipt) = a.post("/api/v1/leads", &lead_form(1));
    assert_eq!(status, 201, "{receipt}");
    let id = receipt["id"].as_i64().expect("id");

    // B has not read the list before, so no cache is in the way: it lists the lead at once.
    let (total, statuses) = admin_leads(&b);
    assert_eq!(total, 1);
    assert_eq!(statuses.get(&id).map(String::as_str), Some("new"));
    let (status, lead) = b.admin_get(&format!("/api/v1/admin/leads/{id}"));
    assert_eq!(status, 200, "{lead}");
    assert_eq!(lead["phone"], "+79160000001");
    assert_eq!(lead["name"], "Два сервера");
    // And the other way round.
    let (status, receipt) = b.post("/api/v1/leads", &lead_form(2));
    assert_eq!(status, 201, "{receipt}");
    let other = receipt["id"].as_i64().expect("id");
    let (status, lead) = a.admin_get(&format!("/api/v1/admin/leads/{other}"));
    assert_eq!(status, 200, "{lead}");
    assert_eq!(lead["phone"], "+79160000002");
}

/// Issue 17's "done when": 10 a minute means 10 in total, whichever instance a submission
/// reaches — a burst of 11 from one address, alternating between the two, gets one 429.
#[test]
fn a_burst_of_eleven_from_one_address_over_two_instances_gets_exactly_one_429() {
    let db = TestDatabase::unmigrated(Backend::Postgres);
    let (a, b) = two_servers(&db, &[("COHAI_LEAD_RATE_PER_MINUTE", "10")]);
    let statuses: Vec<u16> = (0..11)
        .map(|n| {
            let server = if n % 2 == 0 { &a } else { &b };
            let (status, body) = server.post("/api/v1/leads", &lead_form(n));
            if status == 429 {
                assert_eq!(body["error"]["code"], "rate_limited", "{body}");
            }
            status
        })
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 429).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(statuses[10], 429, "the eleventh, {statuses:?}");
    assert_eq!(count(&db.db, "SELECT COUNT(*) AS n FROM leads"), 10);
    // The refusal holds on both instances, not only on the one that refused.
    assert_eq!(b.post("/api/v1/leads", &lead_form(11)).0, 429);
}

#[test]
fn a_catalog_change_through_one_is_served_by_the_other_within_the_public_cache_ttl() {
    let db = TestDatabase::unmigrated(Backend::Postgres);
    let ttl = TTL_MS.to_string();
    let (a, b) = two_servers(&db, &[NO_LIMIT, ("COHAI_PUBLIC_CACHE_TTL_MS", &ttl)]);
    let limit = Duration::from_millis(TTL_MS) + SLACK;

    // B has the (empty) list in its cache when A creates a location.
    assert!(public_locations(&b).is_empty());
    let (status, created) = a.admin_post(
        "/api/v1/admin/locations",
        &serde_json::json!({
            "name": "Центр",
            "address": "ул. Тверская, 1",
            "city": "Москва",
            "timezone": "Europe/Moscow",
        }),
    );
    let changed = Instant::now();
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().expect("id");
    let shown = time_until(changed, limit * 3, || {
        public_locations(&b).contains_key(&id)
    })
    .expect("B serves the new location");
    assert!(
        shown <= limit,
        "B served the new location after {shown:?}, more than {limit:?}"
    );

    // B has the old name in its cache when A renames it.
    assert_eq!(public_locations(&b)[&id], "Центр");
    let (status, renamed) = a.admin_patch(
        &format!("/api/v1/admin/locations/{id}"),
        &serde_json::json!({"name": "Центр на Тверской"}),
    );
    let changed = Instant::now();
    assert_eq!(status, 200, "{renamed}");
    let renamed_after = time_until(changed, limit * 3, || {
        public_locations(&b)[&id] == "Центр на Тверской"
    })
    .expect("B serves the new name");
    assert!(
        renamed_after <= limit,
        "B served the new name after {renamed_after:?}, more than {limit:?}"
    );
    eprintln!("B served the new location after {shown:?}, the new name after {renamed_after:?}");
    // A, which made the changes, serves them at once.
    assert_eq!(public_locations(&a)[&id], "Центр на Тверской");
}

#[test]
fn the_admin_list_of_the_other_reflects_a_change_within_its_cache_ttl() {
    let db = TestDatabase::unmigrated(Backend::Postgres);
    let ttl = TTL_MS.to_string();
    let (a, b) = two_servers(&db, &[NO_LIMIT, ("COHAI_ADMIN_LIST_CACHE_TTL_MS", &ttl)]);
    let limit = Duration::from_millis(TTL_MS) + SLACK;
    let (status, receipt) = a.post("/api/v1/leads", &lead_form(1));
    assert_eq!(status, 201, "{receipt}");
    let first = receipt["id"].as_i64().expect("id");

    // B has the list with one lead in its cache when a second is submitted through A.
    assert_eq!(admin_leads(&b).0, 1);
    let (status, receipt) = a.post("/api/v1/leads", &lead_form(2));
    let changed = Instant::now();
    assert_eq!(status, 201, "{receipt}");
    let second = receipt["id"].as_i64().expect("id");
    let listed = time_until(changed, limit * 3, || {
        let (total, statuses) = admin_leads(&b);
        total == 2 && statuses.contains_key(&second)
    })
    .expect("B lists the new lead");
    assert!(
        listed <= limit,
        "B listed the new lead after {listed:?}, more than {limit:?}"
    );

    // B has the first lead as `new` in its cache when A changes its status.
    assert_eq!(admin_leads(&b).1[&first], "new");
    let (status, lead) = a.admin_patch(
        &format!("/api/v1/admin/leads/{first}"),
        &serde_json::json!({"status": "contacted"}),
    );
    let changed = Instant::now();
    assert_eq!(status, 200, "{lead}");
    let updated = time_until(changed, limit * 3, || {
        admin_leads(&b).1[&first] == "contacted"
    })
    .expect("B lists the new status");
    assert!(
        updated <= limit,
        "B listed the new status after {updated:?}, more than {limit:?}"
    );
    eprintln!("B listed the new lead after {listed:?}, the new status after {updated:?}");
    // A, which made the changes, lists them at once.
    assert_eq!(admin_leads(&a).1[&first], "contacted");
}

/// The successful webhook deliveries `server` made, from its metrics.
fn webhook_successes(server: &Server) -> u64 {
    let (status, text) = server.get_text("/metrics");
    assert_eq!(status, 200);
    text.lines()
        .find(|l| {
            l.starts_with("cohai_deliveries_total{")
                && l.contains(r#"channel="webhook""#)
                && l.contains(r#"result="success""#)
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .expect("cohai_deliveries_total for webhook successes")
}

#[test]
fn the_outbox_is_delivered_once_by_two_dispatching_instances() {
    const LEADS: u64 = 40;
    let db = TestDatabase::unmigrated(Backend::Postgres);
    let env = [
        NO_LIMIT,
        ("COHAI_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
        ("COHAI_OUTBOX__POLL_INTERVAL_MS", "50"),
    ];
    let (a, b) = two_servers(&db, &env);
    let receiver = Receiver::start();
    let (status, hook) = a.admin_post(
        "/api/v1/admin/webhooks",
        &serde_json::json!({"url": receiver.url, "events": ["lead.created"]}),
    );
    assert_eq!(status, 201, "{hook}");

    // Leads alternately through A and B, from four clients at once.
    let leads: BTreeSet<i64> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..4u64)
            .map(|client| {
                let servers = [&a, &b];
                s.spawn(move || {
                    (client..LEADS)
                        .step_by(4)
                        .map(|n| {
                            let (status, receipt) =
                                servers[(n % 2) as usize].post("/api/v1/leads", &lead_form(n));
                            assert_eq!(status, 201, "{receipt}");
                            receipt["id"].as_i64().expect("id")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|c| c.join().expect("client"))
            .collect()
    });
    assert_eq!(leads.len(), LEADS as usize);

    let delivered_leads = || -> Vec<i64> {
        receiver
            .bodies()
            .iter()
            .filter(|b| b["type"] == "lead.created")
            .filter_map(|b| b["data"]["lead"]["id"].as_i64())
            .collect()
    };
    let started = Instant::now();
    let all = time_until(started, Duration::from_secs(60), || {
        let delivered: BTreeSet<i64> = delivered_leads().into_iter().collect();
        leads.is_subset(&delivered)
    });
    let delivered = delivered_leads();
    let missing: Vec<&i64> = leads.iter().filter(|id| !delivered.contains(id)).collect();
    assert!(all.is_some(), "never delivered: {missing:?}");
    // Anything delivered twice would have arrived by now.
    std::thread::sleep(Duration::from_secs(1));
    let bodies = receiver.bodies();
    let delivered = delivered_leads();
    let mut seen = BTreeSet::new();
    let twice: Vec<i64> = delivered
        .iter()
        .copied()
        .filter(|id| !seen.insert(*id))
        .collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(seen, leads, "one delivery for each lead, and only for them");
    assert_eq!(bodies.len(), LEADS as usize, "nothing else was delivered");
    let event_ids: BTreeSet<&str> = bodies.iter().filter_map(|b| b["id"].as_str()).collect();
    assert_eq!(event_ids.len(), LEADS as usize, "each event once");
    // The two dispatchers together made one attempt per event.
    assert_eq!(
        count(&db.db, "SELECT COUNT(*) AS n FROM delivery_attempts"),
        LEADS as i64
    );
    let (by_a, by_b) = (webhook_successes(&a), webhook_successes(&b));
    assert_eq!(
        by_a + by_b,
        LEADS,
        "attempts counted by A ({by_a}) and B ({by_b})"
    );
    eprintln!(
        "{LEADS} leads delivered once within {:?} (A made {by_a} deliveries, B {by_b})",
        all.unwrap_or_default()
    );
}
