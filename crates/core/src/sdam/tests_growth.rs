//! The total limit on the servers that replies add to a topology
//! ([`MAX_SERVERS_ADDED_BY_REPLIES`]): a server listing new hosts check after check stops
//! adding at the cap, the refusal is reported once, the user's seeds are never counted
//! against it, and a primary's host list stays authoritative.

use bson::{doc, Bson, Document};

use crate::address::ServerAddress;
use crate::sdam::events::{Action, Changes};
use crate::sdam::hello::CheckTiming;
use crate::sdam::server::ServerType;
use crate::sdam::settings::TopologySettings;
use crate::sdam::{Topology, MAX_SERVERS_ADDED_BY_REPLIES};
use crate::time::MonotonicTime;

fn addr(text: &str) -> ServerAddress {
    ServerAddress::parse(text).unwrap()
}

fn open(seeds: Vec<ServerAddress>, set_name: Option<&str>) -> (Topology, Changes) {
    let mut settings = TopologySettings::new(seeds);
    settings.replica_set_name = set_name.map(str::to_string);
    Topology::new(settings, MonotonicTime::ZERO).unwrap()
}

/// A secondary of "rs" at `a:27017` listing `a`, `b` and 998 hosts never seen before
/// (round `round` names them apart from every other round's): each list stays under the
/// per-reply limit.
fn hostile_secondary_reply(round: usize) -> Document {
    let mut hosts = vec![Bson::from("a:27017"), Bson::from("b:27017")];
    hosts.extend((0..998).map(|i| Bson::from(format!("new-{round}-{i}:27017"))));
    doc! {
        "ok": 1, "isWritablePrimary": false, "secondary": true, "setName": "rs",
        "hosts": hosts, "maxWireVersion": 21,
    }
}

fn check(topology: &mut Topology, host: &str, reply: &Document, millis: u64) -> Changes {
    let now = MonotonicTime::from_millis(millis);
    topology.apply_hello(&addr(host), reply, CheckTiming::at(now))
}

fn started(changes: &Changes) -> usize {
    changes
        .actions
        .iter()
        .filter(|action| matches!(action, Action::StartMonitoring(_)))
        .count()
}

fn refusals(changes: &Changes) -> Vec<(ServerAddress, usize, usize)> {
    changes
        .actions
        .iter()
        .filter_map(|action| match action {
            Action::ServerGrowthRefused {
                reported_by,
                refused,
                limit,
            } => Some((reported_by.clone(), *refused, *limit)),
            _ => None,
        })
        .collect()
}

/// Runs `rounds` checks of the hostile secondary; returns the servers started and the
/// refusals reported over all of them.
fn run_hostile(
    topology: &mut Topology,
    rounds: usize,
) -> (usize, Vec<(ServerAddress, usize, usize)>) {
    let mut started_total = 0;
    let mut reported = Vec::new();
    for round in 0..rounds {
        let changes = check(
            topology,
            "a",
            &hostile_secondary_reply(round),
            10 + round as u64,
        );
        started_total += started(&changes);
        reported.extend(refusals(&changes));
    }
    (started_total, reported)
}

#[test]
fn a_secondary_listing_new_hosts_every_check_stops_adding_at_the_cap() {
    let (mut topology, _) = open(vec![addr("a"), addr("b")], Some("rs"));
    let (started_total, _) = run_hostile(&mut topology, 10);
    assert_eq!(started_total, MAX_SERVERS_ADDED_BY_REPLIES);
    let description = topology.description();
    assert_eq!(description.servers.len(), 2 + MAX_SERVERS_ADDED_BY_REPLIES);
    // The server that tried stays in the topology, described and monitored as usual.
    let a = description.server(&addr("a")).unwrap();
    assert_eq!(a.server_type, ServerType::RsSecondary);
    // Further checks add nothing.
    let changes = check(&mut topology, "a", &hostile_secondary_reply(99), 500);
    assert_eq!(started(&changes), 0);
    assert_eq!(
        topology.description().servers.len(),
        2 + MAX_SERVERS_ADDED_BY_REPLIES
    );
}

