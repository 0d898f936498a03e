//! Names: the set name each server reports, the names members advertise against the names
//! the seeds use, advertised names this host cannot reach, seeds outside the member list,
//! duplicate seeds, and seed lists made only of members that can never be primary.

use std::collections::BTreeMap;

use mongo_topology::ServerAddress;

use super::text::list;
use crate::cli::doctor::finding::{Finding, Severity};
use crate::cli::doctor::observations::{Observations, Probe};

/// A server reports another replica set name.
pub const SET_NAME_MISMATCH: &str = "names.set-name-mismatch";
/// A seed answers under another name (`me`).
pub const ADVERTISED_DIFFERS: &str = "names.advertised-differs";
/// An advertised member name that does not resolve or connect from this host.
pub const MEMBER_UNREACHABLE: &str = "names.member-unreachable";
/// A seed that is not in the member list.
pub const SEED_NOT_MEMBER: &str = "names.seed-not-member";
/// The same server twice in the seed list.
pub const DUPLICATE_SEEDS: &str = "names.duplicate-seeds";
/// Every seed is an arbiter, hidden or passive.
pub const SEEDS_NOT_ELECTABLE: &str = "names.seeds-not-electable";

/// Whether the probe failed on the name (lookup) or the TCP connection, as opposed to a
/// server that accepted and then did not answer.
pub fn failed_to_reach(probe: &Probe) -> Option<&str> {
    let error = probe.hello.as_ref()?.as_ref().err()?;
    (error.starts_with("cannot resolve") || error.starts_with("cannot connect")).then_some(error)
}

/// What was tried for a probe: the addresses its name resolved to.
pub fn addresses_tried(probe: &Probe) -> String {
    match &probe.resolved {
        Some(Ok(ips)) if !ips.is_empty() => {
            let ips: Vec<String> = ips.iter().map(ToString::to_string).collect();
            format!("resolves to {}", ips.join(", "))
        }
        Some(Ok(_)) => "resolves to no address".to_owned(),
        Some(Err(error)) => format!("does not resolve ({error})"),
        None => "was not looked up apart from the connection (--dns-server)".to_owned(),
    }
}

/// `names.set-name-mismatch`: per server, the set name it reported.
pub fn set_name_mismatch(observations: &Observations) -> Vec<Finding> {
    let wanted = observations.uri.replica_set();
    let mut by_name: BTreeMap<&str, Vec<&ServerAddress>> = BTreeMap::new();
    for (address, hello) in observations.hellos() {
        if let Ok(name) = hello.get_str("setName") {
            by_name.entry(name).or_default().push(address);
        }
    }
    match wanted {
        Some(wanted) => not_a_set_member(observations, wanted)
            .into_iter()
            .chain(by_name
            .iter()
            .filter(|(name, _)| **name != wanted)
            .flat_map(|(name, servers)| servers.iter().map(move |server| (name, server)))
            .map(|(name, server)| {
                Finding::new(
                    SET_NAME_MISMATCH,
                    Severity::Error,
                    format!("{server} reports replica set name {name:?}; the connection string asks for replicaSet={wanted:?}"),
                    "the client removes this server from the topology: it is never used, and \
                     if every seed is like it the application finds no server at all",
                    format!("use replicaSet={name} if this is the set you meant, or remove {server} from the seed list"),
                )
                .servers([server])
            }))
            .collect(),
        None if by_name.len() > 1 => {
            let names: Vec<String> = by_name
                .iter()
                .map(|(name, servers)| {
                    let servers: Vec<String> = servers.iter().map(ToString::to_string).collect();
                    format!("{name:?} ({})", servers.join(", "))
                })
                .collect();
            vec![Finding::new(
                SET_NAME_MISMATCH,
                Severity::Error,
                format!("the seeds belong to different replica sets: {}", list(&names)),
                "the client follows whichever set answers first and drops the others' servers",
                "seed one replica set only, and name it with replicaSet=",
            )
            .servers(by_name.values().flatten())]
        }
        None => Vec::new(),
    }
}

/// With `replicaSet`: servers that answered as no replica set member at all (a
/// standalone, a mongos), which the client removes as it removes another set's members.
fn not_a_set_member(observations: &Observations, wanted: &str) -> Vec<Finding> {
    observations
        .hellos()
        .filter(|(_, hello)| {
            hello.get_str("setName").is_err() && !hello.get_bool("isreplicaset").unwrap_or(false)
        })
        .map(|(server, hello)| {
            let what = if hello.get_str("msg").is_ok_and(|msg| msg == "isdbgrid") {
                "a mongos router"
            } else {
                "a standalone server"
            };
            Finding::new(
                SET_NAME_MISMATCH,
                Severity::Error,
                format!(
                    "{server} reports no replica set name (it is {what}); the connection string \
                     asks for replicaSet={wanted:?}"
                ),
                "the client removes this server from the topology: it is never used, and if \
                 every seed is like it the application finds no server at all",
                format!("remove replicaSet={wanted} to use {server} as it is, or seed with the set's members"),
            )
            .servers([server])
        })
        .collect()
}

