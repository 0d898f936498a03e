//! The pool's background runs (CMAP "Background Thread") and its deadlines: when a run is
//! due, what a run does, and the wait queue timeouts checked on every tick.

use super::super::events::{CmapEventKind, ConnectionClosedReason, ConnectionId};
use super::{BackgroundRuns, CheckOutError, PoolMachine, Slot, Waiter};
use crate::MonotonicTime;

impl PoolMachine {
    /// Sets when background runs happen (default [`BackgroundRuns::WhenDue`]).
    pub fn set_background_runs(&mut self, runs: BackgroundRuns) {
        self.background_runs = runs;
    }

    /// When background runs happen.
    pub fn background_runs(&self) -> BackgroundRuns {
        self.background_runs
    }

    /// When the next background run is due, if one is scheduled: after a clear, at once;
    /// otherwise per the [`BackgroundRuns`] schedule.
    pub fn next_background_run(&self) -> Option<MonotonicTime> {
        match self.background_runs {
            BackgroundRuns::Never => None,
            BackgroundRuns::Every(_) => {
                Some(self.run_requested_at.map_or(self.next_run_at, |requested| {
                    requested.min(self.next_run_at)
                }))
            }
            BackgroundRuns::WhenDue => {
                let idle_expiries = self.available.iter().filter_map(|id| {
                    let max_idle = self.options.max_idle_time?;
                    match self.connections.get(id)?.slot {
                        Slot::Available { since } => Some(since.saturating_add(max_idle)),
                        _ => None,
                    }
                });
                idle_expiries.chain(self.run_requested_at).min()
            }
        }
    }

    /// When [`PoolMachine::tick`] next has work: the earliest wait queue deadline or the
    /// next background run. `None` if nothing is timed.
    pub fn next_deadline(&self) -> Option<MonotonicTime> {
        let deadlines = self.wait_queue.iter().filter_map(|waiter| waiter.deadline);
        deadlines.chain(self.next_background_run()).min()
    }

    /// Time passes: waiters past waitQueueTimeoutMS fail `Timeout`, and the background run
    /// happens if it is due.
    pub fn tick(&mut self, now: MonotonicTime) {
        let (expired, waiting): (Vec<Waiter>, Vec<Waiter>) = self
            .wait_queue
            .drain(..)
            .partition(|waiter| waiter.deadline.is_some_and(|deadline| deadline <= now));
        self.wait_queue = waiting.into();
        for waiter in expired {
            self.fail(waiter, CheckOutError::Timeout, now);
        }
        if self.next_background_run().is_some_and(|due| due <= now) {
            self.run_background(now);
        }
        self.unsettled_at = Some(now);
    }

    /// One background run (CMAP "Background Thread"), doing what it can now: perished
    /// (stale or idle) available connections are closed, in-use connections interrupted by
    /// the last clear are closed (`stale`), and the pool is filled to minPoolSize within
    /// maxConnecting if it is ready.
    pub fn run_background(&mut self, now: MonotonicTime) {
        self.run_requested_at = None;
        let perished: Vec<(ConnectionId, ConnectionClosedReason)> = self
            .available
            .iter()
            .filter_map(|id| Some((*id, self.perished(*id, now)?)))
            .collect();
        for (id, reason) in perished {
            self.close_connection(id, reason);
        }
        let interrupted: Vec<ConnectionId> = self
            .connections
            .iter()
            .filter(|(_, entry)| matches!(entry.slot, Slot::InUse { interrupted: true }))
            .map(|(id, _)| *id)
            .collect();
        for id in interrupted {
            // The holder has the socket: it is dropped when checked in.
            self.connections.remove(&id);
            self.closed_in_use.insert(id);
            self.emit(CmapEventKind::ConnectionClosed {
                connection_id: id,
                reason: ConnectionClosedReason::Stale,
            });
        }
        self.fill_to_min_pool_size(now);
        if let BackgroundRuns::Every(interval) = self.background_runs {
            self.next_run_at = now.saturating_add(interval);
        }
        self.unsettled_at = Some(now);
    }

    /// Why an available connection must be closed, if it must: it is stale (its generation
    /// is not current) or idle (available for maxIdleTimeMS or longer).
    pub(super) fn perished(
        &self,
        id: ConnectionId,
        now: MonotonicTime,
    ) -> Option<ConnectionClosedReason> {
        let entry = self.connections.get(&id)?;
        if entry.generation != self.current_generation(entry.service) {
            return Some(ConnectionClosedReason::Stale);
        }
        let (Slot::Available { since }, Some(max_idle)) = (entry.slot, self.options.max_idle_time)
        else {
            return None;
        };
        (now.saturating_duration_since(since) >= max_idle).then_some(ConnectionClosedReason::Idle)
    }
}
