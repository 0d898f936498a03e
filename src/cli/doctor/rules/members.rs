//! Members: not answering, not ready (RECOVERING, STARTUP, ROLLBACK), ghosts, lagging
//! secondaries, members the set calls healthy that this host cannot reach, and two members
//! claiming to be primary.

use std::time::Duration;

use mongo_topology::bson::Document;
use mongo_topology::ServerAddress;

use super::names::failed_to_reach;
use crate::cli::doctor::finding::{Finding, Severity};
use crate::cli::doctor::observations::{is_primary_hello, Observations};

/// Members that accept connections but do not answer.
pub const UNREACHABLE: &str = "members.unreachable";
/// Members in RECOVERING, STARTUP, ROLLBACK.
pub const NOT_READY: &str = "members.not-ready";
/// Members without a replica set config (RSGhost).
pub const GHOST: &str = "members.ghost";
/// A secondary lagging behind the primary.
pub const LAGGING: &str = "members.lagging";
/// The set's own view differs from this host's.
pub const SERVER_VIEW_DIFFERS: &str = "members.server-view-differs";
/// Two members claim to be primary.
pub const TWO_PRIMARIES: &str = "members.two-primaries";

/// A secondary further behind than this is lagging.
pub const LAG_LIMIT: Duration = Duration::from_secs(10);

/// `members.unreachable`: servers that did not answer hello: accepted and stayed silent,
/// answered with an error, or (for servers that are not advertised replica set members,
/// e.g. mongos routers and standalone seeds) could not be resolved or connected to.
/// Advertised members that cannot be resolved or connected to are
/// `names.member-unreachable`'s; TLS failures are the `tls.*` rules'.
pub fn unreachable(observations: &Observations) -> Vec<Finding> {
    if observations.hellos().next().is_none() || observations.load_balanced() {
        // Nothing answered at all: `verdict.nothing-reachable` names every server; behind
        // a balancer, the `lb.*` rules speak for the one address.
        return Vec::new();
    }
    let usable_answers = observations.hellos().any(|(_, hello)| {
        is_primary_hello(hello) || hello.get_str("msg").is_ok_and(|msg| msg == "isdbgrid")
    });
    let advertised = observations.advertised_members();
    observations
        .probes
        .iter()
        .filter(|(address, _)| !observations.tls_explains(address))
        .filter_map(|(address, probe)| {
            let error = probe.hello.as_ref()?.as_ref().err()?;
            let names_rule = advertised.contains(address) && failed_to_reach(probe).is_some();
            (!names_rule).then_some((address, error))
        })
        .map(|(address, error)| {
            let (severity, consequence) = if usable_answers {
                (
                    Severity::Warning,
                    "the application works without it, with less redundancy: what it would \
                     serve goes elsewhere, and one more failure may cost the majority (or the \
                     last router)",
                )
            } else {
                (
                    Severity::Error,
                    "no primary (or mongos) answered: writes fail until one does",
                )
            };
            Finding::new(
                UNREACHABLE,
                severity,
                format!("{address} did not answer hello: {error}"),
                consequence,
                "check the server (stopped or frozen process, full disk, overloaded host, a \
                 firewall dropping packets); connections to it wait connectTimeoutMS each time",
            )
            .servers([address])
        })
        .collect()
}

/// The member state names of `replSetGetStatus` for `address`, from any member's view.
fn state_in_status(observations: &Observations, address: &ServerAddress) -> Option<String> {
    observations.probes.values().find_map(|probe| {
        let status = probe.set_status.as_ref()?;
        status.get_array("members").ok()?.iter().find_map(|m| {
            let m = m.as_document()?;
            let name = ServerAddress::parse(m.get_str("name").ok()?).ok()?;
            (name == *address).then(|| m.get_str("stateStr").ok().map(str::to_owned))?
        })
    })
}

fn is_ghost(hello: &Document) -> bool {
    hello.get_bool("isreplicaset").unwrap_or(false) && hello.get_str("setName").is_err()
}

/// `members.not-ready`: members that are in the set but neither primary, secondary,
/// arbiter nor hidden (RSOther: RECOVERING, STARTUP2, ROLLBACK).
pub fn not_ready(observations: &Observations) -> Vec<Finding> {
    observations
        .hellos()
        .filter(|(_, hello)| {
            hello.get_str("setName").is_ok()
                && !is_primary_hello(hello)
                && !hello.get_bool("secondary").unwrap_or(false)
                && !hello.get_bool("arbiterOnly").unwrap_or(false)
        })
        .map(|(address, _)| {
            let state = state_in_status(observations, address).unwrap_or_else(|| {
                "not primary, secondary nor arbiter (RECOVERING, STARTUP2 or ROLLBACK)".to_owned()
            });
            Finding::new(
                NOT_READY,
                Severity::Warning,
                format!("{address} is a member in state {state}"),
                "it serves no reads and cannot be elected: the set has one member fewer than \
                 it seems until it catches up",
                "wait for it to finish (initial sync, rollback); if it stays so, read its log \
                 (too stale to catch up needs a resync)",
            )
            .servers([address])
        })
        .collect()
}

