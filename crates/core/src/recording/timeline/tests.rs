//! Timelines of hand-built recordings: a stepdown, a killed primary, a frozen primary, and
//! a failover with no new primary within the recording.

use crate::recording::read::Recording;
use crate::recording::timeline::{analyse, human_duration, Bound, Incident, StageKind};

const HEADER: &str = r#"{"format":"mongo-topology-recording","version":1,"part":0,"started_wall_us":1000000,"settings":{"seeds":["a:1"],"replicaSet":"rs0","heartbeatFrequencyMS":10000,"minHeartbeatFrequencyMS":500,"connectTimeoutMS":2000,"socketTimeoutMS":null,"serverSelectionTimeoutMS":30000,"serverMonitoringMode":"auto"}}"#;

/// A recording from lines built by the helpers below.
fn recording(lines: &[String]) -> Recording {
    let text = std::iter::once(HEADER.to_owned())
        .chain(lines.iter().cloned())
        .collect::<Vec<_>>()
        .join("\n");
    Recording::parse(&text).unwrap()
}

fn hello(t_ms: u64, address: &str, primary: bool, awaited: bool) -> String {
    let reply = if primary {
        r#"{"isWritablePrimary":true,"setName":"rs0","ok":1.0}"#
    } else {
        r#"{"isWritablePrimary":false,"secondary":true,"setName":"rs0","ok":1.0}"#
    };
    format!(
        r#"{{"type":"hello","t_us":{},"address":"{address}","awaited":{awaited},"duration_us":900,"reply":{reply}}}"#,
        t_ms * 1000
    )
}

fn failed(t_ms: u64, address: &str, cause: &str, duration_ms: u64) -> String {
    format!(
        r#"{{"type":"check_failed","t_us":{},"address":"{address}","awaited":false,"duration_us":{},"cause":"{cause}","code":null,"message":"boom"}}"#,
        t_ms * 1000,
        duration_ms * 1000
    )
}

fn server_changed(t_ms: u64, address: &str, from: &str, to: &str) -> String {
    format!(
        r#"{{"type":"sdam","t_us":{},"event":"server_description_changed","address":"{address}","previous":{{"type":"{from}","error":null}},"new":{{"type":"{to}","error":null}}}}"#,
        t_ms * 1000
    )
}

fn topology(t_ms: u64, from: Option<&str>, to: Option<&str>) -> String {
    let kind = |primary: Option<&str>| match primary {
        Some(_) => "ReplicaSetWithPrimary",
        None => "ReplicaSetNoPrimary",
    };
    let name = |primary: Option<&str>| primary.map_or("null".to_owned(), |p| format!("\"{p}\""));
    format!(
        r#"{{"type":"sdam","t_us":{},"event":"topology_description_changed","previous":{{"type":"{}","setName":"rs0","server_count":2,"primary":{}}},"new":{{"type":"{}","setName":"rs0","server_count":2,"primary":{}}}}}"#,
        t_ms * 1000,
        kind(from),
        name(from),
        kind(to),
        name(to)
    )
}

/// Discovery: a:1 primary, b:2 secondary, both known at 100 ms.
fn discovery() -> Vec<String> {
    vec![
        r#"{"type":"sdam","t_us":0,"event":"topology_opening"}"#.to_owned(),
        r#"{"type":"sdam","t_us":1,"event":"server_opening","address":"a:1"}"#.to_owned(),
        r#"{"type":"sdam","t_us":2,"event":"server_opening","address":"b:2"}"#.to_owned(),
        hello(50, "a:1", true, false),
        server_changed(50, "a:1", "Unknown", "RSPrimary"),
        topology(50, None, Some("a:1")),
        hello(100, "b:2", false, false),
        server_changed(100, "b:2", "Unknown", "RSSecondary"),
    ]
}

fn at(incident: &Incident, kind: StageKind) -> Option<u64> {
    incident.stage(kind).and_then(|stage| stage.at_us)
}

fn bounds(incident: &Incident, kind: StageKind) -> Vec<Bound> {
    incident
        .stage(kind)
        .map(|s| s.bounds.clone())
        .unwrap_or_default()
}

