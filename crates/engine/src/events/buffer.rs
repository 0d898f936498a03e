//! The event buffer between a cluster's emitters and its subscribers: a queue of the events
//! some subscriber has not read yet, at most `capacity` long. Unlike a preallocated ring
//! (tokio's broadcast channel allocates every slot up front: ~0.6 MB for 4096 events), it
//! holds only what is unread: nothing while nobody subscribes, nothing once every
//! subscriber has caught up, and it grows with a backlog only as far as the backlog goes.
//! A subscriber that falls more than `capacity` events behind loses the oldest and is told
//! how many (the broadcast channel's semantics, which the public API documents).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// Why a read returned no event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The reader fell behind by more than the capacity; this many events were dropped.
    Missed(u64),
    /// No more events will come and every one has been read.
    Closed,
}

/// The slots kept allocated once a backlog has been read (a burst of a few events then
/// needs no allocation); beyond that, the queue's memory is given back when it drains.
const KEPT_SLOTS: usize = 16;

/// The buffer shared by the emitter and every subscriber of one cluster.
#[derive(Debug)]
pub(crate) struct EventBuffer<T> {
    /// How many events a subscriber may fall behind before it misses some.
    capacity: usize,
    queue: Mutex<Queue<T>>,
    /// How many subscribers there are, readable without the lock (emitters skip building
    /// events nobody reads).
    readers: AtomicUsize,
    /// Woken on every event and on closing.
    arrived: Notify,
}

#[derive(Debug)]
struct Queue<T> {
    /// The unread events, oldest first.
    events: VecDeque<T>,
    /// The sequence number of `events.front()` (of the next event when it is empty).
    first: u64,
    /// The sequence number of the next event each subscriber reads, by subscriber id.
    positions: HashMap<u64, u64>,
    next_id: u64,
    /// No more events will come (the cluster has stopped).
    closed: bool,
}

impl<T> Queue<T> {
    fn new() -> Self {
        Queue {
            events: VecDeque::new(),
            first: 0,
            positions: HashMap::new(),
            next_id: 0,
            closed: false,
        }
    }

    fn end(&self) -> u64 {
        self.first + self.events.len() as u64
    }

    /// Drops the events every subscriber has read, and gives back the memory of a drained
    /// backlog.
    fn trim(&mut self) {
        let oldest_unread = self.positions.values().copied().min().unwrap_or(self.end());
        while self.first < oldest_unread && self.events.pop_front().is_some() {
            self.first += 1;
        }
        if self.events.capacity() > KEPT_SLOTS && self.events.len() < self.events.capacity() / 4 {
            self.events
                .shrink_to(KEPT_SLOTS.max(self.events.len().saturating_mul(2)));
        }
    }
}

impl<T: Clone> EventBuffer<T> {
    /// An empty buffer (nothing allocated) letting subscribers fall `capacity` events behind.
    pub(crate) fn new(capacity: usize) -> Arc<EventBuffer<T>> {
        Arc::new(EventBuffer {
            capacity: capacity.max(1),
            queue: Mutex::new(Queue::new()),
            readers: AtomicUsize::new(0),
            arrived: Notify::new(),
        })
    }

    /// A buffer that is already closed (a subscription after the cluster stopped).
    pub(crate) fn closed() -> Arc<EventBuffer<T>> {
        let buffer = EventBuffer::new(1);
        buffer.lock().closed = true;
        buffer
    }

    // A poisoned lock only means a thread panicked while holding it; the queue is still whole
    // (every update leaves it consistent).
    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many subscribers there are now.
    pub(crate) fn reader_count(&self) -> usize {
        self.readers.load(Ordering::Acquire)
    }

    /// How many slots the queue holds allocated (for the tests of its memory).
    #[cfg(test)]
    pub(crate) fn allocated_slots(&self) -> usize {
        self.lock().events.capacity()
    }

    /// Queues `event` for every current subscriber; with none, drops it. When the queue is
    /// full, the oldest event goes (the subscribers still to read it are told they missed it).
    pub(crate) fn push(&self, event: T) {
        {
            let mut queue = self.lock();
            if queue.positions.is_empty() || queue.closed {
                return;
            }
            if queue.events.len() >= self.capacity && queue.events.pop_front().is_some() {
                queue.first += 1;
            }
            queue.events.push_back(event);
        }
        self.arrived.notify_waiters();
    }

    /// No event will come any more: subscribers get the buffered ones, then `Closed`.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.arrived.notify_waiters();
    }

    /// A new subscriber, reading from the next event on.
    pub(crate) fn subscribe(self: &Arc<Self>) -> Reader<T> {
        let mut queue = self.lock();
        let id = queue.next_id;
        queue.next_id += 1;
        let end = queue.end();
        queue.positions.insert(id, end);
        self.readers.fetch_add(1, Ordering::AcqRel);
        Reader {
            buffer: self.clone(),
            id,
        }
    }
}

/// One subscriber's place in the buffer; leaving (drop) lets the events only it still had
/// to read go.
#[derive(Debug)]
pub(crate) struct Reader<T: Clone> {
    buffer: Arc<EventBuffer<T>>,
    id: u64,
}

impl<T: Clone> Reader<T> {
    /// The next event if one is buffered (`Ok(None)` when none is and the cluster runs).
    pub(crate) fn try_next(&self) -> Result<Option<T>, ReadError> {
        let mut queue = self.buffer.lock();
        let Some(position) = queue.positions.get(&self.id).copied() else {
            return Err(ReadError::Closed);
        };
        if position < queue.first {
            let first = queue.first;
            queue.positions.insert(self.id, first);
            return Err(ReadError::Missed(first - position));
        }
        let offset = usize::try_from(position - queue.first).unwrap_or(usize::MAX);
        let Some(event) = queue.events.get(offset).cloned() else {
            return if queue.closed {
                Err(ReadError::Closed)
            } else {
                Ok(None)
            };
        };
        queue.positions.insert(self.id, position + 1);
        // Only the subscriber that read the oldest event can let it go.
        if position == queue.first {
            queue.trim();
        }
        Ok(Some(event))
    }

    /// The next event, waiting for it.
    pub(crate) async fn next(&mut self) -> Result<T, ReadError> {
        loop {
            let arrived = self.buffer.arrived.notified();
            tokio::pin!(arrived);
            // Registered before looking, so that an event pushed in between still wakes us.
            arrived.as_mut().enable();
            if let Some(event) = self.try_next()? {
                return Ok(event);
            }
            arrived.await;
        }
    }
}

impl<T: Clone> Drop for Reader<T> {
    fn drop(&mut self) {
        let mut queue = self.buffer.lock();
        queue.positions.remove(&self.id);
        queue.trim();
        self.buffer.readers.fetch_sub(1, Ordering::AcqRel);
    }
}
