//! Idempotency keys: reservations with a lease, and the replies kept for them (API.md §3.2;
//! the life of a key is described in [`cohai_domain::idempotency`]).
//!
//! Exactly once, also across instances sharing a PostgreSQL database: a key is reserved by
//! `INSERT … ON CONFLICT DO NOTHING`, so of concurrent requests exactly one inserts the row;
//! a free row (expired, or a reservation whose lease ran out) is taken over by an `UPDATE`
//! that names the token it found, so of concurrent takeovers exactly one matches. Each call is
//! its own short transaction, committed before the guarded work starts; on SQLite it goes
//! through the process's single writer ([`Db::write`]) like every other write.

use chrono::{DateTime, NaiveDateTime, Utc};
use cohai_domain::idempotency::{Begin, IdempotentRequest, KeptReply, Lease, Reservation};
use cohai_domain::ports::IdempotencyRepository;
use cohai_domain::{RepoError, RepoResult};
use diesel::prelude::*;

use super::{Db, to_db_time};
use crate::connection::write_transaction;
use crate::error::StoreError;
use crate::schema::idempotency_keys as keys;

/// How often [`IdempotencyRepository::begin`] looks again when the row it found changed
/// before it could act on it (released, or taken over by another request). Each round
/// follows a concurrent commit, so this is only reached under a storm of takeovers; the
/// request is then answered as if the key were in progress.
const ATTEMPTS: usize = 4;

/// A new reservation.
#[derive(Insertable)]
#[diesel(table_name = keys)]
struct NewReservation<'a> {
    client: &'a str,
    endpoint: &'a str,
    idempotency_key: &'a str,
    request_hash: &'a str,
    lease_token: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    locked_until: Option<NaiveDateTime>,
}

/// A free row turned into this request's reservation: the previous reply (if any) is gone.
#[derive(AsChangeset)]
#[diesel(table_name = keys, treat_none_as_null = true)]
struct Takeover<'a> {
    request_hash: &'a str,
    lease_token: &'a str,
    status: Option<i32>,
    response_headers: Option<&'a str>,
    response_body: Option<&'a str>,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    locked_until: Option<NaiveDateTime>,
}

/// What holds a key.
#[derive(Queryable)]
struct Held {
    request_hash: String,
    lease_token: String,
    status: Option<i32>,
    response_headers: Option<String>,
    response_body: Option<String>,
    expires_at: NaiveDateTime,
    locked_until: Option<NaiveDateTime>,
}

impl Held {
    /// Whether another request may take the key over at `now`: the row expired, or it is a
    /// reservation whose lease ran out (its request died, or stopped renewing).
    fn is_free(&self, now: NaiveDateTime) -> bool {
        self.expires_at <= now
            || (self.status.is_none() && self.locked_until.is_none_or(|until| until <= now))
    }

    /// The answer to a request with this body hash while the row holds the key.
    fn outcome(self, body_sha256: &str) -> Result<Begin, StoreError> {
        if self.request_hash != body_sha256 {
            return Ok(Begin::Mismatch);
        }
        let (Some(status), Some(headers), Some(body)) =
            (self.status, self.response_headers, self.response_body)
        else {
            return Ok(Begin::InProgress);
        };
        let status = u16::try_from(status)
            .map_err(|_| RepoError::Internal(format!("a kept reply has status {status}")))?;
        let headers = serde_json::from_str(&headers)
            .map_err(|e| RepoError::Internal(format!("a kept reply's headers: {e}")))?;
        Ok(Begin::Replay(KeptReply {
            status,
            headers,
            body,
        }))
    }
}

/// Diesel implementation of [`IdempotencyRepository`].
pub(crate) struct DieselIdempotencyRepository {
    db: Db,
}

