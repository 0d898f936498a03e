//! A running deployment: its nodes' listeners, the shared world, and lifecycle.

use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::node::run_listener;
use super::oplog::OpLog;
use super::spec::{DeploymentSpec, SimTimers, TopologySpec};
use super::state::{MemberConfig, NodeKind, NodeState, SetState, World};
use super::SimError;

/// A running listener: how to stop it and wait for it.
pub(crate) struct Listener {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Runtime handles of one node (outside the world mutex).
pub(crate) struct NodeRuntime {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Signals topologyVersion changes to waiting hellos.
    pub(crate) changes: watch::Sender<i64>,
    pub(crate) listener: Mutex<Option<Listener>>,
}

/// State shared by the deployment handle and every node task.
pub(crate) struct Shared {
    world: Mutex<World>,
    pub(crate) nodes: Vec<NodeRuntime>,
    pub(crate) timers: SimTimers,
    request_ids: AtomicI32,
    connection_ids: AtomicI64,
    pub(crate) background: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
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

    /// Binds node `idx`'s port and starts its listener task.
    pub(crate) async fn start_listener(self: &Arc<Self>, idx: usize) -> Result<(), SimError> {
        let node = self
            .nodes
            .get(idx)
            .ok_or(SimError::NoSuchMember(idx.to_string()))?;
        let listener = TcpListener::bind((node.host.as_str(), node.port))
            .await
            .map_err(|source| SimError::Bind {
                address: format!("{}:{}", node.host, node.port),
                source,
            })?;
        self.spawn_listener(idx, listener);
        Ok(())
    }

    fn spawn_listener(self: &Arc<Self>, idx: usize, listener: TcpListener) {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run_listener(Arc::clone(self), idx, listener, stopped));
        if let Some(node) = self.nodes.get(idx) {
            let mut slot = node.listener.lock().unwrap_or_else(|p| p.into_inner());
            *slot = Some(Listener { stop, task });
        }
    }

