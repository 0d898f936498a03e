//! mgo's "dynamic seeds" in the live engine: when every server has been removed, the
//! cluster starts again from the last complete member list and the seeds (the core's
//! re-seed rule, carried out by the cluster task), at most once per heartbeatFrequencyMS.

mod engine_support;

use std::time::Duration;

use engine_support::*;
use mongo_topology::sdam::{SdamEvent, ServerType};
use mongo_topology::{Cluster, ClusterEvent, ClusterSettings, EventKind, EventSubscriber};
use mongo_topology_sim::{DeploymentSpec, FaultKind, MemberRef};
use tokio::time::Instant;

/// The SDAM events received until `deadline`, or until `stop` accepts one.
async fn sdam_events_until(
    events: &mut EventSubscriber,
    deadline: Instant,
    mut stop: impl FnMut(&SdamEvent) -> bool,
) -> Vec<SdamEvent> {
    let mut seen = Vec::new();
    while let Ok(Ok(ClusterEvent { kind, .. })) =
        tokio::time::timeout_at(deadline, events.recv()).await
    {
        if let EventKind::Sdam(event) = kind {
            let done = stop(&event);
            seen.push(event);
            if done {
                break;
            }
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topology_that_lost_every_server_starts_again_from_the_last_member_list() {
    let sim = start(DeploymentSpec::replica_set("rs0", 2, 0, 0)).await;
    let (a, b) = (address(&sim, 0), address(&sim, 1));
    // Only `a` is a seed: `b` can come back only from the last complete member list.
    let settings = ClusterSettings::parse(&uri(
        std::slice::from_ref(&a),
        "replicaSet=rs0&serverMonitoringMode=poll&heartbeatFrequencyMS=500",
    ))
    .unwrap();
    let (cluster, mut events): (Cluster, EventSubscriber) = Cluster::with_events(settings).unwrap();
    wait_until(&cluster, "a primary and a secondary", |t| {
        count(t, ServerType::RsPrimary) == 1 && count(t, ServerType::RsSecondary) == 1
    })
    .await;

    for member in [0, 1] {
        sim.fault(&MemberRef::Index(member), FaultKind::WrongSetName)
            .unwrap();
    }
    let emptied = sdam_events_until(&mut events, Instant::now() + PATIENCE, |event| {
        matches!(event, SdamEvent::TopologyDescriptionChanged { new, .. } if new.servers.is_empty())
    })
    .await;
    assert!(
        matches!(emptied.last(), Some(SdamEvent::TopologyDescriptionChanged { new, .. }) if new.servers.is_empty()),
        "every server removed: {emptied:#?}"
    );

    // While both report another set, the re-seeds go on, one per heartbeatFrequencyMS
    // (500 ms): over 2 s, a handful, not a busy loop.
    let window = Duration::from_secs(2);
    let during = sdam_events_until(&mut events, Instant::now() + window, |_| false).await;
    let reseeds_of_b = during
        .iter()
        .filter(|event| matches!(event, SdamEvent::ServerOpening { address } if *address == b))
        .count();
    assert!(
        (2..=6).contains(&reseeds_of_b),
        "{reseeds_of_b} re-seeds of {b} in {window:?}"
    );

    // `b` answers for rs0 again while the seed still does not: it is back, from the list.
    sim.fault(&MemberRef::Index(1), FaultKind::Clear).unwrap();
    wait_until(&cluster, "the secondary back", |t| {
        t.server(&b).map(|s| s.server_type) == Some(ServerType::RsSecondary)
    })
    .await;
    sim.fault(&MemberRef::Index(0), FaultKind::Clear).unwrap();
    wait_until(&cluster, "the primary back", |t| primary_is(t, &a)).await;
    cluster.close().await;
    sim.shutdown().await;
}
