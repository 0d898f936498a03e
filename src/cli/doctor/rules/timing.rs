//! Timing: how long the application takes to notice a dead primary with these settings,
//! and a discovery that did not finish.

use std::time::Duration;

use mongo_topology::sdam::{ServerType, TopologyType};

use super::text::{list, ms};
use crate::cli::doctor::finding::{Finding, Severity};
use crate::cli::doctor::observations::Observations;

/// Time to notice a dead primary.
pub const FAILOVER_DETECTION: &str = "timing.failover-detection";
/// Discovery did not check every server in time.
pub const DISCOVERY_INCOMPLETE: &str = "timing.discovery-incomplete";

/// A typical election: electionTimeoutMillis (10 s) plus the vote, about 12 s.
pub const TYPICAL_ELECTION: Duration = Duration::from_secs(12);

/// Noticing later than this is slow enough to warn about.
const SLOW_NOTICE: Duration = Duration::from_secs(60);

/// `timing.failover-detection`: for a replica set, the worst-case time until the client
/// notices that a vanished primary is gone (a heartbeat interval, then a check that waits
/// connectTimeoutMS), compared with a typical election.
pub fn failover_detection(observations: &Observations) -> Vec<Finding> {
    let replica_set = observations.topology.as_ref().is_some_and(|t| {
        matches!(
            t.topology_type,
            TopologyType::ReplicaSetWithPrimary | TopologyType::ReplicaSetNoPrimary
        )
    });
    if !replica_set {
        return Vec::new();
    }
    let t = observations.timings();
    let mut problems: Vec<String> = Vec::new();
    let notice = t.connect_timeout.map(|connect| t.heartbeat + connect);
    match notice {
        None => problems.push(
            "connectTimeoutMS=0: a check of a host that vanished (no RST) waits forever".to_owned(),
        ),
        Some(notice) if notice > SLOW_NOTICE => problems.push(format!(
            "noticing a vanished primary takes up to {} s",
            notice.as_secs()
        )),
        Some(_) => {}
    }
    if t.server_selection_timeout < TYPICAL_ELECTION {
        problems.push(format!(
            "serverSelectionTimeoutMS={} is shorter than a typical election ({} s): writes \
             issued during an election fail instead of waiting for the new primary",
            ms(t.server_selection_timeout),
            TYPICAL_ELECTION.as_secs()
        ));
    }
    let summary = format!(
        "heartbeatFrequencyMS={}, connectTimeoutMS={}, socketTimeoutMS={}, \
         serverSelectionTimeoutMS={}: a primary that vanishes is noticed within {}; a typical \
         election takes about {} s; operations wait up to serverSelectionTimeoutMS for the \
         new primary",
        ms(t.heartbeat),
        t.connect_timeout
            .map_or_else(|| "0 (none)".to_owned(), |d| ms(d).to_string()),
        t.socket_timeout
            .map_or_else(|| "0 (none)".to_owned(), |d| ms(d).to_string()),
        ms(t.server_selection_timeout),
        notice.map_or_else(
            || "never (no connect timeout)".to_owned(),
            |n| format!("{} s", n.as_secs())
        ),
        TYPICAL_ELECTION.as_secs()
    );
    if problems.is_empty() {
        return vec![Finding::new(
            FAILOVER_DETECTION,
            Severity::Info,
            summary,
            "a failover costs the application about the election time plus up to one \
             heartbeat; an operation in flight on a primary that vanished without closing \
             its connections waits socketTimeoutMS (no limit by default)",
            "nothing to change for most applications; set socketTimeoutMS (or timeoutMS) \
             above the slowest legitimate operation to bound in-flight operations",
        )];
    }
    vec![Finding::new(
        FAILOVER_DETECTION,
        Severity::Warning,
        format!("{summary}; {}", list(&problems)),
        "after a failover the application keeps failing (or waiting) longer than the \
         election itself takes",
        "keep heartbeatFrequencyMS at 10000 or less, connectTimeoutMS at a few seconds \
         (not 0), and serverSelectionTimeoutMS above the election time (default 30000)",
    )]
}

/// `timing.discovery-incomplete`: discovery's deadline passed with servers unchecked.
pub fn discovery_incomplete(observations: &Observations) -> Vec<Finding> {
    let Some(topology) = &observations.topology else {
        return Vec::new();
    };
    if observations.discovery_complete || topology.topology_type == TopologyType::LoadBalanced {
        return Vec::new();
    }
    let pending: Vec<String> = topology
        .servers
        .values()
        .filter(|server| {
            matches!(
                server.server_type,
                ServerType::Unknown | ServerType::PossiblePrimary
            ) && server.error.is_none()
        })
        .map(|server| server.address.to_string())
        .collect();
    vec![Finding::new(
        DISCOVERY_INCOMPLETE,
        Severity::Warning,
        format!(
            "discovery stopped after {} ms with servers not yet checked: {}",
            ms(observations.discovery_elapsed),
            if pending.is_empty() {
                "none named".to_owned()
            } else {
                list(&pending)
            }
        ),
        "these servers neither answered nor failed within the time: the application's \
         first operations wait for them the same way",
        "check them (a frozen process or a firewall dropping packets); lower \
         connectTimeoutMS so a silent server is given up sooner",
    )
    .servers(pending)]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mongo_topology::sdam::{ServerDescription, TopologyDescription};

    use super::super::fixtures::{addr, healthy_set, topology};
    use super::*;

    #[test]
    fn defaults_are_information_and_slow_settings_a_warning() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0");
        assert!(
            failover_detection(&observations).is_empty(),
            "no topology yet"
        );
        observations.topology = Some(topology(TopologyType::ReplicaSetWithPrimary));
        let findings = failover_detection(&observations);
        assert_eq!(findings[0].severity, Severity::Info);
        assert!(findings[0].evidence.contains("within 20 s"), "{findings:?}");
        let mut slow = healthy_set(
            "mongodb://a/?replicaSet=rs0&heartbeatFrequencyMS=60000&serverSelectionTimeoutMS=5000",
        );
        slow.topology = observations.topology.clone();
        let findings = failover_detection(&slow);
        assert_eq!(findings[0].severity, Severity::Warning);
        assert!(findings[0].evidence.contains("70 s"), "{findings:?}");
        assert!(findings[0]
            .evidence
            .contains("serverSelectionTimeoutMS=5000 is shorter"));
    }

    #[test]
    fn an_incomplete_discovery_names_the_servers() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0");
        let mut description = TopologyDescription::with_seeds(
            TopologyType::ReplicaSetNoPrimary,
            Some("rs0".into()),
            [addr("a:27017"), addr("c:27017")],
        );
        let mut checked = ServerDescription::unknown(addr("a:27017"));
        checked.error = Some(mongo_topology::sdam::ServerError::new(
            mongo_topology::sdam::ServerErrorKind::Network,
            "refused",
        ));
        description
            .servers
            .insert(addr("a:27017"), Arc::new(checked));
        observations.topology = Some(Arc::new(description));
        assert!(discovery_incomplete(&observations).is_empty(), "complete");
        observations.discovery_complete = false;
        assert_eq!(discovery_incomplete(&observations)[0].servers, ["c:27017"]);
    }
}
