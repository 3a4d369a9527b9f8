//! Typed settings: the built-in defaults ([`Settings::default`], the one place they are
//! written), then the TOML file named by `COHAI_CONFIG`, then the environment. Unknown keys are
//! rejected, and errors name the offending key and its source.
//!
//! `config/default.toml` documents every key with its default value; the programs do not read
//! it, so they behave the same from any working directory (a test keeps file and type equal).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Environment variables with the `COHAI_` prefix that are not settings.
const NOT_SETTINGS: &[&str] = &[
    "COHAI_CONFIG",
    "COHAI_TEST_POSTGRES_URL",
    "COHAI_UPDATE_OPENAPI",
    "COHAI_UPDATE_POSTMAN",
    "COHAI_GIT_COMMIT",
];
const NOT_SETTINGS_PREFIXES: &[&str] = &["COHAI_BENCH_"];

/// Every setting of the server and the bootstrap tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// SQLite path/URL or PostgreSQL URL.
    pub database_url: String,
    /// Listen address.
    pub bind: String,
    /// HTTP workers; 0 = one per core.
    pub workers: usize,
    /// Grace period for requests in flight at shutdown, seconds.
    pub shutdown_timeout_secs: u64,
    /// Most open client connections (all workers together); more wait in the listen backlog.
    /// Memory grows with open connections (tens of KiB each), so this bounds it.
    pub max_connections: usize,
    /// One admin key named `admin` (empty = none).
    pub admin_api_key: String,
    /// More admin keys, by SHA-256 digest.
    pub admin_keys: Vec<AdminKeySetting>,
    /// How long a session of the managers' console lasts from its sign-in, minutes; at
    /// least 1 (0 counts as 1).
    pub console_session_minutes: u32,
    /// Whether `/api/v1/test-error` answers.
    pub test_error_enabled: bool,
    /// `max-age` of public responses, seconds.
    pub cache_max_age: u32,
    /// Lead submissions per minute per IP; 0 = off.
    pub lead_rate_per_minute: u32,
    /// Trusted reverse proxies.
    pub trusted_proxies: Vec<IpAddr>,
    /// Largest request body, bytes.
    pub body_limit: usize,
    /// Deadline for reading a whole request body, milliseconds (answered 408 when missed).
    pub body_read_timeout_ms: u64,
    /// CORS origins.
    pub cors_origins: Vec<String>,
    /// How long public GET responses are served from the in-process cache, ms; 0 = off.
    pub public_cache_ttl_ms: u64,
    /// How long an admin list page may be reused while no lead changes here, ms; 0 = off.
    pub admin_list_cache_ttl_ms: u64,
    /// Days ahead (after each location's today) that the server keeps class sessions
    /// generated from the weekly timetable, at start and hourly; 0 = off.
    pub schedule_horizon_days: u32,
    /// Database pool.
    pub database: DatabaseSettings,
    /// Logging.
    pub log: LogSettings,
    /// The calendar feed (`/api/v1/schedule.ics`).
    pub calendar: CalendarSettings,
    /// The notifications outbox and its dispatcher (API.md §7).
    pub outbox: OutboxSettings,
    /// Telegram messages to the studios' managers (API.md §7).
    pub telegram: TelegramSettings,
    /// Webhook deliveries (API.md §7).
    pub webhooks: WebhookSettings,
}

/// The outbox's dispatcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxSettings {
    /// Whether this instance runs a dispatcher (several instances may: they share the work).
    pub dispatch: bool,
    /// How often the dispatcher looks for work, milliseconds.
    pub poll_interval_ms: u64,
    /// How long a claimed delivery is reserved for its dispatcher, seconds; after that (the
    /// instance died mid-delivery) another may make it again. Longer than a delivery's
    /// time-out (10 s).
    pub lease_secs: u64,
    /// Days delivered (or given up) events are kept, with their deliveries log.
    pub retention_days: u32,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            dispatch: true,
            poll_interval_ms: 500,
            lease_secs: 60,
            retention_days: 30,
        }
    }
}

