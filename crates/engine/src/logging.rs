//! The log messages of "SDAM Logging and Monitoring", through `tracing` (target
//! `mongo_topology::topology`, level DEBUG), plus one INFO line per topology change that says
//! how many servers of each kind are alive (mgo's "N master(s) and M slave(s) alive").

use std::time::Duration;

use bson::oid::ObjectId;
use bson::{Document, RawDocument};

use crate::address::ServerAddress;
use crate::log_json::relaxed_extjson;
use crate::sdam::{SdamEvent, ServerError, ServerType, TopologyDescription};

const TARGET: &str = "mongo_topology::topology";

/// Logs the spec's message for one SDAM event.
pub(crate) fn log_sdam_event(topology_id: &ObjectId, event: &SdamEvent) {
    match event {
        SdamEvent::TopologyOpening => tracing::debug!(
            target: TARGET, topologyId = %topology_id,
            "Starting topology monitoring"
        ),
        SdamEvent::TopologyClosed => tracing::debug!(
            target: TARGET, topologyId = %topology_id,
            "Stopped topology monitoring"
        ),
        SdamEvent::ServerOpening { address } => tracing::debug!(
            target: TARGET, topologyId = %topology_id, serverHost = address.host(),
            serverPort = address.port(),
            "Starting server monitoring"
        ),
        SdamEvent::ServerClosed { address, reason } => tracing::debug!(
            target: TARGET, topologyId = %topology_id, serverHost = address.host(),
            serverPort = address.port(), removalReason = %reason,
            "Stopped server monitoring"
        ),
        SdamEvent::TopologyDescriptionChanged { previous, new } => tracing::debug!(
            target: TARGET, topologyId = %topology_id,
            previousDescription = ?previous, newDescription = ?new,
            "Topology description changed"
        ),
        SdamEvent::ServerDescriptionChanged { address, .. } => tracing::trace!(
            target: TARGET, topologyId = %topology_id, serverHost = address.host(),
            serverPort = address.port(),
            "Server description changed"
        ),
        _ => {}
    }
}

/// The monitoring connection a heartbeat ran on: the engine's id for it and the server's
/// (its hello's `connectionId`), when known.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HeartbeatConnection {
    pub(crate) driver: Option<u64>,
    pub(crate) server: Option<i64>,
}

/// "Server heartbeat started".
pub(crate) fn log_heartbeat_started(
    topology_id: &ObjectId,
    address: &ServerAddress,
    awaited: bool,
    connection: HeartbeatConnection,
) {
    match connection.driver {
        Some(driver) => tracing::debug!(
            target: TARGET, topologyId = %topology_id, serverHost = address.host(),
            serverPort = address.port(), awaited, driverConnectionId = driver,
            "Server heartbeat started"
        ),
        None => tracing::debug!(
            target: TARGET, topologyId = %topology_id, serverHost = address.host(),
            serverPort = address.port(), awaited,
            "Server heartbeat started"
        ),
    }
}

/// "Server heartbeat succeeded", with the reply as relaxed Extended JSON.
pub(crate) fn log_heartbeat_succeeded(
    topology_id: &ObjectId,
    address: &ServerAddress,
    awaited: bool,
    duration: Duration,
    reply: &RawDocument,
    connection: HeartbeatConnection,
) {
    if !tracing::enabled!(target: TARGET, tracing::Level::DEBUG) {
        return;
    }
    let reply = match Document::try_from(reply) {
        Ok(reply) => relaxed_extjson(&reply),
        Err(error) => format!("(a reply that does not decode: {error})"),
    };
    let duration_ms = duration.as_secs_f64() * 1000.0;
    let driver = connection.driver.unwrap_or_default();
    match connection.server {
        Some(server) => tracing::debug!(
            target: TARGET, topologyId = %topology_id, serverHost = address.host(),
            serverPort = address.port(), awaited, durationMS = duration_ms,
            driverConnectionId = driver, serverConnectionId = server, reply = %reply,
            "Server heartbeat succeeded"
        ),
        None => tracing::debug!(
            target: TARGET, topologyId = %topology_id, serverHost = address.host(),
            serverPort = address.port(), awaited, durationMS = duration_ms,
            driverConnectionId = driver, reply = %reply,
            "Server heartbeat succeeded"
        ),
    }
}

/// "Server heartbeat failed".
pub(crate) fn log_heartbeat_failed(
    topology_id: &ObjectId,
    address: &ServerAddress,
    awaited: bool,
    duration: Duration,
    failure: &ServerError,
    connection: HeartbeatConnection,
) {
    let duration_ms = duration.as_secs_f64() * 1000.0;
    let driver = connection.driver.unwrap_or_default();
    tracing::debug!(
        target: TARGET, topologyId = %topology_id, serverHost = address.host(),
        serverPort = address.port(), awaited, durationMS = duration_ms,
        driverConnectionId = driver, failure = %failure, failureKind = ?failure.kind,
        "Server heartbeat failed"
    );
}

/// One line per topology change: the topology type and how many servers of each kind are
/// alive, as mgo logged "N master(s) and M slave(s) alive". Counting walks every server, so
/// it runs only when the line is wanted.
pub(crate) fn log_topology_summary(description: &TopologyDescription) {
    if !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        return;
    }
    let (mut primaries, mut secondaries, mut routers, mut others, mut unknown) = (0, 0, 0, 0, 0);
    for server in description.servers.values() {
        let count = match server.server_type {
            ServerType::RsPrimary => &mut primaries,
            ServerType::RsSecondary => &mut secondaries,
            ServerType::Mongos | ServerType::Standalone | ServerType::LoadBalancer => &mut routers,
            ServerType::RsArbiter | ServerType::RsOther | ServerType::RsGhost => &mut others,
            ServerType::Unknown | ServerType::PossiblePrimary => &mut unknown,
        };
        *count += 1;
    }
    tracing::info!(
        target: TARGET,
        topology_type = %description.topology_type,
        primaries, secondaries, routers, others, unknown,
        "topology is {}: {primaries} primary, {secondaries} secondaries, {routers} mongos/standalone/load balancers, {others} other members alive; {unknown} unknown",
        description.topology_type,
    );
}
