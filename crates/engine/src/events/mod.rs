//! Monitoring events of a running cluster ([`ClusterEvent`]) and their delivery to any number
//! of subscribers ([`EventSubscriber`]).
//!
//! Events are the SDAM monitoring events the pure core decides ([`SdamEvent`]) plus the
//! heartbeat events the monitors produce ("SDAM Logging and Monitoring", "Events API"), each
//! stamped with the topology id and the time it happened. Delivery never stalls the engine:
//! events go through a bounded buffer (4096 events, or [`EVENTS_PER_SEED`] per seed
//! when that is more: see [`buffer_for_seeds`]); a subscriber that falls further behind
//! loses the oldest ones and is told how many it missed. The buffer holds only the events
//! some subscriber has still to read ([`buffer`]): none without subscribers, none once
//! they have caught up.

mod buffer;
mod hello_reply;

pub use hello_reply::HelloReply;

use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;
use tokio::time::Instant;

use self::buffer::{EventBuffer, ReadError, Reader};

use crate::address::ServerAddress;
use crate::pool::CmapEvent;
use crate::recorder::{Record, Recorder};
use crate::sdam::{SdamEvent, ServerError};

/// How many events a subscriber may fall behind before it starts missing some (the
/// 4096 of the public documentation of [`EventRecvError::Missed`]).
pub(crate) const EVENT_BUFFER: usize = 4096;

/// Events per seed the buffer holds beyond [`EVENT_BUFFER`]. Discovery of n servers emits
/// about 5n events in one burst (ServerOpening for every seed at once, then per server a
/// heartbeat started and succeeded, a ServerDescriptionChanged and a
/// TopologyDescriptionChanged); the first ~2n come before any subscriber can run. With
/// 8 per seed, a subscriber that only starts reading once discovery is over still misses
/// nothing: at 2,000 mongos the fixed 4096 lost ~500 of `watch --json`'s ServerOpening.
pub(crate) const EVENTS_PER_SEED: usize = 8;

/// The largest buffer sized from the seeds: 2^17 events (16,384 seeds and more), tens of
/// MiB at most, and only while a subscriber is that far behind.
const MAX_EVENT_BUFFER: usize = 1 << 17;

/// The size of the event buffer of a cluster started with `seeds` seeds: [`EVENT_BUFFER`],
/// or [`EVENTS_PER_SEED`] per seed when that is more (at most 2^17), so that the burst of
/// a large fleet's discovery fits whole.
pub(crate) fn buffer_for_seeds(seeds: usize) -> usize {
    seeds
        .saturating_mul(EVENTS_PER_SEED)
        .clamp(EVENT_BUFFER, MAX_EVENT_BUFFER)
}

/// One event of a cluster.
#[derive(Clone, Debug)]
pub struct ClusterEvent {
    /// The topology the event belongs to (SDAM's `topologyId`), unique per [`crate::Cluster`].
    pub topology_id: ObjectId,
    /// When the event happened.
    pub at: Instant,
    /// What happened.
    pub kind: EventKind,
}

/// What a [`ClusterEvent`] reports.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum EventKind {
    /// A topology or server event decided by the SDAM core: opening, description changes,
    /// closing.
    Sdam(SdamEvent),
    /// A connection pool event (Connection Monitoring and Pooling spec), from a server's
    /// pool of connections for operations.
    Cmap(CmapEvent),
    /// A command monitoring event (started, succeeded, failed) of a command run through
    /// the cluster.
    Command(crate::command_events::CommandEvent),
    /// ServerHeartbeatStartedEvent: a monitor began a check (or, streaming, began waiting
    /// for the server's next reply).
    HeartbeatStarted {
        /// The server checked.
        address: ServerAddress,
        /// Whether this is an awaited (streaming) check.
        awaited: bool,
    },
    /// ServerHeartbeatSucceededEvent.
    HeartbeatSucceeded {
        /// The server checked.
        address: ServerAddress,
        /// How long the check took (for an awaited check: how long the reply was awaited).
        duration: Duration,
        /// The server's hello reply (decoded when first read: [`HelloReply::document`]).
        reply: HelloReply,
        /// Whether this was an awaited (streaming) check.
        awaited: bool,
    },
    /// ServerHeartbeatFailedEvent.
    HeartbeatFailed {
        /// The server checked.
        address: ServerAddress,
        /// How long the check ran before it failed.
        duration: Duration,
        /// Why it failed, with its cause class.
        failure: ServerError,
        /// Whether this was an awaited (streaming) check.
        awaited: bool,
    },
}

