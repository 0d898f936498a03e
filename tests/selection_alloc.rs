//! Selection does not allocate on its hot path once the criteria are built.
//!
//! A counting global allocator (the `stats_alloc` crate, so no unsafe code here) records
//! every allocation of the process. This file holds a single test so that no other test
//! thread allocates while it measures.

#![forbid(unsafe_code)]

use std::alloc::System;
use std::hint::black_box;
use std::time::Duration;

use mongo_topology::sdam::{ServerDescription, ServerType, TopologyDescription, TopologyType};
use mongo_topology::selection::{
    select_server, ReadPreference, SelectionCriteria, SelectionSettings, TagSet,
};
use mongo_topology::{MonotonicTime, ServerAddress};
use rand::rngs::StdRng;
use rand::SeedableRng;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn tags(dc: &str) -> TagSet {
    [("dc".to_string(), dc.to_string())].into_iter().collect()
}

fn replica_set(members: usize) -> TopologyDescription {
    let mut topology =
        TopologyDescription::with_seeds(TopologyType::ReplicaSetWithPrimary, None, []);
    for i in 0..members {
        let address = ServerAddress::tcp(format!("host{i}"), 27017);
        let server = ServerDescription {
            server_type: if i == 0 {
                ServerType::RsPrimary
            } else {
                ServerType::RsSecondary
            },
            round_trip_time: Some(Duration::from_millis(2 + (i as u64 * 7) % 30)),
            tags: tags(["ny", "sf", "tokyo"][i % 3]),
            last_update_time: Some(MonotonicTime::from_millis(1_000_000)),
            last_write_date: Some(bson::DateTime::from_millis(1_000_000 - (i as i64) * 1000)),
            ..ServerDescription::unknown(address.clone())
        };
        topology.servers.insert(address, server);
    }
    topology
}

fn all_criteria() -> Vec<SelectionCriteria> {
    let rp = |mode: &str, tag_sets: &[TagSet], max: Option<i64>| {
        SelectionCriteria::read(ReadPreference::from_uri_parts(Some(mode), tag_sets, max).unwrap())
    };
    vec![
        SelectionCriteria::write(),
        rp("primary", &[], None),
        rp("primaryPreferred", &[tags("sf")], Some(120)),
        rp(
            "secondary",
            &[tags("mars"), tags("sf"), TagSet::new()],
            Some(120),
        ),
        rp("secondaryPreferred", &[tags("mars")], None),
        rp("nearest", &[tags("ny")], Some(100)),
    ]
}

#[test]
fn selection_does_not_allocate_once_criteria_are_built() {
    let settings = SelectionSettings::default();
    let mut rng = StdRng::seed_from_u64(1);
    let counts = |server: &ServerDescription| {
        server
            .round_trip_time
            .map_or(0, |rtt| rtt.as_millis() as u64 % 4)
    };
    let deprioritized = vec![ServerAddress::tcp("host1", 27017)];
    for members in [3, 7, 50] {
        let topology = replica_set(members);
        let criteria = all_criteria();
        // The counter works: building criteria allocates.
        let region = Region::new(GLOBAL);
        black_box(all_criteria());
        assert!(region.change().allocations > 0);

        let region = Region::new(GLOBAL);
        for criteria in &criteria {
            for _ in 0..1000 {
                let chosen =
                    select_server(&topology, criteria, &settings, &[], &mut rng, counts).unwrap();
                black_box(chosen);
                let chosen = select_server(
                    &topology,
                    criteria,
                    &settings,
                    &deprioritized,
                    &mut rng,
                    counts,
                )
                .unwrap();
                black_box(chosen);
            }
        }
        let change = region.change();
        assert_eq!(
            (change.allocations, change.reallocations),
            (0, 0),
            "{members} members: selection allocated {change:?}"
        );
    }
}
