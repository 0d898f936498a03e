//! Unit tests of the state machine: the actions and events it decides, which the spec suites
//! check only for a few scenarios.

use std::time::Duration;

use bson::oid::ObjectId;
use bson::{doc, Document};

use crate::address::ServerAddress;
use crate::sdam::errors::{ApplicationError, ApplicationErrorKind, CommandFailure, ErrorPhase};
use crate::sdam::events::{Action, Changes, SdamEvent};
use crate::sdam::hello::CheckTiming;
use crate::sdam::server::{ServerError, ServerErrorKind, ServerType, TopologyVersion};
use crate::sdam::settings::TopologySettings;
use crate::sdam::topology::TopologyType;
use crate::sdam::Topology;
use crate::time::MonotonicTime;

fn addr(text: &str) -> ServerAddress {
    ServerAddress::parse(text).unwrap()
}

fn open(seeds: &[&str], set_name: Option<&str>) -> (Topology, Changes) {
    let mut settings = TopologySettings::new(seeds.iter().map(|s| addr(s)).collect());
    settings.replica_set_name = set_name.map(str::to_string);
    Topology::new(settings, MonotonicTime::ZERO).unwrap()
}

fn hello(topology: &mut Topology, host: &str, reply: Document) -> Changes {
    topology.apply_hello(
        &addr(host),
        &reply,
        CheckTiming::at(MonotonicTime::from_millis(1)),
    )
}

fn primary(hosts: &[&str], election: u8, set_version: i64, max_wire: i32) -> Document {
    doc! {
        "ok": 1, "isWritablePrimary": true, "setName": "rs", "hosts": hosts.to_vec(),
        "electionId": ObjectId::from_bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, election]),
        "setVersion": set_version, "minWireVersion": 0, "maxWireVersion": max_wire,
    }
}

fn event_names(changes: &Changes) -> Vec<String> {
    changes
        .events()
        .map(|event| match event {
            SdamEvent::TopologyOpening => "TopologyOpening".to_string(),
            SdamEvent::ServerOpening { address } => format!("ServerOpening {address}"),
            SdamEvent::ServerDescriptionChanged { address, .. } => {
                format!("ServerChanged {address}")
            }
            SdamEvent::TopologyDescriptionChanged { .. } => "TopologyChanged".to_string(),
            SdamEvent::ServerClosed { address, .. } => format!("ServerClosed {address}"),
            SdamEvent::TopologyClosed => "TopologyClosed".to_string(),
        })
        .collect()
}

#[test]
fn opening_announces_the_topology_then_each_seed() {
    let (_, changes) = open(&["b", "a"], None);
    assert_eq!(
        event_names(&changes),
        [
            "TopologyOpening",
            "TopologyChanged",
            "ServerOpening a:27017",
            "ServerOpening b:27017"
        ]
    );
    assert!(changes
        .actions
        .contains(&Action::StartMonitoring(addr("a"))));
    assert_eq!(changes.description.topology_type, TopologyType::Unknown);
}

#[test]
fn a_primary_adds_and_removes_members() {
    let (mut topology, _) = open(&["a", "x"], Some("rs"));
    let changes = hello(
        &mut topology,
        "a",
        primary(&["a:27017", "b:27017"], 1, 1, 21),
    );
    assert_eq!(
        event_names(&changes),
        [
            "ServerChanged a:27017",
            "ServerOpening b:27017",
            "ServerClosed x:27017",
            "TopologyChanged"
        ]
    );
    assert!(changes
        .actions
        .contains(&Action::StartMonitoring(addr("b"))));
    assert!(changes.actions.contains(&Action::StopMonitoring(addr("x"))));
    assert!(changes.actions.contains(&Action::MarkPoolReady(addr("a"))));
    assert_eq!(topology.pool_generation(&addr("x"), None), None);
    assert_eq!(topology.pool_generation(&addr("b"), None), Some(0));
    // x's late outcome is ignored: it is no longer in the topology.
    let late = hello(&mut topology, "x", primary(&["x:27017"], 9, 9, 21));
    assert!(late.actions.is_empty());
    assert!(topology.description().server(&addr("x")).is_none());
}

#[test]
fn a_newer_primary_invalidates_the_old_one_without_clearing_its_pool() {
    let (mut topology, _) = open(&["a", "b"], Some("rs"));
    let _ = hello(
        &mut topology,
        "a",
        primary(&["a:27017", "b:27017"], 1, 1, 21),
    );
    let changes = hello(
        &mut topology,
        "b",
        primary(&["a:27017", "b:27017"], 2, 1, 21),
    );
    let old = topology.description().server(&addr("a")).unwrap();
    assert_eq!(old.server_type, ServerType::Unknown);
    assert!(old
        .error
        .as_ref()
        .unwrap()
        .message
        .contains("discovery of newer primary"));
    assert!(changes
        .actions
        .contains(&Action::RequestImmediateCheck(addr("a"))));
    assert!(!changes
        .actions
        .iter()
        .any(|a| matches!(a, Action::ClearPool { .. })));
}

