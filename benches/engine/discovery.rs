//! `discovery`: from `Cluster::new`, seeded with one secondary, until every member of a 3-
//! or 7-member set is known, with 5 ms (and 0 ms) of simulated latency on every reply.
//! Physical limit about 2 x 5 ms (the seed's handshake, then the others' in parallel);
//! the target is 11.5 ms.

use std::time::{Duration, Instant};

use crate::report::{Row, Unit};
use mongo_topology::{Cluster, ClusterSettings, EventKind};

use crate::support::{
    all_known, connect, member, plain_round_trips, runtime, start_slow_set, stop_sim, uri,
    wait_until, PATIENCE,
};
use crate::Options;

/// The target for 5 ms latency, in milliseconds.
const TARGET_MS: f64 = 11.5;

pub fn run(options: &Options) -> Vec<Row> {
    let repetitions = if options.quick { 5 } else { 20 };
    let mut rows = Vec::new();
    for latency_ms in [5, 0] {
        for members in [3, 7] {
            let measure = format!("{members} members, {latency_ms} ms latency: all known");
            let mut row = Row::new("discovery", &measure, Unit::Millis);
            if latency_ms == 5 {
                row = row.target(TARGET_MS);
            }
            for elapsed in measure_discovery(members, latency_ms, repetitions) {
                row.push_duration(elapsed);
            }
            rows.push(row);
        }
        if latency_ms > 0 {
            let measure = format!("one hello round trip at {latency_ms} ms latency");
            let mut row = Row::new("discovery", &measure, Unit::Millis).note(
                "a hello on a plain connection to the simulator: discovery from one seed \
                 needs two of these in sequence, so twice this is the physical limit",
            );
            for elapsed in
                plain_round_trips("hello", Duration::from_millis(latency_ms), 1, repetitions)
            {
                row.push_duration(elapsed);
            }
            rows.push(row);
        }
    }
    rows
}

/// `repetitions` discoveries (after one discarded warm-up), each by a new cluster.
fn measure_discovery(members: usize, latency_ms: u64, repetitions: usize) -> Vec<Duration> {
    let sim_runtime = runtime("sim", 1);
    let client_runtime = runtime("client", 1);
    let sim = start_slow_set(&sim_runtime, members, Duration::from_millis(latency_ms));
    let seed = uri(&[member(&sim, 1)], "replicaSet=rs0");
    let mut samples = Vec::with_capacity(repetitions);
    for repetition in 0..=repetitions {
        let elapsed = client_runtime.block_on(async {
            let started = Instant::now();
            let cluster = connect(&seed);
            let mut watcher = cluster.watch();
            let elapsed = loop {
                if all_known(&watcher.current(), members) {
                    break started.elapsed();
                }
                match tokio::time::timeout(PATIENCE, watcher.changed()).await {
                    Ok(Ok(())) => {}
                    _ => panic!("{members} members not discovered: {:?}", cluster.topology()),
                }
            };
            cluster.close().await;
            elapsed
        });
        if repetition > 0 {
            samples.push(elapsed);
        }
    }
    if std::env::var_os(TIMELINE_VARIABLE).is_some() {
        client_runtime.block_on(print_timeline(&seed, members));
    }
    stop_sim(&sim_runtime, sim);
    samples
}

/// Set (to anything) to print the events of one more discovery per configuration, each at
/// its offset from `Cluster::new`: where the time goes.
const TIMELINE_VARIABLE: &str = "ENGINE_BENCH_TIMELINE";

async fn print_timeline(seed: &str, members: usize) {
    let settings = ClusterSettings::parse(seed).expect("valid connection string");
    let started = tokio::time::Instant::now();
    let (cluster, mut events) = Cluster::with_events(settings).expect("the cluster starts");
    wait_until(&cluster, "all known", |t| all_known(t, members)).await;
    let known = started.elapsed();
    eprintln!("timeline of a {members}-member discovery (all known at {known:?}):");
    while let Ok(Some(event)) = events.try_recv() {
        let at = event.at.saturating_duration_since(started);
        let what = match event.kind {
            EventKind::HeartbeatStarted { address, awaited } => {
                format!("heartbeat started   {address} awaited={awaited}")
            }
            EventKind::HeartbeatSucceeded {
                address,
                duration,
                awaited,
                ..
            } => format!("heartbeat succeeded {address} awaited={awaited} took {duration:?}"),
            EventKind::HeartbeatFailed {
                address, failure, ..
            } => format!("heartbeat failed    {address}: {failure}"),
            EventKind::Sdam(event) => format!("{event:?}").chars().take(100).collect(),
            other => format!("{other:?}"),
        };
        eprintln!("  {:>9.3} ms  {what}", at.as_secs_f64() * 1e3);
    }
    cluster.close().await;
}
