//! When a monitor's next timed check, or an RTT monitor's next ping, is due: the interval
//! after the previous one began (heartbeatFrequencyMS), rounded up to the next tick of a
//! clock all the monitors of a cluster share ([`CheckClock`]).
//!
//! Without the rounding, 10,000 monitors whose first checks were spread over a second each
//! wake the runtime at their own millisecond, and every reply comes back alone: a thread
//! wake-up, a timer and a poll of the I/O driver per check. Rounded to a tick of a
//! thousandth of the interval (10 ms at the default 10 s, never more than 10 ms), the checks
//! due within one tick start together and their replies arrive together. A check is never
//! earlier than the interval allows (the rounding only delays it, by less than a tick), so
//! heartbeatFrequencyMS and minHeartbeatFrequencyMS hold as the spec states them.

use std::time::Duration;

use tokio::time::Instant;

use crate::deadline::deadline_after;

/// The longest tick: the most a timed check is delayed past its interval.
pub(crate) const MAX_TICK: Duration = Duration::from_millis(10);

/// Ticks shorter than this round nothing (tokio's timers have millisecond resolution).
const MIN_TICK: Duration = Duration::from_millis(1);

/// The tick clock of one cluster's monitors.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CheckClock {
    epoch: Instant,
    tick: Duration,
}

impl CheckClock {
    /// A clock starting at `epoch` whose tick is a thousandth of `heartbeat`, at most
    /// [`MAX_TICK`].
    pub(crate) fn new(epoch: Instant, heartbeat: Duration) -> Self {
        CheckClock {
            epoch,
            tick: (heartbeat / 1000).min(MAX_TICK),
        }
    }

    /// `start + wait`, rounded up to the next tick (unchanged when it is on one, or when
    /// the tick is under a millisecond); never panics.
    pub(crate) fn due_after(&self, start: Instant, wait: Duration) -> Instant {
        let due = deadline_after(start, wait);
        if self.tick < MIN_TICK {
            return due;
        }
        let offset = due.saturating_duration_since(self.epoch).as_nanos();
        let tick = self.tick.as_nanos();
        let late_by = (tick - offset % tick) % tick;
        let late_by = Duration::from_nanos(u64::try_from(late_by).unwrap_or(0));
        deadline_after(due, late_by)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_due_time_is_rounded_up_to_the_next_tick_of_the_shared_clock() {
        let epoch = Instant::now();
        let clock = CheckClock::new(epoch, Duration::from_secs(10));
        let ms = Duration::from_millis;
        // Checks that began 1, 4 and 9.5 ms apart, within one tick: due together.
        for began in [ms(1), ms(4), Duration::from_micros(9_500)] {
            assert_eq!(
                clock.due_after(epoch + began, Duration::from_secs(10)),
                epoch + ms(10_010)
            );
        }
        // On a tick: unchanged; never earlier than the interval, at most a tick later.
        assert_eq!(
            clock.due_after(epoch + ms(20), Duration::from_secs(10)),
            epoch + ms(10_020)
        );
        for micros in (0..50_000).step_by(777) {
            let start = epoch + Duration::from_micros(micros);
            let due = clock.due_after(start, Duration::from_secs(10));
            assert!(due >= start + Duration::from_secs(10));
            assert!(due < start + Duration::from_secs(10) + MAX_TICK);
        }
    }

    #[test]
    fn short_intervals_have_short_ticks_and_sub_millisecond_ticks_round_nothing() {
        let epoch = Instant::now();
        // minHeartbeatFrequencyMS-sized interval: a 0.5 ms tick rounds nothing.
        let clock = CheckClock::new(epoch, Duration::from_millis(500));
        let start = epoch + Duration::from_micros(1_234);
        assert_eq!(
            clock.due_after(start, Duration::from_millis(500)),
            start + Duration::from_millis(500)
        );
        // A 2 s interval: 2 ms ticks.
        let clock = CheckClock::new(epoch, Duration::from_secs(2));
        assert_eq!(
            clock.due_after(epoch + Duration::from_millis(3), Duration::from_secs(2)),
            epoch + Duration::from_millis(2_004)
        );
        // A wait past the clock's range is capped, not a panic.
        let _ = clock.due_after(start, Duration::MAX);
    }
}
