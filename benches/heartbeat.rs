//! The cost of a heartbeat that changes nothing (the steady state of a healthy deployment)
//! and of an RTT sample from the streaming RTT monitor, at 10, 100 and 1,000 servers: both
//! should be flat. For contrast, a check that changes the description (one server flapping
//! between a failure and success), which builds a snapshot: O(n).
//!
//! `cargo bench --bench heartbeat -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mongo_topology::sdam::{ServerError, ServerErrorKind};
use mongo_topology::MonotonicTime;

#[path = "../crates/core/tests/sdam_fixture/mod.rs"]
mod sdam_fixture;

use sdam_fixture::{heartbeat, mongos_reply, router, sharded};

const SIZES: [usize; 3] = [10, 100, 1_000];

fn equivalent_heartbeat(c: &mut Criterion) {
    let mut group = c.benchmark_group("heartbeat/equivalent");
    group.throughput(Throughput::Elements(1));
    let reply = mongos_reply();
    for servers in SIZES {
        let mut topology = sharded(servers);
        let address = router(servers / 2);
        let mut now_ms = 1_000;
        group.bench_function(BenchmarkId::from_parameter(servers), |b| {
            b.iter(|| {
                now_ms += 10_000;
                let changes = heartbeat(&mut topology, &address, black_box(&reply), now_ms, 10);
                black_box(changes)
            })
        });
    }
    group.finish();
}

fn rtt_sample(c: &mut Criterion) {
    let mut group = c.benchmark_group("heartbeat/rtt-sample");
    group.throughput(Throughput::Elements(1));
    for servers in SIZES {
        let mut topology = sharded(servers);
        let address = router(servers / 2);
        let mut micros = 0;
        group.bench_function(BenchmarkId::from_parameter(servers), |b| {
            b.iter(|| {
                micros = (micros + 1) % 1_000;
                let average = Duration::from_micros(10_000 + micros);
                let now = MonotonicTime::from_millis(micros);
                black_box(topology.apply_rtt_sample(&address, average, average, now))
            })
        });
    }
    group.finish();
}

fn changing_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("heartbeat/changing");
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

criterion_group!(benches, equivalent_heartbeat, rtt_sample, changing_check);
criterion_main!(benches);