/// Why [`EventSubscriber::recv`] returned no event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventRecvError {
    /// The subscriber fell more than 4096 events behind (the size of the cluster's event
    /// buffer; 8 per seed when the connection string has more than 512 seeds, so that a
    /// large fleet's discovery fits whole); this many were dropped.
    /// The next call returns the oldest event still buffered.
    #[error("the subscriber fell behind and missed {0} events")]
    Missed(u64),
    /// The cluster is closed and every event has been received.
    #[error("the cluster is closed")]
    Closed,
}

/// A stream of a cluster's events, from the moment of subscription on.
#[derive(Debug)]
pub struct EventSubscriber {
    reader: Reader<ClusterEvent>,
}

impl From<ReadError> for EventRecvError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Missed(missed) => EventRecvError::Missed(missed),
            ReadError::Closed => EventRecvError::Closed,
        }
    }
}

impl EventSubscriber {
    /// The next event. Never blocks the engine: a slow subscriber misses events instead
    /// ([`EventRecvError::Missed`]) and can go on receiving.
    pub async fn recv(&mut self) -> Result<ClusterEvent, EventRecvError> {
        Ok(self.reader.next().await?)
    }

    /// The next event if one is buffered, without waiting; `Ok(None)` when none is.
    pub fn try_recv(&mut self) -> Result<Option<ClusterEvent>, EventRecvError> {
        Ok(self.reader.try_next()?)
    }
}

/// The sending side, shared by the cluster task and every monitor. Cluster handles keep only
/// a [`WeakEmitter`], so that once the cluster task and its monitors have stopped, every
/// subscriber sees [`EventRecvError::Closed`] after the last event.
#[derive(Clone, Debug)]
pub(crate) struct EventEmitter {
    inner: Arc<EmitterInner>,
}

#[derive(Debug)]
struct EmitterInner {
    topology_id: ObjectId,
    buffer: Arc<EventBuffer<ClusterEvent>>,
    /// Held while an event is stamped and sent, so that the cluster task and the monitors,
    /// emitting from several threads, deliver events in the order of their `at`.
    ordering: std::sync::Mutex<()>,
    /// The cluster's flight recorder, when it records: it gets the heartbeat outcomes and
    /// SDAM events of every emission, subscribers or not.
    recorder: Option<Recorder>,
}

/// A handle that can subscribe while the cluster runs, without keeping the channel open.
#[derive(Clone, Debug)]
pub(crate) struct WeakEmitter {
    inner: std::sync::Weak<EmitterInner>,
}

impl EventEmitter {
    /// An emitter whose subscribers may fall `capacity` events behind (see
    /// [`buffer_for_seeds`]), feeding `recorder` when there is one. Nothing is allocated for
    /// the events until someone subscribes and falls behind.
    pub(crate) fn new(topology_id: ObjectId, capacity: usize, recorder: Option<Recorder>) -> Self {
        EventEmitter {
            inner: Arc::new(EmitterInner {
                topology_id,
                buffer: EventBuffer::new(capacity),
                ordering: std::sync::Mutex::new(()),
                recorder,
            }),
        }
    }

    pub(crate) fn topology_id(&self) -> ObjectId {
        self.inner.topology_id
    }

