//! What every handle of one pool shares ([`Shared`]): the [`PoolMachine`] and the
//! connections it does not lend out behind one mutex, the waiters, and how actions are
//! carried out; and the [`PooledConnection`]s lent out of it, which check themselves back in
//! when dropped. The two are one file because each needs the other: the pool hands out
//! pooled connections, and a pooled connection returns to the pool.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;

use crate::connection::channel::Connection;
use crate::connection::error::ConnectionError;
use crate::metrics::PoolMetrics;
use crate::{MonotonicTime, ServerAddress};

/// The longest a failed establishment waits for the cluster to apply its error before the
/// pool closes the connection (the cluster task answers at once unless it has stopped).
const REPORT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

use super::{
    BackgroundFailure, CheckOutError, CmapEvent, ConnectionFactory, ConnectionId, PoolAction,
    PoolError, PoolMachine, UnknownConnection, WaiterId,
};

type Delivery = (
    Option<oneshot::Sender<Result<PooledConnection, PoolError>>>,
    Result<PooledConnection, PoolError>,
);

pub(super) struct Inner {
    pub(super) machine: PoolMachine,
    /// Established connections not lent out (available, or about to be handed out).
    pub(super) idle: HashMap<ConnectionId, Connection>,
    /// Generations of pending connections, for establishment errors.
    pending_generations: HashMap<ConnectionId, u32>,
    pub(super) waiters: HashMap<WaiterId, oneshot::Sender<Result<PooledConnection, PoolError>>>,
    interrupts: HashMap<ConnectionId, watch::Sender<bool>>,
    /// When the last interrupting clear interrupted connections in use.
    interrupted_at: Option<Instant>,
    /// The pool's measurements for the `metrics` facade (nothing without the feature).
    metrics: PoolMetrics,
}

impl Inner {
    /// When the in-use connections an interrupting clear interrupted are still out, how
    /// long since that clear.
    pub(super) fn interrupted_and_out(&self) -> Option<std::time::Duration> {
        let out = self.interrupts.values().any(|flag| *flag.borrow());
        self.interrupted_at.filter(|_| out).map(|at| at.elapsed())
    }
}

pub(super) struct Shared {
    /// This value's own Arc, for the tasks and connections that must not keep it alive.
    me: Weak<Shared>,
    pub(super) address: ServerAddress,
    pub(super) origin: Instant,
    factory: Arc<dyn ConnectionFactory>,
    events: Option<mpsc::UnboundedSender<CmapEvent>>,
    failures: Option<mpsc::UnboundedSender<BackgroundFailure>>,
    pub(super) wake_background: Arc<Notify>,
    inner: Mutex<Inner>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.wake_background.notify_one();
    }
}

