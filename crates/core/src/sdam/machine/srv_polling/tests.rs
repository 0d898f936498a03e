use std::sync::Arc;
use std::time::Duration;

use bson::doc;

use super::*;
use crate::sdam::events::{Action, SdamEvent};
use crate::sdam::hello::CheckTiming;
use crate::sdam::settings::TopologySettings;
use crate::time::MonotonicTime;

const DOMAIN: &str = "test.build.10gen.cc";

fn mongos(port: u16) -> ServerAddress {
    ServerAddress::tcp(format!("localhost.{DOMAIN}"), port)
}

fn open(ports: &[u16]) -> Topology {
    let settings = TopologySettings::new(ports.iter().map(|p| mongos(*p)).collect());
    Topology::new(settings, MonotonicTime::ZERO).unwrap().0
}

fn make_sharded(topology: &mut Topology, port: u16) {
    let reply =
        doc! { "ok": 1, "isWritablePrimary": true, "msg": "isdbgrid", "maxWireVersion": 21 };
    let now = MonotonicTime::from_millis(1);
    let _ = topology.apply_hello(&mongos(port), &reply, CheckTiming::at(now));
    assert_eq!(topology.description().topology_type, TopologyType::Sharded);
}

fn ports(topology: &Topology) -> Vec<u16> {
    let servers = topology.description().servers.keys();
    servers.filter_map(ServerAddress::port).collect()
}

fn hosts(ports: &[u16]) -> Vec<ServerAddress> {
    ports.iter().map(|p| mongos(*p)).collect()
}

fn first(_: usize) -> usize {
    0
}

/// When the rescans happen (the departures log records it).
const NOW: MonotonicTime = MonotonicTime::from_millis(60_000);

#[test]
fn new_hosts_are_added_and_missing_ones_removed() {
    let mut topology = open(&[27017, 27018]);
    make_sharded(&mut topology, 27017);
    let known = Arc::clone(&topology.description().servers[&mongos(27017)]);

    // Prose test 3: 27018 replaced by 27019.
    let changes = topology.apply_srv_records(&hosts(&[27017, 27019]), 0, &mut first, NOW);
    assert_eq!(ports(&topology), [27017, 27019]);
    assert!(changes
        .actions
        .contains(&Action::StartMonitoring(mongos(27019))));
    assert!(changes
        .actions
        .contains(&Action::StopMonitoring(mongos(27018))));
    assert!(changes.events().any(|event| matches!(
        event,
        SdamEvent::ServerClosed { address, .. } if *address == mongos(27018)
    )));
    assert!(changes.events().any(|event| matches!(
        event,
        SdamEvent::ServerClosed { address, reason: RemovalReason::NotInSrvRecords }
            if *address == mongos(27018)
    )));
    let departure = topology.description().departures.get(&mongos(27018));
    assert_eq!(
        departure.map(|d| (&d.reason, d.at)),
        Some((&RemovalReason::NotInSrvRecords, NOW))
    );
    // The unchanged server is left alone: same description, still known.
    let kept = &topology.description().servers[&mongos(27017)];
    assert!(Arc::ptr_eq(kept, &known));
    assert_eq!(topology.pool_generation(&mongos(27018), None), None);
    assert_eq!(topology.pool_generation(&mongos(27019), None), Some(0));

    // Prose test 4: both replaced by one.
    let _ = topology.apply_srv_records(&hosts(&[27020]), 0, &mut first, NOW);
    assert_eq!(ports(&topology), [27020]);
    assert_eq!(topology.description().topology_type, TopologyType::Sharded);
}

#[test]
fn the_same_list_changes_nothing() {
    let mut topology = open(&[27017, 27018]);
    let before = Arc::clone(topology.description());
    let changes = topology.apply_srv_records(&hosts(&[27018, 27017]), 0, &mut first, NOW);
    assert!(changes.actions.is_empty());
    assert!(Arc::ptr_eq(&changes.description, &before));
}

#[test]
fn an_empty_answer_keeps_the_last_good_list() {
    let mut topology = open(&[27017, 27018]);
    let changes = topology.apply_srv_records(&[], 0, &mut first, NOW);
    assert!(changes.actions.is_empty());
    assert_eq!(ports(&topology), [27017, 27018]);
}

