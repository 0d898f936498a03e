//! Resource limits: a subscriber that never reads its events. Delivery goes through a
//! bounded broadcast buffer (`EVENT_BUFFER` events): the engine never waits for it, memory
//! stays flat however many events go by, and when the subscriber reads at last it is told
//! how many it missed (`EventRecvError::Missed`), then gets the newest buffered events.

#[path = "../crates/engine/tests/engine_support/mod.rs"]
mod engine_support;
mod limits_support;

use bson::doc;
use engine_support::{address, connect, start, uri, wait_until};
use limits_support::rss_kib;
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::{Cluster, EventRecvError};
use mongo_topology_sim::DeploymentSpec;

/// The engine's event buffer: how many events a subscriber may fall behind before it
/// misses some, as documented on `EventRecvError::Missed` (the constant itself is
/// internal to the engine).
const EVENT_BUFFER: usize = 4096;

async fn pings(cluster: &Cluster, count: usize) {
    for _ in 0..count {
        cluster
            .run_command("admin", doc! { "ping": 1 }, &SelectionCriteria::write())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_costs_bounded_memory_and_learns_what_it_missed() {
    let d = start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await;
    let cluster = connect(&uri(&[address(&d, 0)], "replicaSet=rs0"));
    let mut idle = cluster.subscribe();
    wait_until(&cluster, "a primary", |t| t.primary().is_some()).await;
    // Warm up (pool, allocator), then measure across many more events.
    pings(&cluster, 2_000).await;
    let rss_warm = rss_kib();
    pings(&cluster, 10_000).await;
    let rss_after = rss_kib();
    // Events stamped after this instant may arrive while the buffer is drained (a check-in
    // that completes after its command returned, a heartbeat): they were never behind.
    let cutoff = tokio::time::Instant::now();
    let missed = match idle.try_recv() {
        Err(EventRecvError::Missed(missed)) => missed,
        other => panic!("expected a report of missed events, got {other:?}"),
    };
    let mut buffered = 0;
    while let Ok(Some(event)) = idle.try_recv() {
        if event.at <= cutoff {
            buffered += 1;
        }
    }
    println!(
        "idle subscriber: missed {missed} events, then {buffered} buffered (buffer \
         {EVENT_BUFFER}); RSS {rss_warm} KiB after warm-up, {rss_after} KiB after 10,000 \
         more commands"
    );
    // Every ping emits at least three pool events (check-out started, checked out, checked
    // in), so at least 36,000 went by: none is lost silently (each was either counted as
    // missed or still buffered), and only the last EVENT_BUFFER can still be there.
    assert!(
        missed + buffered as u64 >= 36_000,
        "missed {missed}, buffered {buffered}"
    );
    assert!(buffered <= EVENT_BUFFER, "{buffered} buffered");
    assert!(buffered > 0);
    assert!(
        rss_after.saturating_sub(rss_warm) < 8 * 1024,
        "RSS grew from {rss_warm} to {rss_after} KiB"
    );
    cluster.close().await;
    d.shutdown().await;
}
