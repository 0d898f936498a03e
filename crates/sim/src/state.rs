//! The simulated world: every node's state and the replica set's shared state. Guarded by
//! one mutex in the deployment; nothing here performs I/O or sleeps.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use bson::oid::ObjectId;

use super::faults::Faults;
use super::oplog::{OpLog, OpTime};
use super::versions::ServerVersion;

/// What kind of server a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A replica set member (`mongod --replSet`).
    Member,
    /// A sharded cluster router.
    Mongos,
    /// A mongod without replication.
    Standalone,
}

/// A member's replica set configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberConfig {
    /// Votes but holds no data.
    pub arbiter: bool,
    /// Invisible to clients (priority 0).
    pub hidden: bool,
    /// Election priority; 0 makes the member passive.
    pub priority: f64,
    /// Replica set tags.
    pub tags: BTreeMap<String, String>,
    /// secondaryDelaySecs (slaveDelay before 5.0).
    pub secondary_delay: Duration,
    /// Split horizons: horizon name → the "host:port" this member is known by there
    /// (answered to clients whose TLS SNI names that horizon's host; see `horizons.rs`).
    pub horizons: BTreeMap<String, String>,
}

impl MemberConfig {
    /// An ordinary electable data-bearing member.
    pub fn data() -> MemberConfig {
        MemberConfig {
            arbiter: false,
            hidden: false,
            priority: 1.0,
            tags: BTreeMap::new(),
            secondary_delay: Duration::ZERO,
            horizons: BTreeMap::new(),
        }
    }

    /// Whether the member can ever become primary.
    pub fn electable(&self) -> bool {
        !self.arbiter && !self.hidden && self.priority > 0.0 && self.secondary_delay.is_zero()
    }

    /// Whether the member is listed in `passives` (priority 0, not hidden, not an arbiter).
    pub fn passive(&self) -> bool {
        !self.arbiter && !self.hidden && self.priority <= 0.0
    }
}

/// The startup states of a member (replSetGetStatus `STARTUP`, `STARTUP2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartupPhase {
    /// STARTUP (state 0): the member has not loaded a replica set config yet; its hello
    /// says "Does not have a valid replica set config" (RSGhost to a client).
    Startup,
    /// STARTUP2 (state 5): initial sync; its hello names the set but it is neither
    /// primary nor secondary (RSOther to a client).
    Startup2,
}

/// One node's state.
#[derive(Debug, Clone)]
pub struct NodeState {
    /// "host:port" advertised in `me`, `hosts`, etc.
    pub address: String,
    /// Server kind.
    pub kind: NodeKind,
    /// Replica set configuration (members only).
    pub config: Option<MemberConfig>,
    /// Whether the member is in the current replica set config (false: RSGhost).
    pub in_config: bool,
    /// Removed from the config by a reconfig (state REMOVED), as opposed to never having
    /// been in one.
    pub removed: bool,
    /// Member in RECOVERING (RSOther).
    pub recovering: bool,
    /// topologyVersion.processId, new at each (re)start.
    pub process_id: ObjectId,
    /// topologyVersion.counter.
    pub tv_counter: i64,
    /// The `serviceId` a mongos behind a load balancer reports, new at each (re)start.
    pub service_id: ObjectId,
    /// The listener runs (false after `kill`).
    pub alive: bool,
    /// Accepts connections but never answers.
    pub frozen: bool,
    /// Added before every reply.
    pub latency: Duration,
    /// Replication lag behind the primary (members only).
    pub lag: Duration,
    /// Injected faults.
    pub faults: Faults,
    /// This node's server version when it differs from the deployment's (a mixed-version
    /// set, as during a rolling upgrade).
    pub version: Option<ServerVersion>,
    /// A startup state (STARTUP, STARTUP2), overriding the member's role.
    pub startup: Option<StartupPhase>,
    /// The term this member still claims to be primary in, whatever the set elected (a
    /// stale primary cut off from the majority, as in a network partition).
    pub claimed_term: Option<i64>,
}

impl NodeState {
    /// A fresh node at `address`.
    pub fn new(address: String, kind: NodeKind, config: Option<MemberConfig>) -> NodeState {
        NodeState {
            address,
            kind,
            config,
            in_config: kind == NodeKind::Member,
            removed: false,
            recovering: false,
            process_id: ObjectId::new(),
            tv_counter: 0,
            service_id: ObjectId::new(),
            alive: true,
            frozen: false,
            latency: Duration::ZERO,
            lag: Duration::ZERO,
            faults: Faults::default(),
            version: None,
            startup: None,
            claimed_term: None,
        }
    }

    /// Whether this member is an arbiter.
    pub fn is_arbiter(&self) -> bool {
        self.config.as_ref().is_some_and(|c| c.arbiter)
    }
}

