//! Load-balanced mode (Load Balancer spec) against the simulator's load balancer in front of
//! two mongos: no monitoring, one LoadBalancer server, connections that know their service,
//! and errors that clear only the connections of the service that failed.

use std::collections::BTreeSet;
use std::time::Duration;

use bson::doc;
use bson::oid::ObjectId;
use mongo_topology::sdam::{ServerType, TopologyType};
use mongo_topology::selection::{ReadPreference, ReadPreferenceMode, SelectionCriteria};
use mongo_topology::{Cluster, ClusterSettings, EventKind, EventSubscriber, ServerConnection};
use mongo_topology::{CmapEvent, CmapEventKind, ConnectionClosedReason, ConnectionId};
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};

const OPTIONS: &str = "heartbeatFrequencyMS=500&serverSelectionTimeoutMS=2000";

async fn two_mongos_behind_a_balancer() -> Deployment {
    Deployment::start(DeploymentSpec::sharded(2).with_load_balancer(0))
        .await
        .unwrap()
}

fn connect(deployment: &Deployment) -> (Cluster, EventSubscriber) {
    let uri = format!(
        "{}&{OPTIONS}",
        deployment.load_balancer_connection_string().unwrap()
    );
    Cluster::with_events(ClusterSettings::parse(&uri).unwrap()).unwrap()
}

/// The serviceId of each mongos, in node order.
fn service_ids(deployment: &Deployment) -> Vec<ObjectId> {
    deployment
        .snapshot()
        .nodes
        .iter()
        .map(|n| n.service_id)
        .collect()
}

/// The balancer is as it started: the one LoadBalancer server of a LoadBalanced topology
/// (errors never mark it Unknown).
fn assert_still_load_balanced(cluster: &Cluster) {
    let topology = cluster.topology();
    assert_eq!(topology.topology_type, TopologyType::LoadBalanced);
    assert!(topology
        .servers
        .values()
        .all(|s| s.server_type == ServerType::LoadBalancer));
}

fn drain(events: &mut EventSubscriber) -> Vec<EventKind> {
    std::iter::from_fn(|| events.try_recv().unwrap().map(|e| e.kind)).collect()
}

fn cmap(events: &[EventKind]) -> Vec<CmapEventKind> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::Cmap(CmapEvent { kind, .. }) => Some(kind.clone()),
            _ => None,
        })
        .collect()
}

/// Events until `count` ConnectionCheckedIn events were seen (CMAP events reach
/// subscribers through the cluster task, a little after the pool emits them).
async fn events_until_checked_in(events: &mut EventSubscriber, count: usize) -> Vec<EventKind> {
    let mut seen = Vec::new();
    let mut checked_in = 0;
    while checked_in < count {
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("the check-ins are published")
            .unwrap();
        if let EventKind::Cmap(CmapEvent {
            kind: CmapEventKind::ConnectionCheckedIn { .. },
            ..
        }) = &event.kind
        {
            checked_in += 1;
        }
        seen.push(event.kind);
    }
    seen
}

async fn ping(connection: &mut ServerConnection) -> bool {
    connection
        .run_command("admin", doc! { "ping": 1 })
        .await
        .is_ok()
}

#[tokio::test]
async fn the_load_balancer_is_the_one_server_and_nothing_monitors_it() {
    let deployment = two_mongos_behind_a_balancer().await;
    let (cluster, mut events) = connect(&deployment);
    let topology = cluster.topology();
    assert_eq!(topology.topology_type, TopologyType::LoadBalanced);
    assert_eq!(topology.servers.len(), 1);
    let server = topology.servers.values().next().unwrap();
    assert_eq!(server.server_type, ServerType::LoadBalancer);
    assert_eq!(
        server.address.to_string(),
        deployment.load_balancer_address().unwrap()
    );

    // Any read preference selects it.
    for criteria in [
        SelectionCriteria::write(),
        SelectionCriteria::read(ReadPreference::with_mode(ReadPreferenceMode::Secondary)),
    ] {
        let selected = cluster.select_server(&criteria).await.unwrap();
        assert_eq!(selected.address(), &server.address);
    }

    // Four connections at once: the balancer spreads them over both mongos, and each
    // knows the service it reached.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut connection = cluster.checkout(&SelectionCriteria::write()).await.unwrap();
        assert!(ping(&mut connection).await);
        held.push(connection);
    }
    let seen: BTreeSet<ObjectId> = held.iter().filter_map(|c| c.service_id()).collect();
    let expected: BTreeSet<ObjectId> = service_ids(&deployment).into_iter().collect();
    assert_eq!(seen, expected);
    assert!(held.iter().all(|c| c.service_id().is_some()));
    drop(held);

    // One handshake per pool connection, and no heartbeat through the balancer, even after
    // more than two heartbeat periods.
    let counts = deployment.load_balancer_counts();
    assert_eq!((counts.connections, counts.handshakes), (4, 4));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(deployment.load_balancer_counts(), counts);
    let heartbeats = drain(&mut events)
        .into_iter()
        .filter(|e| matches!(e, EventKind::HeartbeatStarted { .. }))
        .count();
    assert_eq!(heartbeats, 0);
    cluster.close().await;
}

