//! Unit tests of the topology fields derived from all servers (SDAM "Checking wire protocol
//! compatibility" and "Logical Session Timeout") and of member discovery through passives,
//! arbiters and hidden members, which the spec suites touch only in passing.

use std::sync::Arc;

use bson::{doc, Document};

use crate::address::ServerAddress;
use crate::sdam::hello::CheckTiming;
use crate::sdam::server::ServerType;
use crate::sdam::settings::TopologySettings;
use crate::sdam::topology::{TopologyDescription, TopologyType};
use crate::sdam::{Topology, CLIENT_MAX_WIRE_VERSION, CLIENT_MIN_WIRE_VERSION};
use crate::time::MonotonicTime;

fn addr(text: &str) -> ServerAddress {
    ServerAddress::parse(text).unwrap()
}

fn open(seeds: &[&str], set_name: Option<&str>) -> Topology {
    let mut settings = TopologySettings::new(seeds.iter().map(|s| addr(s)).collect());
    settings.replica_set_name = set_name.map(str::to_string);
    Topology::new(settings, MonotonicTime::ZERO).unwrap().0
}

fn check(topology: &mut Topology, host: &str, reply: Document) -> Arc<TopologyDescription> {
    let changes = topology.apply_hello(
        &addr(host),
        &reply,
        CheckTiming::at(MonotonicTime::from_millis(7)),
    );
    changes.description
}

fn mongos(min_wire: i32, max_wire: i32) -> Document {
    doc! { "ok": 1, "msg": "isdbgrid", "minWireVersion": min_wire, "maxWireVersion": max_wire }
}

#[test]
fn a_server_needing_a_newer_client_makes_the_topology_incompatible() {
    let mut topology = open(&["m1.example:27100", "m2.example:27100"], None);
    let too_new = CLIENT_MAX_WIRE_VERSION + 3;
    let td = check(
        &mut topology,
        "m1.example:27100",
        mongos(too_new, too_new + 2),
    );
    assert!(!td.is_compatible());
    assert_eq!(
        td.compatibility_error.as_deref(),
        Some(
            format!(
                "Server at m1.example:27100 requires wire version {too_new}, but this version \
                 of mongo-topology only supports up to {CLIENT_MAX_WIRE_VERSION}."
            )
            .as_str()
        )
    );
    // Once that server reports a range the client speaks, the topology is compatible again.
    let td = check(
        &mut topology,
        "m1.example:27100",
        mongos(0, CLIENT_MAX_WIRE_VERSION),
    );
    assert!(td.is_compatible(), "{:?}", td.compatibility_error);
}

#[test]
fn a_server_older_than_the_client_names_the_required_mongodb_release() {
    let mut topology = open(&["m1.example:27100", "m2.example:27100"], None);
    let td = check(
        &mut topology,
        "m2.example:27100",
        mongos(0, CLIENT_MIN_WIRE_VERSION - 1),
    );
    assert_eq!(
        td.compatibility_error.as_deref(),
        Some(
            format!(
                "Server at m2.example:27100 reports wire version {}, but this version of \
                 mongo-topology requires at least {CLIENT_MIN_WIRE_VERSION} (MongoDB 4.2).",
                CLIENT_MIN_WIRE_VERSION - 1
            )
            .as_str()
        )
    );
    // A server that becomes Unknown no longer counts.
    let td = check(
        &mut topology,
        "m2.example:27100",
        doc! { "ok": 0, "errmsg": "gone" },
    );
    assert!(td.is_compatible());
}

fn member(kind: &str, session_minutes: Option<i64>) -> Document {
    let mut reply = doc! {
        "ok": 1, "setName": "south", "minWireVersion": 0, "maxWireVersion": 21,
        "hosts": ["n1:27017", "n2:27017", "n3:27017", "n4:27017"],
    };
    match kind {
        "primary" => reply.insert("isWritablePrimary", true),
        "secondary" => reply.insert("secondary", true),
        "arbiter" => reply.insert("arbiterOnly", true),
        _ => reply.insert("hidden", true),
    };
    if let Some(minutes) = session_minutes {
        reply.insert("logicalSessionTimeoutMinutes", minutes);
    }
    reply
}

#[test]
fn the_session_timeout_is_the_smallest_among_data_bearing_members_only() {
    let mut topology = open(&["n1:27017"], Some("south"));
    let td = check(&mut topology, "n1:27017", member("primary", Some(45)));
    assert_eq!(td.logical_session_timeout_minutes, Some(45));
    let td = check(&mut topology, "n2:27017", member("secondary", Some(20)));
    assert_eq!(td.logical_session_timeout_minutes, Some(20));
    // An arbiter and a hidden (RSOther) member are not data-bearing: their values, and
    // their lack of one, are ignored.
    let td = check(&mut topology, "n3:27017", member("arbiter", None));
    assert_eq!(td.logical_session_timeout_minutes, Some(20));
    let td = check(&mut topology, "n4:27017", member("hidden", Some(5)));
    assert_eq!(
        td.server(&addr("n4:27017")).unwrap().server_type,
        ServerType::RsOther
    );
    assert_eq!(td.logical_session_timeout_minutes, Some(20));
    // One data-bearing member without the field makes the topology's value null.
    let td = check(&mut topology, "n2:27017", member("secondary", None));
    assert_eq!(td.logical_session_timeout_minutes, None);
}

#[test]
fn no_data_bearing_server_means_no_session_timeout() {
    let mut topology = open(&["n1:27017"], Some("south"));
    let td = check(&mut topology, "n1:27017", member("arbiter", Some(30)));
    assert_eq!(td.topology_type, TopologyType::ReplicaSetNoPrimary);
    assert_eq!(td.logical_session_timeout_minutes, None);
}

#[test]
fn a_secondary_reports_passives_and_arbiters_as_members_to_monitor() {
    let mut topology = open(&["n1:27017"], Some("south"));
    let reply = doc! {
        "ok": 1, "secondary": true, "setName": "south", "minWireVersion": 0,
        "maxWireVersion": 21, "hosts": ["n1:27017"], "passives": ["P5:27017"],
        "arbiters": ["n6:27018"], "primary": "n6:27018",
    };
    let td = check(&mut topology, "n1:27017", reply);
    let types: Vec<(String, ServerType)> = td
        .servers
        .values()
        .map(|s| (s.address.to_string(), s.server_type))
        .collect();
    assert_eq!(
        types,
        vec![
            ("n1:27017".to_string(), ServerType::RsSecondary),
            ("n6:27018".to_string(), ServerType::PossiblePrimary),
            ("p5:27017".to_string(), ServerType::Unknown),
        ]
    );
}
