//! Control operations on a running deployment (the Rust API behind the text commands).
//! Every change of what a node's hello says increments its topologyVersion counter and
//! wakes its waiting hellos at once.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::control::{ControlCommand, MemberRef};
use super::deployment::Deployment;
use super::election::{bump_members, check_electable, finish_election, not_a_replica_set};
use super::faults::FaultKind;
use super::node::start_listener;
use super::shared::Shared;
use super::state::NodeKind;
use super::status::member_state;
use super::SimError;

impl Deployment {
    /// Runs one control command; `Ok` carries a short human-readable result
    /// (empty except for `status`).
    pub async fn control(&self, command: ControlCommand) -> Result<String, SimError> {
        match command {
            ControlCommand::Stepdown => self.stepdown().map(|_| String::new()),
            ControlCommand::Elect(m) => self.elect(&m).map(|_| String::new()),
            ControlCommand::Kill(m) => self.kill(&m).await.map(|_| String::new()),
            ControlCommand::Restart(m) => self.restart(&m).await.map(|_| String::new()),
            ControlCommand::Freeze(m) => self.set_frozen(&m, true).map(|_| String::new()),
            ControlCommand::Thaw(m) => self.set_frozen(&m, false).map(|_| String::new()),
            ControlCommand::Latency(m, d) => self.set_latency(&m, d).map(|_| String::new()),
            ControlCommand::Lag(m, d) => self.set_lag(&m, d).map(|_| String::new()),
            ControlCommand::Fault(m, kind) => self.fault(&m, kind).map(|_| String::new()),
            ControlCommand::DropConnections(m) => self.drop_connections(&m).map(|_| String::new()),
            ControlCommand::Reconfig(add, m) => self.reconfig(add, &m).map(|_| String::new()),
            ControlCommand::Recovering(m, on) => self.set_recovering(&m, on).map(|_| String::new()),
            ControlCommand::Status => Ok(self.status()),
            staged => self.control_staged(staged),
        }
    }

    /// The index of the node `member` designates.
    pub fn resolve(&self, member: &MemberRef) -> Result<usize, SimError> {
        resolve(&self.shared, member)
    }

    /// The primary steps down: the set has no primary until [`Deployment::elect`].
    pub fn stepdown(&self) -> Result<(), SimError> {
        let bumped = {
            let mut world = self.shared.world();
            let set = world.set.as_mut().ok_or_else(not_a_replica_set)?;
            if set.primary.take().is_none() {
                return Err(SimError::InvalidRequest(
                    "there is no primary to step down".into(),
                ));
            }
            set.oplog.primary_lost(SystemTime::now());
            bump_members(&mut world)
        };
        self.shared.notify(&bumped);
        Ok(())
    }