#[tokio::test]
async fn a_dead_mongos_clears_only_its_own_connections() {
    let deployment = two_mongos_behind_a_balancer().await;
    let services = service_ids(&deployment);
    let (cluster, mut events) = connect(&deployment);
    let write = SelectionCriteria::write();

    // One connection to each mongos, back in the pool.
    let first = cluster.checkout(&write).await.unwrap();
    let second = cluster.checkout(&write).await.unwrap();
    let (a, b) = (first.service_id().unwrap(), second.service_id().unwrap());
    assert_ne!(a, b);
    let victim = services.iter().position(|s| *s == a).unwrap();
    drop((first, second));
    drain(&mut events);

    deployment.kill(&MemberRef::Index(victim)).await.unwrap();
    // Both pooled connections out again: the one to the dead mongos fails, once.
    let mut one = cluster.checkout(&write).await.unwrap();
    let mut other = cluster.checkout(&write).await.unwrap();
    if one.service_id() == Some(b) {
        std::mem::swap(&mut one, &mut other);
    }
    assert_eq!(one.service_id(), Some(a));
    let survivor = other.pool_id();
    assert!(
        !ping(&mut one).await,
        "the dead mongos' connection must fail"
    );
    assert!(ping(&mut other).await);
    drop((one, other));

    // The surviving connection is reused as it was; new ones reach the live mongos.
    let mut again = cluster.checkout(&write).await.unwrap();
    assert_eq!(again.service_id(), Some(b));
    assert_eq!(again.pool_id(), survivor);
    assert!(ping(&mut again).await);
    let mut fresh = cluster.checkout(&write).await.unwrap();
    assert_eq!(fresh.service_id(), Some(b));
    assert!(ping(&mut fresh).await);
    drop((again, fresh));

    let seen = events_until_checked_in(&mut events, 4).await;
    let cleared: Vec<CmapEventKind> = cmap(&seen)
        .into_iter()
        .filter(|e| matches!(e, CmapEventKind::PoolCleared { .. }))
        .collect();
    assert_eq!(
        cleared,
        [CmapEventKind::PoolCleared {
            interrupt_in_use_connections: false,
            service_id: Some(a),
        }]
    );
    let closed: Vec<(ConnectionId, ConnectionClosedReason)> = cmap(&seen)
        .into_iter()
        .filter_map(|e| match e {
            CmapEventKind::ConnectionClosed {
                connection_id,
                reason,
            } => Some((connection_id, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        closed.iter().map(|(_, reason)| *reason).collect::<Vec<_>>(),
        [ConnectionClosedReason::Stale],
        "only the dead service's connection: {closed:?}"
    );
    assert_ne!(closed[0].0, survivor);

    // The load balancer stays as it was: not Unknown, the pool not paused.
    assert_still_load_balanced(&cluster);

    cluster.close().await;
}

#[tokio::test]
async fn a_server_that_sends_no_service_id_is_refused_with_the_spec_message() {
    let deployment = two_mongos_behind_a_balancer().await;
    // Straight to a mongos: it ignores loadBalanced and sends no serviceId.
    let uri = format!(
        "mongodb://{}/?loadBalanced=true&{OPTIONS}",
        deployment.addresses()[0]
    );
    let cluster = Cluster::connect(&uri).unwrap();
    let error = cluster
        .run_command("admin", doc! { "ping": 1 }, &SelectionCriteria::write())
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(
            "Driver attempted to initialize in load balancing mode, but the server does not \
             support this mode"
        ),
        "{message}"
    );
    // A handshake error changes nothing in load-balanced mode.
    assert_still_load_balanced(&cluster);
    cluster.close().await;
}

#[tokio::test]
async fn load_balanced_conflicts_are_refused_before_anything_starts() {
    for (uri, mentions) in [
        ("mongodb://a,b/?loadBalanced=true", "multiple hosts"),
        (
            "mongodb://a/?loadBalanced=true&replicaSet=rs0",
            "replicaSet",
        ),
        (
            "mongodb://a/?loadBalanced=true&directConnection=true",
            "directConnection",
        ),
    ] {
        let error = Cluster::connect(uri).unwrap_err().to_string();
        assert!(error.contains(mentions), "{uri}: {error}");
    }
    // loadBalanced=false allows them all.
    let cluster = Cluster::connect("mongodb://a,b/?loadBalanced=false").unwrap();
    cluster.close().await;
}

#[tokio::test]
async fn an_authentication_failure_clears_only_its_service() {
    let deployment = Deployment::start(
        DeploymentSpec::sharded(2)
            .with_load_balancer(0)
            .with_user(mongo_topology_sim::SimUser::new("app", "right")),
    )
    .await
    .unwrap();
    let uri = deployment
        .load_balancer_connection_string()
        .unwrap()
        .replacen("mongodb://", "mongodb://app:wrong@", 1);
    let (cluster, mut events) =
        Cluster::with_events(ClusterSettings::parse(&format!("{uri}&{OPTIONS}")).unwrap()).unwrap();
    let error = cluster
        .run_command("admin", doc! { "ping": 1 }, &SelectionCriteria::write())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("authentication failed"),
        "{error}"
    );
    // The failure came after the handshake named the service: the Load Balancer spec
    // clears that service's connections, and the balancer is never marked Unknown.
    let services: BTreeSet<ObjectId> = service_ids(&deployment).into_iter().collect();
    let cleared = loop {
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("a PoolCleared event")
            .unwrap();
        if let EventKind::Cmap(CmapEvent {
            kind: CmapEventKind::PoolCleared { service_id, .. },
            ..
        }) = event.kind
        {
            break service_id;
        }
    };
    let cleared = cleared.expect("the cleared service is named");
    assert!(services.contains(&cleared), "{cleared} is not a mongos");
    assert_still_load_balanced(&cluster);
    cluster.close().await;
    deployment.shutdown().await;
}
