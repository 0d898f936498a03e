//! The pool's bookkeeping: serving the wait queue, creating, handing out, making available
//! and closing connections, failing check-outs, emitting events.

use std::time::Duration;

use super::super::events::{CmapEvent, CmapEventKind, ConnectionClosedReason, ConnectionId};
use super::types::not;
use super::{
    BackgroundRuns, CheckOutError, Entry, PoolAction, PoolMachine, PoolState, Slot,
    UnknownConnection, Waiter,
};
use crate::MonotonicTime;

impl PoolMachine {
    /// Serves the wait queue in order, then fills to minPoolSize.
    pub(super) fn settle(&mut self, now: MonotonicTime) {
        if self.state != PoolState::Ready {
            return;
        }
        while let Some(&waiter) = self.wait_queue.front() {
            if let Some((connection, generation)) = self.take_available(now) {
                self.wait_queue.pop_front();
                self.hand_out(waiter, connection, generation, now);
            } else if self.can_create() {
                self.wait_queue.pop_front();
                self.create(Some(waiter), now);
            } else {
                break;
            }
        }
        if self.background_runs == BackgroundRuns::WhenDue {
            self.fill_to_min_pool_size(now);
        }
    }

    /// Creates connections until the pool holds minPoolSize, within maxConnecting (a run
    /// does what it can now and does not wait for establishments to end).
    pub(super) fn fill_to_min_pool_size(&mut self, now: MonotonicTime) {
        if self.state != PoolState::Ready {
            return;
        }
        while self.connections.len() < self.options.min_pool_size as usize && self.can_create() {
            self.create(None, now);
        }
    }

    pub(super) fn can_create(&self) -> bool {
        self.options.has_room_for_another(self.connections.len())
            && self.pending < self.options.max_connecting as usize
    }

    /// The most recently returned available connection that has not perished, closing the
    /// perished ones met on the way.
    pub(super) fn take_available(&mut self, now: MonotonicTime) -> Option<(ConnectionId, u32)> {
        while let Some(id) = self.available.pop() {
            match self.perished(id, now) {
                Some(reason) => self.close_connection(id, reason),
                None => return Some((id, self.connections.get(&id)?.generation)),
            }
        }
        None
    }

    pub(super) fn create(&mut self, waiter: Option<Waiter>, now: MonotonicTime) {
        self.last_connection_id += 1;
        let connection = ConnectionId(self.last_connection_id);
        self.connections.insert(
            connection,
            Entry {
                generation: self.generation,
                service: None,
                slot: Slot::Pending {
                    created_at: now,
                    waiter,
                },
            },
        );
        self.pending += 1;
        self.emit(CmapEventKind::ConnectionCreated {
            connection_id: connection,
        });
        self.actions.push_back(PoolAction::Establish {
            connection,
            generation: self.generation,
        });
    }

    pub(super) fn pending_entry(
        &self,
        connection: ConnectionId,
    ) -> Result<(u32, MonotonicTime, Option<Waiter>), UnknownConnection> {
        match self.connections.get(&connection) {
            Some(Entry {
                generation,
                slot: Slot::Pending { created_at, waiter },
                ..
            }) => Ok((*generation, *created_at, *waiter)),
            _ => Err(not(connection, "pending")),
        }
    }

    pub(super) fn hand_out(
        &mut self,
        waiter: Waiter,
        connection: ConnectionId,
        generation: u32,
        now: MonotonicTime,
    ) {
        let service = self.service_of(connection);
        self.connections.insert(
            connection,
            Entry {
                generation,
                service,
                slot: Slot::InUse { interrupted: false },
            },
        );
        self.emit(CmapEventKind::ConnectionCheckedOut {
            connection_id: connection,
            duration: elapsed(waiter, now),
        });
        self.actions.push_back(PoolAction::HandOut {
            waiter: waiter.id,
            connection,
            generation,
        });
    }

    pub(super) fn make_available(
        &mut self,
        connection: ConnectionId,
        generation: u32,
        now: MonotonicTime,
    ) {
        let service = self.service_of(connection);
        self.connections.insert(
            connection,
            Entry {
                generation,
                service,
                slot: Slot::Available { since: now },
            },
        );
        self.available.push(connection);
    }

    /// Removes a connection from the pool, whatever its state, and says so.
    pub(super) fn close_connection(
        &mut self,
        connection: ConnectionId,
        reason: ConnectionClosedReason,
    ) {
        if let Some(entry) = self.connections.remove(&connection) {
            match entry.slot {
                Slot::Pending { .. } => self.pending -= 1,
                Slot::Available { .. } => self.available.retain(|id| *id != connection),
                Slot::InUse { .. } => {}
            }
        }
        self.emit(CmapEventKind::ConnectionClosed {
            connection_id: connection,
            reason,
        });
        self.actions
            .push_back(PoolAction::CloseConnection(connection));
    }

    pub(super) fn fail(&mut self, waiter: Waiter, error: CheckOutError, now: MonotonicTime) {
        self.emit(CmapEventKind::ConnectionCheckOutFailed {
            reason: error.reason(),
            duration: elapsed(waiter, now),
        });
        self.actions.push_back(PoolAction::FailCheckOut {
            waiter: waiter.id,
            error,
        });
    }

    pub(super) fn emit(&mut self, kind: CmapEventKind) {
        self.actions.push_back(PoolAction::Emit(CmapEvent {
            address: self.address.clone(),
            kind,
        }));
    }
}

pub(super) fn elapsed(waiter: Waiter, now: MonotonicTime) -> Duration {
    now.saturating_duration_since(waiter.started_at)
}
