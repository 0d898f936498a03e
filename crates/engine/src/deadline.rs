//! Deadlines from durations that come from the user or the network (connection string
//! timeouts, heartbeatFrequencyMS, a pool's maxIdleTimeMS...): computed without overflow.
//!
//! `Instant + Duration` panics when the sum is past the clock's range (a few centuries on
//! some platforms); a wait that long is "never" for a client, so it is capped instead.

use std::time::Duration;

use tokio::time::Instant;

/// The longest wait a deadline stands for: about 30 years, like tokio's own far future.
/// Any longer wait is, for a client, the same as waiting forever.
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `start + wait`, with `wait` capped at [`FAR_FUTURE`]; never panics.
pub(crate) fn deadline_after(start: Instant, wait: Duration) -> Instant {
    start.checked_add(wait.min(FAR_FUTURE)).unwrap_or(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_past_the_clock_is_capped_not_a_panic() {
        let now = Instant::now();
        assert_eq!(deadline_after(now, Duration::MAX), now + FAR_FUTURE);
        assert_eq!(
            deadline_after(now, Duration::from_millis(u64::MAX)),
            now + FAR_FUTURE
        );
        assert_eq!(
            deadline_after(now, Duration::from_secs(3)),
            now + Duration::from_secs(3)
        );
    }
}