/// Telegram settings; nothing is sent while `bot_token` is empty.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelegramSettings {
    /// The bot's token (a secret).
    pub bot_token: String,
    /// The default chat.
    pub chat_id: String,
    /// Chats by location id, e.g. `{1 = "-1002"}` (TOML keys are strings: read as numbers).
    #[serde(deserialize_with = "location_keys")]
    pub location_chats: std::collections::BTreeMap<i64, String>,
    /// The Bot API's base URL (tests point it at a fake server).
    pub api_base: String,
    /// Whether messages carry the person's name and phone.
    pub include_contact: bool,
}

/// A table keyed by location id: TOML (and the environment) give the keys as strings.
fn location_keys<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<std::collections::BTreeMap<i64, String>, D::Error> {
    let raw = std::collections::BTreeMap::<String, String>::deserialize(deserializer)?;
    raw.into_iter()
        .map(|(key, chat)| match key.trim().parse::<i64>() {
            Ok(id) if id > 0 => Ok((id, chat)),
            _ => Err(serde::de::Error::custom(format!(
                "location id {key:?} is not a positive integer"
            ))),
        })
        .collect()
}

impl Default for TelegramSettings {
    fn default() -> Self {
        Self {
            bot_token: String::new(),
            chat_id: String::new(),
            location_chats: std::collections::BTreeMap::new(),
            api_base: "https://api.telegram.org".to_owned(),
            include_contact: true,
        }
    }
}

impl std::fmt::Debug for TelegramSettings {
    /// Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramSettings")
            .field(
                "bot_token",
                &if self.bot_token.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("chat_id", &self.chat_id)
            .field("location_chats", &self.location_chats)
            .field("api_base", &self.api_base)
            .field("include_contact", &self.include_contact)
            .finish()
    }
}

/// Webhook settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Allow `http` URLs and loopback, private, link-local and unique-local targets (tests
    /// only: it turns off the SSRF protection).
    pub allow_private_targets: bool,
}

/// Calendar feed settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarSettings {
    /// The part after `@` of every event's `UID` (`session-<id>@<uid_domain>`). Calendar apps
    /// recognise events by UID, so change it only before anyone subscribes.
    pub uid_domain: String,
}

impl Default for CalendarSettings {
    fn default() -> Self {
        Self {
            uid_domain: "cohai".to_owned(),
        }
    }
}

/// A named admin key, stored as the SHA-256 digest of the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminKeySetting {
    /// Recorded as the actor of the key's changes.
    pub name: String,
    /// Hex SHA-256 of the key.
    pub sha256: String,
    /// What the key may use (API.md §3.1).
    #[serde(default)]
    pub role: KeyRole,
    /// For a manager: the only locations whose leads it may see (absent: every location).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locations: Option<Vec<i64>>,
}

/// The role of an admin key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRole {
    /// Every admin endpoint.
    #[default]
    Admin,
    /// Only the leads endpoints, optionally limited to `locations`.
    Manager,
}

/// Connection pool settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Most connections.
    pub pool_max_size: u32,
    /// Wait for a free connection, milliseconds.
    pub pool_timeout_ms: u64,
    /// Longest `GET /ready` takes to answer, milliseconds: its own short check, under the 1 s
    /// that probes wait by default, instead of the pool's wait.
    pub ready_timeout_ms: u64,
    /// SQLite lock wait, milliseconds.
    pub busy_timeout_ms: u64,
    /// Page cache of each SQLite connection, KiB.
    pub sqlite_cache_kib: u32,
}

