//! The re-seed rule (mgo's "dynamic seeds"): which member lists are complete, when a
//! re-seed is scheduled, and its rate limit.

use std::time::Duration;

use bson::{doc, Document};

use crate::address::ServerAddress;
use crate::sdam::events::{Action, Changes};
use crate::sdam::hello::CheckTiming;
use crate::sdam::settings::TopologySettings;
use crate::sdam::Topology;
use crate::time::MonotonicTime;

fn addr(text: &str) -> ServerAddress {
    ServerAddress::parse(text).unwrap()
}

fn at(millis: u64) -> MonotonicTime {
    MonotonicTime::from_millis(millis)
}

fn open(seeds: &[&str], set_name: Option<&str>) -> Topology {
    let mut settings = TopologySettings::new(seeds.iter().map(|s| addr(s)).collect());
    settings.replica_set_name = set_name.map(str::to_string);
    Topology::new(settings, MonotonicTime::ZERO).unwrap().0
}

fn hello(topology: &mut Topology, host: &str, reply: Document, millis: u64) -> Changes {
    topology.apply_hello(&addr(host), &reply, CheckTiming::at(at(millis)))
}

/// A reply that removes its server from a replica set named "rs".
fn other_set(host: &str) -> Document {
    doc! {
        "ok": 1, "isWritablePrimary": true, "setName": "other", "hosts": [host],
        "maxWireVersion": 21,
    }
}

fn scheduled(changes: &Changes) -> Vec<MonotonicTime> {
    changes
        .actions
        .iter()
        .filter_map(|action| match action {
            Action::ScheduleReseed { at } => Some(*at),
            _ => None,
        })
        .collect()
}

fn started(changes: &Changes) -> Vec<ServerAddress> {
    changes
        .actions
        .iter()
        .filter_map(|action| match action {
            Action::StartMonitoring(address) => Some(address.clone()),
            _ => None,
        })
        .collect()
}

/// Removes every server of `hosts` from the set, the last removal at `millis`.
fn remove_all(topology: &mut Topology, hosts: &[&str], millis: u64) -> Changes {
    let mut last = None;
    for host in hosts {
        last = Some(hello(topology, host, other_set(host), millis));
    }
    last.expect("at least one host")
}

#[test]
fn a_primarys_hosts_passives_and_arbiters_are_a_complete_member_list() {
    let mut topology = open(&["a:1"], Some("rs"));
    let primary = doc! {
        "ok": 1, "isWritablePrimary": true, "setName": "rs", "hosts": ["a:1", "b:1"],
        "passives": ["c:1"], "arbiters": ["d:1"], "maxWireVersion": 21,
    };
    let changes = hello(&mut topology, "a:1", primary, 1);
    assert!(scheduled(&changes).is_empty());
    let mut members = topology.last_complete_members().to_vec();
    members.sort();
    assert_eq!(members, ["a:1", "b:1", "c:1", "d:1"].map(addr));
}

#[test]
fn secondaries_alone_are_not_a_complete_member_list() {
    let mut topology = open(&["a:1"], Some("rs"));
    let secondary = doc! {
        "ok": 1, "secondary": true, "setName": "rs", "hosts": ["a:1", "b:1", "c:1"],
        "maxWireVersion": 21,
    };
    let _ = hello(&mut topology, "a:1", secondary, 1);
    assert!(topology.last_complete_members().is_empty());
}

#[test]
fn a_sharded_view_is_complete_once_every_server_is_a_known_mongos() {
    let mut topology = open(&["m1:1", "m2:1"], None);
    let mongos = doc! { "ok": 1, "msg": "isdbgrid", "maxWireVersion": 21 };
    let _ = hello(&mut topology, "m1:1", mongos.clone(), 1);
    assert!(
        topology.last_complete_members().is_empty(),
        "m2 is still Unknown"
    );
    let _ = hello(&mut topology, "m2:1", mongos, 2);
    assert_eq!(topology.last_complete_members(), ["m1:1", "m2:1"].map(addr));
}

#[test]
fn losing_every_server_schedules_a_reseed_from_the_members_and_the_seeds() {
    let mut topology = open(&["a:1", "z:1"], Some("rs"));
    let primary = doc! {
        "ok": 1, "isWritablePrimary": true, "setName": "rs", "hosts": ["a:1", "b:1"],
        "maxWireVersion": 21,
    };
    let _ = hello(&mut topology, "a:1", primary, 1);
    // z is not in the primary's list: already removed.
    let emptied = remove_all(&mut topology, &["a:1", "b:1"], 5);
    assert!(emptied.description.servers.is_empty());
    assert_eq!(
        scheduled(&emptied),
        vec![at(5)],
        "at once: no re-seed before"
    );
    let reseeded = topology.reseed(at(5));
    assert_eq!(started(&reseeded), ["a:1", "b:1", "z:1"].map(addr));
    assert_eq!(reseeded.description.servers.len(), 3);
    // Done: calling again changes nothing.
    assert!(topology.reseed(at(6)).actions.is_empty());
}

#[test]
fn reseeds_are_at_most_one_per_interval() {
    let mut topology = open(&["a:1"], Some("rs"));
    let emptied = remove_all(&mut topology, &["a:1"], 10);
    assert_eq!(scheduled(&emptied), vec![at(10)]);
    assert_eq!(started(&topology.reseed(at(12))), vec![addr("a:1")]);
    let again = remove_all(&mut topology, &["a:1"], 100);
    // The default interval is heartbeatFrequencyMS's default, 10 s after the last re-seed.
    assert_eq!(scheduled(&again), vec![at(12 + 10_000)]);
    assert!(
        topology.reseed(at(12 + 9_999)).actions.is_empty(),
        "too early"
    );
    assert_eq!(
        started(&topology.reseed(at(12 + 10_000))),
        vec![addr("a:1")]
    );

    topology.set_reseed_interval(Duration::from_millis(500));
    let third = remove_all(&mut topology, &["a:1"], 10_100);
    assert_eq!(scheduled(&third), vec![at(10_012 + 500)]);
    // Long after the interval: at once.
    assert!(topology.reseed(at(10_512)).actions.len() > 1);
    let fourth = remove_all(&mut topology, &["a:1"], 20_000);
    assert_eq!(scheduled(&fourth), vec![at(20_000)]);
}

#[test]
fn nothing_is_scheduled_without_a_loss_or_after_close() {
    let mut topology = open(&["a:1"], Some("rs"));
    assert!(
        topology.reseed(at(1)).actions.is_empty(),
        "nothing scheduled"
    );
    let closed = topology.close();
    assert!(scheduled(&closed).is_empty());
    assert!(topology.reseed(at(2)).actions.is_empty());
}
