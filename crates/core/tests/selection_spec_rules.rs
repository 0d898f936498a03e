//! Rules of the Server Selection and Max Staleness specs that the JSON suites exercise only
//! thinly, each checked with our own topologies and values: topology types that ignore the
//! read preference, fallbacks of the preferred modes, the staleness estimate and its
//! minimum, tag set order, PossiblePrimary, and the bounds of the latency window.

use std::sync::Arc;
use std::time::Duration;

use mongo_topology_core::sdam::{ServerDescription, ServerType, TopologyDescription, TopologyType};
use mongo_topology_core::selection::{
    select_suitable, ReadPreference, ReadPreferenceError, SelectionCriteria, SelectionError,
    SelectionSettings, TagSet,
};
use mongo_topology_core::{MonotonicTime, ServerAddress};

/// A server of `kind` with an average RTT, a last update time and a last write date (both in
/// milliseconds) and tags.
fn server(
    host: &str,
    kind: ServerType,
    rtt_ms: u64,
    (updated_ms, written_ms): (u64, i64),
    tags: &[(&str, &str)],
) -> ServerDescription {
    ServerDescription {
        server_type: kind,
        round_trip_time: Some(Duration::from_millis(rtt_ms)),
        last_update_time: Some(MonotonicTime::from_millis(updated_ms)),
        last_write_date: Some(bson::DateTime::from_millis(written_ms)),
        tags: tag_set(tags),
        ..ServerDescription::unknown(ServerAddress::tcp(host, 27017))
    }
}

/// A server with the same update time and write date as every other `plain` server.
fn plain(host: &str, kind: ServerType, rtt_ms: u64, tags: &[(&str, &str)]) -> ServerDescription {
    server(host, kind, rtt_ms, (500_000, 500_000), tags)
}