/// Replica set-wide state.
#[derive(Debug, Clone)]
pub struct SetState {
    /// The set name.
    pub name: String,
    /// Config version, +1 on each reconfig.
    pub set_version: i64,
    /// Election term, +1 on each election.
    pub term: i64,
    /// Index of the primary node, if any.
    pub primary: Option<usize>,
    /// The write history.
    pub oplog: OpLog,
}

/// The electionId a primary reports for `term` (as real servers build it).
pub fn election_id(term: i64) -> ObjectId {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
    bytes[4..].copy_from_slice(&term.to_be_bytes());
    ObjectId::from_bytes(bytes)
}

/// Everything the nodes of one deployment share.
#[derive(Debug, Clone)]
pub struct World {
    /// Emulated server version.
    pub version: ServerVersion,
    /// Every node, in port order.
    pub nodes: Vec<NodeState>,
    /// Replica set state, for replica set deployments.
    pub set: Option<SetState>,
    /// The documents clients stored, per database and collection.
    pub data: crate::crud::Store,
    /// The `failCommand` fail points armed by `configureFailPoint`.
    pub fail_points: crate::fail_point::FailPoints,
}

impl World {
    /// The node at `idx`, if any.
    pub fn node(&self, idx: usize) -> Option<&NodeState> {
        self.nodes.get(idx)
    }

    /// The server version node `idx` runs: its own, else the deployment's.
    pub fn version_of(&self, idx: usize) -> ServerVersion {
        self.node(idx)
            .and_then(|n| n.version)
            .unwrap_or(self.version)
    }

    /// Whether node `idx` says it is primary: the set's primary, or a member still
    /// claiming an older term ([`NodeState::claimed_term`]).
    pub fn claims_primary(&self, idx: usize) -> bool {
        self.is_primary(idx) || self.node(idx).is_some_and(|n| n.claimed_term.is_some())
    }

    /// Whether node `idx` is the current primary.
    pub fn is_primary(&self, idx: usize) -> bool {
        self.set.as_ref().and_then(|s| s.primary) == Some(idx)
    }

    /// Whether node `idx` is a secondary (in config, data-bearing, not primary/recovering).
    pub fn is_secondary(&self, idx: usize) -> bool {
        match self.node(idx) {
            Some(n) => {
                n.kind == NodeKind::Member
                    && n.in_config
                    && !n.recovering
                    && n.startup.is_none()
                    && !n.is_arbiter()
                    && !self.claims_primary(idx)
                    && self.set.is_some()
            }
            None => false,
        }
    }

    /// Whether node `idx` accepts writes (primary, mongos or standalone).
    pub fn is_writable(&self, idx: usize) -> bool {
        match self.node(idx).map(|n| n.kind) {
            Some(NodeKind::Member) => self.claims_primary(idx),
            Some(_) => true,
            None => false,
        }
    }

    /// The replica set members that count for the majority commit point: alive,
    /// in config, data-bearing.
    fn majority_lag(&self) -> Duration {
        let mut lags: Vec<Duration> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                n.kind == NodeKind::Member && n.in_config && n.alive && !n.is_arbiter()
            })
            .map(|(i, n)| {
                if self.is_primary(i) {
                    Duration::ZERO
                } else {
                    n.lag
                        + n.config
                            .as_ref()
                            .map(|c| c.secondary_delay)
                            .unwrap_or_default()
                }
            })
            .collect();
        lags.sort();
        let voting = lags.len();
        lags.get(voting / 2).copied().unwrap_or_default()
    }

    /// The lastWrite optime of node `idx` and the majority optime it knows, at `now`.
    pub fn last_write(&self, idx: usize, now: SystemTime) -> Option<(OpTime, OpTime)> {
        let set = self.set.as_ref()?;
        let node = self.node(idx)?;
        if node.kind != NodeKind::Member
            || node.is_arbiter()
            || !node.in_config
            || node.startup == Some(StartupPhase::Startup)
        {
            return None;
        }
        let behind = if self.is_primary(idx) {
            Duration::ZERO
        } else {
            node.lag
                + node
                    .config
                    .as_ref()
                    .map(|c| c.secondary_delay)
                    .unwrap_or_default()
        };
        let own = set.oplog.at(now.checked_sub(behind).unwrap_or(now));
        let majority_at = now.checked_sub(self.majority_lag()).unwrap_or(now);
        let mut majority = set.oplog.at(majority_at);
        if majority.ts > own.ts {
            majority = own;
        }
        Some((own, majority))
    }

    /// Increments the topologyVersion counter of node `idx`; returns the new counter.
    pub fn bump(&mut self, idx: usize) -> Option<i64> {
        let node = self.nodes.get_mut(idx)?;
        node.tv_counter += 1;
        Some(node.tv_counter)
    }
}
