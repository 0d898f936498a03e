//! The pace of a streaming check (Server Monitoring spec, "Streaming Protocol"): after an
//! awaitable hello with `exhaustAllowed`, the server replies when its topology changes
//! (a new `topologyVersion`), or once `maxAwaitTimeMS` passed without a change. A reply that
//! keeps the same `topologyVersion` and comes sooner than `maxAwaitTimeMS` after the
//! previous one is *early*: the server had no reason to send it. A reply with a new
//! `topologyVersion` sooner than `minHeartbeatFrequencyMS` after the previous one is a
//! *fast change*: legitimate (elections come in bursts), but a server could fake one with
//! every reply.
//!
//! A few early replies are harmless (a server that just started, an election that changes
//! the version twice in a row, or replies sent at a proper pace but read in a burst by a
//! client that was busy), so [`StreamPace`] allows [`EARLY_REPLY_BUDGET`] of them per
//! `minHeartbeatFrequencyMS`, and [`FAST_CHANGE_BUDGET`] fast changes; past either budget
//! its verdict is [`StreamVerdict::Abandon`]:
//! the monitor drops the stream and falls back to a fresh check after the normal interval.
//! Whatever a server sends, a monitor thus processes at most about that budget of replies
//! per stream, and one stream per `heartbeatFrequencyMS` unless checks are requested (never
//! sooner than `minHeartbeatFrequencyMS` apart).
//!
//! Pure: every time is passed in.

use std::time::Duration;

use crate::time::MonotonicTime;

/// Early replies allowed within one `minHeartbeatFrequencyMS` before a stream is abandoned.
pub const EARLY_REPLY_BUDGET: u32 = 20;

/// Fast changes allowed within one `minHeartbeatFrequencyMS` before a stream is abandoned:
/// far more than any real election produces, few enough to bound a server that changes its
/// `topologyVersion` with every reply.
pub const FAST_CHANGE_BUDGET: u32 = 100;

/// What the monitor does with its stream after a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamVerdict {
    /// Keep streaming.
    Keep,
    /// The server sent more early replies than [`EARLY_REPLY_BUDGET`] allows: drop the
    /// stream (the reply itself has been processed), check afresh after the normal interval.
    Abandon,
}

/// The early replies of one stream, counted per `minHeartbeatFrequencyMS` window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamPace {
    /// How long the server may hold a reply without a change (the `maxAwaitTimeMS` sent:
    /// heartbeatFrequencyMS).
    max_await: Duration,
    /// minHeartbeatFrequencyMS: the window, and the least time between two replies.
    min_heartbeat: Duration,
    /// When the previous reply came (at first: when the awaitable hello was sent).
    previous: MonotonicTime,
    /// When the current window of early replies began.
    window_started: MonotonicTime,
    /// Early replies in the current window.
    early_in_window: u32,
    /// Fast changes in the current window.
    changes_in_window: u32,
}

impl StreamPace {
    /// A stream whose awaitable hello was sent at `sent`, with `maxAwaitTimeMS` `max_await`
    /// and minHeartbeatFrequencyMS `min_heartbeat`.
    pub fn new(sent: MonotonicTime, max_await: Duration, min_heartbeat: Duration) -> StreamPace {
        StreamPace {
            max_await,
            min_heartbeat,
            previous: sent,
            window_started: sent,
            early_in_window: 0,
            changes_in_window: 0,
        }
    }

    /// A reply came at `at`; `topology_changed` when its `topologyVersion` differs from the
    /// previous one. Says whether to keep the stream.
    pub fn on_reply(&mut self, at: MonotonicTime, topology_changed: bool) -> StreamVerdict {
        let since_previous = at.saturating_duration_since(self.previous);
        self.previous = at;
        let early = !topology_changed && since_previous < self.max_await;
        let fast_change = topology_changed && since_previous < self.min_heartbeat;
        if !early && !fast_change {
            return StreamVerdict::Keep;
        }
        if at.saturating_duration_since(self.window_started) >= self.min_heartbeat {
            self.window_started = at;
            self.early_in_window = 0;
            self.changes_in_window = 0;
        }
        if early {
            self.early_in_window = self.early_in_window.saturating_add(1);
        } else {
            self.changes_in_window = self.changes_in_window.saturating_add(1);
        }
        if self.early_in_window > EARLY_REPLY_BUDGET || self.changes_in_window > FAST_CHANGE_BUDGET
        {
            StreamVerdict::Abandon
        } else {
            StreamVerdict::Keep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX_AWAIT: Duration = Duration::from_secs(10);
    const MIN_HEARTBEAT: Duration = Duration::from_millis(500);

    fn fresh() -> StreamPace {
        StreamPace::new(MonotonicTime::ZERO, MAX_AWAIT, MIN_HEARTBEAT)
    }

    #[test]
    fn a_flood_of_identical_replies_is_abandoned_just_past_the_budget() {
        let mut pace = fresh();
        for reply in 1..=EARLY_REPLY_BUDGET {
            let at = MonotonicTime::from_millis(u64::from(reply));
            assert_eq!(
                pace.on_reply(at, false),
                StreamVerdict::Keep,
                "reply {reply}"
            );
        }
        let at = MonotonicTime::from_millis(u64::from(EARLY_REPLY_BUDGET) + 1);
        assert_eq!(pace.on_reply(at, false), StreamVerdict::Abandon);
    }

    #[test]
    fn a_burst_of_changes_is_kept_but_a_change_with_every_reply_is_abandoned() {
        let mut pace = fresh();
        // An election storm: a change every 10 ms for a whole window.
        for reply in 1..=50_u64 {
            let at = MonotonicTime::from_millis(reply * 10);
            assert_eq!(pace.on_reply(at, true), StreamVerdict::Keep);
        }
        let mut pace = fresh();
        let verdicts: Vec<_> = (1..=u64::from(FAST_CHANGE_BUDGET) + 1)
            .map(|reply| pace.on_reply(MonotonicTime::from_millis(reply), true))
            .collect();
        assert_eq!(verdicts.last(), Some(&StreamVerdict::Abandon));
        assert!(verdicts[..verdicts.len() - 1]
            .iter()
            .all(|verdict| *verdict == StreamVerdict::Keep));
    }

    #[test]
    fn replies_at_the_pace_the_spec_allows_are_kept_forever() {
        let mut pace = fresh();
        for reply in 1..1000_u64 {
            // Unchanged, every maxAwaitTimeMS.
            let at = MonotonicTime::from_offset(MAX_AWAIT * u32::try_from(reply).unwrap());
            assert_eq!(pace.on_reply(at, false), StreamVerdict::Keep);
        }
        let mut changing = fresh();
        for reply in 1..1000_u64 {
            // Changed, every minHeartbeatFrequencyMS.
            let at = MonotonicTime::from_millis(reply * 500);
            assert_eq!(changing.on_reply(at, true), StreamVerdict::Keep);
        }
    }

    #[test]
    fn a_few_early_replies_per_window_are_tolerated() {
        let mut pace = fresh();
        // The whole budget in every window, for many windows: never abandoned.
        for window in 0..100_u64 {
            for reply in 0..u64::from(EARLY_REPLY_BUDGET) {
                let at = MonotonicTime::from_millis(window * 500 + reply);
                assert_eq!(pace.on_reply(at, false), StreamVerdict::Keep);
            }
        }
    }
}
