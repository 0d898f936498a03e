//! [`Pool`]: the async connection pool, a thin tokio wrapper around [`PoolMachine`].
//!
//! One mutex guards the machine and the connections it does not lend out. Every input locks
//! it, feeds the machine, carries out the resulting actions, and delivers check-out results
//! after unlocking (a delivered [`PooledConnection`] that nobody takes checks itself in, which
//! locks again). Connections are established by spawned tasks through a
//! [`ConnectionFactory`]; a background task wakes at the machine's next deadline (wait queue
//! timeouts, idle expiry) and after a clear, and stops when the last [`Pool`] handle is
//! dropped. Events go, in order, to an unbounded channel.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::connection::channel::Connection;
use crate::ServerAddress;

use super::background::background;
use super::shared::{PooledConnection, Shared};
use super::{
    BackgroundFailure, CheckOutError, CmapEvent, ConnectionFactory, PoolError, PoolMachine,
    PoolOptions, PoolOptionsError, PoolState, WaiterId,
};

/// A connection pool for one server (see the module documentation). Cloning gives another
/// handle to the same pool. Must be created inside a tokio runtime.
#[derive(Clone)]
pub(crate) struct Pool {
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
    #[cfg(test)]
    /// A paused pool for `address` (mark it ready with [`Pool::ready`]); events, starting
    /// with PoolCreated, go to `events` if given.
    pub(crate) fn new(
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
    pub(crate) fn with_failure_reports(
        address: ServerAddress,
        options: PoolOptions,
        factory: Arc<dyn ConnectionFactory>,
        events: Option<mpsc::UnboundedSender<CmapEvent>>,
        failures: Option<mpsc::UnboundedSender<BackgroundFailure>>,
    ) -> Result<Pool, PoolOptionsError> {
        let machine = PoolMachine::new(address.clone(), options)?;
        let shared = Shared::new(address, machine, factory, events, failures);
        shared.input(|_, _| ());
        tokio::spawn(background(
            Arc::downgrade(&shared),
            shared.wake_background.clone(),
        ));
        Ok(Pool { shared })
    }

    /// The pool generation (one more per clear).
    pub(crate) fn generation(&self) -> u32 {
        self.shared.lock().machine.generation()
    }

    /// Paused, ready or closed.
    pub(crate) fn state(&self) -> PoolState {
        self.shared.lock().machine.state()
    }

    #[cfg(test)]
    /// CMAP `totalConnectionCount`.
    pub(crate) fn total_connection_count(&self) -> usize {
        self.shared.lock().machine.total_connection_count()
    }

    #[cfg(test)]
    /// CMAP `availableConnectionCount`.
    pub(crate) fn available_connection_count(&self) -> usize {
        self.shared.lock().machine.available_connection_count()
    }

    /// Checks out a connection: an available one, or a new one, waiting in a fair queue for
    /// at most waitQueueTimeoutMS. Dropping the future leaves the queue.
    pub(crate) async fn check_out(&self) -> Result<PooledConnection, PoolError> {
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
    pub(crate) fn clear(&self, interrupt_in_use_connections: bool) {
        self.shared.input(|inner, now| {
            inner.machine.clear(interrupt_in_use_connections, now);
        });
        // Stale available connections are closed by the next background run.
        self.shared.wake_background.notify_one();
    }

    /// Load-balanced mode: clears the connections of one service (see
    /// [`PoolMachine::clear_service`]); the pool stays ready.
    pub(crate) fn clear_service(&self, service_id: bson::oid::ObjectId) {
        self.shared
            .input(|inner, now| inner.machine.clear_service(service_id, now));
    }

    /// CMAP `ready`: a paused pool starts serving check-outs and filling to minPoolSize.
    pub(crate) fn ready(&self) {
        self.shared.input(|inner, now| inner.machine.ready(now));
    }

    /// Offers the pool a connection established outside it (see [`PoolMachine::adopt`]):
    /// taken when the pool is ready and has room, else given back (`Some`) for the caller to
    /// drop.
    #[must_use = "a connection the pool refused is given back"]
    pub(crate) fn adopt(&self, connection: Connection) -> Option<Connection> {
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
    pub(crate) fn close(&self) {
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
