//! `mongodb+srv` strings: failed lookups, the parent-domain rule, a single target, low TTLs,
//! `srvMaxHosts` with a replica set, and options that came from the TXT record.

use std::time::Duration;

use mongo_topology::sdam::TopologyType;

use super::text::list;
use crate::cli::doctor::finding::{Finding, Severity};
use crate::cli::doctor::observations::Observations;

/// The SRV or TXT lookup failed.
pub const LOOKUP_FAILED: &str = "srv.lookup-failed";
/// A target is outside the SRV name's parent domain.
pub const PARENT_DOMAIN: &str = "srv.parent-domain";
/// Only one SRV target.
pub const SINGLE_TARGET: &str = "srv.single-target";
/// A short TTL.
pub const LOW_TTL: &str = "srv.low-ttl";
/// `srvMaxHosts` with a replica set.
pub const MAX_HOSTS_WITH_REPLICA_SET: &str = "srv.max-hosts-with-replica-set";
/// Options from the TXT record.
pub const TXT_OPTIONS: &str = "srv.txt-options";

/// TTLs below this make every SRV poll a new DNS query and expose brief DNS outages.
const LOW_TTL_LIMIT: Duration = Duration::from_secs(60);

fn is_parent_domain_error(error: &str) -> bool {
    error.contains("parent domain rule")
}

/// `srv.lookup-failed`: the seed list could not be built for another reason than the
/// parent-domain rule.
pub fn lookup_failed(observations: &Observations) -> Vec<Finding> {
    let Some(srv) = &observations.srv else {
        return Vec::new();
    };
    match &srv.error {
        Some(error) if !is_parent_domain_error(error) => vec![Finding::new(
            LOOKUP_FAILED,
            Severity::Error,
            format!("mongodb+srv://{}: {error}", srv.hostname),
            "the application cannot even start: it has no seed list",
            "check the name (and srvServiceName), the DNS server, and that the SRV \
             (_mongodb._tcp.<name>) and at most one TXT record exist",
        )],
        _ => Vec::new(),
    }
}

/// `srv.parent-domain`: a target outside the parent domain of the SRV name.
pub fn parent_domain(observations: &Observations) -> Vec<Finding> {
    let Some(srv) = &observations.srv else {
        return Vec::new();
    };
    match &srv.error {
        Some(error) if is_parent_domain_error(error) => vec![Finding::new(
            PARENT_DOMAIN,
            Severity::Error,
            error.clone(),
            "every driver refuses the whole SRV answer (Initial DNS Seedlist Discovery spec): \
             the application cannot connect",
            "publish SRV targets under the connection string's domain (a host in \
             cluster0.example.net's parent domain example.net), or use a mongodb:// string",
        )],
        _ => Vec::new(),
    }
}

/// `srv.single-target`: one SRV record only.
pub fn single_target(observations: &Observations) -> Vec<Finding> {
    let Some(srv) = &observations.srv else {
        return Vec::new();
    };
    if srv.error.is_some() || srv.records.len() != 1 {
        return Vec::new();
    }
    let target = &srv.records[0];
    let single_server = observations.topology.as_ref().is_some_and(|t| {
        matches!(
            t.topology_type,
            TopologyType::Single | TopologyType::LoadBalanced
        )
    });
    if single_server {
        return Vec::new();
    }
    vec![Finding::new(
        SINGLE_TARGET,
        Severity::Warning,
        format!(
            "the SRV name {} has one target: {}:{}",
            srv.hostname, target.target, target.port
        ),
        "when that host is down at the application's start, discovery has no other seed and \
         the application cannot start, even though the other members are up",
        "publish one SRV record per member (or per mongos)",
    )
    .servers([format!(
        "{}:{}",
        target.target.trim_end_matches('.'),
        target.port
    )])]
}

/// `srv.low-ttl`: SRV records with TTLs under a minute.
pub fn low_ttl(observations: &Observations) -> Vec<Finding> {
    let Some(srv) = &observations.srv else {
        return Vec::new();
    };
    let low: Vec<String> = srv
        .records
        .iter()
        .filter(|record| record.ttl.is_some_and(|ttl| ttl < LOW_TTL_LIMIT))
        .map(|record| {
            format!(
                "{}:{} (TTL {} s)",
                record.target.trim_end_matches('.'),
                record.port,
                record.ttl.map_or(0, |ttl| ttl.as_secs())
            )
        })
        .collect();
    if low.is_empty() {
        return Vec::new();
    }
    vec![Finding::new(
        LOW_TTL,
        Severity::Info,
        format!("SRV records with TTLs under 60 s: {}", list(&low)),
        "every SRV poll and every application start queries DNS again; a short DNS outage \
         then fails new connections",
        "raise the TTLs to minutes unless the seed list really changes that often",
    )]
}

