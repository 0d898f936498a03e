//! `replSetGetStatus`: the replica set's view of its members, as the member asked sees it.
//!
//! Every member sees the same world, with one exception staged on purpose: a member still
//! claiming an older term (`claim-primary`) is cut off from the majority, so it sees the
//! elected primary as unreachable, and the others see it as unreachable. Each then reports
//! itself PRIMARY: two members claiming primary, as in a network partition.

use std::time::SystemTime;

use bson::{doc, Bson, Document};

use super::reply::error_reply;
use super::state::{NodeKind, StartupPhase, World};

/// The state number and name of a member nobody can reach.
const NOT_REACHABLE: (i32, &str) = (8, "(not reachable/healthy)");

/// How often members send each other heartbeats (the server's default, 2 s).
const HEARTBEAT_INTERVAL_MILLIS: i64 = 2000;

/// The member state number and name of node `idx` (as in replSetGetStatus).
pub fn member_state(world: &World, idx: usize) -> (i32, &'static str) {
    match world.node(idx) {
        None => (6, "UNKNOWN"),
        Some(n) if !n.alive => NOT_REACHABLE,
        Some(n) if n.kind != NodeKind::Member => (6, "UNKNOWN"),
        Some(n) if n.startup == Some(StartupPhase::Startup) => (0, "STARTUP"),
        Some(n) if !n.in_config => (10, "REMOVED"),
        Some(_) if world.claims_primary(idx) => (1, "PRIMARY"),
        Some(n) if n.is_arbiter() => (7, "ARBITER"),
        Some(n) if n.startup == Some(StartupPhase::Startup2) => (5, "STARTUP2"),
        Some(n) if n.recovering => (3, "RECOVERING"),
        Some(_) => (2, "SECONDARY"),
    }
}

/// Whether member `viewer` can reach member `other` (heartbeats): the partition staged by
/// a claimed term separates the claimant from every other member.
fn reaches(world: &World, viewer: usize, other: usize) -> bool {
    let claimant = |i: usize| world.node(i).is_some_and(|n| n.claimed_term.is_some());
    viewer == other || claimant(viewer) == claimant(other)
}

/// The reply to replSetGetStatus on node `idx`.
pub fn repl_set_get_status(world: &World, idx: usize, now: SystemTime) -> Document {
    let Some(set) = &world.set else {
        return error_reply(76, "NoReplicationEnabled", "not running with --replSet");
    };
    let loaded = world
        .node(idx)
        .is_some_and(|n| n.in_config && n.startup != Some(StartupPhase::Startup));
    if !loaded {
        return error_reply(
            94,
            "NotYetInitialized",
            "no replset config has been received",
        );
    }
    let in_config: Vec<usize> = world
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.kind == NodeKind::Member && n.in_config)
        .map(|(i, _)| i)
        .collect();
    let members: Vec<Bson> = in_config
        .iter()
        .filter_map(|&i| world.node(i).map(|n| (i, n)))
        .map(|(i, n)| {
            let healthy = n.alive && reaches(world, idx, i);
            let (state, state_str) = if healthy {
                member_state(world, i)
            } else {
                NOT_REACHABLE
            };
            let mut m = doc! {
                "_id": i32::try_from(i).unwrap_or(i32::MAX),
                "name": n.address.clone(),
                "health": if healthy { 1.0 } else { 0.0 },
                "state": state,
                "stateStr": state_str,
            };
            if healthy {
                if let Some((own, _)) = world.last_write(i, now) {
                    m.insert("optime", own.to_document());
                    m.insert("optimeDate", own.bson_date());
                }
            }
            if state == 1 {
                let term = n.claimed_term.unwrap_or(set.term);
                m.insert("electionId", super::state::election_id(term));
            }
            m.insert("configVersion", set.set_version);
            if i == idx {
                m.insert("self", true);
            }
            Bson::Document(m)
        })
        .collect();
    let voting = in_config.len();
    let data_bearing = in_config
        .iter()
        .filter(|&&i| world.node(i).is_some_and(|n| !n.is_arbiter()))
        .count();
    let majority = voting / 2 + 1;
    let term = world
        .node(idx)
        .and_then(|n| n.claimed_term)
        .unwrap_or(set.term);
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    doc! {
        "set": set.name.clone(),
        "date": bson::DateTime::from_system_time(now),
        "myState": member_state(world, idx).0,
        "term": term,
        "heartbeatIntervalMillis": HEARTBEAT_INTERVAL_MILLIS,
        "majorityVoteCount": count(majority),
        "writeMajorityCount": count(majority.min(data_bearing)),
        "votingMembersCount": count(voting),
        "writableVotingMembersCount": count(data_bearing),
        "members": members,
        "ok": 1.0,
    }
}
