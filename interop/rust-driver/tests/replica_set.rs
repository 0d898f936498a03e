//! The driver discovers a simulated 3-member replica set (MongoDB 7.0) from a single seed.

use std::time::Duration;

use mongo_topology_rust_driver_interop::{
    all_known, client, describe, reply_ok, server_types, shut_down, SdamLog,
};
use mongo_topology_sim::{Deployment, DeploymentSpec};
use mongodb::bson::{doc, Document};
use mongodb::{ServerType, TopologyType};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_the_set_from_one_seed_then_pings_and_inserts() {
    let deployment = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let members = deployment.addresses();
    let log = SdamLog::new();
    let client = client(&format!("mongodb://{}/?replicaSet=rs0", members[0]), &log)
        .await
        .unwrap();

    let reply = client
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .await
        .unwrap();
    assert!(reply_ok(&reply), "{reply:?}");
    let inserted = client
        .database("test")
        .collection::<Document>("things")
        .insert_one(doc! { "x": 1 })
        .await
        .unwrap();
    assert!(
        inserted.inserted_id.as_object_id().is_some(),
        "{inserted:?}"
    );

    // The driver's own SDAM events show every member with its role.
    let topology = log
        .wait_for_topology(
            "all three members with their roles",
            Duration::from_secs(5),
            |t| server_types(t).len() == 3 && all_known(t),
        )
        .await
        .unwrap();
    assert_eq!(
        topology.topology_type(),
        TopologyType::ReplicaSetWithPrimary,
        "{}",
        describe(&topology)
    );
    assert_eq!(topology.set_name().map(String::as_str), Some("rs0"));
    let types = server_types(&topology);
    let expected = [
        (members[0].clone(), ServerType::RsPrimary),
        (members[1].clone(), ServerType::RsSecondary),
        (members[2].clone(), ServerType::RsSecondary),
    ];
    assert_eq!(
        types,
        expected.into_iter().collect(),
        "{}",
        describe(&topology)
    );

    // The monitors stream (awaitable hello, 4.4+) and no heartbeat ever failed.
    tokio::time::timeout(Duration::from_secs(3), async {
        while log.awaited_heartbeats() == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the driver never used an awaitable (streaming) hello");
    assert_eq!(log.heartbeat_failures(), Vec::<String>::new());

    shut_down(client, deployment).await.unwrap();
}
