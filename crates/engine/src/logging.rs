//! The log messages of "SDAM Logging and Monitoring", through `tracing` (target
//! `mongo_topology::topology`, level DEBUG), plus one INFO line per topology change that says
//! how many servers of each kind are alive (mgo's "N master(s) and M slave(s) alive").

use std::time::Duration;

use bson::oid::ObjectId;
use bson::Document;

use crate::address::ServerAddress;
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
        SdamEvent::ServerClosed { address } => tracing::debug!(
            target: TARGET, topologyId = %topology_id, serverHost = address.host(),
            serverPort = address.port(),
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

/// "Server heartbeat started".
pub(crate) fn log_heartbeat_started(
    topology_id: &ObjectId,
    address: &ServerAddress,
    awaited: bool,
) {
    tracing::debug!(
        target: TARGET, topologyId = %topology_id, serverHost = address.host(),
        serverPort = address.port(), awaited,
        "Server heartbeat started"
    );
}

/// "Server heartbeat succeeded".
pub(crate) fn log_heartbeat_succeeded(
    topology_id: &ObjectId,
    address: &ServerAddress,
    awaited: bool,
    duration: Duration,
    reply: &Document,
) {
    tracing::debug!(
        target: TARGET, topologyId = %topology_id, serverHost = address.host(),
        serverPort = address.port(), awaited, durationMS = duration.as_secs_f64() * 1000.0,
        reply = %reply,
        "Server heartbeat succeeded"
    );
}

/// "Server heartbeat failed".
pub(crate) fn log_heartbeat_failed(
    topology_id: &ObjectId,
    address: &ServerAddress,
    awaited: bool,
    duration: Duration,
    failure: &ServerError,
) {
    tracing::debug!(
        target: TARGET, topologyId = %topology_id, serverHost = address.host(),
        serverPort = address.port(), awaited, durationMS = duration.as_secs_f64() * 1000.0,
        failure = %failure, failureKind = ?failure.kind,
        "Server heartbeat failed"
    );
}

/// One line per topology change: the topology type and how many servers of each kind are
/// alive, as mgo logged "N master(s) and M slave(s) alive".
pub(crate) fn log_topology_summary(description: &TopologyDescription) {
    let count = |wanted: &[ServerType]| {
        description
            .servers
            .values()
            .filter(|server| wanted.contains(&server.server_type))
            .count()
    };
    let primaries = count(&[ServerType::RsPrimary]);
    let secondaries = count(&[ServerType::RsSecondary]);
    let routers = count(&[
        ServerType::Mongos,
        ServerType::Standalone,
        ServerType::LoadBalancer,
    ]);
    let others = count(&[
        ServerType::RsArbiter,
        ServerType::RsOther,
        ServerType::RsGhost,
    ]);
    let unknown = count(&[ServerType::Unknown, ServerType::PossiblePrimary]);
    tracing::info!(
        target: TARGET,
        topology_type = %description.topology_type,
        primaries, secondaries, routers, others, unknown,
        "topology is {}: {primaries} primary, {secondaries} secondaries, {routers} mongos/standalone/load balancers, {others} other members alive; {unknown} unknown",
        description.topology_type,
    );
}