/// `members.ghost`: servers without a replica set config.
pub fn ghost(observations: &Observations) -> Vec<Finding> {
    observations
        .hellos()
        .filter(|(_, hello)| is_ghost(hello))
        .map(|(address, _)| {
            let state = state_in_status(observations, address)
                .map(|state| format!("; the set says it is in state {state}"))
                .unwrap_or_default();
            Finding::new(
                GHOST,
                Severity::Warning,
                format!(
                    "{address} runs with --replSet but has no replica set config (RSGhost){state}"
                ),
                "it serves nothing; as a seed it only delays discovery",
                "add it with rs.add() (or rs.initiate() on a new set), or remove it from the \
                 seed list",
            )
            .servers([address])
        })
        .collect()
}

/// `lastWrite.lastWriteDate` of a hello reply, in milliseconds.
fn last_write_millis(hello: &Document) -> Option<i64> {
    Some(
        hello
            .get_document("lastWrite")
            .ok()?
            .get_datetime("lastWriteDate")
            .ok()?
            .timestamp_millis(),
    )
}

/// `members.lagging`: secondaries whose last write is more than [`LAG_LIMIT`] behind the
/// primary's.
pub fn lagging(observations: &Observations) -> Vec<Finding> {
    let Some(primary) = observations
        .hellos()
        .find(|(_, hello)| is_primary_hello(hello))
        .and_then(|(_, hello)| last_write_millis(hello))
    else {
        return Vec::new();
    };
    observations
        .hellos()
        .filter(|(_, hello)| hello.get_bool("secondary").unwrap_or(false))
        .filter_map(|(address, hello)| {
            let behind = primary.saturating_sub(last_write_millis(hello)?);
            let behind = Duration::from_millis(u64::try_from(behind).ok()?);
            (behind > LAG_LIMIT).then_some((address, behind))
        })
        .map(|(address, behind)| {
            Finding::new(
                LAGGING,
                Severity::Warning,
                format!(
                    "{address}'s last write is {} s behind the primary's (limit {} s)",
                    behind.as_secs(),
                    LAG_LIMIT.as_secs()
                ),
                "reads from it return old data; if it is elected, writes not yet replicated \
                 to it are rolled back; majority writes wait for it when it is needed for \
                 the majority",
                "find why it is behind (network, disk, an index build); use \
                 maxStalenessSeconds to keep secondary reads off lagging members",
            )
            .servers([address])
        })
        .collect()
}

/// `members.server-view-differs`: members that `replSetGetStatus` calls healthy and that
/// this host cannot reach.
pub fn server_view_differs(observations: &Observations) -> Vec<Finding> {
    let mut findings = Vec::new();
    let Some((reporter, status)) = observations
        .probes
        .iter()
        .find_map(|(address, probe)| Some((address, probe.set_status.as_ref()?)))
    else {
        return findings;
    };
    let Ok(members) = status.get_array("members") else {
        return findings;
    };
    for member in members.iter().filter_map(|m| m.as_document()) {
        let healthy = member.get_f64("health").is_ok_and(|h| h >= 1.0)
            || member.get_i32("health").is_ok_and(|h| h >= 1);
        let Some(name) = member
            .get_str("name")
            .ok()
            .and_then(|n| ServerAddress::parse(n).ok())
        else {
            continue;
        };
        // A route problem: the name, the TCP connection or its timeout; a server that
        // accepted and then stayed silent is `members.unreachable`'s.
        let failed = observations.probes.get(&name).and_then(|probe| {
            let error = probe.hello.as_ref()?.as_ref().err()?;
            (failed_to_reach(probe).is_some() || error.contains("during connect")).then_some(error)
        });
        if let (true, Some(error)) = (healthy, failed) {
            findings.push(
                Finding::new(
                    SERVER_VIEW_DIFFERS,
                    Severity::Error,
                    format!(
                        "replSetGetStatus on {reporter} calls {name} healthy ({}); from this \
                         host: {error}",
                        member.get_str("stateStr").unwrap_or("?")
                    ),
                    "the servers reach each other but the application host does not reach \
                     this member: the set looks fine from mongosh on a member while the \
                     application fails when this member is needed",
                    "open the route from the application hosts to this member's advertised \
                     name and port (firewall, security group, DNS)",
                )
                .servers([name]),
            );
        }
    }
    findings
}