fn assert_in_order(incident: &Incident) {
    let times: Vec<u64> = incident.stages.iter().filter_map(|s| s.at_us).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let total: u64 = incident.stages.iter().filter_map(|s| s.duration_us).sum();
    assert_eq!(
        Some(total),
        times.last().zip(times.first()).map(|(l, f)| l - f)
    );
}

#[test]
fn a_stepdown_is_reported_by_the_old_primary_and_has_no_failed_check() {
    let mut lines = discovery();
    lines.extend([
        hello(5_000, "a:1", true, true),
        // The step-down, streamed.
        hello(7_000, "a:1", false, true),
        server_changed(7_000, "a:1", "RSPrimary", "RSSecondary"),
        topology(7_000, Some("a:1"), None),
        hello(9_500, "b:2", true, true),
        server_changed(9_500, "b:2", "RSSecondary", "RSPrimary"),
        topology(9_500, None, Some("b:2")),
    ]);
    let timeline = analyse(&recording(&lines));
    assert_eq!(timeline.incidents.len(), 1);
    let incident = &timeline.incidents[0];
    assert_eq!(incident.old_primary, "a:1");
    assert_eq!(incident.new_primary.as_deref(), Some("b:2"));
    assert_eq!(at(incident, StageKind::LastGoodCheck), Some(5_000_000));
    assert_eq!(at(incident, StageKind::FirstFailedCheck), None);
    let failed = incident.stage(StageKind::FirstFailedCheck).unwrap();
    assert!(failed.detail.contains("step-down"), "{}", failed.detail);
    assert_eq!(at(incident, StageKind::StepDownReport), Some(7_000_000));
    assert_eq!(
        bounds(incident, StageKind::StepDownReport),
        [Bound::Immediate]
    );
    assert_eq!(at(incident, StageKind::NoPrimary), Some(7_000_000));
    let reports = incident.stage(StageKind::NewPrimaryReportsItself).unwrap();
    assert_eq!(reports.at_us, Some(9_500_000));
    assert_eq!(reports.duration_us, Some(2_500_000));
    assert_eq!(reports.bounds, [Bound::Election]);
    assert_eq!(
        at(incident, StageKind::SelectableForWrites),
        Some(9_500_000)
    );
    assert_eq!(incident.without_primary_us, 2_500_000);
    assert_in_order(incident);
}

#[test]
fn a_killed_primary_is_found_by_a_failed_check_at_the_next_heartbeat() {
    let mut lines = discovery();
    lines.extend([
        hello(10_050, "a:1", true, false),
        hello(19_000, "b:2", false, false),
        failed(20_050, "a:1", "connect", 1),
        server_changed(20_050, "a:1", "RSPrimary", "Unknown"),
        topology(20_050, Some("a:1"), None),
        // An early (requested) check of b:2 finds the new primary.
        hello(20_600, "b:2", true, false),
        server_changed(20_600, "b:2", "RSSecondary", "RSPrimary"),
        topology(20_600, None, Some("b:2")),
    ]);
    let timeline = analyse(&recording(&lines));
    let incident = &timeline.incidents[0];
    let first = incident.stage(StageKind::FirstFailedCheck).unwrap();
    assert_eq!(first.at_us, Some(20_050_000));
    assert_eq!(first.duration_us, Some(10_000_000));
    assert_eq!(first.bounds, [Bound::HeartbeatFrequency]);
    assert!(first.shorten.contains("heartbeatFrequencyMS"));
    assert_eq!(at(incident, StageKind::StepDownReport), None);
    assert!(incident
        .stage(StageKind::StepDownReport)
        .unwrap()
        .detail
        .contains("failed"));
    assert_eq!(at(incident, StageKind::OldPrimaryDemoted), Some(20_050_000));
    assert_eq!(
        bounds(incident, StageKind::NewPrimaryReportsItself),
        [Bound::Election, Bound::MinHeartbeatFrequency]
    );
    assert_eq!(
        at(incident, StageKind::ClientShowsNewPrimary),
        Some(20_600_000)
    );
    assert_eq!(
        bounds(incident, StageKind::SelectableForWrites),
        [Bound::ServerSelectionTimeout]
    );
    assert_in_order(incident);
    // The picture's lanes: a:1 primary then Unknown with one failed check.
    let lane = &timeline.lanes[0];
    assert_eq!(lane.address, "a:1");
    let types: Vec<&str> = lane.spans.iter().map(|s| s.server_type.as_str()).collect();
    assert_eq!(types, ["Unknown", "RSPrimary", "Unknown"]);
    assert_eq!(lane.failed_checks.len(), 1);
}

