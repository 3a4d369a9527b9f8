//! Idempotent creation (API.md §3.2): reserving a request's key, keeping its 2xx reply,
//! freeing the key of a failed request, and purging expired keys.
//!
//! The HTTP layer calls [`IdempotencyService::begin`] before the handler and
//! [`IdempotencyService::complete`] or [`IdempotencyService::release`] after it. The life of a
//! key, and its [`LEASE`] and [`KEEP_FOR`], are in [`cohai_domain::idempotency`].
//!
//! # The window that remains
//!
//! The guarded work and the recording of its reply are two transactions. When the process
//! dies after the work committed and before [`IdempotencyService::complete`] ran (a crash, a
//! `SIGKILL`, the database lost just then), the reservation is left without a reply; once its
//! lease runs out (at most [`LEASE`] after its last renewal) a retry with the key is
//! processed again. For the public lead form that retry finds the lead the first request
//! stored and joins it (de-duplication by phone within 24 hours: a `200` and a `resubmitted`
//! event, no second lead); for an admin `POST` it creates a second resource. A client that
//! disconnects leaves the same state: its request may still commit, so the key is not
//! released, and a retry gets `409` until the lease runs out.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cohai_domain::idempotency::{
    Begin, IdempotentRequest, KEEP_FOR, KeptReply, LEASE, Lease, Reservation,
};
use cohai_domain::ports::IdempotencyRepository;

use crate::{ServiceError, ServiceResult};

/// Keys and kept replies.
pub trait IdempotencyService: Send + Sync {
    /// Presents a request's key at `now`: [`Begin::Started`] reserves it for this request
    /// (for [`LEASE`]); otherwise the answer says what holds it.
    fn begin(&self, request: &IdempotentRequest, now: DateTime<Utc>) -> ServiceResult<Begin>;
    /// Extends a running request's lease by [`LEASE`] from `now`; `false` when the
    /// reservation is no longer this request's.
    fn renew(&self, reservation: &Reservation, now: DateTime<Utc>) -> ServiceResult<bool>;
    /// Keeps a 2xx `reply` for [`KEEP_FOR`] from `now`; `false` when the reservation is no
    /// longer this request's (its lease ran out and another request took the key over).
    fn complete(
        &self,
        reservation: &Reservation,
        reply: &KeptReply,
        now: DateTime<Utc>,
    ) -> ServiceResult<bool>;
    /// Frees the key of a request that did not succeed, so it may be retried.
    fn release(&self, reservation: &Reservation) -> ServiceResult<bool>;
    /// Deletes the keys expired at `now`; returns how many.
    fn purge_expired(&self, now: DateTime<Utc>) -> ServiceResult<u64>;
}

/// [`IdempotencyService`] over the idempotency repository.
pub struct IdempotencyServiceImpl {
    keys: Arc<dyn IdempotencyRepository>,
}

impl IdempotencyServiceImpl {
    /// The service over `keys`.
    pub fn new(keys: Arc<dyn IdempotencyRepository>) -> Self {
        Self { keys }
    }
}

impl IdempotencyService for IdempotencyServiceImpl {
    fn begin(&self, request: &IdempotentRequest, now: DateTime<Utc>) -> ServiceResult<Begin> {
        Ok(self.keys.begin(request, Lease::starting(now))?)
    }

    fn renew(&self, reservation: &Reservation, now: DateTime<Utc>) -> ServiceResult<bool> {
        Ok(self.keys.renew(reservation, now + LEASE)?)
    }

    fn complete(
        &self,
        reservation: &Reservation,
        reply: &KeptReply,
        now: DateTime<Utc>,
    ) -> ServiceResult<bool> {
        if !(200..300).contains(&reply.status) {
            return Err(ServiceError::Internal(format!(
                "only 2xx replies are kept, not {}",
                reply.status
            )));
        }
        Ok(self.keys.complete(reservation, reply, now + KEEP_FOR)?)
    }

    fn release(&self, reservation: &Reservation) -> ServiceResult<bool> {
        Ok(self.keys.release(reservation)?)
    }

    fn purge_expired(&self, now: DateTime<Utc>) -> ServiceResult<u64> {
        Ok(self.keys.purge_expired(now)?)
    }
}
