//! `loadBalanced=true` through the simulator's load balancer in front of two mongos.

use std::time::Duration;

use mongo_topology_rust_driver_interop::{
    client, describe, reply_ok, server_types, shut_down, SdamLog,
};
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
use mongodb::bson::{doc, Document};
use mongodb::{ServerType, TopologyType};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_works_through_the_load_balancer_without_monitoring() {
    let deployment = Deployment::start(DeploymentSpec::sharded(2).with_load_balancer(0))
        .await
        .unwrap();
    let lb = deployment.load_balancer_address().unwrap();
    let uri = deployment.load_balancer_connection_string().unwrap();
    let log = SdamLog::new();
    let client = client(&uri, &log).await.unwrap();

    // Concurrent operations open several pooled connections, spread over both mongos.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .database("test")
                .collection::<Document>("things")
                .insert_one(doc! { "x": i })
                .await
                .map(|_| ())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let reply = client
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .await
        .unwrap();
    assert!(reply_ok(&reply), "{reply:?}");

    let topology = log.latest_topology().unwrap();
    assert_eq!(
        topology.topology_type(),
        TopologyType::LoadBalanced,
        "{}",
        describe(&topology)
    );
    assert_eq!(
        server_types(&topology),
        [(lb, ServerType::LoadBalancer)].into_iter().collect(),
        "{}",
        describe(&topology)
    );
    // No monitor: one handshake per pooled connection, none later.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let counts = deployment.load_balancer_counts();
    assert!(counts.connections >= 1, "{counts:?}");
    assert_eq!(counts.handshakes, counts.connections, "{counts:?}");

    // A mongos dies: an operation may meet a closed connection once; the driver then clears
    // that service's connections and the other mongos serves everything.
    deployment.kill(&MemberRef::Index(0)).await.unwrap();
    let mut failures = 0;
    for _ in 0..10 {
        match client
            .database("admin")
            .run_command(doc! { "ping": 1 })
            .await
        {
            Ok(reply) => assert!(reply_ok(&reply), "{reply:?}"),
            Err(_) => failures += 1,
        }
    }
    eprintln!("{failures} of 10 pings failed after the kill; {counts:?} before it");
    assert!(failures <= 1, "{failures} pings failed after the kill");

    shut_down(client, deployment).await.unwrap();
}
