//! A running deployment: its nodes' listeners, the shared world, and lifecycle.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::auth::{AuthCounts, UserStore};
use super::load_balancer::{self, LoadBalancerCounts};
use super::node::spawn_listener;
use super::oplog::OpLog;
use super::shared::{NodeRuntime, Shared};
use super::spec::{DeploymentSpec, TopologySpec};
use super::state::{MemberConfig, NodeKind, NodeState, SetState, World};
use super::SimError;

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
        let sharded = matches!(spec.topology, TopologySpec::Sharded { .. });
        if spec.load_balancer.is_some() && sharded == spec.load_balancer_in_front_of_members {
            return Err(SimError::InvalidRequest(
                if sharded {
                    "a load balancer in front of members needs a replica set or a standalone"
                } else {
                    "only mongos nodes can stand behind a load balancer (a replica set behind \
                     one is staged with with_load_balancer_in_front_of_members)"
                }
                .into(),
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
            .map(|(_, port)| NodeRuntime::new(spec.host.clone(), *port))
            .collect();
        let users = UserStore::new(&spec.users)
            .with_x509_users(&spec.x509_users)
            .with_mechanisms(spec.scram_mechanisms.clone());
        let shared = Arc::new(
            Shared::new(world, nodes, spec.timers)
                .with_users(users)
                .with_tls(spec.tls.clone()),
        );
        for (idx, (listener, _)) in listeners.into_iter().enumerate() {
            spawn_listener(&shared, idx, listener);
        }
        if let Some(port) = spec.load_balancer {
            let front = load_balancer::start(&shared, &spec.host, port).await?;
            shared
                .background
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(front);
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

    /// The "host:port" every node listens on, in port order (the advertised addresses
    /// differ when members advertise other names).
    pub fn listening_addresses(&self) -> Vec<String> {
        self.shared
            .nodes
            .iter()
            .map(|n| format!("{}:{}", n.host, n.port))
            .collect()
    }

    /// The port of every node, in order.
    pub fn ports(&self) -> Vec<u16> {
        self.shared.nodes.iter().map(|n| n.port).collect()
    }

    /// A connection string for the deployment: every visible member and `replicaSet=` for
    /// a replica set, every mongos for a sharded cluster, the server for a standalone;
    /// `tls=true` when the deployment serves TLS (clients add their `tlsCAFile`). The
    /// seeds are the listening addresses, which the members advertise unless told
    /// otherwise ([`crate::MemberSpec::advertised_as`]).
    pub fn connection_string(&self) -> String {
        let world = self.shared.world();
        let seeds: Vec<String> = world
            .nodes
            .iter()
            .zip(&self.shared.nodes)
            .filter(|(n, _)| match (&n.kind, &n.config) {
                (NodeKind::Member, Some(c)) => n.in_config && !c.hidden,
                _ => true,
            })
            .map(|(_, runtime)| format!("{}:{}", runtime.host, runtime.port))
            .collect();
        let tls = if self.shared.tls.is_some() {
            "tls=true"
        } else {
            ""
        };
        match (&world.set, tls) {
            (Some(set), "") => format!("mongodb://{}/?replicaSet={}", seeds.join(","), set.name),
            (Some(set), tls) => format!(
                "mongodb://{}/?replicaSet={}&{tls}",
                seeds.join(","),
                set.name
            ),
            (None, "") => format!("mongodb://{}/", seeds.join(",")),
            (None, tls) => format!("mongodb://{}/?{tls}", seeds.join(",")),
        }
    }

    /// The load balancer's "host:port", when the deployment has one.
    pub fn load_balancer_address(&self) -> Option<String> {
        self.shared.load_balancer.address().map(str::to_owned)
    }

    /// A connection string through the load balancer (`loadBalanced=true`), when the
    /// deployment has one.
    pub fn load_balancer_connection_string(&self) -> Option<String> {
        self.load_balancer_address()
            .map(|address| format!("mongodb://{address}/?loadBalanced=true"))
    }

    /// What went through the load balancer so far (zero without one).
    pub fn load_balancer_counts(&self) -> LoadBalancerCounts {
        self.shared.load_balancer.counts()
    }

    /// How many SASL steps the nodes served so far (all nodes together).
    pub fn auth_counts(&self) -> AuthCounts {
        self.shared.users.counts()
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
            if let Some(listener) = node.take_listener() {
                listener.task.abort();
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
                let advertised = match &m.advertise {
                    Some(name) => {
                        crate::staging::with_port(name, ports.get(i).copied().unwrap_or_default())
                    }
                    None => address(i),
                };
                let mut config = m.config.clone();
                let port = ports.get(i).copied().unwrap_or_default();
                for address in config.horizons.values_mut() {
                    *address = crate::staging::with_port(address, port);
                }
                let mut node = NodeState::new(advertised, NodeKind::Member, Some(config));
                node.in_config = !m.spare;
                node.recovering = m.recovering;
                node.lag = m.lag;
                node.version = m.version;
                node.startup = m.startup;
                nodes.push(node);
            }
            let primary = nodes.iter().position(|n| {
                n.in_config
                    && !n.recovering
                    && n.startup.is_none()
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
                data: Default::default(),
                fail_points: Default::default(),
            }
        }
        TopologySpec::Sharded { count } => World {
            version: spec.version,
            nodes: (0..*count)
                .map(|i| NodeState::new(address(i), NodeKind::Mongos, None))
                .collect(),
            set: None,
            data: Default::default(),
            fail_points: Default::default(),
        },
        TopologySpec::Standalone => World {
            version: spec.version,
            nodes: vec![NodeState::new(address(0), NodeKind::Standalone, None)],
            set: None,
            data: Default::default(),
            fail_points: Default::default(),
        },
    }
}
