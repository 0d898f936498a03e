//! The latency window (Server Selection spec, "Filtering suitable servers based on the
//! latency window") and the final choice inside it ("operationCount-based selection within
//! the latency window", the "power of two random choices").

use std::time::Duration;

use rand::Rng;

use crate::sdam::ServerDescription;
use crate::selection::server_list::ServerList;

/// Where the latency window lies: from the fastest suitable server's average RTT `A` to
/// `A + localThresholdMS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencyWindow {
    /// `A`: the shortest average RTT among the suitable servers, if any has one.
    pub fastest: Option<Duration>,
    /// `localThresholdMS`.
    pub local_threshold: Duration,
}

impl LatencyWindow {
    /// `B = A + localThresholdMS`, the slowest average RTT still in the window.
    pub fn upper_bound(&self) -> Option<Duration> {
        self.fastest
            .map(|fastest| fastest.saturating_add(self.local_threshold))
    }

    /// Whether `server` is in the window (`A ≤ RTT ≤ B`).
    ///
    /// A suitable server with no average RTT yet (which SDAM does not produce for an
    /// available server) is kept in the window rather than excluded: it has no measurement
    /// to hold against it.
    pub fn contains(&self, server: &ServerDescription) -> bool {
        match (server.round_trip_time, self.upper_bound()) {
            (Some(rtt), Some(bound)) => rtt <= bound,
            _ => true,
        }
    }

    /// How much slower than the window's upper bound `server` is, if it is outside.
    pub fn excess(&self, server: &ServerDescription) -> Option<Duration> {
        let rtt = server.round_trip_time?;
        let bound = self.upper_bound()?;
        rtt.checked_sub(bound).filter(|excess| !excess.is_zero())
    }
}

/// Anchors the window at the fastest server of `suitable` and moves the servers inside it
/// to the front; returns the window and how many servers are in it.
pub(crate) fn apply_latency_window(
    suitable: &mut ServerList<'_>,
    local_threshold: Duration,
) -> (LatencyWindow, usize) {
    let window = LatencyWindow {
        fastest: suitable
            .iter()
            .filter_map(|server| server.round_trip_time)
            .min(),
        local_threshold,
    };
    let in_window = suitable.partition(|server| window.contains(server));
    (window, in_window)
}

/// The power of two random choices over `len` candidates (multi-threaded Server Selection
/// Algorithm, steps 6 and 7): with one candidate, that one; otherwise two distinct
/// candidates drawn at random, and the one with the lower operation count (the first drawn
/// on a tie, which is itself a random pick). Returns the chosen index.
pub fn power_of_two_choices<R: Rng + ?Sized>(
    len: usize,
    rng: &mut R,
    mut operation_count: impl FnMut(usize) -> u64,
) -> usize {
    if len < 2 {
        return 0;
    }
    let first = rng.random_range(0..len);
    let mut second = rng.random_range(0..len - 1);
    if second >= first {
        second += 1;
    }
    if operation_count(first) <= operation_count(second) {
        first
    } else {
        second
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn the_two_choices_are_distinct_and_the_less_loaded_wins() {
        let mut rng = StdRng::seed_from_u64(7);
        // Loads 0 and 5: the pair is always {0, 1}, so index 0 always wins.
        for _ in 0..200 {
            assert_eq!(power_of_two_choices(2, &mut rng, |i| [0, 5][i]), 0);
        }
        // The most loaded of three is never chosen.
        for _ in 0..200 {
            assert_ne!(power_of_two_choices(3, &mut rng, |i| [3, 6, 20][i]), 2);
        }
        assert_eq!(power_of_two_choices(1, &mut rng, |_| 9), 0);
    }

    #[test]
    fn ties_are_shared_evenly() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut counts = [0u32; 3];
        for _ in 0..3000 {
            counts[power_of_two_choices(3, &mut rng, |_| 1)] += 1;
        }
        for count in counts {
            assert!((850..1150).contains(&count), "{counts:?}");
        }
    }
}