#[test]
fn election_id_ranks_first_from_6_0_and_set_version_before() {
    for (max_wire, accepted) in [(21, true), (9, false)] {
        let (mut topology, _) = open(&["a", "b"], Some("rs"));
        let _ = hello(
            &mut topology,
            "a",
            primary(&["a:27017", "b:27017"], 1, 2, max_wire),
        );
        let _ = hello(
            &mut topology,
            "b",
            primary(&["a:27017", "b:27017"], 2, 1, max_wire),
        );
        let b = topology.description().server(&addr("b")).unwrap();
        assert_eq!(
            b.server_type == ServerType::RsPrimary,
            accepted,
            "maxWireVersion {max_wire}"
        );
        if !accepted {
            assert!(b
                .error
                .as_ref()
                .unwrap()
                .message
                .contains("electionId/setVersion mismatch"));
        }
    }
}

#[test]
fn check_failures_clear_the_pool_and_retry_known_servers() {
    let (mut topology, _) = open(&["a"], Some("rs"));
    let _ = hello(&mut topology, "a", primary(&["a:27017"], 1, 1, 21));
    let now = MonotonicTime::from_millis(2);
    let timeout = ServerError::new(ServerErrorKind::Timeout, "timed out");
    let changes = topology.apply_check_failure(&addr("a"), timeout, now);
    assert!(changes.actions.contains(&Action::ClearPool {
        address: addr("a"),
        service_id: None,
        interrupt_in_use_connections: true,
        new_generation: 1,
    }));
    assert!(changes.actions.contains(&Action::RetryCheckNow(addr("a"))));
    assert_eq!(
        changes.description.topology_type,
        TopologyType::ReplicaSetNoPrimary
    );
    // Already Unknown: no immediate retry, and the pool is not interrupted on a plain error.
    let again = topology.apply_check_failure(
        &addr("a"),
        ServerError::new(ServerErrorKind::Network, "reset"),
        now,
    );
    assert!(!again.actions.contains(&Action::RetryCheckNow(addr("a"))));
    assert!(again.actions.iter().any(|a| matches!(
        a,
        Action::ClearPool {
            interrupt_in_use_connections: false,
            new_generation: 2,
            ..
        }
    )));
}

#[test]
fn a_round_trip_time_change_alone_publishes_nothing() {
    let (mut topology, _) = open(&["a"], Some("rs"));
    let reply = primary(&["a:27017"], 1, 1, 21);
    let _ = hello(&mut topology, "a", reply.clone());
    let timing = CheckTiming {
        round_trip_time: Some(Duration::from_millis(40)),
        min_round_trip_time: None,
        now: MonotonicTime::from_millis(5),
    };
    let changes = topology.apply_hello(&addr("a"), &reply, timing);
    assert_eq!(changes.events().count(), 0);
    let a = changes.description.server(&addr("a")).unwrap();
    assert_eq!(
        a.round_trip_time,
        Some(Duration::from_millis(40)),
        "the description is still replaced"
    );
}

#[test]
fn state_change_errors_respect_topology_versions() {
    let (mut topology, _) = open(&["a"], Some("rs"));
    let process_id = ObjectId::from_bytes([7; 12]);
    let mut reply = primary(&["a:27017"], 1, 1, 21);
    reply.insert(
        "topologyVersion",
        doc! {"processId": process_id, "counter": 2_i64},
    );
    let _ = hello(&mut topology, "a", reply);
    let error = |counter| ApplicationError {
        address: addr("a"),
        generation: 0,
        service_id: None,
        phase: ErrorPhase::AfterHandshake,
        kind: ApplicationErrorKind::Command(CommandFailure {
            code: Some(10107),
            message: "not primary".into(),
            topology_version: Some(TopologyVersion {
                process_id,
                counter,
            }),
            ..CommandFailure::default()
        }),
        system_overloaded: false,
    };
    let now = MonotonicTime::from_millis(3);
    assert!(topology
        .apply_application_error(&error(2), now)
        .actions
        .is_empty());
    let changes = topology.apply_application_error(&error(3), now);
    let a = changes.description.server(&addr("a")).unwrap();
    assert_eq!(a.server_type, ServerType::Unknown);
    assert_eq!(a.topology_version.map(|tv| tv.counter), Some(3));
    assert!(changes
        .actions
        .contains(&Action::RequestImmediateCheck(addr("a"))));
    assert!(
        !changes
            .actions
            .iter()
            .any(|a| matches!(a, Action::ClearPool { .. })),
        "not a shutdown error"
    );
    // An older hello (counter 2) no longer replaces the description.
    let mut stale = primary(&["a:27017"], 1, 1, 21);
    stale.insert(
        "topologyVersion",
        doc! {"processId": process_id, "counter": 2_i64},
    );
    assert!(hello(&mut topology, "a", stale).actions.is_empty());
}