    /// Elects `member` primary with a new term and electionId. The current primary steps
    /// down at once; with an election delay the new primary appears after it.
    pub fn elect(&self, member: &MemberRef) -> Result<(), SimError> {
        let idx = self.resolve(member)?;
        let bumped = {
            let mut world = self.shared.world();
            check_electable(&world, idx)?;
            let delay = self.shared.timers.election_delay;
            if delay.is_zero() {
                finish_election(&mut world, idx)
            } else {
                let set = world.set.as_mut().ok_or_else(not_a_replica_set)?;
                if set.primary.take().is_some() {
                    set.oplog.primary_lost(SystemTime::now());
                }
                let bumped = bump_members(&mut world);
                let shared = Arc::clone(&self.shared);
                let task = tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let bumped = {
                        let mut world = shared.world();
                        match check_electable(&world, idx) {
                            Ok(()) => finish_election(&mut world, idx),
                            Err(e) => {
                                tracing::warn!("election of node {idx} abandoned: {e}");
                                Vec::new()
                            }
                        }
                    };
                    shared.notify(&bumped);
                });
                let mut background = self
                    .shared
                    .background
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                background.retain(|h| !h.is_finished());
                background.push(task);
                bumped
            }
        };
        self.shared.notify(&bumped);
        Ok(())
    }

    /// Closes the member's listener and every connection to it. A killed primary leaves
    /// the set without a primary.
    pub async fn kill(&self, member: &MemberRef) -> Result<(), SimError> {
        let idx = self.resolve(member)?;
        if !self.shared.world().node(idx).is_some_and(|n| n.alive) {
            return Err(SimError::InvalidRequest(format!("{member} is not running")));
        }
        self.shared.stop_listener(idx).await;
        let bumped = {
            let mut world = self.shared.world();
            if let Some(node) = world.nodes.get_mut(idx) {
                node.alive = false;
            }
            let was_primary = world.is_primary(idx);
            match world.set.as_mut() {
                Some(set) if was_primary => {
                    set.primary = None;
                    set.oplog.primary_lost(SystemTime::now());
                    bump_members(&mut world)
                }
                _ => Vec::new(),
            }
        };
        self.shared.notify(&bumped);
        Ok(())
    }

    /// Restarts a killed member on its port with a new processId; members come back as
    /// secondaries.
    pub async fn restart(&self, member: &MemberRef) -> Result<(), SimError> {
        let idx = self.resolve(member)?;
        if self.shared.world().node(idx).is_some_and(|n| n.alive) {
            return Err(SimError::InvalidRequest(format!(
                "{member} is already running"
            )));
        }
        start_listener(&self.shared, idx).await?;
        let bumped = {
            let mut world = self.shared.world();
            if let Some(node) = world.nodes.get_mut(idx) {
                node.alive = true;
                node.frozen = false;
                node.process_id = bson::oid::ObjectId::new();
                node.service_id = bson::oid::ObjectId::new();
                node.tv_counter = 0;
                // A stale primary restarts as a secondary of the set it rejoins.
                node.claimed_term = None;
            }
            vec![(idx, 0)]
        };
        self.shared.notify(&bumped);
        Ok(())
    }

    /// Freezes (accepts connections, never answers) or thaws a member.
    pub fn set_frozen(&self, member: &MemberRef, frozen: bool) -> Result<(), SimError> {
        self.update_node(member, false, |n| n.frozen = frozen)
    }

    /// Sets the delay added before every reply of a member.
    pub fn set_latency(&self, member: &MemberRef, latency: Duration) -> Result<(), SimError> {
        self.update_node(member, false, |n| n.latency = latency)
    }

    /// Sets a member's replication lag behind the primary.
    pub fn set_lag(&self, member: &MemberRef, lag: Duration) -> Result<(), SimError> {
        let idx = self.resolve(member)?;
        if self.shared.world().node(idx).map(|n| n.kind) != Some(NodeKind::Member) {
            return Err(SimError::InvalidRequest(format!(
                "{member} is not a replica set member"
            )));
        }
        self.update_node(member, false, |n| n.lag = lag)
    }

    /// Arms (or clears) a fault on a member.
    pub fn fault(&self, member: &MemberRef, kind: FaultKind) -> Result<(), SimError> {
        let changes_hello = matches!(kind, FaultKind::WrongSetName | FaultKind::Clear);
        self.update_node(member, changes_hello, |n| n.faults.arm(kind))
    }

    /// Closes every connection established to a member, which keeps listening (clients
    /// reconnect, meeting whatever fault is armed, e.g. `stall-tls-handshake`). The
    /// connections close shortly after this returns, in the member's listener task.
    pub fn drop_connections(&self, member: &MemberRef) -> Result<(), SimError> {
        let idx = self.resolve(member)?;
        let running = self
            .shared
            .nodes
            .get(idx)
            .is_some_and(|n| n.drop_connections());
        if running {
            Ok(())
        } else {
            Err(SimError::InvalidRequest(format!("{member} is not running")))
        }
    }

    /// Puts a member in RECOVERING (RSOther) or back to SECONDARY.
    pub fn set_recovering(&self, member: &MemberRef, on: bool) -> Result<(), SimError> {
        let idx = self.resolve(member)?;
        let world = self.shared.world();
        if world.node(idx).map(|n| n.kind) != Some(NodeKind::Member) {
            return Err(SimError::InvalidRequest(format!(
                "{member} is not a replica set member"
            )));
        }
        if world.is_primary(idx) {
            return Err(SimError::InvalidRequest(format!(
                "{member} is primary: step it down first"
            )));
        }
        drop(world);
        self.update_node(member, true, |n| n.recovering = on)
    }

    /// Adds a member to the replica set config or removes it (setVersion+1).
    pub fn reconfig(&self, add: bool, member: &MemberRef) -> Result<(), SimError> {
        let idx = self.resolve(member)?;
        let bumped = {
            let mut world = self.shared.world();
            let in_config = match world.node(idx) {
                Some(n) if n.kind == NodeKind::Member => n.in_config,
                _ => {
                    return Err(SimError::InvalidRequest(format!(
                        "{member} is not a replica set member"
                    )))
                }
            };
            if add == in_config {
                let state = if in_config { "already" } else { "not" };
                return Err(SimError::InvalidRequest(format!(
                    "{member} is {state} in the config"
                )));
            }
            if !add && world.is_primary(idx) {
                return Err(SimError::InvalidRequest(format!(
                    "{member} is primary: step it down first"
                )));
            }
            if let Some(node) = world.nodes.get_mut(idx) {
                node.in_config = add;
                node.removed = !add;
            }
            if let Some(set) = world.set.as_mut() {
                set.set_version += 1;
            }
            bump_members(&mut world)
        };
        self.shared.notify(&bumped);
        Ok(())
    }

    /// One line describing every node: `address STATE [flags]`, separated by `; `.
    pub fn status(&self) -> String {
        let world = self.shared.world();
        let mut parts = Vec::with_capacity(world.nodes.len());
        for (i, n) in world.nodes.iter().enumerate() {
            let mut s = format!("{} ", n.address);
            s.push_str(match n.kind {
                NodeKind::Mongos => "MONGOS",
                NodeKind::Standalone => "STANDALONE",
                NodeKind::Member => member_state(&world, i).1,
            });
            let mut flags = Vec::new();
            if !n.alive && n.kind != NodeKind::Member {
                flags.push("killed".to_owned());
            }
            if n.frozen {
                flags.push("frozen".to_owned());
            }
            if !n.latency.is_zero() {
                flags.push(format!("latency={}ms", n.latency.as_millis()));
            }
            if !n.lag.is_zero() {
                flags.push(format!("lag={}s", n.lag.as_secs_f64()));
            }
            if let Some(version) = n.version {
                flags.push(format!("version={version}"));
            }
            if let Some(term) = n.claimed_term {
                flags.push(format!("claims-primary-term={term}"));
            }
            let faults = n.faults.describe();
            if !faults.is_empty() {
                flags.push(format!("faults={faults}"));
            }
            if !flags.is_empty() {
                s.push_str(&format!(" [{}]", flags.join(",")));
            }
            parts.push(s);
        }
        if let Some(set) = &world.set {
            parts.insert(
                0,
                format!("set {} v{} term {}", set.name, set.set_version, set.term),
            );
        }
        parts.join("; ")
    }

    fn update_node(
        &self,
        member: &MemberRef,
        changes_hello: bool,
        change: impl FnOnce(&mut super::state::NodeState),
    ) -> Result<(), SimError> {
        let idx = self.resolve(member)?;
        let bumped = {
            let mut world = self.shared.world();
            let node = world
                .nodes
                .get_mut(idx)
                .ok_or_else(|| SimError::NoSuchMember(member.to_string()))?;
            change(node);
            if changes_hello {
                if world.node(idx).is_some_and(|n| n.kind == NodeKind::Member) {
                    bump_members(&mut world)
                } else {
                    world.bump(idx).map(|c| vec![(idx, c)]).unwrap_or_default()
                }
            } else {
                Vec::new()
            }
        };
        self.shared.notify(&bumped);
        if let Some(node) = self.shared.nodes.get(idx) {
            node.state_changed();
        }
        Ok(())
    }
}

pub(crate) fn resolve(shared: &Shared, member: &MemberRef) -> Result<usize, SimError> {
    let found = match member {
        MemberRef::Index(i) => Some(*i).filter(|i| *i < shared.nodes.len()),
        MemberRef::Port(p) => shared.nodes.iter().position(|n| n.port == *p),
        MemberRef::Address(a) => {
            let world = shared.world();
            // The advertised address, else the listening one.
            world
                .nodes
                .iter()
                .position(|n| n.address.eq_ignore_ascii_case(a))
                .or_else(|| {
                    shared
                        .nodes
                        .iter()
                        .position(|r| format!("{}:{}", r.host, r.port).eq_ignore_ascii_case(a))
                })
        }
    };
    found.ok_or_else(|| SimError::NoSuchMember(member.to_string()))
}
