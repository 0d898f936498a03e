//! Building the reply to `hello` / `isMaster` as a real server of the emulated version
//! sends it, for each kind of node and member state.

use std::time::SystemTime;

use bson::{doc, Bson, Document};

use super::state::{election_id, NodeKind, NodeState, StartupPhase, World};
use super::versions::ServerVersion;
use mongo_topology_core::wire::{
    MAX_BSON_OBJECT_SIZE, MAX_MESSAGE_SIZE_BYTES, MAX_WRITE_BATCH_SIZE,
};

/// Logical session timeout every emulated server reports.
pub const LOGICAL_SESSION_TIMEOUT_MINUTES: i32 = 30;

/// How the handshake command was spelled, and what it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelloRequest {
    /// `isMaster`/`ismaster` (reply field `ismaster`) rather than `hello`
    /// (reply field `isWritablePrimary`).
    pub legacy: bool,
    /// The request carried a `helloOk` field (the server answers `helloOk: true` to any
    /// value).
    pub hello_ok: bool,
}

/// The hello reply of node `idx` at `now` on connection `connection_id`.
pub fn hello_reply(
    world: &World,
    idx: usize,
    now: SystemTime,
    connection_id: i64,
    request: HelloRequest,
) -> Document {
    let Some(node) = world.node(idx) else {
        return doc! { "ok": 0.0, "errmsg": "no such node", "code": 8, "codeName": "UnknownError" };
    };
    let writable_key = if request.legacy {
        "ismaster"
    } else {
        "isWritablePrimary"
    };
    let version = world.version_of(idx);
    let mut reply = Document::new();
    let hello_ok = request.hello_ok && version.answers_hello_ok();
    // mongod appends helloOk before anything else (CmdHello in replication_info.cpp);
    // mongos after its role fields (cluster_hello_cmd.cpp).
    if hello_ok && node.kind != NodeKind::Mongos {
        reply.insert("helloOk", true);
    }
    if version.has_topology_version() {
        reply.insert(
            "topologyVersion",
            doc! { "processId": node.process_id, "counter": node.tv_counter },
        );
    }
    match node.kind {
        NodeKind::Mongos => {
            reply.insert(writable_key, true);
            reply.insert("msg", "isdbgrid");
            if hello_ok {
                reply.insert("helloOk", true);
            }
        }
        NodeKind::Standalone => {
            reply.insert(writable_key, true);
        }
        NodeKind::Member => member_fields(world, idx, node, now, writable_key, &mut reply),
    }
    reply.insert("maxBsonObjectSize", MAX_BSON_OBJECT_SIZE);
    reply.insert("maxMessageSizeBytes", MAX_MESSAGE_SIZE_BYTES);
    reply.insert("maxWriteBatchSize", MAX_WRITE_BATCH_SIZE);
    reply.insert("localTime", bson::DateTime::from_system_time(now));
    reply.insert(
        "logicalSessionTimeoutMinutes",
        LOGICAL_SESSION_TIMEOUT_MINUTES,
    );
    if version.has_connection_id() {
        reply.insert("connectionId", small_number(connection_id));
    }
    reply.insert("minWireVersion", version.min_wire_version());
    reply.insert("maxWireVersion", version.max_wire_version());
    if node.kind != NodeKind::Mongos {
        reply.insert("readOnly", false);
    }
    reply.insert("ok", 1.0);
    reply
}

/// A 64-bit count as the server's `BSONObjBuilder::appendNumber(long long)` writes it: a
/// 32-bit int when it fits, a 64-bit int otherwise.
fn small_number(n: i64) -> Bson {
    match i32::try_from(n) {
        Ok(small) => Bson::Int32(small),
        Err(_) => Bson::Int64(n),
    }
}

/// What a member without a usable config says (`markAsNoConfig` in hello_response.cpp).
fn no_config_fields(writable_key: &str, reply: &mut Document) {
    reply.insert(writable_key, false);
    reply.insert("secondary", false);
    reply.insert("info", "Does not have a valid replica set config");
    reply.insert("isreplicaset", true);
}