#[test]
fn the_refusal_is_reported_once_naming_the_server_that_pushed_it() {
    let (mut topology, _) = open(vec![addr("a"), addr("b")], Some("rs"));
    let (_, reported) = run_hostile(&mut topology, 10);
    let limit = 2 + MAX_SERVERS_ADDED_BY_REPLIES;
    // Round 0 adds 998, round 1 adds 2 and refuses 996: the first refusal is reported.
    assert_eq!(reported, vec![(addr("a"), 996, limit)]);
    let changes = check(&mut topology, "a", &hostile_secondary_reply(100), 600);
    assert!(refusals(&changes).is_empty());
}

#[test]
fn seeds_beyond_the_cap_are_all_monitored_and_not_counted() {
    let seed_count = MAX_SERVERS_ADDED_BY_REPLIES * 10;
    let mut seeds: Vec<ServerAddress> = vec![addr("a"), addr("b")];
    seeds.extend((0..seed_count - 2).map(|i| addr(&format!("seed-{i}"))));
    let (mut topology, opening) = open(seeds.clone(), Some("rs"));
    assert_eq!(started(&opening), seed_count);
    assert_eq!(topology.description().servers.len(), seed_count);
    // Replies may still add the cap's worth of servers on top of the seeds.
    let (started_total, reported) = run_hostile(&mut topology, 3);
    assert_eq!(started_total, MAX_SERVERS_ADDED_BY_REPLIES);
    assert_eq!(reported.len(), 1);
    let description = topology.description();
    assert_eq!(
        description.servers.len(),
        seed_count + MAX_SERVERS_ADDED_BY_REPLIES
    );
    assert!(seeds
        .iter()
        .all(|seed| description.servers.contains_key(seed)));
}

#[test]
fn ten_thousand_mongos_seeds_are_all_kept() {
    let seeds: Vec<ServerAddress> = (0..10_000).map(|i| addr(&format!("mongos-{i}"))).collect();
    let (mut topology, opening) = open(seeds.clone(), None);
    assert_eq!(started(&opening), 10_000);
    let mongos =
        doc! { "ok": 1, "isWritablePrimary": true, "msg": "isdbgrid", "maxWireVersion": 21 };
    for (i, seed) in seeds.iter().take(3).enumerate() {
        let now = MonotonicTime::from_millis(10 + i as u64);
        let changes = topology.apply_hello(seed, &mongos, CheckTiming::at(now));
        assert!(refusals(&changes).is_empty());
    }
    assert_eq!(topology.description().servers.len(), 10_000);
}

#[test]
fn a_primary_host_list_stays_authoritative_at_the_cap() {
    let (mut topology, _) = open(vec![addr("a"), addr("b")], Some("rs"));
    run_hostile(&mut topology, 3);
    assert_eq!(
        topology.description().servers.len(),
        2 + MAX_SERVERS_ADDED_BY_REPLIES
    );
    let primary = doc! {
        "ok": 1, "isWritablePrimary": true, "setName": "rs",
        "hosts": ["a:27017", "b:27017", "c:27017"], "maxWireVersion": 21,
    };
    let changes = check(&mut topology, "b", &primary, 100);
    // The primary's list removes every server it does not name; `c` was refused before the
    // removals (the topology was full), so it comes on the primary's next check.
    let description = topology.description();
    assert_eq!(description.servers.len(), 2);
    assert!(description.servers.contains_key(&addr("a")));
    assert!(description.servers.contains_key(&addr("b")));
    assert!(refusals(&changes).is_empty());
    let again = check(&mut topology, "b", &primary, 200);
    assert_eq!(started(&again), 1);
    let names: Vec<&ServerAddress> = topology.description().servers.keys().collect();
    assert_eq!(names, vec![&addr("a"), &addr("b"), &addr("c")]);
}
