//! Elections on the simulated world, shared by the control operations (`elect`,
//! `stepdown`) and the `replSetStepDown` command: who may be elected, the election itself,
//! and the topologyVersion bumps that wake waiting hellos.

use std::time::SystemTime;

use super::state::{NodeKind, World};
use super::SimError;

/// The error of a replica set operation on a deployment that is not one.
pub(crate) fn not_a_replica_set() -> SimError {
    SimError::InvalidRequest("the deployment is not a replica set".into())
}

/// Whether node `idx` can be elected (an alive, electable member in the config).
pub(crate) fn check_electable(world: &World, idx: usize) -> Result<(), SimError> {
    let node = world
        .node(idx)
        .ok_or_else(|| SimError::NoSuchMember(idx.to_string()))?;
    if node.kind != NodeKind::Member || world.set.is_none() {
        return Err(not_a_replica_set());
    }
    if !node.alive {
        return Err(SimError::InvalidRequest(format!(
            "{} is not running",
            node.address
        )));
    }
    if !node.in_config {
        return Err(SimError::InvalidRequest(format!(
            "{} is not in the config",
            node.address
        )));
    }
    if !node.config.as_ref().is_some_and(|c| c.electable()) {
        return Err(SimError::InvalidRequest(format!(
            "{} cannot be elected (arbiter, hidden, delayed or priority 0)",
            node.address
        )));
    }
    Ok(())
}

/// Makes `idx` primary in a new term; returns the nodes to notify.
pub(crate) fn finish_election(world: &mut World, idx: usize) -> Vec<(usize, i64)> {
    if let Some(node) = world.nodes.get_mut(idx) {
        node.recovering = false;
        node.startup = None;
        node.claimed_term = None;
    }
    if let Some(set) = world.set.as_mut() {
        set.term += 1;
        set.primary = Some(idx);
        let term = set.term;
        set.oplog.primary_elected(SystemTime::now(), term);
    }
    bump_members(world)
}

/// Increments the topologyVersion of every replica set member (their hello changed).
pub(crate) fn bump_members(world: &mut World) -> Vec<(usize, i64)> {
    let members: Vec<usize> = world
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.kind == NodeKind::Member)
        .map(|(i, _)| i)
        .collect();
    members
        .into_iter()
        .filter_map(|i| world.bump(i).map(|c| (i, c)))
        .collect()
}