/// `names.advertised-differs`: a seed whose hello `me` is another name.
pub fn advertised_differs(observations: &Observations) -> Vec<Finding> {
    if observations.direct() || observations.load_balanced() {
        return Vec::new();
    }
    observations
        .seeds
        .iter()
        .filter_map(|seed| {
            let hello = observations.hello(seed)?;
            let me = ServerAddress::parse(hello.get_str("me").ok()?).ok()?;
            (me != *seed).then_some((seed, me))
        })
        .map(|(seed, me)| {
            let reachable = observations
                .probes
                .get(&me)
                .and_then(|probe| probe.hello.as_ref())
                .is_some_and(Result::is_ok);
            let (severity, consequence) = if reachable {
                (
                    Severity::Warning,
                    format!(
                        "the client drops {seed} and uses {me} instead: it works from this \
                         host, but only because {me} also resolves and connects here"
                    ),
                )
            } else {
                (
                    Severity::Error,
                    format!(
                        "the client drops {seed} and uses {me}, which does not answer from \
                         this host: operations time out after serverSelectionTimeoutMS"
                    ),
                )
            };
            Finding::new(
                ADVERTISED_DIFFERS,
                severity,
                format!("seed {seed} answers as me={me}; the set's members are known by the names in its config"),
                consequence,
                format!(
                    "seed with the advertised names ({me}), or make the replica set config \
                     advertise names every application host can resolve and reach \
                     (Docker/Kubernetes: the service name, not the container's), or give \
                     outside clients split-horizon names{}; directConnection=true is not a \
                     fix: it turns failover off",
                    horizon_note(observations, seed)
                ),
            )
            .servers([seed.to_string(), me.to_string()])
        })
        .collect()
}

/// Why a split horizon cannot apply to this seed, if it cannot: the server picks the
/// horizon by the TLS SNI, which a plain connection or an IP literal does not send.
fn horizon_note(observations: &Observations, seed: &ServerAddress) -> &'static str {
    if !observations.uri.tls() {
        " (horizons are chosen by TLS SNI: without tls=true a member always answers with \
         its default names)"
    } else if seed.host().parse::<std::net::IpAddr>().is_ok() {
        " (an IP-literal seed sends no SNI: connect by the horizon's host name)"
    } else {
        " (this name matches no horizon of the member: use a horizon's host name)"
    }
}

/// `names.member-unreachable`: advertised members whose name does not resolve or whose
/// address refuses connections from this host, with the addresses tried.
pub fn member_unreachable(observations: &Observations) -> Vec<Finding> {
    if observations.load_balanced() {
        return Vec::new();
    }
    let members = observations.advertised_members();
    members
        .iter()
        .filter_map(|member| {
            let probe = observations.probes.get(member)?;
            Some((member, probe, failed_to_reach(probe)?))
        })
        .map(|(member, probe, error)| {
            let (severity, consequence) = if observations.direct() {
                (
                    Severity::Warning,
                    "with directConnection=true the application never uses it, but it also \
                     never fails over: without the direct connection it could not reach this \
                     member"
                        .to_owned(),
                )
            } else {
                (
                    Severity::Error,
                    format!(
                        "the client cannot use {member}: when it is (or becomes) the primary, \
                         writes fail with a server selection timeout"
                    ),
                )
            };
            Finding::new(
                MEMBER_UNREACHABLE,
                severity,
                format!(
                    "the set advertises {member}; from this host it {}; {error}",
                    addresses_tried(probe)
                ),
                consequence,
                "make the names in the replica set config resolvable and reachable from \
                 application hosts (DNS, /etc/hosts, routing, firewall); or configure \
                 split-horizon names for outside clients",
            )
            .servers([member])
        })
        .collect()
}

