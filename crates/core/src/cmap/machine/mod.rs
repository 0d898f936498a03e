//! The pool's rules as a state machine, in the style of the SDAM core: inputs are method
//! calls that take the time as a [`MonotonicTime`]; outputs are [`PoolAction`]s, drained
//! with [`PoolMachine::poll_action`] and carried out by the caller (establish a connection,
//! hand a connection to a waiter, fail a waiter, close or interrupt a connection, publish an
//! event). The machine holds no socket, reads no clock and runs no task, so the CMAP spec
//! tests drive exactly the rules the engine's live pool runs.
//!
//! Rules, per the CMAP spec's "Connection Pool Behaviors":
//!
//! | input | pool state | outcome |
//! |---|---|---|
//! | check out | closed | fails `PoolClosed` at once |
//! | check out | paused | fails `PoolCleared` at once |
//! | check out | ready | joins the FIFO wait queue; the front waiter takes the most recently returned non-perished connection, else creates one if `total < maxPoolSize` and `pending < maxConnecting`, else waits (and so does everyone behind it) |
//! | check in | closed / connection stale / connection broken | connection closed (`poolClosed` / `stale` / `error`) |
//! | check in | otherwise | connection available |
//! | clear | ready | generation + 1, paused, `PoolCleared`, every waiter fails `PoolCleared` |
//! | clear | paused | generation + 1, no event |
//! | clear with interruptInUseConnections | any but closed | in-use connections of older generations are interrupted |
//! | ready | paused | ready, `PoolReady`, then background fill to minPoolSize |
//! | close | not closed | closed, available connections closed, waiters fail `PoolClosed`, `PoolClosed` |
//! | tick | any | waiters past waitQueueTimeoutMS fail `Timeout`; a background run if one is due |
//! | background run | any | stale and idle available connections closed, interrupted in-use connections closed (`stale`); fill to minPoolSize if ready |
//!
//! When background runs happen is a [`BackgroundRuns`] schedule: by default whenever there
//! is work (minPoolSize filled as soon as the pool can, an idle connection closed when it
//! expires), or at a fixed interval after the previous run; either way a clear schedules the
//! next run at once (CMAP "Background Thread": "A pool SHOULD allow immediate scheduling of
//! the next background thread iteration after a clear is performed").
//!
//! Inputs given before the actions are drained are simultaneous: the wait queue is served
//! (and minPoolSize filled) once, when [`PoolMachine::poll_action`] is first called after
//! them. A caller that drains after every input sees each input served on its own.
//!
//! A check-out that has created its connection leaves the wait queue: its establishment is
//! bounded by the connect timeout (the caller's business), not by waitQueueTimeoutMS.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bson::oid::ObjectId;

use crate::{MonotonicTime, ServerAddress};

use super::events::{CmapEventKind, ConnectionClosedReason, ConnectionId};
use super::options::{PoolOptions, PoolOptionsError};

mod background;
mod services;
mod slots;
#[cfg(test)]
mod tests;
mod types;

use types::not;
pub use types::{
    BackgroundRuns, CheckOutError, PoolAction, PoolState, UnknownConnection, WaiterId,
};

#[derive(Clone, Copy, Debug)]
struct Waiter {
    id: WaiterId,
    started_at: MonotonicTime,
    deadline: Option<MonotonicTime>,
}

#[derive(Clone, Copy, Debug)]
enum Slot {
    /// Created, being established; for this waiter, or for minPoolSize if none.
    Pending {
        created_at: MonotonicTime,
        waiter: Option<Waiter>,
    },
    Available {
        since: MonotonicTime,
    },
    InUse {
        interrupted: bool,
    },
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// The pool's generation when created; in load-balanced mode, once established, its
    /// service's generation at that moment.
    generation: u32,
    /// The service the connection reached (load-balanced mode), once established.
    service: Option<ObjectId>,
    slot: Slot,
}

