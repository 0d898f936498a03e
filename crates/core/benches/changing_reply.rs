//! The cost of one reply that changes a server's description (a router flapping between a
//! failed check and a successful one), at 1,000, 5,000 and 10,000 servers: what discovery
//! and churn pay per reply in a large fleet. Issue 19 asks for the cost at 10,000 to stay
//! within 2x of the cost at 1,000.
//!
//! `cargo bench -p mongo-topology-core --bench changing_reply -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mongo_topology_core::sdam::{ServerError, ServerErrorKind};
use mongo_topology_core::MonotonicTime;

#[path = "../tests/sdam_fixture/mod.rs"]
mod sdam_fixture;

use sdam_fixture::{heartbeat, mongos_reply, router, sharded};

const SIZES: [usize; 3] = [1_000, 5_000, 10_000];

fn changing_reply(c: &mut Criterion) {
    let mut group = c.benchmark_group("changing-reply");
    group.throughput(Throughput::Elements(1));
    let reply = mongos_reply();
    for servers in SIZES {
        let mut topology = sharded(servers);
        let address = router(servers / 2);
        let mut now_ms = 1_000;
        let mut fail = false;
        group.bench_function(BenchmarkId::from_parameter(servers), |b| {
            b.iter(|| {
                now_ms += 10_000;
                fail = !fail;
                let changes = if fail {
                    let error = ServerError::new(ServerErrorKind::Network, "reset");
                    let now = MonotonicTime::from_millis(now_ms);
                    topology.apply_check_failure(&address, error, now)
                } else {
                    heartbeat(&mut topology, &address, &reply, now_ms, 10)
                };
                black_box(changes)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, changing_reply);
criterion_main!(benches);