fn tag_set(pairs: &[(&str, &str)]) -> TagSet {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn topology(kind: TopologyType, servers: Vec<ServerDescription>) -> TopologyDescription {
    let mut topology = TopologyDescription::with_seeds(kind, None, []);
    for server in servers {
        topology
            .servers
            .insert(server.address.clone(), Arc::new(server));
    }
    topology
}

fn read(mode: &str, tag_sets: &[&[(&str, &str)]], max_staleness: Option<i64>) -> SelectionCriteria {
    let tag_sets: Vec<TagSet> = tag_sets.iter().map(|set| tag_set(set)).collect();
    SelectionCriteria::read(
        ReadPreference::from_uri_parts(Some(mode), &tag_sets, max_staleness).unwrap(),
    )
}

fn heartbeat(seconds: u64) -> SelectionSettings {
    SelectionSettings {
        heartbeat_frequency: Duration::from_secs(seconds),
        ..SelectionSettings::default()
    }
}

/// The hosts of the suitable servers and of those in the latency window, each sorted; two
/// empty lists when no server is suitable. Other errors fail the test.
fn outcome(
    topology: &TopologyDescription,
    criteria: &SelectionCriteria,
    settings: &SelectionSettings,
) -> (Vec<String>, Vec<String>) {
    let host = |s: &ServerDescription| s.address.to_string().replace(":27017", "");
    match select_suitable(topology, criteria, settings) {
        Ok(found) => {
            let mut suitable: Vec<String> = found.suitable().map(host).collect();
            let mut in_window: Vec<String> = found.in_window().map(host).collect();
            suitable.sort();
            in_window.sort();
            (suitable, in_window)
        }
        Err(SelectionError::NoSuitableServer(_)) => (Vec::new(), Vec::new()),
        Err(error) => panic!("unexpected error: {error}"),
    }
}

fn both(hosts: &[&str]) -> (Vec<String>, Vec<String>) {
    let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    (hosts.clone(), hosts)
}

#[test]
fn sharded_ignores_mode_tags_and_max_staleness_and_only_replica_sets_validate_it() {
    // "For read operations, all servers of type Mongos are suitable; the mode, tag_sets, and
    // maxStalenessSeconds read preference parameters are ignored."
    let sharded = topology(
        TopologyType::Sharded,
        vec![
            plain("r1", ServerType::Mongos, 4, &[]),
            plain("r2", ServerType::Mongos, 19, &[]),
            plain("r3", ServerType::Mongos, 20, &[]),
            ServerDescription::unknown(ServerAddress::tcp("r4", 27017)),
        ],
    );
    let criteria = read("secondary", &[&[("dc", "mars")]], Some(1));
    let settings = heartbeat(10);
    assert_eq!(
        outcome(&sharded, &criteria, &settings),
        (
            vec!["r1".into(), "r2".into(), "r3".into()],
            vec!["r1".into(), "r2".into()]
        )
    );
    // The same read preference is invalid against a replica set: 1 s is below 90 s.
    let rs = topology(
        TopologyType::ReplicaSetNoPrimary,
        vec![plain("s", ServerType::RsSecondary, 4, &[("dc", "mars")])],
    );
    assert!(matches!(
        select_suitable(&rs, &criteria, &settings),
        Err(SelectionError::InvalidCriteria(
            ReadPreferenceError::MaxStalenessTooSmall { .. }
        ))
    ));
}

#[test]
fn load_balanced_selects_the_load_balancer_for_every_operation() {
    let lb = topology(
        TopologyType::LoadBalanced,
        vec![plain("lb", ServerType::LoadBalancer, 0, &[])],
    );
    let settings = heartbeat(10);
    for criteria in [
        SelectionCriteria::write(),
        read("secondary", &[&[("dc", "mars")]], None),
        read("nearest", &[], Some(1)),
        read("primaryPreferred", &[&[("rack", "9")]], Some(30)),
    ] {
        assert_eq!(
            outcome(&lb, &criteria, &settings),
            both(&["lb"]),
            "{criteria}"
        );
    }
}

#[test]
fn an_unknown_topology_has_no_suitable_server_even_if_one_answered() {
    let unknown = topology(
        TopologyType::Unknown,
        vec![
            plain("x", ServerType::Standalone, 2, &[]),
            plain("y", ServerType::RsGhost, 2, &[]),
        ],
    );
    let settings = SelectionSettings::default();
    for criteria in [SelectionCriteria::write(), read("nearest", &[], None)] {
        let error = select_suitable(&unknown, &criteria, &settings).unwrap_err();
        assert!(error.may_succeed_later(), "{error}");
    }
}

#[test]
fn single_serves_writes_and_every_read_preference() {
    let direct = topology(
        TopologyType::Single,
        vec![plain(
            "only",
            ServerType::RsSecondary,
            70,
            &[("dc", "earth")],
        )],
    );
    let settings = heartbeat(10);
    for criteria in [
        SelectionCriteria::write(),
        read("primary", &[], None),
        read("secondary", &[&[("dc", "mars")]], Some(1)),
    ] {
        assert_eq!(
            outcome(&direct, &criteria, &settings),
            both(&["only"]),
            "{criteria}"
        );
    }
}

#[test]
fn primary_preferred_takes_the_primary_whatever_its_tags_else_tries_the_tag_sets_in_order() {
    let members = |with_primary: bool| {
        let mut servers = vec![
            plain("s1", ServerType::RsSecondary, 5, &[("dc", "b")]),
            plain("s2", ServerType::RsSecondary, 5, &[("dc", "c")]),
        ];
        let (kind, topology_kind) = if with_primary {
            (ServerType::RsPrimary, TopologyType::ReplicaSetWithPrimary)
        } else {
            (ServerType::Unknown, TopologyType::ReplicaSetNoPrimary)
        };
        servers.push(plain("p", kind, 5, &[("dc", "a")]));
        topology(topology_kind, servers)
    };
    let criteria = read("primaryPreferred", &[&[("dc", "z")], &[("dc", "c")]], None);
    let settings = SelectionSettings::default();
    assert_eq!(outcome(&members(true), &criteria, &settings), both(&["p"]));
    assert_eq!(
        outcome(&members(false), &criteria, &settings),
        both(&["s2"])
    );
    let nothing_matches = read("primaryPreferred", &[&[("dc", "z")]], None);
    assert_eq!(
        outcome(&members(false), &nothing_matches, &settings),
        both(&[])
    );
}

#[test]
fn secondary_preferred_reads_the_primary_when_staleness_rules_out_every_secondary() {
    // With a 10 s heartbeat the secondary's estimate is (400 - 300) - (400 - 400) + 10 = 110 s.
    let rs = topology(
        TopologyType::ReplicaSetWithPrimary,
        vec![
            server("p", ServerType::RsPrimary, 30, (400_000, 400_000), &[]),
            server("s", ServerType::RsSecondary, 5, (400_000, 300_000), &[]),
        ],
    );
    let settings = heartbeat(10);
    let strict = read("secondaryPreferred", &[], Some(109));
    assert_eq!(outcome(&rs, &strict, &settings), both(&["p"]));
    let lenient = read("secondaryPreferred", &[], Some(110));
    assert_eq!(outcome(&rs, &lenient, &settings), both(&["s"]));
}

#[test]
fn the_heartbeat_frequency_is_added_to_the_estimate_and_equal_staleness_is_eligible() {
    // No primary: SMax is s1 (written at 200 s); s2 lags it by 80 s.
    let rs = topology(
        TopologyType::ReplicaSetNoPrimary,
        vec![
            server("s1", ServerType::RsSecondary, 5, (0, 200_000), &[]),
            server("s2", ServerType::RsSecondary, 5, (0, 120_000), &[]),
        ],
    );
    let criteria = read("secondary", &[], Some(90));
    // 80 s + 10 s = 90 s: "less than or equal to maxStalenessSeconds" is eligible.
    assert_eq!(outcome(&rs, &criteria, &heartbeat(10)), both(&["s1", "s2"]));
    // 80 s + 11 s = 91 s is not.
    assert_eq!(outcome(&rs, &criteria, &heartbeat(11)), both(&["s1"]));
}

#[test]
fn the_idle_write_period_sets_the_minimum_when_the_heartbeat_is_long() {
    // heartbeatFrequencyMS + idleWritePeriodMS = 95 s + 10 s = 105 s, above the 90 s floor.
    let rs = topology(
        TopologyType::ReplicaSetWithPrimary,
        vec![
            plain("p", ServerType::RsPrimary, 5, &[]),
            plain("s", ServerType::RsSecondary, 5, &[]),
        ],
    );
    let settings = heartbeat(95);
    match select_suitable(&rs, &read("nearest", &[], Some(104)), &settings) {
        Err(SelectionError::InvalidCriteria(ReadPreferenceError::MaxStalenessTooSmall {
            minimum_seconds,
            ..
        })) => assert_eq!(minimum_seconds, 105),
        other => panic!("expected maxStalenessSeconds 104 to be too small, got {other:?}"),
    }
    assert_eq!(
        outcome(&rs, &read("nearest", &[], Some(105)), &settings),
        both(&["p", "s"])
    );
}

#[test]
fn tag_sets_are_tried_in_order_and_the_first_matching_one_decides() {
    let rs = topology(
        TopologyType::ReplicaSetNoPrimary,
        vec![
            plain(
                "a",
                ServerType::RsSecondary,
                5,
                &[("dc", "x"), ("rack", "1")],
            ),
            plain(
                "b",
                ServerType::RsSecondary,
                5,
                &[("dc", "x"), ("rack", "2")],
            ),
            plain("c", ServerType::RsSecondary, 5, &[("dc", "y")]),
        ],
    );
    let settings = SelectionSettings::default();
    // {dc: q} matches nothing; {rack: 2} matches b; the later sets are never consulted.
    let criteria = read(
        "secondary",
        &[&[("dc", "q")], &[("rack", "2")], &[("dc", "x")], &[]],
        None,
    );
    assert_eq!(outcome(&rs, &criteria, &settings), both(&["b"]));
    // A set matches only when all its tags do: {dc: y, rack: 2} matches no server.
    let criteria = read("secondary", &[&[("dc", "y"), ("rack", "2")], &[]], None);
    assert_eq!(outcome(&rs, &criteria, &settings), both(&["a", "b", "c"]));
}

#[test]
fn tag_sets_are_matched_against_the_servers_left_after_the_staleness_filter() {
    // Without a primary, c is 150 s behind a and b; with a 10 s heartbeat its estimate is
    // 160 s. The first tag set only matches c, so once c is filtered out the second decides.
    let rs = topology(
        TopologyType::ReplicaSetNoPrimary,
        vec![
            server(
                "a",
                ServerType::RsSecondary,
                5,
                (0, 300_000),
                &[("dc", "x")],
            ),
            server(
                "b",
                ServerType::RsSecondary,
                5,
                (0, 300_000),
                &[("dc", "y")],
            ),
            server(
                "c",
                ServerType::RsSecondary,
                5,
                (0, 150_000),
                &[("dc", "z")],
            ),
        ],
    );
    let criteria = read("nearest", &[&[("dc", "z")], &[("dc", "y")]], Some(120));
    assert_eq!(outcome(&rs, &criteria, &heartbeat(10)), both(&["b"]));
}

#[test]
fn a_possible_primary_is_never_selected_nor_anchors_the_window() {
    let rs = topology(
        TopologyType::ReplicaSetNoPrimary,
        vec![
            plain("maybe", ServerType::PossiblePrimary, 1, &[]),
            plain("s", ServerType::RsSecondary, 40, &[]),
        ],
    );
    let settings = SelectionSettings::default();
    for mode in ["nearest", "primaryPreferred", "secondaryPreferred"] {
        assert_eq!(
            outcome(&rs, &read(mode, &[], None), &settings),
            both(&["s"]),
            "{mode}"
        );
    }
    assert_eq!(
        outcome(&rs, &read("primary", &[], None), &settings),
        both(&[])
    );
    assert_eq!(
        outcome(&rs, &SelectionCriteria::write(), &settings),
        both(&[])
    );
}

#[test]
fn the_latency_window_includes_exactly_the_fastest_plus_the_local_threshold() {
    let sharded = topology(
        TopologyType::Sharded,
        vec![
            plain("fast", ServerType::Mongos, 10, &[]),
            plain("edge", ServerType::Mongos, 25, &[]),
            plain("slow", ServerType::Mongos, 26, &[]),
        ],
    );
    let (suitable, in_window) = outcome(
        &sharded,
        &SelectionCriteria::write(),
        &SelectionSettings::default(),
    );
    assert_eq!(suitable, vec!["edge", "fast", "slow"]);
    assert_eq!(in_window, vec!["edge", "fast"]);
    let wide = SelectionSettings {
        local_threshold: Duration::from_millis(16),
        ..SelectionSettings::default()
    };
    let (_, in_window) = outcome(&sharded, &SelectionCriteria::write(), &wide);
    assert_eq!(in_window, vec!["edge", "fast", "slow"]);
}
