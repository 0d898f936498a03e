//! State shared by the deployment handle and every node and connection task: the world
//! behind its mutex, the nodes' runtime handles, and id counters.

use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::auth::UserStore;
use super::load_balancer::LoadBalancerState;
use super::spec::SimTimers;
use super::state::World;
use super::tls::SimTls;

/// A running listener: how to stop it and wait for it.
pub(crate) struct Listener {
    pub(crate) stop: oneshot::Sender<()>,
    pub(crate) task: JoinHandle<()>,
    /// Asks the listener to close every connection it accepted so far (and keep listening).
    pub(crate) drop_connections: std::sync::Arc<tokio::sync::Notify>,
}

/// Runtime handles of one node (outside the world mutex).
pub(crate) struct NodeRuntime {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Signals topologyVersion changes to waiting hellos.
    pub(crate) changes: watch::Sender<i64>,
    /// Signals any change a control operation made to the node's state (its faults, say),
    /// to connections waiting for one (a stalled TLS handshake).
    state_changes: watch::Sender<()>,
    pub(crate) listener: Mutex<Option<Listener>>,
}

impl NodeRuntime {
    /// A node listening on `host:port`, its listener not started yet.
    pub(crate) fn new(host: String, port: u16) -> NodeRuntime {
        NodeRuntime {
            host,
            port,
            changes: watch::channel(0).0,
            state_changes: watch::channel(()).0,
            listener: Mutex::new(None),
        }
    }

    /// A receiver woken by the next [`Self::state_changed`].
    pub(crate) fn subscribe_state_changes(&self) -> watch::Receiver<()> {
        self.state_changes.subscribe()
    }

    /// Wakes the connections waiting for a change of the node's state (call after changing
    /// it and releasing the world lock).
    pub(crate) fn state_changed(&self) {
        self.state_changes.send_replace(());
    }

    /// Records the node's running listener (replacing none: the previous one was stopped).
    pub(crate) fn set_listener(&self, listener: Listener) {
        *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(listener);
    }

    /// Asks the node's listener, if running, to close its established connections; whether
    /// it runs.
    pub(crate) fn drop_connections(&self) -> bool {
        let listener = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        match listener.as_ref() {
            Some(running) => {
                running.drop_connections.notify_one();
                true
            }
            None => false,
        }
    }

    /// Takes the node's running listener, if any.
    pub(crate) fn take_listener(&self) -> Option<Listener> {
        self.listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}

/// State shared by the deployment handle and every node task.
pub(crate) struct Shared {
    world: Mutex<World>,
    pub(crate) nodes: Vec<NodeRuntime>,
    pub(crate) timers: SimTimers,
    /// The deployment's users (none: authentication off).
    pub(crate) users: UserStore,
    /// The load balancer in front of the mongos nodes, if any.
    pub(crate) load_balancer: LoadBalancerState,
    /// TLS on every node, when set.
    pub(crate) tls: Option<SimTls>,
    request_ids: AtomicI32,
    connection_ids: AtomicI64,
    pub(crate) background: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    /// Shared state for `world` served by `nodes` (listeners not started yet).
    pub(crate) fn new(world: World, nodes: Vec<NodeRuntime>, timers: SimTimers) -> Shared {
        Shared {
            world: Mutex::new(world),
            nodes,
            timers,
            users: UserStore::default(),
            load_balancer: LoadBalancerState::default(),
            tls: None,
            request_ids: AtomicI32::new(1),
            connection_ids: AtomicI64::new(1),
            background: Mutex::new(Vec::new()),
        }
    }

    /// This shared state with `users`.
    pub(crate) fn with_users(mut self, users: UserStore) -> Shared {
        self.users = users;
        self
    }

    /// This shared state serving TLS with `tls`.
    pub(crate) fn with_tls(mut self, tls: Option<SimTls>) -> Shared {
        self.tls = tls;
        self
    }

    /// Locks the world. A poisoned lock (a panic elsewhere) still yields the data.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh requestID for a reply.
    pub(crate) fn next_request_id(&self) -> i32 {
        self.request_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh connection id.
    pub(crate) fn next_connection_id(&self) -> i64 {
        self.connection_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Wakes the awaitable hellos waiting on the given nodes (call after bumping their
    /// counters and releasing the world lock).
    pub(crate) fn notify(&self, bumped: &[(usize, i64)]) {
        for (idx, counter) in bumped {
            if let Some(node) = self.nodes.get(*idx) {
                node.changes.send_replace(*counter);
            }
        }
    }

    /// Stops node `idx`'s listener and closes all its connections; returns once they are closed.
    pub(crate) async fn stop_listener(&self, idx: usize) {
        let running = self.nodes.get(idx).and_then(NodeRuntime::take_listener);
        if let Some(Listener { stop, task, .. }) = running {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}