#[test]
fn polling_applies_only_to_sharded_or_unknown_topologies() {
    let mut topology = open(&[27017]);
    let reply = doc! {
        "ok": 1, "isWritablePrimary": true, "setName": "repl0",
        "hosts": [format!("localhost.{DOMAIN}:27017")], "maxWireVersion": 21,
    };
    let _ = topology.apply_hello(&mongos(27017), &reply, CheckTiming::at(MonotonicTime::ZERO));
    assert_eq!(
        topology.description().topology_type,
        TopologyType::ReplicaSetWithPrimary
    );
    let changes = topology.apply_srv_records(&hosts(&[27019]), 0, &mut first, NOW);
    assert!(changes.actions.is_empty());
    assert_eq!(ports(&topology), [27017]);

    let mut settings = TopologySettings::new(hosts(&[27017]));
    settings.load_balanced = true;
    let (mut balanced, _) = Topology::new(settings, MonotonicTime::ZERO).unwrap();
    let _ = balanced.apply_srv_records(&hosts(&[27018]), 0, &mut first, NOW);
    assert_eq!(ports(&balanced), [27017]);

    let mut closed = open(&[27017]);
    let _ = closed.close();
    assert!(closed
        .apply_srv_records(&hosts(&[27018]), 0, &mut first, NOW)
        .actions
        .is_empty());
}

#[test]
fn srv_max_hosts_keeps_existing_hosts_and_fills_at_random() {
    // Polling prose test 11: srvMaxHosts=2 and records 27017, 27019, 27020 after 27018
    // went away: 27017 stays, one of the two new ones is added.
    let mut topology = open(&[27017, 27018]);
    make_sharded(&mut topology, 27017);
    let mut asked = Vec::new();
    let _ = topology.apply_srv_records(
        &hosts(&[27017, 27019, 27020]),
        2,
        &mut |n| {
            asked.push(n);
            0
        },
        NOW,
    );
    assert_eq!(asked, [2], "one shuffle step over the two new hosts");
    let now = ports(&topology);
    assert_eq!(now.len(), 2);
    assert_eq!(now[0], 27017);
    assert!(now[1] == 27019 || now[1] == 27020, "{now:?}");

    // Already at srvMaxHosts: nothing is added.
    let before = ports(&topology);
    let _ = topology.apply_srv_records(&hosts(&[27017, 27019, 27020, 27021]), 2, &mut first, NOW);
    assert_eq!(ports(&topology), before);

    // srvMaxHosts at least the number of hosts: all are added (prose test 10/12).
    let _ = topology.apply_srv_records(&hosts(&[27017, 27019, 27020]), 3, &mut first, NOW);
    assert_eq!(ports(&topology), [27017, 27019, 27020]);
}

#[test]
fn polled_hosts_skip_records_outside_the_domain() {
    let records = [
        SrvRecord::new(format!("localhost.{DOMAIN}."), 27017),
        SrvRecord::new("localhost.evil.build.10gen.cc.", 27018),
        SrvRecord::new("bad..name", 27019),
        SrvRecord::new(format!("localhost.{DOMAIN}"), 27017),
    ];
    let hosts = polled_hosts(&format!("test1.{DOMAIN}"), &records);
    assert_eq!(hosts, [mongos(27017)]);
}

#[test]
fn the_rescan_interval_follows_the_lowest_ttl_but_at_least_a_minute() {
    let heartbeat = Duration::from_secs(10);
    let with_ttl = |secs: &[u64]| -> Vec<SrvRecord> {
        secs.iter()
            .map(|s| SrvRecord {
                ttl: Some(Duration::from_secs(*s)),
                ..SrvRecord::new("a.example.com", 1)
            })
            .collect()
    };
    let interval = |ok, records: &[SrvRecord]| rescan_interval(ok, records, heartbeat);
    assert_eq!(
        interval(true, &with_ttl(&[300, 120, 86400])),
        Duration::from_secs(120)
    );
    assert_eq!(interval(true, &with_ttl(&[5, 300])), MIN_RESCAN_INTERVAL);
    assert_eq!(
        interval(true, &[SrvRecord::new("a.example.com", 1)]),
        MIN_RESCAN_INTERVAL
    );
    assert_eq!(interval(false, &with_ttl(&[300])), heartbeat);
    assert_eq!(interval(false, &[]), heartbeat);
}
