//! [`Pool`]: the async connection pool, a thin tokio wrapper around [`PoolMachine`].
//!
//! One mutex guards the machine and the connections it does not lend out. Every input locks
//! it, feeds the machine, carries out the resulting actions, and delivers check-out results
//! after unlocking (a delivered [`PooledConnection`] that nobody takes checks itself in, which
//! locks again). Connections are established by spawned tasks through a
//! [`ConnectionFactory`]; a background task wakes at the machine's next deadline (wait queue
//! timeouts, idle expiry) and after a clear, and stops when the last [`Pool`] handle is
//! dropped. Events go, in order, to an unbounded channel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;

use crate::connection::channel::Connection;
use crate::connection::error::ConnectionError;
use crate::{MonotonicTime, ServerAddress};

use super::background::background;
use super::{
    BackgroundFailure, CheckOutError, CmapEvent, ConnectionFactory, ConnectionId, PoolAction,
    PoolError, PoolMachine, PoolOptions, PoolOptionsError, PoolState, PooledConnection,
    UnknownConnection, WaiterId,
};

type Delivery = (
    Option<oneshot::Sender<Result<PooledConnection, PoolError>>>,
    Result<PooledConnection, PoolError>,
);

pub(super) struct Inner {
    pub(super) machine: PoolMachine,
    /// Established connections not lent out (available, or about to be handed out).
    idle: HashMap<ConnectionId, Connection>,
    /// Generations of pending connections, for establishment errors.
    pending_generations: HashMap<ConnectionId, u32>,
    waiters: HashMap<WaiterId, oneshot::Sender<Result<PooledConnection, PoolError>>>,
    interrupts: HashMap<ConnectionId, watch::Sender<bool>>,
}

pub(super) struct Shared {
    /// This value's own Arc, for the tasks and connections that must not keep it alive.
    me: Weak<Shared>,
    address: ServerAddress,
    pub(super) origin: Instant,
    factory: Arc<dyn ConnectionFactory>,
    events: Option<mpsc::UnboundedSender<CmapEvent>>,
    failures: Option<mpsc::UnboundedSender<BackgroundFailure>>,
    wake_background: Arc<Notify>,
    inner: Mutex<Inner>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.wake_background.notify_one();
    }
}

