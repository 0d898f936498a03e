//! The live engine discovers deployments as mgo's cluster did, under SDAM's rules: one
//! test per behaviour of `shared/design/mgo-behaviors.md` that still holds.

mod engine_support;

use std::time::Duration;

use engine_support::*;
use mongo_topology::sdam::{ServerErrorKind, ServerType, TopologyType};
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::{ClusterError, ServerAddress};
use mongo_topology_sim::{DeploymentSpec, FaultKind, MemberRef, MemberSpec, TopologySpec};

#[tokio::test]
async fn a_seven_member_set_is_discovered_from_one_secondary_seed() {
    let sim = start(DeploymentSpec::replica_set("rs0", 7, 0, 0)).await;
    let seed = address(&sim, 4);
    let cluster = connect(&uri(&[seed], "replicaSet=rs0"));
    let topology = wait_until(&cluster, "7 known members", |t| {
        t.servers.len() == 7 && all_known(t)
    })
    .await;
    assert_eq!(topology.topology_type, TopologyType::ReplicaSetWithPrimary);
    assert_eq!(count(&topology, ServerType::RsPrimary), 1);
    assert_eq!(count(&topology, ServerType::RsSecondary), 6);
    assert!(primary_is(&topology, &address(&sim, 0)));
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn arbiters_passives_are_discovered_and_hidden_members_are_not() {
    let members = vec![
        MemberSpec::data(),
        MemberSpec::passive(),
        MemberSpec::arbiter(),
        MemberSpec::hidden(),
    ];
    let sim = start(DeploymentSpec::new(TopologySpec::ReplicaSet {
        name: "rs0".into(),
        members,
    }))
    .await;
    let cluster = connect(&uri(&[address(&sim, 1)], "replicaSet=rs0"));
    let topology = wait_until(&cluster, "3 known members", |t| {
        t.servers.len() == 3 && all_known(t)
    })
    .await;
    let type_of = |index: usize| {
        topology
            .server(&address(&sim, index))
            .map(|s| s.server_type)
    };
    assert_eq!(type_of(0), Some(ServerType::RsPrimary));
    assert_eq!(
        type_of(1),
        Some(ServerType::RsSecondary),
        "a passive is a secondary"
    );
    assert_eq!(type_of(2), Some(ServerType::RsArbiter));
    assert_eq!(type_of(3), None, "a hidden member is in no host list");
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_hidden_seed_is_dropped_once_the_primary_is_known() {
    let sim = start(DeploymentSpec::replica_set("rs0", 2, 0, 1)).await;
    let hidden = address(&sim, 2);
    let cluster = connect(&uri(std::slice::from_ref(&hidden), "replicaSet=rs0"));
    let topology = wait_until(&cluster, "the primary's view", |t| {
        t.primary().is_some() && t.server(&hidden).is_none() && all_known(t)
    })
    .await;
    assert_eq!(topology.servers.len(), 2);
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn servers_the_primary_does_not_list_are_removed() {
    let members = vec![
        MemberSpec::data(),
        MemberSpec::data(),
        MemberSpec::data(),
        MemberSpec::data().spare(),
    ];
    let sim = start(DeploymentSpec::new(TopologySpec::ReplicaSet {
        name: "rs0".into(),
        members,
    }))
    .await;
    // A member outside the set's config (an RSGhost) and a port nobody listens on.
    let spare = address(&sim, 3);
    let dead = ServerAddress::parse("127.0.0.1:1").unwrap();
    let seeds = [spare.clone(), dead.clone(), address(&sim, 1)];
    let cluster = connect(&uri(&seeds, "replicaSet=rs0"));
    let topology = wait_until(&cluster, "only the primary's members", |t| {
        t.servers.len() == 3 && all_known(t)
    })
    .await;
    for index in 0..3 {
        assert!(topology.server(&address(&sim, index)).is_some());
    }
    assert!(topology.server(&spare).is_none());
    assert!(topology.server(&dead).is_none());
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn without_a_primary_the_partial_view_is_kept_and_recovers() {
    let sim = start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await;
    let cluster = connect(&uri(
        &[address(&sim, 1)],
        "replicaSet=rs0&heartbeatFrequencyMS=500",
    ));
    wait_until(&cluster, "all known", |t| {
        t.servers.len() == 3 && all_known(t)
    })
    .await;
    sim.kill(&MemberRef::Index(0)).await.unwrap();
    let partial = wait_until(&cluster, "no primary", |t| {
        t.topology_type == TopologyType::ReplicaSetNoPrimary
    })
    .await;
    assert_eq!(
        partial.servers.len(),
        3,
        "members are kept while the primary is down"
    );
    assert_eq!(count(&partial, ServerType::RsSecondary), 2);
    sim.restart(&MemberRef::Index(0)).await.unwrap();
    sim.elect(&MemberRef::Index(0)).unwrap();
    let primary = address(&sim, 0);
    wait_until(&cluster, "the primary back", |t| primary_is(t, &primary)).await;
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn waiters_are_woken_by_a_failover_seen_through_streaming() {
    let sim = start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await;
    // The default heartbeat is 10 s: only streaming can show the change within the wait.
    let cluster = connect(&uri(&[address(&sim, 0)], "replicaSet=rs0"));
    wait_until(&cluster, "all known", |t| {
        t.servers.len() == 3 && all_known(t)
    })
    .await;
    let new_primary = address(&sim, 2);
    let waiter = {
        let cluster = cluster.clone();
        let new_primary = new_primary.clone();
        tokio::spawn(async move {
            cluster
                .wait_for(|t| primary_is(t, &new_primary), Duration::from_secs(3))
                .await
        })
    };
    tokio::task::yield_now().await;
    sim.stepdown().unwrap();
    sim.elect(&MemberRef::Index(2)).unwrap();
    let seen = waiter
        .await
        .unwrap()
        .expect("the waiter sees the new primary");
    assert!(primary_is(&seen, &new_primary));
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn direct_connection_to_a_secondary_sees_only_it() {
    let sim = start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await;
    let secondary = address(&sim, 1);
    let cluster = connect(&uri(
        std::slice::from_ref(&secondary),
        "directConnection=true",
    ));
    let topology = wait_until(&cluster, "the secondary", all_known).await;
    assert_eq!(topology.topology_type, TopologyType::Single);
    assert_eq!(topology.servers.len(), 1);
    assert_eq!(
        topology.server(&secondary).map(|s| s.server_type),
        Some(ServerType::RsSecondary)
    );
    // Reads may go there; no other member is ever added.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(cluster.topology().servers.len(), 1);
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_member_of_another_set_is_removed_and_selection_explains_it() {
    let sim = start(DeploymentSpec::replica_set("rs0", 1, 0, 0)).await;
    let cluster = connect(&uri(
        &[address(&sim, 0)],
        "replicaSet=other&serverSelectionTimeoutMS=300",
    ));
    wait_until(&cluster, "the stranger removed", |t| t.servers.is_empty()).await;
    let error = cluster
        .select_server(&SelectionCriteria::write())
        .await
        .expect_err("nothing to select");
    assert!(
        matches!(error, ClusterError::ServerSelectionTimeout { .. }),
        "{error}"
    );
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_dns_failure_is_reported_with_its_cause() {
    let cluster = connect("mongodb://no-such-host.invalid:27017/?serverSelectionTimeoutMS=500");
    let topology = wait_until(&cluster, "a failed check", |t| {
        t.servers.values().any(|s| s.error.is_some())
    })
    .await;
    let server = topology.servers.values().next().unwrap();
    let error = server.error.as_ref().unwrap();
    assert_eq!(error.kind, ServerErrorKind::Dns, "{error}");
    assert!(error.message.contains("no-such-host.invalid"), "{error}");
    let failure = cluster
        .select_server(&SelectionCriteria::write())
        .await
        .expect_err("no server");
    let text = failure.to_string();
    assert!(text.contains("no-such-host.invalid"), "{text}");
    assert!(
        text.to_lowercase().contains("dns") || text.contains("resolve"),
        "{text}"
    );
    cluster.close().await;
}

#[tokio::test]
async fn a_frozen_member_does_not_delay_discovery_of_the_others() {
    let sim = start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await;
    sim.set_frozen(&MemberRef::Index(2), true).unwrap();
    let seeds = [address(&sim, 2), address(&sim, 1)];
    let cluster = connect(&uri(&seeds, "replicaSet=rs0"));
    let started = tokio::time::Instant::now();
    let topology = wait_until(&cluster, "primary and secondary", |t| {
        t.primary().is_some() && count(t, ServerType::RsSecondary) == 1
    })
    .await;
    // The frozen member hangs until connectTimeoutMS (10 s); the others are known at once.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        topology.server(&address(&sim, 2)).map(|s| s.server_type),
        Some(ServerType::Unknown)
    );
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_sharded_cluster_and_a_standalone_are_recognised() {
    let sharded = start(DeploymentSpec::sharded(3)).await;
    let seeds: Vec<ServerAddress> = (0..3).map(|i| address(&sharded, i)).collect();
    let cluster = connect(&uri(&seeds, ""));
    let topology = wait_until(&cluster, "3 mongos", |t| {
        t.servers.len() == 3 && all_known(t)
    })
    .await;
    assert_eq!(topology.topology_type, TopologyType::Sharded);
    assert_eq!(count(&topology, ServerType::Mongos), 3);
    cluster.close().await;
    sharded.shutdown().await;

    let single = start(DeploymentSpec::standalone()).await;
    let cluster = connect(&uri(&[address(&single, 0)], ""));
    let topology = wait_until(&cluster, "the standalone", all_known).await;
    assert_eq!(topology.topology_type, TopologyType::Single);
    assert_eq!(count(&topology, ServerType::Standalone), 1);
    cluster.close().await;
    single.shutdown().await;
}

#[tokio::test]
async fn when_every_server_is_lost_the_last_complete_member_list_brings_them_back() {
    let sim = start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await;
    let seed = address(&sim, 1);
    let cluster = connect(&uri(
        std::slice::from_ref(&seed),
        "replicaSet=rs0&heartbeatFrequencyMS=500",
    ));
    wait_until(&cluster, "all known", |t| {
        t.servers.len() == 3 && all_known(t)
    })
    .await;
    // Every member claims another set name: SDAM removes them all.
    for index in 0..3 {
        sim.fault(&MemberRef::Index(index), FaultKind::WrongSetName)
            .unwrap();
    }
    wait_until(&cluster, "every server removed", |t| t.servers.is_empty()).await;
    // The only seed is gone for good: only the remembered members can lead back.
    sim.kill(&MemberRef::Index(1)).await.unwrap();
    for index in [0, 2] {
        sim.fault(&MemberRef::Index(index), FaultKind::Clear)
            .unwrap();
    }
    let primary = address(&sim, 0);
    let back = wait_until(&cluster, "the primary again", |t| primary_is(t, &primary)).await;
    assert!(back.server(&address(&sim, 2)).is_some());
    cluster.close().await;
    sim.shutdown().await;
}
