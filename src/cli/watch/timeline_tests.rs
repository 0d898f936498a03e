//! [`Timeline`] from synthetic events: the records made, and `after_election`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bson::doc;
use bson::oid::ObjectId;
use mongo_topology::sdam::{
    SdamEvent, ServerDescription, ServerError, ServerErrorKind, ServerType, TopologyDescription,
    TopologyType,
};
use mongo_topology::{ClusterEvent, EventKind, ServerAddress};
use tokio::time::Instant;

use super::timeline::{Timeline, What};

fn address(text: &str) -> ServerAddress {
    ServerAddress::parse(text).unwrap()
}

fn event(at: Instant, kind: EventKind) -> ClusterEvent {
    ClusterEvent {
        topology_id: ObjectId::new(),
        at,
        kind,
    }
}

fn hello(at: Instant, server: &str, primary: bool, election: u8) -> ClusterEvent {
    let mut reply = doc! { "ok": 1, "isWritablePrimary": primary, "setName": "rs0" };
    if primary {
        let id = format!("7fffffff00000000000000{election:02x}");
        reply.insert("electionId", ObjectId::parse_str(id).unwrap());
    }
    event(
        at,
        EventKind::HeartbeatSucceeded {
            address: address(server),
            duration: Duration::from_millis(1),
            reply: mongo_topology::HelloReply::from_document(reply).unwrap(),
            awaited: false,
        },
    )
}

/// A replica set description whose primary is `primary` (or none).
fn topology(primary: Option<&str>) -> Arc<TopologyDescription> {
    let mut topology = TopologyDescription::with_seeds(
        TopologyType::ReplicaSetNoPrimary,
        Some("rs0".to_string()),
        [address("a:1"), address("b:1")],
    );
    if let Some(primary) = primary {
        topology.topology_type = TopologyType::ReplicaSetWithPrimary;
        let mut server = ServerDescription::unknown(address(primary));
        server.server_type = ServerType::RsPrimary;
        topology.servers.insert(address(primary), Arc::new(server));
    }
    Arc::new(topology)
}

fn changed(at: Instant, from: Option<&str>, to: Option<&str>) -> ClusterEvent {
    event(
        at,
        EventKind::Sdam(SdamEvent::TopologyDescriptionChanged {
            previous: topology(from),
            new: topology(to),
        }),
    )
}

fn primary_changes(records: &[super::timeline::Record]) -> Vec<What> {
    records
        .iter()
        .filter(|record| matches!(record.what, What::PrimaryChanged { .. }))
        .map(|record| record.what.clone())
        .collect()
}

#[test]
fn after_election_counts_from_the_first_report_as_primary() {
    let start = Instant::now();
    let ms = |n: u64| start + Duration::from_millis(n);
    let mut timeline = Timeline::new(start, SystemTime::UNIX_EPOCH);
    let mut records = Vec::new();
    records.extend(timeline.on_event(&hello(ms(1), "a:1", true, 1)));
    records.extend(timeline.on_event(&changed(ms(2), None, Some("a:1"))));
    // b reports its election at 100 ms, and again at 105 ms (same electionId: not new).
    records.extend(timeline.on_event(&hello(ms(100), "b:1", true, 2)));
    records.extend(timeline.on_event(&hello(ms(105), "b:1", true, 2)));
    records.extend(timeline.on_event(&changed(ms(107), Some("a:1"), Some("b:1"))));
    assert_eq!(
        primary_changes(&records),
        vec![
            What::PrimaryChanged {
                from: None,
                to: Some(address("a:1")),
                after_election: Some(Duration::from_millis(1)),
                without_primary: None,
            },
            What::PrimaryChanged {
                from: Some(address("a:1")),
                to: Some(address("b:1")),
                after_election: Some(Duration::from_millis(7)),
                without_primary: None,
            },
        ]
    );
    let last = records.last().unwrap();
    assert_eq!(last.elapsed, Duration::from_millis(107));
    assert_eq!(last.ts, SystemTime::UNIX_EPOCH + Duration::from_millis(107));
}

#[test]
fn a_new_election_id_restarts_the_count_and_a_secondary_reply_forgets_it() {
    let start = Instant::now();
    let ms = |n: u64| start + Duration::from_millis(n);
    let mut timeline = Timeline::new(start, SystemTime::UNIX_EPOCH);
    timeline.on_event(&hello(ms(10), "b:1", true, 2));
    timeline.on_event(&hello(ms(20), "b:1", true, 3));
    let records = timeline.on_event(&changed(ms(25), None, Some("b:1")));
    assert!(matches!(
        primary_changes(&records)[..],
        [What::PrimaryChanged { after_election: Some(after), .. }] if after == Duration::from_millis(5)
    ));
    let lost = timeline.on_event(&changed(ms(28), Some("b:1"), None));
    assert!(matches!(
        primary_changes(&lost)[..],
        [What::PrimaryChanged {
            to: None,
            without_primary: None,
            ..
        }]
    ));
    timeline.on_event(&hello(ms(30), "a:1", false, 0));
    timeline.on_event(&hello(ms(31), "a:1", true, 4));
    timeline.on_event(&hello(ms(32), "a:1", false, 0));
    let records = timeline.on_event(&changed(ms(40), Some("b:1"), Some("a:1")));
    assert!(matches!(
        primary_changes(&records)[..],
        [What::PrimaryChanged {
            after_election: None,
            ..
        }]
    ));
}

#[test]
fn a_failed_check_and_closing_make_their_records() {
    let start = Instant::now();
    let mut timeline = Timeline::new(start, SystemTime::UNIX_EPOCH);
    let failed = timeline.on_event(&event(
        start,
        EventKind::HeartbeatFailed {
            address: address("a:1"),
            duration: Duration::from_millis(3),
            failure: ServerError::new(ServerErrorKind::Connect, "refused"),
            awaited: false,
        },
    ));
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].what.name(), "heartbeat_failed");
    timeline.on_event(&changed(start, None, Some("a:1")));
    // The closed client's description has no servers: no primary_changed for it.
    let closing = timeline.on_event(&event(
        start,
        EventKind::Sdam(SdamEvent::TopologyDescriptionChanged {
            previous: topology(Some("a:1")),
            new: Arc::new(TopologyDescription::with_seeds(
                TopologyType::Unknown,
                None,
                [],
            )),
        }),
    ));
    assert_eq!(closing.len(), 1, "{closing:?}");
    assert_eq!(closing[0].what.name(), "topology_description_changed");
}
