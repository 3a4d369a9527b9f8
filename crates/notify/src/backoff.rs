//! When a failed delivery is tried again, and when it is given up (API.md §7).
//!
//! Pure functions of the attempt count, the failure window's start and the clock, so the
//! schedules are tested without waiting.

use chrono::{DateTime, TimeDelta, Utc};
use cohai_domain::outbox::NextStep;

/// Webhook retries: about 1 min, 5 min, 30 min, 2 h, 6 h, then every 12 h.
const WEBHOOK_DELAYS: [TimeDelta; 5] = [
    TimeDelta::minutes(1),
    TimeDelta::minutes(5),
    TimeDelta::minutes(30),
    TimeDelta::hours(2),
    TimeDelta::hours(6),
];
const WEBHOOK_LATER_DELAY: TimeDelta = TimeDelta::hours(12);

/// How long a webhook may keep failing before it is deactivated.
pub const WEBHOOK_WINDOW: TimeDelta = TimeDelta::days(3);

/// Telegram retries: 30 s, doubling, at most an hour apart.
const TELEGRAM_FIRST_DELAY: TimeDelta = TimeDelta::seconds(30);
const TELEGRAM_MAX_DELAY: TimeDelta = TimeDelta::hours(1);

/// How long a Telegram message is retried before it is given up.
pub const TELEGRAM_WINDOW: TimeDelta = TimeDelta::hours(24);

/// After the failed attempt number `attempt` (1 for the first) of a webhook delivery whose
/// failures began at `failing_since` (this attempt's time, `now`, if it is the first):
/// retry on the schedule, the last retry falling exactly at the end of the 3-day window;
/// once that has failed, deactivate the webhook.
pub fn after_webhook_failure(
    attempt: i32,
    failing_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> NextStep {
    let since = failing_since.unwrap_or(now);
    let deadline = since + WEBHOOK_WINDOW;
    if now >= deadline {
        return NextStep::Deactivate;
    }
    let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(0);
    let delay = WEBHOOK_DELAYS
        .get(index)
        .copied()
        .unwrap_or(WEBHOOK_LATER_DELAY);
    NextStep::RetryAt((now + delay).min(deadline))
}

/// After the failed attempt number `attempt` of a Telegram message: retry after 30 s,
/// doubling up to an hour, for 24 hours from the first failure; then give up.
pub fn after_telegram_failure(
    attempt: i32,
    failing_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> NextStep {
    let since = failing_since.unwrap_or(now);
    let deadline = since + TELEGRAM_WINDOW;
    if now >= deadline {
        return NextStep::GiveUp;
    }
    let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    let delay = TELEGRAM_FIRST_DELAY
        .checked_mul(1 << doublings)
        .unwrap_or(TELEGRAM_MAX_DELAY)
        .min(TELEGRAM_MAX_DELAY);
    NextStep::RetryAt((now + delay).min(deadline))
}

/// After Telegram answered 429: retry after its `retry_after`, unless that is past the
/// 24-hour window.
pub fn after_telegram_rate_limit(
    retry_after: TimeDelta,
    failing_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> NextStep {
    let since = failing_since.unwrap_or(now);
    if now >= since + TELEGRAM_WINDOW {
        return NextStep::GiveUp;
    }
    NextStep::RetryAt(now + retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .expect("instant")
            .with_timezone(&Utc)
    }

    fn retry_delay(step: NextStep, now: DateTime<Utc>) -> TimeDelta {
        match step {
            NextStep::RetryAt(at) => at - now,
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn webhook_retries_follow_the_contracts_schedule_then_every_twelve_hours() {
        let mut now = t0();
        let mut since = None;
        let mut delays = Vec::new();
        for attempt in 1..=7 {
            let delay = retry_delay(after_webhook_failure(attempt, since, now), now);
            since.get_or_insert(now);
            delays.push(delay);
            now += delay;
        }
        assert_eq!(
            delays,
            [
                TimeDelta::minutes(1),
                TimeDelta::minutes(5),
                TimeDelta::minutes(30),
                TimeDelta::hours(2),
                TimeDelta::hours(6),
                TimeDelta::hours(12),
                TimeDelta::hours(12),
            ]
        );
    }

    #[test]
    fn a_webhook_failing_for_three_days_is_deactivated_after_a_last_retry_at_the_deadline() {
        let since = t0();
        let mut now = since;
        let mut attempt = 1;
        loop {
            match after_webhook_failure(attempt, Some(since), now) {
                NextStep::RetryAt(at) => {
                    assert!(at <= since + WEBHOOK_WINDOW, "never past the window");
                    now = at;
                    attempt += 1;
                }
                NextStep::Deactivate => break,
                other => panic!("unexpected {other:?}"),
            }
            assert!(attempt < 100, "the schedule ends");
        }
        assert_eq!(
            now,
            since + WEBHOOK_WINDOW,
            "the last attempt is at the deadline"
        );
        assert!(
            attempt > 8,
            "about eleven attempts in three days, got {attempt}"
        );
    }

    #[test]
    fn telegram_retries_start_at_thirty_seconds_and_double_up_to_an_hour() {
        let now = t0();
        let delays: Vec<TimeDelta> = [1, 2, 3, 8, 20]
            .into_iter()
            .map(|attempt| retry_delay(after_telegram_failure(attempt, Some(now), now), now))
            .collect();
        assert_eq!(
            delays,
            [
                TimeDelta::seconds(30),
                TimeDelta::seconds(60),
                TimeDelta::seconds(120),
                TimeDelta::hours(1),
                TimeDelta::hours(1),
            ]
        );
    }

    #[test]
    fn telegram_gives_up_after_twenty_four_hours_of_failures() {
        let since = t0();
        let late = since + TELEGRAM_WINDOW;
        assert_eq!(
            after_telegram_failure(30, Some(since), late),
            NextStep::GiveUp
        );
        assert_eq!(
            after_telegram_rate_limit(TimeDelta::seconds(5), Some(since), late),
            NextStep::GiveUp
        );
        let early = since + TimeDelta::hours(1);
        assert_eq!(
            after_telegram_rate_limit(TimeDelta::seconds(5), Some(since), early),
            NextStep::RetryAt(early + TimeDelta::seconds(5))
        );
    }
}