/// `srv.max-hosts-with-replica-set`: `srvMaxHosts` with a replica set.
pub fn max_hosts_with_replica_set(observations: &Observations) -> Vec<Finding> {
    let Some(max_hosts) = observations.uri.srv_max_hosts().filter(|n| *n > 0) else {
        return Vec::new();
    };
    let replica_set = observations.topology.as_ref().is_some_and(|t| {
        matches!(
            t.topology_type,
            TopologyType::ReplicaSetWithPrimary | TopologyType::ReplicaSetNoPrimary
        )
    });
    if !replica_set {
        return Vec::new();
    }
    vec![Finding::new(
        MAX_HOSTS_WITH_REPLICA_SET,
        Severity::Warning,
        format!("srvMaxHosts={max_hosts} and the deployment is a replica set"),
        "srvMaxHosts is meant for mongos pools; with a replica set the seeds are a random \
         subset, so a start while those seeds are down fails although others are up",
        "remove srvMaxHosts for a replica set",
    )]
}

/// `srv.txt-options`: options that came from the TXT record rather than the string.
pub fn txt_options(observations: &Observations) -> Vec<Finding> {
    let Some(srv) = &observations.srv else {
        return Vec::new();
    };
    if srv.txt_options.is_empty() {
        return Vec::new();
    }
    let options: Vec<String> = srv
        .txt_options
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    vec![Finding::new(
        TXT_OPTIONS,
        Severity::Info,
        format!("the TXT record of {} sets {}", srv.hostname, list(&options)),
        "these options apply although the connection string does not show them; the \
         string's own options win where both are given",
        "nothing to do if intended; write an option in the string to override the TXT record",
    )]
}

#[cfg(test)]
mod tests {
    use mongo_topology::options::srv::SrvRecord;

    use super::super::fixtures::{observe, topology};
    use super::*;
    use crate::cli::doctor::observations::SrvObservation;

    fn with_srv(records: Vec<SrvRecord>, error: Option<&str>) -> Observations {
        let mut observations = observe("mongodb+srv://cluster0.example.net/");
        observations.srv = Some(SrvObservation {
            hostname: "cluster0.example.net".into(),
            records,
            error: error.map(str::to_owned),
            txt_options: Vec::new(),
        });
        observations
    }

    fn record(target: &str, ttl: u64) -> SrvRecord {
        SrvRecord {
            target: target.into(),
            port: 27017,
            ttl: Some(Duration::from_secs(ttl)),
        }
    }

    #[test]
    fn the_parent_domain_rule_is_its_own_finding() {
        let broken = with_srv(
            Vec::new(),
            Some("SRV target \"db.evil.com\" is not in the domain \"example.net\" of \"cluster0.example.net\" (the parent domain rule)"),
        );
        assert_eq!(parent_domain(&broken).len(), 1);
        assert!(lookup_failed(&broken).is_empty());
        let missing = with_srv(Vec::new(), Some("the SRV lookup of x returned no records"));
        assert!(parent_domain(&missing).is_empty());
        assert_eq!(lookup_failed(&missing)[0].severity, Severity::Error);
        let fine = with_srv(vec![record("a.example.net.", 300)], None);
        assert!(lookup_failed(&fine).is_empty() && parent_domain(&fine).is_empty());
    }

    #[test]
    fn a_single_target_and_low_ttls_are_named() {
        let one = with_srv(vec![record("a.example.net.", 30)], None);
        assert_eq!(single_target(&one)[0].servers, ["a.example.net:27017"]);
        assert!(low_ttl(&one)[0].evidence.contains("TTL 30 s"));
        let two = with_srv(
            vec![record("a.example.net.", 300), record("b.example.net.", 300)],
            None,
        );
        assert!(single_target(&two).is_empty());
        assert!(low_ttl(&two).is_empty());
    }

    #[test]
    fn srv_max_hosts_with_a_replica_set() {
        let mut observations = observe("mongodb+srv://cluster0.example.net/?srvMaxHosts=2");
        assert!(max_hosts_with_replica_set(&observations).is_empty());
        observations.topology = Some(topology(TopologyType::ReplicaSetWithPrimary));
        assert_eq!(max_hosts_with_replica_set(&observations).len(), 1);
    }

    #[test]
    fn txt_options_are_listed() {
        let mut observations = with_srv(vec![record("a.example.net.", 300)], None);
        assert!(txt_options(&observations).is_empty());
        if let Some(srv) = observations.srv.as_mut() {
            srv.txt_options = vec![("replicaSet".into(), "rs0".into())];
        }
        assert!(txt_options(&observations)[0]
            .evidence
            .contains("replicaSet=rs0"));
    }
}