/// `names.seed-not-member`: seeds that answered but are not in the member list.
pub fn seed_not_member(observations: &Observations) -> Vec<Finding> {
    if observations.direct() || observations.load_balanced() {
        return Vec::new();
    }
    let members = observations.advertised_members();
    if members.is_empty() {
        return Vec::new();
    }
    let wanted = observations.uri.replica_set();
    observations
        .seeds
        .iter()
        .filter(|seed| !members.contains(*seed))
        .filter(|seed| {
            // Seeds with another name or another set name have findings of their own.
            observations.hello(seed).is_some_and(|hello| {
                let me_differs = hello
                    .get_str("me")
                    .ok()
                    .and_then(|me| ServerAddress::parse(me).ok())
                    .is_some_and(|me| me != **seed);
                let set_differs = match (wanted, hello.get_str("setName")) {
                    (Some(wanted), Ok(name)) => wanted != name,
                    _ => false,
                };
                !me_differs && !set_differs
            })
        })
        .map(|seed| {
            let members: Vec<String> = members.iter().map(ToString::to_string).collect();
            Finding::new(
                SEED_NOT_MEMBER,
                Severity::Warning,
                format!(
                    "seed {seed} is not in the set's member list ({})",
                    members.join(", ")
                ),
                "the client removes it: it only helped discovery, and a start while the real \
                 members are unreachable fails",
                format!("replace {seed} by the members' names"),
            )
            .servers([seed])
        })
        .collect()
}

/// `names.duplicate-seeds`: the same server twice (same address after normalisation, or
/// two names with the same resolved address and port).
pub fn duplicate_seeds(observations: &Observations) -> Vec<Finding> {
    let seeds = &observations.seeds;
    let mut findings = Vec::new();
    for (i, a) in seeds.iter().enumerate() {
        for b in &seeds[i + 1..] {
            let same_name = a == b;
            let same_ip = !same_name
                && a.port() == b.port()
                && resolved_ips(observations, a)
                    .iter()
                    .any(|ip| resolved_ips(observations, b).contains(ip));
            if same_name || same_ip {
                let evidence = if same_name {
                    format!("{a} is in the seed list twice")
                } else {
                    format!("seeds {a} and {b} resolve to the same address and port")
                };
                findings.push(
                    Finding::new(
                        DUPLICATE_SEEDS,
                        Severity::Warning,
                        evidence,
                        "the same server is monitored twice; when it advertises one of the \
                         names, the other is removed, and the seed list has one server fewer \
                         than it seems",
                        "list each member once, under the name the replica set config uses",
                    )
                    .servers([a.to_string(), b.to_string()]),
                );
            }
        }
    }
    findings
}

fn resolved_ips(observations: &Observations, address: &ServerAddress) -> Vec<std::net::IpAddr> {
    match observations
        .probes
        .get(address)
        .and_then(|p| p.resolved.as_ref())
    {
        Some(Ok(ips)) => ips.clone(),
        _ => Vec::new(),
    }
}

/// `names.seeds-not-electable`: every seed that answered is an arbiter, hidden or
/// passive.
pub fn seeds_not_electable(observations: &Observations) -> Vec<Finding> {
    if observations.direct() || observations.load_balanced() {
        return Vec::new();
    }
    let answered: Vec<(&ServerAddress, &str)> = observations
        .seeds
        .iter()
        .filter_map(|seed| {
            let hello = observations.hello(seed)?;
            hello.get_str("setName").ok()?;
            let role = if hello.get_bool("arbiterOnly").unwrap_or(false) {
                "arbiter"
            } else if hello.get_bool("hidden").unwrap_or(false) {
                "hidden"
            } else if hello.get_bool("passive").unwrap_or(false) {
                "passive"
            } else {
                ""
            };
            Some((seed, role))
        })
        .collect();
    if answered.is_empty() || answered.iter().any(|(_, role)| role.is_empty()) {
        return Vec::new();
    }
    let roles: Vec<String> = answered
        .iter()
        .map(|(seed, role)| format!("{seed} ({role})"))
        .collect();
    vec![Finding::new(
        SEEDS_NOT_ELECTABLE,
        Severity::Warning,
        format!(
            "every seed is an arbiter, hidden or passive member: {}",
            list(&roles)
        ),
        "discovery depends on members that never serve the application (hidden members are \
         not even in the others' host lists); if they are removed or down, new application \
         instances cannot start",
        "seed with the data-bearing, electable members",
    )
    .servers(answered.iter().map(|(seed, _)| seed))]
}

#[cfg(test)]
mod tests {
    use mongo_topology::bson::doc;

    use super::super::fixtures::{healthy_set, member, observe, with_failure, with_hello, MEMBERS};
    use super::*;

