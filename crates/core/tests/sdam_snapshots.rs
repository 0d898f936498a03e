//! Snapshots of the pure SDAM core: an input that changes nothing returns the same `Arc`, a
//! change shares every unchanged server with the previous snapshot, and heartbeat refreshes
//! are published per the rule of `sdam::refresh`.

use std::sync::Arc;
use std::time::Duration;

use bson::doc;
use mongo_topology_core::sdam::{
    Action, CheckTiming, SdamEvent, ServerError, ServerErrorKind, ServerType, Topology,
    TopologyDescription, TopologySettings,
};
use mongo_topology_core::{MonotonicTime, ServerAddress};

mod sdam_fixture;

use sdam_fixture::{heartbeat, mongos_reply, router, sharded};

fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

fn addr(text: &str) -> ServerAddress {
    ServerAddress::parse(text).unwrap()
}

fn has_events(actions: &[Action]) -> bool {
    actions.iter().any(|action| action.event().is_some())
}

/// Asserts that every server of `before` other than `except` is the same `Arc` in `after`.
fn assert_shared(before: &TopologyDescription, after: &TopologyDescription, except: &[usize]) {
    for (address, server) in &before.servers {
        if except.iter().any(|&i| router(i) == *address) {
            continue;
        }
        let new = after.servers.get(address).unwrap();
        assert!(Arc::ptr_eq(server, new), "{address} was copied");
    }
}

#[test]
fn an_equivalent_heartbeat_returns_the_same_snapshot_and_keeps_its_fresher_values() {
    let mut topology = sharded(5);
    let before = Arc::clone(topology.description());
    let changes = heartbeat(&mut topology, &router(2), &mongos_reply(), 11_000, 11);
    assert!(Arc::ptr_eq(&before, &changes.description));
    assert!(Arc::ptr_eq(&before, topology.description()));
    assert_eq!(changes.actions, vec![Action::MarkPoolReady(router(2))]);

    let published = before.server(&router(2)).unwrap();
    assert_eq!(published.round_trip_time, Some(ms(10)));
    assert_eq!(
        published.last_update_time,
        Some(MonotonicTime::from_millis(1_000))
    );
    let freshest = topology.freshest_server_description(&router(2)).unwrap();
    assert_eq!(freshest.round_trip_time, Some(ms(11)));
    assert_eq!(
        freshest.last_update_time,
        Some(MonotonicTime::from_millis(11_000))
    );
}