impl Shared {
    /// The state of a new pool around `machine`.
    pub(super) fn new(
        address: ServerAddress,
        machine: PoolMachine,
        factory: Arc<dyn ConnectionFactory>,
        events: Option<mpsc::UnboundedSender<CmapEvent>>,
        failures: Option<mpsc::UnboundedSender<BackgroundFailure>>,
    ) -> Arc<Shared> {
        let options = machine.options();
        let metrics = PoolMetrics::new(&address, options.max_pool_size, options.min_pool_size);
        Arc::new_cyclic(|me| Shared {
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
                interrupted_at: None,
                metrics,
            }),
        })
    }

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
        self.input_with_cause_reported(cause, false, apply)
    }

    /// [`Shared::input_with_cause`]; `reported` says the cause already went to the cluster.
    fn input_with_cause_reported<T>(
        &self,
        cause: Option<(u32, ConnectionError)>,
        reported: bool,
        apply: impl FnOnce(&mut Inner, MonotonicTime) -> T,
    ) -> T {
        let mut inner = self.lock();
        let before = inner.machine.next_deadline();
        let now = self.now();
        let value = apply(&mut inner, now);
        let deliveries = self.carry_out(&mut inner, now, cause, reported);
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
        now: MonotonicTime,
        mut cause: Option<(u32, ConnectionError)>,
        reported: bool,
    ) -> Vec<Delivery> {
        let mut deliveries = Vec::new();
        while let Some(action) = inner.machine.poll_action() {
            match action {
                PoolAction::Emit(event) => {
                    inner.metrics.on_event(&event.kind, now);
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
                            pool.establishment_done(connection, outcome).await;
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
                        inner.interrupted_at = Some(Instant::now());
                    }
                }
            }
        }
        let machine = &inner.machine;
        let idle = machine.available_connection_count();
        let used = machine
            .total_connection_count()
            .saturating_sub(idle)
            .saturating_sub(machine.pending_connection_count());
        inner.metrics.counts(idle, used, inner.waiters.len());
        // An establishment failure no check-out was waiting for, not reported yet.
        if let (Some((generation, error)), Some(failures), false) =
            (cause, &self.failures, reported)
        {
            let _ = failures.send(BackgroundFailure {
                address: self.address.clone(),
                generation,
                error,
                applied: None,
            });
        }
        deliveries
    }

    async fn establishment_done(
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
                // SDAM handles the error first, so that a clear it causes comes before the
                // pool closes the connection ("Pool is cleared before connection is
                // closed"); a check-out waiting for the connection then fails with it.
                if let (Some(generation), Some(failures)) = (generation, &self.failures) {
                    let (applied, done) = tokio::sync::oneshot::channel();
                    let report = BackgroundFailure {
                        address: self.address.clone(),
                        generation,
                        error: error.clone(),
                        applied: Some(applied),
                    };
                    if failures.send(report).is_ok() {
                        // The cluster task answers at once; never wait on a stopped one.
                        let _ = tokio::time::timeout(REPORT_PATIENCE, done).await;
                    }
                }
                let cause = generation.map(|generation| (generation, error));
                self.input_with_cause_reported(cause, true, |inner, now| {
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

/// A checked-out connection: derefs to the [`Connection`], and goes back to its pool when
/// dropped (closed instead if [`PooledConnection::mark_broken`] was called, if the
/// connection broke or was left awaiting a reply, or if the pool was cleared or closed).
pub(crate) struct PooledConnection {
    pub(super) connection: Option<Connection>,
    pub(super) id: ConnectionId,
    pub(super) generation: u32,
    pub(super) healthy: bool,
    pub(super) interrupted: watch::Receiver<bool>,
    pub(super) pool: Weak<Shared>,
}

impl std::fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledConnection")
            .field("id", &self.id)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl PooledConnection {
    /// The pool's number for this connection (CMAP `connectionId`).
    pub(crate) fn pool_id(&self) -> ConnectionId {
        self.id
    }

    /// The pool generation this connection belongs to (for SDAM error handling).
    pub(crate) fn generation(&self) -> u32 {
        self.generation
    }

    /// Closes the connection instead of reusing it when it is dropped.
    pub(crate) fn mark_broken(&mut self) {
        self.healthy = false;
    }

    /// Whether a clear with interruptInUseConnections interrupted this connection.
    pub(crate) fn is_interrupted(&self) -> bool {
        *self.interrupted.borrow()
    }

    /// A watch that turns `true` when a clear with interruptInUseConnections interrupts
    /// this connection, for `select!`ing against an operation that borrows the connection.
    pub(crate) fn interruption(&self) -> watch::Receiver<bool> {
        self.interrupted.clone()
    }

    #[cfg(test)]
    /// Completes when a clear with interruptInUseConnections interrupts this connection;
    /// `select!` it against the operation to cancel the operation.
    pub(crate) async fn interrupted(&mut self) {
        if self.interrupted.wait_for(|flag| *flag).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Deref for PooledConnection {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.connection
            .as_ref()
            .expect("a pooled connection holds its connection until dropped")
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        self.connection
            .as_mut()
            .expect("a pooled connection holds its connection until dropped")
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        let (Some(socket), Some(pool)) = (self.connection.take(), self.pool.upgrade()) else {
            return;
        };
        let healthy = self.healthy
            && !socket.is_broken()
            && !socket.awaiting_reply()
            && !self.is_interrupted();
        pool.check_in(self.id, socket, healthy);
    }
}
