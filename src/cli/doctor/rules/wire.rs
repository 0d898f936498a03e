//! Wire versions: every server this client cannot talk to, and members of one deployment
//! running different server versions.

use std::collections::BTreeMap;

use mongo_topology::sdam::{CLIENT_MAX_WIRE_VERSION, CLIENT_MIN_WIRE_VERSION};

use crate::cli::doctor::finding::{Finding, Severity};
use crate::cli::doctor::observations::{number, Observations};

/// A server whose wire version range does not overlap the client's.
pub const INCOMPATIBLE: &str = "wire.incompatible";
/// Servers of one deployment on different versions.
pub const MIXED_VERSIONS: &str = "wire.mixed-versions";

/// `wire.incompatible`: one finding per incompatible server.
pub fn incompatible(observations: &Observations) -> Vec<Finding> {
    observations
        .hellos()
        .filter_map(|(address, hello)| {
            let min = number(hello, "minWireVersion").unwrap_or(0);
            let max = number(hello, "maxWireVersion").unwrap_or(0);
            let version = observations
                .probes
                .get(address)
                .and_then(|p| p.version.clone())
                .map(|v| format!(" (server {v})"))
                .unwrap_or_default();
            let (evidence, fix) = if max < i64::from(CLIENT_MIN_WIRE_VERSION) {
                (
                    format!(
                        "{address} speaks wire versions {min}..{max}{version}; this client \
                         needs at least {CLIENT_MIN_WIRE_VERSION} (MongoDB 4.2)"
                    ),
                    "upgrade the server to MongoDB 4.2 or later (or use an older driver)",
                )
            } else if min > i64::from(CLIENT_MAX_WIRE_VERSION) {
                (
                    format!(
                        "{address} requires wire version {min} or later{version}; this client \
                         speaks at most {CLIENT_MAX_WIRE_VERSION}"
                    ),
                    "upgrade the driver",
                )
            } else {
                return None;
            };
            Some(
                Finding::new(
                    INCOMPATIBLE,
                    Severity::Error,
                    evidence,
                    "every operation fails while this server is in the topology (drivers \
                     refuse to select any server of an incompatible topology)",
                    fix,
                )
                .servers([address]),
            )
        })
        .collect()
}

/// `wire.mixed-versions`: the servers report different versions (buildInfo) or wire
/// version ranges.
pub fn mixed_versions(observations: &Observations) -> Vec<Finding> {
    let mut by_version: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (address, hello) in observations.hellos() {
        let version = observations
            .probes
            .get(address)
            .and_then(|p| p.version.clone())
            .unwrap_or_else(|| {
                format!(
                    "wire version {}",
                    number(hello, "maxWireVersion").unwrap_or(0)
                )
            });
        by_version
            .entry(version)
            .or_default()
            .push(address.to_string());
    }
    if by_version.len() < 2 {
        return Vec::new();
    }
    let groups: Vec<String> = by_version
        .iter()
        .map(|(version, servers)| format!("{version}: {}", servers.join(", ")))
        .collect();
    vec![Finding::new(
        MIXED_VERSIONS,
        Severity::Warning,
        format!("the servers run different versions: {}", groups.join("; ")),
        "features and behaviour change with the member that is primary (an upgrade left \
         half done, or a member that was not upgraded); featureCompatibilityVersion may \
         block the newer features",
        "finish the rolling upgrade so every member runs the same version",
    )
    .servers(by_version.values().flatten())]
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{healthy_set, member, with_hello};
    use super::*;

    #[test]
    fn every_incompatible_server_is_named() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0");
        assert!(incompatible(&observations).is_empty());
        for me in ["b:27017", "c:27017"] {
            let mut old = member(me, false);
            old.insert("maxWireVersion", 6);
            with_hello(&mut observations, me, old);
        }
        let findings = incompatible(&observations);
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert_eq!(findings[0].servers, ["b:27017"]);
        assert_eq!(findings[1].servers, ["c:27017"]);
    }

    #[test]
    fn mixed_versions_are_grouped() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0");
        assert!(mixed_versions(&observations).is_empty());
        if let Some(probe) = observations
            .probes
            .get_mut(&super::super::fixtures::addr("c:27017"))
        {
            probe.version = Some("6.0.4".into());
        }
        let findings = mixed_versions(&observations);
        assert!(
            findings[0].evidence.contains("6.0.4: c:27017"),
            "{findings:?}"
        );
        assert!(
            findings[0].evidence.contains("7.0.0: a:27017, b:27017"),
            "{findings:?}"
        );
    }
}
