//! The cost of one reply that changes a server's description (a router flapping between a
//! failed check and a successful one), at 1,000, 5,000 and 10,000 servers: what discovery
//! and churn pay per reply in a large fleet. Issue 19 asks for the cost at 10,000 to stay
//! within 2x of the cost at 1,000.
//!
//! After criterion's figures, the run prints its own summary of the same measurement
//! (the median of several timed batches per size), with the ratio of the cost at 10,000 to
//! the cost at 1,000, and the same for discovery: the mean cost of each server's first reply
//! while `n` servers are discovered one by one.
//!
//! `cargo bench -p mongo-topology-core --bench changing_reply -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use mongo_topology_core::sdam::{ServerError, ServerErrorKind};
use mongo_topology_core::MonotonicTime;

#[path = "../tests/sdam_fixture/mod.rs"]
mod sdam_fixture;

use sdam_fixture::{heartbeat, mongos_reply, router, sharded};

const SIZES: [usize; 3] = [1_000, 5_000, 10_000];

/// One router of a sharded topology flapping between a failed check and a successful one:
/// every call is a reply that changes the description.
struct Flapping {
    topology: mongo_topology_core::sdam::Topology,
    address: mongo_topology_core::ServerAddress,
    reply: bson::Document,
    now_ms: u64,
    fail: bool,
}

impl Flapping {
    fn new(servers: usize) -> Flapping {
        Flapping {
            topology: sharded(servers),
            address: router(servers / 2),
            reply: mongos_reply(),
            now_ms: 1_000,
            fail: false,
        }
    }

    fn next_reply(&mut self) -> mongo_topology_core::sdam::Changes {
        self.now_ms += 10_000;
        self.fail = !self.fail;
        if self.fail {
            let error = ServerError::new(ServerErrorKind::Network, "reset");
            let now = MonotonicTime::from_millis(self.now_ms);
            self.topology.apply_check_failure(&self.address, error, now)
        } else {
            heartbeat(
                &mut self.topology,
                &self.address,
                &self.reply,
                self.now_ms,
                10,
            )
        }
    }
}

/// Whether this is a measuring run (`cargo bench`), not the smoke run of `cargo test
/// --benches` (which runs each benchmark once, in a debug build).
fn measuring() -> bool {
    std::env::args().any(|argument| argument == "--bench")
}

fn changing_reply(c: &mut Criterion) {
    let mut group = c.benchmark_group("changing-reply");
    group.throughput(Throughput::Elements(1));
    // The smoke run proves the benchmark runs with the smallest size only: building the
    // 10,000-server topology in a debug build took most of the test suite's 16 s here.
    let sizes = if measuring() { &SIZES[..] } else { &SIZES[..1] };
    for &servers in sizes {
        let mut flapping = Flapping::new(servers);
        group.bench_function(BenchmarkId::from_parameter(servers), |b| {
            b.iter(|| black_box(flapping.next_reply()))
        });
    }
    group.finish();
}

criterion_group!(benches, changing_reply);

/// The median over `batches` of the mean cost of one changing reply in a batch (at least 20
/// replies and 20 ms), after one batch of warm-up.
fn changing_reply_cost(flapping: &mut Flapping, batches: usize) -> Duration {
    let mut batch = || {
        let started = Instant::now();
        let mut replies = 0u32;
        while replies < 20 || started.elapsed() < Duration::from_millis(20) {
            let _changes = black_box(flapping.next_reply());
            replies += 1;
        }
        started.elapsed() / replies
    };
    batch();
    let mut means: Vec<Duration> = (0..batches).map(|_| batch()).collect();
    means.sort();
    means[means.len() / 2]
}

/// The median over `rounds` of the mean cost of one first reply while `servers` routers are
/// discovered one by one (each Unknown server becoming a Mongos).
fn discovery_cost(servers: usize, rounds: usize) -> Duration {
    let mut means: Vec<Duration> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            black_box(sharded(servers));
            started.elapsed() / u32::try_from(servers).unwrap_or(u32::MAX)
        })
        .collect();
    means.sort();
    means[means.len() / 2]
}

/// The median over `rounds` of the first walk over every server of a fresh copy of a
/// sharded topology's snapshot (a clone starts without the flat slice of its servers, which
/// the first walk builds), as on each new snapshot.
fn first_walk_cost(topology: &mongo_topology_core::sdam::Topology, rounds: usize) -> Duration {
    let description = topology.description();
    let mut costs: Vec<Duration> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..20 {
                let copy = mongo_topology_core::sdam::TopologyDescription::clone(description);
                black_box(black_box(&copy).primary().is_some());
            }
            started.elapsed() / 20
        })
        .collect();
    costs.sort();
    costs[costs.len() / 2]
}

/// The median over `rounds` of one walk over every server of a sharded topology of routers
/// ([`mongo_topology_core::sdam::TopologyDescription::primary`], which finds none), after
/// the first: what selection pays per operation to look at every server.
fn scan_cost(topology: &mongo_topology_core::sdam::Topology, rounds: usize) -> Duration {
    let description = topology.description();
    let mut costs: Vec<Duration> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..100 {
                black_box(black_box(description).primary());
            }
            started.elapsed() / 100
        })
        .collect();
    costs.sort();
    costs[costs.len() / 2]
}

fn print_row(what: &str, costs: &[(usize, Duration)]) {
    let figures: Vec<String> = costs
        .iter()
        .map(|(servers, cost)| format!("{servers}: {:.2} µs", cost.as_secs_f64() * 1e6))
        .collect();
    let ratio = match (costs.first(), costs.last()) {
        (Some((_, first)), Some((_, last))) => last.as_secs_f64() / first.as_secs_f64(),
        _ => f64::NAN,
    };
    println!(
        "{what:<16} {}   10,000 / 1,000 = {ratio:.2}x",
        figures.join("   ")
    );
}

/// Criterion's run, then (under `cargo bench`, not `cargo test --benches`) the summary with
/// the ratios of the costs at 10,000 and at 1,000 servers, measured in one run.
fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if !measuring() {
        return;
    }
    let mut changing = Vec::new();
    let mut scan = Vec::new();
    let mut first_walk = Vec::new();
    for servers in SIZES {
        let mut flapping = Flapping::new(servers);
        changing.push((servers, changing_reply_cost(&mut flapping, 9)));
        scan.push((servers, scan_cost(&flapping.topology, 9)));
        first_walk.push((servers, first_walk_cost(&flapping.topology, 9)));
    }
    let discovery: Vec<(usize, Duration)> = SIZES
        .iter()
        .map(|&servers| (servers, discovery_cost(servers, 3)))
        .collect();
    println!("\nper reply, median of batches (servers: cost):");
    print_row("changing reply", &changing);
    print_row("discovery", &discovery);
    print_row("walk of servers", &scan);
    print_row("first walk", &first_walk);
}
