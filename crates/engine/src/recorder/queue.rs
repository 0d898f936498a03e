//! The records waiting for the writer thread: a bounded list behind a lock, filled by the
//! monitors and the cluster task, emptied by the writer in batches.
//!
//! Feeding never wakes the writer: a wake-up per record (a futex call and a context switch
//! on each side) would cost more than writing the record. The writer wakes by itself every
//! [`WRITE_INTERVAL`], when the list is half full (a discovery burst), when it is asked to
//! flush, and when the last feeder is gone.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::recorder::record::Stamped;

/// How often the writer takes what is queued (and flushes the file when it wrote some).
pub(crate) const WRITE_INTERVAL: Duration = Duration::from_millis(200);

/// What the writer takes from the queue, in order.
#[derive(Debug)]
pub(crate) enum Queued {
    /// A record.
    Record(Stamped),
    /// `count` records were dropped (the queue was full) before `at`.
    Missed { at: Instant, count: u64 },
}

/// One batch for the writer.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) items: Vec<Queued>,
    /// Answered once every item taken so far is written and flushed.
    pub(crate) flushed: Vec<oneshot::Sender<()>>,
    /// No feeder is left: this is the last batch.
    pub(crate) last: bool,
}

#[derive(Debug, Default)]
struct State {
    items: Vec<Queued>,
    /// Dropped since the writer last took the list (only a full list drops, and only the
    /// writer empties it, so the count goes after the records taken with it).
    missed: u64,
    flush_requests: Vec<oneshot::Sender<()>>,
    feeders_gone: bool,
}

/// The queue shared by the feeding side and the writer thread.
#[derive(Debug)]
pub(crate) struct RecordQueue {
    capacity: usize,
    state: Mutex<State>,
    wake: Condvar,
}

impl RecordQueue {
    /// A queue holding at most `capacity` records (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        RecordQueue {
            capacity: capacity.max(1),
            state: Mutex::default(),
            wake: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a feeder panicked while pushing: the list is intact.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `stamped`, or drops and counts it when the queue is full. Never blocks on the
    /// writer (the lock is held only to push).
    pub(crate) fn push(&self, stamped: Stamped) {
        let mut state = self.lock();
        if state.items.len() >= self.capacity {
            state.missed = state.missed.saturating_add(1);
            return;
        }
        state.items.push(Queued::Record(stamped));
        if state.items.len() == self.capacity / 2 {
            self.wake.notify_one();
        }
    }

    /// Asks the writer to write and flush everything queued so far; `done` is answered then.
    pub(crate) fn request_flush(&self, done: oneshot::Sender<()>) {
        self.lock().flush_requests.push(done);
        self.wake.notify_one();
    }

    /// The last feeder is gone: the writer takes what is left and stops.
    pub(crate) fn close(&self) {
        self.lock().feeders_gone = true;
        self.wake.notify_one();
    }

    /// Waits up to [`WRITE_INTERVAL`] (less when woken) and takes everything queued.
    pub(crate) fn take(&self) -> Batch {
        let mut state = self.lock();
        let urgent = |state: &State| {
            state.feeders_gone
                || !state.flush_requests.is_empty()
                || state.items.len() >= self.capacity / 2
        };
        if !urgent(&state) {
            state = self
                .wake
                .wait_timeout_while(state, WRITE_INTERVAL, |state| !urgent(state))
                .map(|(state, _)| state)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
        let mut items = std::mem::take(&mut state.items);
        if state.missed > 0 {
            // Dropped after the last record taken: the count goes after it.
            let count = std::mem::take(&mut state.missed);
            items.push(Queued::Missed {
                at: Instant::now(),
                count,
            });
        }
        Batch {
            items,
            flushed: std::mem::take(&mut state.flush_requests),
            last: state.feeders_gone,
        }
    }
}