#[test]
fn a_frozen_primary_times_out_after_connect_timeout() {
    let mut lines = discovery();
    lines.extend([
        hello(10_050, "a:1", true, false),
        failed(22_050, "a:1", "timeout", 2_000),
        server_changed(22_050, "a:1", "RSPrimary", "Unknown"),
        topology(22_050, Some("a:1"), None),
        hello(40_000, "b:2", true, false),
        server_changed(40_000, "b:2", "RSSecondary", "RSPrimary"),
        topology(40_000, None, Some("b:2")),
    ]);
    let timeline = analyse(&recording(&lines));
    let incident = &timeline.incidents[0];
    let first = incident.stage(StageKind::FirstFailedCheck).unwrap();
    assert_eq!(
        first.bounds,
        [Bound::ConnectTimeout, Bound::HeartbeatFrequency]
    );
    assert!(first.detail.contains("timed out"), "{}", first.detail);
    assert!(first.shorten.contains("connectTimeoutMS"));
    assert!(first.shorten.contains("socketTimeoutMS"));
    assert_eq!(
        Bound::ConnectTimeout.value_ms(&timeline.settings),
        Some(2_000)
    );
    assert_eq!(
        bounds(incident, StageKind::NewPrimaryReportsItself),
        [Bound::Election, Bound::HeartbeatFrequency]
    );
    assert_eq!(incident.without_primary_us, 17_950_000);
    let selectable = incident.stage(StageKind::SelectableForWrites).unwrap();
    assert!(
        selectable.detail.contains("waited"),
        "{}",
        selectable.detail
    );
    assert_in_order(incident);
}

#[test]
fn no_new_primary_within_the_recording_is_said() {
    let mut lines = discovery();
    lines.extend([
        hello(10_050, "a:1", true, false),
        failed(20_050, "a:1", "network", 3),
        server_changed(20_050, "a:1", "RSPrimary", "Unknown"),
        topology(20_050, Some("a:1"), None),
        hello(60_050, "b:2", false, false),
    ]);
    let timeline = analyse(&recording(&lines));
    let incident = &timeline.incidents[0];
    assert_eq!(incident.new_primary, None);
    assert_eq!(incident.without_primary_us, 40_000_000);
    for kind in [
        StageKind::NewPrimaryReportsItself,
        StageKind::ClientShowsNewPrimary,
        StageKind::SelectableForWrites,
    ] {
        let stage = incident.stage(kind).unwrap();
        assert!(!stage.happened());
        assert!(
            stage.detail.contains("no new primary within the recording"),
            "{}",
            stage.detail
        );
    }
    let selectable = incident.stage(StageKind::SelectableForWrites).unwrap();
    assert!(
        selectable.detail.contains("40.0 s"),
        "{}",
        selectable.detail
    );
    assert_in_order(incident);
}

#[test]
fn closing_the_client_is_not_an_incident() {
    let mut lines = discovery();
    lines.extend([
        server_changed(200, "a:1", "RSPrimary", "Unknown"),
        topology(200, Some("a:1"), None),
        r#"{"type":"sdam","t_us":200001,"event":"server_closed","address":"a:1"}"#.to_owned(),
        r#"{"type":"sdam","t_us":200002,"event":"topology_closed"}"#.to_owned(),
    ]);
    assert!(analyse(&recording(&lines)).incidents.is_empty());
}

#[test]
fn a_recording_without_a_lost_primary_has_no_incident() {
    let timeline = analyse(&recording(&discovery()));
    assert!(timeline.incidents.is_empty());
    assert_eq!(timeline.lanes.len(), 2);
    assert_eq!(timeline.end_us, 100_000);
}

#[test]
fn durations_read_for_people() {
    assert_eq!(human_duration(999), "999 µs");
    assert_eq!(human_duration(850_000), "850 ms");
    assert_eq!(human_duration(2_500_000), "2.500 s");
    assert_eq!(human_duration(40_000_000), "40.0 s");
}
