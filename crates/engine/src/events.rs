//! Monitoring events of a running cluster ([`ClusterEvent`]) and their delivery to any number
//! of subscribers ([`EventSubscriber`]).
//!
//! Events are the SDAM monitoring events the pure core decides ([`SdamEvent`]) plus the
//! heartbeat events the monitors produce ("SDAM Logging and Monitoring", "Events API"), each
//! stamped with the topology id and the time it happened. Delivery never stalls the engine:
//! events go through a bounded broadcast buffer (4096 events, or [`EVENTS_PER_SEED`] per seed
//! when that is more: see [`buffer_for_seeds`]); a subscriber that falls further behind
//! loses the oldest ones and is told how many it missed.

use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;
use bson::Document;
use tokio::sync::broadcast;
use tokio::time::Instant;

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
/// MiB at most, allocated once.
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
        /// The server's hello reply.
        reply: Arc<Document>,
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
    receiver: broadcast::Receiver<ClusterEvent>,
}

impl EventSubscriber {
    /// The next event. Never blocks the engine: a slow subscriber misses events instead
    /// ([`EventRecvError::Missed`]) and can go on receiving.
    pub async fn recv(&mut self) -> Result<ClusterEvent, EventRecvError> {
        self.receiver.recv().await.map_err(|error| match error {
            broadcast::error::RecvError::Lagged(missed) => EventRecvError::Missed(missed),
            broadcast::error::RecvError::Closed => EventRecvError::Closed,
        })
    }

    /// The next event if one is buffered, without waiting; `Ok(None)` when none is.
    pub fn try_recv(&mut self) -> Result<Option<ClusterEvent>, EventRecvError> {
        match self.receiver.try_recv() {
            Ok(event) => Ok(Some(event)),
            Err(broadcast::error::TryRecvError::Empty) => Ok(None),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                Err(EventRecvError::Missed(missed))
            }
            Err(broadcast::error::TryRecvError::Closed) => Err(EventRecvError::Closed),
        }
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
    sender: broadcast::Sender<ClusterEvent>,
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
    /// [`buffer_for_seeds`]), feeding `recorder` when there is one.
    pub(crate) fn new(topology_id: ObjectId, capacity: usize, recorder: Option<Recorder>) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        EventEmitter {
            inner: Arc::new(EmitterInner {
                topology_id,
                sender,
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
            if self.inner.sender.receiver_count() == 0 {
                return;
            }
        }
        let event = ClusterEvent {
            topology_id: self.inner.topology_id,
            at,
            kind,
        };
        // An error only means every subscriber left meanwhile.
        let _ = self.inner.sender.send(event);
    }

    /// Whether anyone listens, a recorder included (so that callers can skip building an
    /// expensive event).
    pub(crate) fn has_subscribers(&self) -> bool {
        self.inner.recorder.is_some() || self.inner.sender.receiver_count() > 0
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
        } => recorder.hello(at, address, *duration, reply, *awaited),
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
        let receiver = match self.inner.upgrade() {
            Some(inner) => inner.sender.subscribe(),
            None => broadcast::channel(1).1,
        };
        EventSubscriber { receiver }
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
}
