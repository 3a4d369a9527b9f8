//! The lead form's per-client rate limit: `n` submissions a minute, all `n` of which may come
//! at once (API.md §3), as the generic cell rate algorithm (GCRA) counts it.
//!
//! Each client has a *theoretical arrival time* (TAT): when its allowance would be whole
//! again. A request at `now` is allowed when `max(tat, now) + interval − now ≤ n × interval`
//! (where `interval` is a minute divided by `n`), and then moves the TAT to
//! `max(tat, now) + interval`; otherwise it is refused and changes nothing. One number per
//! client is the whole state, so it fits one row and one atomic `UPSERT` when several server
//! instances share it (the PostgreSQL store), and the in-memory limiter of a single process
//! (`governor`) counts the same way.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::RepoResult;

/// `per_minute` requests a minute per client, all of which may come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateQuota {
    per_minute: u32,
}

impl RateQuota {
    /// The quota, or `None` for 0 (limiting off).
    pub fn per_minute(per_minute: u32) -> Option<Self> {
        (per_minute > 0).then_some(Self { per_minute })
    }

    /// Requests a minute (and the burst).
    pub fn requests(self) -> u32 {
        self.per_minute
    }

    /// How often one request's worth of allowance comes back, in microseconds (at least 1).
    pub fn interval_micros(self) -> i64 {
        (60_000_000 / i64::from(self.per_minute)).max(1)
    }

    /// The most a client's TAT may lie ahead of `now`: the whole burst, in microseconds.
    pub fn burst_micros(self) -> i64 {
        self.interval_micros() * i64::from(self.per_minute)
    }

    /// Decides a request at `now_micros` from the client's stored TAT (`None`: never seen).
    pub fn decide(self, tat_micros: Option<i64>, now_micros: i64) -> RateDecision {
        let interval = self.interval_micros();
        let start = tat_micros.map_or(now_micros, |tat| tat.max(now_micros));
        let new_tat = start.saturating_add(interval);
        if new_tat - now_micros <= self.burst_micros() {
            RateDecision::Allowed {
                tat_micros: new_tat,
            }
        } else {
            RateDecision::Limited {
                retry_after: self.retry_after(start, now_micros),
            }
        }
    }

    /// How long a client whose TAT is `tat_micros` waits, from `now_micros`, for its next
    /// allowed request: until `tat − (n − 1) × interval`.
    pub fn retry_after(self, tat_micros: i64, now_micros: i64) -> Duration {
        let allowed_at = tat_micros - self.burst_micros() + self.interval_micros();
        Duration::from_micros(u64::try_from(allowed_at - now_micros).unwrap_or(0))
    }
}

/// What the limiter says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Go ahead; the client's TAT is now `tat_micros` (microseconds since the Unix epoch).
    Allowed {
        /// The client's new theoretical arrival time.
        tat_micros: i64,
    },
    /// Refused: the next request may come after `retry_after`.
    Limited {
        /// The wait before the next allowed request.
        retry_after: Duration,
    },
}

/// A client's allowance kept in the database, shared by every server instance on it.
pub trait RateLimitRepository: Send + Sync {
    /// Decides a request of `client` at `now` under `quota` and, when it is allowed, records
    /// it — atomically, so concurrent requests through any instance are counted exactly.
    fn acquire(
        &self,
        client: &str,
        quota: RateQuota,
        now: DateTime<Utc>,
    ) -> RepoResult<RateDecision>;
    /// Forgets the clients whose key starts with `prefix` (one limit's, see `acquire`) and
    /// whose allowance is whole again at `now` (they are as if never seen); returns how many.
    fn purge(&self, prefix: &str, now: DateTime<Utc>) -> RepoResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000_000;

    /// Runs `times` requests at `now` through `quota`, keeping the TAT; how many were allowed.
    fn burst(quota: RateQuota, tat: &mut Option<i64>, now: i64, times: u32) -> u32 {
        let mut allowed = 0;
        for _ in 0..times {
            if let RateDecision::Allowed { tat_micros } = quota.decide(*tat, now) {
                *tat = Some(tat_micros);
                allowed += 1;
            }
        }
        allowed
    }

    #[test]
    fn zero_turns_limiting_off() {
        assert_eq!(RateQuota::per_minute(0), None);
    }

    #[test]
    fn all_of_a_minutes_allowance_may_come_at_once_and_no_more() {
        let quota = RateQuota::per_minute(10).expect("quota");
        let mut tat = None;
        assert_eq!(burst(quota, &mut tat, 0, 11), 10);
    }

    #[test]
    fn one_request_comes_back_every_interval() {
        let quota = RateQuota::per_minute(10).expect("quota");
        let mut tat = None;
        assert_eq!(burst(quota, &mut tat, 0, 10), 10);
        assert_eq!(burst(quota, &mut tat, MINUTE / 10 - 1, 1), 0, "not yet");
        assert_eq!(
            burst(quota, &mut tat, MINUTE / 10, 2),
            1,
            "one back after 6 s"
        );
        assert_eq!(burst(quota, &mut tat, 3 * MINUTE, 20), 10, "whole again");
    }

    #[test]
    fn the_refusal_says_how_long_to_wait() {
        let quota = RateQuota::per_minute(10).expect("quota");
        let mut tat = None;
        burst(quota, &mut tat, 0, 10);
        let now = 2_500_000;
        assert_eq!(
            quota.decide(tat, now),
            RateDecision::Limited {
                retry_after: Duration::from_micros(3_500_000)
            }
        );
    }

    #[test]
    fn a_refused_request_does_not_use_allowance() {
        let quota = RateQuota::per_minute(2).expect("quota");
        let mut tat = None;
        assert_eq!(burst(quota, &mut tat, 0, 50), 2);
        assert_eq!(burst(quota, &mut tat, MINUTE / 2, 5), 1);
    }

    #[test]
    fn huge_quotas_keep_a_positive_interval() {
        let quota = RateQuota::per_minute(u32::MAX).expect("quota");
        assert_eq!(quota.interval_micros(), 1);
        let mut tat = None;
        assert_eq!(burst(quota, &mut tat, 0, 1000), 1000);
    }
}
