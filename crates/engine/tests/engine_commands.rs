//! Commands on selected servers: pooled connections, `$readPreference`, authentication, and
//! errors fed back to the topology.

mod engine_support;

use std::time::Duration;

use bson::doc;
use engine_support::*;
use mongo_topology::sdam::{ServerType, TopologyType};
use mongo_topology::selection::{ReadPreference, ReadPreferenceMode, SelectionCriteria};
use mongo_topology::{ClusterError, ConnectionError};
use mongo_topology_sim::{DeploymentSpec, MemberRef, SimUser};

fn read(mode: ReadPreferenceMode) -> SelectionCriteria {
    SelectionCriteria::read(ReadPreference::with_mode(mode))
}

fn insert() -> bson::Document {
    doc! { "insert": "things", "documents": [{ "x": 1 }] }
}

#[tokio::test]
async fn commands_run_on_the_primary_and_reads_on_secondaries_carry_the_read_preference() {
    let sim = start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await;
    let cluster = connect(&uri(&[address(&sim, 1)], "replicaSet=rs0"));
    let reply = cluster
        .run_command("test", insert(), &SelectionCriteria::write())
        .await
        .expect("insert on the primary");
    assert_eq!(reply.get_i32("n").ok(), Some(1), "{reply}");
    // A secondary refuses a find without $readPreference (NotPrimaryNoSecondaryOk), so this
    // passes only if the engine sends it.
    let mut connection = cluster
        .checkout(&read(ReadPreferenceMode::Secondary))
        .await
        .expect("a secondary");
    assert_ne!(connection.address(), &address(&sim, 0));
    let found = connection
        .run_command("test", doc! { "find": "things", "filter": {} })
        .await;
    assert!(found.is_ok(), "{found:?}");
    drop(connection);
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_direct_connection_reads_from_a_secondary_and_its_writes_are_refused() {
    let sim = start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await;
    let secondary = address(&sim, 1);
    let cluster = connect(&uri(
        std::slice::from_ref(&secondary),
        "directConnection=true",
    ));
    // Mode primary on a direct connection to a member sends primaryPreferred.
    let found = cluster
        .run_command(
            "test",
            doc! { "find": "things", "filter": {} },
            &read(ReadPreferenceMode::Primary),
        )
        .await;
    assert!(found.is_ok(), "{found:?}");
    let refused = cluster
        .run_command("test", insert(), &SelectionCriteria::write())
        .await
        .expect_err("a secondary refuses writes");
    match refused {
        ClusterError::Command { failure, .. } => {
            assert_eq!(failure.code, Some(10107));
            assert_eq!(failure.code_name.as_deref(), Some("NotWritablePrimary"));
        }
        other => panic!("{other}"),
    }
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn an_insert_retried_after_a_failover_reaches_the_new_primary() {
    // Polling with the default 10 s heartbeat: only the reported NotWritablePrimary (and
    // the immediate check it requests) can move the client to the new primary in time.
    let sim = start(
        DeploymentSpec::replica_set("rs0", 3, 0, 0)
            .with_version(mongo_topology_sim::ServerVersion::V4_2),
    )
    .await;
    let cluster = connect(&uri(
        &[address(&sim, 0)],
        "replicaSet=rs0&serverMonitoringMode=poll&serverSelectionTimeoutMS=5000",
    ));
    cluster
        .run_command("test", insert(), &SelectionCriteria::write())
        .await
        .expect("insert on the first primary");
    sim.stepdown().unwrap();
    sim.elect(&MemberRef::Index(2)).unwrap();
    let first = cluster
        .run_command("test", insert(), &SelectionCriteria::write())
        .await;
    match &first {
        Err(ClusterError::Command { failure, .. }) => assert_eq!(failure.code, Some(10107)),
        other => panic!("the old primary must refuse: {other:?}"),
    }
    let started = tokio::time::Instant::now();
    let retried = cluster
        .run_command("test", insert(), &SelectionCriteria::write())
        .await;
    assert!(retried.is_ok(), "{retried:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let topology = cluster.topology();
    assert!(primary_is(&topology, &address(&sim, 2)), "{topology:?}");
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn commands_in_flight_when_a_member_dies_all_get_an_answer() {
    let sim = start(DeploymentSpec::replica_set("rs0", 2, 0, 0)).await;
    let cluster = connect(&uri(
        &[address(&sim, 0)],
        "replicaSet=rs0&serverSelectionTimeoutMS=1000&socketTimeoutMS=2000",
    ));
    wait_until(&cluster, "the primary", |t| t.primary().is_some()).await;
    sim.set_latency(&MemberRef::Index(0), Duration::from_millis(200))
        .unwrap();
    let callers: Vec<_> = (0..16)
        .map(|_| {
            let cluster = cluster.clone();
            tokio::spawn(async move {
                cluster
                    .run_command("test", insert(), &SelectionCriteria::write())
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    sim.kill(&MemberRef::Index(0)).await.unwrap();
    let mut failed = 0;
    for caller in callers {
        let outcome = tokio::time::timeout(Duration::from_secs(5), caller)
            .await
            .expect("every caller is answered in time")
            .expect("no panic");
        if let Err(error) = outcome {
            failed += 1;
            assert!(
                matches!(
                    error,
                    ClusterError::Connection { .. }
                        | ClusterError::Pool(_)
                        | ClusterError::ServerSelectionTimeout { .. }
                ),
                "{error}"
            );
        }
    }
    assert!(
        failed > 0,
        "the killed primary cannot have answered every insert"
    );
    let topology = cluster.topology();
    assert_ne!(
        topology.server(&address(&sim, 0)).map(|s| s.server_type),
        Some(ServerType::RsPrimary),
        "the dead primary is no longer trusted"
    );
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn pool_connections_authenticate_and_a_wrong_password_is_a_clear_error() {
    let spec = DeploymentSpec::replica_set("rs0", 1, 0, 0)
        .with_user(SimUser::parse("alice:s3cret-pw").unwrap());
    let sim = start(spec).await;
    let seed = address(&sim, 0);
    let good = connect(&format!(
        "mongodb://alice:s3cret-pw@{seed}/?replicaSet=rs0&authSource=admin"
    ));
    let reply = good
        .run_command("test", insert(), &SelectionCriteria::write())
        .await;
    assert!(reply.is_ok(), "{reply:?}");
    good.close().await;

    // Without warm-up, so that the command's own connection is the one that fails (the
    // warm-up's failure is a_background_pool_connection_that_cannot_authenticate_...).
    let mut settings = mongo_topology::ClusterSettings::parse(&format!(
        "mongodb://alice:wrong-pw@{seed}/?replicaSet=rs0&authSource=admin&serverSelectionTimeoutMS=2000"
    ))
    .unwrap();
    settings.warm_up = false;
    let bad = mongo_topology::Cluster::new(settings).unwrap();
    let error = bad
        .run_command("test", insert(), &SelectionCriteria::write())
        .await
        .expect_err("a wrong password is refused");
    let text = error.to_string();
    assert!(text.contains("SCRAM-SHA-256"), "{text}");
    assert!(text.contains("alice"), "{text}");
    assert!(!text.contains("wrong-pw"), "{text}");
    assert!(!format!("{error:?}").contains("wrong-pw"));
    assert!(
        matches!(
            &error,
            ClusterError::Pool(mongo_topology::PoolError::Establishment {
                source: ConnectionError::Authentication(_),
                ..
            })
        ),
        "{error:?}"
    );
    // An authentication failure marks the server Unknown (SDAM: before the handshake
    // completed); its monitor, which never authenticates, brings it back.
    assert_eq!(
        bad.topology().topology_type,
        TopologyType::ReplicaSetNoPrimary
    );
    bad.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_background_pool_connection_that_cannot_authenticate_reaches_sdam() {
    // No command runs: only minPoolSize's background connection meets the wrong password.
    let spec = DeploymentSpec::replica_set("rs0", 1, 0, 0)
        .with_user(SimUser::parse("alice:s3cret-pw").unwrap());
    let sim = start(spec).await;
    let seed = address(&sim, 0);
    let mut settings = mongo_topology::ClusterSettings::parse(&format!(
        "mongodb://alice:wrong-pw@{seed}/?replicaSet=rs0&minPoolSize=1&heartbeatFrequencyMS=500"
    ))
    .unwrap();
    settings.warm_up = false;
    let (cluster, mut events) = mongo_topology::Cluster::with_events(settings).unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut failed_with = None;
    while let Ok(Ok(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        if let mongo_topology::EventKind::Sdam(
            mongo_topology::sdam::SdamEvent::ServerDescriptionChanged { previous, new, .. },
        ) = event.kind
        {
            if previous.server_type == ServerType::RsPrimary
                && new.server_type == ServerType::Unknown
            {
                failed_with = new.error.clone();
                break;
            }
        }
    }
    let error = failed_with.expect("the primary is marked Unknown by the failed authentication");
    assert_eq!(error.code, Some(18), "{error}");
    assert!(!error.message.contains("wrong-pw"), "{error}");
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn with_warm_up_a_wrong_password_still_names_the_mechanism_and_the_user() {
    let spec = DeploymentSpec::replica_set("rs0", 1, 0, 0)
        .with_user(SimUser::parse("alice:s3cret-pw").unwrap());
    let sim = start(spec).await;
    let seed = address(&sim, 0);
    let cluster = connect(&format!(
        "mongodb://alice:wrong-pw@{seed}/?replicaSet=rs0&serverSelectionTimeoutMS=2000"
    ));
    // Whichever connection meets the wrong password first (the warm-up's or the
    // command's), the caller learns why.
    let error = cluster
        .run_command("test", insert(), &SelectionCriteria::write())
        .await
        .expect_err("a wrong password is refused");
    let text = error.to_string();
    assert!(
        text.contains("alice") && text.contains("SCRAM-SHA-256"),
        "{text}"
    );
    assert!(!text.contains("wrong-pw"), "{text}");
    cluster.close().await;
    sim.shutdown().await;
}
