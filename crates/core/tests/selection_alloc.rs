//! Selection does not allocate on its hot path once the criteria are built.
//!
//! A counting global allocator (the `stats_alloc` crate, so no unsafe code here) records
//! every allocation of the process, so nothing else may run while it measures: this test
//! has its own `main` (`harness = false` in Cargo.toml). Under libtest, the harness's main
//! thread allocates when it reports a test "running for over 60 seconds" on a loaded
//! machine, and that was counted as selection's (seen as "3 members: selection allocated 4").

#![forbid(unsafe_code)]

use std::alloc::System;
use std::hint::black_box;

use mongo_topology_core::sdam::ServerDescription;
use mongo_topology_core::selection::{
    select_server, ReadPreference, SelectionCriteria, SelectionSettings, TagSet,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

mod selection_support;

use selection_support::{member, replica_set, tags};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

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

fn main() {
    selection_does_not_allocate_once_criteria_are_built();
    println!("selection_alloc: selection does not allocate once criteria are built: ok");
}

fn selection_does_not_allocate_once_criteria_are_built() {
    let settings = SelectionSettings::default();
    let mut rng = StdRng::seed_from_u64(1);
    let counts = |server: &ServerDescription| {
        server
            .round_trip_time
            .map_or(0, |rtt| rtt.as_millis() as u64 % 4)
    };
    let deprioritized = vec![member(1)];
    for members in [3, 7, 50] {
        let topology = replica_set(members);
        let criteria = all_criteria();
        // The counter works: building criteria allocates.
        let region = Region::new(GLOBAL);
        black_box(all_criteria());
        assert!(region.change().allocations > 0);
        // A snapshot's first walk builds its flat list of servers, once (the persistent map's
        // own iterator allocates its cursor): selection's walks after it allocate nothing.
        black_box(topology.servers_in_order().count());

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