/// The replica set fields of a member's reply.
fn member_fields(
    world: &World,
    idx: usize,
    node: &NodeState,
    now: SystemTime,
    writable_key: &str,
    reply: &mut Document,
) {
    let set = match &world.set {
        Some(set)
            if (node.in_config || node.removed) && node.startup != Some(StartupPhase::Startup) =>
        {
            set
        }
        _ => {
            // RSGhost: a member that never received a replica set config (or has not
            // loaded it yet: STARTUP).
            no_config_fields(writable_key, reply);
            return;
        }
    };
    // The member lists, as the topology coordinator fills them: hidden and delayed members
    // are left out; electable members (priority > 0) are hosts, arbiters are arbiters, the
    // rest (priority 0) are passives.
    let listed = |pick: fn(&super::state::MemberConfig) -> bool| -> Vec<Bson> {
        world
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Member && n.in_config)
            .filter(|n| {
                n.config
                    .as_ref()
                    .is_some_and(|c| !c.hidden && c.secondary_delay.is_zero() && pick(c))
            })
            .map(|n| Bson::String(n.address.clone()))
            .collect()
    };
    let hosts = listed(|c| !c.arbiter && c.priority > 0.0);
    let arbiters = listed(|c| c.arbiter);
    let passives = listed(|c| !c.arbiter && c.priority <= 0.0);
    // A member removed from the config still names the set; up to 4.4 it also lists the
    // members of the config that removed it, from 5.0 on it does not (fillHelloForReplSet).
    let lists = node.in_config || world.version_of(idx) <= ServerVersion::V4_4;
    if lists && !hosts.is_empty() {
        reply.insert("hosts", hosts);
    }
    if lists && !passives.is_empty() {
        reply.insert("passives", passives);
    }
    if lists && !arbiters.is_empty() {
        reply.insert("arbiters", arbiters);
    }
    let set_name = if node.faults.wrong_setname {
        format!("{}-wrong", set.name)
    } else {
        set.name.clone()
    };
    reply.insert("setName", set_name);
    if !node.in_config {
        // RSGhost: removed from the config (state REMOVED).
        no_config_fields(writable_key, reply);
        return;
    }
    // Appended as a 32-bit int (`static_cast<int>` in hello_response.cpp).
    reply.insert(
        "setVersion",
        i32::try_from(set.set_version).unwrap_or(i32::MAX),
    );
    // A member still claiming an older term names itself primary, with that term's
    // electionId.
    let is_primary = world.claims_primary(idx);
    let term = node.claimed_term.unwrap_or(set.term);
    reply.insert(writable_key, is_primary);
    reply.insert("secondary", world.is_secondary(idx));
    let primary = if node.claimed_term.is_some() {
        Some(node)
    } else {
        set.primary.and_then(|p| world.node(p))
    };
    if let Some(primary) = primary {
        reply.insert("primary", primary.address.clone());
    }
    let config = node
        .config
        .clone()
        .unwrap_or_else(super::state::MemberConfig::data);
    if config.arbiter {
        reply.insert("arbiterOnly", true);
    }
    if config.priority <= 0.0 && !config.arbiter {
        reply.insert("passive", true);
    }
    if !config.secondary_delay.is_zero() {
        // `slaveDelay` to legacy isMaster, `secondaryDelaySecs` to hello (every version
        // that has hello names it so).
        let key = if writable_key == "ismaster" {
            "slaveDelay"
        } else {
            "secondaryDelaySecs"
        };
        let secs = i64::try_from(config.secondary_delay.as_secs()).unwrap_or(i64::MAX);
        reply.insert(key, small_number(secs));
    }
    if config.hidden {
        reply.insert("hidden", true);
    }
    if !config.tags.is_empty() {
        let tags: Document = config
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), Bson::String(v.clone())))
            .collect();
        reply.insert("tags", tags);
    }
    reply.insert("me", node.address.clone());
    if is_primary {
        reply.insert("electionId", election_id(term));
    }
    if let Some((own, majority)) = world.last_write(idx, now) {
        reply.insert(
            "lastWrite",
            doc! {
                "opTime": own.to_document(),
                "lastWriteDate": own.bson_date(),
                "majorityOpTime": majority.to_document(),
                "majorityWriteDate": majority.bson_date(),
            },
        );
    }
}
