//! Reliability: the primary changes every 100 ms for 10 s (`MONGO_TOPOLOGY_FLAP_SECONDS`
//! sets another duration; `scripts/soak` uses 60). Throughout: no published snapshot and no
//! description in a TopologyDescriptionChanged event ever holds two primaries; events come
//! in order (time never goes back, each description change starts from a description
//! equivalent, in SDAM's sense, to the previous one's result); events missed by the reader
//! are reported, not dropped silently; resident memory and CPU use are printed every second
//! and stay roughly flat; at the end the client converges on the last primary.

#[path = "../crates/engine/tests/engine_support/mod.rs"]
mod engine_support;
mod limits_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine_support::{address, connect, primary_is, start, uri, wait_until};
use limits_support::{cpu_time, rss_kib};
use mongo_topology::sdam::{SdamEvent, ServerType, TopologyDescription};
use mongo_topology::{EventKind, EventRecvError};
use mongo_topology_sim::{DeploymentSpec, MemberRef};

const FLAP_EVERY: Duration = Duration::from_millis(100);

fn primaries(description: &TopologyDescription) -> usize {
    description
        .servers
        .values()
        .filter(|s| s.server_type == ServerType::RsPrimary)
        .count()
}

fn flap_duration() -> Duration {
    let seconds = std::env::var("MONGO_TOPOLOGY_FLAP_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    Duration::from_secs(seconds)
}

#[derive(Debug, Default)]
struct EventTally {
    events: u64,
    description_changes: u64,
    missed: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_flapping_every_100ms_never_shows_two_primaries() {
    let d = start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await;
    let cluster = connect(&uri(&[address(&d, 0)], "replicaSet=rs0"));
    let mut events = cluster.subscribe();
    wait_until(&cluster, "the first primary", |t| t.primary().is_some()).await;

    // Every published snapshot the watcher sees.
    let mut watcher = cluster.watch();
    let watching = tokio::spawn(async move {
        let mut snapshots = 0u64;
        while watcher.changed().await.is_ok() {
            let current = watcher.current();
            assert!(primaries(&current) <= 1, "two primaries: {current:#?}");
            snapshots += 1;
        }
        snapshots
    });
    // Every event, in order.
    let reading = tokio::spawn(async move {
        let mut tally = EventTally::default();
        let mut last_at = None;
        let mut last_description: Option<Arc<TopologyDescription>> = None;
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(EventRecvError::Missed(n)) => {
                    tally.missed += n;
                    // The chain of descriptions restarts after a gap.
                    last_description = None;
                    continue;
                }
                Err(_) => break,
            };
            tally.events += 1;
            assert!(last_at <= Some(event.at), "an event from the past");
            last_at = Some(event.at);
            if let EventKind::Sdam(SdamEvent::TopologyDescriptionChanged {
                previous, new, ..
            }) = event.kind
            {
                tally.description_changes += 1;
                assert!(primaries(&new) <= 1, "two primaries: {new:#?}");
                // Events are published only for changes SDAM counts ("Server Description
                // Equality": round trip and update times do not count), so between two events
                // the description may have taken such a change: the chain holds up to it.
                if let Some(last) = &last_description {
                    assert!(
                        Arc::ptr_eq(last, &previous) || last.is_equivalent(&previous),
                        "a description change that does not start from the previous one"
                    );
                }
                last_description = Some(new);
            }
        }
        tally
    });

    let duration = flap_duration();
    let started = Instant::now();
    let (mut next_second, mut flaps, mut member) = (Duration::from_secs(1), 0u64, 0usize);
    let (rss_start, cpu_start) = (rss_kib(), cpu_time());
    let (mut rss_at_2s, mut last_cpu) = (rss_start, cpu_start);
    let mut tick = tokio::time::interval(FLAP_EVERY);
    while started.elapsed() < duration {
        tick.tick().await;
        member = (member + 1) % 3;
        d.elect(&MemberRef::Index(member)).unwrap();
        flaps += 1;
        if started.elapsed() >= next_second {
            let (rss, cpu) = (rss_kib(), cpu_time());
            let busy = (cpu - last_cpu).as_secs_f64() * 100.0;
            println!(
                "t={:>3}s flaps {flaps:>4}  RSS {rss:>7} KiB  CPU {busy:>5.1}% of a core",
                next_second.as_secs()
            );
            if next_second == Duration::from_secs(2) {
                rss_at_2s = rss;
            }
            last_cpu = cpu;
            next_second += Duration::from_secs(1);
        }
    }
    let last = address(&d, member);
    let converged = Instant::now();
    wait_until(&cluster, "the last primary", |t| primary_is(t, &last)).await;
    let convergence = converged.elapsed();
    let (rss_end, cpu_total) = (rss_kib(), cpu_time() - cpu_start);
    cluster.close().await;
    let snapshots = watching.await.unwrap();
    let tally = reading.await.unwrap();
    println!(
        "{flaps} primary changes in {:?}: {snapshots} snapshots seen by the watcher, {} events \
         ({} description changes, {} missed and reported), converged on the last primary in \
         {convergence:?}; RSS {rss_start} KiB at start, {rss_at_2s} KiB at 2 s, {rss_end} KiB \
         at the end; CPU {:.1}% of a core on average",
        started.elapsed(),
        tally.events,
        tally.description_changes,
        tally.missed,
        cpu_total.as_secs_f64() * 100.0 / started.elapsed().as_secs_f64()
    );
    assert!(
        flaps >= duration.as_millis() as u64 / 100 - 5,
        "{flaps} flaps"
    );
    assert!(
        tally.description_changes >= flaps / 2,
        "the client followed too few of the {flaps} changes: {tally:?}"
    );
    assert!(
        rss_end.saturating_sub(rss_at_2s) < 16 * 1024,
        "RSS grew from {rss_at_2s} to {rss_end} KiB"
    );
    d.shutdown().await;
}