/// The rules of one connection pool (see the module documentation).
#[derive(Debug)]
pub struct PoolMachine {
    address: ServerAddress,
    options: PoolOptions,
    state: PoolState,
    generation: u32,
    last_connection_id: u64,
    last_waiter_id: u64,
    connections: BTreeMap<ConnectionId, Entry>,
    /// Available connections; the last is the most recently checked in and is used first.
    available: Vec<ConnectionId>,
    pending: usize,
    wait_queue: VecDeque<Waiter>,
    actions: VecDeque<PoolAction>,
    /// Set by inputs: the wait queue must be served at this time before the next action.
    unsettled_at: Option<MonotonicTime>,
    /// Load-balanced mode: each service's generation (0, plus one per clear of it). Never
    /// pruned, so that it stays equal to the generations the SDAM core compares.
    service_generations: BTreeMap<ObjectId, u32>,
    /// When background runs happen.
    background_runs: BackgroundRuns,
    /// With [`BackgroundRuns::Every`]: when the next run is due.
    next_run_at: MonotonicTime,
    /// A clear asked for a run at this time (CMAP: "immediate scheduling of the next
    /// background thread iteration after a clear").
    run_requested_at: Option<MonotonicTime>,
    /// In-use connections a background run closed after an interrupting clear: their
    /// holders still have the sockets, which are dropped when checked in.
    closed_in_use: BTreeSet<ConnectionId>,
}

impl PoolMachine {
    /// A paused pool for `address`; emits PoolCreated. Fails if the options are invalid.
    pub fn new(address: ServerAddress, options: PoolOptions) -> Result<Self, PoolOptionsError> {
        options.validate()?;
        let mut machine = PoolMachine {
            address,
            options: options.clone(),
            state: PoolState::Paused,
            generation: 0,
            last_connection_id: 0,
            last_waiter_id: 0,
            connections: BTreeMap::new(),
            available: Vec::new(),
            pending: 0,
            wait_queue: VecDeque::new(),
            actions: VecDeque::new(),
            unsettled_at: None,
            service_generations: BTreeMap::new(),
            background_runs: BackgroundRuns::WhenDue,
            next_run_at: MonotonicTime::from_millis(0),
            run_requested_at: None,
            closed_in_use: BTreeSet::new(),
        };
        machine.emit(CmapEventKind::PoolCreated {
            options: options.reported(),
        });
        Ok(machine)
    }

    /// The server this pool connects to.
    pub fn address(&self) -> &ServerAddress {
        &self.address
    }

    /// The pool's options.
    pub fn options(&self) -> &PoolOptions {
        &self.options
    }

    /// Paused, ready or closed.
    pub fn state(&self) -> PoolState {
        self.state
    }

    /// The generation: 0, plus one per clear.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// CMAP `totalConnectionCount`: pending, available and in use.
    pub fn total_connection_count(&self) -> usize {
        self.connections.len()
    }

    /// CMAP `availableConnectionCount`.
    pub fn available_connection_count(&self) -> usize {
        self.available.len()
    }

    /// CMAP `pendingConnectionCount`.
    pub fn pending_connection_count(&self) -> usize {
        self.pending
    }

    /// How many check-outs are in the wait queue.
    pub fn wait_queue_len(&self) -> usize {
        self.wait_queue.len()
    }

    /// The next thing to do, oldest first; serves the wait queue first if an input since the
    /// last call may have changed what it can get.
    pub fn poll_action(&mut self) -> Option<PoolAction> {
        if let Some(now) = self.unsettled_at.take() {
            self.settle(now);
        }
        self.actions.pop_front()
    }

    /// A check-out request: emits CheckOutStarted, then serves it at once if it can.
    pub fn check_out(&mut self, now: MonotonicTime) -> WaiterId {
        self.last_waiter_id += 1;
        let waiter = Waiter {
            id: WaiterId(self.last_waiter_id),
            started_at: now,
            deadline: self
                .options
                .wait_queue_timeout
                .map(|timeout| now.saturating_add(timeout)),
        };
        self.emit(CmapEventKind::ConnectionCheckOutStarted);
        match self.state {
            PoolState::Closed => self.fail(waiter, CheckOutError::PoolClosed, now),
            PoolState::Paused => self.fail(waiter, CheckOutError::PoolCleared, now),
            PoolState::Ready => {
                self.wait_queue.push_back(waiter);
                self.unsettled_at = Some(now);
            }
        }
        waiter.id
    }

