//! Running blocking service calls off the async executor.

use std::time::{Duration, Instant};

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
    blocking_within(state.settings.queue_timeout, f).await
}

/// [`blocking`] with the longest wait for a thread given directly.
pub async fn blocking_within<T, F>(queue_timeout: Duration, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> ServiceResult<T> + Send + 'static,
{
    let queued = Instant::now();
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

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;
    use actix_web::http::StatusCode;

    use super::*;

    /// A runtime whose blocking pool has a single thread.
    fn one_blocking_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn a_call_that_waited_too_long_for_a_thread_gets_503_and_does_not_run() {
        one_blocking_thread().block_on(async {
            let busy = blocking_within(Duration::from_secs(5), || {
                std::thread::sleep(Duration::from_millis(300));
                Ok(1)
            });
            let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = ran.clone();
            let queued = blocking_within(Duration::from_millis(50), move || {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(2)
            });
            let (busy, queued) = futures_util::future::join(busy, queued).await;
            assert_eq!(busy.ok(), Some(1));
            let error = queued.expect_err("the queued call is refused");
            assert_eq!(error.status_code(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(
                !ran.load(std::sync::atomic::Ordering::SeqCst),
                "it never ran"
            );
        });
    }

    #[test]
    fn a_call_that_gets_a_thread_in_time_runs() {
        one_blocking_thread().block_on(async {
            let got = blocking_within(Duration::from_secs(5), || Ok("done")).await;
            assert_eq!(got.ok(), Some("done"));
        });
    }

    #[test]
    fn a_panicking_call_becomes_a_500() {
        one_blocking_thread().block_on(async {
            let got: Result<(), ApiError> =
                blocking_within(Duration::from_secs(5), || panic!("boom")).await;
            let error = got.expect_err("an error");
            assert_eq!(error.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        });
    }
}