/// Log output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Plain,
    /// One JSON object per line.
    Json,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// Default filter when `RUST_LOG` is unset.
    pub level: String,
    /// Plain or JSON lines.
    pub format: LogFormat,
    /// Optional file to append to, besides standard error.
    pub file: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://data/cohai.db".to_owned(),
            bind: "127.0.0.1:8080".to_owned(),
            workers: 0,
            shutdown_timeout_secs: 30,
            max_connections: 4096,
            admin_api_key: String::new(),
            admin_keys: Vec::new(),
            console_session_minutes: 12 * 60,
            test_error_enabled: true,
            cache_max_age: 60,
            lead_rate_per_minute: 10,
            trusted_proxies: Vec::new(),
            body_limit: 64 * 1024,
            body_read_timeout_ms: 5000,
            cors_origins: vec![
                "http://localhost:3000".to_owned(),
                "http://127.0.0.1:3000".to_owned(),
            ],
            public_cache_ttl_ms: 5000,
            admin_list_cache_ttl_ms: 1000,
            schedule_horizon_days: 28,
            database: DatabaseSettings::default(),
            log: LogSettings::default(),
            calendar: CalendarSettings::default(),
            outbox: OutboxSettings::default(),
            telegram: TelegramSettings::default(),
            webhooks: WebhookSettings::default(),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            pool_max_size: 8,
            pool_timeout_ms: 3000,
            ready_timeout_ms: 800,
            busy_timeout_ms: 5000,
            // Small: pages not cached come from the OS's file cache (SQLite's own default is
            // 2000 KiB); bulk loads (`cohai-bootstrap generate`) raise it.
            sqlite_cache_kib: 512,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: LogFormat::Plain,
            file: String::new(),
        }
    }
}

/// Settings could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct SettingsError(Box<figment::Error>);

impl Settings {
    /// Loads the defaults, the file named by `COHAI_CONFIG` (if set), then the environment.
    pub fn load() -> Result<Self, SettingsError> {
        Self::load_from(
            std::env::var_os("COHAI_CONFIG")
                .map(PathBuf::from)
                .as_deref(),
        )
    }

    /// Like [`Settings::load`] with an explicit file (`None`: defaults and environment only).
    pub fn load_from(file: Option<&Path>) -> Result<Self, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            // A named file must exist: a typo in COHAI_CONFIG should not silently fall back.
            if !file.exists() {
                return Err(SettingsError(Box::new(figment::Error::from(format!(
                    "COHAI_CONFIG names {}, which does not exist",
                    file.display()
                )))));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment
            .merge(Env::raw().only(&["DATABASE_URL"]))
            .merge(
                Env::prefixed("COHAI_")
                    .filter(|key| {
                        let full = format!("COHAI_{}", key.as_str().to_ascii_uppercase());
                        !NOT_SETTINGS.contains(&full.as_str())
                            && !NOT_SETTINGS_PREFIXES.iter().any(|p| full.starts_with(p))
                    })
                    .split("__"),
            )
            .extract()
            .map_err(|e| SettingsError(Box::new(e)))
    }

    /// The pool settings for the persistence layer.
    pub fn pool(&self) -> cohai_persistence::PoolSettings {
        cohai_persistence::PoolSettings {
            max_size: self.database.pool_max_size.max(1),
            connection_timeout: std::time::Duration::from_millis(
                self.database.pool_timeout_ms.max(1),
            ),
            ready_timeout: std::time::Duration::from_millis(self.database.ready_timeout_ms.max(1)),
            busy_timeout: std::time::Duration::from_millis(self.database.busy_timeout_ms),
            sqlite_cache_kib: self.database.sqlite_cache_kib,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use figment::Provider;
    use figment::value::{Dict, Value};

    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write config");
        path
    }

    fn documented_defaults() -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml");
        std::fs::read_to_string(&path).expect("read config/default.toml")
    }

    /// Every key path (`database.pool_max_size`) of `dict`; tables are walked, arrays are values.
    fn key_paths(dict: &Dict, prefix: &str, out: &mut BTreeSet<String>) {
        for (key, value) in dict {
            let path = format!("{prefix}{key}");
            match value {
                Value::Dict(_, inner) => key_paths(inner, &format!("{path}."), out),
                _ => {
                    out.insert(path);
                }
            }
        }
    }