    /// The caller gave up on check-out `waiter` (e.g. its future was dropped): it leaves the
    /// wait queue, and a connection being established for it will become available instead.
    /// No event: CMAP has none for an abandoned check-out.
    pub fn abandon_check_out(&mut self, waiter: WaiterId, now: MonotonicTime) {
        self.wait_queue.retain(|queued| queued.id != waiter);
        for entry in self.connections.values_mut() {
            if let Slot::Pending { waiter: mine, .. } = &mut entry.slot {
                if mine.is_some_and(|mine| mine.id == waiter) {
                    *mine = None;
                }
            }
        }
        self.unsettled_at = Some(now);
    }

    /// Checks in a connection that was handed out; `healthy` is false if it failed while in
    /// use (it is then closed with reason `error`).
    pub fn check_in(
        &mut self,
        connection: ConnectionId,
        healthy: bool,
        now: MonotonicTime,
    ) -> Result<(), UnknownConnection> {
        if self.closed_in_use.remove(&connection) {
            // Interrupted and closed by a background run while in use: its ConnectionClosed
            // was emitted then; only the socket is left to drop.
            self.emit(CmapEventKind::ConnectionCheckedIn {
                connection_id: connection,
            });
            self.actions
                .push_back(PoolAction::CloseConnection(connection));
            return Ok(());
        }
        let Some(entry) = self.connections.get(&connection).copied() else {
            return Err(not(connection, "checked out"));
        };
        let Slot::InUse { interrupted } = entry.slot else {
            return Err(not(connection, "checked out"));
        };
        self.emit(CmapEventKind::ConnectionCheckedIn {
            connection_id: connection,
        });
        let close_reason = if self.state == PoolState::Closed {
            Some(ConnectionClosedReason::PoolClosed)
        } else if entry.generation != self.current_generation(entry.service) {
            Some(ConnectionClosedReason::Stale)
        } else if !healthy || interrupted {
            Some(ConnectionClosedReason::Error)
        } else {
            None
        };
        match close_reason {
            Some(reason) => self.close_connection(connection, reason),
            None => self.make_available(connection, entry.generation, now),
        }
        self.unsettled_at = Some(now);
        Ok(())
    }

    /// A connection from [`PoolAction::Establish`] is established: it goes to the check-out it
    /// was created for, else becomes available; it is closed instead if the pool was closed
    /// or cleared meanwhile.
    pub fn connection_established(
        &mut self,
        connection: ConnectionId,
        now: MonotonicTime,
    ) -> Result<(), UnknownConnection> {
        self.connection_established_for_service(connection, None, now)
    }

    /// [`PoolMachine::connection_established`] in load-balanced mode: the handshake reached
    /// `service` (its `serviceId`), whose current generation the connection takes (CMAP
    /// "Load Balancer Mode").
    pub fn connection_established_for_service(
        &mut self,
        connection: ConnectionId,
        service: Option<ObjectId>,
        now: MonotonicTime,
    ) -> Result<(), UnknownConnection> {
        self.pending_entry(connection)?;
        if let Some(service) = service {
            let generation = self.current_generation(Some(service));
            if let Some(entry) = self.connections.get_mut(&connection) {
                entry.service = Some(service);
                entry.generation = generation;
            }
        }
        let (generation, created_at, waiter) = self.pending_entry(connection)?;
        if self.state == PoolState::Closed {
            self.close_connection(connection, ConnectionClosedReason::PoolClosed);
            if let Some(waiter) = waiter {
                self.fail(waiter, CheckOutError::PoolClosed, now);
            }
        } else if generation != self.current_generation(self.service_of(connection)) {
            self.close_connection(connection, ConnectionClosedReason::Stale);
            if let Some(waiter) = waiter {
                self.fail(waiter, CheckOutError::PoolCleared, now);
            }
        } else {
            self.pending -= 1;
            self.emit(CmapEventKind::ConnectionReady {
                connection_id: connection,
                duration: now.saturating_duration_since(created_at),
            });
            match waiter {
                Some(waiter) => self.hand_out(waiter, connection, generation, now),
                None => self.make_available(connection, generation, now),
            }
        }
        self.unsettled_at = Some(now);
        Ok(())
    }

