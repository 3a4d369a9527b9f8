//! Settings and logging of the Cohai Stretching programs (`cohai-server`, `cohai-bootstrap`).
//!
//! [`Settings::default`] is the one place every default is written; `config/default.toml`
//! documents the same keys and values (a test keeps the two equal). This crate knows nothing
//! of HTTP: the bootstrap tool uses it without pulling in the web server.

pub mod logging;
pub mod settings;

pub use settings::{
    AdminKeySetting, CalendarSettings, DatabaseSettings, KeyRole, LogFormat, LogSettings,
    OutboxSettings, Settings, SettingsError, TelegramSettings, WebhookSettings,
};