#[test]
fn a_change_shares_unchanged_servers_and_publishes_pending_refreshes() {
    let mut topology = sharded(5);
    let _ = heartbeat(&mut topology, &router(2), &mongos_reply(), 11_000, 11);
    let before = Arc::clone(topology.description());

    let error = ServerError::new(ServerErrorKind::Connect, "connection refused");
    let now = MonotonicTime::from_millis(12_000);
    let changes = topology.apply_check_failure(&router(4), error, now);
    let after = &changes.description;
    assert!(!Arc::ptr_eq(&before, after));
    assert!(Arc::ptr_eq(after, topology.description()));
    assert_eq!(
        after.server(&router(4)).unwrap().server_type,
        ServerType::Unknown
    );
    // The refresh of router 2 went into this snapshot.
    let refreshed = after.server(&router(2)).unwrap();
    assert_eq!(refreshed.round_trip_time, Some(ms(11)));
    assert_eq!(
        refreshed.last_update_time,
        Some(MonotonicTime::from_millis(11_000))
    );
    assert_shared(&before, after, &[2, 4]);

    // The events share the snapshots and the server descriptions: nothing is copied.
    let events: Vec<&SdamEvent> = changes.events().collect();
    assert_eq!(events.len(), 2, "{events:?}");
    match events[0] {
        SdamEvent::ServerDescriptionChanged {
            address,
            previous,
            new,
        } => {
            assert_eq!(*address, router(4));
            assert!(Arc::ptr_eq(
                previous,
                before.servers.get(&router(4)).unwrap()
            ));
            assert!(Arc::ptr_eq(new, after.servers.get(&router(4)).unwrap()));
        }
        other => panic!("unexpected {other:?}"),
    }
    match events[1] {
        SdamEvent::TopologyDescriptionChanged { previous, new } => {
            assert!(Arc::ptr_eq(previous, &before));
            assert!(Arc::ptr_eq(new, after));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn an_rtt_beyond_the_tolerance_republishes_without_events() {
    let mut topology = sharded(4);
    let before = Arc::clone(topology.description());
    // 10 ms published: the tolerance is 2 ms.
    let changes = heartbeat(&mut topology, &router(1), &mongos_reply(), 11_000, 12);
    assert!(Arc::ptr_eq(&before, &changes.description));
    let changes = heartbeat(&mut topology, &router(1), &mongos_reply(), 21_000, 13);
    assert!(!Arc::ptr_eq(&before, &changes.description));
    assert!(!has_events(&changes.actions), "{:?}", changes.actions);
    assert_eq!(changes.actions, vec![Action::MarkPoolReady(router(1))]);
    let published = changes.description.server(&router(1)).unwrap();
    assert_eq!(published.round_trip_time, Some(ms(13)));
    assert_shared(&before, &changes.description, &[1]);
}

#[test]
fn an_rtt_sample_updates_known_servers_and_republishes_only_per_the_rule() {
    let mut topology = sharded(3);
    let before = Arc::clone(topology.description());
    let now = MonotonicTime::from_millis(2_000);

    let changes = topology.apply_rtt_sample(&router(0), ms(11), ms(9), now);
    assert!(Arc::ptr_eq(&before, &changes.description));
    assert!(changes.actions.is_empty());
    let freshest = topology.freshest_server_description(&router(0)).unwrap();
    assert_eq!(freshest.round_trip_time, Some(ms(11)));
    assert_eq!(freshest.min_round_trip_time, Some(ms(9)));
    // No check happened: lastUpdateTime is the last check's.
    assert_eq!(
        freshest.last_update_time,
        Some(MonotonicTime::from_millis(1_000))
    );

    let changes = topology.apply_rtt_sample(&router(0), ms(20), ms(9), now);
    assert!(!Arc::ptr_eq(&before, &changes.description));
    assert!(changes.actions.is_empty());
    let published = changes.description.server(&router(0)).unwrap();
    assert_eq!(published.round_trip_time, Some(ms(20)));
    assert_shared(&before, &changes.description, &[0]);

    // Unknown servers and servers not in the topology are left alone.
    let error = ServerError::new(ServerErrorKind::Network, "reset");
    let _ = topology.apply_check_failure(&router(2), error, now);
    let before = Arc::clone(topology.description());
    for address in [router(2), router(99)] {
        let changes = topology.apply_rtt_sample(&address, ms(50), ms(50), now);
        assert!(Arc::ptr_eq(&before, &changes.description));
        assert!(changes.actions.is_empty());
    }
    let unknown = topology.freshest_server_description(&router(2)).unwrap();
    assert_eq!(unknown.round_trip_time, None);
    assert!(topology.freshest_server_description(&router(99)).is_none());
}

#[test]
fn a_repeated_check_failure_keeps_the_snapshot_but_still_clears_the_pool() {
    let mut topology = sharded(3);
    let error = || ServerError::new(ServerErrorKind::Connect, "connection refused");
    let first =
        topology.apply_check_failure(&router(1), error(), MonotonicTime::from_millis(2_000));
    assert!(has_events(&first.actions));
    let second =
        topology.apply_check_failure(&router(1), error(), MonotonicTime::from_millis(12_000));
    assert!(Arc::ptr_eq(&first.description, &second.description));
    assert!(matches!(
        second.actions.as_slice(),
        [Action::ClearPool {
            new_generation: 2,
            ..
        }]
    ));
    let freshest = topology.freshest_server_description(&router(1)).unwrap();
    assert_eq!(
        freshest.last_update_time,
        Some(MonotonicTime::from_millis(12_000))
    );
}

#[test]
fn a_new_primary_shares_the_members_it_does_not_change() {
    let mut settings =
        TopologySettings::new(vec![addr("a:27017"), addr("b:27017"), addr("c:27017")]);
    settings.replica_set_name = Some("rs".into());
    let (mut topology, _) = Topology::new(settings, MonotonicTime::ZERO).unwrap();
    let at = |millis| CheckTiming::at(MonotonicTime::from_millis(millis));
    let secondary = doc! {
        "ok": 1, "secondary": true, "setName": "rs", "maxWireVersion": 21,
        "hosts": ["a:27017", "b:27017", "c:27017"],
    };
    let _ = topology.apply_hello(&addr("b:27017"), &secondary, at(5));
    let before = Arc::clone(topology.description());
    let primary = doc! {
        "ok": 1, "isWritablePrimary": true, "setName": "rs", "maxWireVersion": 21,
        "hosts": ["a:27017", "b:27017", "c:27017", "d:27017"],
    };
    let changes = topology.apply_hello(&addr("a:27017"), &primary, at(6));
    let after = &changes.description;
    assert_eq!(after.servers.len(), 4);
    for unchanged in ["b:27017", "c:27017"] {
        let address = addr(unchanged);
        assert!(Arc::ptr_eq(
            before.servers.get(&address).unwrap(),
            after.servers.get(&address).unwrap()
        ));
    }
    assert!(changes
        .actions
        .contains(&Action::StartMonitoring(addr("d:27017"))));
}

#[test]
fn an_equivalent_secondary_heartbeat_still_marks_its_primary_and_re_adds_removed_members() {
    // Re-applying these replies changes other servers, so the fast path must not be taken.
    let mut settings = TopologySettings::new(vec![addr("a:27017")]);
    settings.replica_set_name = Some("rs".into());
    let (mut topology, _) = Topology::new(settings, MonotonicTime::ZERO).unwrap();
    let at = |millis| CheckTiming::at(MonotonicTime::from_millis(millis));
    let secondary = doc! {
        "ok": 1, "secondary": true, "setName": "rs", "maxWireVersion": 21,
        "hosts": ["a:27017", "b:27017", "c:27017"], "primary": "b:27017",
    };
    let _ = topology.apply_hello(&addr("a:27017"), &secondary, at(5));
    let possible = |topology: &Topology| {
        topology
            .description()
            .server(&addr("b:27017"))
            .unwrap()
            .server_type
    };
    assert_eq!(possible(&topology), ServerType::PossiblePrimary);

    let error = ServerError::new(ServerErrorKind::Connect, "refused");
    let _ = topology.apply_check_failure(&addr("b:27017"), error, MonotonicTime::from_millis(6));
    assert_eq!(possible(&topology), ServerType::Unknown);
    let _ = topology.apply_hello(&addr("a:27017"), &secondary, at(7));
    assert_eq!(possible(&topology), ServerType::PossiblePrimary);

    let elsewhere = doc! {
        "ok": 1, "secondary": true, "setName": "other", "maxWireVersion": 21,
        "hosts": ["c:27017"],
    };
    let _ = topology.apply_hello(&addr("c:27017"), &elsewhere, at(8));
    assert!(topology.description().server(&addr("c:27017")).is_none());
    let changes = topology.apply_hello(&addr("a:27017"), &secondary, at(9));
    assert!(changes.description.server(&addr("c:27017")).is_some());
    assert!(changes
        .actions
        .contains(&Action::StartMonitoring(addr("c:27017"))));
}
