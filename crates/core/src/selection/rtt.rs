//! Round trip time tracking for one server: the average RTT (Server Selection spec,
//! "Calculation of Average Round Trip Times") and the minimum RTT over recent samples
//! (Server Monitoring spec, "Measuring RTT").

use std::collections::VecDeque;
use std::time::Duration;

/// The EWMA weighting factor `alpha` (Server Selection spec).
pub const RTT_ALPHA: f64 = 0.2;

/// How many recent samples the minimum RTT is taken over (Server Monitoring spec: "the
/// minimum RTT out of the (at most) last 10 samples").
pub const MIN_RTT_SAMPLES: usize = 10;

/// The new average RTT from the previous one and a new measurement: the first measurement is
/// taken as is; after that `new_rtt = alpha * x + (1 - alpha) * old_rtt`.
pub fn next_average_rtt(previous: Option<Duration>, sample: Duration) -> Duration {
    match previous {
        None => sample,
        Some(old) => {
            let secs = RTT_ALPHA * sample.as_secs_f64() + (1.0 - RTT_ALPHA) * old.as_secs_f64();
            Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
        }
    }
}

/// The RTT state of one server's monitor: average and recent samples.
///
/// When a check fails the monitor calls [`RttTracker::reset`] ("When a server becomes
/// unavailable, its average RTT MUST be cleared"); the next sample then starts afresh.
#[derive(Clone, Debug, Default)]
pub struct RttTracker {
    average: Option<Duration>,
    recent: VecDeque<Duration>,
}

impl RttTracker {
    /// A tracker with no samples.
    pub fn new() -> Self {
        RttTracker::default()
    }

    /// Records one measured RTT.
    pub fn add_sample(&mut self, sample: Duration) {
        self.average = Some(next_average_rtt(self.average, sample));
        if self.recent.len() == MIN_RTT_SAMPLES {
            self.recent.pop_front();
        }
        self.recent.push_back(sample);
    }

    /// The average RTT, or `None` before the first sample.
    pub fn average(&self) -> Option<Duration> {
        self.average
    }

    /// The minimum of the last (at most) 10 samples; zero until at least 2 samples have been
    /// gathered ("Clients MUST report the minimum RTT as 0 until at least 2 samples have been
    /// gathered").
    pub fn minimum(&self) -> Duration {
        if self.recent.len() < 2 {
            return Duration::ZERO;
        }
        self.recent.iter().min().copied().unwrap_or_default()
    }

    /// Forgets every sample (the server became unavailable).
    pub fn reset(&mut self) {
        self.average = None;
        self.recent.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    #[test]
    fn average_starts_at_the_first_sample_then_weights_new_ones_by_a_fifth() {
        let mut tracker = RttTracker::new();
        assert_eq!(tracker.average(), None);
        tracker.add_sample(ms(10));
        assert_eq!(tracker.average(), Some(ms(10)));
        tracker.add_sample(ms(20));
        let average = tracker.average().unwrap().as_secs_f64() * 1000.0;
        assert!((average - 12.0).abs() < 1e-9, "{average}");
    }

    #[test]
    fn minimum_is_zero_until_two_samples_then_over_the_last_ten() {
        let mut tracker = RttTracker::new();
        tracker.add_sample(ms(3));
        assert_eq!(tracker.minimum(), Duration::ZERO);
        tracker.add_sample(ms(7));
        assert_eq!(tracker.minimum(), ms(3));
        for _ in 0..9 {
            tracker.add_sample(ms(8));
        }
        // The 3 ms sample is now 11 samples old: out of the window.
        assert_eq!(tracker.minimum(), ms(7));
        tracker.add_sample(ms(9));
        assert_eq!(tracker.minimum(), ms(8));
    }

    #[test]
    fn reset_forgets_average_and_samples() {
        let mut tracker = RttTracker::new();
        tracker.add_sample(ms(50));
        tracker.add_sample(ms(60));
        tracker.reset();
        assert_eq!(tracker.average(), None);
        assert_eq!(tracker.minimum(), Duration::ZERO);
        tracker.add_sample(ms(5));
        assert_eq!(tracker.average(), Some(ms(5)));
    }
}
