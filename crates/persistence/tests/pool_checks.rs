//! When the pool checks a PostgreSQL connection before handing it out: not right after an
//! operation succeeded on it (that would cost a round trip per check-out), but after it has
//! been idle for [`RECENTLY_USED`] and after an operation on it failed, so that a connection
//! broken by a database restart is replaced.

use std::time::{Duration, Instant};

use cohai_persistence::testing::{Backend, TestDatabase, postgres_admin_url};
use cohai_persistence::{PoolSettings, RECENTLY_USED};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

/// A PostgreSQL database whose pool holds one connection, so every call uses the same one.
fn one_connection() -> TestDatabase {
    let t = TestDatabase::with_settings(
        Backend::Postgres,
        &PoolSettings {
            max_size: 1,
            ..PoolSettings::default()
        },
    );
    t.db.migrate().expect("migrations");
    t
}

/// The database's name, from its URL.
fn database_name(url: &str) -> String {
    let path = url.rsplit('/').next().expect("a database in the URL");
    path.split('?').next().unwrap_or(path).to_owned()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Ends every server process of the test database (as a restart would) and waits until they
/// are gone.
fn terminate_connections(t: &TestDatabase) {
    let name = database_name(&t.url);
    let mut admin = PgConnection::establish(&postgres_admin_url()).expect("admin connection");
    diesel::sql_query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind::<Text, _>(&name)
        .execute(&mut admin)
        .expect("terminate");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left =
            diesel::sql_query("SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = $1")
                .bind::<Text, _>(&name)
                .get_result::<Count>(&mut admin)
                .expect("count")
                .n;
        if left == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "the connections did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_connection_broken_while_idle_is_replaced_before_use() {
    let t = one_connection();
    let repos = t.db.repositories();
    repos.locations.list_active().expect("a first read");
    terminate_connections(&t);
    std::thread::sleep(RECENTLY_USED + Duration::from_millis(100));
    repos
        .locations
        .list_active()
        .expect("the broken connection was checked and replaced");
}

#[test]
fn after_a_failure_the_connection_is_checked_and_replaced() {
    let t = one_connection();
    let repos = t.db.repositories();
    repos.locations.list_active().expect("a first read");
    let succeeded = Instant::now();
    terminate_connections(&t);
    // Right after a success the connection is handed out unchecked (the price of no round
    // trip per check-out): this one call fails …
    let first = repos.locations.list_active();
    if succeeded.elapsed() < RECENTLY_USED {
        assert!(first.is_err(), "a dead connection cannot answer");
    }
    // … and the failed connection is checked at the next check-out and replaced.
    repos
        .locations
        .list_active()
        .expect("a new connection after the failure");
    repos.locations.list_active().expect("and it stays usable");
}