    /// Stops node `idx`'s listener and closes all its connections; returns once they are closed.
    pub(crate) async fn stop_listener(&self, idx: usize) {
        let running = self
            .nodes
            .get(idx)
            .and_then(|n| n.listener.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(Listener { stop, task }) = running {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}

/// A simulated deployment running on loopback. Dropping it aborts every node task;
/// [`Deployment::shutdown`] stops them and waits until every socket is closed.
pub struct Deployment {
    pub(crate) shared: Arc<Shared>,
}

impl Deployment {
    /// Binds every node's port and starts serving. Must be called inside a tokio runtime.
    pub async fn start(spec: DeploymentSpec) -> Result<Deployment, SimError> {
        let count = match &spec.topology {
            TopologySpec::ReplicaSet { members, .. } => members.len(),
            TopologySpec::Sharded { count } => *count,
            TopologySpec::Standalone => 1,
        };
        if count == 0 {
            return Err(SimError::InvalidRequest(
                "a deployment needs at least one node".into(),
            ));
        }
        // Bind first, so OS-chosen ports (base 0) are known before the world is built.
        let mut listeners = Vec::with_capacity(count);
        for i in 0..count {
            let port = if spec.base_port == 0 {
                0
            } else {
                u16::try_from(usize::from(spec.base_port) + i).map_err(|_| {
                    SimError::InvalidRequest(format!("port {} + {i} exceeds 65535", spec.base_port))
                })?
            };
            let listener = TcpListener::bind((spec.host.as_str(), port))
                .await
                .map_err(|source| SimError::Bind {
                    address: format!("{}:{port}", spec.host),
                    source,
                })?;
            let port = listener.local_addr().map_err(|source| SimError::Bind {
                address: format!("{}:{port}", spec.host),
                source,
            })?;
            listeners.push((listener, port.port()));
        }
        let world = build_world(
            &spec,
            &listeners.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
        );
        let nodes = listeners
            .iter()
            .map(|(_, port)| NodeRuntime {
                host: spec.host.clone(),
                port: *port,
                changes: watch::channel(0).0,
                listener: Mutex::new(None),
            })
            .collect();
        let shared = Arc::new(Shared {
            world: Mutex::new(world),
            nodes,
            timers: spec.timers,
            request_ids: AtomicI32::new(1),
            connection_ids: AtomicI64::new(1),
            background: Mutex::new(Vec::new()),
        });
        for (idx, (listener, _)) in listeners.into_iter().enumerate() {
            shared.spawn_listener(idx, listener);
        }
        Ok(Deployment { shared })
    }

    /// The advertised "host:port" of every node, in port order.
    pub fn addresses(&self) -> Vec<String> {
        self.shared
            .world()
            .nodes
            .iter()
            .map(|n| n.address.clone())
            .collect()
    }

    /// The port of every node, in order.
    pub fn ports(&self) -> Vec<u16> {
        self.shared.nodes.iter().map(|n| n.port).collect()
    }

    /// A connection string for the deployment: every visible member and `replicaSet=` for
    /// a replica set, every mongos for a sharded cluster, the server for a standalone.
    pub fn connection_string(&self) -> String {
        let world = self.shared.world();
        let seeds: Vec<&str> = world
            .nodes
            .iter()
            .filter(|n| match (&n.kind, &n.config) {
                (NodeKind::Member, Some(c)) => n.in_config && !c.hidden,
                _ => true,
            })
            .map(|n| n.address.as_str())
            .collect();
        match &world.set {
            Some(set) => format!("mongodb://{}/?replicaSet={}", seeds.join(","), set.name),
            None => format!("mongodb://{}/", seeds.join(",")),
        }
    }

    /// A snapshot of the simulated world (for tests and `status`).
    pub fn snapshot(&self) -> World {
        self.shared.world().clone()
    }

    /// Stops every node, closes every connection, and waits for all tasks to finish.
    pub async fn shutdown(self) {
        let handles: Vec<JoinHandle<()>> = std::mem::take(
            &mut *self
                .shared
                .background
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for h in handles {
            h.abort();
        }
        for idx in 0..self.shared.nodes.len() {
            self.shared.stop_listener(idx).await;
        }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for h in self
            .shared
            .background
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            h.abort();
        }
        for node in &self.shared.nodes {
            if let Some(l) = node
                .listener
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
            {
                l.task.abort();
            }
        }
    }
}

fn build_world(spec: &DeploymentSpec, ports: &[u16]) -> World {
    let now = SystemTime::now();
    let address = |i: usize| {
        format!(
            "{}:{}",
            spec.host,
            ports.get(i).copied().unwrap_or_default()
        )
    };
    match &spec.topology {
        TopologySpec::ReplicaSet { name, members } => {
            let mut nodes = Vec::with_capacity(members.len());
            for (i, m) in members.iter().enumerate() {
                let mut node = NodeState::new(address(i), NodeKind::Member, Some(m.config.clone()));
                node.in_config = !m.spare;
                node.recovering = m.recovering;
                node.lag = m.lag;
                nodes.push(node);
            }
            let primary = nodes.iter().position(|n| {
                n.in_config
                    && !n.recovering
                    && n.config.as_ref().is_some_and(MemberConfig::electable)
            });
            let set = SetState {
                name: name.clone(),
                set_version: 1,
                term: 1,
                primary,
                oplog: OpLog::new(now, 1, spec.timers.idle_write_period, primary.is_some()),
            };
            World {
                version: spec.version,
                nodes,
                set: Some(set),
            }
        }
        TopologySpec::Sharded { count } => World {
            version: spec.version,
            nodes: (0..*count)
                .map(|i| NodeState::new(address(i), NodeKind::Mongos, None))
                .collect(),
            set: None,
        },
        TopologySpec::Standalone => World {
            version: spec.version,
            nodes: vec![NodeState::new(address(0), NodeKind::Standalone, None)],
            set: None,
        },
    }
}
