//! `replSetGetStatus`: the replica set's view of its members.

use std::time::SystemTime;

use bson::{doc, Bson, Document};

use super::reply::error_reply;
use super::state::{NodeKind, World};

/// The member state number and name of node `idx` (as in replSetGetStatus).
pub fn member_state(world: &World, idx: usize) -> (i32, &'static str) {
    match world.node(idx) {
        None => (6, "UNKNOWN"),
        Some(n) if !n.alive => (8, "(not reachable/healthy)"),
        Some(n) if n.kind != NodeKind::Member => (6, "UNKNOWN"),
        Some(n) if !n.in_config => (10, "REMOVED"),
        Some(_) if world.is_primary(idx) => (1, "PRIMARY"),
        Some(n) if n.is_arbiter() => (7, "ARBITER"),
        Some(n) if n.recovering => (3, "RECOVERING"),
        Some(_) => (2, "SECONDARY"),
    }
}

/// The reply to replSetGetStatus on node `idx`.
pub fn repl_set_get_status(world: &World, idx: usize, now: SystemTime) -> Document {
    let Some(set) = &world.set else {
        return error_reply(76, "NoReplicationEnabled", "not running with --replSet");
    };
    let in_config = world.node(idx).is_some_and(|n| n.in_config);
    if !in_config {
        return error_reply(
            94,
            "NotYetInitialized",
            "no replset config has been received",
        );
    }
    let members: Vec<Bson> = world
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.kind == NodeKind::Member && n.in_config)
        .map(|(i, n)| {
            let (state, state_str) = member_state(world, i);
            let mut m = doc! {
                "_id": i32::try_from(i).unwrap_or(i32::MAX),
                "name": n.address.clone(),
                "health": if n.alive { 1.0 } else { 0.0 },
                "state": state,
                "stateStr": state_str,
            };
            if let Some((own, _)) = world.last_write(i, now) {
                m.insert("optime", own.to_document());
                m.insert("optimeDate", own.bson_date());
            }
            if i == idx {
                m.insert("self", true);
            }
            Bson::Document(m)
        })
        .collect();
    doc! {
        "set": set.name.clone(),
        "date": bson::DateTime::from_system_time(now),
        "myState": member_state(world, idx).0,
        "term": set.term,
        "members": members,
        "ok": 1.0,
    }
}
