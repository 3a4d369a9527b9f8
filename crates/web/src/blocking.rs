//! Running blocking service calls off the async executor.

use actix_web::web;
use cohai_services::ServiceResult;

use crate::error::ApiError;

/// Runs `f` on actix's blocking thread pool (the services block on the database) and maps
/// its error once. A panic inside `f` becomes a 500.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> ServiceResult<T> + Send + 'static,
{
    match web::block(f).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(_) => {
            log::error!("a blocking service call panicked");
            Err(ApiError::internal())
        }
    }
}
