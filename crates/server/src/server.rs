//! Running the HTTP server until SIGTERM or SIGINT, then finishing requests in flight.

use std::time::Instant;

use actix_web::HttpServer;
use cohai_persistence::{Database, DatabaseUrl};

use crate::compose::{self, ComposeError};
use cohai_config::Settings;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] cohai_persistence::PersistenceError),
    /// The application could not be composed.
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// An admin key is malformed.
    #[error(transparent)]
    AdminKey(#[from] cohai_web::auth::AdminKeyError),
    /// The notifications dispatcher could not start.
    #[error(transparent)]
    Notifications(#[from] crate::notifications::NotificationsError),
    /// Binding or serving failed.
    #[error("HTTP server: {0}")]
    Io(#[from] std::io::Error),
}

/// The housekeeping purges: expired idempotency keys, expired console sessions, and the rate
/// limit's clients whose allowance is whole again.
fn purge_jobs(state: &cohai_web::AppState) -> Vec<crate::purge::Job> {
    let keys = state.idempotency.clone();
    let sessions = state.console_sessions.clone();
    let mut jobs = vec![
        crate::purge::Job {
            what: "expired idempotency keys",
            run: Box::new(move || keys.purge_expired(chrono::Utc::now())),
        },
        crate::purge::Job {
            what: "expired console sessions",
            run: Box::new(move || sessions.purge_expired().map(|purged| purged as u64)),
        },
    ];
    let limits = [
        (
            "lead-form rate-limit entries of clients with their whole allowance",
            &state.lead_rate_limit,
        ),
        (
            "sign-in rate-limit entries of clients with their whole allowance",
            &state.sign_in_rate_limit,
        ),
    ];
    for (what, limit) in limits {
        if let Some(limit) = limit.clone() {
            jobs.push(crate::purge::Job {
                what,
                run: Box::new(move || limit.purge()),
            });
        }
    }
    jobs
}

/// Opens and migrates the database, then serves until a stop signal.
pub async fn run(settings: Settings) -> Result<(), ServeError> {
    let started = Instant::now();
    // Loading the phone-number metadata takes tens of milliseconds: do it beside start-up
    // rather than in the first sign-up (which waits for it if it comes first).
    std::thread::spawn(|| drop(cohai_domain::Phone::parse("+79161234567")));
    let url = DatabaseUrl::parse(&settings.database_url);
    log::info!("database: {} ({})", url.redacted(), url.backend_name());
    let db = actix_web::web::block({
        let settings = settings.clone();
        move || -> Result<Database, ServeError> {
            let db = compose::open_database(&settings)?;
            let applied = db.migrate()?;
            if !applied.is_empty() {
                log::info!("applied migrations: {}", applied.join(", "));
            }
            Ok(db)
        }
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))??;

    let web_settings = compose::web_settings(&settings)?;
    if web_settings.admin_keys.is_empty() {
        log::warn!(
            "no admin key is configured: every admin request will be refused (set COHAI_ADMIN_API_KEY)"
        );
    }
    let list_ttl = std::time::Duration::from_millis(settings.admin_list_cache_ttl_ms);
    let repositories = db.repositories();
    let state = compose::app_state(&repositories, web_settings, list_ttl)?;
    let dispatcher = crate::notifications::start(
        &settings,
        repositories.outbox.clone(),
        state.metrics.clone(),
    )?;
    let purge = crate::purge::start(purge_jobs(&state), crate::purge::EVERY)?;
    let horizon = crate::horizon::start(
        state.timetable.timetable.clone(),
        settings.schedule_horizon_days,
        crate::horizon::EVERY,
    )?;

    let workers = if settings.workers > 0 {
        settings.workers
    } else {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    };
    // Blocking threads only wait on the database: one per pooled connection is enough, and
    // each extra thread costs memory (stack, allocator arena). actix's limit is per worker.
    let blocking_per_worker = (settings.database.pool_max_size as usize)
        .div_ceil(workers)
        .max(1);
    let server = HttpServer::new(move || cohai_web::app(state.clone()))
        .disable_signals()
        .shutdown_timeout(settings.shutdown_timeout_secs)
        .workers(workers)
        // actix's limit is per worker.
        .max_connections(settings.max_connections.div_ceil(workers).max(1))
        .worker_max_blocking_threads(blocking_per_worker)
        .bind(&settings.bind)?;
    for addr in server.addrs() {
        log::info!(
            "listening on http://{addr} (ready in {} ms)",
            started.elapsed().as_millis()
        );
    }
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        wait_for_stop_signal().await;
        log::info!("stop signal received; finishing requests in flight");
        handle.stop(true).await;
    });
    server.await?;
    // After the last request: what they wrote is in the outbox, delivered by whichever
    // instance runs next if this one stops first.
    drop(dispatcher);
    drop(purge);
    drop(horizon);
    drop(db);
    log::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                log::error!("cannot install signal handlers; stop with SIGKILL");
                std::future::pending::<()>().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
