//! The hint for incompatible wire versions, naming every incompatible server (the SDAM
//! `compatibilityError` names only the first one found).

use mongo_topology::sdam::compatibility::compatibility_error;
use mongo_topology::sdam::{ServerErrorKind, TopologyDescription};

/// When the topology is incompatible (its `compatibilityError`) or a check failed for
/// that reason: every server whose wire version range does not overlap the client's, each
/// with why. `None` otherwise.
pub fn incompatible_wire_version_hint(topology: &TopologyDescription) -> Option<String> {
    let mut servers: Vec<String> = match &topology.compatibility_error {
        Some(_) => topology
            .servers
            .values()
            .filter_map(|server| compatibility_error(server))
            .collect(),
        None => Vec::new(),
    };
    servers.extend(
        topology
            .servers
            .values()
            .filter_map(|server| server.error.as_ref().map(|error| (server, error)))
            .filter(|(_, error)| error.kind == ServerErrorKind::IncompatibleWireVersion)
            .map(|(server, error)| format!("{}: {}", server.address, error.message)),
    );
    if servers.is_empty() {
        return None;
    }
    Some(format!(
        "incompatible wire versions ({} servers): {}",
        servers.len(),
        servers.join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mongo_topology::sdam::{ServerDescription, ServerType, TopologyDescription, TopologyType};
    use mongo_topology::ServerAddress;

    use super::incompatible_wire_version_hint;

    #[test]
    fn every_incompatible_server_is_named() {
        let mut topology = TopologyDescription::with_seeds(TopologyType::Sharded, None, []);
        for (host, max_wire) in [("a:1", 6), ("b:2", 7), ("c:3", 21)] {
            let address = ServerAddress::parse(host).unwrap();
            let server = ServerDescription {
                server_type: ServerType::Mongos,
                max_wire_version: max_wire,
                ..ServerDescription::unknown(address.clone())
            };
            topology.servers.insert(address, Arc::new(server));
        }
        assert!(
            incompatible_wire_version_hint(&topology).is_none(),
            "no compatibilityError"
        );
        topology.compatibility_error = Some("first one only".into());
        let hint = incompatible_wire_version_hint(&topology).unwrap();
        assert!(
            hint.starts_with("incompatible wire versions (2 servers)"),
            "{hint}"
        );
        assert!(hint.contains("a:1") && hint.contains("b:2"), "{hint}");
        assert!(!hint.contains("c:3"), "{hint}");
    }
}
