//! The replica set's write history: lastWrite of the primary, and of secondaries that
//! follow it with a lag. Idle writes (a no-op every `idle_write_period` while a primary
//! exists, as real servers do) are computed on demand, so an idle set costs no timers.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bson::{doc, Document, Timestamp};

/// How many explicit entries are kept (older ones are forgotten).
const HISTORY_LIMIT: usize = 4096;

/// One oplog entry: its optime and wall-clock date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpTime {
    /// The entry's timestamp.
    pub ts: Timestamp,
    /// The election term it was written in.
    pub term: i64,
    /// Wall-clock time of the write.
    pub date: SystemTime,
}

impl OpTime {
    /// The `{ts, t}` document used in hello's lastWrite.
    pub fn to_document(self) -> Document {
        doc! { "ts": self.ts, "t": self.term }
    }

    /// The date as BSON, as servers report it (lastWriteDate, optimeDate): the seconds of
    /// the optime's timestamp, so whole seconds (`appendTimeT` in hello_response.cpp).
    pub fn bson_date(self) -> bson::DateTime {
        bson::DateTime::from_millis(i64::from(self.ts.time).saturating_mul(1000))
    }
}

fn unix_secs(t: SystemTime) -> u32 {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// The write history of a replica set.
#[derive(Debug, Clone)]
pub struct OpLog {
    entries: VecDeque<OpTime>,
    idle_period: Duration,
    /// When the set last lost its primary (idle writes stop then); None while a primary exists.
    no_primary_since: Option<SystemTime>,
}

impl OpLog {
    /// A history starting with one entry at `now` in `term`.
    pub fn new(now: SystemTime, term: i64, idle_period: Duration, has_primary: bool) -> OpLog {
        let first = OpTime {
            ts: Timestamp {
                time: unix_secs(now),
                increment: 1,
            },
            term,
            date: now,
        };
        OpLog {
            entries: VecDeque::from([first]),
            idle_period,
            no_primary_since: if has_primary { None } else { Some(now) },
        }
    }

    /// Records a write by the primary (an accepted write, or the no-op a new primary
    /// writes on election).
    pub fn record_write(&mut self, now: SystemTime, term: i64) {
        let last = self.at(now);
        let secs = unix_secs(now).max(last.ts.time);
        let increment = if secs == last.ts.time {
            last.ts.increment.saturating_add(1)
        } else {
            1
        };
        self.entries.push_back(OpTime {
            ts: Timestamp {
                time: secs,
                increment,
            },
            term,
            date: now.max(last.date),
        });
        while self.entries.len() > HISTORY_LIMIT {
            self.entries.pop_front();
        }
    }

    /// The primary stepped down or died: idle writes stop from `now`.
    pub fn primary_lost(&mut self, now: SystemTime) {
        if self.no_primary_since.is_none() {
            let last = self.at(now);
            self.entries.push_back(last);
            self.no_primary_since = Some(now);
        }
    }

    /// A primary was elected in `term`: it writes a no-op and idle writes resume.
    pub fn primary_elected(&mut self, now: SystemTime, term: i64) {
        self.no_primary_since = None;
        self.record_write(now, term);
    }

    /// The last write visible at time `t`: the latest entry written at or before `t`,
    /// advanced by the idle writes a primary would have made since. Before the first
    /// entry (a member lagging more than the set's age) it is a write at `t` itself: the
    /// set is taken to have been running, with idle writes, before the simulation began,
    /// so that a lag of minutes shows at once.
    pub fn at(&self, t: SystemTime) -> OpTime {
        let before_history = |first: &OpTime| OpTime {
            ts: Timestamp {
                time: unix_secs(t),
                increment: 1,
            },
            term: first.term,
            date: t,
        };
        let base = self
            .entries
            .iter()
            .rev()
            .find(|e| e.date <= t)
            .copied()
            .or_else(|| self.entries.front().map(before_history))
            .unwrap_or(OpTime {
                ts: Timestamp {
                    time: 0,
                    increment: 0,
                },
                term: 0,
                date: UNIX_EPOCH,
            });
        let limit = match self.no_primary_since {
            Some(lost) if lost < t => lost,
            _ => t,
        };
        let elapsed = limit.duration_since(base.date).unwrap_or_default();
        let period = self.idle_period.max(Duration::from_millis(1));
        let ticks = elapsed.as_nanos() / period.as_nanos();
        if ticks == 0 {
            return base;
        }
        let ticks32 = u32::try_from(ticks).unwrap_or(u32::MAX);
        let date = base.date + period.saturating_mul(ticks32);
        let secs = unix_secs(date).max(base.ts.time);
        let increment = if secs == base.ts.time {
            base.ts.increment.saturating_add(ticks32)
        } else {
            1
        };
        OpTime {
            ts: Timestamp {
                time: secs,
                increment,
            },
            term: base.term,
            date,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_writes_advance_only_while_a_primary_exists() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut log = OpLog::new(t0, 1, Duration::from_secs(10), true);
        assert_eq!(log.at(t0 + Duration::from_secs(9)).date, t0);
        assert_eq!(
            log.at(t0 + Duration::from_secs(25)).date,
            t0 + Duration::from_secs(20)
        );
        log.primary_lost(t0 + Duration::from_secs(31));
        assert_eq!(
            log.at(t0 + Duration::from_secs(100)).date,
            t0 + Duration::from_secs(30)
        );
    }

    #[test]
    fn lagging_reader_sees_older_writes() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut log = OpLog::new(t0, 1, Duration::from_secs(10), true);
        log.record_write(t0 + Duration::from_secs(5), 1);
        let now = t0 + Duration::from_secs(6);
        assert!(log.at(now).ts > log.at(now - Duration::from_secs(3)).ts);
        assert_eq!(log.at(now - Duration::from_secs(3)).date, t0);
    }

    #[test]
    fn a_lag_longer_than_the_history_shows_in_full() {
        // Regression (fault matrix, lag cell): a secondary lagging 120 s behind a set
        // started 1 s ago reported the set's first write, so it looked 1 s stale.
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let log = OpLog::new(t0, 1, Duration::from_secs(10), true);
        let now = t0 + Duration::from_secs(1);
        let lagging = log.at(now - Duration::from_secs(120));
        assert_eq!(lagging.date, now - Duration::from_secs(120));
        assert!(lagging.ts < log.at(now).ts);
    }
}