    fn keys_of(provider: &impl Provider) -> BTreeSet<String> {
        let data = provider.data().expect("provider data");
        let mut keys = BTreeSet::new();
        for dict in data.values() {
            key_paths(dict, "", &mut keys);
        }
        keys
    }

    #[test]
    fn the_documented_file_holds_every_key_of_the_type() {
        let file = keys_of(&Toml::string(&documented_defaults()));
        let code = keys_of(&Serialized::defaults(Settings::default()));
        let missing: Vec<_> = code.difference(&file).collect();
        let extra: Vec<_> = file.difference(&code).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "config/default.toml lacks {missing:?} and has unknown {extra:?}"
        );
    }

    #[test]
    fn the_documented_file_gives_exactly_the_built_in_defaults() {
        // The file alone, without the built-in defaults under it: every value must match.
        let from_file: Settings = Figment::from(Toml::string(&documented_defaults()))
            .extract()
            .expect("config/default.toml is valid");
        assert_eq!(
            from_file,
            Settings::default(),
            "config/default.toml (left) and Settings::default() (right) differ"
        );
    }

    #[test]
    fn the_built_in_defaults_allow_the_local_website() {
        assert_eq!(
            Settings::default().cors_origins,
            ["http://localhost:3000", "http://127.0.0.1:3000"]
        );
    }

    #[test]
    fn a_file_overrides_the_defaults_and_unknown_keys_are_rejected_with_their_name() {
        let dir = tempfile::tempdir().expect("dir");
        let file = write(
            dir.path(),
            "a.toml",
            "bind = \"0.0.0.0:1\"\n[database]\npool_max_size = 3\n",
        );
        let s = Settings::load_from(Some(&file)).expect("valid");
        assert_eq!(
            (s.bind.as_str(), s.database.pool_max_size),
            ("0.0.0.0:1", 3)
        );
        // Keys the file leaves out keep their defaults, also inside a table it names.
        assert_eq!(
            s.database.pool_timeout_ms,
            Settings::default().database.pool_timeout_ms
        );

        let bad = write(dir.path(), "c.toml", "lead_rate_per_minut = 5\n");
        let err = Settings::load_from(Some(&bad))
            .expect_err("unknown key")
            .to_string();
        assert!(err.contains("lead_rate_per_minut"), "{err}");
    }

    #[test]
    fn a_wrongly_typed_value_names_its_key() {
        let dir = tempfile::tempdir().expect("dir");
        let bad = write(dir.path(), "a.toml", "cache_max_age = \"soon\"\n");
        let err = Settings::load_from(Some(&bad))
            .expect_err("wrong type")
            .to_string();
        assert!(err.contains("cache_max_age"), "{err}");
    }

    #[test]
    fn telegram_location_chats_are_a_table_from_location_id_to_chat() {
        let dir = tempfile::tempdir().expect("dir");
        let file = write(
            dir.path(),
            "a.toml",
            "[telegram]\nbot_token = \"123:abc\"\nlocation_chats = {1 = \"-1002\", 7 = \"@studio\"}\n",
        );
        let s = Settings::load_from(Some(&file)).expect("valid");
        assert_eq!(
            s.telegram.location_chats.get(&1).map(String::as_str),
            Some("-1002")
        );
        assert_eq!(
            s.telegram.location_chats.get(&7).map(String::as_str),
            Some("@studio")
        );
        let shown = format!("{:?}", s.telegram);
        assert!(
            !shown.contains("123:abc"),
            "the token is never printed: {shown}"
        );

        let bad = write(
            dir.path(),
            "b.toml",
            "[telegram]\nlocation_chats = {x = \"-1\"}\n",
        );
        assert!(
            Settings::load_from(Some(&bad)).is_err(),
            "a location id is a number"
        );
    }

    #[test]
    fn a_missing_named_file_is_an_error() {
        let err = Settings::load_from(Some(Path::new("/nonexistent/cohai.toml")));
        assert!(err.is_err());
    }
}
