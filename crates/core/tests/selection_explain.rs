//! The explanations selection gives when it cannot choose a server: contents and text.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mongo_topology_core::sdam::{
    ServerDescription, ServerError, ServerErrorKind, ServerType, TopologyDescription, TopologyType,
};
use mongo_topology_core::selection::{
    explain_selection, select_suitable, select_suitable_with_deprioritized, ReadPreference,
    ReadPreferenceMode, Reason, SelectionCriteria, SelectionError, SelectionExplanation,
    SelectionSettings, ServerFilter, TopologyProblem,
};
use mongo_topology_core::{MonotonicTime, ServerAddress};

fn address(host: &str) -> ServerAddress {
    ServerAddress::tcp(host, 27017)
}

fn member(host: &str, kind: ServerType, rtt_ms: u64, tags: &[(&str, &str)]) -> ServerDescription {
    ServerDescription {
        server_type: kind,
        round_trip_time: Some(Duration::from_millis(rtt_ms)),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        last_update_time: Some(MonotonicTime::from_millis(100_000)),
        last_write_date: Some(bson::DateTime::from_millis(100_000)),
        ..ServerDescription::unknown(address(host))
    }
}

fn topology(kind: TopologyType, servers: Vec<ServerDescription>) -> TopologyDescription {
    let mut topology = TopologyDescription::with_seeds(kind, Some("rs".into()), []);
    for server in servers {
        topology
            .servers
            .insert(server.address.clone(), Arc::new(server));
    }
    topology
}

fn read(mode: &str, tags: &[&[(&str, &str)]], max_staleness: Option<i64>) -> SelectionCriteria {
    let tag_sets: Vec<BTreeMap<String, String>> = tags
        .iter()
        .map(|set| {
            set.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect();
    SelectionCriteria::read(
        ReadPreference::from_uri_parts(Some(mode), &tag_sets, max_staleness).unwrap(),
    )
}

fn no_suitable(error: SelectionError) -> SelectionExplanation {
    match error {
        SelectionError::NoSuitableServer(explanation) => *explanation,
        other => panic!("expected NoSuitableServer, got {other:?}"),
    }
}

fn reason<'a>(explanation: &'a SelectionExplanation, host: &str) -> &'a Reason {
    &explanation.verdict(&address(host)).unwrap().reason
}

#[test]
fn mode_primary_without_a_primary_names_each_server_type_and_last_error() {
    let refused = ServerError::new(ServerErrorKind::Connect, "connection refused");
    let rs = topology(
        TopologyType::ReplicaSetNoPrimary,
        vec![
            member("a", ServerType::RsSecondary, 5, &[]),
            ServerDescription::unknown_with_error(
                address("b"),
                refused.clone(),
                MonotonicTime::ZERO,
            ),
            member("c", ServerType::RsArbiter, 5, &[]),
        ],
    );
    let criteria = SelectionCriteria::read(ReadPreference::primary());
    let error = select_suitable(&rs, &criteria, &SelectionSettings::default()).unwrap_err();
    assert!(error.may_succeed_later());
    let explanation = no_suitable(error);
    assert_eq!(
        reason(&explanation, "a"),
        &Reason::WrongType {
            requirement: "mode primary requires the primary"
        }
    );
    assert_eq!(
        reason(&explanation, "b"),
        &Reason::Unavailable {
            error: Some(refused),
            removed: None,
        }
    );
    let text = explanation.to_string();
    assert_eq!(
        text,
        "no server is suitable for read with mode primary in a ReplicaSetNoPrimary topology\n  \
         a:27017: RSSecondary, but mode primary requires the primary\n  \
         b:27017: Unknown, unavailable, last error (connect): connection refused\n  \
         c:27017: RSArbiter, but mode primary requires the primary"
    );
}

