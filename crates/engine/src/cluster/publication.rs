//! How the cluster task hands snapshots to every handle: the latest [`Snapshot`] sits in a
//! lock-free cell (`arc-swap`), so reading the topology takes no lock and copies nothing;
//! a `watch` channel of version numbers wakes whoever waits for the next one.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::address::ServerAddress;
use crate::connection::channel::Connection;
use crate::connection::error::ConnectionError;
use crate::pool::{Pool, PoolState};
use crate::sdam::TopologyDescription;

/// What the engine keeps for each server beside its description: the operations in
/// progress (which selection's power of two choices reads) and the connection pool.
#[derive(Debug)]
pub(crate) struct ServerRuntime {
    /// Operations in progress (counted by [`crate::SelectedServer`]s).
    pub(crate) in_flight: AtomicU64,
    /// The server's connection pool.
    pub(crate) pool: Pool,
    /// A warm-up connection waiting for the pool to become ready (see
    /// [`crate::ClusterSettings::warm_up`]).
    pub(crate) warm: std::sync::Mutex<Option<Connection>>,
    /// `true` while a warm-up connection is being established (so that the first
    /// check-out can wait for it rather than open another).
    pub(crate) warming: watch::Sender<bool>,
    /// Why the last pool connection nobody waited for failed (warm-up, minPoolSize), until
    /// the pool is ready again: the cause a check-out that saw the resulting clear reports.
    pub(crate) last_failure: std::sync::Mutex<Option<(u32, ConnectionError)>>,
}

impl ServerRuntime {
    /// Hands a waiting warm-up connection to the pool, if it is ready; called when the pool
    /// is marked ready, and by the warm-up task when its connection is established.
    pub(crate) fn offer_warm(&self, arrived: Option<Connection>) {
        let mut slot = self
            .warm
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let arrived_now = arrived.is_some();
        if let Some(connection) = arrived {
            *slot = Some(connection);
        }
        if self.pool.state() == PoolState::Ready {
            if let Some(connection) = slot.take() {
                // A full pool gives it back: dropping it closes it.
                let _ = self.pool.adopt(connection);
            }
        }
        if arrived_now {
            // After the adoption, so that a check-out woken by this finds the connection.
            self.warming.send_replace(false);
        }
    }

    /// Drops a waiting warm-up connection (the server is not data-bearing, or its pool was
    /// cleared).
    pub(crate) fn discard_warm(&self) {
        let mut slot = self
            .warm
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.take();
    }

    /// Remembers why a pool connection nobody waited for failed (see
    /// [`ServerRuntime::last_failure`]).
    pub(crate) fn remember_failure(&self, generation: u32, error: ConnectionError) {
        let mut last = self
            .last_failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *last = Some((generation, error));
    }

    /// Forgets the last background failure (the pool is ready again).
    pub(crate) fn forget_failure(&self) {
        let mut last = self
            .last_failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        last.take();
    }

    /// Waits, at most `patience`, for a warm-up connection still being established: the
    /// first operation on a server selected the moment its first check succeeded would
    /// otherwise open a second connection while the warm one is about to arrive.
    pub(crate) async fn await_warm_up(&self, patience: std::time::Duration) {
        let mut warming = self.warming.subscribe();
        let _ = tokio::time::timeout(patience, warming.wait_for(|busy| !*busy)).await;
    }
}

/// What the cluster publishes to every handle: the description, and each server's runtime.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    /// The current topology description.
    pub(crate) description: Arc<TopologyDescription>,
    /// Each monitored server's runtime; rebuilt only when servers are added or removed.
    pub(crate) servers: Arc<BTreeMap<ServerAddress, Arc<ServerRuntime>>>,
    /// Whether the cluster has been closed: no further snapshot will come.
    pub(crate) closed: bool,
}

/// The cluster task's side: stores a snapshot, then wakes the waiters.
#[derive(Debug)]
pub(crate) struct Publisher {
    cell: Arc<ArcSwap<Snapshot>>,
    versions: watch::Sender<u64>,
}

/// A handle's side: the latest snapshot at any time, and a wake-up on each new one.
#[derive(Clone, Debug)]
pub(crate) struct Subscription {
    cell: Arc<ArcSwap<Snapshot>>,
    versions: watch::Receiver<u64>,
}

impl Publisher {
    pub(crate) fn new(initial: Snapshot) -> (Publisher, Subscription) {
        let cell = Arc::new(ArcSwap::from_pointee(initial));
        let (versions, receiver) = watch::channel(0);
        let subscription = Subscription {
            cell: cell.clone(),
            versions: receiver,
        };
        (Publisher { cell, versions }, subscription)
    }

    /// The snapshot last published.
    pub(crate) fn current(&self) -> Arc<Snapshot> {
        self.cell.load_full()
    }

    /// Publishes `snapshot`: stored first, so that anyone woken reads it (or a newer one).
    pub(crate) fn publish(&self, snapshot: Snapshot) {
        self.cell.store(Arc::new(snapshot));
        self.versions
            .send_modify(|version| *version = version.wrapping_add(1));
    }
}

impl Subscription {
    /// The latest snapshot, without a lock.
    pub(crate) fn latest(&self) -> Arc<Snapshot> {
        self.cell.load_full()
    }

    /// The latest snapshot, marking it seen: [`Subscription::changed`] then waits for a
    /// newer one.
    pub(crate) fn latest_seen(&mut self) -> Arc<Snapshot> {
        self.versions.borrow_and_update();
        self.cell.load_full()
    }

    /// Waits for a snapshot newer than the last one seen; an error once the cluster task
    /// is gone (after its last, closed, snapshot).
    pub(crate) async fn changed(&mut self) -> Result<(), watch::error::RecvError> {
        self.versions.changed().await
    }

    /// Whether the cluster task has gone.
    pub(crate) fn publisher_gone(&self) -> bool {
        self.versions.has_changed().is_err()
    }
}
