//! Load-balanced mode (CMAP "Load Balancer Mode", "Clearing a load balanced pool"): behind
//! a load balancer each connection reaches one service (a mongos), named by the `serviceId`
//! of its handshake; the pool keeps a generation per service, and clearing a service makes
//! only its connections stale. The pool stays ready and the wait queue is kept.

use std::collections::BTreeMap;

use bson::oid::ObjectId;

use super::super::events::{CmapEventKind, ConnectionClosedReason, ConnectionId};
use super::{PoolMachine, PoolState, Slot};
use crate::MonotonicTime;

impl PoolMachine {
    /// The generation a connection of `service` must have to be current: the service's,
    /// or the pool's for a connection with no service.
    pub(super) fn current_generation(&self, service: Option<ObjectId>) -> u32 {
        match service {
            Some(service) => self.service_generation(service),
            None => self.generation,
        }
    }

    /// The service a connection reached, if known.
    pub(super) fn service_of(&self, connection: ConnectionId) -> Option<ObjectId> {
        self.connections.get(&connection)?.service
    }

    /// A service's generation: 0, plus one per [`PoolMachine::clear_service`].
    pub fn service_generation(&self, service: ObjectId) -> u32 {
        self.service_generations.get(&service).copied().unwrap_or(0)
    }

    /// How many established connections (available or in use) each service has.
    pub fn service_connection_counts(&self) -> BTreeMap<ObjectId, usize> {
        let mut counts = BTreeMap::new();
        for service in self.connections.values().filter_map(|entry| entry.service) {
            *counts.entry(service).or_insert(0) += 1;
        }
        counts
    }

    /// Clears the connections of one service: its generation + 1 and PoolCleared with its
    /// `serviceId`; its available connections are closed at once (`stale`), its in-use ones
    /// when checked in. The pool is not paused and no waiter fails.
    pub fn clear_service(&mut self, service: ObjectId, now: MonotonicTime) {
        if self.state == PoolState::Closed {
            return;
        }
        let generation = self.service_generations.entry(service).or_insert(0);
        *generation = generation.wrapping_add(1);
        self.emit(CmapEventKind::PoolCleared {
            interrupt_in_use_connections: false,
            service_id: Some(service),
        });
        let stale: Vec<ConnectionId> = self
            .available
            .iter()
            .copied()
            .filter(|id| {
                self.connections.get(id).is_some_and(|entry| {
                    entry.service == Some(service) && matches!(entry.slot, Slot::Available { .. })
                })
            })
            .collect();
        for id in stale {
            self.close_connection(id, ConnectionClosedReason::Stale);
        }
        self.unsettled_at = Some(now);
    }
}