#[test]
fn tag_mismatch_lists_the_tag_sets_tried_and_the_server_tags() {
    let rs = topology(
        TopologyType::ReplicaSetWithPrimary,
        vec![
            member("p", ServerType::RsPrimary, 5, &[("dc", "ny")]),
            member("s", ServerType::RsSecondary, 5, &[("dc", "sf")]),
        ],
    );
    let criteria = read("secondary", &[&[("dc", "ny")], &[("dc", "tokyo")]], None);
    let error = select_suitable(&rs, &criteria, &SelectionSettings::default()).unwrap_err();
    let explanation = no_suitable(error);
    let text = explanation.to_string();
    assert!(
        text.contains(
            "s:27017: RSSecondary, tags {dc: sf} match none of the tag sets tried \
             [{dc: ny}, {dc: tokyo}]"
        ),
        "{text}"
    );
    assert!(
        text.contains("p:27017: RSPrimary, but mode secondary requires a secondary"),
        "{text}"
    );
}

#[test]
fn secondary_preferred_without_primary_explains_secondaries_by_their_own_failure() {
    let rs = topology(
        TopologyType::ReplicaSetNoPrimary,
        vec![member("s", ServerType::RsSecondary, 5, &[("dc", "sf")])],
    );
    let criteria = read("secondaryPreferred", &[&[("dc", "ny")]], None);
    let error = select_suitable(&rs, &criteria, &SelectionSettings::default()).unwrap_err();
    let explanation = no_suitable(error);
    assert!(
        matches!(reason(&explanation, "s"), Reason::TagsMismatch { tried, .. } if tried.len() == 1),
        "{explanation}"
    );
}

#[test]
fn too_stale_says_by_how_much() {
    // No primary: the freshest secondary is the reference; heartbeat 10 s.
    let fresh = member("fresh", ServerType::RsSecondary, 5, &[("dc", "sf")]);
    let mut stale = member("stale", ServerType::RsSecondary, 5, &[("dc", "ny")]);
    stale.last_write_date = Some(bson::DateTime::from_millis(100_000 - 150_000));
    let rs = topology(TopologyType::ReplicaSetNoPrimary, vec![fresh, stale]);
    let criteria = read("secondary", &[&[("dc", "ny")]], Some(120));
    let explanation = explain_selection(&rs, &criteria, &SelectionSettings::default(), &[]);
    assert_eq!(
        reason(&explanation, "stale"),
        &Reason::TooStale {
            staleness_ms: 160_000,
            max_ms: 120_000
        }
    );
    assert!(
        explanation.to_string().contains(
            "stale:27017: RSSecondary, too stale: estimated staleness 160 s exceeds \
             maxStalenessSeconds 120 s by 40 s"
        ),
        "{explanation}"
    );
    // Staleness is applied before tags: the fresh secondary fails on tags instead.
    assert!(matches!(
        reason(&explanation, "fresh"),
        Reason::TagsMismatch { .. }
    ));
}

#[test]
fn servers_outside_the_latency_window_are_explained_with_their_rtt() {
    let sharded = topology(
        TopologyType::Sharded,
        vec![
            member("fast", ServerType::Mongos, 5, &[]),
            member("slow", ServerType::Mongos, 40, &[]),
        ],
    );
    let criteria = SelectionCriteria::write();
    let settings = SelectionSettings::default();
    let suitable = select_suitable(&sharded, &criteria, &settings).unwrap();
    let slow: Vec<_> = suitable
        .outside_window()
        .map(|s| s.address.clone())
        .collect();
    assert_eq!(slow, vec![address("slow")]);
    let explanation = explain_selection(&sharded, &criteria, &settings, &[]);
    assert_eq!(reason(&explanation, "fast"), &Reason::InLatencyWindow);
    assert_eq!(
        reason(&explanation, "slow"),
        &Reason::OutsideLatencyWindow {
            rtt: Duration::from_millis(40),
            fastest: Duration::from_millis(5),
            local_threshold: Duration::from_millis(15),
        }
    );
    let text = explanation.to_string();
    assert!(
        text.starts_with("server selection for write in a Sharded topology"),
        "{text}"
    );
    assert!(
        text.contains(
            "slow:27017: Mongos, suitable but outside the latency window: average RTT 40 ms > \
             fastest 5 ms + localThresholdMS 15 ms, by 20 ms"
        ),
        "{text}"
    );
}