impl DieselIdempotencyRepository {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

/// The row of `$scope` (an `IdempotencyScope`).
macro_rules! row_of {
    ($scope:expr) => {
        keys::table.find((
            $scope.client.as_str(),
            $scope.endpoint.as_str(),
            $scope.key.as_str(),
        ))
    };
}

/// The live reservation `$reservation` (its row, while it holds the lease).
macro_rules! reservation_row {
    ($reservation:expr) => {
        row_of!($reservation.scope)
            .filter(keys::lease_token.eq($reservation.token.as_str()))
            .filter(keys::status.is_null())
    };
}

impl IdempotencyRepository for DieselIdempotencyRepository {
    fn begin(&self, request: &IdempotentRequest, lease: Lease) -> RepoResult<Begin> {
        let scope = &request.scope;
        let token = uuid::Uuid::new_v4().simple().to_string();
        let (now, created_at, expires_at, locked_until) = (
            to_db_time(lease.now),
            to_db_time(lease.now),
            to_db_time(lease.expires_at),
            Some(to_db_time(lease.locked_until)),
        );
        let fresh = NewReservation {
            client: &scope.client,
            endpoint: &scope.endpoint,
            idempotency_key: &scope.key,
            request_hash: &request.body_sha256,
            lease_token: &token,
            created_at,
            expires_at,
            locked_until,
        };
        let takeover = Takeover {
            request_hash: &request.body_sha256,
            lease_token: &token,
            status: None,
            response_headers: None,
            response_body: None,
            created_at,
            expires_at,
            locked_until,
        };
        let started = || {
            Begin::Started(Reservation {
                scope: scope.clone(),
                token: token.clone(),
            })
        };
        self.db.write(|c| {
            write_transaction!(c, |c| {
                for _ in 0..ATTEMPTS {
                    // Waits for a concurrent insert of the same key to commit or roll back.
                    let inserted = diesel::insert_into(keys::table)
                        .values(&fresh)
                        .on_conflict_do_nothing()
                        .execute(c)?;
                    if inserted == 1 {
                        return Ok(started());
                    }
                    let held: Option<Held> = row_of!(scope)
                        .select((
                            keys::request_hash,
                            keys::lease_token,
                            keys::status,
                            keys::response_headers,
                            keys::response_body,
                            keys::expires_at,
                            keys::locked_until,
                        ))
                        .first(c)
                        .optional()?;
                    // Released since the insert: insert again.
                    let Some(held) = held else { continue };
                    if !held.is_free(now) {
                        return held.outcome(&request.body_sha256);
                    }
                    // Only if the row is still the one seen: of concurrent takeovers one wins.
                    let taken = diesel::update(row_of!(scope))
                        .filter(keys::lease_token.eq(&held.lease_token))
                        .set(&takeover)
                        .execute(c)?;
                    if taken == 1 {
                        return Ok(started());
                    }
                }
                Ok::<_, StoreError>(Begin::InProgress)
            })
        })
    }

    fn renew(&self, reservation: &Reservation, locked_until: DateTime<Utc>) -> RepoResult<bool> {
        self.db.write(|c| {
            let renewed = diesel::update(reservation_row!(reservation))
                .set(keys::locked_until.eq(Some(to_db_time(locked_until))))
                .execute(c)?;
            Ok(renewed == 1)
        })
    }

    fn complete(
        &self,
        reservation: &Reservation,
        reply: &KeptReply,
        expires_at: DateTime<Utc>,
    ) -> RepoResult<bool> {
        let headers = serde_json::to_string(&reply.headers)
            .map_err(|e| RepoError::Internal(format!("cannot serialise headers: {e}")))?;
        self.db.write(|c| {
            let kept = diesel::update(reservation_row!(reservation))
                .set((
                    keys::status.eq(Some(i32::from(reply.status))),
                    keys::response_headers.eq(Some(&headers)),
                    keys::response_body.eq(Some(&reply.body)),
                    keys::expires_at.eq(to_db_time(expires_at)),
                    keys::locked_until.eq(None::<NaiveDateTime>),
                ))
                .execute(c)?;
            Ok(kept == 1)
        })
    }

    fn release(&self, reservation: &Reservation) -> RepoResult<bool> {
        self.db.write(|c| {
            let released = diesel::delete(reservation_row!(reservation)).execute(c)?;
            Ok(released == 1)
        })
    }

    fn purge_expired(&self, now: DateTime<Utc>) -> RepoResult<u64> {
        self.db.write(|c| {
            let purged = diesel::delete(keys::table.filter(keys::expires_at.le(to_db_time(now))))
                .execute(c)?;
            Ok(purged as u64)
        })
    }
}
