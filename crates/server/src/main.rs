//! `cohai-server`: serves the Cohai Stretching API.

use anyhow::Context;
use clap::Parser;

/// Serves the Cohai Stretching HTTP API.
///
/// Settings: the built-in defaults (documented in config/default.toml, which is not read),
/// then the TOML file named by COHAI_CONFIG, then the environment (DATABASE_URL, COHAI_BIND,
/// COHAI_ADMIN_API_KEY, RUST_LOG, …; see the README).
/// Pending migrations are applied at start. SIGTERM or SIGINT stops the server after the
/// requests in flight finish.
#[derive(Debug, Parser)]
#[command(name = "cohai-server", version)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    Cli::parse();
    let settings = cohai_config::Settings::load().context("loading settings")?;
    cohai_config::logging::init(&settings.log).context("opening the log file")?;
    actix_web::rt::System::new()
        .block_on(cohai_server::server::run(settings))
        .context("server failed")
}
