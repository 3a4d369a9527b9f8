//! One connection type for both backends, and the r2d2 manager that opens it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, QueryResult, RunQueryDsl, SqliteConnection};

/// A connection to whichever backend `DATABASE_URL` chose.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// PostgreSQL.
    Postgresql(PgConnection),
    /// SQLite.
    Sqlite(SqliteConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection of either backend.
///
/// For what Diesel's `MultiConnection` cannot express (batch inserts, `BEGIN IMMEDIATE`):
/// the body is compiled once per backend.
macro_rules! with_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::connection::AnyConnection::Postgresql($c) => $body,
            $crate::connection::AnyConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use with_backend;

/// Runs `$body` in a write transaction on the concrete connection.
///
/// SQLite gets `BEGIN IMMEDIATE`, which takes the write lock up front: a deferred transaction
/// that reads and then writes fails with `SQLITE_BUSY` when another writer got in between.
macro_rules! write_transaction {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::connection::AnyConnection::Postgresql($c) => {
                diesel::Connection::transaction($c, |$c| $body)
            }
            $crate::connection::AnyConnection::Sqlite($c) => $c.immediate_transaction(|$c| $body),
        }
    };
}
pub(crate) use write_transaction;

/// Which database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A PostgreSQL connection URL (`postgres://…` or `postgresql://…`).
    Postgres(String),
    /// An SQLite database file.
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    /// Reads a `DATABASE_URL`: `postgres://…`/`postgresql://…` selects PostgreSQL; `sqlite://path`,
    /// `sqlite:path` or a plain file path selects SQLite.
    ///
    /// ```
    /// use cohai_persistence::DatabaseUrl;
    /// use std::path::PathBuf;
    /// assert_eq!(DatabaseUrl::parse("sqlite://data/cohai.db"), DatabaseUrl::Sqlite(PathBuf::from("data/cohai.db")));
    /// assert_eq!(DatabaseUrl::parse("data/cohai.db"), DatabaseUrl::Sqlite(PathBuf::from("data/cohai.db")));
    /// assert!(matches!(DatabaseUrl::parse("postgres://localhost/cohai"), DatabaseUrl::Postgres(_)));
    /// ```
    pub fn parse(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Self::Postgres(url.to_owned());
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        Self::Sqlite(PathBuf::from(path))
    }

    /// `"postgres"` or `"sqlite"`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// The URL without any password, for logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme_end), Some(at)) if at > scheme_end => {
                    let userinfo = &url[scheme_end + 3..at];
                    let user = userinfo.split(':').next().unwrap_or_default();
                    format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
                }
                _ => url.clone(),
            },
        }
    }
}

/// Why a connection could not be opened or checked.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The driver refused to connect.
    #[error(transparent)]
    Connection(#[from] diesel::ConnectionError),
    /// A set-up statement (SQLite pragmas) or the validity check failed.
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    /// The SQLite file's folder could not be created.
    #[error("cannot create the folder {path}: {source}")]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Opens connections for r2d2, picking the backend from the URL (Diesel's derived
/// `establish` would try both and hide the real error).
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    busy_timeout: Duration,
    sqlite_cache_kib: u32,
}

impl ConnectionManager {
    /// A manager for `url`; SQLite connections wait up to `busy_timeout` for a lock and keep
    /// a page cache of `sqlite_cache_kib` KiB (at least 64).
    pub fn new(url: DatabaseUrl, busy_timeout: Duration, sqlite_cache_kib: u32) -> Self {
        Self {
            url,
            busy_timeout,
            sqlite_cache_kib: sqlite_cache_kib.max(64),
        }
    }

    /// The database this manager connects to.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    fn connect_sqlite(&self, path: &Path) -> Result<SqliteConnection, ConnectError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| ConnectError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
        // busy_timeout first: switching to WAL itself needs the lock. Statement journals
        // (a copy of each page a statement that may abort changes) stay in memory instead of
        // a temporary file: they were a quarter of the time of bulk inserts.
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -{};",
            self.busy_timeout.as_millis(),
            self.sqlite_cache_kib
        ))?;
        Ok(conn)
    }
}