#[test]
fn incompatible_and_unknown_topologies_are_explained_at_the_top() {
    let mut rs = topology(
        TopologyType::ReplicaSetWithPrimary,
        vec![member("p", ServerType::RsPrimary, 5, &[])],
    );
    rs.compatibility_error =
        Some("p:27017 reports wire version 2, but this client requires 8".into());
    let error = select_suitable(
        &rs,
        &SelectionCriteria::write(),
        &SelectionSettings::default(),
    )
    .unwrap_err();
    assert!(!error.may_succeed_later());
    let explanation = error.explanation().unwrap();
    assert!(matches!(
        explanation.topology_problem,
        Some(TopologyProblem::Incompatible(_))
    ));
    assert!(
        error
            .to_string()
            .contains("the topology is incompatible: p:27017 reports wire version 2"),
        "{error}"
    );

    let unknown = topology(
        TopologyType::Unknown,
        vec![member("ghost", ServerType::RsGhost, 5, &[])],
    );
    let error = select_suitable(
        &unknown,
        &SelectionCriteria::write(),
        &SelectionSettings::default(),
    )
    .unwrap_err();
    assert_eq!(
        error.explanation().unwrap().topology_problem,
        Some(TopologyProblem::UnknownTopology)
    );
    assert!(
        error.to_string().contains("topology type is Unknown"),
        "{error}"
    );
}

#[test]
fn max_staleness_below_the_replica_set_minimum_is_an_invalid_criteria_error() {
    let rs = topology(
        TopologyType::ReplicaSetWithPrimary,
        vec![member("p", ServerType::RsPrimary, 5, &[])],
    );
    let criteria = read("nearest", &[], Some(60));
    let error = select_suitable(&rs, &criteria, &SelectionSettings::default()).unwrap_err();
    assert!(matches!(error, SelectionError::InvalidCriteria(_)));
    assert!(!error.may_succeed_later());
    assert!(
        error
            .to_string()
            .contains("maxStalenessSeconds 60 is too small"),
        "{error}"
    );
    // Mongos validates max staleness itself: a sharded topology passes it through.
    let sharded = topology(
        TopologyType::Sharded,
        vec![member("m", ServerType::Mongos, 5, &[])],
    );
    assert!(select_suitable(&sharded, &criteria, &SelectionSettings::default()).is_ok());
}

#[test]
fn filter_and_deprioritization_are_reasons_too() {
    let rs = topology(
        TopologyType::ReplicaSetWithPrimary,
        vec![
            member("p", ServerType::RsPrimary, 5, &[]),
            member("s1", ServerType::RsSecondary, 5, &[]),
            member("s2", ServerType::RsSecondary, 5, &[]),
        ],
    );
    let only_s1 = ServerFilter::new(|server| server.address == address("s1"));
    let criteria = SelectionCriteria::read(ReadPreference::with_mode(ReadPreferenceMode::Nearest))
        .with_filter(only_s1);
    let settings = SelectionSettings::default();
    let explanation = explain_selection(&rs, &criteria, &settings, &[address("s1")]);
    assert_eq!(reason(&explanation, "s1"), &Reason::Deprioritized);
    assert_eq!(reason(&explanation, "s2"), &Reason::RejectedByFilter);
    assert_eq!(reason(&explanation, "p"), &Reason::RejectedByFilter);
    // Deprioritized s1 is still suitable for the spec, so it is not tried again: the filter
    // then leaves nothing.
    let error = select_suitable_with_deprioritized(&rs, &criteria, &settings, &[address("s1")])
        .unwrap_err();
    assert!(error
        .to_string()
        .contains("rejected by the application's server filter"));
    assert!(criteria.to_string().ends_with("and an application filter"));
}