/// A connection pool for one server (see the module documentation). Cloning gives another
/// handle to the same pool. Must be created inside a tokio runtime.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("address", &self.shared.address)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A paused pool for `address` (mark it ready with [`Pool::ready`]); events, starting
    /// with PoolCreated, go to `events` if given.
    pub fn new(
        address: ServerAddress,
        options: PoolOptions,
        factory: Arc<dyn ConnectionFactory>,
        events: Option<mpsc::UnboundedSender<CmapEvent>>,
    ) -> Result<Pool, PoolOptionsError> {
        Pool::with_failure_reports(address, options, factory, events, None)
    }

    /// [`Pool::new`], reporting to `failures` each connection the pool opened on its own
    /// (for minPoolSize) that could not be established, so that SDAM's error handling sees
    /// it as it sees a check-out's (which the check-out's caller reports).
    pub fn with_failure_reports(
        address: ServerAddress,
        options: PoolOptions,
        factory: Arc<dyn ConnectionFactory>,
        events: Option<mpsc::UnboundedSender<CmapEvent>>,
        failures: Option<mpsc::UnboundedSender<BackgroundFailure>>,
    ) -> Result<Pool, PoolOptionsError> {
        let machine = PoolMachine::new(address.clone(), options)?;
        let shared = Arc::new_cyclic(|me| Shared {
            me: me.clone(),
            address,
            origin: Instant::now(),
            factory,
            events,
            failures,
            wake_background: Arc::new(Notify::new()),
            inner: Mutex::new(Inner {
                machine,
                idle: HashMap::new(),
                pending_generations: HashMap::new(),
                waiters: HashMap::new(),
                interrupts: HashMap::new(),
            }),
        });
        shared.input(|_, _| ());
        tokio::spawn(background(
            Arc::downgrade(&shared),
            shared.wake_background.clone(),
        ));
        Ok(Pool { shared })
    }

    /// The server this pool connects to.
    pub fn address(&self) -> &ServerAddress {
        &self.shared.address
    }

    /// The pool generation (one more per clear).
    pub fn generation(&self) -> u32 {
        self.shared.lock().machine.generation()
    }

    /// Paused, ready or closed.
    pub fn state(&self) -> PoolState {
        self.shared.lock().machine.state()
    }

    /// CMAP `totalConnectionCount`.
    pub fn total_connection_count(&self) -> usize {
        self.shared.lock().machine.total_connection_count()
    }

    /// CMAP `availableConnectionCount`.
    pub fn available_connection_count(&self) -> usize {
        self.shared.lock().machine.available_connection_count()
    }

    /// Checks out a connection: an available one, or a new one, waiting in a fair queue for
    /// at most waitQueueTimeoutMS. Dropping the future leaves the queue.
    pub async fn check_out(&self) -> Result<PooledConnection, PoolError> {
        let (sender, receiver) = oneshot::channel();
        let waiter = self.shared.input(move |inner, now| {
            let waiter = inner.machine.check_out(now);
            inner.waiters.insert(waiter, sender);
            waiter
        });
        let mut guard = AbandonOnDrop {
            shared: &self.shared,
            waiter: Some(waiter),
        };
        let outcome = receiver.await;
        guard.waiter = None;
        outcome.unwrap_or(Err(PoolError::CheckOut {
            address: self.shared.address.clone(),
            error: CheckOutError::PoolClosed,
        }))
    }

    /// CMAP `clear`: bumps the generation and pauses the pool; waiting check-outs fail; with
    /// `interrupt_in_use_connections`, checked-out connections are interrupted (see
    /// [`PooledConnection::interrupted`]).
    pub fn clear(&self, interrupt_in_use_connections: bool) {
        self.shared.input(|inner, now| {
            inner.machine.clear(interrupt_in_use_connections, now);
        });
        // Stale available connections are closed by the next background run.
        self.shared.wake_background.notify_one();
    }

    /// Load-balanced mode: clears the connections of one service (see
    /// [`PoolMachine::clear_service`]); the pool stays ready.
    pub fn clear_service(&self, service_id: bson::oid::ObjectId) {
        self.shared
            .input(|inner, now| inner.machine.clear_service(service_id, now));
    }

    /// Load-balanced mode: how many established connections each service has.
    pub fn service_connection_counts(
        &self,
    ) -> std::collections::BTreeMap<bson::oid::ObjectId, usize> {
        self.shared.lock().machine.service_connection_counts()
    }

    /// CMAP `ready`: a paused pool starts serving check-outs and filling to minPoolSize.
    pub fn ready(&self) {
        self.shared.input(|inner, now| inner.machine.ready(now));
    }

    /// Offers the pool a connection established outside it (see [`PoolMachine::adopt`]):
    /// taken when the pool is ready and has room, else given back (`Some`) for the caller to
    /// drop.
    #[must_use = "a connection the pool refused is given back"]
    pub fn adopt(&self, connection: Connection) -> Option<Connection> {
        let mut offered = Some(connection);
        self.shared.input(|inner, now| {
            if let Some(id) = inner.machine.adopt(now) {
                if let Some(connection) = offered.take() {
                    inner.idle.insert(id, connection);
                }
            }
        });
        offered
    }

    /// CMAP `close`: closes the available connections; later check-outs fail.
    pub fn close(&self) {
        self.shared.input(|inner, now| inner.machine.close(now));
    }
}

/// Leaves the wait queue if a check-out future is dropped before its outcome.
struct AbandonOnDrop<'a> {
    shared: &'a Shared,
    waiter: Option<WaiterId>,
}

