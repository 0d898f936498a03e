//! A heartbeat that changes nothing does O(1) work: it allocates the same, small amount on a
//! topology of 20 and of 200 servers, and returns the same snapshot. A heartbeat that
//! changes the description builds a new snapshot, whose persistent server map copies only
//! the O(log n) nodes on the path to the changed server: it allocates more than an
//! equivalent heartbeat, and (nearly) as much for 200 servers as for 20 (issue 19; until
//! then it allocated in proportion to the servers, and this test asserted that).
//!
//! A counting global allocator (the `stats_alloc` crate, so no unsafe code here) records
//! every allocation of the process, so nothing else may run while it measures: this test
//! has its own `main` (`harness = false` in Cargo.toml), since libtest's main thread
//! allocates when it reports a slow test on a loaded machine.

#![forbid(unsafe_code)]

use std::alloc::System;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use mongo_topology_core::sdam::{ServerError, ServerErrorKind, Topology};
use mongo_topology_core::MonotonicTime;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

mod sdam_fixture;

use sdam_fixture::{heartbeat, mongos_reply, router, sharded};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const ROUNDS: u64 = 100;

/// Allocations and bytes per round of `round`, after two warm-up rounds.
fn measure(topology: &mut Topology, mut round: impl FnMut(&mut Topology, u64)) -> (usize, usize) {
    round(topology, 0);
    round(topology, 1);
    let region = Region::new(GLOBAL);
    for i in 2..ROUNDS + 2 {
        round(topology, i);
    }
    let change = region.change();
    let rounds = usize::try_from(ROUNDS).unwrap();
    (change.allocations / rounds, change.bytes_allocated / rounds)
}

fn main() {
    an_equivalent_heartbeat_costs_the_same_for_20_and_200_servers();
    println!(
        "sdam_heartbeat_alloc: an equivalent heartbeat costs the same for 20 and 200 servers: ok"
    );
}

fn an_equivalent_heartbeat_costs_the_same_for_20_and_200_servers() {
    let reply = mongos_reply();
    let mut equivalent = Vec::new();
    let mut rtt_samples = Vec::new();
    let mut changing = Vec::new();
    for servers in [20, 200] {
        let mut topology = sharded(servers);
        let published = Arc::clone(topology.description());
        let address = router(15); // the same name length in both topologies
        equivalent.push(measure(&mut topology, |topology, i| {
            // Every ten seconds, with an RTT that stays within the 2 ms tolerance.
            let changes = heartbeat(topology, &address, &reply, 10_000 * (i + 1), 10 + i % 2);
            assert!(Arc::ptr_eq(&published, &changes.description));
            black_box(&changes);
        }));
        rtt_samples.push(measure(&mut topology, |topology, i| {
            let average = Duration::from_micros(10_000 + i % 500);
            let now = MonotonicTime::from_millis(i);
            let changes = topology.apply_rtt_sample(&address, average, average, now);
            assert!(Arc::ptr_eq(&published, &changes.description));
            black_box(&changes);
        }));
        // A check that alternates between failure and success changes the description each
        // time, and so builds a snapshot.
        changing.push(measure(&mut topology, |topology, i| {
            let now = 10_000 * (i + 1);
            let changes = if i % 2 == 0 {
                let error = ServerError::new(ServerErrorKind::Network, "reset");
                topology.apply_check_failure(&address, error, MonotonicTime::from_millis(now))
            } else {
                heartbeat(topology, &address, &reply, now, 10)
            };
            assert!(!Arc::ptr_eq(&published, &changes.description));
            black_box(&changes);
        }));
    }
    println!("(allocations, bytes) per input, 20 then 200 servers: equivalent heartbeat {equivalent:?}, RTT sample {rtt_samples:?}, changing heartbeat {changing:?}");
    let (small, large) = (equivalent[0], equivalent[1]);
    assert_eq!(small, large, "equivalent heartbeat: 20 vs 200 servers");
    assert!(small.0 <= 30, "an equivalent heartbeat allocates {small:?}");
    assert_eq!(
        rtt_samples[0], rtt_samples[1],
        "RTT sample: 20 vs 200 servers"
    );
    assert!(
        rtt_samples[0].0 <= 5,
        "an RTT sample allocates {:?}",
        rtt_samples[0]
    );
    // The counter sees the snapshot being built: more than the fast path allocates...
    assert!(
        changing[0].0 > small.0,
        "a changing heartbeat allocates no more than an equivalent one: {changing:?}"
    );
    // ...but not in proportion to the servers: 10 times the servers adds at most one level
    // of map nodes (before the persistent map, the test asserted more than twice the
    // allocations and three times the bytes).
    assert!(
        changing[1].0 <= changing[0].0 + 3 && changing[1].1 <= 2 * changing[0].1,
        "a changing heartbeat grows with the servers: {changing:?}"
    );
}
