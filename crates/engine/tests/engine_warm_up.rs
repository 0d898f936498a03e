//! Warm-up: each server's first pool connection is opened while its monitor runs its first
//! check, and adopted by the pool once the server is known to bear data.

mod engine_support;

use std::time::Duration;

use bson::doc;
use engine_support::*;
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::CmapEventKind;
use mongo_topology::{
    Cluster, ClusterEvent, ClusterSettings, EventKind, EventSubscriber, ServerAddress,
};
use mongo_topology_sim::{DeploymentSpec, MemberSpec, TopologySpec};
use tokio::time::Instant;

fn start_cluster(uri: &str, warm_up: bool) -> (Cluster, EventSubscriber) {
    let mut settings = ClusterSettings::parse(uri).unwrap();
    settings.warm_up = warm_up;
    Cluster::with_events(settings).unwrap()
}

/// The CMAP events received within `window`.
async fn cmap_events(
    events: &mut EventSubscriber,
    window: Duration,
) -> Vec<(ServerAddress, CmapEventKind)> {
    let deadline = Instant::now() + window;
    let mut seen = Vec::new();
    while let Ok(Ok(ClusterEvent { kind, .. })) =
        tokio::time::timeout_at(deadline, events.recv()).await
    {
        if let EventKind::Cmap(event) = kind {
            seen.push((event.address, event.kind));
        }
    }
    seen
}

fn created_for(events: &[(ServerAddress, CmapEventKind)], address: &ServerAddress) -> usize {
    events
        .iter()
        .filter(|(a, kind)| a == address && matches!(kind, CmapEventKind::ConnectionCreated { .. }))
        .count()
}

#[tokio::test]
async fn data_bearing_servers_have_a_ready_connection_before_the_first_command() {
    let members = vec![
        MemberSpec::data(),
        MemberSpec::data(),
        MemberSpec::arbiter(),
    ];
    let sim = start(DeploymentSpec::new(TopologySpec::ReplicaSet {
        name: "rs0".into(),
        members,
    }))
    .await;
    let (cluster, mut events) = start_cluster(&uri(&[address(&sim, 1)], "replicaSet=rs0"), true);
    wait_until(&cluster, "all known", |t| {
        t.servers.len() == 3 && all_known(t)
    })
    .await;
    let warmed = cmap_events(&mut events, Duration::from_millis(500)).await;
    for index in 0..2 {
        let member = address(&sim, index);
        assert_eq!(created_for(&warmed, &member), 1, "{member}: {warmed:?}");
        assert!(
            warmed
                .iter()
                .any(|(a, kind)| a == &member
                    && matches!(kind, CmapEventKind::ConnectionReady { .. }))
        );
    }
    assert_eq!(
        created_for(&warmed, &address(&sim, 2)),
        0,
        "no pool connection for an arbiter"
    );
    // The first command uses the warm connection: checked out without a new one.
    cluster
        .run_command("admin", doc! { "ping": 1 }, &SelectionCriteria::write())
        .await
        .unwrap();
    let after = cmap_events(&mut events, Duration::from_millis(200)).await;
    let primary = address(&sim, 0);
    assert_eq!(created_for(&after, &primary), 0, "{after:?}");
    assert!(after.iter().any(
        |(a, kind)| a == &primary && matches!(kind, CmapEventKind::ConnectionCheckedOut { .. })
    ));
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn without_warm_up_no_connection_is_opened_until_a_command_needs_one() {
    let sim = start(DeploymentSpec::replica_set("rs0", 2, 0, 0)).await;
    let (cluster, mut events) = start_cluster(&uri(&[address(&sim, 1)], "replicaSet=rs0"), false);
    wait_until(&cluster, "all known", |t| {
        t.servers.len() == 2 && all_known(t)
    })
    .await;
    let quiet = cmap_events(&mut events, Duration::from_millis(300)).await;
    assert!(
        quiet
            .iter()
            .all(|(_, kind)| !matches!(kind, CmapEventKind::ConnectionCreated { .. })),
        "{quiet:?}"
    );
    cluster
        .run_command("admin", doc! { "ping": 1 }, &SelectionCriteria::write())
        .await
        .unwrap();
    let after = cmap_events(&mut events, Duration::from_millis(200)).await;
    assert_eq!(created_for(&after, &address(&sim, 0)), 1, "{after:?}");
    cluster.close().await;
    sim.shutdown().await;
}

/// Seeded with member 1 of three: the seed and the primary its reply names are warmed up at
/// once; the other secondary only when the read preference may read from it.
async fn warm_connections_per_member(options: &str) -> [usize; 3] {
    let sim = start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await;
    let (cluster, mut events) = start_cluster(&uri(&[address(&sim, 1)], options), true);
    wait_until(&cluster, "all known", |t| {
        t.servers.len() == 3 && all_known(t)
    })
    .await;
    let warmed = cmap_events(&mut events, Duration::from_millis(500)).await;
    let created = [0, 1, 2].map(|index| created_for(&warmed, &address(&sim, index)));
    cluster.close().await;
    sim.shutdown().await;
    created
}

#[tokio::test]
async fn with_a_primary_read_preference_only_the_seed_and_the_named_primary_are_warmed_up() {
    let created = warm_connections_per_member("replicaSet=rs0").await;
    assert_eq!(created, [1, 1, 0]);
}

#[tokio::test]
async fn when_reads_may_go_to_secondaries_every_data_bearing_member_is_warmed_up() {
    let created =
        warm_connections_per_member("replicaSet=rs0&readPreference=secondaryPreferred").await;
    assert_eq!(created, [1, 1, 1]);
}
