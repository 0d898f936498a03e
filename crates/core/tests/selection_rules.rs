//! Selection rules beyond the spec suites: the application filter, deprioritization, large
//! topologies, and properties tying selection and its explanation together.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use mongo_topology_core::sdam::{ServerDescription, ServerType, TopologyDescription, TopologyType};
use mongo_topology_core::selection::{
    explain_selection, select_suitable, select_suitable_with_deprioritized, ReadPreference,
    ReadPreferenceMode, Reason, SelectionCriteria, SelectionError, SelectionSettings, ServerFilter,
    TagSet, INLINE_CAPACITY,
};
use mongo_topology_core::{MonotonicTime, ServerAddress};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn address(host: &str) -> ServerAddress {
    ServerAddress::tcp(host, 27017)
}

fn member(host: &str, kind: ServerType, rtt_ms: u64) -> ServerDescription {
    ServerDescription {
        server_type: kind,
        round_trip_time: Some(Duration::from_millis(rtt_ms)),
        last_update_time: Some(MonotonicTime::from_millis(50_000)),
        last_write_date: Some(bson::DateTime::from_millis(50_000)),
        ..ServerDescription::unknown(address(host))
    }
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

fn hosts<'a>(servers: impl Iterator<Item = &'a ServerDescription>) -> Vec<String> {
    servers
        .map(|s| match &s.address {
            ServerAddress::Tcp { host, .. } => host.to_string(),
            ServerAddress::Unix { path } => path.to_string(),
        })
        .collect()
}

#[test]
fn the_filter_runs_before_the_latency_window() {
    let rs = topology(
        TopologyType::ReplicaSetWithPrimary,
        vec![
            member("p", ServerType::RsPrimary, 1),
            member("s1", ServerType::RsSecondary, 30),
            member("s2", ServerType::RsSecondary, 40),
        ],
    );
    let no_primary = ServerFilter::new(|server| server.server_type != ServerType::RsPrimary);
    let criteria = SelectionCriteria::read(ReadPreference::with_mode(ReadPreferenceMode::Nearest))
        .with_filter(no_primary);
    let suitable = select_suitable(&rs, &criteria, &SelectionSettings::default()).unwrap();
    // Anchored at s1 (30 ms), the fastest server the filter accepts: s2 (40 ms) is in.
    assert_eq!(hosts(suitable.in_window()), vec!["s1", "s2"]);
    assert_eq!(
        suitable.latency_window().fastest,
        Some(Duration::from_millis(30))
    );
}

#[test]
fn primary_preferred_with_a_deprioritized_primary_reads_from_a_secondary() {
    let rs = topology(
        TopologyType::ReplicaSetWithPrimary,
        vec![
            member("p", ServerType::RsPrimary, 1),
            member("s", ServerType::RsSecondary, 1),
        ],
    );
    let criteria = SelectionCriteria::read(ReadPreference::with_mode(
        ReadPreferenceMode::PrimaryPreferred,
    ));
    let settings = SelectionSettings::default();
    let deprioritized = [address("p")];
    let suitable =
        select_suitable_with_deprioritized(&rs, &criteria, &settings, &deprioritized).unwrap();
    assert_eq!(hosts(suitable.suitable()), vec!["s"]);
    let suitable = select_suitable(&rs, &criteria, &settings).unwrap();
    assert_eq!(hosts(suitable.suitable()), vec!["p"]);
}

#[test]
fn single_ignores_the_read_preference_but_needs_an_available_server() {
    let criteria =
        SelectionCriteria::read(ReadPreference::with_mode(ReadPreferenceMode::Secondary));
    let settings = SelectionSettings::default();
    let direct = topology(
        TopologyType::Single,
        vec![member("a", ServerType::RsArbiter, 3)],
    );
    assert!(select_suitable(&direct, &criteria, &settings).is_ok());
    let down = topology(
        TopologyType::Single,
        vec![ServerDescription::unknown(address("a"))],
    );
    let error = select_suitable(&down, &criteria, &settings).unwrap_err();
    assert!(
        error.to_string().contains("a:27017: Unknown, unavailable"),
        "{error}"
    );
}

#[test]
fn many_mongos_beyond_the_inline_capacity_are_all_considered() {
    let count = INLINE_CAPACITY + 6;
    let routers: Vec<ServerDescription> = (0..count)
        .map(|i| {
            member(
                &format!("m{i:03}"),
                ServerType::Mongos,
                100 - (i as u64 % 90),
            )
        })
        .collect();
    let sharded = topology(TopologyType::Sharded, routers);
    let write = SelectionCriteria::write();
    let suitable = select_suitable(&sharded, &write, &SelectionSettings::default()).unwrap();
    assert_eq!(suitable.suitable().count(), count);
    // The fastest is the last router, 100 - 69 = 31 ms; the window reaches 46 ms.
    let in_window: BTreeSet<String> = hosts(suitable.in_window()).into_iter().collect();
    let expected: BTreeSet<String> = (0..count)
        .filter(|i| 100 - (*i as u64 % 90) <= 46)
        .map(|i| format!("m{i:03}"))
        .collect();
    assert_eq!(in_window, expected);
    let mut rng = StdRng::seed_from_u64(3);
    for _ in 0..100 {
        let chosen = suitable.choose(&mut rng, |_| 0);
        assert!(expected.contains(&hosts(std::iter::once(chosen))[0]));
    }
}