/// `members.two-primaries`: more than one member answered as primary.
pub fn two_primaries(observations: &Observations) -> Vec<Finding> {
    let primaries: Vec<(&ServerAddress, String)> = observations
        .hellos()
        .filter(|(_, hello)| is_primary_hello(hello))
        .map(|(address, hello)| {
            let election = hello
                .get_object_id("electionId")
                .map(|id| id.to_hex())
                .unwrap_or_else(|_| "none".to_owned());
            (address, election)
        })
        .collect();
    if primaries.len() < 2 {
        return Vec::new();
    }
    let each: Vec<String> = primaries
        .iter()
        .map(|(address, election)| format!("{address} (electionId {election})"))
        .collect();
    vec![Finding::new(
        TWO_PRIMARIES,
        Severity::Warning,
        format!(
            "more than one member answers as primary: {}",
            each.join(", ")
        ),
        "a stale primary (on the losing side of a partition, or not yet aware of a newer \
         election) accepts writes that will be rolled back; drivers follow the newest \
         electionId",
        "check the network between the members; the stale primary steps down when it sees \
         the new term",
    )
    .servers(primaries.iter().map(|(address, _)| address))]
}

#[cfg(test)]
mod tests {
    use mongo_topology::bson::{doc, DateTime};

    use super::super::fixtures::{addr, healthy_set, member, with_failure, with_hello};
    use super::*;

    #[test]
    fn a_frozen_member_is_named() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0");
        assert!(unreachable(&observations).is_empty());
        with_failure(&mut observations, "c:27017", "timed out during connect");
        let findings = unreachable(&observations);
        assert_eq!(findings[0].servers, ["c:27017"]);
        assert_eq!(findings[0].severity, Severity::Warning);
        with_failure(&mut observations, "a:27017", "timed out during connect");
        assert_eq!(unreachable(&observations)[0].severity, Severity::Error);
    }

    #[test]
    fn a_stopped_router_is_named_and_a_stopped_member_left_to_the_names_rule() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0");
        with_failure(
            &mut observations,
            "c:27017",
            "cannot connect to c:27017: refused",
        );
        assert!(
            unreachable(&observations).is_empty(),
            "names.member-unreachable's"
        );
        let mut routers = super::super::fixtures::observe("mongodb://r1,r2/");
        with_hello(
            &mut routers,
            "r1:27017",
            doc! {"msg": "isdbgrid", "isWritablePrimary": true},
        );
        with_failure(
            &mut routers,
            "r2:27017",
            "cannot connect to r2:27017: refused",
        );
        let findings = unreachable(&routers);
        assert_eq!(findings[0].servers, ["r2:27017"]);
        assert_eq!(findings[0].severity, Severity::Warning);
    }

    #[test]
    fn a_recovering_member_and_a_ghost() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0");
        assert!(not_ready(&observations).is_empty() && ghost(&observations).is_empty());
        let mut recovering = member("c:27017", false);
        recovering.insert("secondary", false);
        with_hello(&mut observations, "c:27017", recovering);
        assert_eq!(not_ready(&observations)[0].servers, ["c:27017"]);
        with_hello(
            &mut observations,
            "d:27017",
            doc! {"isreplicaset": true, "isWritablePrimary": false, "ok": 1},
        );
        assert_eq!(ghost(&observations)[0].servers, ["d:27017"]);
    }

    #[test]
    fn a_lagging_secondary() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0");
        assert!(lagging(&observations).is_empty());
        let mut behind = member("c:27017", false);
        behind.insert(
            "lastWrite",
            doc! {"lastWriteDate": DateTime::from_millis(1_800_000_000_000 - 60_000)},
        );
        with_hello(&mut observations, "c:27017", behind);
        assert!(lagging(&observations)[0].evidence.contains("60 s behind"));
    }

    #[test]
    fn the_set_calls_healthy_a_member_this_host_cannot_reach() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0");
        let status = doc! {"members": [
            {"name": "a:27017", "health": 1.0, "stateStr": "PRIMARY"},
            {"name": "c:27017", "health": 1.0, "stateStr": "SECONDARY"},
        ]};
        if let Some(probe) = observations.probes.get_mut(&addr("a:27017")) {
            probe.set_status = Some(status);
        }
        assert!(server_view_differs(&observations).is_empty());
        with_failure(&mut observations, "c:27017", "timed out during read");
        assert!(
            server_view_differs(&observations).is_empty(),
            "a frozen process, not a route"
        );
        with_failure(
            &mut observations,
            "c:27017",
            "cannot connect to c:27017: refused",
        );
        assert_eq!(server_view_differs(&observations)[0].servers, ["c:27017"]);
    }

    #[test]
    fn two_members_answering_as_primary() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0");
        assert!(two_primaries(&observations).is_empty());
        with_hello(&mut observations, "b:27017", member("b:27017", true));
        assert_eq!(
            two_primaries(&observations)[0].servers,
            ["a:27017", "b:27017"]
        );
    }
}
