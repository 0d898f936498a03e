//! The warm-up policy: early and late warm-ups, discards and the limit.

use bson::doc;

use crate::address::ServerAddress;
use crate::sdam::hello::CheckTiming;
use crate::sdam::settings::TopologySettings;
use crate::sdam::topology::TopologyDescription;
use crate::sdam::warm_up::{warms_up_early, WarmUpAfterCheck, WarmUpPolicy, WARM_UP_LIMIT};
use crate::sdam::Topology;
use crate::time::MonotonicTime;

fn addr(text: &str) -> ServerAddress {
    ServerAddress::parse(text).unwrap()
}

/// A replica set "rs" seeded with `a:1`, after `a:1` answered `reply`.
fn replica_set_after(reply: bson::Document) -> TopologyDescription {
    let mut settings = TopologySettings::new(vec![addr("a:1")]);
    settings.replica_set_name = Some("rs".into());
    let (mut topology, _) = Topology::new(settings, MonotonicTime::ZERO).unwrap();
    let changes = topology.apply_hello(
        &addr("a:1"),
        &reply,
        CheckTiming::at(MonotonicTime::from_millis(1)),
    );
    TopologyDescription::clone(&changes.description)
}

fn secondary_naming_primary() -> TopologyDescription {
    replica_set_after(doc! {
        "ok": 1, "secondary": true, "setName": "rs", "hosts": ["a:1", "b:1", "c:1"],
        "primary": "b:1", "maxWireVersion": 21,
    })
}

#[test]
fn early_warm_ups_go_to_seeds_named_primaries_and_servers_outside_replica_sets() {
    let set = secondary_naming_primary();
    let seeds = [addr("a:1")];
    assert!(warms_up_early(&set, &seeds, &addr("a:1")), "a seed");
    assert!(warms_up_early(&set, &seeds, &addr("b:1")), "named primary");
    assert!(
        !warms_up_early(&set, &seeds, &addr("c:1")),
        "another member"
    );
    let unknown =
        TopologyDescription::with_seeds(crate::sdam::TopologyType::Unknown, None, [addr("x:1")]);
    assert!(warms_up_early(&unknown, &[], &addr("x:1")));
    let sharded =
        TopologyDescription::with_seeds(crate::sdam::TopologyType::Sharded, None, [addr("m:1")]);
    assert!(warms_up_early(&sharded, &[], &addr("m:1")));
}

#[test]
fn early_warm_ups_are_counted_and_bounded() {
    let set = secondary_naming_primary();
    let seeds = [addr("a:1")];
    let mut off = WarmUpPolicy::new(false, true);
    assert!(!off.start_early(&set, &seeds, &addr("a:1")), "warm-up off");
    let mut policy = WarmUpPolicy::new(true, false);
    assert!(!policy.start_early(&set, &seeds, &addr("c:1")));
    assert_eq!(policy.started(), 0);
    for _ in 0..WARM_UP_LIMIT {
        assert!(policy.start_early(&set, &seeds, &addr("a:1")));
    }
    assert_eq!(policy.started(), WARM_UP_LIMIT);
    assert!(!policy.may_warm_up());
    assert!(
        !policy.start_early(&set, &seeds, &addr("a:1")),
        "limit reached"
    );
}

#[test]
fn a_data_bearing_server_is_warmed_late_only_when_secondaries_may_be_read() {
    let set = secondary_naming_primary();
    let mut primary_only = WarmUpPolicy::new(true, false);
    assert_eq!(
        primary_only.after_check(&set, &addr("a:1"), false),
        WarmUpAfterCheck::Nothing
    );
    let mut secondaries = WarmUpPolicy::new(true, true);
    assert_eq!(
        secondaries.after_check(&set, &addr("a:1"), true),
        WarmUpAfterCheck::Nothing,
        "one warm-up per server"
    );
    assert_eq!(
        secondaries.after_check(&set, &addr("a:1"), false),
        WarmUpAfterCheck::Start
    );
    assert_eq!(secondaries.started(), 1);
    assert_eq!(
        secondaries.after_check(&set, &addr("c:1"), false),
        WarmUpAfterCheck::Nothing,
        "still Unknown"
    );
    assert_eq!(
        secondaries.after_check(&set, &addr("zz:1"), false),
        WarmUpAfterCheck::Nothing,
        "not in the topology"
    );
    let mut off = WarmUpPolicy::new(false, true);
    assert_eq!(
        off.after_check(&set, &addr("a:1"), false),
        WarmUpAfterCheck::Nothing
    );
}

#[test]
fn a_server_known_to_bear_no_data_loses_its_warm_connection() {
    let arbiter = replica_set_after(doc! {
        "ok": 1, "arbiterOnly": true, "setName": "rs", "hosts": ["b:1"],
        "arbiters": ["a:1"], "maxWireVersion": 21,
    });
    for enabled in [true, false] {
        let mut policy = WarmUpPolicy::new(enabled, true);
        assert_eq!(
            policy.after_check(&arbiter, &addr("a:1"), true),
            WarmUpAfterCheck::Discard
        );
        assert_eq!(policy.started(), 0);
    }
}
