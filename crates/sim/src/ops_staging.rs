//! Control operations staging real-world situations (the Rust API behind the control
//! commands `tags`, `advertise`, `member-state`, `server-version` and `claim-primary`).

use std::collections::BTreeMap;
use std::time::SystemTime;

use bson::oid::ObjectId;

use super::control::{ControlCommand, MemberRef};
use super::deployment::Deployment;
use super::election::{bump_members, not_a_replica_set};
use super::ops::resolve;
use super::staging::{with_port, StagedState};
use super::state::{NodeKind, World};
use super::versions::ServerVersion;
use super::SimError;

impl Deployment {
    /// Runs a staging command (every other command is [`Deployment::control`]'s).
    pub(crate) fn control_staged(&self, command: ControlCommand) -> Result<String, SimError> {
        match command {
            ControlCommand::Tags(m, tags) => self.set_tags(&m, tags),
            ControlCommand::Advertise(m, address) => self.advertise(&m, &address),
            ControlCommand::MemberState(m, state) => self.set_member_state(&m, state),
            ControlCommand::ServerVersion(m, version) => self.set_server_version(&m, version),
            ControlCommand::ClaimPrimary(m, on) => self.claim_primary(&m, on),
            other => Err(SimError::InvalidRequest(format!(
                "{other:?} is not a staging command"
            ))),
        }
        .map(|_| String::new())
    }

    /// Reconfigures a member's tags (setVersion+1).
    pub fn set_tags(
        &self,
        member: &MemberRef,
        tags: BTreeMap<String, String>,
    ) -> Result<(), SimError> {
        self.reconfigure_member(member, |world, idx| {
            if let Some(config) = world.nodes.get_mut(idx).and_then(|n| n.config.as_mut()) {
                config.tags = tags;
            }
        })
    }

    /// Reconfigures the name a member is known by in the set ("host" keeps its listening
    /// port; setVersion+1). The member keeps listening where it did.
    pub fn advertise(&self, member: &MemberRef, address: &str) -> Result<(), SimError> {
        let idx = self.resolve(member)?;
        let port = self
            .shared
            .nodes
            .get(idx)
            .map(|n| n.port)
            .unwrap_or_default();
        let address = with_port(address, port);
        self.reconfigure_member(member, |world, idx| {
            if let Some(node) = world.nodes.get_mut(idx) {
                node.address = address;
            }
        })
    }

    /// Puts a member in STARTUP, STARTUP2 or RECOVERING, or back to normal.
    pub fn set_member_state(&self, member: &MemberRef, state: StagedState) -> Result<(), SimError> {
        let idx = self.resolve(member)?;
        {
            let world = self.shared.world();
            member_of_a_set(&world, idx, member)?;
            if world.claims_primary(idx) && state != StagedState::Normal {
                return Err(SimError::InvalidRequest(format!(
                    "{member} is primary: step it down first"
                )));
            }
        }
        let bumped = {
            let mut world = self.shared.world();
            if let Some(node) = world.nodes.get_mut(idx) {
                node.startup = state.startup();
                node.recovering = state == StagedState::Recovering;
            }
            bump_members(&mut world)
        };
        self.shared.notify(&bumped);
        Ok(())
    }

    /// Restarts a node on another server version (a step of a rolling upgrade or
    /// downgrade): new processId, its connections closed.
    pub fn set_server_version(
        &self,
        member: &MemberRef,
        version: ServerVersion,
    ) -> Result<(), SimError> {
        let idx = self.resolve(member)?;
        let bumped = {
            let mut world = self.shared.world();
            let deployment_version = world.version;
            let node = world
                .nodes
                .get_mut(idx)
                .ok_or_else(|| SimError::NoSuchMember(member.to_string()))?;
            node.version = (version != deployment_version).then_some(version);
            node.process_id = ObjectId::new();
            node.tv_counter = 0;
            world.bump(idx).map(|c| vec![(idx, c)]).unwrap_or_default()
        };
        self.shared.notify(&bumped);
        if let Some(node) = self.shared.nodes.get(idx) {
            node.drop_connections();
        }
        Ok(())
    }

    /// `on`: the primary is cut off from the majority (a network partition) yet keeps
    /// claiming its term: the others see no primary until one is elected (`elect`), and
    /// from then on two members say they are primary, each with its own electionId.
    /// `off`: the partition heals and the stale primary steps down.
    pub fn claim_primary(&self, member: &MemberRef, on: bool) -> Result<(), SimError> {
        let idx = self.resolve(member)?;
        let bumped = {
            let mut world = self.shared.world();
            member_of_a_set(&world, idx, member)?;
            if on {
                if !world.is_primary(idx) {
                    return Err(SimError::InvalidRequest(format!(
                        "{member} is not the primary: only the primary can go on claiming \
                         its term (claim-primary the primary, then elect another member)"
                    )));
                }
                let set = world.set.as_mut().ok_or_else(not_a_replica_set)?;
                let term = set.term;
                set.primary = None;
                set.oplog.primary_lost(SystemTime::now());
                if let Some(node) = world.nodes.get_mut(idx) {
                    node.claimed_term = Some(term);
                }
            } else {
                let node = world
                    .nodes
                    .get_mut(idx)
                    .ok_or_else(|| SimError::NoSuchMember(member.to_string()))?;
                if node.claimed_term.take().is_none() {
                    return Err(SimError::InvalidRequest(format!(
                        "{member} claims no primary term"
                    )));
                }
            }
            bump_members(&mut world)
        };
        self.shared.notify(&bumped);
        Ok(())
    }

    /// Changes member `member`'s config with `change`, then setVersion+1 and every
    /// member's topologyVersion.
    fn reconfigure_member(
        &self,
        member: &MemberRef,
        change: impl FnOnce(&mut World, usize),
    ) -> Result<(), SimError> {
        let idx = resolve(&self.shared, member)?;
        let bumped = {
            let mut world = self.shared.world();
            member_of_a_set(&world, idx, member)?;
            change(&mut world, idx);
            if let Some(set) = world.set.as_mut() {
                set.set_version += 1;
            }
            bump_members(&mut world)
        };
        self.shared.notify(&bumped);
        Ok(())
    }
}

/// Whether node `idx` is a replica set member.
fn member_of_a_set(world: &World, idx: usize, member: &MemberRef) -> Result<(), SimError> {
    if world.set.is_some() && world.node(idx).map(|n| n.kind) == Some(NodeKind::Member) {
        Ok(())
    } else {
        Err(SimError::InvalidRequest(format!(
            "{member} is not a replica set member"
        )))
    }
}