    pub(crate) fn downgrade(&self) -> WeakEmitter {
        WeakEmitter {
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// Sends `kind` to every current subscriber (and what the recorder keeps of it to the
    /// recorder); with neither, it costs one check.
    pub(crate) fn emit(&self, kind: EventKind) {
        if !self.has_subscribers() {
            return;
        }
        // A poisoned lock only means another emitter panicked; ordering still holds.
        let _in_order = self
            .inner
            .ordering
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = Instant::now();
        if let Some(recorder) = &self.inner.recorder {
            record(recorder, at, &kind);
            if self.inner.buffer.reader_count() == 0 {
                return;
            }
        }
        // Dropped if every subscriber left meanwhile.
        self.inner.buffer.push(ClusterEvent {
            topology_id: self.inner.topology_id,
            at,
            kind,
        });
    }

    /// Whether anyone listens, a recorder included (so that callers can skip building an
    /// expensive event).
    pub(crate) fn has_subscribers(&self) -> bool {
        self.inner.recorder.is_some() || self.inner.buffer.reader_count() > 0
    }

    /// Returns once the recorder, if any, has written and flushed every record given so far.
    pub(crate) async fn flush_recording(&self) {
        if let Some(recorder) = &self.inner.recorder {
            recorder.flush().await;
        }
    }

    /// Gives the recorder, if any, a record that is no event (an RTT sample, SRV hosts).
    pub(crate) fn record(&self, record: Record) {
        if let Some(recorder) = &self.inner.recorder {
            recorder.record(Instant::now(), record);
        }
    }
}

/// What the recorder keeps of an event: heartbeat outcomes and SDAM events (not CMAP or
/// command events, nor heartbeat starts).
fn record(recorder: &Recorder, at: Instant, kind: &EventKind) {
    match kind {
        EventKind::Sdam(event) => recorder.record(at, Record::Sdam(event.clone())),
        EventKind::HeartbeatSucceeded {
            address,
            duration,
            reply,
            awaited,
        } => recorder.hello(at, address, *duration, reply.document(), *awaited),
        EventKind::HeartbeatFailed {
            address,
            duration,
            failure,
            awaited,
        } => recorder.record(
            at,
            Record::CheckFailed {
                address: address.clone(),
                duration: *duration,
                failure: failure.clone(),
                awaited: *awaited,
            },
        ),
        // Command events are the application's own traffic on pool connections (documents,
        // and replies that may hold data): never written to a recording.
        EventKind::Cmap(_) | EventKind::HeartbeatStarted { .. } | EventKind::Command(_) => {}
    }
}

impl WeakEmitter {
    /// The emitter, while the cluster runs.
    pub(crate) fn upgrade(&self) -> Option<EventEmitter> {
        self.inner.upgrade().map(|inner| EventEmitter { inner })
    }

    /// A subscriber from now on; once the cluster has stopped, one that is already closed.
    pub(crate) fn subscribe(&self) -> EventSubscriber {
        let reader = match self.inner.upgrade() {
            Some(inner) => inner.buffer.subscribe(),
            None => EventBuffer::closed().subscribe(),
        };
        EventSubscriber { reader }
    }
}

impl Drop for EmitterInner {
    /// The cluster task and its monitors have all stopped: subscribers get what is buffered,
    /// then [`EventRecvError::Closed`].
    fn drop(&mut self) {
        self.buffer.close();
    }
}

#[cfg(test)]
mod tests {
    /// The public documentation (`EventRecvError::Missed`) gives the buffer's size.
    #[test]
    fn the_event_buffer_is_the_documented_size() {
        assert_eq!(super::EVENT_BUFFER, 4096);
    }

    /// Up to 512 seeds the buffer is the documented 4096; above, 8 events per seed.
    #[test]
    fn the_buffer_grows_with_the_seeds_beyond_512() {
        use super::buffer_for_seeds;
        assert_eq!(buffer_for_seeds(0), 4096);
        assert_eq!(buffer_for_seeds(3), 4096);
        assert_eq!(buffer_for_seeds(512), 4096);
        assert_eq!(buffer_for_seeds(2_000), 16_000);
        assert_eq!(buffer_for_seeds(10_000), 80_000);
        assert_eq!(buffer_for_seeds(usize::MAX), 1 << 17);
        // What one buffered event costs at most, for the memory per server.
        let slot = std::mem::size_of::<super::ClusterEvent>();
        assert!(slot <= 256, "a ClusterEvent is {slot} bytes");
    }

    use super::{EventEmitter, EventKind, EventRecvError};
    use crate::address::ServerAddress;

    fn emitter(capacity: usize) -> EventEmitter {
        EventEmitter::new(bson::oid::ObjectId::new(), capacity, None)
    }

    fn started(port: u16) -> EventKind {
        EventKind::HeartbeatStarted {
            // Port 0 is no port: every event is numbered from 0, shifted by one.
            address: ServerAddress::parse(&format!("h:{}", u32::from(port) + 1)).unwrap(),
            awaited: false,
        }
    }

    fn port_of(kind: &EventKind) -> u16 {
        match kind {
            EventKind::HeartbeatStarted { address, .. } => address.port().unwrap_or_default() - 1,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// A cluster nobody subscribes to keeps no event, however many go by.
    #[test]
    fn without_subscribers_nothing_is_buffered() {
        let events = emitter(4096);
        for port in 0..10_000u16 {
            events.emit(started(port));
        }
        assert_eq!(events.inner.buffer.allocated_slots(), 0);
        // A subscriber that comes later sees none of them.
        let mut late = events.downgrade().subscribe();
        assert!(matches!(late.try_recv(), Ok(None)));
        assert_eq!(events.inner.buffer.allocated_slots(), 0);
    }

    /// A subscriber that keeps up holds a few slots, not the buffer's capacity; once it has
    /// read a backlog, the backlog's memory is given back.
    #[test]
    fn a_subscriber_that_keeps_up_holds_a_few_slots() {
        let events = emitter(4096);
        let mut subscriber = events.downgrade().subscribe();
        for port in 0..10_000u16 {
            events.emit(started(port));
            let event = subscriber.try_recv().unwrap().unwrap();
            assert_eq!(port_of(&event.kind), port);
        }
        assert!(events.inner.buffer.allocated_slots() <= 16);
        for port in 0..3_000 {
            events.emit(started(port));
        }
        assert!(events.inner.buffer.allocated_slots() >= 3_000);
        for port in 0..3_000 {
            assert_eq!(port_of(&subscriber.try_recv().unwrap().unwrap().kind), port);
        }
        assert!(matches!(subscriber.try_recv(), Ok(None)));
        let left = events.inner.buffer.allocated_slots();
        assert!(left <= 16, "{left} slots left after the backlog was read");
    }

    /// A subscriber more than the capacity behind is told how many it missed, then gets the
    /// oldest still buffered; another that kept up misses nothing; the buffer never exceeds
    /// its capacity.
    #[test]
    fn a_subscriber_too_far_behind_learns_how_many_it_missed() {
        let events = emitter(100);
        let mut slow = events.downgrade().subscribe();
        let mut fast = events.downgrade().subscribe();
        for port in 0..250u16 {
            events.emit(started(port));
            assert_eq!(port_of(&fast.try_recv().unwrap().unwrap().kind), port);
        }
        assert!(events.inner.buffer.allocated_slots() <= 128);
        assert!(matches!(slow.try_recv(), Err(EventRecvError::Missed(150))));
        for port in 150..250 {
            assert_eq!(port_of(&slow.try_recv().unwrap().unwrap().kind), port);
        }
        assert!(matches!(slow.try_recv(), Ok(None)));
        // Leaving lets the events only the slow one had to read go.
        events.emit(started(1));
        drop(slow);
        assert_eq!(port_of(&fast.try_recv().unwrap().unwrap().kind), 1);
        assert!(events.inner.buffer.allocated_slots() <= 16);
    }

    /// Once every emitter is gone, a subscriber reads what is left, then `Closed`; `recv`
    /// wakes for an event emitted while it waits.
    #[tokio::test]
    async fn subscribers_wake_for_events_and_see_the_close() {
        let events = emitter(16);
        let weak = events.downgrade();
        let mut subscriber = weak.subscribe();
        let waiting = tokio::spawn(async move {
            let first = subscriber.recv().await;
            let second = subscriber.recv().await;
            let third = subscriber.recv().await;
            (first, second, third)
        });
        tokio::task::yield_now().await;
        events.emit(started(1));
        events.emit(started(2));
        drop(events);
        let (first, second, third) =
            tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
                .await
                .unwrap()
                .unwrap();
        assert_eq!(port_of(&first.unwrap().kind), 1);
        assert_eq!(port_of(&second.unwrap().kind), 2);
        assert_eq!(third.unwrap_err(), EventRecvError::Closed);
        // Subscribing after the stop gives a closed subscriber.
        assert!(matches!(
            weak.subscribe().try_recv(),
            Err(EventRecvError::Closed)
        ));
    }
}