/// How long after an operation succeeded on a PostgreSQL connection the pool hands it out
/// again without first checking it with `SELECT 1`. The check costs a round trip on every
/// check-out (15 % of the server's time on the uncached schedule); a connection that just
/// worked is as good as checked, while one that has been idle longer (through a database
/// restart, a network cut) is checked, and replaced if it fails, as before. A connection
/// whose last operation failed is always checked.
pub const RECENTLY_USED: Duration = Duration::from_secs(1);

/// A connection of the pool, and when an operation last succeeded on it; dereferences to the
/// [`AnyConnection`].
pub struct DbConnection {
    conn: AnyConnection,
    succeeded_at: Option<std::time::Instant>,
}

impl DbConnection {
    /// Records that an operation just succeeded: the next check-out within
    /// [`RECENTLY_USED`] skips the liveness check.
    pub fn mark_succeeded(&mut self) {
        self.succeeded_at = Some(std::time::Instant::now());
    }

    /// Whether an operation succeeded within [`RECENTLY_USED`]; forgets it (so that an
    /// operation that fails next leaves the connection to be checked).
    fn take_recent_success(&mut self) -> bool {
        self.succeeded_at
            .take()
            .is_some_and(|at| at.elapsed() < RECENTLY_USED)
    }
}

impl std::ops::Deref for DbConnection {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for DbConnection {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConnection, ConnectError> {
        let conn = match &self.url {
            DatabaseUrl::Postgres(url) => AnyConnection::Postgresql(PgConnection::establish(url)?),
            DatabaseUrl::Sqlite(path) => AnyConnection::Sqlite(self.connect_sqlite(path)?),
        };
        Ok(DbConnection {
            conn,
            succeeded_at: None,
        })
    }

    /// Run on check-out for PostgreSQL only (an SQLite file cannot break under us).
    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectError> {
        if conn.take_recent_success() {
            return Ok(());
        }
        conn.batch_execute("SELECT 1").map_err(ConnectError::from)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// Compile options of the bundled SQLite that this crate's performance relies on; they are set
/// in the workspace's `.cargo/config.toml` (`LIBSQLITE3_FLAGS`), which explains each.
pub const EXPECTED_SQLITE_OPTIONS: [&str; 3] =
    ["ENABLE_QPSG", "THREADSAFE=2", "DEFAULT_MEMSTATUS=0"];

/// The [`EXPECTED_SQLITE_OPTIONS`] this connection's SQLite was built without. A build outside
/// the workspace's cargo configuration lacks them: it works, only slower.
pub fn missing_sqlite_options(conn: &mut SqliteConnection) -> QueryResult<Vec<&'static str>> {
    let mut missing = Vec::new();
    for option in EXPECTED_SQLITE_OPTIONS {
        // The options are constants, never input.
        let used = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "sqlite_compileoption_used('{option}')"
        )))
        .get_result::<bool>(conn)?;
        if !used {
            missing.push(option);
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_sqlite_has_the_expected_compile_options() {
        let mut conn = SqliteConnection::establish(":memory:").expect("in-memory database");
        assert_eq!(
            missing_sqlite_options(&mut conn).expect("compile options"),
            Vec::<&str>::new(),
            "build through the workspace (.cargo/config.toml sets LIBSQLITE3_FLAGS)"
        );
    }

    #[test]
    fn redacts_postgres_password_only() {
        let url = DatabaseUrl::parse("postgres://cohai:s3cret@db:5432/cohai");
        assert_eq!(url.redacted(), "postgres://cohai:***@db:5432/cohai");
        assert_eq!(
            DatabaseUrl::parse("postgres://db/cohai").redacted(),
            "postgres://db/cohai"
        );
    }

    #[test]
    fn sqlite_url_forms() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db"),
            DatabaseUrl::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:x.db"),
            DatabaseUrl::Sqlite(PathBuf::from("x.db"))
        );
    }
}
