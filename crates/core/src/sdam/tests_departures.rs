//! Unit tests of the departures log: each removal rule records its reason with the evidence,
//! `ServerClosed` carries it, the log is bounded, and a server added back after a removal
//! explains that removal in a selection explanation until it is checked again.

use bson::{doc, Document};

use crate::address::ServerAddress;
use crate::sdam::departures::{Departure, Departures, RemovalReason, MAX_DEPARTURES};
use crate::sdam::events::{Changes, SdamEvent};
use crate::sdam::hello::CheckTiming;
use crate::sdam::server::ServerType;
use crate::sdam::settings::TopologySettings;
use crate::sdam::topology::TopologyType;
use crate::sdam::Topology;
use crate::selection::{explain_selection, Reason, SelectionCriteria, SelectionSettings};
use crate::time::MonotonicTime;

fn addr(text: &str) -> ServerAddress {
    ServerAddress::parse(text).unwrap()
}

fn open(seeds: &[&str], set_name: Option<&str>) -> Topology {
    let mut settings = TopologySettings::new(seeds.iter().map(|s| addr(s)).collect());
    settings.replica_set_name = set_name.map(str::to_string);
    Topology::new(settings, MonotonicTime::ZERO).unwrap().0
}

const AT: MonotonicTime = MonotonicTime::from_millis(1500);

fn hello(topology: &mut Topology, host: &str, reply: Document) -> Changes {
    topology.apply_hello(&addr(host), &reply, CheckTiming::at(AT))
}