    #[test]
    fn a_server_of_another_set_is_named_with_its_set_name() {
        let mut observations = healthy_set("mongodb://a,b,c/?replicaSet=rs0");
        assert!(set_name_mismatch(&observations).is_empty());
        let mut other = member("c:27017", false);
        other.insert("setName", "other");
        with_hello(&mut observations, "c:27017", other);
        let findings = set_name_mismatch(&observations);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].servers, ["c:27017"]);
        assert!(findings[0].evidence.contains("\"other\""), "{findings:?}");
        assert_eq!(findings[0].severity, Severity::Error);
    }

    #[test]
    fn a_standalone_seeded_with_a_replica_set_name() {
        let mut observations = observe("mongodb://s/?replicaSet=rs0");
        with_hello(
            &mut observations,
            "s:27017",
            doc! {"isWritablePrimary": true, "ok": 1},
        );
        let findings = set_name_mismatch(&observations);
        assert!(
            findings[0].evidence.contains("a standalone server"),
            "{findings:?}"
        );
        let mut observations = observe("mongodb://s/");
        with_hello(
            &mut observations,
            "s:27017",
            doc! {"isWritablePrimary": true, "ok": 1},
        );
        assert!(set_name_mismatch(&observations).is_empty());
    }

    #[test]
    fn seeds_of_two_sets_without_replica_set() {
        let mut observations = healthy_set("mongodb://a,c");
        assert!(set_name_mismatch(&observations).is_empty());
        let mut other = member("c:27017", false);
        other.insert("setName", "other");
        with_hello(&mut observations, "c:27017", other);
        assert_eq!(set_name_mismatch(&observations).len(), 1);
    }

    #[test]
    fn a_seed_answering_as_another_name() {
        let mut observations = healthy_set("mongodb://127.0.0.1:27017/?replicaSet=rs0");
        assert!(advertised_differs(&observations).is_empty());
        with_hello(
            &mut observations,
            "127.0.0.1:27017",
            member("a:27017", true),
        );
        let findings = advertised_differs(&observations);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].servers, ["127.0.0.1:27017", "a:27017"]);
        assert_eq!(findings[0].severity, Severity::Warning);
        with_failure(
            &mut observations,
            "a:27017",
            "cannot resolve a: no such host",
        );
        assert_eq!(
            advertised_differs(&observations)[0].severity,
            Severity::Error
        );
    }

    #[test]
    fn an_advertised_member_that_does_not_resolve() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0");
        assert!(member_unreachable(&observations).is_empty());
        with_failure(
            &mut observations,
            "b:27017",
            "cannot resolve b: no such host",
        );
        if let Some(probe) = observations.probes.get_mut(&addr("b:27017")) {
            probe.resolved = Some(Err("no such host".into()));
        }
        let findings = member_unreachable(&observations);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].servers, ["b:27017"]);
        assert!(
            findings[0].evidence.contains("does not resolve"),
            "{findings:?}"
        );
        // A member that accepted and then did not answer is another rule's.
        with_failure(&mut observations, "b:27017", "timed out during connect");
        assert!(member_unreachable(&observations).is_empty());
    }

    use super::super::fixtures::addr;

    #[test]
    fn a_seed_outside_the_member_list() {
        let mut observations = healthy_set("mongodb://a,d/?replicaSet=rs0");
        assert!(seed_not_member(&observations).is_empty());
        let mut stray = member("d:27017", false);
        stray.insert("hosts", vec!["a:27017", "b:27017", "c:27017"]);
        with_hello(&mut observations, "d:27017", stray);
        let findings = seed_not_member(&observations);
        assert_eq!(findings[0].servers, ["d:27017"]);
    }

    #[test]
    fn duplicate_seeds_found() {
        let observations = healthy_set("mongodb://a,A:27017");
        let findings = duplicate_seeds(&observations);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(findings[0].evidence.contains("twice"));
        let mut observations = healthy_set("mongodb://x:1,y:1");
        assert!(duplicate_seeds(&observations).is_empty());
        for seed in ["x:1", "y:1"] {
            with_hello(&mut observations, seed, doc! {"ok": 1});
            if let Some(probe) = observations.probes.get_mut(&addr(seed)) {
                probe.resolved = Some(Ok(vec!["10.0.0.1".parse().unwrap()]));
            }
        }
        assert!(duplicate_seeds(&observations)[0]
            .evidence
            .contains("same address"));
        let observations = healthy_set("mongodb://x:1,y:2");
        assert!(duplicate_seeds(&observations).is_empty());
    }

    #[test]
    fn seeds_that_are_all_arbiters() {
        let mut observations = healthy_set("mongodb://c/?replicaSet=rs0");
        assert!(seeds_not_electable(&observations).is_empty());
        let mut arbiter = member(MEMBERS[2], false);
        arbiter.insert("arbiterOnly", true);
        with_hello(&mut observations, "c:27017", arbiter);
        assert_eq!(seeds_not_electable(&observations)[0].servers, ["c:27017"]);
    }
}
