//! Running blocking service calls off the async executor.

use std::time::Instant;

use actix_web::web;
use cohai_services::{ServiceError, ServiceResult};

use crate::error::ApiError;
use crate::state::AppState;

/// Runs `f` on actix's blocking thread pool (the services block on the database) and maps
/// its error once. A panic inside `f` becomes a 500.
///
/// The pool has few threads (about one per database connection), so under a flood calls
/// queue for a thread. A call that waited longer than `queue_timeout` is answered 503
/// without running: together with the connection pool's own time-out this bounds how long
/// any request waits, instead of letting the queue grow without limit.
pub async fn blocking<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> ServiceResult<T> + Send + 'static,
{
    let queued = Instant::now();
    let queue_timeout = state.settings.queue_timeout;
    let run = move || {
        if queued.elapsed() > queue_timeout {
            return Err(ServiceError::Unavailable(
                "waited too long for a worker thread".to_owned(),
            ));
        }
        f()
    };
    match web::block(run).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(_) => {
            log::error!("a blocking service call panicked");
            Err(ApiError::internal())
        }
    }
}