#[test]
fn load_balanced_errors_clear_only_the_service_pool() {
    let mut settings = TopologySettings::new(vec![addr("lb")]);
    settings.load_balanced = true;
    let (mut topology, opening) = Topology::new(settings, MonotonicTime::ZERO).unwrap();
    assert!(!opening
        .actions
        .iter()
        .any(|a| matches!(a, Action::StartMonitoring(_))));
    let service = ObjectId::from_bytes([3; 12]);
    let error = ApplicationError {
        address: addr("lb"),
        generation: 0,
        service_id: Some(service),
        phase: ErrorPhase::AfterHandshake,
        kind: ApplicationErrorKind::Network,
        system_overloaded: false,
    };
    let changes = topology.apply_application_error(&error, MonotonicTime::from_millis(1));
    assert_eq!(
        changes.actions,
        [Action::ClearPool {
            address: addr("lb"),
            service_id: Some(service),
            interrupt_in_use_connections: false,
            new_generation: 1,
        }]
    );
    assert_eq!(
        changes.description.server(&addr("lb")).unwrap().server_type,
        ServerType::LoadBalancer
    );
    assert_eq!(
        topology.pool_generation(&addr("lb"), Some(&service)),
        Some(1)
    );
    assert_eq!(topology.pool_generation(&addr("lb"), None), Some(0));
}

#[test]
fn single_with_a_wrong_set_name_is_unknown() {
    let mut settings = TopologySettings::new(vec![addr("a")]);
    settings.direct_connection = Some(true);
    settings.replica_set_name = Some("rs".into());
    let (mut topology, _) = Topology::new(settings, MonotonicTime::ZERO).unwrap();
    let _ = hello(
        &mut topology,
        "a",
        doc! {"ok": 1, "setName": "other", "secondary": true, "maxWireVersion": 21},
    );
    let a = topology.description().server(&addr("a")).unwrap();
    assert_eq!(a.server_type, ServerType::Unknown);
    assert_eq!(
        a.error.as_ref().unwrap().kind,
        ServerErrorKind::ReplicaSetNameMismatch
    );
    assert_eq!(topology.description().topology_type, TopologyType::Single);
}

#[test]
fn closing_closes_every_server_then_the_topology() {
    let (mut topology, _) = open(&["a", "b"], None);
    let changes = topology.close();
    assert_eq!(
        event_names(&changes),
        [
            "ServerClosed a:27017",
            "ServerClosed b:27017",
            "TopologyChanged",
            "TopologyClosed"
        ]
    );
    assert!(changes.description.servers.is_empty());
    assert!(hello(&mut topology, "a", doc! {"ok": 1}).actions.is_empty());
    assert!(topology.close().actions.is_empty());
}

#[test]
fn add_servers_brings_back_lost_servers_to_be_monitored() {
    let (mut topology, _) = open(&["a:27017"], Some("rs"));
    let wrong = doc! {
        "ok": 1, "isWritablePrimary": true, "setName": "other", "hosts": ["a:27017"],
        "maxWireVersion": 21,
    };
    let removed = hello(&mut topology, "a:27017", wrong);
    assert!(removed.description.servers.is_empty());
    let changes = topology.add_servers([addr("a:27017"), addr("b:27017")]);
    assert_eq!(changes.description.servers.len(), 2);
    assert!(changes
        .description
        .servers
        .values()
        .all(|s| s.server_type == ServerType::Unknown));
    for host in ["a:27017", "b:27017"] {
        assert!(changes
            .actions
            .contains(&Action::StartMonitoring(addr(host))));
        assert_eq!(topology.pool_generation(&addr(host), None), Some(0));
    }
    assert!(changes
        .events()
        .any(|e| matches!(e, SdamEvent::TopologyDescriptionChanged { .. })));
    // Present servers are not added twice; nothing changes.
    let again = topology.add_servers([addr("a:27017")]);
    assert!(again.actions.is_empty());
    assert!(std::sync::Arc::ptr_eq(
        &again.description,
        &changes.description
    ));
}

#[test]
fn add_servers_leaves_single_topologies_and_closed_ones_alone() {
    let mut settings = TopologySettings::new(vec![addr("a:27017")]);
    settings.direct_connection = Some(true);
    let (mut single, _) = Topology::new(settings, MonotonicTime::ZERO).unwrap();
    assert!(single.add_servers([addr("b:27017")]).actions.is_empty());
    let (mut closed, _) = open(&["a:27017"], None);
    let _ = closed.close();
    assert!(closed.add_servers([addr("b:27017")]).actions.is_empty());
}
