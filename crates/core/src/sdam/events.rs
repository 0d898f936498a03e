//! The decisions of the pure core, as data: [`Action`]s for the live engine to perform and
//! the SDAM monitoring events ([`SdamEvent`]) to publish, in order.
//!
//! Event names and contents follow "SDAM Logging and Monitoring", section "Events API".
//! Heartbeat events are the monitor's business and are not produced here.

use std::sync::Arc;

use bson::oid::ObjectId;

use crate::address::ServerAddress;
use crate::sdam::departures::RemovalReason;
use crate::sdam::server::ServerDescription;
use crate::sdam::topology::TopologyDescription;
use crate::time::MonotonicTime;

/// One SDAM monitoring event (without the topology id, which the engine adds).
///
/// Descriptions are shared by [`Arc`]: publishing an event never copies one.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SdamEvent {
    /// TopologyOpeningEvent: the first event of a topology.
    TopologyOpening,
    /// ServerOpeningEvent: a server was added to the topology, before it is monitored.
    ServerOpening {
        /// The server's address.
        address: ServerAddress,
    },
    /// ServerDescriptionChangedEvent: a server's description changed (per SDAM "Server
    /// Description Equality").
    ServerDescriptionChanged {
        /// The server's address.
        address: ServerAddress,
        /// The description before the change.
        previous: Arc<ServerDescription>,
        /// The description after the change.
        new: Arc<ServerDescription>,
    },
    /// TopologyDescriptionChangedEvent: the topology description changed.
    TopologyDescriptionChanged {
        /// The description before the change.
        previous: Arc<TopologyDescription>,
        /// The description after the change.
        new: Arc<TopologyDescription>,
    },
    /// ServerClosedEvent: a server was removed from the topology and its monitor stopped.
    ServerClosed {
        /// The server's address.
        address: ServerAddress,
        /// Why it was removed (an extra field: the spec's event has only the address).
        reason: RemovalReason,
    },
    /// TopologyClosedEvent: the last event of a topology.
    TopologyClosed,
}

/// Something the live engine must do, in the order given, while still holding the lock
/// under which the description was replaced (SDAM "Why synchronize clearing a server's pool
/// with updating the topology?").
///
/// Exhaustive on purpose: the engine matches every action, so a new decision does not
/// compile until the engine carries it out.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Create a monitor for a newly added server and start checking it.
    StartMonitoring(ServerAddress),
    /// Stop the monitor of a removed server; its in-flight outcome will be ignored.
    StopMonitoring(ServerAddress),
    /// Clear the server's connection pool (CMAP "clear"); the pool's generation is now
    /// `new_generation`.
    ClearPool {
        /// The server whose pool is cleared.
        address: ServerAddress,
        /// In load-balanced mode, only the connections to this service are cleared.
        service_id: Option<ObjectId>,
        /// Whether in-use connections are interrupted too (after a monitor's network timeout,
        /// per "Server Monitoring", "Network or command error during server check").
        interrupt_in_use_connections: bool,
        /// The generation of the pool after the clear.
        new_generation: u32,
    },
    /// Mark the server's pool "ready" after a successful check (SDAM "Connection Pool
    /// Management").
    MarkPoolReady(ServerAddress),
    /// Request an immediate check of the server ("Server Monitoring", "Requesting an
    /// immediate check": at most one check per minHeartbeatFrequencyMS).
    RequestImmediateCheck(ServerAddress),
    /// The monitor must begin its next check now, without sleeping: a network error made a
    /// known server Unknown ("Server Monitoring", "Network or command error during server
    /// check", step 4).
    RetryCheckNow(ServerAddress),
    /// Cancel the monitor's in-progress check (SDAM error handling pseudocode, after a
    /// network error on an application connection).
    CancelCheck(ServerAddress),
    /// Every server has been removed: call [`crate::sdam::Topology::reseed`] at `at` (or
    /// later) to start again from the last complete member list and the seeds (mgo's
    /// "dynamic seeds"; at most once per heartbeatFrequencyMS).
    ScheduleReseed {
        /// When the re-seed is due.
        at: MonotonicTime,
    },
    /// A reply listed new members that the topology refused, having reached
    /// [`crate::sdam::MAX_SERVERS_ADDED_BY_REPLIES`] servers beyond its seeds: the engine
    /// warns, naming the server. Returned once per topology (the first refusal), however
    /// many replies are refused after it; the server that sent the reply stays monitored.
    ServerGrowthRefused {
        /// The server whose reply listed the refused members.
        reported_by: ServerAddress,
        /// How many of its reply's members were refused.
        refused: usize,
        /// The most servers the topology may hold through replies (seeds + the cap).
        limit: usize,
    },
    /// Publish a monitoring event.
    Publish(SdamEvent),
}

impl Action {
    /// The event this action publishes, if it is a [`Action::Publish`].
    pub fn event(&self) -> Option<&SdamEvent> {
        match self {
            Action::Publish(event) => Some(event),
            _ => None,
        }
    }
}

/// What one input to the state machine changed: the description now current, and the actions
/// to perform, in order.
///
/// `description` is the snapshot to publish. An input that changes nothing worth publishing
/// returns the very same [`Arc`] as before, so the engine decides whether to publish with
/// `!Arc::ptr_eq(&previous, &changes.description)`; a new snapshot shares every unchanged
/// server's [`Arc`] with the previous one.
#[derive(Clone, Debug, PartialEq)]
#[must_use = "the actions must be carried out and a new description published"]
pub struct Changes {
    /// The topology description after the input was applied: the same `Arc` as before when
    /// the input was ignored or changed nothing that is published.
    pub description: Arc<TopologyDescription>,
    /// What the engine must do, in order. Empty when the input was ignored.
    pub actions: Vec<Action>,
}

impl Changes {
    /// The events to publish, in order.
    pub fn events(&self) -> impl Iterator<Item = &SdamEvent> {
        self.actions.iter().filter_map(Action::event)
    }
}