/// The reason `ServerClosed` gave for `host` in `changes`, checked against the log.
fn closed_because(changes: &Changes, host: &str) -> RemovalReason {
    let reason = changes
        .events()
        .find_map(|event| match event {
            SdamEvent::ServerClosed { address, reason } if *address == addr(host) => {
                Some(reason.clone())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no ServerClosed for {host}"));
    let logged = changes.description.departures.get(&addr(host)).unwrap();
    assert_eq!(logged.reason, reason);
    assert_eq!(logged.at, AT);
    reason
}

fn secondary(set_name: &str, hosts: &[&str]) -> Document {
    doc! {
        "ok": 1, "isWritablePrimary": false, "secondary": true, "setName": set_name,
        "hosts": hosts.to_vec(), "maxWireVersion": 21,
    }
}

#[test]
fn a_member_of_another_set_names_both_set_names() {
    let mut topology = open(&["a", "b"], Some("rs0"));
    let changes = hello(&mut topology, "b", secondary("foo", &["b:27017"]));
    let reason = closed_because(&changes, "b:27017");
    assert_eq!(
        reason,
        RemovalReason::SetNameMismatch {
            reported: Some("foo".into()),
            expected: Some("rs0".into()),
        }
    );
    assert_eq!(
        reason.to_string(),
        r#"reported set name "foo", expected "rs0""#
    );
    assert_eq!(reason.kind(), "set_name_mismatch");
}

#[test]
fn a_primary_of_another_set_is_removed_with_its_set_name() {
    let mut topology = open(&["a", "b"], Some("rs0"));
    let reply = doc! {
        "ok": 1, "isWritablePrimary": true, "setName": "other", "hosts": ["a:27017"],
        "maxWireVersion": 21,
    };
    let changes = hello(&mut topology, "a", reply);
    assert!(matches!(
        closed_because(&changes, "a:27017"),
        RemovalReason::SetNameMismatch { reported: Some(name), .. } if name == "other"
    ));
}

#[test]
fn a_server_missing_from_the_primarys_list_is_removed_with_that_list() {
    let mut topology = open(&["a", "x"], Some("rs0"));
    let reply = doc! {
        "ok": 1, "isWritablePrimary": true, "setName": "rs0",
        "hosts": ["a:27017", "b:27017"], "arbiters": ["c:27017"], "maxWireVersion": 21,
    };
    let changes = hello(&mut topology, "a", reply);
    let reason = closed_because(&changes, "x:27017");
    assert_eq!(
        reason,
        RemovalReason::NotInPrimaryMembers {
            primary: addr("a"),
            members: vec![addr("a"), addr("b"), addr("c")],
            member_count: 3,
        }
    );
    assert_eq!(
        reason.to_string(),
        "not in the member list of the primary a:27017 (a:27017, b:27017, c:27017)"
    );
}

#[test]
fn the_primarys_list_in_the_evidence_is_bounded() {
    let mut topology = open(&["h0", "x"], Some("rs0"));
    let hosts: Vec<String> = (0..50).map(|i| format!("h{i}:27017")).collect();
    let reply = doc! {
        "ok": 1, "isWritablePrimary": true, "setName": "rs0", "hosts": hosts,
        "maxWireVersion": 21,
    };
    let changes = hello(&mut topology, "h0", reply);
    let RemovalReason::NotInPrimaryMembers {
        members,
        member_count,
        ..
    } = closed_because(&changes, "x:27017")
    else {
        panic!("not removed for the primary's list");
    };
    assert_eq!(member_count, 50);
    assert_eq!(
        members.len(),
        crate::sdam::departures::MAX_MEMBERS_IN_EVIDENCE
    );
}

#[test]
fn a_member_advertising_another_name_is_removed_with_its_me() {
    let mut topology = open(&["127.0.0.1:27017", "b"], None);
    let mut reply = secondary("rs0", &["localhost:27017"]);
    reply.insert("me", "localhost:27017");
    let changes = hello(&mut topology, "127.0.0.1:27017", reply);
    let reason = closed_because(&changes, "127.0.0.1:27017");
    assert_eq!(
        reason,
        RemovalReason::AdvertisedNameMismatch {
            me: addr("localhost:27017")
        }
    );
    assert!(
        reason.to_string().contains("localhost:27017 (me)"),
        "{reason}"
    );
}

#[test]
fn a_primary_advertising_another_name_is_removed_with_its_me() {
    // Not in its own host list under the address used: SDAM removes it as not listed by
    // the primary (itself); the cause is the advertised name.
    let mut topology = open(&["127.0.0.1:27017"], Some("rs0"));
    let reply = doc! {
        "ok": 1, "isWritablePrimary": true, "setName": "rs0", "me": "localhost:27017",
        "hosts": ["localhost:27017"], "maxWireVersion": 21,
    };
    let changes = hello(&mut topology, "127.0.0.1:27017", reply);
    assert_eq!(
        closed_because(&changes, "127.0.0.1:27017"),
        RemovalReason::AdvertisedNameMismatch {
            me: addr("localhost:27017")
        }
    );
}

#[test]
fn a_mongos_in_a_replica_set_and_a_standalone_among_seeds_are_misplaced() {
    let mut topology = open(&["a", "b", "c"], Some("rs0"));
    let _ = hello(
        &mut topology,
        "a",
        secondary("rs0", &["a:27017", "b:27017", "c:27017"]),
    );
    let mongos =
        doc! { "ok": 1, "isWritablePrimary": true, "msg": "isdbgrid", "maxWireVersion": 21 };
    let changes = hello(&mut topology, "b", mongos);
    assert_eq!(
        closed_because(&changes, "b:27017"),
        RemovalReason::TypeNotInTopology {
            server_type: ServerType::Mongos,
            topology_type: TopologyType::ReplicaSetNoPrimary,
        }
    );

    let mut seeds = open(&["a", "b"], None);
    let standalone = doc! { "ok": 1, "isWritablePrimary": true, "maxWireVersion": 21 };
    let changes = hello(&mut seeds, "a", standalone);
    let reason = closed_because(&changes, "a:27017");
    assert_eq!(
        reason,
        RemovalReason::TypeNotInTopology {
            server_type: ServerType::Standalone,
            topology_type: TopologyType::Unknown,
        }
    );
    assert!(
        reason.to_string().contains("among several seeds"),
        "{reason}"
    );
}

#[test]
fn closing_gives_every_server_the_closed_reason() {
    let mut topology = open(&["a"], None);
    let changes = topology.close();
    assert!(changes.events().any(|event| matches!(
        event,
        SdamEvent::ServerClosed {
            reason: RemovalReason::TopologyClosed,
            ..
        }
    )));
}

#[test]
fn the_log_keeps_one_entry_per_server_and_at_most_the_bound() {
    let mut log = Departures::default();
    let departure = |host: String, millis| Departure {
        address: addr(&host),
        reason: RemovalReason::NotInSrvRecords,
        at: MonotonicTime::from_millis(millis),
    };
    log.record(departure("a".into(), 1));
    log.record(departure("a".into(), 2));
    assert_eq!(log.len(), 1);
    assert_eq!(
        log.get(&addr("a")).map(|d| d.at),
        Some(MonotonicTime::from_millis(2))
    );
    for i in 0..MAX_DEPARTURES + 5 {
        log.record(departure(format!("h{i}"), 3));
    }
    assert_eq!(log.len(), MAX_DEPARTURES);
    assert!(log.get(&addr("a")).is_none(), "the oldest went first");
    assert!(log
        .get(&addr(&format!("h{}", MAX_DEPARTURES + 4)))
        .is_some());
}

#[test]
fn a_server_added_back_explains_its_removal_until_checked_again() {
    let mut topology = open(&["a", "b"], Some("rs0"));
    // b reports another set name: removed.
    let _ = hello(&mut topology, "b", secondary("foo", &["b:27017"]));
    let criteria = SelectionCriteria::write();
    let settings = SelectionSettings::default();
    let explanation = explain_selection(topology.description(), &criteria, &settings, &[]);
    assert!(explanation.verdict(&addr("b")).is_none());
    assert_eq!(explanation.departed.len(), 1);
    let text = explanation.to_string();
    assert!(
        text.contains(
            r#"b:27017: removed at t+1.500 s because reported set name "foo", expected "rs0""#
        ),
        "{text}"
    );

    // a, a secondary, names b as its primary: b is back, as PossiblePrimary, not checked.
    let mut reply = secondary("rs0", &["a:27017", "b:27017"]);
    reply.insert("primary", "b:27017");
    let _ = hello(&mut topology, "a", reply);
    let explanation = explain_selection(topology.description(), &criteria, &settings, &[]);
    let verdict = explanation.verdict(&addr("b")).unwrap();
    assert_eq!(verdict.server_type, ServerType::PossiblePrimary);
    let Reason::Unavailable {
        error: None,
        removed: Some(departure),
    } = &verdict.reason
    else {
        panic!("the removal is not explained: {explanation}");
    };
    assert!(matches!(
        departure.reason,
        RemovalReason::SetNameMismatch { .. }
    ));
    assert!(
        explanation.departed.is_empty(),
        "b is listed once, as a server"
    );
    assert!(
        verdict.to_string().contains("set name \"foo\""),
        "{verdict}"
    );

    // Checked again (a network error this time): its own error explains it now.
    let error = crate::sdam::server::ServerError::new(
        crate::sdam::server::ServerErrorKind::Network,
        "connection reset".to_string(),
    );
    let _ = topology.apply_check_failure(&addr("b"), error, AT);
    let explanation = explain_selection(topology.description(), &criteria, &settings, &[]);
    assert!(matches!(
        &explanation.verdict(&addr("b")).unwrap().reason,
        Reason::Unavailable {
            error: Some(_),
            removed: None
        }
    ));
}
