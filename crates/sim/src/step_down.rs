//! `replSetStepDown` and `replSetFreeze` as commands (the drivers' tests send them): the
//! primary steps down and, as a real set would after its election timeout, another
//! electable member is elected; a freeze is accepted and has no further effect (the
//! simulator's elections never pick a member on their own).

use std::time::SystemTime;

use bson::{doc, Document};

use crate::election::{bump_members, check_electable, finish_election};
use crate::reply::error_reply;
use crate::shared::Shared;
use crate::state::NodeKind;

/// Whether `name` is one of this module's commands.
pub(crate) fn is_election_command(name: &str) -> bool {
    matches!(name, "replSetStepDown" | "replSetFreeze")
}

/// Runs `replSetStepDown` or `replSetFreeze` on node `idx`.
pub(crate) fn run(shared: &Shared, idx: usize, name: &str) -> Document {
    let (reply, bumped) = {
        let mut world = shared.world();
        let member = world
            .node(idx)
            .is_some_and(|n| n.kind == NodeKind::Member && n.in_config);
        if !member || world.set.is_none() {
            return error_reply(76, "NoReplicationEnabled", "not running with --replSet");
        }
        if name == "replSetFreeze" {
            if world.is_primary(idx) {
                return error_reply(95, "NotSecondary", "cannot freeze node when primary");
            }
            return doc! { "ok": 1.0 };
        }
        if !world.is_primary(idx) {
            return error_reply(
                10107,
                "NotWritablePrimary",
                "not primary so can't step down",
            );
        }
        if let Some(set) = world.set.as_mut() {
            set.primary = None;
            set.oplog.primary_lost(SystemTime::now());
        }
        let successor = (0..world.nodes.len())
            .filter(|&i| i != idx)
            .find(|&i| check_electable(&world, i).is_ok());
        let bumped = match successor {
            Some(next) => finish_election(&mut world, next),
            None => bump_members(&mut world),
        };
        (doc! { "ok": 1.0 }, bumped)
    };
    shared.notify(&bumped);
    reply
}
