//! A sharded cluster seen through two simulated mongos routers.

use std::time::Duration;

use mongo_topology_rust_driver_interop::{
    all_known, client, describe, reply_ok, server_types, shut_down, SdamLog,
};
use mongo_topology_sim::{Deployment, DeploymentSpec};
use mongodb::bson::{doc, Document};
use mongodb::{ServerType, TopologyType};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_and_inserts_through_two_mongos() {
    let deployment = Deployment::start(DeploymentSpec::sharded(2)).await.unwrap();
    let routers = deployment.addresses();
    assert_eq!(routers.len(), 2);
    let log = SdamLog::new();
    let client = client(&deployment.connection_string(), &log).await.unwrap();

    let reply = client
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .await
        .unwrap();
    assert!(reply_ok(&reply), "{reply:?}");
    client
        .database("test")
        .collection::<Document>("things")
        .insert_one(doc! { "x": 1 })
        .await
        .unwrap();

    let topology = log
        .wait_for_topology("both mongos", Duration::from_secs(5), |t| {
            server_types(t).len() == 2 && all_known(t)
        })
        .await
        .unwrap();
    assert_eq!(
        topology.topology_type(),
        TopologyType::Sharded,
        "{}",
        describe(&topology)
    );
    let expected = routers
        .iter()
        .map(|r| (r.clone(), ServerType::Mongos))
        .collect();
    assert_eq!(server_types(&topology), expected, "{}", describe(&topology));
    assert_eq!(log.heartbeat_failures(), Vec::<String>::new());

    shut_down(client, deployment).await.unwrap();
}