    /// Adopts a connection established outside the pool — the engine's warm-up opens a
    /// server's first connection while its pool is still paused, so that the handshake is
    /// done by the time the server is first selected. If the pool is ready and has room, the
    /// connection is counted as created and ready now (ConnectionCreated, ConnectionReady)
    /// and made available to the wait queue; otherwise `None`, and the caller closes it. A
    /// paused pool never creates connections itself, as CMAP requires.
    pub fn adopt(&mut self, now: MonotonicTime) -> Option<ConnectionId> {
        let room = self
            .options
            .has_room_for_another(self.total_connection_count());
        if self.state != PoolState::Ready || !room {
            return None;
        }
        self.create(None, now);
        // `create` queued an Establish action for the caller to carry out: this connection
        // is already established, so take that action back and settle it at once.
        let connection = ConnectionId(self.last_connection_id);
        self.actions.retain(|action| {
            !matches!(action, PoolAction::Establish { connection: c, .. } if *c == connection)
        });
        self.connection_established(connection, now).ok()?;
        Some(connection)
    }

    /// A connection from [`PoolAction::Establish`] could not be established: it is closed
    /// (reason `error`) and the check-out it was for fails. The SDAM rules decide whether the
    /// pool is cleared; a caller that clears it should do so before reporting the failure,
    /// so that PoolCleared comes before ConnectionClosed.
    pub fn connection_failed(
        &mut self,
        connection: ConnectionId,
        now: MonotonicTime,
    ) -> Result<(), UnknownConnection> {
        let (_, _, waiter) = self.pending_entry(connection)?;
        self.close_connection(connection, ConnectionClosedReason::Error);
        if let Some(waiter) = waiter {
            self.fail(waiter, CheckOutError::ConnectionError, now);
        }
        self.unsettled_at = Some(now);
        Ok(())
    }

    /// CMAP `clear(interruptInUseConnections)`: see the module documentation.
    pub fn clear(&mut self, interrupt_in_use_connections: bool, now: MonotonicTime) {
        if self.state == PoolState::Closed {
            return;
        }
        let cleared_generation = self.generation;
        self.generation = self.generation.wrapping_add(1);
        if self.state == PoolState::Ready {
            self.state = PoolState::Paused;
            self.emit(CmapEventKind::PoolCleared {
                interrupt_in_use_connections,
                service_id: None,
            });
            while let Some(waiter) = self.wait_queue.pop_front() {
                self.fail(waiter, CheckOutError::PoolCleared, now);
            }
        }
        // Stale available connections (and, below, interrupted in-use ones) are closed by
        // the next background run, scheduled now.
        self.run_requested_at = Some(now);
        if interrupt_in_use_connections {
            let mut interrupted = Vec::new();
            for (id, entry) in &mut self.connections {
                if let Slot::InUse { interrupted: flag } = &mut entry.slot {
                    if entry.generation <= cleared_generation && !*flag {
                        *flag = true;
                        interrupted.push(*id);
                    }
                }
            }
            self.actions
                .extend(interrupted.into_iter().map(PoolAction::Interrupt));
        }
    }

    /// CMAP `ready()`: a paused pool becomes ready (PoolReady), then starts filling to
    /// minPoolSize (at once, or at the next background run with [`BackgroundRuns::Every`]).
    /// No effect on a ready or closed pool.
    pub fn ready(&mut self, now: MonotonicTime) {
        if self.state != PoolState::Paused {
            return;
        }
        self.state = PoolState::Ready;
        self.emit(CmapEventKind::PoolReady);
        self.unsettled_at = Some(now);
    }

    /// CMAP `close()`: see the module documentation. In-use connections are closed when
    /// checked in, pending ones when their establishment ends.
    pub fn close(&mut self, now: MonotonicTime) {
        if self.state == PoolState::Closed {
            return;
        }
        self.state = PoolState::Closed;
        while let Some(id) = self.available.pop() {
            self.close_connection(id, ConnectionClosedReason::PoolClosed);
        }
        self.emit(CmapEventKind::PoolClosed);
        while let Some(waiter) = self.wait_queue.pop_front() {
            self.fail(waiter, CheckOutError::PoolClosed, now);
        }
    }
}