fn arb_server(index: usize) -> impl Strategy<Value = ServerDescription> {
    (
        prop_oneof![
            Just(ServerType::RsPrimary),
            Just(ServerType::RsSecondary),
            Just(ServerType::RsSecondary),
            Just(ServerType::RsArbiter),
            Just(ServerType::Unknown),
        ],
        0u64..60,
        prop_oneof![Just("ny"), Just("sf"), Just("tokyo")],
        0i64..400_000,
    )
        .prop_map(move |(kind, rtt, dc, lag)| {
            let mut server = member(&format!("h{index}"), kind, rtt);
            server.tags = [("dc".to_string(), dc.to_string())].into();
            server.last_write_date = Some(bson::DateTime::from_millis(1_000_000 - lag));
            server.last_update_time = Some(MonotonicTime::from_millis(1_000_000));
            server
        })
}

fn arb_topology() -> impl Strategy<Value = TopologyDescription> {
    (1usize..9)
        .prop_flat_map(|n| (0..n).map(arb_server).collect::<Vec<_>>())
        .prop_map(|servers| {
            // At most one primary, as SDAM guarantees.
            let mut seen_primary = false;
            let servers = servers
                .into_iter()
                .map(|mut s| {
                    if s.server_type == ServerType::RsPrimary {
                        if seen_primary {
                            s.server_type = ServerType::RsSecondary;
                        }
                        seen_primary = true;
                    }
                    s
                })
                .collect::<Vec<_>>();
            let kind = if seen_primary {
                TopologyType::ReplicaSetWithPrimary
            } else {
                TopologyType::ReplicaSetNoPrimary
            };
            topology(kind, servers)
        })
}

fn arb_criteria() -> impl Strategy<Value = SelectionCriteria> {
    let mode = prop_oneof![
        Just(ReadPreferenceMode::Primary),
        Just(ReadPreferenceMode::PrimaryPreferred),
        Just(ReadPreferenceMode::Secondary),
        Just(ReadPreferenceMode::SecondaryPreferred),
        Just(ReadPreferenceMode::Nearest),
    ];
    let tag_sets = prop::collection::vec(
        prop_oneof![Just("ny"), Just("sf"), Just("mars"), Just("")],
        0..3,
    );
    (mode, tag_sets, prop::option::of(90u64..400), any::<bool>()).prop_map(
        |(mode, dcs, max, write)| {
            if write {
                return SelectionCriteria::write();
            }
            if mode == ReadPreferenceMode::Primary {
                return SelectionCriteria::read(ReadPreference::primary());
            }
            let sets: Vec<TagSet> = dcs
                .iter()
                .map(|dc| match *dc {
                    "" => TagSet::new(),
                    dc => [("dc".to_string(), dc.to_string())].into(),
                })
                .collect();
            let rp = ReadPreference::new(mode, sets, max.map(Duration::from_secs)).unwrap();
            SelectionCriteria::read(rp)
        },
    )
}

proptest! {
    /// The explanation agrees with selection: the servers it calls in-window are exactly the
    /// ones selection puts in the window, and it never calls a server in-window when
    /// selection fails. The window is anchored at the fastest suitable server.
    #[test]
    fn explanation_and_selection_agree(topology in arb_topology(), criteria in arb_criteria()) {
        let settings = SelectionSettings::default();
        let explanation = explain_selection(&topology, &criteria, &settings, &[]);
        let explained: BTreeSet<ServerAddress> = explanation
            .servers
            .iter()
            .filter(|v| v.reason == Reason::InLatencyWindow)
            .map(|v| v.address.clone())
            .collect();
        match select_suitable(&topology, &criteria, &settings) {
            Ok(suitable) => {
                let in_window: BTreeSet<ServerAddress> =
                    suitable.in_window().map(|s| s.address.clone()).collect();
                prop_assert_eq!(&in_window, &explained);
                let fastest = suitable.suitable().filter_map(|s| s.round_trip_time).min();
                prop_assert_eq!(fastest, suitable.latency_window().fastest);
                for server in suitable.in_window() {
                    prop_assert!(server.round_trip_time <= fastest.map(|f| f + settings.local_threshold));
                }
                for server in suitable.outside_window() {
                    let verdict = explanation.verdict(&server.address).unwrap();
                    let is_outside = matches!(verdict.reason, Reason::OutsideLatencyWindow { .. });
                    prop_assert!(is_outside);
                }
            }
            Err(SelectionError::NoSuitableServer(error)) => {
                prop_assert!(explained.is_empty());
                prop_assert_eq!(error.servers.len(), topology.servers.len());
            }
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }
}
