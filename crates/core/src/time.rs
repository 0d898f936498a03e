//! Time as the pure core sees it: passed in, never read from a clock.
//!
//! The live engine picks an origin (an [`std::time::Instant`] taken once when a cluster
//! starts) and converts every instant into a [`MonotonicTime`] offset from it. Tests and spec
//! runners build `MonotonicTime` values directly from milliseconds.

use std::time::Duration;

/// A point on a monotonic clock, as an offset from an origin chosen by the caller.
///
/// Only differences between two `MonotonicTime`s from the same origin are meaningful.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonotonicTime(Duration);

impl MonotonicTime {
    /// The origin itself.
    pub const ZERO: MonotonicTime = MonotonicTime(Duration::ZERO);

    /// The time `offset` after the origin.
    pub const fn from_offset(offset: Duration) -> Self {
        MonotonicTime(offset)
    }

    /// The time `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Self {
        MonotonicTime(Duration::from_millis(millis))
    }

    /// The offset from the origin.
    pub const fn offset(self) -> Duration {
        self.0
    }

    /// How long after `earlier` this time is; zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: MonotonicTime) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// This time moved `by` later, saturating at the largest representable time.
    pub fn saturating_add(self, by: Duration) -> Self {
        MonotonicTime(self.0.saturating_add(by))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_saturate() {
        let a = MonotonicTime::from_millis(10);
        let b = MonotonicTime::from_millis(25);
        assert_eq!(b.saturating_duration_since(a), Duration::from_millis(15));
        assert_eq!(a.saturating_duration_since(b), Duration::ZERO);
        assert_eq!(
            a.saturating_add(Duration::from_millis(5)).offset(),
            Duration::from_millis(15)
        );
    }
}