impl Drop for AbandonOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(waiter) = self.waiter.take() {
            self.shared.input(|inner, now| {
                inner.waiters.remove(&waiter);
                inner.machine.abandon_check_out(waiter, now);
            });
        }
    }
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the machine consistent enough to go on.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now(&self) -> MonotonicTime {
        MonotonicTime::from_offset(Instant::now().saturating_duration_since(self.origin))
    }

    /// Runs one input under the lock, carries out its actions, delivers check-out outcomes
    /// after unlocking, and wakes the background task if there is an earlier deadline.
    pub(super) fn input<T>(&self, apply: impl FnOnce(&mut Inner, MonotonicTime) -> T) -> T {
        self.input_with_cause(None, apply)
    }

    fn input_with_cause<T>(
        &self,
        cause: Option<(u32, ConnectionError)>,
        apply: impl FnOnce(&mut Inner, MonotonicTime) -> T,
    ) -> T {
        let mut inner = self.lock();
        let before = inner.machine.next_deadline();
        let now = self.now();
        let value = apply(&mut inner, now);
        let deliveries = self.carry_out(&mut inner, cause);
        let after = inner.machine.next_deadline();
        drop(inner);
        if after.is_some_and(|after| before.is_none_or(|before| after < before)) {
            self.wake_background.notify_one();
        }
        for (sender, outcome) in deliveries {
            if let Some(sender) = sender {
                // A refused connection comes back here and checks itself in.
                let _ = sender.send(outcome);
            }
        }
        value
    }

    fn carry_out(
        &self,
        inner: &mut Inner,
        mut cause: Option<(u32, ConnectionError)>,
    ) -> Vec<Delivery> {
        let mut deliveries = Vec::new();
        while let Some(action) = inner.machine.poll_action() {
            match action {
                PoolAction::Emit(event) => {
                    if let Some(events) = &self.events {
                        let _ = events.send(event);
                    }
                }
                PoolAction::Establish {
                    connection,
                    generation,
                } => {
                    inner.pending_generations.insert(connection, generation);
                    let establishing = self.factory.establish(&self.address);
                    let pool = self.me.clone();
                    tokio::spawn(async move {
                        let outcome = establishing.await;
                        if let Some(pool) = pool.upgrade() {
                            pool.establishment_done(connection, outcome);
                        }
                    });
                }
                PoolAction::HandOut {
                    waiter,
                    connection,
                    generation,
                } => {
                    let sender = inner.waiters.remove(&waiter);
                    let Some(socket) = inner.idle.remove(&connection) else {
                        tracing::error!(%connection, "pool handed out a connection it does not hold");
                        continue;
                    };
                    let (interrupt, interrupted) = watch::channel(false);
                    inner.interrupts.insert(connection, interrupt);
                    let pooled = PooledConnection {
                        connection: Some(socket),
                        id: connection,
                        generation,
                        healthy: true,
                        interrupted,
                        pool: self.me.clone(),
                    };
                    deliveries.push((sender, Ok(pooled)));
                }
                PoolAction::FailCheckOut { waiter, error } => {
                    let sender = inner.waiters.remove(&waiter);
                    let failure = match (error, cause.take()) {
                        (CheckOutError::ConnectionError, Some((generation, source))) => {
                            PoolError::Establishment {
                                address: self.address.clone(),
                                generation,
                                source,
                            }
                        }
                        (error, _) => PoolError::CheckOut {
                            address: self.address.clone(),
                            error,
                        },
                    };
                    deliveries.push((sender, Err(failure)));
                }
                PoolAction::CloseConnection(connection) => {
                    inner.idle.remove(&connection);
                    inner.interrupts.remove(&connection);
                    inner.pending_generations.remove(&connection);
                }
                PoolAction::Interrupt(connection) => {
                    if let Some(interrupt) = inner.interrupts.get(&connection) {
                        interrupt.send_replace(true);
                    }
                }
            }
        }
        // An establishment failure no check-out was waiting for: a background connection.
        if let (Some((generation, error)), Some(failures)) = (cause, &self.failures) {
            let _ = failures.send(BackgroundFailure {
                address: self.address.clone(),
                generation,
                error,
            });
        }
        deliveries
    }

    fn establishment_done(
        &self,
        connection: ConnectionId,
        outcome: Result<Connection, ConnectionError>,
    ) {
        match outcome {
            Ok(socket) => self.input(|inner, now| {
                inner.pending_generations.remove(&connection);
                let service = socket.service_id();
                inner.idle.insert(connection, socket);
                report(
                    inner
                        .machine
                        .connection_established_for_service(connection, service, now),
                );
            }),
            Err(error) => {
                tracing::debug!(address = %self.address, %connection, %error, "pool connection failed");
                let generation = {
                    let inner = self.lock();
                    let pending = inner.pending_generations.get(&connection).copied();
                    // Load-balanced mode: an error after the handshake named the service
                    // belongs to that service's generation (what SDAM compares it with).
                    match (pending, error.service_id()) {
                        (Some(_), Some(service)) => Some(inner.machine.service_generation(service)),
                        (pending, _) => pending,
                    }
                };
                let cause = generation.map(|generation| (generation, error));
                self.input_with_cause(cause, |inner, now| {
                    report(inner.machine.connection_failed(connection, now));
                })
            }
        }
    }

    pub(super) fn check_in(&self, connection: ConnectionId, socket: Connection, healthy: bool) {
        self.input(|inner, now| {
            inner.interrupts.remove(&connection);
            inner.idle.insert(connection, socket);
            report(inner.machine.check_in(connection, healthy, now));
        });
    }
}

fn report(outcome: Result<(), UnknownConnection>) {
    if let Err(error) = outcome {
        tracing::error!(%error, "connection pool input refused");
    }
}
